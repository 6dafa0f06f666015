"""Observations in NLE's layout, built from the state for a batch of envs at once.

The map the player sees is the core's map memory (what was last seen of every square:
terrain or object, as glyph, char, colour and special layers kept in the state) with the
monsters in view and the player drawn on top, exactly as NetHack's display works. Keeping
char and colour layers next to the glyphs makes ``chars`` and ``colors`` plain copies
instead of per-square table lookups, which is what makes NLE's full observation cheap at
thousands of envs.

Keys (NLE's names, dtypes and shapes; the crops are MiniHack's):
    ``glyphs`` (21, 79) int16, ``chars``/``colors``/``specials`` (21, 79) uint8,
    ``blstats`` (27,) int64, ``message`` (256,) uint8, ``tty_chars`` (24, 80) uint8,
    ``tty_colors`` (24, 80) int8, ``tty_cursor`` (2,) uint8 (row, column),
    ``inv_glyphs`` (55,) int16, ``inv_letters``/``inv_oclasses`` (55,) uint8,
    ``inv_strs`` (55, 80) uint8, ``glyphs_crop``/``chars_crop``/``colors_crop``/``specials_crop``
    (crop, crop) centred on the player, padded with unexplored stone.
Coordinates follow NLE: ``blstats[0:2]`` is (x, y) and indexes ``glyphs[y, x]``; the tty
shows map row y on screen row y + 1, the message on row 0 and the status on rows 22-23.
"""

from __future__ import annotations

import functools
import sys

import numpy as np

from rewardgym.envs import rng
from rewardgym.envs.dungeon import content as C
from rewardgym.envs.dungeon import messages as M
from rewardgym.envs.jit import cache_guard, njit, split

_HW = C.ROWS * C.COLS


class TextCache:
    """Rendered text rows per env, redone only for the envs whose inputs changed since last time.

    The inventory and the status lines change on few steps, so most steps copy them instead
    of composing them again. The cache is keyed by the inputs' values, not by time, so it is
    always right — after ``set_state`` and autoresets too — and it is not part of the state.
    """

    few = 8  # up to this many stale rows are rendered one by one with string formatting

    def __init__(self, num_envs: int, render, render_few):
        self.render = render  # inputs (m, k) int64 of m envs -> tuple of arrays with m rows
        self.render_few = render_few  # the same, for a handful of rows
        self.inputs = None
        self.outputs = None
        self.num_envs = num_envs

    def __call__(self, b: np.ndarray, inputs: np.ndarray, everyone: bool = False,
                 copy: bool = True) -> tuple[np.ndarray, ...]:
        """The rows of envs ``b`` (all envs, in order, when ``everyone``). With ``copy=False`` and
        ``everyone`` the cache's own arrays come back: the caller must copy what it keeps."""
        if self.inputs is None:
            self.inputs = np.full((self.num_envs, inputs.shape[1]), -1, np.int64)
            self.valid = np.zeros(self.num_envs, bool)
        sel = slice(None) if everyone else b
        stale = (self.inputs[sel] != inputs).any(axis=1)
        stale |= ~self.valid[sel]
        if np.count_nonzero(stale):
            fresh = render_distinct(inputs[stale], self.render, self.render_few)
            if self.outputs is None:
                self.outputs = tuple(np.zeros((self.num_envs, *x.shape[1:]), x.dtype) for x in fresh)
            h = b[stale]
            for out, x in zip(self.outputs, fresh):
                out[h] = x
            self.inputs[h] = inputs[stale]
            self.valid[h] = True
        if everyone:
            return tuple(out.copy() for out in self.outputs) if copy else self.outputs
        return tuple(out[b] for out in self.outputs)


