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

import numpy as np

from rewardgym.envs import rng
from rewardgym.envs.dungeon import content as C
from rewardgym.envs.dungeon import messages as M

_LAYERS = {"glyphs": "mem_glyph", "chars": "mem_char", "colors": "mem_color", "specials": "mem_special"}
_PAD = {"glyphs": C.GLYPH_STONE, "chars": ord(" "), "colors": 0, "specials": 0}
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

    def __call__(self, b: np.ndarray, inputs: np.ndarray, everyone: bool = False) -> tuple[np.ndarray, ...]:
        if self.inputs is None:
            self.inputs = np.full((self.num_envs, inputs.shape[1]), -1, np.int64)
            self.valid = np.zeros(self.num_envs, bool)
        stale = ~self.valid[b] | (self.inputs[b] != inputs).any(axis=1)
        if stale.any():
            fresh = render_distinct(inputs[stale], self.render, self.render_few)
            if self.outputs is None:
                self.outputs = tuple(np.zeros((self.num_envs, *x.shape[1:]), x.dtype) for x in fresh)
            h = b[stale]
            for out, x in zip(self.outputs, fresh):
                out[h] = x
            self.inputs[h] = inputs[stale]
            self.valid[h] = True
        return tuple(out.copy() if everyone else out[b] for out in self.outputs)


