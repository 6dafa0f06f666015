"""The widget toolkit: every widget is a flat :class:`Element`, composites are parent/child groups.

A screen is a list of elements in drawing order (a parent before its children). Composite
widgets are built from plain elements by :class:`PageBuilder`: a dropdown is a ``COMBOBOX``
with one ``OPTION`` child per choice, a scrolling list a ``LIST`` with ``LISTITEM`` children,
a date picker a ``DATEFIELD`` with a popup ``GROUP`` holding the month header, the previous
and next buttons and 42 ``DAY`` cells, a menu ``MENUITEM``s whose children are their submenu,
tabs ``TAB``s whose panels are the elements with ``panel=tab.id``, a dialog a ``DIALOG`` with
its content as children. Flat elements keep three things simple: the accessibility table
(one row per element), hit testing (the topmost visible element under the point) and the
state (a list of small dataclasses: copy it and the screen is copied).

Which elements are visible, and where list items and calendar days are, follows from the
state by :meth:`rewardgym.envs.gui.screen.Screen.layout`; the builder only places things.
This module is pure Python (``import rewardgym`` reads the task table through it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum


class Role(IntEnum):
    """Role codes of the ``elements`` table (0 marks an empty row)."""

    NONE = 0
    HEADING = 1  # the instruction band at the top of the screen
    LABEL = 2
    BUTTON = 3
    TEXTBOX = 4
    CHECKBOX = 5
    RADIO = 6
    COMBOBOX = 7
    OPTION = 8
    LIST = 9
    LISTITEM = 10
    SLIDER = 11
    TAB = 12
    MENUITEM = 13
    DIALOG = 14
    DATEFIELD = 15
    DAY = 16
    GROUP = 17  # a popup's background


ROLE_NAMES = {role: role.name.lower() for role in Role}

# Roles a click focuses; Tab moves between them.
FOCUSABLE = frozenset({Role.BUTTON, Role.TEXTBOX, Role.CHECKBOX, Role.RADIO, Role.COMBOBOX, Role.SLIDER,
                       Role.TAB, Role.DATEFIELD, Role.LISTITEM, Role.MENUITEM})
# Roles whose children are shown only while the parent is expanded.
EXPANDING = frozenset({Role.COMBOBOX, Role.MENUITEM, Role.DATEFIELD})

LIST_ROW = 16  # pixel height of a list row, an option and a submenu item


@dataclass
class Element:
    """One widget (or one part of a composite widget).

    ``value`` means: a textbox's or date field's text (``str``); a slider's value, a
    combobox's selected option index (-1 for none), a list's scroll offset in rows, a date
    field's displayed month as ``year * 12 + month - 1`` in ``view`` (``int``). ``checked`` is a
    checkbox's or radio's state, a selected tab, option or list item. ``expanded`` is an open
    dropdown, menu or calendar. ``hidden`` is set by a task or app (a closed dialog);
    ``visible`` is computed by the layout pass from ``hidden``, the parent and the tab panel.
    ``name`` is a task's handle for the element (never shown); ``action`` is what a button
    does when pressed (the task or app reads it).
    """

    id: int
    role: Role
    x: int
    y: int
    w: int
    h: int
    text: str = ""
    name: str = ""
    value: int | str = 0
    checked: bool = False
    enabled: bool = True
    expanded: bool = False
    hidden: bool = False
    visible: bool = True
    parent: int = 0
    panel: int = 0
    z: int = 0
    action: str = ""
    group: str = ""
    lo: int = 0
    hi: int = 0
    view: int = 0
    cursor: int = 0
    placeholder: str = ""

    def contains(self, x: float, y: float) -> bool:
        return self.x <= x < self.x + self.w and self.y <= y < self.y + self.h

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        return self.x, self.y, self.w, self.h

    @property
    def value_text(self) -> str:
        """The element's value in words (what the text rendering and the ``element_value`` column show)."""
        if self.role in (Role.TEXTBOX, Role.DATEFIELD):
            return str(self.value)
        if self.role == Role.SLIDER:
            return str(self.value)
        return ""


