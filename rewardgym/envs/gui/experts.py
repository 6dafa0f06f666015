"""Scripted oracles for every GUI task: they read the screen and the task's parameters, never the past.

:func:`plan` gives the next :class:`~rewardgym.envs.gui.screen.Command` from the current state
alone, so an expert works from any state ``set_state`` restores and recovers from a slip;
:class:`GUIExpert` turns it into the env's own action (any action mode)::

    env = gym.make("rewardgym/GUI-LoginUser-v0")
    expert = expert_for(env)
    obs, info = env.reset(seed=1_000_000)
    while True:
        obs, reward, terminated, truncated, info = env.step(expert.act(obs))
        if terminated or truncated:
            break

Plans use only what every action mode offers (clicks, filling a field with one of the task's
words, scrolling a list by a row, the discrete keys); in the coordinate mode a field is clicked
before it is filled.
"""

from __future__ import annotations

from typing import Any

from rewardgym.envs.gui.screen import Command, Screen
from rewardgym.envs.gui.widgets import Element, Role


def _find(screen: Screen, role: Role, text: str, parent: int | None = None) -> Element:
    for e in screen.elements:
        if e.role == role and e.text == text and (parent is None or e.parent == parent):
            return e
    raise LookupError(f"no {role.name.lower()} {text!r} on the screen")


def _button(screen: Screen, action: str) -> Element:
    for e in screen.elements:
        if e.role == Role.BUTTON and e.action == action and e.visible:
            return e
    raise LookupError(f"no button for {action!r} on the screen")


def click(e: Element) -> Command:
    return Command("click", e.id)


def _fill_then(screen: Screen, fields: dict[str, str]) -> Command | None:
    """Fill the first named field whose text differs from the goal; None when all agree."""
    for name, value in fields.items():
        field = screen.named(name)
        if field.value != value:
            return Command("fill", field.id, value)
    return None


def _choose(screen: Screen, box: Element, text: str) -> Command | None:
    """Steps to make dropdown ``box`` show ``text``; None when it does."""
    if box.text == text:
        return None
    if not box.expanded:
        return click(box)
    return click(_find(screen, Role.OPTION, text, box.id))


def _show_item(screen: Screen, box: Element, text: str) -> Command:
    """Click list item ``text`` if it is in view, else scroll the list towards it."""
    item = _find(screen, Role.LISTITEM, text, box.id)
    if item.visible:
        return click(item)
    shown = screen.list_items(box)
    return Command("scroll", box.id, amount=-1 if shown.index(item) < int(box.value) else 1)


# -- one planner per task ---------------------------------------------------------------------
def _click_button(s, p, app):
    return click(_find(s, Role.BUTTON, p["target"]))


def _click_checkboxes(s, p, app):
    for e in s.elements:
        if e.role == Role.CHECKBOX and e.checked != (e.text in p["targets"]):
            return click(e)
    return click(_button(s, "Submit"))


def _click_option(s, p, app):
    radio = _find(s, Role.RADIO, p["target"])
    return click(radio) if not radio.checked else click(_button(s, "Submit"))


def _enter_text(s, p, app):
    return _fill_then(s, {"text": p["text"]}) or click(_button(s, "Submit"))


def _login_user(s, p, app):
    return _fill_then(s, {"username": p["username"], "password": p["password"]}) or click(_button(s, "Submit"))


def _select_option(s, p, app):
    return _choose(s, s.named("choice"), p["target"]) or click(_button(s, "Submit"))


def _use_slider(s, p, app):
    slider = s.named("slider")
    if slider.value == p["target"]:
        return click(_button(s, "Submit"))
    if s.focus != slider.id:  # a click where the value is; the arrows mend what the grid rounds off
        return Command("click_at", x=s.slider_x(slider, p["target"]), y=slider.centre[1])
    target, value = p["target"], int(slider.value)
    if target - slider.lo + 1 < abs(value - target):
        return Command("press", text="Home")  # from the low end is shorter
    if slider.hi - target + 1 < abs(value - target):
        return Command("press", text="End")
    return Command("press", text="ArrowRight" if value < target else "ArrowLeft")


def _choose_date(s, p, app):
    field = s.named("date")
    if field.value == p["date"]:
        return click(_button(s, "Submit"))
    if not field.expanded:
        return click(field)
    month, day, year = (int(v) for v in p["date"].split("/"))
    goal = year * 12 + month - 1
    if field.view != goal:
        return click(_button(s, "calendar:prev" if field.view > goal else "calendar:next"))
    for e in s.elements:
        if e.role == Role.DAY and e.enabled and e.value == day:
            return click(e)
    raise LookupError(f"no day {day} in the calendar")


def _navigate_tabs(s, p, app):
    tab = _find(s, Role.TAB, f"Tab #{p['tab'] + 1}")
    return click(tab) if not tab.checked else click(_find(s, Role.BUTTON, p["target"]))


