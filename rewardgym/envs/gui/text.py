"""The GUI in words: the element tree as text, and BrowserGym-style commands parsed from text.

Commands (ids may be given as strings or numbers; a command may be wrapped in
``<answer>...</answer>`` or backticks)::

    click("12")                 click element 12
    click_at(80, 120)           click the pixel (x, y)
    fill("5", "alice")          replace the text of field 5
    type("abc")                 type into the focused field, at its cursor
    press("Enter")              press a key (Enter, Tab, Backspace, Escape, ArrowLeft/Right/Up/Down,
    press("5", "ArrowRight")    Delete, Home, End, Space), optionally on element 5 first
    select_option("3", "Blue")  choose an option of dropdown 3
    scroll("4", 1)              scroll list 4 down by one row (-1: up)
    drag("7", 120, 80)          drag slider 7 to the pixel (x, y)
    noop()                      do nothing

:func:`parse_command` raises :class:`~rewardgym.envs.language.InvalidCommand` with feedback for
anything else. :func:`encode_command` turns a command into the env's own action in the
``coords`` and ``elements`` modes, where some commands need two actions (``fill`` a field that
does not have the focus in coords mode) or are not expressible (``type`` text that is not one
of the task's words): the feedback says so, and ``action_mode="text"`` takes every command.
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

import numpy as np

from rewardgym.envs.gui.screen import COORD_KINDS, KEYS, VERBS, Command, Screen
from rewardgym.envs.gui.widgets import ROLE_NAMES, Element, Role
from rewardgym.envs.language import InvalidCommand, answer_in


_CALL = re.compile(r"^\s*([A-Za-z_]+)\s*\((.*)\)\s*;?\s*$", re.DOTALL)
_KEY_NAMES = {key.lower(): key for key in KEYS} | {
    "return": "Enter", "esc": "Escape", "left": "ArrowLeft", "right": "ArrowRight", "up": "ArrowUp",
    "down": "ArrowDown", "del": "Delete", " ": "Space", "space": "Space"}
_USAGE = ('Commands: click("id"), click_at(x, y), fill("id", "text"), type("text"), press("key"), '
          'select_option("id", "option"), scroll("id", 1 or -1), drag("id", x, y), noop().')
_SIGNATURES = {  # verb -> (command verb, argument kinds: e element id, s string, n number, k key, i int)
    "click": ("click", "e"), "click_at": ("click_at", "nn"), "mouse_click": ("click_at", "nn"),
    "fill": ("fill", "es"), "type": ("type", "s"), "keyboard_type": ("type", "s"),
    "press": ("press", "k"), "keyboard_press": ("press", "k"), "select_option": ("select", "es"),
    "scroll": ("scroll", "ei"), "drag": ("drag", "enn"), "noop": ("noop", ""),
}


def parse_command(text: Any) -> Command:
    """The :class:`Command` that ``text`` names; :class:`InvalidCommand` with feedback otherwise."""
    if not isinstance(text, str):
        raise InvalidCommand(f"Expected a command as text, got {type(text).__name__}. {_USAGE}")
    answer = answer_in(text)
    body = (text if answer is None else answer).strip().strip("`").strip()
    match = _CALL.match(body)
    if match is None:
        raise InvalidCommand(f"I don't understand {text.strip()[:60]!r}. {_USAGE}")
    name, raw = match.group(1).lower(), match.group(2)
    if name not in _SIGNATURES:
        raise InvalidCommand(f"There is no command {name!r}. {_USAGE}")
    try:
        args = ast.literal_eval(f"({raw},)") if raw.strip() else ()
    except Exception:  # literal_eval raises several kinds of error on bad input; all mean "not literals"
        raise InvalidCommand(f"The arguments of {name}(...) must be quoted strings and numbers. {_USAGE}") from None
    verb, kinds = _SIGNATURES[name]
    if verb == "press" and len(args) == 2:
        kinds = "ek"
    if len(args) != len(kinds):
        raise InvalidCommand(f"{name} takes {len(kinds)} argument{'s' * (len(kinds) != 1)}, got {len(args)}. "
                             f"{_USAGE}")
    fields: dict[str, Any] = {}
    numbers = []
    for kind, arg in zip(kinds, args):
        if kind == "e":
            fields["element"] = _element_id(arg)
        elif kind == "s":
            if not isinstance(arg, str):
                raise InvalidCommand(f"{name} needs text in quotes, got {arg!r}.")
            fields["text"] = arg
        elif kind == "k":
            key = _KEY_NAMES.get(str(arg).lower()) if isinstance(arg, str) else None
            if key is None:
                raise InvalidCommand(f"Unknown key {arg!r}; keys are {', '.join(KEYS)}.")
            fields["text"] = key
        elif kind == "i":
            if isinstance(arg, bool) or not isinstance(arg, int) or arg == 0 or abs(arg) > 100:
                raise InvalidCommand(f"scroll needs a whole number of rows (1 down, -1 up), got {arg!r}.")
            fields["amount"] = arg
        else:
            if isinstance(arg, bool) or not isinstance(arg, (int, float)) or not math.isfinite(arg) or abs(arg) > 1e4:
                raise InvalidCommand(f"{name} needs pixel coordinates as numbers, got {arg!r}.")
            numbers.append(float(arg))
    if numbers:
        fields["x"], fields["y"] = numbers
    return Command(verb, **fields)


def _element_id(arg: Any) -> int:
    if isinstance(arg, bool):
        raise InvalidCommand(f"An element id is a number like \"12\", got {arg!r}.")
    if isinstance(arg, int) or (isinstance(arg, str) and arg.strip().isdigit()):
        value = int(arg)
        if 0 < value < 1_000_000:
            return value
    raise InvalidCommand(f"An element id is a number like \"12\", got {arg!r}.")


def format_command(c: Command) -> str:
    """The text form of a command (what :func:`parse_command` reads back to the same command)."""
    if c.verb == "click":
        return f'click("{c.element}")'
    if c.verb == "click_at":
        return f"click_at({c.x:g}, {c.y:g})"
    if c.verb in ("fill", "select"):
        name = "fill" if c.verb == "fill" else "select_option"
        return f"{name}(\"{c.element}\", {c.text!r})"
    if c.verb == "type":
        return f"type({c.text!r})"
    if c.verb == "press":
        return f'press("{c.element}", "{c.text}")' if c.element else f'press("{c.text}")'
    if c.verb == "scroll":
        return f'scroll("{c.element}", {c.amount})'
    if c.verb == "drag":
        return f'drag("{c.element}", {c.x:g}, {c.y:g})'
    if c.verb == "noop":
        return "noop()"
    raise InvalidCommand(f"{c.verb} has no text form")


# -- commands -> the env's discrete actions ---------------------------------------------------
def encode_command(env: Any, c: Command):
    """The action of ``env``'s action mode that performs ``c``; InvalidCommand where it has none."""
    if env.action_mode == "text":
        return format_command(c)
    screen = env.screen
    if c.verb == "select":
        option = _option(screen, c)
        c = Command("click", option.id)
    if env.action_mode == "elements":
        return _encode_element(env, screen, c)
    return _encode_coords(env, screen, c)


