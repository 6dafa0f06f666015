"""Multi-screen apps whose success is read from the app's state (AndroidWorld-style validators).

Each app keeps its data in ``app`` (a dict of plain values, part of the env's state) and
shows one page at a time; a page is rebuilt from ``app`` whenever the app navigates, so
what is on screen always agrees with the data. Buttons carry actions (``open:Network``,
``save``, ``back``...) that :meth:`react` interprets. The validator compares the app's data
with the goal after every step: the episode succeeds the moment it matches, and it fails only
where the app makes a mistake final (the shop's checkout); otherwise it runs out of time.
Apps draw on a larger phone-like screen (240 x 320) by default.
"""

from __future__ import annotations

from rewardgym.envs.gui.screen import Event, Screen
from rewardgym.envs.gui.tasks import FIRST_NAMES, LAST_NAMES, WORDS, Task, pick, pressed
from rewardgym.envs.gui.widgets import PageBuilder, Role


class App(Task):
    """An app task: ``react`` applies the page's events to ``app`` and ``validate`` judges ``app``."""

    size = (240, 320)
    max_steps = 30
    first_page = "home"

    def react(self, screen: Screen, events: list[Event], p: dict, app: dict) -> tuple[int, str | None]:
        page = self.handle(screen, events, p, app)
        return self.validate(p, app), page

    def handle(self, screen: Screen, events: list[Event], p: dict, app: dict) -> str | None:
        """Update ``app`` from the events; return the page to show next (None: stay)."""
        raise NotImplementedError

    def validate(self, p: dict, app: dict) -> int:
        raise NotImplementedError


def _title(b: PageBuilder, text: str) -> None:
    b.label(text, h=16)


class SettingsApp(App):
    """Categories of on/off settings; the goal is one setting flipped and every other left as it was."""

    max_steps = 12
    CATEGORIES = {
        "Network": ("Wi-Fi", "Bluetooth", "Airplane mode"),
        "Display": ("Dark mode", "Auto-brightness", "Night light"),
        "Sound": ("Vibrate", "Do not disturb", "Key clicks"),
        "Privacy": ("Location", "Camera access", "Usage reports"),
    }

    def sample(self, rng):
        names = [name for group in self.CATEGORIES.values() for name in group]
        start = {name: bool(rng.integers(2)) for name in names}
        target = pick(rng, names)
        return {"start": start, "target": target, "value": not start[target]}

    def instruction(self, p):
        return f"Turn {'on' if p['value'] else 'off'} {p['target']} in the settings."

    def initial_app(self, p):
        return {"settings": dict(p["start"])}

    def build(self, b, p, app, page):
        if page == "home":
            _title(b, "Settings")
            for category in self.CATEGORIES:
                b.button(category, action=f"open:{category}", w=b.inner_width, h=24)
            return
        _title(b, page)
        for name in self.CATEGORIES[page]:
            b.checkbox(name, checked=app["settings"][name], h=20)
        b.button("Back", action="back")

    def handle(self, screen, events, p, app):
        for kind, e in events:
            if kind == "change" and e.role == Role.CHECKBOX:
                app["settings"][e.name] = e.checked
        for e in pressed(events, Role.BUTTON):
            if e.action.startswith("open:"):
                return e.action[5:]
            if e.action == "back":
                return "home"
        return None

    def validate(self, p, app):
        goal = {**p["start"], p["target"]: p["value"]}
        return 1 if app["settings"] == goal else 0


def _phone(rng) -> str:
    return "555-" + "".join(str(int(d)) for d in rng.integers(10, size=4))


class ContactsAdd(App):
    """A contact list and a form to add one; the goal is the named contact with the named number."""

    max_steps = 12
    first_page = "list"

    def sample(self, rng):
        people = [f"{a} {b}" for a, b in zip(pick(rng, FIRST_NAMES, 6), pick(rng, LAST_NAMES, 6))]
        return {"existing": [[name, _phone(rng)] for name in people[:5]], "name": people[5], "phone": _phone(rng)}

    def instruction(self, p):
        return f'Add a contact named "{p["name"]}" with phone number {p["phone"]}.'

    def vocabulary(self, p):
        return p["name"], p["phone"]

    def initial_app(self, p):
        return {"contacts": [list(c) for c in p["existing"]]}

    def build(self, b, p, app, page):
        if page == "list":
            _title(b, "Contacts")
            b.listbox("contacts", [f"{name}  {phone}" for name, phone in app["contacts"]], rows=8)
            b.button("Add contact", action="add", w=90)
            return
        _title(b, "New contact")
        b.labelled_textbox("Name", "name")
        b.labelled_textbox("Phone", "phone")
        y = b.row(20)
        b.button("Save", action="save", y=y, group="default")
        b.button("Cancel", action="cancel", x=b.margin + 66, y=y)

    def handle(self, screen, events, p, app):
        for e in pressed(events, Role.BUTTON):
            if e.action == "add":
                return "new"
            if e.action == "cancel":
                return "list"
            if e.action == "save":
                name, phone = str(screen.named("name").value).strip(), str(screen.named("phone").value).strip()
                if name:
                    app["contacts"].append([name, phone])
                return "list"
        return None

    def validate(self, p, app):
        return 1 if [p["name"], p["phone"]] in app["contacts"] else 0