def _search_and_click(s, p, app):
    return _show_item(s, s.named("names"), p["target"])


def _fill_form(s, p, app):
    step = _fill_then(s, {"first": p["first"], "last": p["last"], "email": p["email"]})
    step = step or _choose(s, s.named("plan"), p["plan"])
    if step:
        return step
    news = s.named("news")
    return click(news) if news.checked != p["news"] else click(_button(s, "Submit"))


def _click_menu(s, p, app):
    parent = 0
    for depth, title in enumerate(p["path"]):
        item = _find(s, Role.MENUITEM, title, parent)
        if depth == len(p["path"]) - 1 or not item.expanded:
            return click(item)
        parent = item.id
    raise AssertionError("unreachable")


def _click_dialog(s, p, app):
    return click(_button(s, "dialog:close" if p["target"] == "x" else f"dialog:{p['target']}"))


def _settings(s, p, app, categories):
    category = next(c for c, names in categories.items() if p["target"] in names)
    page = app.get("_page")
    if page == "home":
        return click(_button(s, f"open:{category}"))
    if page != category:
        return click(_button(s, "back"))
    for e in s.elements:  # put back anything changed by mistake, then the target
        if e.role == Role.CHECKBOX and e.checked != {**p["start"], p["target"]: p["value"]}[e.name]:
            return click(e)
    return click(_button(s, "back"))


def _contacts_add(s, p, app):
    if app.get("_page") == "list":
        return click(_button(s, "add"))
    return _fill_then(s, {"name": p["name"], "phone": p["phone"]}) or click(_button(s, "save"))


def _notes(s, p, app, edit: bool):
    if app.get("_page") == "list":
        if edit:
            return _show_item(s, s.named("notes"), p["title"])
        return click(_button(s, "new"))
    if edit and s.named("title").value != p["title"]:
        return click(_button(s, "back"))
    return _fill_then(s, {"title": p["title"], "body": p["body"]}) or click(_button(s, "save"))


def _shop(s, p, app):
    page, cart, target = app.get("_page"), app["cart"], p["target"]
    if page == "catalog":
        if cart:
            return click(_button(s, "cart"))
        return _show_item(s, s.named("products"), target)
    if page == "product":
        return click(_button(s, "add" if app["viewing"] == target else "back"))
    if page == "cart":
        if cart == [target]:
            return click(_button(s, "checkout"))
        return click(_button(s, "clear" if cart else "back"))
    return Command("noop")


def plan(env: Any) -> Command:
    """The expert's next command for the unwrapped GUI env ``env``."""
    env = env.unwrapped
    s, p = env.screen, env.params
    app = {**env.app, "_page": env.page}
    name = env.task_name
    if name == "settings":
        return _settings(s, p, app, env.task.CATEGORIES)
    if name in ("notes-create", "notes-edit"):
        return _notes(s, p, app, edit=name == "notes-edit")
    return _PLANNERS[name](s, p, app)


_PLANNERS = {
    "click-button": _click_button, "click-checkboxes": _click_checkboxes, "click-option": _click_option,
    "enter-text": _enter_text, "login-user": _login_user, "select-option": _select_option,
    "use-slider": _use_slider, "choose-date": _choose_date, "navigate-tabs": _navigate_tabs,
    "search-and-click": _search_and_click, "fill-form": _fill_form, "click-menu": _click_menu,
    "click-dialog": _click_dialog, "contacts-add": _contacts_add, "shop-checkout": _shop,
}


class GUIExpert:
    """The scripted expert of a GUI env (single env); ``act(obs)`` gives its action in the env's mode."""

    def __init__(self, env: Any):
        self.env = env.unwrapped

    def command(self) -> Command:
        """The next command, adjusted to what the env's action mode can express."""
        c = plan(self.env)
        screen = self.env.screen
        if self.env.action_mode == "coords" and c.verb == "fill" and screen.focus != c.element:
            return Command("click", c.element)  # the coordinate mode types into the focused field
        if self.env.action_mode == "text" and c.verb == "click_at":
            hit = screen.hit(c.x, c.y)
            if hit is not None and hit.role == Role.SLIDER:  # text agents can drag to the exact value
                return Command("drag", hit.id, x=c.x, y=c.y)
        return c

    def act(self, obs: Any = None):
        return self.env.encode(self.command())


def expert_for(env: Any) -> GUIExpert:
    """The scripted expert of a GUI env (``rewardgym.workflows.experts`` finds it through this function)."""
    if env.unwrapped.task_name not in (*_PLANNERS, "settings", "notes-create", "notes-edit"):
        raise ValueError(f"no expert for the GUI task {env.unwrapped.task_name!r}")
    return GUIExpert(env)