def _option(screen: Screen, c: Command) -> Element:
    box = _target(screen, c.element)
    if box.role != Role.COMBOBOX:
        raise InvalidCommand(f"Element {c.element} is not a dropdown.")
    for option in screen.children[box.id]:
        if option.text.lower() == c.text.strip().lower():
            if not option.visible:
                raise InvalidCommand(f'Open the dropdown first: click("{box.id}").')
            return option
    raise InvalidCommand(f"Dropdown {box.id} has no option {c.text!r}.")


def _target(screen: Screen, element_id: int) -> Element:
    e = screen.by_id.get(element_id)
    if e is None or not e.visible:
        raise InvalidCommand(f"There is no element {element_id} on the screen.")
    return e


def _encode_element(env: Any, screen: Screen, c: Command) -> int:

    if c.verb == "press" and not c.element:
        return env.max_elements * VERBS + KEYS.index(c.text)
    if c.verb == "click_at":
        hit = screen.hit(c.x, c.y)
        if hit is None:
            raise InvalidCommand("There is nothing to click there.")
        c = Command("click", hit.id)
    if c.verb not in ("click", "scroll", "fill"):
        raise InvalidCommand(f"{c.verb} is not an action of the element action mode (click, scroll, fill "
                             "with the task's words, press a key); make the env with action_mode='text' for it.")
    e = _target(screen, c.element)
    row = screen.elements.index(e)
    if row >= env.max_elements:
        raise InvalidCommand(f"Element {e.id} is beyond the {env.max_elements} elements the actions reach.")
    if c.verb == "click":
        return row * VERBS
    if c.verb == "scroll":
        return row * VERBS + (1 if c.amount < 0 else 2)
    return row * VERBS + 3 + _slot(env, c.text)


def _slot(env: Any, text: str) -> int:
    if text not in env.vocabulary:
        words = ", ".join(repr(w) for w in env.vocabulary) or "none"
        raise InvalidCommand(f"This action mode can only type the task's words ({words}); make the env with "
                             "action_mode='text' to type anything.")
    return env.vocabulary.index(text)


def cell_of(env: Any, x: float, y: float) -> tuple[int, int]:
    bx, by = env.coord_bins
    column = min(max(int(x * bx / env.width), 0), bx - 1)
    row = min(max(int(y * by / env.height), 0), by - 1)
    return column, row