class NotesApp(App):
    """A list of notes and an editor (title and text). ``edit=False``: create the named note;
    ``edit=True``: open the named note and replace its text, keeping its title."""

    max_steps = 12
    first_page = "list"

    def __init__(self, edit: bool):
        self.edit = edit

    def sample(self, rng):
        words = pick(rng, WORDS, 10)
        notes = [[words[k].capitalize(), f"{words[k + 4]} {words[k + 5]}"] for k in range(int(rng.integers(2, 5)))]
        body = f"{words[8]} {words[9]}"
        if self.edit:
            target = int(rng.integers(len(notes)))
            return {"notes": notes, "target": target, "title": notes[target][0], "body": body}
        return {"notes": notes, "target": -1, "title": words[7].capitalize(), "body": body}

    def instruction(self, p):
        if self.edit:
            return f'Open the note "{p["title"]}" and change its text to "{p["body"]}".'
        return f'Create a note titled "{p["title"]}" with the text "{p["body"]}".'

    def vocabulary(self, p):
        return (p["body"],) if self.edit else (p["title"], p["body"])

    def initial_app(self, p):
        return {"notes": [list(n) for n in p["notes"]], "open": -1}

    def build(self, b, p, app, page):
        if page == "list":
            _title(b, "Notes")
            b.listbox("notes", [title for title, _ in app["notes"]], rows=6)
            b.button("New note", action="new", w=80)
            return
        title, body = app["notes"][app["open"]] if app["open"] >= 0 else ("", "")
        _title(b, "Edit note" if app["open"] >= 0 else "New note")
        b.labelled_textbox("Title", "title", value=title, label_w=40)
        b.labelled_textbox("Text", "body", value=body, label_w=40)
        y = b.row(20)
        b.button("Save", action="save", y=y)
        b.button("Back", action="back", x=b.margin + 66, y=y)

    def handle(self, screen, events, p, app):
        for e in pressed(events):
            if e.role == Role.LISTITEM:
                app["open"] = [title for title, _ in app["notes"]].index(e.text)
                return "edit"
            if e.action == "new":
                app["open"] = -1
                return "edit"
            if e.action == "back":
                return "list"
            if e.action == "save":
                note = [str(screen.named("title").value).strip(), str(screen.named("body").value).strip()]
                if app["open"] >= 0:
                    app["notes"][app["open"]] = note
                elif note[0]:
                    app["notes"].append(note)
                return "list"
        return None

    def validate(self, p, app):
        if self.edit:
            expected = [list(n) for n in p["notes"]]
            expected[p["target"]] = [p["title"], p["body"]]
            return 1 if app["notes"] == expected else 0
        return 1 if [p["title"], p["body"]] in app["notes"] else 0


class ShopCheckout(App):
    """A catalogue with search, product pages, a cart and a checkout; the goal is an order of exactly the
    named item. Checking out anything else fails the episode."""

    max_steps = 16
    first_page = "catalog"
    PRODUCTS = ("Blue mug", "Red mug", "Desk lamp", "Floor lamp", "Wool socks", "Cotton socks", "Green tea",
                "Black tea", "Notebook", "Sketchbook", "Gel pen", "Fountain pen", "Yoga mat", "Water bottle",
                "Phone case", "Laptop stand")

    def sample(self, rng):
        items = pick(rng, self.PRODUCTS, 12)
        prices = {item: int(rng.integers(3, 60)) for item in items}
        return {"items": items, "prices": prices, "target": pick(rng, items)}

    def instruction(self, p):
        return f'Buy one "{p["target"]}": add it to the cart and check out.'

    def vocabulary(self, p):
        return (p["target"],)

    def initial_app(self, p):
        return {"cart": [], "viewing": "", "ordered": None}

    def build(self, b, p, app, page):
        if page == "catalog":
            _title(b, "Shop")
            search = b.textbox("search", placeholder="Search products")
            b.listbox("products", p["items"], rows=8, source=search)
            b.button(f"Cart ({len(app['cart'])})", action="cart", w=70)
        elif page == "product":
            item = app["viewing"]
            _title(b, item)
            b.label(f"Price: ${p['prices'][item]}")
            y = b.row(20)
            b.button("Add to cart", action="add", y=y, w=80)
            b.button("Back", action="back", x=b.margin + 86, y=y)
        elif page == "cart":
            _title(b, "Cart")
            for item in app["cart"]:
                b.label(f"{item}  ${p['prices'][item]}")
            if not app["cart"]:
                b.label("The cart is empty.")
            y = b.row(20)
            b.button("Checkout", action="checkout", y=y, w=70, enabled=bool(app["cart"]))
            b.button("Clear", action="clear", x=b.margin + 76, y=y, w=50)
            b.button("Back", action="back", x=b.margin + 132, y=y, w=50)
        else:
            _title(b, "Order placed")
            b.label("Thank you for your order.")

    def handle(self, screen, events, p, app):
        for e in pressed(events):
            if e.role == Role.LISTITEM:
                app["viewing"] = e.text
                return "product"
            if e.action == "add":
                app["cart"].append(app["viewing"])
                return "catalog"
            if e.action in ("back", "cart"):
                return "catalog" if e.action == "back" else "cart"
            if e.action == "clear":
                app["cart"] = []
                return "cart"
            if e.action == "checkout":
                app["ordered"] = list(app["cart"])
                app["cart"] = []
                return "done"
        return None

    def validate(self, p, app):
        if app["ordered"] is None:
            return 0
        return 1 if app["ordered"] == [p["target"]] else -1


APP_CLASSES = {
    "settings": SettingsApp, "contacts-add": ContactsAdd, "notes-create": lambda: NotesApp(edit=False),
    "notes-edit": lambda: NotesApp(edit=True), "shop-checkout": ShopCheckout,
}
