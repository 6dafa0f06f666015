"""The GUI tasks: MiniWoB-style single-screen tasks here, multi-screen apps in :mod:`.apps`.

A :class:`Task` draws its parameters from the episode's random generator (``sample``), says
what to do (``instruction``), builds the screen (``build``) and judges each step from the
events the screen reported (``react``: +1 success, -1 failure, 0 not yet). MiniWoB's tasks end
at their first decisive action (a wrong button is a failure); apps end when their state
satisfies the task's validator, as AndroidWorld's do. ``vocabulary`` lists the strings the
discrete action modes can type (the values the instruction quotes).

``TASKS`` (name -> (description, kwargs)) is what :mod:`rewardgym.registration` registers as
``rewardgym/GUI-<name>-v0``; each kwarg goes to :class:`rewardgym.envs.gui.env.GUIEnv`.
"""

from __future__ import annotations

import numpy as np

from rewardgym.envs.gui.screen import Event, Screen, date_text
from rewardgym.envs.gui.widgets import PageBuilder, Role

WORDS = ("apple", "river", "stone", "cloud", "tiger", "maple", "ocean", "piano", "lemon", "candle", "forest",
         "silver", "rocket", "garden", "bridge", "copper", "desert", "falcon", "island", "jacket", "kettle",
         "ladder", "marble", "needle", "orange", "pepper", "rabbit", "saddle", "tunnel", "velvet", "window",
         "yellow", "zebra", "anchor", "basket", "cactus", "dragon", "engine", "feather", "guitar", "hammer",
         "igloo", "jungle", "koala", "lantern", "magnet", "nectar", "oyster", "parrot", "quartz", "ribbon",
         "sunset", "tomato", "umbrella", "violet", "walnut", "yogurt", "bamboo", "cherry", "dolphin")
FIRST_NAMES = ("Alice", "Bruno", "Carla", "Deepak", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal",
               "Lena", "Marco", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Victor",
               "Wen", "Yara", "Zoltan")
LAST_NAMES = ("Adams", "Berg", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Horvat", "Ito", "Jensen", "Kim",
              "Lopez", "Moreau", "Novak", "Okafor", "Patel", "Rossi", "Silva", "Tanaka", "Weber")
LETTERS = "abcdefghijkmnpqrstuvwxyz23456789"


def pick(rng: np.random.Generator, pool, k: int | None = None):
    """One item of ``pool`` (k=None) or ``k`` distinct ones, as plain Python values."""
    if k is None:
        return pool[int(rng.integers(len(pool)))]
    return [pool[int(i)] for i in rng.choice(len(pool), size=k, replace=False)]


def token(rng: np.random.Generator, n: int) -> str:
    return "".join(LETTERS[int(i)] for i in rng.integers(len(LETTERS), size=n))


class Task:
    """One kind of GUI task. Subclasses set ``max_steps`` and ``size`` and write the methods."""

    max_steps = 10
    size = (160, 210)  # width, height: MiniWoB's screen
    first_page = "main"

    def sample(self, rng: np.random.Generator) -> dict:
        raise NotImplementedError

    def instruction(self, p: dict) -> str:
        raise NotImplementedError

    def vocabulary(self, p: dict) -> tuple[str, ...]:
        return ()

    def initial_app(self, p: dict) -> dict:
        """The app's state at the start (empty for single-screen tasks)."""
        return {}

    def build(self, b: PageBuilder, p: dict, app: dict, page: str) -> None:
        raise NotImplementedError

    def react(self, screen: Screen, events: list[Event], p: dict, app: dict) -> tuple[int, str | None]:
        """(+1 success / -1 failure / 0 continue, the page to show next or None to stay)."""
        return self.judge(screen, events, p), None

    def judge(self, screen: Screen, events: list[Event], p: dict) -> int:
        return 0


def pressed(events: list[Event], role: Role | None = None):
    """The elements pressed in ``events`` (of ``role``, if given)."""
    return [e for kind, e in events if kind == "press" and (role is None or e.role == role)]


def submitted(events: list[Event]) -> bool:
    return any(e.action == "Submit" for e in pressed(events, Role.BUTTON))


