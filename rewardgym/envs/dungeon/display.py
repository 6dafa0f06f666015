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

import numpy as np

from rewardgym.envs import rng
from rewardgym.envs.dungeon import content as C
from rewardgym.envs.dungeon import messages as M

_LAYERS = {"glyphs": "mem_glyph", "chars": "mem_char", "colors": "mem_color", "specials": "mem_special"}
_HW = C.ROWS * C.COLS
_OVERLAY = {"glyphs": None, "chars": C.GLYPH_CHAR, "colors": C.GLYPH_COLOR, "specials": C.GLYPH_SPECIAL}


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
            "status": TextCache(core.num_envs, status, lambda x: status(x, few=True)),
            "inventory": TextCache(core.num_envs, inventory, lambda x: inventory(x, M.inventory_few)),
        }
        core._text_caches = caches
    return caches


def visible_monsters(core, b: np.ndarray | None):
    """Monsters in view in envs ``b`` (None: all envs): (row in b, y, x, shown glyph), in (env, slot) order."""
    s = core.state
    if not core.monsters:
        none = np.zeros(0, np.int64)
        return none, none, none, none
    bi, m = np.nonzero(s.mon_type >= 0 if b is None else s.mon_type[b] >= 0)
    if bi.size == 0:  # levels without monsters (the rooms)
        return bi, bi, bi, bi
    e = bi if b is None else b[bi]
    my, mx = s.mon_y[e, m], s.mon_x[e, m]
    py, px = s.py[e], s.px[e]
    view = (np.abs(my - py) <= 1) & (np.abs(mx - px) <= 1)
    room = s.cur_room[e]
    view |= (room > 0) & (s.room_map.reshape(-1)[e * _HW + my * C.COLS + mx] == room)
    return bi[view], my[view], mx[view], s.mon_shown[e[view], m[view]]


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


def blstats(core, b) -> np.ndarray:
    """NLE's 27 bottom-line statistics of envs ``b`` (an index array, or a slice)."""
    s = core.state
    out = np.empty((s.px[b].shape[0], C.N_BLSTATS), np.int64)
    out[:] = _BLSTATS
    out[:, C.BL_X], out[:, C.BL_Y] = s.px[b], s.py[b]
    out[:, C.BL_SCORE] = core.score(b)
    out[:, C.BL_HP], out[:, C.BL_HPMAX] = s.hp[b], s.maxhp[b]
    out[:, C.BL_DEPTH] = out[:, C.BL_DLEVEL] = s.depth[b]
    out[:, C.BL_GOLD] = s.gold[b]
    out[:, C.BL_XP], out[:, C.BL_EXP] = s.xlvl[b], s.xp[b]
    out[:, C.BL_TIME] = s.time[b]
    out[:, C.BL_HUNGER] = s.hunger[b]
    out[:, C.BL_CONDITION] = (s.hallu[b] > 0) * C.BL_MASK_HALLU
    return out


