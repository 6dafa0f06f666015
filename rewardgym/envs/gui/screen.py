"""A screen of widgets and what mouse and keyboard do to it.

:class:`Screen` holds the elements of one page, the keyboard focus and the mouse pointer.
Every input is a method that returns the events it caused (``("press", element)`` for a
button, menu leaf or list item; ``("change", element)`` for a value) and raises
:class:`Refused` — before changing anything — when the input cannot apply (typing with no
text field focused, filling a button). Tasks and apps read the events; the env turns a
refusal into feedback. Any change bumps ``revision``, which is how the renderer and the
element table know there is something to redraw.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass

from rewardgym.envs.gui.widgets import EXPANDING, FOCUSABLE, LIST_ROW, Element, Role

KEYS = ("Enter", "Tab", "Backspace", "Escape", "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown",
        "Delete", "Home", "End", "Space")
# The actions an env offers on a screen, by action mode:
SLOTS = 4  # words of the task's vocabulary the discrete modes can type
VERBS = 3 + SLOTS  # element mode: click, scroll up, scroll down, fill slot k
COORD_KINDS = ("click", "scroll_up", "scroll_down", "drag", "press", "type")  # coordinate mode
MAX_TEXT = 64  # characters a text field holds
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
SLIDER_LABEL = 30  # pixels at a slider's right end that show its value

Event = tuple[str, Element]


class Refused(Exception):
    """An input that cannot apply to the screen as it is; the message is feedback for the agent."""


@dataclass(frozen=True)
class Command:
    """One input, whatever action mode it came from.

    verbs: ``click`` (element), ``click_at`` (x, y), ``fill`` (element, text), ``type`` (text into the
    focused field), ``press`` (key, optionally on element), ``select`` (element, option text),
    ``scroll`` (element, amount; positive scrolls down), ``scroll_at`` (x, y, amount), ``drag``
    (element to x, y), ``drag_at`` (pointer to x, y), ``noop``.
    """

    verb: str
    element: int = 0
    text: str = ""
    x: float = 0.0
    y: float = 0.0
    amount: int = 0


def date_text(year: int, month: int, day: int) -> str:
    return f"{month:02d}/{day:02d}/{year:04d}"


class Screen:
    """The elements of one page (drawing order: a parent before its children), focus and pointer."""

    def __init__(self, width: int, height: int, elements: list[Element]):
        self.width, self.height = width, height
        self.elements = elements
        self.by_id = {e.id: e for e in elements}
        self.children: dict[int, list[Element]] = {e.id: [] for e in elements}
        for e in elements:
            if e.parent:
                self.children[e.parent].append(e)
        # Drawing and hit-testing order: by layer, then by position in the list.
        self.order = sorted(elements, key=lambda e: e.z)
        self.focus = 0
        self.pointer = (0.0, 0.0)
        self.revision = 0
        self.layout()

    # -- layout ---------------------------------------------------------------------------
    def layout(self) -> None:
        """Recompute visibility, list item positions and calendar days from the state."""
        by_id = self.by_id
        for e in self.elements:
            visible = not e.hidden
            if visible and e.panel:
                tab = by_id[e.panel]
                visible = tab.checked and tab.visible
            if visible and e.parent:
                parent = by_id[e.parent]
                visible = parent.visible and (parent.expanded or parent.role not in EXPANDING)
            e.visible = visible
        for e in self.elements:
            if e.role == Role.LIST:
                self._layout_list(e)
            elif e.role == Role.DATEFIELD and e.expanded:
                self._layout_calendar(e)

    def list_items(self, box: Element) -> list[Element]:
        """The items a list shows through its filter (all of them without a search field)."""
        items = self.children[box.id]
        if box.lo:
            query = str(self.by_id[box.lo].value).strip().lower()
            if query:
                return [item for item in items if query in item.text.lower()]
        return items

    def _layout_list(self, box: Element) -> None:
        shown = self.list_items(box)
        box.value = max(0, min(int(box.value), len(shown) - box.hi))
        for item in self.children[box.id]:
            item.visible = False
        for k, item in enumerate(shown):
            row = k - box.value
            if 0 <= row < box.hi:
                item.visible = box.visible
                item.y = box.y + 1 + row * LIST_ROW

    def _layout_calendar(self, field: Element) -> None:
        year, month0 = divmod(field.view, 12)
        first, days = calendar.monthrange(year, month0 + 1)
        (popup,) = self.children[field.id]
        for part in self.children[popup.id]:
            if part.name == "month":
                part.text = f"{MONTHS[month0]} {year}"
        cells = [part for part in self.children[popup.id] if part.role == Role.DAY]
        for k, cell in enumerate(cells):
            day = k - first + 1
            real = 1 <= day <= days
            cell.value = day if real else 0
            cell.text = str(day) if real else ""
            cell.enabled = real
            cell.checked = real and field.value == date_text(year, month0 + 1, day)

    def changed(self) -> None:
        self.revision += 1
        self.layout()

    # -- queries --------------------------------------------------------------------------
    def hit(self, x: float, y: float) -> Element | None:
        """The topmost visible element under the point."""
        for e in reversed(self.order):
            if e.visible and e.contains(x, y):
                return e
        return None

    def element(self, element_id: int) -> Element:
        e = self.by_id.get(element_id)
        if e is None or not e.visible:
            raise Refused(f"There is no element {element_id} on the screen.")
        return e

    def named(self, name: str) -> Element:
        """The first element a task named ``name`` (KeyError when there is none)."""
        for e in self.elements:
            if e.name == name:
                return e
        raise KeyError(name)

    def ancestors(self, e: Element):
        while e.parent:
            e = self.by_id[e.parent]
            yield e

    # -- mouse ----------------------------------------------------------------------------
    def click_at(self, x: float, y: float) -> list[Event]:
        self.pointer = (float(x), float(y))
        target = self.hit(x, y)
        closed = self._collapse_outside(target)
        if target is None or not target.enabled:
            if closed:
                self.changed()
            return []
        events = self._activate(target, x)
        self.changed()
        return events

    def click(self, element_id: int) -> list[Event]:
        e = self.element(element_id)
        if not e.enabled:
            raise Refused(f"Element {element_id} is disabled.")
        self.pointer = e.centre
        self._collapse_outside(e)
        events = self._activate(e, e.centre[0])
        self.changed()
        return events

    def _collapse_outside(self, target: Element | None) -> bool:
        inside = {target.id, *(a.id for a in self.ancestors(target))} if target else set()
        closed = False
        for e in self.elements:
            if e.expanded and e.id not in inside:
                e.expanded, closed = False, True
        return closed

    def _activate(self, e: Element, x: float) -> list[Event]:
        if e.role in FOCUSABLE:
            self.focus = e.id
        role = e.role
        if role == Role.BUTTON:
            if e.action in ("calendar:prev", "calendar:next"):
                field = self.by_id[self.by_id[e.parent].parent]
                field.view += -1 if e.action == "calendar:prev" else 1
                return []
            return [("press", e)]
        if role == Role.TEXTBOX:
            e.cursor = len(str(e.value))
            return []
        if role == Role.CHECKBOX:
            e.checked = not e.checked
            return [("change", e)]
        if role == Role.RADIO:
            for other in self.elements:
                if other.role == Role.RADIO and other.group == e.group:
                    other.checked = other is e
            return [("change", e)]
        if role in (Role.COMBOBOX, Role.DATEFIELD):
            e.expanded = not e.expanded
            if e.expanded and role == Role.DATEFIELD and e.value:
                month, _, year = str(e.value).split("/")
                e.view = int(year) * 12 + int(month) - 1
            return []
        if role == Role.OPTION:
            return self._choose(self.by_id[e.parent], e)
        if role == Role.LISTITEM:
            for other in self.children[e.parent]:
                other.checked = other is e
            return [("press", e)]
        if role == Role.SLIDER:
            return self._slide(e, x)
        if role == Role.TAB:
            for other in self.elements:
                if other.role == Role.TAB and other.group == e.group:
                    other.checked = other is e
            return [("change", e)]
        if role == Role.MENUITEM:
            if self.children[e.id]:
                for sibling in self.elements:
                    if sibling.role == Role.MENUITEM and sibling.parent == e.parent and sibling is not e:
                        self._collapse_tree(sibling)
                e.expanded = not e.expanded
                return []
            for item in self.elements:
                if item.role == Role.MENUITEM:
                    item.expanded = False
            return [("press", e)]
        if role == Role.DAY:
            field = self.by_id[self.by_id[e.parent].parent]
            year, month0 = divmod(field.view, 12)
            field.value = date_text(year, month0 + 1, int(e.value))
            field.expanded = False
            self.focus = field.id
            return [("change", field)]
        return []

    def _collapse_tree(self, e: Element) -> None:
        e.expanded = False
        for child in self.children[e.id]:
            self._collapse_tree(child)

    def _choose(self, box: Element, option: Element) -> list[Event]:
        for other in self.children[box.id]:
            other.checked = other is option
        box.value, box.text, box.expanded = int(option.value), option.text, False
        self.focus = box.id
        return [("change", box)]

    def _slide(self, e: Element, x: float) -> list[Event]:
        x0, x1 = e.x + 6, e.x + e.w - SLIDER_LABEL - 6
        fraction = min(max((x - x0) / max(x1 - x0, 1), 0.0), 1.0)
        e.value = int(round(e.lo + fraction * (e.hi - e.lo)))
        return [("change", e)]

    def slider_x(self, e: Element, value: int) -> float:
        """The x at which a click sets slider ``e`` to ``value``."""
        x0, x1 = e.x + 6, e.x + e.w - SLIDER_LABEL - 6
        return x0 + (value - e.lo) / max(e.hi - e.lo, 1) * (x1 - x0)

    def scroll(self, element_id: int, amount: int) -> list[Event]:
        box = self._scrollable(self.element(element_id))
        return self._scroll(box, amount)

    def scroll_at(self, x: float, y: float, amount: int) -> list[Event]:
        target = self.hit(x, y)
        if target is None:
            raise Refused("There is nothing to scroll there.")
        box = self._scrollable(target)
        self.pointer = (float(x), float(y))
        return self._scroll(box, amount)

    def _scrollable(self, e: Element) -> Element:
        for candidate in (e, *self.ancestors(e)):
            if candidate.role == Role.LIST:
                return candidate
        raise Refused(f"Element {e.id} ({e.role.name.lower()}) does not scroll.")

    def _scroll(self, box: Element, amount: int) -> list[Event]:
        before = box.value
        box.value = int(box.value) + int(amount)
        self.changed()  # the layout clamps the offset
        return [("change", box)] if box.value != before else []

    def drag(self, element_id: int, x: float, y: float) -> list[Event]:
        e = self.element(element_id)
        if e.role != Role.SLIDER or not e.enabled:
            raise Refused(f"Element {element_id} ({e.role.name.lower()}) cannot be dragged.")
        self.focus, self.pointer = e.id, (float(x), float(y))
        events = self._slide(e, x)
        self.changed()
        return events

    def drag_at(self, x: float, y: float) -> list[Event]:
        """Press the mouse at the pointer, move to (x, y) and release."""
        target = self.hit(*self.pointer)
        if target is None or target.role != Role.SLIDER or not target.enabled:
            raise Refused("There is nothing to drag under the pointer.")
        return self.drag(target.id, x, y)

    # -- keyboard -------------------------------------------------------------------------
    def fill(self, element_id: int, text: str) -> list[Event]:
        e = self.element(element_id)
        if e.role != Role.TEXTBOX:
            raise Refused(f"Element {element_id} ({e.role.name.lower()}) is not a text field.")
        if not e.enabled:
            raise Refused(f"Element {element_id} is disabled.")
        self._collapse_outside(e)
        self.focus = e.id
        e.value = _clean(text)
        e.cursor = len(e.value)
        self.changed()
        return [("change", e)]

    def type(self, text: str) -> list[Event]:
        e = self.by_id.get(self.focus)
        if e is None or e.role != Role.TEXTBOX or not e.visible:
            raise Refused("No text field has the focus: click one first.")
        value = str(e.value)
        insert = _clean(text)[: MAX_TEXT - len(value)]
        e.value = value[: e.cursor] + insert + value[e.cursor:]
        e.cursor += len(insert)
        self.changed()
        return [("change", e)]

    def select(self, element_id: int, option_text: str) -> list[Event]:
        box = self.element(element_id)
        if box.role != Role.COMBOBOX:
            raise Refused(f"Element {element_id} ({box.role.name.lower()}) is not a dropdown.")
        for option in self.children[box.id]:
            if option.text.lower() == option_text.strip().lower():
                self._collapse_outside(box)
                events = self._choose(box, option)
                self.changed()
                return events
        choices = ", ".join(repr(o.text) for o in self.children[box.id])
        raise Refused(f"Dropdown {element_id} has no option {option_text!r}; its options are {choices}.")

    def press(self, key: str, element_id: int = 0) -> list[Event]:
        if key not in KEYS:
            raise Refused(f"Unknown key {key!r}; keys are {', '.join(KEYS)}.")
        if element_id:
            e = self.element(element_id)
            if e.role not in FOCUSABLE:
                raise Refused(f"Element {element_id} ({e.role.name.lower()}) cannot take the focus.")
            self.focus = e.id
        events = self._key(key, self.by_id.get(self.focus))
        self.changed()
        return events

    def _key(self, key: str, e: Element | None) -> list[Event]:
        if key == "Escape":
            for item in self.elements:
                item.expanded = False
            return []
        if key == "Tab":
            ring = [c for c in self.elements if c.role in FOCUSABLE and c.visible and c.enabled]
            if ring:
                after = [c for c in ring if c.id > self.focus]
                self.focus = (after or ring)[0].id
            return []
        if e is None or not e.visible or not e.enabled:
            return []
        if e.role == Role.TEXTBOX:
            return self._edit(e, key)
        if e.role == Role.SLIDER:
            step = {"ArrowLeft": -1, "ArrowDown": -1, "ArrowRight": 1, "ArrowUp": 1}.get(key)
            if key in ("Home", "End"):
                e.value = e.lo if key == "Home" else e.hi
            elif step:
                e.value = min(max(int(e.value) + step, e.lo), e.hi)
            return [("change", e)]
        if e.role == Role.COMBOBOX and key in ("ArrowUp", "ArrowDown"):
            options = self.children[e.id]
            k = min(max(int(e.value) + (1 if key == "ArrowDown" else -1), 0), len(options) - 1)
            return self._choose(e, options[k])
        if key in ("Enter", "Space") and e.role in (Role.BUTTON, Role.CHECKBOX, Role.RADIO, Role.TAB, Role.LISTITEM,
                                                   Role.COMBOBOX, Role.MENUITEM, Role.DATEFIELD):
            return self._activate(e, e.centre[0])
        return []

    def _edit(self, e: Element, key: str) -> list[Event]:
        value, cursor = str(e.value), e.cursor
        if key == "Backspace" and cursor:
            e.value, e.cursor = value[: cursor - 1] + value[cursor:], cursor - 1
        elif key == "Delete":
            e.value = value[:cursor] + value[cursor + 1:]
        elif key == "ArrowLeft":
            e.cursor = max(cursor - 1, 0)
        elif key == "ArrowRight":
            e.cursor = min(cursor + 1, len(value))
        elif key in ("Home", "ArrowUp"):
            e.cursor = 0
        elif key in ("End", "ArrowDown"):
            e.cursor = len(value)
        elif key == "Space":
            return self.type(" ")
        elif key == "Enter":  # submits the form: presses the page's default button
            for button in self.elements:
                if button.role == Role.BUTTON and button.group == "default" and button.visible and button.enabled:
                    self.focus = button.id
                    return [("press", button)]
            return []
        else:
            return []
        return [("change", e)] if e.value != value else []


def _clean(text: str) -> str:
    """Printable characters only, and no more than a field holds."""
    return "".join(c for c in str(text) if c.isprintable())[:MAX_TEXT]