_ROW_HASH = np.random.default_rng(0x5EED).integers(1, 2**63, 1024, dtype=np.uint64) | np.uint64(1)


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(first, inverse)`` with ``rows[first][inverse] == rows``: the distinct rows of an int array, exactly.

    A 64-bit hash per row (a random linear form, then SplitMix64's finaliser) sorts fast where
    ``np.unique(axis=0)`` sorts whole rows; the rows are then compared with their
    representative, so a hash collision falls back to treating every row as distinct.
    """
    weights = _ROW_HASH[np.arange(rows.shape[1]) % _ROW_HASH.size]
    keys = rng.splitmix64((rows.astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64))
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    if not (rows[first][inverse] == rows).all():
        return np.arange(len(rows)), np.arange(len(rows))
    return first, inverse


def render_distinct(rows: np.ndarray, render, render_few, few: int = TextCache.few) -> tuple[np.ndarray, ...]:
    """``render(rows)``, rendering each distinct row once: thousands of envs show a few dozen texts."""
    if len(rows) <= few:
        return render_few(rows)
    first, inverse = unique_rows(rows)
    distinct = rows[first]
    fresh = render_few(distinct) if len(distinct) <= few else render(distinct)
    return tuple(x[inverse] for x in fresh)


def _caches(core) -> dict[str, TextCache]:
    caches = getattr(core, "_text_caches", None)
    if caches is None:
        n_msg = C.MAX_MESSAGES

        def message(x):
            return (M.message_bytes(x[:, :n_msg], x[:, n_msg:2 * n_msg], x[:, 2 * n_msg:3 * n_msg],
                                    x[:, 3 * n_msg:], C.MESSAGE_LEN),)

        def status(x):
            return M.status_head(*(x[:, k] for k in range(10)))

        def inventory(x, render=M.inventory):
            inv = render(x[:, :C.N_ITEMS], x[:, C.N_ITEMS:], C.INV_SIZE, C.INV_STR_LEN)
            return inv["inv_glyphs"], inv["inv_letters"], inv["inv_oclasses"], inv["inv_strs"]

        caches = {
            "message": TextCache(core.num_envs, message, lambda x: (M.message_bytes_few(x, n_msg, C.MESSAGE_LEN),)),
            "status": TextCache(core.num_envs, status, M.status_head_few),
            "inventory": TextCache(core.num_envs, inventory, lambda x: inventory(x, M.inventory_few)),
        }
        core._text_caches = caches
    return caches


def visible_monsters(core, b: np.ndarray):
    """Monsters in view in envs ``b``: (row in b, y, x, shown glyph)."""
    s = core.state
    kind = s.mon_type[b]
    if not (kind >= 0).any():
        none = np.zeros(0, np.int64)
        return none, none, none, none
    my, mx = s.mon_y[b], s.mon_x[b]
    near = (np.abs(my - s.py[b, None]) <= 1) & (np.abs(mx - s.px[b, None]) <= 1)
    room = s.cur_room[b][:, None]
    in_room = (room > 0) & (s.room_map[b[:, None], my, mx] == room)
    bi, m = np.nonzero((kind >= 0) & (near | in_room))
    return bi, my[bi, m], mx[bi, m], s.mon_shown[b[bi], m]


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
    out = np.tile(_BLSTATS, (s.px[b].shape[0], 1))
    out[:, C.BL_X], out[:, C.BL_Y] = s.px[b], s.py[b]
    out[:, C.BL_SCORE] = core.score(b)
    out[:, C.BL_HP], out[:, C.BL_HPMAX] = s.hp[b], s.maxhp[b]
    out[:, C.BL_DEPTH] = out[:, C.BL_DLEVEL] = s.depth[b]
    out[:, C.BL_GOLD] = s.gold[b]
    out[:, C.BL_XP], out[:, C.BL_EXP] = s.xlvl[b], s.xp[b]
    out[:, C.BL_TIME] = s.time[b]
    out[:, C.BL_HUNGER] = s.hunger[b]
    out[:, C.BL_CONDITION] = np.where(s.hallu[b] > 0, C.BL_MASK_HALLU, 0)
    return out


def observe(core, b, keys) -> dict[str, np.ndarray]:
    """The observation ``keys`` of envs ``b`` (global indices, or None for all), each with a leading env axis."""
    s = core.state
    keys = tuple(keys)
    everyone = b is None
    sel = slice(None) if everyone else b
    idx = np.arange(core.num_envs) if everyone else b
    n = idx.size
    need = {layer for layer in _LAYERS if any(k == layer or k == layer + "_crop" for k in keys)}
    if "tty_chars" in keys:
        need.add("chars")
    if "tty_colors" in keys:
        need.update(("chars", "colors"))
    py, px = s.py[sel], s.px[sel]
    layers = {}
    if need:
        bi, my, mx, shown = visible_monsters(core, idx)
        rows = np.arange(n)
        for layer in need:
            memory = getattr(s, _LAYERS[layer])
            grid = memory.copy() if everyone else memory[b]  # fancy indexing copies already
            lut = _OVERLAY[layer]
            grid[bi, my, mx] = shown if lut is None else lut[shown]
            grid[rows, py, px] = C.GLYPH_PLAYER if lut is None else lut[C.GLYPH_PLAYER]
            layers[layer] = grid
    out: dict[str, np.ndarray] = {}
    crop = None  # the crops' gather indices, shared by the layers
    for layer in ("glyphs", "chars", "colors", "specials"):
        if layer in keys:
            out[layer] = layers[layer]
        if layer + "_crop" in keys:
            if crop is None:
                crop = _crop_index(n, py, px, core.crop_size)
            flat, inside = crop
            out[layer + "_crop"] = np.where(inside, layers[layer].reshape(n, -1)[np.arange(n)[:, None, None], flat],
                                            np.asarray(_PAD[layer], layers[layer].dtype))
    if "blstats" in keys:
        out["blstats"] = blstats(core, sel)
    caches = _caches(core)
    message = None
    if "message" in keys or "tty_chars" in keys or "tty_colors" in keys:
        inputs = np.concatenate([s.msg_code[sel], s.msg_arg[sel], s.msg_num[sel], s.msg_letter[sel]], axis=1)
        (message,) = caches["message"](idx, inputs, everyone)
        if "message" in keys:
            out["message"] = message
    if "tty_chars" in keys or "tty_colors" in keys:
        # The turn counter changes every turn, so only the rest of the status lines is cached.
        inputs = np.stack([s.xlvl[sel], core.score(sel), s.depth[sel], s.gold[sel], s.hp[sel], s.maxhp[sel],
                           np.full(n, C.START_ENERGY), np.full(n, C.START_ENERGY), np.full(n, C.PLAYER_AC),
                           s.xp[sel]], axis=1)
        line1, head, head_len = caches["status"](idx, inputs, everyone)
        (tail,) = render_distinct(np.stack([s.time[sel], s.hunger[sel], s.hallu[sel] > 0], axis=1),
                                  lambda x: (M.status_tail(*x.T),), lambda x: (M.status_tail_few(*x.T),))
        line2 = M.paste_tail(head, head_len, tail)
        tty = np.empty((n, C.TTY_ROWS, C.TTY_COLS), np.uint8)
        top = message[:, :C.TTY_COLS]
        tty[:, 0] = top
        tty[:, 0][top == 0] = ord(" ")
        tty[:, 1:1 + C.ROWS, :C.COLS] = layers["chars"]
        tty[:, 1:1 + C.ROWS, C.COLS:] = ord(" ")
        tty[:, 22], tty[:, 23] = line1, line2
        if "tty_chars" in keys:
            out["tty_chars"] = tty
        if "tty_colors" in keys:
            colors = np.zeros((n, C.TTY_ROWS, C.TTY_COLS), np.int8)
            for row in (0, 22, 23):
                colors[:, row] = np.where(tty[:, row] != ord(" "), C.CLR_GRAY, 0)
            colors[:, 1:1 + C.ROWS, :C.COLS] = layers["colors"]
            out["tty_colors"] = colors
    if "tty_cursor" in keys:
        out["tty_cursor"] = np.stack([py + 1, px], axis=1).astype(np.uint8)
    if any(k.startswith("inv_") for k in keys):
        inputs = np.concatenate([s.inv_count[sel], s.inv_letter[sel]], axis=1)
        inputs[:, C.GOLD] = s.gold[sel]
        inputs[:, C.N_ITEMS + C.GOLD] = ord("$")
        inv = dict(zip(("inv_glyphs", "inv_letters", "inv_oclasses", "inv_strs"),
                       caches["inventory"](idx, inputs, everyone)))
        out.update({k: inv[k] for k in inv if k in keys})
    return {k: out[k] for k in keys}


def _crop_index(n: int, py: np.ndarray, px: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat map indices (n, size, size) of the squares around each player, and which lie on the map."""
    offsets = np.arange(size) - size // 2
    rr = py[:, None] + offsets
    cc = px[:, None] + offsets
    inside = ((rr >= 0) & (rr < C.ROWS))[:, :, None] & ((cc >= 0) & (cc < C.COLS))[:, None, :]
    flat = np.clip(rr, 0, C.ROWS - 1)[:, :, None] * C.COLS + np.clip(cc, 0, C.COLS - 1)[:, None, :]
    return flat, inside