class TextMemo:
    """Rendered text rows of the distinct inputs seen lately, kept across steps and envs.

    Messages change on most steps, so a per-env cache would mostly miss; but a thousand envs
    show a few dozen distinct messages, and the same ones step after step. Rows are found by a
    64-bit hash and then compared in full, so a lookup is exact (rows whose hash collides with
    another row's are rendered and not remembered). Past ``limit`` rows the memo starts afresh.
    Like :class:`TextCache` it is derived from values only, so it is not part of the state.
    """

    limit = 4096

    def __init__(self, render, render_few):
        self.render, self.render_few = render, render_few
        self.size = 0
        self.hashes = np.zeros(0, np.uint64)  # the rows' hashes, sorted
        self.slots = np.zeros(0, np.int64)  # the row of each sorted hash in the stores
        self.inputs = None
        self.outputs = None

    def __call__(self, b, inputs: np.ndarray, everyone: bool = False, copy: bool = True) -> tuple[np.ndarray, ...]:
        """The rendered rows of ``inputs`` (m, k) int64, as fresh arrays with m rows (``TextCache``'s signature;
        which envs the rows belong to does not matter here)."""
        keys = row_hash(inputs)
        slot, missing = self._find(inputs, keys)
        if missing.size:
            added = self._add(inputs[missing], keys[missing])
            if added is None and self.size + missing.size > self.limit and self.size:
                self.__init__(self.render, self.render_few)  # full: start afresh
                slot, missing = self._find(inputs, keys)
                added = self._add(inputs, keys)
            if added is None:  # a hash collision, or more distinct rows than the memo holds
                return render_distinct(inputs, self.render, self.render_few)
            slot[missing] = added
        return tuple(x[slot] for x in self.outputs)

    def _find(self, inputs: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The memo's row of each input row, and which rows it does not hold."""
        if not self.size:
            return np.zeros(len(inputs), np.int64), np.arange(len(inputs))
        pos = np.searchsorted(self.hashes, keys)
        np.minimum(pos, self.size - 1, out=pos)
        slot = self.slots[pos]
        hit = self.hashes[pos] == keys
        hit &= (self.inputs[slot] == inputs).all(axis=1)
        return slot, (~hit).nonzero()[0]

    def _add(self, rows: np.ndarray, keys: np.ndarray) -> np.ndarray | None:
        """Render and remember the distinct ``rows`` (none held yet): their memo rows, or None if they cannot stay."""
        distinct_keys, first, inverse = _unique(keys)
        m = distinct_keys.size
        if self.size + m > self.limit or not (rows[first][inverse] == rows).all():
            return None
        if self.size and (self.hashes[np.minimum(np.searchsorted(self.hashes, distinct_keys), self.size - 1)]
                          == distinct_keys).any():
            return None  # a new row's hash is an old row's
        distinct = rows[first]
        fresh = render_few_or_many(distinct, self.render, self.render_few)
        if self.outputs is None or self.size + m > len(self.inputs):
            capacity = min(self.limit, max(2 * (self.size + m), 64))
            self.inputs = _grow(self.inputs, capacity, distinct)
            self.outputs = tuple(_grow(old, capacity, x) for old, x in zip(self.outputs or (None,) * len(fresh), fresh))
        new = np.arange(self.size, self.size + m)
        self.inputs[new] = distinct
        for store, x in zip(self.outputs, fresh):
            store[new] = x
        self.size += m
        hashes = np.concatenate([self.hashes, distinct_keys])
        slots = np.concatenate([self.slots, new])
        order = np.argsort(hashes, kind="stable")
        self.hashes, self.slots = hashes[order], slots[order]
        return new[inverse]


class RowMemo:
    """:class:`TextMemo` for a few envs: rendered rows remembered by their inputs' bytes in a dict.

    A handful of envs show the same few messages again and again ("It's a wall.", nothing), and
    a dict lookup per row costs less than comparing, hashing or rendering them as arrays.
    """

    limit = 4096

    def __init__(self, render_few):
        self.render_few = render_few
        self.rows: dict[bytes, tuple[np.ndarray, ...]] = {}

    def __call__(self, b, inputs: np.ndarray, everyone: bool = False, copy: bool = True) -> tuple[np.ndarray, ...]:
        """The rendered rows of ``inputs`` (m, k) int64 (m a few), as fresh arrays with m rows."""
        found = []
        for row in inputs:
            key = row.tobytes()
            hit = self.rows.get(key)
            if hit is None:
                if len(self.rows) >= self.limit:
                    self.rows.clear()
                hit = self.rows[key] = self.render_few(row[None])
            found.append(hit)
        if len(found) == 1:
            return tuple(x.copy() for x in found[0])
        return tuple(np.concatenate(rows) for rows in zip(*found))


def _grow(old: np.ndarray | None, capacity: int, like: np.ndarray) -> np.ndarray:
    out = np.zeros((capacity, *like.shape[1:]), like.dtype)
    if old is not None:
        out[:len(old)] = old
    return out


_ROW_HASH = np.random.default_rng(0x5EED).integers(1, 2**63, 1024, dtype=np.uint64) | np.uint64(1)


def row_hash(rows: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of an int array (a random linear form, then SplitMix64's finaliser)."""
    weights = _ROW_HASH[np.arange(rows.shape[1]) % _ROW_HASH.size]
    return rng.splitmix64((rows.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64))


def _unique(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(keys, return_index=True, return_inverse=True)`` of a 1-D array, with less overhead."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    head = np.empty(ordered.size, bool)
    head[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=head[1:])
    inverse = np.empty(ordered.size, np.int64)
    inverse[order] = np.cumsum(head) - 1
    return ordered[head], order[head], inverse


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(first, inverse)`` with ``rows[first][inverse] == rows``: the distinct rows of an int array, exactly.

    A 64-bit hash per row (:func:`row_hash`) sorts fast where ``np.unique(axis=0)`` sorts whole
    rows; the rows are then compared with their representative, so a hash collision falls back
    to treating every row as distinct.
    """
    _, first, inverse = _unique(row_hash(rows))
    if not (rows[first][inverse] == rows).all():
        return np.arange(len(rows)), np.arange(len(rows))
    return first, inverse


def render_few_or_many(rows: np.ndarray, render, render_few, few: int = TextCache.few) -> tuple[np.ndarray, ...]:
    """``render(rows)``, with string formatting for a few rows."""
    return render_few(rows) if len(rows) <= few else render(rows)


def render_distinct(rows: np.ndarray, render, render_few, few: int = TextCache.few) -> tuple[np.ndarray, ...]:
    """``render(rows)``, rendering each distinct row once: thousands of envs show a few dozen texts."""
    if len(rows) <= few:
        return render_few(rows)
    first, inverse = unique_rows(rows)
    fresh = render_few_or_many(rows[first], render, render_few, few)
    return tuple(x[inverse] for x in fresh)


def _top_row(message: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tty's top row (the message's first 80 bytes, blanks for nulls) and its colours."""
    top = message[:, :C.TTY_COLS].copy()
    top[top == 0] = ord(" ")
    return top, _colors_of(top)


def _colors_of(line: np.ndarray) -> np.ndarray:
    """Colours of tty text rows: gray where something is written, black on blanks."""
    return np.where(line != ord(" "), C.CLR_GRAY, 0).astype(np.int8)


def _caches(core) -> dict:
    caches = getattr(core, "_text_caches", None)
    if caches is None:
        n_msg = C.MAX_MESSAGES

        def message(x):
            msg = M.message_bytes(x[:, :n_msg], x[:, n_msg:2 * n_msg], x[:, 2 * n_msg:3 * n_msg], x[:, 3 * n_msg:],
                                  C.MESSAGE_LEN)
            return (msg, *_top_row(msg))

        def message_few(x):
            msg = M.message_bytes_few(x, n_msg, C.MESSAGE_LEN)
            return (msg, *_top_row(msg))

        def status(x, few=False):
            # x: the status head's ten inputs, hunger, hallucination and the turn counter's digit count. The
            # second line is drawn with a turn counter of that many digits, which observe() overwrites.
            time = M.POW10[np.maximum(x[:, 12], 1) - 1]
            if few:
                heads = [M.status_head_text(*r[:10]) for r in x.tolist()]
                tails = [M.status_tail_text(t, h, c) for t, h, c in zip(time.tolist(), *x[:, 10:12].T.tolist())]
                line1 = M.text_rows([a for a, _ in heads], 80, ord(" "))
                line2 = M.text_rows([b + c for (_, b), c in zip(heads, tails)], 80, ord(" "))
                start = np.array([len(b) + len(M.TURN_LABEL) for _, b in heads], np.int64)
            else:
                line1, head, head_len = M.status_head(*(x[:, k] for k in range(10)))
                line2 = M.paste_tail(head, head_len, M.status_tail(time, x[:, 10], x[:, 11]))
                start = head_len + len(M.TURN_LABEL)
            return line1, line2, start, _colors_of(line1), _colors_of(line2)

        def inventory(x, render=M.inventory):
            inv = render(x[:, :C.N_ITEMS], x[:, C.N_ITEMS:], C.INV_SIZE, C.INV_STR_LEN)
            return inv["inv_glyphs"], inv["inv_letters"], inv["inv_oclasses"], inv["inv_strs"]

        caches = {
            "message": RowMemo(message_few) if core.num_envs <= TextCache.few else TextMemo(message, message_few),
            "status": lambda x: render_few_or_many(x, status, lambda x: status(x, few=True)),
            "inventory": lambda x: render_few_or_many(x, inventory, lambda x: inventory(x, M.inventory_few)),
            "rows": TextRows(core.num_envs),
            "outputs": OutputPool(),
        }
        core._text_caches = caches
    return caches


def _holders(arrays: list, i: int) -> int:
    return sys.getrefcount(arrays[i])


class OutputPool:
    """Observation arrays, reused once nobody but the pool holds them.

    A thousand envs' observations are some 17 MB a step; fresh arrays that size are fresh pages
    from the OS, and the page faults cost more than drawing into them. An array handed out is
    reused only when its reference count says the pool is its only holder — no observation,
    view, tensor or buffer of the caller's refers to it any more — so nothing a caller keeps is
    ever written over. The count a sole holder gives is measured once, on this interpreter.
    """

    keep = 3  # arrays kept per (key, batch size): a loop holding the last observation or two still reuses

    def __init__(self):
        self.arrays: dict[tuple, list[np.ndarray]] = {}
        probe = [np.empty(1)]
        self.alone = _holders(probe, 0)

    def get(self, key: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        arrays = self.arrays.setdefault((key, shape), [])
        for i in range(len(arrays)):
            if _holders(arrays, i) == self.alone:
                return arrays[i]
        out = np.empty(shape, dtype)
        if len(arrays) < self.keep:
            arrays.append(out)
        return out


class TextRows:
    """Each env's rendered status lines and inventory, and the inputs they were rendered from.

    :func:`text_inputs` (compiled) finds the envs whose inputs changed since their rows were rendered;
    only those are rendered again (in Python, each distinct text once), and the draw kernel copies
    the rows into the observations. Derived from values only, so always right (after ``set_state``
    and autoresets too) and not part of the state. The status's second line is kept with a stand-in
    turn counter of the right number of digits; the draw kernel writes the turn's digits. (The
    message changes on most steps and is composed by the draw kernel itself.)
    """

    def __init__(self, num_envs: int):
        n = num_envs
        self.keys = (np.zeros((n, 13), np.int64), np.zeros((n, 2 * C.N_ITEMS), np.int64))
        self.valid = np.zeros((n, 2), bool)  # status, inventory
        self.scratch = tuple(np.zeros_like(k) for k in self.keys)  # the inputs of this observation
        self.stale = np.zeros((n, 2), bool)
        self.status = np.zeros((n, 2, C.TTY_COLS), np.uint8)
        self.status_start = np.zeros(n, np.int64)  # the turn counter's first column
        self.inventory = (np.zeros((n, C.INV_SIZE), np.int16), np.zeros((n, C.INV_SIZE), np.uint8),
                          np.zeros((n, C.INV_SIZE), np.uint8), np.zeros((n, C.INV_SIZE, C.INV_STR_LEN), np.uint8))


@njit
def _digit_count(value):
    count = 1
    while value >= 10 and count < 10:
        value //= 10
        count += 1
    return count


@njit
def text_inputs(s, envs, want, keys, valid, fresh, stale, start, stop):
    """For envs ``envs[start:stop]``: the inputs of the texts in ``want`` (status, inventory) into ``fresh``,
    and ``stale[i, k]`` where they differ from ``keys`` (what the cached rows were rendered from)."""
    for i in range(start, stop):
        b = envs[i]
        if want[0]:
            new = fresh[0][i]
            new[0], new[1], new[2], new[3] = s.xlvl[b], s.gold[b] + 4 * s.xp[b] + 50 * (s.max_depth[b] - 1), \
                s.depth[b], s.gold[b]
            new[4], new[5], new[6], new[7], new[8] = s.hp[b], s.maxhp[b], C.START_ENERGY, C.START_ENERGY, C.PLAYER_AC
            new[9], new[10], new[11] = s.xp[b], s.hunger[b], 1 if s.hallu[b] > 0 else 0
            new[12] = _digit_count(min(max(s.time[b], 0), 9_999_999_999))
        if want[1]:
            new = fresh[1][i]
            counts, letters = s.inv_count[b], s.inv_letter[b]
            for k in range(C.N_ITEMS):
                new[k], new[C.N_ITEMS + k] = counts[k], letters[k]
            new[C.GOLD], new[C.N_ITEMS + C.GOLD] = s.gold[b], 36  # gold is listed as $
        for k in range(2):
            differs = False
            if want[k]:
                differs = not valid[b, k]
                old, new = keys[k][b], fresh[k][i]
                for j in range(old.size):
                    differs |= old[j] != new[j]
            stale[i, k] = differs


@njit
def _copy(dst, src):
    """Copy a C-contiguous array into another of the same size as one flat loop (numba compiles slice
    assignment to per-element indexing, several times slower)."""
    d, v = dst.ravel(), src.ravel()
    for k in range(d.size):
        d[k] = v[k]


@njit
def _put(out, pos, offset, length):
    """Append ``length`` bytes of the message pool from ``offset`` at ``pos`` (cut at the row's end)."""
    for k in range(length):
        if pos < out.size:
            out[pos] = _POOL[offset + k]
        pos += 1
    return pos


@njit
def compose_message(out, codes, args, numbers, letters):
    """The message line of one env's message slots, null-padded bytes (``messages.message_bytes``): each
    message's template filled with its name, letter and number, the messages joined by two spaces."""
    pos, first = 0, True
    for k in range(codes.size):
        code = codes[k]
        if code <= 0:
            continue
        if not first:
            pos = _put(out, pos, _SEP_OFF, _SEP_LEN)
        first = False
        arg = min(max(args[k], 0), M.N_ARGS - 1)
        pos = _put(out, pos, _MSG_OFF[0, code, arg], _MSG_LEN[0, code, arg])
        if _MSG_LETTER[code, arg]:
            if pos < out.size:
                out[pos] = letters[k]
            pos += 1
        pos = _put(out, pos, _MSG_OFF[1, code, arg], _MSG_LEN[1, code, arg])
        if _MSG_NUMBER[code, arg]:
            value = min(max(numbers[k], 0), 9_999_999_999)
            count = _digit_count(value)
            for j in range(count):
                if pos + count - 1 - j < out.size:
                    out[pos + count - 1 - j] = 48 + value % 10
                value //= 10
            pos += count
        pos = _put(out, pos, _MSG_OFF[2, code, arg], _MSG_LEN[2, code, arg])
    for k in range(min(pos, out.size), out.size):
        out[k] = 0


@njit
def _text_row(dst, src):
    """A tty row from text bytes (nulls shown as blanks)."""
    for x in range(dst.size):
        dst[x] = src[x] if src[x] != 0 else 32


@njit
def _text_colors(dst, src):
    """The colours of a tty text row: gray where something is written, black on blanks (and nulls)."""
    for x in range(dst.size):
        dst[x] = C.CLR_GRAY if src[x] != 0 and src[x] != 32 else 0


@njit
def _creatures(s, envs, monsters, where, shown, count, start, stop):
    """The creatures drawn over each env's map memory, in drawing order (the monsters in view by slot, then the
    player on top): row ``i`` of ``where`` gets their flat squares, of ``shown`` their glyphs, ``count`` how many."""
    py, px, cur_room = s.py, s.px, s.cur_room
    kinds, ys, xs, glyphs, room_map = s.mon_type, s.mon_y, s.mon_x, s.mon_shown, s.room_map
    for i in range(start, stop):
        b = envs[i]
        n = 0
        if monsters:
            room = cur_room[b]
            for m in range(C.MAX_MONSTERS):
                if kinds[b, m] < 0:
                    continue
                my, mx = ys[b, m], xs[b, m]
                if (abs(my - py[b]) <= 1 and abs(mx - px[b]) <= 1) or (room > 0 and room_map[b, my, mx] == room):
                    where[i, n], shown[i, n] = my * C.COLS + mx, glyphs[b, m]
                    n += 1
        where[i, n], shown[i, n] = py[b] * C.COLS + px[b], C.GLYPH_PLAYER
        count[i] = n + 1


@njit
def _layers(out, first_row, memory, envs, where, shown, count, lut, start, stop):
    """A map layer of each env into ``out[i, first_row:first_row + 21]`` (columns past the map's zeroed): the
    memory ``memory[b]`` with the creatures drawn over it as ``lut[glyph]``."""
    cols = C.COLS
    for i in range(start, stop):
        b = envs[i]
        for y in range(C.ROWS):
            d, v = out[i, first_row + y], memory[b, y]
            for x in range(cols):
                d[x] = v[x]
            for x in range(cols, d.size):
                d[x] = 0
        for k in range(count[i]):
            out[i, first_row + where[i, k] // cols, where[i, k] % cols] = lut[shown[i, k]]


@njit
def _crops(glyphs, chars, colors, specials, s, envs, where, shown, count, start, stop):
    """The crops around the player: the glyph layer (with its creatures) as each of the four tables, unexplored
    stone off the map."""
    size = max(glyphs.shape[1], chars.shape[1], colors.shape[1], specials.shape[1])
    grid = np.empty((C.ROWS, C.COLS), np.int16)
    memory, py, px = s.mem_glyph, s.py, s.px
    for i in range(start, stop):
        b = envs[i]
        _copy(grid, memory[b])
        for k in range(count[i]):
            grid[where[i, k] // C.COLS, where[i, k] % C.COLS] = shown[i, k]
        y0, x0 = py[b] - size // 2, px[b] - size // 2
        for dy in range(size):
            for dx in range(size):
                y, x = y0 + dy, x0 + dx
                glyph = grid[y, x] if 0 <= y < C.ROWS and 0 <= x < C.COLS else C.GLYPH_STONE
                if glyphs.shape[0]:
                    glyphs[i, dy, dx] = glyph
                if chars.shape[0]:
                    chars[i, dy, dx] = C.GLYPH_CHAR[glyph]
                if colors.shape[0]:
                    colors[i, dy, dx] = C.GLYPH_COLOR[glyph]
                if specials.shape[0]:
                    specials[i, dy, dx] = C.GLYPH_SPECIAL[glyph]


@njit
def _tty_text(tty_chars, tty_colors, messages, envs, s, status, status_start, start, stop):
    """The tty's text rows: the message on top, the status lines (with the turn counter's digits) at the bottom,
    and their colours; the map's last column blank."""
    time = s.time
    for i in range(start, stop):
        b = envs[i]
        message = messages[i]
        if tty_chars.shape[0]:
            chars = tty_chars[i]
            _text_row(chars[0], message[:C.TTY_COLS])
            _text_row(chars[22], status[b, 0])
            _text_row(chars[23], status[b, 1])
            value = min(max(time[b], 0), 9_999_999_999)
            count = _digit_count(value)
            for j in range(count):  # the turn counter, most significant digit first
                col = status_start[b] + count - 1 - j
                if col < C.TTY_COLS:
                    chars[23, col] = 48 + value % 10
                value //= 10
            for y in range(1, 1 + C.ROWS):
                chars[y, C.COLS] = 32
        if tty_colors.shape[0]:  # gray where something is written (the turn's digits where its stand-in's are)
            colors = tty_colors[i]
            _text_colors(colors[0], message[:C.TTY_COLS])
            _text_colors(colors[22], status[b, 0])
            _text_colors(colors[23], status[b, 1])


@njit
def _blstats(out, s, envs, start, stop):
    px, py, gold, xp, max_depth, hp, maxhp = s.px, s.py, s.gold, s.xp, s.max_depth, s.hp, s.maxhp
    depth, xlvl, time, hunger, hallu = s.depth, s.xlvl, s.time, s.hunger, s.hallu
    for i in range(start, stop):
        b = envs[i]
        row = out[i]
        for k in range(C.N_BLSTATS):
            row[k] = _BLSTATS[k]
        row[C.BL_X], row[C.BL_Y] = px[b], py[b]
        row[C.BL_SCORE] = gold[b] + 4 * xp[b] + 50 * (max_depth[b] - 1)
        row[C.BL_HP], row[C.BL_HPMAX] = hp[b], maxhp[b]
        row[C.BL_DEPTH] = row[C.BL_DLEVEL] = depth[b]
        row[C.BL_GOLD] = gold[b]
        row[C.BL_XP], row[C.BL_EXP] = xlvl[b], xp[b]
        row[C.BL_TIME] = time[b]
        row[C.BL_HUNGER] = hunger[b]
        row[C.BL_CONDITION] = C.BL_MASK_HALLU if hallu[b] > 0 else 0


@njit
def _rows(out, store, envs, start, stop):
    """``out[i] = store[envs[i]]`` for cached rows (C-contiguous), as flat copies."""
    for i in range(start, stop):
        _copy(out[i], store[envs[i]])


@njit
def draw_batch(s, envs, monsters, maps, crops, tty_chars, tty_colors, blstats, cursor, text, out_message,
               out_inventory, check, start, stop):
    """The observations of envs ``envs[start:stop]`` into rows ``start:stop`` of the outputs that have rows (the
    others are empty): ``maps`` (glyphs, chars, colors, specials) and ``crops`` (the same four around the
    player), the tty, blstats, the cursor, the message and ``out_inventory`` (the four inventory keys); ``text``
    is :class:`TextRows`' cached status lines, their turn counter's column and inventory. One loop over the envs
    per key, each state field read once (a StructRef field read counts a reference, atomically).

    ``check`` is (want, keys, valid, fresh, stale) of :func:`text_inputs`: when a cached text is stale, nothing
    is drawn and the number of stale envs comes back (render them, then draw); else 0, all drawn."""
    want, keys, valid, fresh, stale = check
    if want[0] or want[1]:
        text_inputs(s, envs, want, keys, valid, fresh, stale, start, stop)
        count = 0
        for i in range(start, stop):
            if stale[i, 0] or stale[i, 1]:
                count += 1
        if count:
            return count
    glyphs, chars, colors, specials = maps
    n = envs.size
    where, shown = np.empty((n, C.MAX_MONSTERS + 1), np.int64), np.empty((n, C.MAX_MONSTERS + 1), np.int64)
    count = np.empty(n, np.int64)
    if (glyphs.shape[0] or chars.shape[0] or colors.shape[0] or specials.shape[0] or tty_chars.shape[0]
            or tty_colors.shape[0] or crops[0].shape[0] or crops[1].shape[0] or crops[2].shape[0]
            or crops[3].shape[0]):
        _creatures(s, envs, monsters, where, shown, count, start, stop)
    if glyphs.shape[0]:
        _layers(glyphs, 0, s.mem_glyph, envs, where, shown, count, _IDENTITY, start, stop)
    if chars.shape[0]:
        _layers(chars, 0, s.mem_char, envs, where, shown, count, C.GLYPH_CHAR, start, stop)
    if colors.shape[0]:
        _layers(colors, 0, s.mem_color, envs, where, shown, count, C.GLYPH_COLOR, start, stop)
    if specials.shape[0]:
        _layers(specials, 0, s.mem_special, envs, where, shown, count, C.GLYPH_SPECIAL, start, stop)
    if tty_chars.shape[0]:
        _layers(tty_chars, 1, s.mem_char, envs, where, shown, count, C.GLYPH_CHAR, start, stop)
    if tty_colors.shape[0]:
        _layers(tty_colors, 1, s.mem_color, envs, where, shown, count, C.GLYPH_COLOR, start, stop)
    if crops[0].shape[0] or crops[1].shape[0] or crops[2].shape[0] or crops[3].shape[0]:
        _crops(crops[0], crops[1], crops[2], crops[3], s, envs, where, shown, count, start, stop)
    if blstats.shape[0]:
        _blstats(blstats, s, envs, start, stop)
    if cursor.shape[0]:
        py, px = s.py, s.px
        for i in range(start, stop):
            cursor[i, 0], cursor[i, 1] = py[envs[i]] + 1, px[envs[i]]
    if out_message.shape[0] or tty_chars.shape[0] or tty_colors.shape[0]:
        messages = out_message if out_message.shape[0] else np.empty((n, C.MESSAGE_LEN), np.uint8)
        codes, args, numbers, letters = s.msg_code, s.msg_arg, s.msg_num, s.msg_letter
        for i in range(start, stop):
            b = envs[i]
            compose_message(messages[i], codes[b], args[b], numbers[b], letters[b])
        status, status_start, _ = text
        _tty_text(tty_chars, tty_colors, messages, envs, s, status, status_start, start, stop)
    inventory = text[2]
    if out_inventory[0].shape[0]:
        _rows(out_inventory[0], inventory[0], envs, start, stop)
    if out_inventory[1].shape[0]:
        _rows(out_inventory[1], inventory[1], envs, start, stop)
    if out_inventory[2].shape[0]:
        _rows(out_inventory[2], inventory[2], envs, start, stop)
    if out_inventory[3].shape[0]:
        _rows(out_inventory[3], inventory[3], envs, start, stop)
    return 0


def _blstats_template() -> np.ndarray:
    """The entries of ``blstats`` that never change in this game (stats, energy, AC, alignment)."""
    row = np.zeros(C.N_BLSTATS, np.int64)
    row[C.BL_STR25] = row[C.BL_STR125] = C.STATS["strength"]
    row[C.BL_DEX], row[C.BL_CON] = C.STATS["dexterity"], C.STATS["constitution"]
    row[C.BL_INT], row[C.BL_WIS], row[C.BL_CHA] = (C.STATS[k] for k in ("intelligence", "wisdom", "charisma"))
    row[C.BL_ENE] = row[C.BL_ENEMAX] = C.START_ENERGY
    row[C.BL_AC] = C.PLAYER_AC
    row[C.BL_ALIGN] = C.ALIGNMENT
    return row


_BLSTATS = _blstats_template()
_TABLES = M.tables()
_POOL, _MSG_OFF, _MSG_LEN = _TABLES["pool"], _TABLES["msg_off"], _TABLES["msg_len"]
_MSG_LETTER, _MSG_NUMBER = _TABLES["msg_letter"], _TABLES["msg_number"]
_SEP_OFF, _SEP_LEN = int(_TABLES["sep"][0]), int(_TABLES["sep"][1])
_IDENTITY = np.arange(C.MAX_GLYPH + 1, dtype=np.int16)
_NONE = {  # empty outputs: keys nobody asked for cost nothing
    "glyphs": np.zeros((0, C.ROWS, C.COLS), np.int16), "chars": np.zeros((0, C.ROWS, C.COLS), np.uint8),
    "crop16": np.zeros((0, 0, 0), np.int16), "crop8": np.zeros((0, 0, 0), np.uint8),
    "tty_chars": np.zeros((0, C.TTY_ROWS, C.TTY_COLS), np.uint8),
    "tty_colors": np.zeros((0, C.TTY_ROWS, C.TTY_COLS), np.int8),
    "blstats": np.zeros((0, C.N_BLSTATS), np.int64), "tty_cursor": np.zeros((0, 2), np.uint8),
    "inv16": np.zeros((0, C.INV_SIZE), np.int16), "inv8": np.zeros((0, C.INV_SIZE), np.uint8),
}
cache_guard(__file__, _BLSTATS, _IDENTITY, _POOL, _MSG_OFF, _MSG_LEN, _MSG_LETTER, _MSG_NUMBER, _SEP_OFF, _SEP_LEN,
            M.N_ARGS, C.GLYPH_CHAR, C.GLYPH_COLOR, C.GLYPH_SPECIAL, C.GLYPH_PLAYER,
            C.GLYPH_STONE, C.MAX_MONSTERS, C.BL_MASK_HALLU)


# The outputs of draw_batch in its argument order: (key, shape after the env axis, dtype, stand-in when not asked).
_GRID, _TTY = (C.ROWS, C.COLS), (C.TTY_ROWS, C.TTY_COLS)
_OUTPUTS = (("glyphs", _GRID, np.int16, "glyphs"), ("chars", _GRID, np.uint8, "chars"),
            ("colors", _GRID, np.uint8, "chars"), ("specials", _GRID, np.uint8, "chars"),
            ("glyphs_crop", None, np.int16, "crop16"), ("chars_crop", None, np.uint8, "crop8"),
            ("colors_crop", None, np.uint8, "crop8"), ("specials_crop", None, np.uint8, "crop8"),
            ("tty_chars", _TTY, np.uint8, "tty_chars"), ("tty_colors", _TTY, np.int8, "tty_colors"),
            ("blstats", (C.N_BLSTATS,), np.int64, "blstats"), ("tty_cursor", (2,), np.uint8, "tty_cursor"),
            ("message", (C.MESSAGE_LEN,), np.uint8, "inv8"), ("inv_glyphs", (C.INV_SIZE,), np.int16, "inv16"),
            ("inv_letters", (C.INV_SIZE,), np.uint8, "inv8"), ("inv_oclasses", (C.INV_SIZE,), np.uint8, "inv8"),
            ("inv_strs", (C.INV_SIZE, C.INV_STR_LEN), np.uint8, "chars"))
_POOL_FROM = 64  # smaller batches take fresh arrays (NumPy keeps small blocks; the pool's bookkeeping costs more)


@functools.lru_cache(maxsize=64)
def _plan(keys: tuple[str, ...], crop_size: int) -> tuple:
    """For each output of draw_batch: the key and its shape after the env axis, or None and the stand-in."""
    crop = (crop_size, crop_size)
    return tuple((key, crop if shape is None else shape, dtype) if key in keys else (None, _NONE[empty], None)
                 for key, shape, dtype, empty in _OUTPUTS)


def observe(core, b, keys) -> dict[str, np.ndarray]:
    """The observation ``keys`` of envs ``b`` (global indices, or None for all), each with a leading env axis."""
    keys = tuple(keys)
    idx = core.all_envs if b is None else np.asarray(b, np.int64)
    n = idx.size
    caches = core.__dict__.get("_text_caches") or _caches(core)
    rows = caches["rows"]
    check = (_text_wanted(keys), rows.keys, rows.valid, rows.scratch, rows.stale)
    pool = caches["outputs"] if n >= _POOL_FROM else None
    out = {}
    arrays = []
    for key, shape, dtype in _plan(keys, core.crop_size):
        if key is None:
            arrays.append(shape)  # the stand-in of an output nobody asked for
            continue
        array = pool.get(key, (n, *shape), dtype) if pool is not None else np.empty((n, *shape), dtype)
        out[key] = array
        arrays.append(array)
    args = (core.kernel_state, idx, core.monsters, tuple(arrays[0:4]), tuple(arrays[4:8]), arrays[8], arrays[9],
            arrays[10], arrays[11], (rows.status, rows.status_start, rows.inventory), arrays[12], tuple(arrays[13:17]),
            check)
    if split(draw_batch, n, *args):  # some texts changed: render them, then draw
        _render(caches, rows, idx, tuple(x[:n] for x in rows.scratch), rows.stale[:n])
        split(draw_batch, n, *args)
    return out if len(out) == len(keys) and tuple(out) == keys else {k: out[k] for k in keys}


def _render(caches, rows: TextRows, idx: np.ndarray, fresh, stale: np.ndarray) -> None:
    """Render the stale texts (each distinct one once) into the per-env rows, and remember their inputs."""
    for k in range(2):
        i = stale[:, k].nonzero()[0]
        if not i.size:
            continue
        envs, x = idx[i], fresh[k][i]
        if k == 0:
            line1, line2, start, _, _ = caches["status"](x)
            rows.status[envs, 0], rows.status[envs, 1], rows.status_start[envs] = line1, line2, start
        else:
            for store, rendered in zip(rows.inventory, caches["inventory"](x)):
                store[envs] = rendered
        rows.keys[k][envs] = x
        rows.valid[envs, k] = True


@functools.lru_cache(maxsize=32)
def _text_wanted(keys: tuple[str, ...]) -> np.ndarray:
    """Which cached texts ``keys`` need: the status lines, the inventory."""
    tty = "tty_chars" in keys or "tty_colors" in keys
    inventory = any(k in keys for k in ("inv_glyphs", "inv_letters", "inv_oclasses", "inv_strs"))
    wanted = np.array([tty, inventory])
    wanted.flags.writeable = False
    return wanted
