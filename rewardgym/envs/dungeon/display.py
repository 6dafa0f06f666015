"""Observations in NLE's layout, drawn by compiled kernels for a batch of envs at once.

The map the player sees is the core's map memory (what was last seen of every square:
terrain or object, as glyph, char, colour and special layers kept in the state) with the
monsters in view and the player drawn on top, exactly as NetHack's display works. Keeping
char and colour layers next to the glyphs makes ``chars`` and ``colors`` plain copies
instead of per-square table lookups. :func:`observe` asks one kernel (:func:`draw_batch`)
for the keys wanted, into arrays with a leading env axis; keys nobody asked for cost
nothing. The message, the status lines and the inventory are composed each step from the
message tables (:func:`messages.tables`). Large batches' arrays come from an
:class:`OutputPool`.

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

from rewardgym.envs.dungeon import content as C
from rewardgym.envs.dungeon import messages as M
from rewardgym.envs.dungeon.rules import score
from rewardgym.envs.jit import cache_guard, njit, split

def _pool(core) -> OutputPool:
    pool = core.__dict__.get("_outputs")
    if pool is None:
        pool = core._outputs = OutputPool()
    return pool


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


@njit
def _digit_count(value):
    count = 1
    while value >= 10 and count < 10:
        value //= 10
        count += 1
    return count


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
def _number(out, pos, value):
    """Append the decimal digits of ``max(value, 0)`` (at most ten) at ``pos``, cut at the row's end."""
    value = min(max(value, 0), 9_999_999_999)
    count = _digit_count(value)
    for j in range(count):
        if pos + count - 1 - j < out.size:
            out[pos + count - 1 - j] = 48 + value % 10
        value //= 10
    return pos + count


@njit
def compose_status(line1, line2, xlvl, score, depth, gold, hp, maxhp, xp, hunger, hallucinating, time):
    """NetHack's two bottom lines, space-padded (``messages.status_lines``):
    ``Agent the Wanderer            St:17 Dx:14 Co:16 In:10 Wi:10 Ch:10 Neutral S:0`` and
    ``Dlvl:1 $:0 HP:16(16) Pw:2(2) AC:6 Xp:1/0 T:1 Hungry Hallu``."""
    title = min(max(xlvl, 0), _TITLES.shape[0] - 1)
    pos = _put(line1, 0, _TITLES[title, 0], _TITLES[title, 1])
    pos = _put(line1, pos, _LINE1[0, 0], _LINE1[0, 1])
    pos = _number(line1, pos, score)
    for x in range(min(pos, line1.size), line1.size):
        line1[x] = 32
    pos = 0
    for k, value in enumerate((depth, gold, hp, maxhp, C.START_ENERGY, C.START_ENERGY, C.PLAYER_AC, xlvl, xp, time)):
        pos = _put(line2, pos, _LINE2[k, 0], _LINE2[k, 1])
        pos = _number(line2, pos, value)
    state = min(max(hunger, 0), _HUNGER.shape[0] - 1)
    pos = _put(line2, pos, _HUNGER[state, 0], _HUNGER[state, 1])
    if hallucinating:
        pos = _put(line2, pos, _HALLU[0], _HALLU[1])
    for x in range(min(pos, line2.size), line2.size):
        line2[x] = 32


