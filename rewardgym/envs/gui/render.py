"""Pixels of a screen: widget tiles drawn once per look, composited only where something changed.

Three caches keep a step cheap:

- ``text_mask``: each string is rasterised with the shipped DejaVu Sans font once (an LRU
  cache of alpha masks), so Pillow only ever runs on a string it has not seen.
- ``draw_tile``: a widget's picture is a pure function of its *look* (role, size, text, value,
  flags), cached in an LRU of read-only arrays, so a checkbox toggled back and forth, or the
  same button in the next episode, costs a dictionary lookup.
- :class:`ScreenRenderer` keeps the composed screen as a NumPy array and what it drew where.
  After a step it recomposes only the rectangles of elements whose look or place changed (the
  old and the new rectangle), blitting the background and every visible tile that overlaps
  them in drawing order; a step that changed nothing (the screen's ``revision`` did not move)
  costs nothing at all.

The same font file and Pillow version give the same bytes on every machine.
"""

from __future__ import annotations

import math
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rewardgym.envs.gui.screen import SLIDER_LABEL, Screen
from rewardgym.envs.gui.widgets import Element, Role

FONT_FILE = Path(__file__).with_name("fonts") / "DejaVuSans.ttf"
FONT_SIZE = 10
LINE = 12  # pixels per line of wrapped text

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
GREY_TEXT = (128, 128, 128)
BORDER = (118, 118, 118)
LIGHT = (233, 233, 237)
FOCUS = (0, 95, 204)
SELECTED = (0, 120, 215)
HEADING = (255, 255, 160)
TITLE = (210, 222, 238)


@cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_FILE), size)


@lru_cache(maxsize=8192)
def text_mask(text: str, size: int = FONT_SIZE) -> np.ndarray:
    """The alpha mask (h, w) float32 in [0, 1] of ``text`` in DejaVu Sans at ``size`` pixels."""
    font = _font(size)
    ascent, descent = font.getmetrics()
    image = Image.new("L", (max(1, math.ceil(font.getlength(text))), ascent + descent))
    ImageDraw.Draw(image).text((0, 0), text, font=font, fill=255)
    mask = np.asarray(image, dtype=np.float32) / 255.0
    mask.flags.writeable = False
    return mask


def text_width(text: str, size: int = FONT_SIZE) -> int:
    """Width in pixels of ``text`` (the width of its mask; measured without rasterising it)."""
    return max(1, math.ceil(_font(size).getlength(text))) if text else 0