# -- MiniWoB-style tasks -------------------------------------------------------------------
class ClickButton(Task):
    """Several buttons in a shuffled grid; click the one named."""

    max_steps = 5

    def sample(self, rng):
        labels = pick(rng, WORDS, 6)
        return {"labels": labels, "target": labels[int(rng.integers(6))], "slots": pick(rng, range(8), 6)}

    def instruction(self, p):
        return f'Click on the "{p["target"]}" button.'

    def build(self, b, p, app, page):
        for label, slot in zip(p["labels"], p["slots"]):
            b.button(label, x=8 + (slot % 2) * 76, y=b.top + 8 + (slot // 2) * 36, w=68, h=24)

    def judge(self, screen, events, p):
        for e in pressed(events, Role.BUTTON):
            return 1 if e.text == p["target"] else -1
        return 0


class ClickCheckboxes(Task):
    """Checkboxes with words; tick exactly the named ones, then Submit."""

    max_steps = 10

    def sample(self, rng):
        n = int(rng.integers(3, 7))
        words = pick(rng, WORDS, n)
        k = int(rng.integers(1, min(3, n) + 1))
        return {"words": words, "targets": sorted(pick(rng, words, k))}

    def instruction(self, p):
        names = ", ".join(p["targets"])
        return f"Select {names} and click Submit."

    def build(self, b, p, app, page):
        for word in p["words"]:
            b.checkbox(word)
        b.button("Submit", y=b.row(20) + 4, group="default")

    def judge(self, screen, events, p):
        if not submitted(events):
            return 0
        ticked = sorted(e.text for e in screen.elements if e.role == Role.CHECKBOX and e.checked)
        return 1 if ticked == p["targets"] else -1


class ClickOption(Task):
    """A radio group; choose the named option, then Submit."""

    max_steps = 6

    def sample(self, rng):
        options = pick(rng, WORDS, int(rng.integers(3, 6)))
        return {"options": options, "target": pick(rng, options)}

    def instruction(self, p):
        return f"Select {p['target']} and click Submit."

    def build(self, b, p, app, page):
        b.radio_group("choice", p["options"])
        b.button("Submit", y=b.row(20) + 4, group="default")

    def judge(self, screen, events, p):
        if not submitted(events):
            return 0
        chosen = [e.text for e in screen.elements if e.role == Role.RADIO and e.checked]
        return 1 if chosen == [p["target"]] else -1


class EnterText(Task):
    """A text field; enter the word and Submit (Enter in the field submits too)."""

    max_steps = 6

    def sample(self, rng):
        return {"text": pick(rng, WORDS + FIRST_NAMES)}

    def instruction(self, p):
        return f'Enter "{p["text"]}" into the text field and press Submit.'

    def vocabulary(self, p):
        return (p["text"],)

    def build(self, b, p, app, page):
        b.textbox("text")
        b.button("Submit", group="default")

    def judge(self, screen, events, p):
        if not submitted(events):
            return 0
        return 1 if screen.named("text").value == p["text"] else -1


class LoginUser(Task):
    """Username and password fields and a Login button."""

    max_steps = 8

    def sample(self, rng):
        return {"username": pick(rng, FIRST_NAMES).lower(), "password": token(rng, 5)}

    def instruction(self, p):
        return f'Log in with username "{p["username"]}" and password "{p["password"]}".'

    def vocabulary(self, p):
        return p["username"], p["password"]

    def build(self, b, p, app, page):
        b.labelled_textbox("Username", "username")
        b.labelled_textbox("Password", "password")
        b.button("Login", action="Submit", group="default")

    def judge(self, screen, events, p):
        if not submitted(events):
            return 0
        ok = screen.named("username").value == p["username"] and screen.named("password").value == p["password"]
        return 1 if ok else -1


class SelectOption(Task):
    """A dropdown; select the named option, then Submit."""

    max_steps = 6

    def sample(self, rng):
        options = pick(rng, WORDS, int(rng.integers(3, 7)))
        return {"options": options, "target": pick(rng, options)}

    def instruction(self, p):
        return f"Select {p['target']} from the list and click Submit."

    def build(self, b, p, app, page):
        b.dropdown("choice", p["options"], w=100)
        b.button("Submit", x=112, y=b.top + b.margin, w=42, h=18, group="default")

    def judge(self, screen, events, p):
        if not submitted(events):
            return 0
        box = screen.named("choice")
        return 1 if box.text == p["target"] else -1


class UseSlider(Task):
    """A slider; set it to the named value, then Submit (a click sets the value under the pointer,
    the arrow keys step it by one)."""

    max_steps = 30

    def sample(self, rng):
        hi = int(pick(rng, (10, 20, 50)))
        return {"hi": hi, "target": int(rng.integers(0, hi + 1)), "start": int(rng.integers(0, hi + 1))}

    def instruction(self, p):
        return f"Set the slider to {p['target']} and click Submit."

    def build(self, b, p, app, page):
        b.slider("slider", 0, p["hi"], p["start"])
        b.button("Submit", group="default")

    def judge(self, screen, events, p):
        if not submitted(events):
            return 0
        return 1 if screen.named("slider").value == p["target"] else -1


class ChooseDate(Task):
    """A date picker (month calendar); pick the named date, then Submit."""

    max_steps = 12

    def sample(self, rng):
        view = 2024 * 12 + int(rng.integers(0, 12))  # the month the calendar opens on
        target = view + int(rng.integers(-3, 4))
        year, month0 = divmod(target, 12)
        day = int(rng.integers(1, 29))
        return {"view": view, "date": date_text(year, month0 + 1, day)}

    def instruction(self, p):
        return f"Select {p['date']} as the date and hit Submit."

    def build(self, b, p, app, page):
        year, month0 = divmod(p["view"], 12)
        field = b.datepicker("date", year, month0 + 1)
        b.button("Submit", x=field.x + field.w + 6, y=field.y, w=48, h=18, group="default")

    def judge(self, screen, events, p):
        if not submitted(events):
            return 0
        return 1 if screen.named("date").value == p["date"] else -1


class NavigateTabs(Task):
    """Tabs whose panels hold buttons; open the named tab and click the named button."""

    max_steps = 6

    def sample(self, rng):
        n = int(rng.integers(2, 5))
        words = pick(rng, WORDS, 3 * n)
        panels = [words[3 * k: 3 * k + 3] for k in range(n)]
        tab = int(rng.integers(n))
        return {"panels": panels, "tab": tab, "target": pick(rng, panels[tab])}

    def instruction(self, p):
        return f'Switch to tab #{p["tab"] + 1} and click on "{p["target"]}".'

    def build(self, b, p, app, page):
        tabs = b.tabs([f"Tab #{k + 1}" for k in range(len(p["panels"]))])
        top = b.y
        for tab, words in zip(tabs, p["panels"]):
            b.y = top
            for word in words:
                b.button(word, panel=tab.id, w=80)

    def judge(self, screen, events, p):
        for e in pressed(events, Role.BUTTON):
            return 1 if e.text == p["target"] else -1
        return 0


class SearchAndClick(Task):
    """A search field over a scrolling list of names; find the named one and click it."""

    max_steps = 14

    def sample(self, rng):
        first = pick(rng, FIRST_NAMES, int(rng.integers(10, 17)))
        names = [f"{name} {pick(rng, LAST_NAMES)}" for name in first]
        return {"names": names, "target": pick(rng, names)}

    def instruction(self, p):
        return f'Find "{p["target"]}" in the list and click it.'

    def vocabulary(self, p):
        return (p["target"].split()[0],)

    def build(self, b, p, app, page):
        search = b.textbox("search", placeholder="Search")
        b.listbox("names", p["names"], rows=5, source=search)

    def judge(self, screen, events, p):
        for e in pressed(events, Role.LISTITEM):
            return 1 if e.text == p["target"] else -1
        return 0


class FillForm(Task):
    """A sign-up form: two names, an email, a plan (dropdown) and a newsletter checkbox; then Submit."""

    max_steps = 20
    PLANS = ("Basic", "Pro", "Team")

    def sample(self, rng):
        first, last = pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES)
        return {"first": first, "last": last, "email": f"{first.lower()}@{last.lower()}.com",
                "plan": pick(rng, self.PLANS), "news": bool(rng.integers(2))}

    def instruction(self, p):
        news = "with" if p["news"] else "without"
        return (f"Sign up {p['first']} {p['last']}, email {p['email']}, on the {p['plan']} plan, "
                f"{news} the newsletter.")

    def vocabulary(self, p):
        return p["first"], p["last"], p["email"]

    def build(self, b, p, app, page):
        b.labelled_textbox("First", "first", label_w=40)
        b.labelled_textbox("Last", "last", label_w=40)
        b.labelled_textbox("Email", "email", label_w=40)
        y = b.row(18)
        b.add(Role.LABEL, b.margin, y, 40, 18, text="Plan")
        b.y = y
        box = b.dropdown("plan", list(self.PLANS), w=b.inner_width - 40)
        for part in (box, *b.elements[box.id:]):  # the box and its options, right of the label
            part.x += 40
        b.checkbox("Newsletter", name="news")
        b.button("Submit", y=b.row(20) + 2, group="default")

    def judge(self, screen, events, p):
        if not submitted(events):
            return 0
        values = {name: screen.named(name).value for name in ("first", "last", "email")}
        ok = (values == {"first": p["first"], "last": p["last"], "email": p["email"]}
              and screen.named("plan").text == p["plan"] and screen.named("news").checked == p["news"])
        return 1 if ok else -1


class ClickMenu(Task):
    """A menu bar with submenus; choose the named path (File > Export > PDF)."""

    max_steps = 6
    TREE = {
        "File": {"New": None, "Open": None, "Export": {"PDF": None, "PNG": None, "CSV": None}, "Close": None},
        "Edit": {"Undo": None, "Copy": None, "Paste": None, "Find": {"Next": None, "Replace": None}},
        "View": {"Zoom": {"In": None, "Out": None, "Reset": None}, "Ruler": None, "Grid": None},
    }

    def sample(self, rng):
        leaves = list(_leaves(self.TREE, ()))
        return {"path": list(pick(rng, leaves))}

    def instruction(self, p):
        return f"Select {' > '.join(p['path'])} from the menu."

    def build(self, b, p, app, page):
        b.label("Document.txt", y=b.top + 120)
        b.menu(self.TREE)

    def judge(self, screen, events, p):
        for e in pressed(events, Role.MENUITEM):
            return 1 if e.action == ">".join(p["path"]) else -1
        return 0


def _leaves(tree: dict, path: tuple):
    for title, children in tree.items():
        if children:
            yield from _leaves(children, (*path, title))
        else:
            yield (*path, title)


class ClickDialog(Task):
    """A dialog over the page; close it with the named button."""

    max_steps = 4
    CHOICES = ("OK", "Cancel", "x")

    def sample(self, rng):
        return {"message": " ".join(pick(rng, WORDS, 3)).capitalize() + ".", "target": pick(rng, self.CHOICES)}

    def instruction(self, p):
        return f'Close the dialog by clicking "{p["target"]}".'

    def build(self, b, p, app, page):
        b.label("Some page content behind the dialog.", h=28)
        b.dialog("Notice", p["message"], ["OK", "Cancel"])

    def judge(self, screen, events, p):
        for e in pressed(events, Role.BUTTON):
            if e.action.startswith("dialog:"):
                return 1 if e.text == p["target"] else -1
        return 0


TASK_CLASSES: dict[str, type[Task]] = {
    "click-button": ClickButton, "click-checkboxes": ClickCheckboxes, "click-option": ClickOption,
    "enter-text": EnterText, "login-user": LoginUser, "select-option": SelectOption, "use-slider": UseSlider,
    "choose-date": ChooseDate, "navigate-tabs": NavigateTabs, "search-and-click": SearchAndClick,
    "fill-form": FillForm, "click-menu": ClickMenu, "click-dialog": ClickDialog,
}

TASKS: dict[str, tuple[str, dict]] = {
    "ClickButton": ("click the named button among six (MiniWoB click-button)", {"task": "click-button"}),
    "ClickCheckboxes": ("tick exactly the named checkboxes, then Submit", {"task": "click-checkboxes"}),
    "ClickOption": ("choose the named radio button, then Submit", {"task": "click-option"}),
    "EnterText": ("type the named word into a text field, then Submit", {"task": "enter-text"}),
    "LoginUser": ("fill username and password, then Login", {"task": "login-user"}),
    "SelectOption": ("pick the named option from a dropdown, then Submit", {"task": "select-option"}),
    "UseSlider": ("set a slider to the named value, then Submit", {"task": "use-slider"}),
    "ChooseDate": ("pick a date in a month calendar (up to 3 months away), then Submit", {"task": "choose-date"}),
    "NavigateTabs": ("open the named tab and click the named button in it", {"task": "navigate-tabs"}),
    "SearchAndClick": ("find a name in a scrolling, searchable list and click it", {"task": "search-and-click"}),
    "FillForm": ("fill a sign-up form (text, dropdown, checkbox), then Submit", {"task": "fill-form"}),
    "ClickMenu": ("choose a path through a menu bar and its submenus", {"task": "click-menu"}),
    "ClickDialog": ("close a dialog with the named button", {"task": "click-dialog"}),
    "Settings": ("settings app: turn one setting on or off, leaving the others alone", {"task": "settings"}),
    "ContactsAdd": ("contacts app: add a contact with a name and a phone number", {"task": "contacts-add"}),
    "NotesCreate": ("notes app: create a note with a title and a text", {"task": "notes-create"}),
    "NotesEdit": ("notes app: open a note and replace its text", {"task": "notes-edit"}),
    "ShopCheckout": ("shop app: find an item, add it to the cart and check out", {"task": "shop-checkout"}),
}