@njit
def compose_inventory(glyphs, letters, oclasses, strs, counts, inv_letters, gold):
    """NLE's inventory keys of one env (``messages.inventory_lines``): the carried items — gold first, as ``$`` —
    in letter order, as glyphs, letters, object classes and lines such as ``c - 2 food rations``; empty slots
    are NO_GLYPH, 0, MAXOCLASSES and nulls."""
    kinds = counts.size
    order = np.empty(kinds, np.int64)
    ranks = np.empty(kinds, np.int64)
    held = 0
    for k in range(kinds):  # a stable insertion sort of the carried kinds by letter rank
        count = gold if k == C.GOLD else counts[k]
        if count <= 0:
            continue
        rank = _LETTER_RANK[36 if k == C.GOLD else inv_letters[k]]
        j = held
        while j > 0 and ranks[j - 1] > rank:
            order[j], ranks[j] = order[j - 1], ranks[j - 1]
            j -= 1
        order[j], ranks[j] = k, rank
        held += 1
    for slot in range(glyphs.size):
        line = strs[slot]
        if slot >= held:
            glyphs[slot], letters[slot], oclasses[slot] = C.NO_GLYPH, 0, C.MAXOCLASSES
            for x in range(line.size):
                line[x] = 0
            continue
        k = order[slot]
        count = gold if k == C.GOLD else counts[k]
        letter = 36 if k == C.GOLD else inv_letters[k]
        plural = 1 if count != 1 else 0
        glyphs[slot], letters[slot], oclasses[slot] = C.GLYPH_OBJ_OFF + k, letter, C.ITEM_CLASS[k]
        line[0] = letter
        pos = _put(line, 1, _DASH[0], _DASH[1])
        pos = _put(line, pos, _INV_OFF[0, k, plural], _INV_LEN[0, k, plural])
        if _INV_NUMBER[k, plural]:
            pos = _number(line, pos, count)
        pos = _put(line, pos, _INV_OFF[1, k, plural], _INV_LEN[1, k, plural])
        for x in range(min(pos, line.size), line.size):
            line[x] = 0


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
def _creatures(s, envs, u, seats, company, monsters, where, shown, count, start, stop):
    """The creatures drawn over each seat's map memory, in drawing order (the monsters in view by slot, the other
    adventurers in view — ``company[i]``'s flat squares, -1 for none — as humans, then the player on top): row
    ``i`` of ``where`` gets their flat squares, of ``shown`` their glyphs, ``count`` how many."""
    py, px, cur_room = u.py, u.px, u.cur_room
    kinds, ys, xs, glyphs, room_map = s.mon_type, s.mon_y, s.mon_x, u.mon_shown, s.room_map
    mates = company.shape[1] if company.shape[0] else 0
    for i in range(start, stop):
        b, p = envs[i], seats[i]
        n = 0
        room = cur_room[p]
        if monsters:
            for m in range(C.MAX_MONSTERS):
                if kinds[b, m] < 0:
                    continue
                my, mx = ys[b, m], xs[b, m]
                if (abs(my - py[p]) <= 1 and abs(mx - px[p]) <= 1) or (room > 0 and room_map[b, my, mx] == room):
                    where[i, n], shown[i, n] = my * C.COLS + mx, glyphs[p, m]
                    n += 1
        for k in range(mates):
            square = company[i, k]
            if square < 0:
                continue
            my, mx = square // C.COLS, square % C.COLS
            if (abs(my - py[p]) <= 1 and abs(mx - px[p]) <= 1) or (room > 0 and room_map[b, my, mx] == room):
                where[i, n], shown[i, n] = square, C.GLYPH_MON_OFF  # kind 0, a human
                n += 1
        where[i, n], shown[i, n] = py[p] * C.COLS + px[p], C.GLYPH_PLAYER
        count[i] = n + 1