def observe(core, b, keys) -> dict[str, np.ndarray]:
    """The observation ``keys`` of envs ``b`` (global indices, or None for all), each with a leading env axis."""
    s = core.state
    keys = tuple(keys)
    need, crops = _plan(keys)
    everyone = b is None
    sel = slice(None) if everyone else b
    idx = np.arange(core.num_envs) if everyone else b
    n = idx.size
    py, px = s.py[sel], s.px[sel]
    layers = {}
    out: dict[str, np.ndarray] = {}
    if need:
        bi, my, mx, shown = visible_monsters(core, b)
        square = py * C.COLS + px  # the player's square on each map
        player = square + np.arange(0, n * _HW, _HW)  # and in the stacked maps
        for layer in need:
            memory = getattr(s, _LAYERS[layer])
            grid = memory.copy() if everyone else memory[b]  # fancy indexing copies already
            lut = _OVERLAY[layer]
            if bi.size:
                grid[bi, my, mx] = shown if lut is None else lut[shown]
            grid.reshape(-1)[player] = C.GLYPH_PLAYER if lut is None else lut[C.GLYPH_PLAYER]
            layers[layer] = out[layer] = grid
        if crops:
            # The squares around each player as flat map indices, and which of them lie off the map, from
            # tables over player positions (crop squares off the map show unexplored stone).
            flat_table, off_table = _crop_tables(core.crop_size)
            flat, off = flat_table[square], off_table[square]
            rows = np.arange(n)[:, None, None]
            glyphs = layers["glyphs"].reshape(n, -1)[rows, flat]
            np.copyto(glyphs, C.GLYPH_STONE, where=off)
            for layer in crops:  # the layers are tables of the glyphs (and off the map, of unexplored stone's)
                out[layer + "_crop"] = glyphs if layer == "glyphs" else _OVERLAY[layer][glyphs]
    if "blstats" in keys:
        out["blstats"] = blstats(core, sel)
    caches = _caches(core)
    top = None
    if "message" in keys or "tty_chars" in keys or "tty_colors" in keys:
        inputs = np.concatenate([s.msg_code[sel], s.msg_arg[sel], s.msg_num[sel], s.msg_letter[sel]], axis=1)
        message, top, top_colors = caches["message"](idx, inputs, everyone)
        if "message" in keys:
            out["message"] = message
    if "tty_chars" in keys or "tty_colors" in keys:
        # The status lines are cached per env with a stand-in turn counter of the right number of digits
        # (the turn changes every turn, its length seldom); the counter's digits are written in afterwards.
        digits, ndigits = _digits(s.time[sel])
        inputs = np.stack([s.xlvl[sel], core.score(sel), s.depth[sel], s.gold[sel], s.hp[sel], s.maxhp[sel],
                           np.full(n, C.START_ENERGY), np.full(n, C.START_ENERGY), np.full(n, C.PLAYER_AC),
                           s.xp[sel], s.hunger[sel], s.hallu[sel] > 0, ndigits], axis=1)
        line1, line2, start, colors1, colors2 = caches["status"](idx, inputs, everyone, copy=False)
        if "tty_chars" in keys:
            tty = np.empty((n, C.TTY_ROWS, C.TTY_COLS), np.uint8)
            tty[:, 0] = top
            tty[:, 1:1 + C.ROWS, :C.COLS] = layers["chars"]
            tty[:, 1:1 + C.ROWS, C.COLS:] = ord(" ")
            tty[:, 22] = line1
            tty[:, 23] = line2
            j = np.arange(digits.shape[1])
            cols = start[:, None] + j
            write = (ndigits[:, None] > j) & (cols < C.TTY_COLS)
            cols += (np.arange(n) * (C.TTY_ROWS * C.TTY_COLS) + 23 * C.TTY_COLS)[:, None]
            tty.reshape(-1)[cols[write]] = digits[write]
            out["tty_chars"] = tty
        if "tty_colors" in keys:
            colors = np.empty((n, C.TTY_ROWS, C.TTY_COLS), np.int8)
            colors[:, 0] = top_colors
            colors[:, 1:1 + C.ROWS, :C.COLS] = layers["colors"]
            colors[:, 1:1 + C.ROWS, C.COLS:] = 0
            colors[:, 22] = colors1
            colors[:, 23] = colors2
            out["tty_colors"] = colors
    if "tty_cursor" in keys:
        out["tty_cursor"] = np.stack([py + 1, px], axis=1).astype(np.uint8)
    inv_keys = _inventory_keys(keys)
    if inv_keys:
        inputs = np.concatenate([s.inv_count[sel], s.inv_letter[sel]], axis=1)
        inputs[:, C.GOLD] = s.gold[sel]
        inputs[:, C.N_ITEMS + C.GOLD] = ord("$")
        inv = dict(zip(("inv_glyphs", "inv_letters", "inv_oclasses", "inv_strs"),
                       caches["inventory"](idx, inputs, everyone, copy=False)))
        for k in inv_keys:
            out[k] = inv[k].copy() if everyone else inv[k]
    return {k: out[k] for k in keys}


def _digits(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decimal digits of non-negative ints as :func:`messages.render_numbers` writes them (at most ten, left
    aligned): ``(digits, lengths)``, ``digits`` (n, longest length) uint8 bytes, valid up to each length."""
    values = np.minimum(np.maximum(values, 0), M.POW10[10] - 1)
    lengths = np.searchsorted(M.POW10[1:10], values, side="right") + 1
    power = lengths[:, None] - 1 - np.arange(max(int(lengths.max(initial=1)), 1))
    digits = (values[:, None] // M.POW10[np.maximum(power, 0)]) % 10 + ord("0")
    return digits.astype(np.uint8), lengths


@functools.lru_cache(maxsize=32)
def _plan(keys: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The map layers ``keys`` need (the tty needs chars and colours) and the layers whose crops they ask for."""
    crops = tuple(layer for layer in _LAYERS if layer + "_crop" in keys)
    need = tuple(layer for layer in _LAYERS
                 if layer in keys or "tty_" + layer in keys or (layer == "glyphs" and crops))
    return need, crops


@functools.lru_cache(maxsize=32)
def _inventory_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(k for k in ("inv_glyphs", "inv_letters", "inv_oclasses", "inv_strs") if k in keys)


@functools.lru_cache(maxsize=8)
def _crop_tables(size: int) -> tuple[np.ndarray, np.ndarray]:
    """For each player square (flat map index): the flat map indices (size, size) of the squares around it
    (clipped to the map) and which of them lie off the map."""
    offsets = np.arange(size) - size // 2
    rr = np.arange(C.ROWS)[:, None] + offsets  # (ROWS, size)
    cc = np.arange(C.COLS)[:, None] + offsets  # (COLS, size)
    inside = (((rr >= 0) & (rr < C.ROWS))[:, None, :, None] & ((cc >= 0) & (cc < C.COLS))[None, :, None, :])
    flat = np.clip(rr, 0, C.ROWS - 1)[:, None, :, None] * C.COLS + np.clip(cc, 0, C.COLS - 1)[None, :, None, :]
    flat, off = flat.reshape(_HW, size, size), ~inside.reshape(_HW, size, size)
    for table in (flat, off):
        table.flags.writeable = False
    return flat, off