def element_cell(env: Any, e: Element, x: float | None = None) -> tuple[int, int]:
    """A grid cell whose centre hits ``e`` (the one nearest its centre, or nearest ``x`` on its centre line)."""
    cx, cy = e.centre
    if x is not None:
        cx = x
    best, best_d = cell_of(env, cx, cy), math.inf
    column0, row0 = cell_of(env, e.x, e.y)
    column1, row1 = cell_of(env, e.x + e.w - 1, e.y + e.h - 1)
    for column in range(column0, column1 + 1):
        for row in range(row0, row1 + 1):
            px, py = env.cell_centre(column, row)
            if env.screen.hit(px, py) is e:
                d = (px - cx) ** 2 + (py - cy) ** 2
                if d < best_d:
                    best, best_d = (column, row), d
    return best


def _encode_coords(env: Any, screen: Screen, c: Command) -> np.ndarray:

    def action(kind: str, cell=(0, 0), argument: int = 0) -> np.ndarray:
        return np.array([COORD_KINDS.index(kind), *cell, argument], dtype=np.int64)

    if c.verb == "click":
        return action("click", element_cell(env, _target(screen, c.element)))
    if c.verb == "click_at":
        return action("click", cell_of(env, c.x, c.y))
    if c.verb == "scroll":
        kind = "scroll_up" if c.amount < 0 else "scroll_down"
        return action(kind, element_cell(env, _target(screen, c.element)))
    if c.verb == "press" and not c.element:
        return action("press", argument=KEYS.index(c.text))
    if c.verb in ("fill", "type"):
        if c.verb == "fill" and screen.focus != c.element:
            raise InvalidCommand(f'In this action mode, click("{c.element}") first, then fill it.')
        return action("type", argument=_slot(env, c.text))
    if c.verb == "drag":
        e = _target(screen, c.element)
        if screen.hit(*screen.pointer) is not e:
            raise InvalidCommand(f'In this action mode, click("{e.id}") first, then drag it.')
        return action("drag", cell_of(env, c.x, c.y))
    raise InvalidCommand(f"{c.verb} is not an action of the coordinate action mode; make the env with "
                         "action_mode='text' for it.")


# -- the screen in words ----------------------------------------------------------------------
def describe_element(screen: Screen, e: Element) -> str:
    role = ROLE_NAMES[e.role]
    parts = [f"[{e.id}] {role}"]
    if e.role == Role.COMBOBOX:
        parts.append(f'"{e.text}"' if e.text else "(nothing selected)")
        options = ", ".join(f'"{o.text}"' for o in screen.children[e.id])
        parts.append(f"options: {options}")
    elif e.role == Role.TEXTBOX:
        name = e.placeholder or e.name
        parts.append(f'"{name}" value="{e.value}"' if name else f'value="{e.value}"')
    elif e.role == Role.DATEFIELD:
        parts.append(f'value="{e.value}"' if e.value else f'"{e.placeholder}" (empty)')
    elif e.role == Role.SLIDER:
        parts.append(f"value={e.value} (from {e.lo} to {e.hi})")
    elif e.role == Role.LIST:
        shown = screen.list_items(e)
        parts.append(f"showing rows {int(e.value) + 1}-{min(int(e.value) + e.hi, len(shown))} of {len(shown)}")
    elif e.text:
        parts.append(f'"{e.text}"')
    flags = [flag for flag, on in (("checked" if e.role != Role.TAB else "selected", e.checked),
                                   ("expanded", e.expanded), ("focused", screen.focus == e.id),
                                   ("disabled", not e.enabled)) if on]
    if e.role in (Role.CHECKBOX, Role.RADIO) and not e.checked:
        flags.insert(0, "unchecked")
    return " ".join(parts + flags)


def describe_screen(screen: Screen) -> str:
    """Every visible element, one per line, indented under its parent."""
    lines = []
    for e in screen.elements:
        if not e.visible or e.role == Role.GROUP or (e.role == Role.DAY and not e.enabled):
            continue
        if e.role == Role.OPTION:
            continue  # listed with their dropdown
        depth = sum(1 for a in screen.ancestors(e) if a.role != Role.GROUP)
        lines.append("  " * depth + describe_element(screen, e))
    return "\n".join(lines)


class GUIText:
    """The :class:`~rewardgym.envs.language.TextAdapter` of a :class:`~rewardgym.envs.gui.env.GUIEnv`."""

    def __init__(self, env: Any):
        self.env = env

    def instruction(self) -> str:
        return (f"{self.env.instruction}\nThe screen is listed as elements with their ids in brackets. "
                f"Answer with one command. {_USAGE}")

    def describe(self, obs: Any = None, info: dict | None = None) -> str:
        feedback = (info or {}).get("feedback") or ""
        text = describe_screen(self.env.screen)
        return f"{feedback}\n{text}" if feedback else text

    def parse(self, text: str):
        return encode_command(self.env, parse_command(text))