@njit
def _layers(out, first_row, memory, seats, where, shown, count, lut, start, stop):
    """A map layer of each seat into ``out[i, first_row:first_row + 21]`` (columns past the map's zeroed): the
    memory ``memory[p]`` with the creatures drawn over it as ``lut[glyph]``."""
    cols = C.COLS
    for i in range(start, stop):
        b = seats[i]
        for y in range(C.ROWS):
            d, v = out[i, first_row + y], memory[b, y]
            for x in range(cols):
                d[x] = v[x]
            for x in range(cols, d.size):
                d[x] = 0
        for k in range(count[i]):
            out[i, first_row + where[i, k] // cols, where[i, k] % cols] = lut[shown[i, k]]


@njit
def _crops(glyphs, chars, colors, specials, u, seats, where, shown, count, start, stop):
    """The crops around the player: the glyph layer (with its creatures) as each of the four tables, unexplored
    stone off the map."""
    size = max(glyphs.shape[1], chars.shape[1], colors.shape[1], specials.shape[1])
    grid = np.empty((C.ROWS, C.COLS), np.int16)
    memory, py, px = u.mem_glyph, u.py, u.px
    for i in range(start, stop):
        b = seats[i]
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
def _tty_text(tty_chars, tty_colors, messages, s, envs, u, seats, start, stop):
    """The tty's text rows: the message on top, the status lines at the bottom, and their colours; the map's last
    column blank."""
    status = np.empty((2, C.TTY_COLS), np.uint8)
    xlvl, gold, xp, depth, hp, maxhp = u.xlvl, u.gold, u.xp, s.depth, u.hp, u.maxhp
    hunger, hallu, time = u.hunger, u.hallu, s.time
    for i in range(start, stop):
        b, p = envs[i], seats[i]
        message = messages[i]
        lines = tty_chars[i, 22:24] if tty_chars.shape[0] else status
        compose_status(lines[0], lines[1], xlvl[p], score(s, b, u, p), depth[b], gold[p], hp[p], maxhp[p], xp[p],
                       hunger[p], hallu[p] > 0, time[b])
        if tty_chars.shape[0]:
            chars = tty_chars[i]
            _text_row(chars[0], message[:C.TTY_COLS])
            for y in range(1, 1 + C.ROWS):
                chars[y, C.COLS] = 32
        if tty_colors.shape[0]:  # gray where something is written
            colors = tty_colors[i]
            _text_colors(colors[0], message[:C.TTY_COLS])
            _text_colors(colors[22], lines[0])
            _text_colors(colors[23], lines[1])


@njit
def _blstats(out, s, envs, u, seats, start, stop):
    px, py, gold, xp, hp, maxhp = u.px, u.py, u.gold, u.xp, u.hp, u.maxhp
    depth, xlvl, time, hunger, hallu = s.depth, u.xlvl, s.time, u.hunger, u.hallu
    for i in range(start, stop):
        b, p = envs[i], seats[i]
        row = out[i]
        for k in range(C.N_BLSTATS):
            row[k] = _BLSTATS[k]
        row[C.BL_X], row[C.BL_Y] = px[p], py[p]
        row[C.BL_SCORE] = score(s, b, u, p)
        row[C.BL_HP], row[C.BL_HPMAX] = hp[p], maxhp[p]
        row[C.BL_DEPTH] = row[C.BL_DLEVEL] = depth[b]
        row[C.BL_GOLD] = gold[p]
        row[C.BL_XP], row[C.BL_EXP] = xlvl[p], xp[p]
        row[C.BL_TIME] = time[b]
        row[C.BL_HUNGER] = hunger[p]
        row[C.BL_CONDITION] = C.BL_MASK_HALLU if hallu[p] > 0 else 0


@njit
def draw_batch(s, envs, u, seats, company, monsters, maps, crops, tty_chars, tty_colors, blstats, cursor,
               out_message, out_inventory, start, stop):
    """The observations of adventurers ``u[seats[start:stop]]`` on levels ``s[envs[start:stop]]`` (the single
    player's game passes one state and the same indices twice) into rows ``start:stop`` of the outputs that
    have rows (the others are empty): ``maps`` (glyphs, chars, colors, specials) and ``crops`` (the same four
    around the player), the tty, blstats, the cursor, the message and ``out_inventory`` (the four inventory
    keys); ``company`` (rows, other adventurers) holds the squares of each seat's companions (a party), or has
    no rows. One loop over the seats per key, each state field read once (a per-env call taking two dozen
    arrays cost more in reference counting than the drawing)."""
    glyphs, chars, colors, specials = maps
    n = envs.size
    width = C.MAX_MONSTERS + 1 + (company.shape[1] if company.shape[0] else 0)
    where, shown = np.empty((n, width), np.int64), np.empty((n, width), np.int64)
    count = np.empty(n, np.int64)
    if (glyphs.shape[0] or chars.shape[0] or colors.shape[0] or specials.shape[0] or tty_chars.shape[0]
            or tty_colors.shape[0] or crops[0].shape[0] or crops[1].shape[0] or crops[2].shape[0]
            or crops[3].shape[0]):
        _creatures(s, envs, u, seats, company, monsters, where, shown, count, start, stop)
    if glyphs.shape[0]:
        _layers(glyphs, 0, u.mem_glyph, seats, where, shown, count, _IDENTITY, start, stop)
    if chars.shape[0]:
        _layers(chars, 0, u.mem_char, seats, where, shown, count, C.GLYPH_CHAR, start, stop)
    if colors.shape[0]:
        _layers(colors, 0, u.mem_color, seats, where, shown, count, C.GLYPH_COLOR, start, stop)
    if specials.shape[0]:
        _layers(specials, 0, u.mem_special, seats, where, shown, count, C.GLYPH_SPECIAL, start, stop)
    if tty_chars.shape[0]:
        _layers(tty_chars, 1, u.mem_char, seats, where, shown, count, C.GLYPH_CHAR, start, stop)
    if tty_colors.shape[0]:
        _layers(tty_colors, 1, u.mem_color, seats, where, shown, count, C.GLYPH_COLOR, start, stop)
    if crops[0].shape[0] or crops[1].shape[0] or crops[2].shape[0] or crops[3].shape[0]:
        _crops(crops[0], crops[1], crops[2], crops[3], u, seats, where, shown, count, start, stop)
    if blstats.shape[0]:
        _blstats(blstats, s, envs, u, seats, start, stop)
    if cursor.shape[0]:
        py, px = u.py, u.px
        for i in range(start, stop):
            cursor[i, 0], cursor[i, 1] = py[seats[i]] + 1, px[seats[i]]
    if out_message.shape[0] or tty_chars.shape[0] or tty_colors.shape[0]:
        messages = out_message if out_message.shape[0] else np.empty((n, C.MESSAGE_LEN), np.uint8)
        codes, args, numbers, letters = u.msg_code, u.msg_arg, u.msg_num, u.msg_letter
        for i in range(start, stop):
            p = seats[i]
            compose_message(messages[i], codes[p], args[p], numbers[p], letters[p])
        _tty_text(tty_chars, tty_colors, messages, s, envs, u, seats, start, stop)
    inv_glyphs, inv_letters, inv_oclasses, inv_strs = out_inventory
    if inv_glyphs.shape[0] or inv_letters.shape[0] or inv_oclasses.shape[0] or inv_strs.shape[0]:
        scratch16 = np.empty(C.INV_SIZE, np.int16)
        scratch8 = np.empty((3, C.INV_SIZE), np.uint8)  # the keys not asked for are composed here and dropped
        scratch_strs = np.empty((C.INV_SIZE, C.INV_STR_LEN), np.uint8)
        counts, letters, gold = u.inv_count, u.inv_letter, u.gold
        for i in range(start, stop):
            b = seats[i]
            compose_inventory(inv_glyphs[i] if inv_glyphs.shape[0] else scratch16,
                              inv_letters[i] if inv_letters.shape[0] else scratch8[0],
                              inv_oclasses[i] if inv_oclasses.shape[0] else scratch8[1],
                              inv_strs[i] if inv_strs.shape[0] else scratch_strs, counts[b], letters[b], gold[b])
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
_LINE1, _LINE2, _TITLES = _TABLES["line1"], _TABLES["line2"], _TABLES["titles"]  # (offset, length) rows
_HUNGER, _HALLU = _TABLES["hunger"], _TABLES["hallu"]
_INV_OFF, _INV_LEN, _INV_NUMBER, _DASH = _TABLES["inv_off"], _TABLES["inv_len"], _TABLES["inv_number"], _TABLES["dash"]
_LETTER_RANK = M.LETTER_RANK
_IDENTITY = np.arange(C.MAX_GLYPH + 1, dtype=np.int16)
cache_guard(__file__, _INV_OFF, _INV_LEN, _INV_NUMBER, _DASH, _LETTER_RANK, C.ITEM_CLASS, C.NO_GLYPH,
            C.MAXOCLASSES, C.GLYPH_OBJ_OFF, _BLSTATS, _IDENTITY, _LINE1, _LINE2, _TITLES, _HUNGER, _HALLU, _POOL,
            _MSG_OFF, _MSG_LEN, _MSG_LETTER, _MSG_NUMBER, _SEP_OFF, _SEP_LEN, M.N_ARGS, C.GLYPH_CHAR, C.GLYPH_COLOR,
            C.GLYPH_SPECIAL, C.GLYPH_PLAYER, C.GLYPH_STONE, C.MAX_MONSTERS, C.BL_MASK_HALLU, C.START_ENERGY,
            C.PLAYER_AC)


# The outputs of draw_batch in its argument order: (key, shape after the env axis, dtype, stand-in when not asked).
_GRID, _TTY = (C.ROWS, C.COLS), (C.TTY_ROWS, C.TTY_COLS)
_OUTPUTS = (("glyphs", _GRID, np.int16), ("chars", _GRID, np.uint8), ("colors", _GRID, np.uint8),
            ("specials", _GRID, np.uint8), ("glyphs_crop", None, np.int16), ("chars_crop", None, np.uint8),
            ("colors_crop", None, np.uint8), ("specials_crop", None, np.uint8), ("tty_chars", _TTY, np.uint8),
            ("tty_colors", _TTY, np.int8), ("blstats", (C.N_BLSTATS,), np.int64), ("tty_cursor", (2,), np.uint8),
            ("message", (C.MESSAGE_LEN,), np.uint8), ("inv_glyphs", (C.INV_SIZE,), np.int16),
            ("inv_letters", (C.INV_SIZE,), np.uint8), ("inv_oclasses", (C.INV_SIZE,), np.uint8),
            ("inv_strs", (C.INV_SIZE, C.INV_STR_LEN), np.uint8))
_POOL_FROM = 64  # smaller batches take fresh arrays (NumPy keeps small blocks; the pool's bookkeeping costs more)


@functools.lru_cache(maxsize=64)
def _plan(keys: tuple[str, ...], crop_size: int) -> tuple:
    """For each output of draw_batch: the key and its shape after the env axis, or None and a stand-in with no
    rows (an output nobody asked for costs nothing; the stand-in has the output's dtype and rank, so the kernel
    compiles once for every choice of keys)."""
    plan = []
    for key, shape, dtype in _OUTPUTS:
        shape = (crop_size, crop_size) if shape is None else shape
        plan.append((key, shape, dtype) if key in keys else (None, np.zeros((0,) * (1 + len(shape)), dtype), None))
    return tuple(plan)


_NO_COMPANY = np.zeros((0, 0), np.int64)


def observe(core, b, keys) -> dict[str, np.ndarray]:
    """The observation ``keys`` of envs ``b`` (global indices, or None for all), each with a leading env axis."""
    idx = core.all_envs if b is None else np.asarray(b, np.int64).reshape(-1)
    if b is not None and idx.size and (idx.min() < 0 or idx.max() >= core.num_envs):  # the kernels do not check bounds
        raise IndexError(f"env indices must lie in [0, {core.num_envs}), got {idx}")
    return draw(core, core.kernel_state, idx, core.kernel_state, idx, _NO_COMPANY, core.monsters, keys,
                core.crop_size)


def draw(owner, levels, envs, adventurers, seats, company, monsters, keys, crop_size) -> dict[str, np.ndarray]:
    """The observation ``keys`` of adventurers ``seats`` on levels ``envs`` (checked indices of the kernel states
    ``adventurers`` and ``levels``), each with a leading axis; ``company`` as :func:`draw_batch` takes it. Large
    batches draw into ``owner``'s :class:`OutputPool`."""
    keys = tuple(keys)
    n = envs.size
    pool = _pool(owner) if n >= _POOL_FROM else None
    out = {}
    arrays = []
    for key, shape, dtype in _plan(keys, crop_size):
        if key is None:
            arrays.append(shape)  # the stand-in of an output nobody asked for
            continue
        array = pool.get(key, (n, *shape), dtype) if pool is not None else np.empty((n, *shape), dtype)
        out[key] = array
        arrays.append(array)
    split(draw_batch, n, levels, envs, adventurers, seats, company, monsters, tuple(arrays[0:4]), tuple(arrays[4:8]),
          arrays[8], arrays[9], arrays[10], arrays[11], arrays[12], tuple(arrays[13:17]))
    return out if len(out) == len(keys) and tuple(out) == keys else {k: out[k] for k in keys}