@dataclass
class PageBuilder:
    """Places widgets on a page of ``width`` x ``height`` pixels, top to bottom from ``top``.

    Each method adds elements (ids 1, 2, ... in order, so rebuilding a page gives the same ids)
    and returns the main one. ``row(h)`` reserves a horizontal band and returns its y.
    """

    width: int
    height: int
    top: int = 0
    margin: int = 6
    elements: list[Element] = field(default_factory=list)

    def __post_init__(self):
        self.y = self.top + self.margin

    def add(self, role: Role, x: int, y: int, w: int, h: int, **kwargs) -> Element:
        element = Element(len(self.elements) + 1, role, int(x), int(y), int(w), int(h), **kwargs)
        self.elements.append(element)
        return element

    def row(self, h: int, gap: int = 4) -> int:
        y = self.y
        self.y += h + gap
        return y

    @property
    def inner_width(self) -> int:
        return self.width - 2 * self.margin

    # -- simple widgets -------------------------------------------------------------------
    def heading(self, text: str, h: int = 50) -> Element:
        """The instruction band (MiniWoB's 50-pixel query area)."""
        element = self.add(Role.HEADING, 0, 0, self.width, h, text=text)
        self.top, self.y = h, h + self.margin
        return element

    def label(self, text: str, x: int | None = None, w: int | None = None, h: int = 14, **kw) -> Element:
        x = self.margin if x is None else x
        y = kw.pop("y") if "y" in kw else self.row(h)
        return self.add(Role.LABEL, x, y, w or self.width - x - self.margin, h, text=text, **kw)

    def button(self, text: str, action: str = "", x: int | None = None, w: int = 60, h: int = 20, **kw) -> Element:
        y = kw.pop("y") if "y" in kw else self.row(h)
        return self.add(Role.BUTTON, self.margin if x is None else x, y, w, h, text=text, action=action or text, **kw)

    def textbox(self, name: str, placeholder: str = "", value: str = "", h: int = 18, **kw) -> Element:
        x = kw.pop("x", self.margin)
        w = kw.pop("w", self.width - x - self.margin)
        y = kw.pop("y") if "y" in kw else self.row(h)
        return self.add(Role.TEXTBOX, x, y, w, h, name=name, placeholder=placeholder, value=value,
                        cursor=len(value), **kw)

    def labelled_textbox(self, label: str, name: str, label_w: int = 58, **kw) -> Element:
        y = self.row(18)
        self.add(Role.LABEL, self.margin, y, label_w, 18, text=label)
        return self.textbox(name, y=y, x=self.margin + label_w, **kw)

    def checkbox(self, text: str, name: str = "", checked: bool = False, h: int = 16, **kw) -> Element:
        w = kw.pop("w", self.inner_width)
        return self.add(Role.CHECKBOX, kw.pop("x", self.margin), self.row(h, 2), w, h, text=text, name=name or text,
                        checked=checked, **kw)

    def radio_group(self, group: str, options: list[str], h: int = 16, **kw) -> list[Element]:
        return [self.add(Role.RADIO, self.margin, self.row(h, 2), self.inner_width, h, text=option, name=option,
                         group=group, **kw) for option in options]

    def slider(self, name: str, lo: int, hi: int, value: int, h: int = 18, **kw) -> Element:
        return self.add(Role.SLIDER, self.margin, self.row(h), self.inner_width, h, name=name, lo=lo, hi=hi,
                        value=value, **kw)

    # -- composite widgets ----------------------------------------------------------------
    def dropdown(self, name: str, options: list[str], h: int = 18, w: int | None = None) -> Element:
        """A select box; its options drop below it (z=1) while it is expanded."""
        w = w or self.inner_width
        box = self.add(Role.COMBOBOX, self.margin, self.row(h), w, h, name=name, value=-1,
                       placeholder="Select...")
        for k, option in enumerate(options):
            self.add(Role.OPTION, box.x, box.y + h + k * LIST_ROW, w, LIST_ROW, text=option, name=option,
                     parent=box.id, value=k, z=1)
        return box

    def listbox(self, name: str, items: list[str], rows: int, source: Element | None = None) -> Element:
        """A scrolling list showing ``rows`` items; ``source``, a textbox, filters it by substring."""
        box = self.add(Role.LIST, self.margin, self.row(rows * LIST_ROW + 2), self.inner_width,
                       rows * LIST_ROW + 2, name=name, value=0, hi=rows, lo=source.id if source else 0)
        for item in items:
            # Items leave the scrollbar (drawn by the list at its right edge) uncovered.
            self.add(Role.LISTITEM, box.x + 1, box.y + 1, box.w - 8, LIST_ROW, text=item, name=item, parent=box.id)
        return box

    def tabs(self, names: list[str], h: int = 18) -> list[Element]:
        y = self.row(h, 6)
        w = self.inner_width // len(names)
        return [self.add(Role.TAB, self.margin + k * w, y, w, h, text=name, name=name, checked=k == 0, group="tabs")
                for k, name in enumerate(names)]

    def menu(self, tree: dict, h: int = 18, item_w: int = 46, sub_w: int = 52) -> list[Element]:
        """A menu bar from a nested dict ``{"File": {"Export": {"PDF": None}}}``; a leaf's action is its
        path (``"File>Export>PDF"``). Submenus open below the bar, then to the right (to the left
        where the screen ends)."""
        y = self.row(h)
        top = []
        for k, (title, children) in enumerate(tree.items()):
            item = self.add(Role.MENUITEM, self.margin + k * item_w, y, item_w, h, text=title, name=title,
                            action=title)
            top.append(item)
            self._submenu(item, children, min(item.x, self.width - sub_w), y + h, sub_w, title)
        return top

    def _submenu(self, parent: Element, tree: dict | None, x: int, y: int, w: int, path: str) -> None:
        if not tree:
            return
        for k, (title, children) in enumerate(tree.items()):
            item = self.add(Role.MENUITEM, x, y + k * LIST_ROW, w, LIST_ROW, text=title, name=title,
                            parent=parent.id, z=parent.z + 1, action=f"{path}>{title}", group="sub")
            right = x + w if x + 2 * w <= self.width else x - w
            self._submenu(item, children, right, y + k * LIST_ROW, w, f"{path}>{title}")

    def datepicker(self, name: str, view_year: int, view_month: int, h: int = 18) -> Element:
        """A read-only date field (``MM/DD/YYYY``) that opens a month calendar below it."""
        field_ = self.add(Role.DATEFIELD, self.margin, self.row(h), 100, h, name=name, value="",
                          placeholder="mm/dd/yyyy", view=view_year * 12 + view_month - 1)
        cell_w, cell_h = 20, 13
        x0, y0 = field_.x, field_.y + h
        popup = self.add(Role.GROUP, x0, y0, 7 * cell_w + 2, 2 * 16 + 6 * cell_h + 2, parent=field_.id, z=1)
        self.add(Role.BUTTON, x0 + 1, y0 + 1, 20, 15, text="<", action="calendar:prev", parent=popup.id, z=1)
        self.add(Role.LABEL, x0 + 21, y0 + 1, 7 * cell_w - 40, 15, text="", name="month", parent=popup.id, z=1)
        self.add(Role.BUTTON, x0 + 7 * cell_w - 19, y0 + 1, 20, 15, text=">", action="calendar:next",
                 parent=popup.id, z=1)
        self.add(Role.LABEL, x0 + 1, y0 + 16, 7 * cell_w, 15, text="Mo Tu We Th Fr Sa Su", name="weekdays",
                 parent=popup.id, z=1)
        for k in range(42):
            self.add(Role.DAY, x0 + 1 + (k % 7) * cell_w, y0 + 32 + (k // 7) * cell_h, cell_w, cell_h,
                     parent=popup.id, z=1, value=0)
        return field_

    def dialog(self, title: str, text: str, buttons: list[str], w: int | None = None, h: int = 90,
               hidden: bool = False) -> Element:
        """A modal dialog centred on the page: its title, a message and a row of buttons (z=2)."""
        w = w or self.width - 20
        x, y = (self.width - w) // 2, self.top + (self.height - self.top - h) // 2
        box = self.add(Role.DIALOG, x, y, w, h, text=title, hidden=hidden, z=2)
        self.add(Role.LABEL, x + 6, y + 22, w - 12, 30, text=text, parent=box.id, z=2)
        bw = (w - 12 - 4 * (len(buttons) - 1)) // len(buttons)
        for k, label in enumerate(buttons):
            self.add(Role.BUTTON, x + 6 + k * (bw + 4), y + h - 26, bw, 20, text=label, action=f"dialog:{label}",
                     parent=box.id, z=2)
        self.add(Role.BUTTON, x + w - 18, y + 2, 16, 16, text="x", action="dialog:close", parent=box.id, z=2)
        return box