@lru_cache(maxsize=1024)
def wrap(text: str, width: int, size: int = FONT_SIZE) -> tuple[str, ...]:
    """``text`` broken into lines at spaces so that each fits in ``width`` pixels."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if line and text_width(candidate, size) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return (*lines, line) if line else tuple(lines)


# -- drawing primitives on a tile (an (h, w, 3) uint8 array) ---------------------------------
def _fill(tile: np.ndarray, colour, x: int = 0, y: int = 0, w: int | None = None, h: int | None = None) -> None:
    h = tile.shape[0] if h is None else h
    w = tile.shape[1] if w is None else w
    tile[max(y, 0): y + h, max(x, 0): x + w] = colour


def _frame(tile: np.ndarray, colour, x: int = 0, y: int = 0, w: int | None = None, h: int | None = None,
           thickness: int = 1) -> None:
    w = tile.shape[1] - x if w is None else w
    h = tile.shape[0] - y if h is None else h
    t = thickness
    _fill(tile, colour, x, y, w, t)
    _fill(tile, colour, x, y + h - t, w, t)
    _fill(tile, colour, x, y, t, h)
    _fill(tile, colour, x + w - t, y, t, h)


def _text(tile: np.ndarray, text: str, x: int, y: int, colour=BLACK, align: str = "left") -> None:
    """Blend ``text`` into the tile with its top-left at (x, y), clipped to the tile (``align="centre"``:
    centred horizontally on x)."""
    if not text:
        return
    mask = text_mask(text)
    mh, mw = mask.shape
    if align == "centre":
        x -= mw // 2
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + mw, tile.shape[1]), min(y + mh, tile.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    alpha = mask[y0 - y: y1 - y, x0 - x: x1 - x, None]
    region = tile[y0:y1, x0:x1]
    region[:] = (region * (1.0 - alpha) + np.asarray(colour, np.float32) * alpha + 0.5).astype(np.uint8)


def _middle(h: int) -> int:
    """The y at which a line of text sits vertically centred in a box of height h."""
    return (h - text_mask("Ag").shape[0]) // 2


@cache
def _disc(diameter: int, inner: bool) -> np.ndarray:
    image = Image.new("L", (diameter, diameter))
    draw = ImageDraw.Draw(image)
    if inner:
        draw.ellipse((2, 2, diameter - 3, diameter - 3), fill=255)
    else:
        draw.ellipse((0, 0, diameter - 1, diameter - 1), outline=255)
    return np.asarray(image, dtype=np.float32)[..., None] / 255.0


def _blend(tile: np.ndarray, mask: np.ndarray, x: int, y: int, colour) -> None:
    region = tile[y: y + mask.shape[0], x: x + mask.shape[1]]
    m = mask[: region.shape[0], : region.shape[1]]
    region[:] = (region * (1.0 - m) + np.asarray(colour, np.float32) * m + 0.5).astype(np.uint8)


# -- tiles ------------------------------------------------------------------------------------
def look(e: Element, screen: Screen) -> tuple:
    """Everything that decides how ``e`` is drawn (the key of the tile cache)."""
    focused = screen.focus == e.id
    extra: object = None
    if e.role == Role.LIST:
        extra = (int(e.value), len(screen.list_items(e)))
    elif e.role == Role.MENUITEM:
        extra = (e.parent == 0, bool(screen.children[e.id]))
    return (e.role, e.w, e.h, e.text, e.value if e.role != Role.LIST else 0, e.placeholder, e.checked, e.enabled,
            focused, e.expanded, e.cursor if focused else -1, e.lo, e.hi, extra)


@lru_cache(maxsize=4096)
def draw_tile(key: tuple) -> np.ndarray:
    """The picture (h, w, 3) uint8 of an element with look ``key`` (read-only: it is shared)."""
    role, w, h, text, value, placeholder, checked, enabled, focused, expanded, cursor, lo, hi, extra = key
    tile = np.full((h, w, 3), 255, np.uint8)
    ink = BLACK if enabled else GREY_TEXT
    ty = _middle(h)
    if role == Role.HEADING:
        _fill(tile, HEADING)
        for k, line in enumerate(wrap(text, w - 6)[: max(1, (h - 4) // LINE)]):
            _text(tile, line, 3, 3 + k * LINE)
    elif role == Role.LABEL:
        lines = wrap(text, w) or ("",)
        if len(lines) == 1:
            _text(tile, lines[0], 0, ty, ink)
        else:
            for k, line in enumerate(lines[: max(1, h // LINE)]):
                _text(tile, line, 0, k * LINE, ink)
    elif role == Role.BUTTON:
        _fill(tile, LIGHT)
        _frame(tile, FOCUS if focused else BORDER)
        _text(tile, text, w // 2, ty, ink, "centre")
    elif role in (Role.TEXTBOX, Role.DATEFIELD, Role.COMBOBOX):
        _frame(tile, FOCUS if focused or expanded else BORDER)
        shown = text if role == Role.COMBOBOX else str(value)
        if shown:
            _text(tile, shown, 3, ty, ink)
        else:
            _text(tile, placeholder, 3, ty, GREY_TEXT)
        if role == Role.TEXTBOX and focused:
            cx = 3 + text_width(str(value)[:cursor])
            _fill(tile, BLACK, cx, 3, 1, h - 6)
        elif role != Role.TEXTBOX:
            _text(tile, "\u25be", w - 11, ty, BLACK)
    elif role in (Role.CHECKBOX, Role.RADIO):
        by = (h - 10) // 2
        if role == Role.CHECKBOX:
            _frame(tile, FOCUS if focused else BORDER, 2, by, 10, 10)
            if checked:
                _fill(tile, SELECTED, 4, by + 2, 6, 6)
        else:
            _blend(tile, _disc(10, False), 2, by, FOCUS if focused else BORDER)
            if checked:
                _blend(tile, _disc(10, True), 2, by, SELECTED)
        _text(tile, text, 16, ty, ink)
    elif role in (Role.OPTION, Role.LISTITEM, Role.DAY):
        if checked:
            _fill(tile, SELECTED)
        if role == Role.OPTION:
            _frame(tile, BORDER)
        if role == Role.DAY:
            _text(tile, text, w // 2, _middle(h), WHITE if checked else ink, "centre")
        else:
            _text(tile, text, 3, ty, WHITE if checked else ink)
    elif role == Role.LIST:
        _frame(tile, BORDER)
        offset, count = extra
        rows = hi
        if count > rows:  # a scrollbar: its thumb shows which rows are in view
            track = h - 2
            size = max(6, track * rows // count)
            top = 1 + (track - size) * offset // max(count - rows, 1)
            _fill(tile, LIGHT, w - 5, 1, 4, track)
            _fill(tile, BORDER, w - 5, top, 4, size)
    elif role == Role.SLIDER:
        x0, x1 = 6, w - SLIDER_LABEL - 6
        _fill(tile, BORDER, x0, h // 2 - 1, x1 - x0, 2)
        thumb = x0 + round((int(value) - lo) / max(hi - lo, 1) * (x1 - x0))
        _fill(tile, FOCUS if focused else BORDER, thumb - 3, 2, 7, h - 4)
        _text(tile, str(value), w - SLIDER_LABEL + 2, ty, ink)
    elif role == Role.TAB:
        _fill(tile, WHITE if checked else LIGHT)
        _frame(tile, FOCUS if focused else BORDER)
        if checked:
            _fill(tile, WHITE, 1, h - 1, w - 2, 1)
        _text(tile, text, w // 2, ty, ink, "centre")
    elif role == Role.MENUITEM:
        top_level, has_submenu = extra
        _fill(tile, SELECTED if expanded else (LIGHT if top_level else WHITE))
        if not top_level:
            _frame(tile, BORDER)
        colour = WHITE if expanded else ink
        _text(tile, text, 4, ty, colour)
        if has_submenu and not top_level:
            _text(tile, "\u25b8", w - 10, ty, colour)
    elif role == Role.DIALOG:
        _fill(tile, TITLE, 0, 0, w, 20)
        _frame(tile, BLACK, thickness=2)
        _text(tile, text, 6, _middle(20), BLACK)
    elif role == Role.GROUP:
        _frame(tile, BORDER)
    tile.flags.writeable = False
    return tile


class ScreenRenderer:
    """Keeps the picture of a screen up to date, redrawing only what changed."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.canvas = np.full((height, width, 3), 255, np.uint8)
        self._screen: Screen | None = None
        self._revision = -1
        self._drawn: dict[int, tuple] = {}  # element id -> (bbox, look) of what is on the canvas

    def invalidate(self) -> None:
        self._screen = None

    def draw(self, screen: Screen) -> np.ndarray:
        """The picture of ``screen`` (H, W, 3) uint8; the array is reused, so copy it to keep it."""
        if screen is self._screen and screen.revision == self._revision:
            return self.canvas
        current = {e.id: (e.bbox, look(e, screen)) for e in screen.order if e.visible}
        if screen is not self._screen:
            rects = [(0, 0, self.width, self.height)]
        else:
            rects = []
            for key in self._drawn.keys() | current.keys():
                before, after = self._drawn.get(key), current.get(key)
                if before != after:
                    rects.extend(item[0] for item in (before, after) if item is not None)
            if len(rects) > 8:  # many small repairs cost more than one larger one
                rects = [_union(rects)]
        for rect in rects:
            self._compose(screen, current, rect)
        self._screen, self._revision, self._drawn = screen, screen.revision, current
        return self.canvas

    def _compose(self, screen: Screen, current: dict, rect: tuple[int, int, int, int]) -> None:
        rx0, ry0 = max(rect[0], 0), max(rect[1], 0)
        rx1, ry1 = min(rect[0] + rect[2], self.width), min(rect[1] + rect[3], self.height)
        if rx1 <= rx0 or ry1 <= ry0:
            return
        self.canvas[ry0:ry1, rx0:rx1] = 255
        for e in screen.order:
            entry = current.get(e.id)
            if entry is None:
                continue
            x0, y0 = max(e.x, rx0), max(e.y, ry0)
            x1, y1 = min(e.x + e.w, rx1), min(e.y + e.h, ry1)
            if x1 > x0 and y1 > y0:
                tile = draw_tile(entry[1])
                self.canvas[y0:y1, x0:x1] = tile[y0 - e.y: y1 - e.y, x0 - e.x: x1 - e.x]


def _union(rects: list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    x0 = min(r[0] for r in rects)
    y0 = min(r[1] for r in rects)
    x1 = max(r[0] + r[2] for r in rects)
    y1 = max(r[1] + r[3] for r in rects)
    return x0, y0, x1 - x0, y1 - y0
