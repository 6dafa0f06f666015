"""Messages as codes, their strings, and the byte tables the compiled display composes them from.

The core never formats a string while it steps. An event pushes a message *code* with up to
three arguments — a name (a monster, or an item and whether it is plural), a number (gold
pieces, a level) and an inventory letter — into the env's message slots. :func:`tables` packs
every template's pieces, the status lines' labels and the rank titles into one byte pool with
(offset, length) tables; the display's kernels compose the ``message`` observation and the
tty's status lines from them for every env, each step. The inventory strings, which change on
few steps, are rendered here (:func:`inventory` for many envs in a handful of NumPy calls,
``inventory_few`` with plain strings for a few) and cached by the display. The ``*_text``
and ``*_line`` functions give the same texts as Python strings; the tests check that every
path gives the same bytes.

``TEMPLATES`` is the table of strings, in NetHack's voice; ``{mon}`` is a monster's name,
``{thing}`` an item ("a food ration", "7 gold pieces"), ``{n}`` a number and ``{L}`` an
inventory letter. :func:`message_text` turns codes back into a Python string (for the
language interface and tests).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from rewardgym.envs.dungeon.content import ITEMS, MONSTERS, N_ITEMS, N_MONSTERS, RANK_TITLES, STATS

TEMPLATES: list[str] = [
    "",
    "Hello Agent, welcome to the dungeon!  You are a neutral human Adventurer.",
    "You see here {thing}.",
    "$ - {thing}.",
    "{L} - {thing}.",
    "There is nothing here to pick up.",
    "You kill the {mon}!",
    "You hit the {mon}.",
    "You miss the {mon}.",
    "The {mon} {attack}",
    "The {mon} misses!",
    "You die...",
    "Welcome to experience level {n}.",
    "You are beginning to feel hungry.",
    "You are beginning to feel weak.",
    "You faint from lack of food.",
    "You die from starvation.",
    "This food really hits the spot!",
    "Delicious!  Must be a Macintosh!",
    "This {mon} corpse tastes terrible!",
    "Oh wow!  Great stuff!",
    "You're having a hard time getting all of it down.",
    "You don't have anything to eat.",
    "You feel better.",
    "Oh wow!  Everything looks so cosmic!",
    "You don't have anything to drink.",
    "A map coalesces in your mind!",
    "Your position suddenly seems very uncertain!",
    "You don't have anything to read.",
    "Everything looks SO boring now.",
    "You descend the stairs.",
    "You climb up the stairs.",
    "You can't go down here.",
    "You can't go up here.",
    "The stairs up lead out of the dungeon; you cannot leave without the Amulet.",
    "It's a wall.",
    "It's solid stone.",
    "You can't move diagonally into an intact doorway.",
    "You can't move diagonally out of an intact doorway.",
    "The door opens.",
    "The door is stuck.",
    "You stop.  The {mon} is in your way.",
    "You see no objects here.",
    "There is a staircase down here.",
    "There is a staircase up here.",
    "There is a fountain here.",
    "There is an open door here.",
    "There is a doorway here.",
    "You hear a strange wind.",
    "You hear convulsive ravings.",
    "You hear snoring snakes.",
    "You are still very hungry.",
]
(M_NONE, M_HELLO, M_SEE_HERE, M_PICK_GOLD, M_PICK_ITEM, M_NOTHING_TO_PICK, M_KILL, M_HIT, M_MISS, M_MON_HITS,
 M_MON_MISSES, M_DIE, M_LEVEL_UP, M_HUNGRY, M_WEAK, M_FAINT, M_STARVE, M_EAT_RATION, M_EAT_APPLE, M_EAT_CORPSE,
 M_GREAT_STUFF, M_HARD_TIME, M_NO_EAT, M_FEEL_BETTER, M_COSMIC, M_NO_DRINK, M_MAGIC_MAP, M_TELEPORT, M_NO_READ,
 M_HALLU_END, M_DESCEND, M_CLIMB, M_NO_DOWN, M_NO_UP, M_NO_LEAVING, M_WALL, M_STONE, M_DIAG_IN, M_DIAG_OUT,
 M_DOOR_OPENS, M_DOOR_STUCK, M_IN_YOUR_WAY, M_NO_OBJECTS, M_HERE_DOWNSTAIRS, M_HERE_UPSTAIRS, M_HERE_FOUNTAIN,
 M_HERE_OPEN_DOOR, M_HERE_DOORWAY, M_SOUND_WIND, M_SOUND_RAVINGS, M_SOUND_SNAKES,
 M_STILL_HUNGRY) = range(len(TEMPLATES))
N_CODES = len(TEMPLATES)
N_ARGS = max(N_MONSTERS, 2 * N_ITEMS)
"""A message's name argument: a monster index, or ``2 * item + plural`` for item messages."""


def item_arg(kind: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The name argument of an item message: the item kind and whether the count is plural."""
    return 2 * np.asarray(kind, np.int64) + (np.asarray(count) != 1)


def _fill(template: str, arg: int) -> str:
    text = template
    if "{mon}" in text or "{attack}" in text:
        monster = MONSTERS[arg] if arg < N_MONSTERS else MONSTERS[0]
        text = text.replace("{mon}", monster.name).replace("{attack}", monster.attack)
    if "{thing}" in text:
        kind, plural = divmod(arg, 2)
        item = ITEMS[kind] if kind < N_ITEMS else ITEMS[0]
        text = text.replace("{thing}", item.plural if plural else item.singular)
    return text


def _split(text: str) -> tuple[str, str, str]:
    """Cut a message at its letter and number fields: (before {L}, between, after {n})."""
    head, _, rest = text.partition("{L}") if "{L}" in text else ("", "", text)
    mid, _, tail = rest.partition("{n}") if "{n}" in rest else (rest, "", "")
    return head, mid, tail


class TextPool:
    """Constant strings packed into one byte array; a string is an (offset, length) into it."""

    def __init__(self):
        self._index: dict[str, int] = {}
        self._parts: list[bytes] = []
        self._size = 0
        for code in range(256):  # single characters first, so a byte b sits at offset b
            self.add(chr(code))

    def add(self, text: str) -> tuple[int, int]:
        data = text.encode("latin-1")
        if text not in self._index:
            self._index[text] = self._size
            self._parts.append(data)
            self._size += len(data)
        return self._index[text], len(data)

    def freeze(self) -> np.ndarray:
        return np.frombuffer(b"".join(self._parts), np.uint8).copy()


@lru_cache(maxsize=1)
def tables() -> dict[str, np.ndarray]:
    """The byte pool and the (offset, length) tables of every message part, built once per process."""
    pool = TextPool()
    off = np.zeros((3, N_CODES, N_ARGS), np.int64)
    length = np.zeros((3, N_CODES, N_ARGS), np.int64)
    has_letter = np.zeros((N_CODES, N_ARGS), bool)
    has_number = np.zeros((N_CODES, N_ARGS), bool)
    for code, template in enumerate(TEMPLATES):
        for arg in range(N_ARGS):
            text = _fill(template, arg)
            has_letter[code, arg] = "{L}" in text
            has_number[code, arg] = "{n}" in text
            for part, piece in enumerate(_split(text)):
                off[part, code, arg], length[part, code, arg] = pool.add(piece)
    out = {"msg_off": off, "msg_len": length, "msg_letter": has_letter, "msg_number": has_number}
    # Item lines of the inventory: "a food ration" / "2 food rations" cut at the number.
    inv_off = np.zeros((2, N_ITEMS, 2), np.int64)
    inv_len = np.zeros((2, N_ITEMS, 2), np.int64)
    inv_number = np.zeros((N_ITEMS, 2), bool)
    for kind, item in enumerate(ITEMS):
        for plural, text in enumerate((item.singular, item.plural)):
            head, _, tail = text.partition("{n}") if "{n}" in text else (text, "", "")
            inv_number[kind, plural] = "{n}" in text
            inv_off[0, kind, plural], inv_len[0, kind, plural] = pool.add(head)
            inv_off[1, kind, plural], inv_len[1, kind, plural] = pool.add(tail)
    out.update(inv_off=inv_off, inv_len=inv_len, inv_number=inv_number)
    out["sep"] = np.array(pool.add("  "))
    out["dash"] = np.array(pool.add(" - "))
    # Status lines: the constant pieces between the numbers, the rank titles and the conditions.
    out["line1"] = np.array([pool.add(text) for text in _LINE1])
    out["line2"] = np.array([pool.add(text) for text in _LINE2])
    out["titles"] = np.array([pool.add(f"{'Agent the ' + title:<30}") for title in _titles()])
    out["hunger"] = np.array([pool.add(text) for text in _HUNGER_TEXT])
    out["hallu"] = np.array(pool.add(" Hallu"))
    out["pool"] = pool.freeze()
    return out


_LINE1 = [" St:{strength} Dx:{dexterity} Co:{constitution} In:{intelligence} Wi:{wisdom} Ch:{charisma} Neutral S:"
          .format(**STATS)]
_LINE2 = ["Dlvl:", " $:", " HP:", "(", ") Pw:", "(", ") AC:", " Xp:", "/", " T:"]
TURN_LABEL = _LINE2[-1]  # the turn counter's label, the start of the status tail
_HUNGER_TEXT = [" Satiated", "", " Hungry", " Weak", " Fainting", " Fainted", " Starved"]


@lru_cache(maxsize=1)
def _titles() -> list[str]:
    """The rank title of every experience level 1..30 (index 0 unused)."""
    titles = ["Wanderer"]
    for level in range(1, 31):
        titles.append([name for first, name in RANK_TITLES if first <= level][-1])
    return titles


# -- vectorised text -----------------------------------------------------------------------------------
_POW10 = 10 ** np.arange(19, dtype=np.int64)
POW10 = _POW10
_WIDTH = 10  # digits of the widest number shown
_J = np.arange(_WIDTH)


def render_numbers(values: np.ndarray, pool_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decimal digits of non-negative ints as a byte array to append to the pool.

    Returns ``(digits, offsets, lengths)``: ``digits`` is flat, and number ``i`` is
    ``digits[offsets[i] - pool_size:][:lengths[i]]``, so offsets index the pool + digits.
    """
    values = np.minimum(np.maximum(np.asarray(values, np.int64).ravel(), 0), _POW10[_WIDTH] - 1)
    ndig = np.maximum(np.searchsorted(_POW10[1:_WIDTH], values, side="right") + 1, 1)
    # Left-aligned digits: position j holds the digit of weight 10^(ndig-1-j).
    power = np.maximum(ndig[:, None] - 1 - _J, 0)
    digits = (values[:, None] // _POW10[power]) % 10 + ord("0")
    offsets = pool_size + np.arange(values.size) * _WIDTH
    return digits.astype(np.uint8).ravel(), offsets, ndig


def compose(n_rows: int, width: int, fill: int, rows: np.ndarray, offsets: np.ndarray, lengths: np.ndarray,
            pool: np.ndarray) -> np.ndarray:
    """Concatenate byte segments into ``n_rows`` lines of ``width`` bytes.

    Segment ``k`` copies ``pool[offsets[k]:offsets[k] + lengths[k]]`` to row ``rows[k]``,
    right after the previous segment of that row. Segments must be grouped by row, in
    order (``rows`` non-decreasing). Text past ``width`` is cut; the rest is ``fill``.
    """
    out = np.full((n_rows, width), fill, np.uint8)
    lengths = np.asarray(lengths, np.int64)
    total = int(lengths.sum())
    if total == 0:
        return out
    ends = np.cumsum(lengths)
    starts = ends - lengths  # global start of each segment in the concatenated stream
    first = np.ones(rows.shape, bool)
    first[1:] = rows[1:] != rows[:-1]
    row_base = np.maximum.accumulate(np.where(first, starts, 0))  # stream offset where each row begins
    seg = np.repeat(np.arange(lengths.size), lengths)
    within = np.arange(total) - starts[seg]
    col = starts[seg] - row_base[seg] + within
    keep = col < width
    out[rows[seg][keep], col[keep]] = pool[offsets[seg][keep] + within[keep]]
    return out


def message_text(code, arg, number, letter) -> str:
    """The message line of one env (1-D slot arrays) as a Python string."""
    return message_line(code, arg, number, letter)


_LETTER_RANK = np.full(256, 99, np.int64)
_LETTER_RANK[ord("$")] = 0
for _i, _c in enumerate("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"):
    _LETTER_RANK[ord(_c)] = 1 + _i


def inventory(counts: np.ndarray, letters: np.ndarray, slots: int, width: int) -> dict[str, np.ndarray]:
    """NLE's inventory observations from per-kind counts and letters, listed in letter order.

    Returns ``inv_glyphs`` (int16, empty = NO_GLYPH), ``inv_letters``, ``inv_oclasses``
    (empty = MAXOCLASSES) and ``inv_strs`` (``slots`` x ``width`` null-padded lines such as
    ``c - 2 food rations``).
    """
    from rewardgym.envs.dungeon.content import GLYPH_OBJ_OFF, ITEM_CLASS, MAXOCLASSES, NO_GLYPH

    t = tables()
    n, kinds = counts.shape
    held = counts > 0
    rank = np.where(held, _LETTER_RANK[letters], 999)
    order = np.argsort(rank, axis=1, kind="stable")[:, :slots]
    rows = np.arange(n)[:, None]
    kind = order
    held_s = held[rows, order]
    count_s = counts[rows, order]
    letter_s = letters[rows, order]
    shown = min(slots, kinds)
    out = {
        "inv_glyphs": np.full((n, slots), NO_GLYPH, np.int16),
        "inv_letters": np.zeros((n, slots), np.uint8),
        "inv_oclasses": np.full((n, slots), MAXOCLASSES, np.uint8),
    }
    out["inv_glyphs"][:, :shown] = np.where(held_s, GLYPH_OBJ_OFF + kind, NO_GLYPH)
    out["inv_letters"][:, :shown] = np.where(held_s, letter_s, 0)
    out["inv_oclasses"][:, :shown] = np.where(held_s, ITEM_CLASS[kind], MAXOCLASSES)
    ei, li = np.nonzero(held_s)
    k, c, letter = kind[ei, li], count_s[ei, li], letter_s[ei, li].astype(np.int64)
    plural = (c != 1).astype(np.int64)
    digits, num_off, num_len = render_numbers(c, t["pool"].size)
    pool = np.concatenate([t["pool"], digits])
    offs = np.stack([letter, np.full(k.shape, t["dash"][0]), t["inv_off"][0][k, plural], num_off,
                     t["inv_off"][1][k, plural]], axis=1)
    lens = np.stack([np.ones(k.shape, np.int64), np.full(k.shape, t["dash"][1]), t["inv_len"][0][k, plural],
                     np.where(t["inv_number"][k, plural], num_len, 0), t["inv_len"][1][k, plural]], axis=1)
    strs = compose(n * slots, width, 0, np.repeat(ei * slots + li, 5), offs.ravel(), lens.ravel(), pool)
    out["inv_strs"] = strs.reshape(n, slots, width)
    return out


# -- the same text, one env at a time ------------------------------------------------------------------
# Composing bytes with NumPy pays off for many rows at once; for the few rows a single env
# (or a vector env on a quiet step) needs, plain string formatting is far cheaper. Both paths
# read the same tables and give the same bytes (the tests compare them).

def item_text(kind: int, count: int) -> str:
    item = ITEMS[kind]
    return (item.plural if count != 1 else item.singular).replace("{n}", str(count))


def message_line(code, arg, number, letter) -> str:
    """One env's message line from its message slots, as a string."""
    parts = []
    for c, a, n, letter_byte in zip(code, arg, number, letter):
        c = int(c)
        if c <= 0:
            continue
        text = _fill(TEMPLATES[c], min(max(int(a), 0), N_ARGS - 1))
        text = text.replace("{L}", chr(int(letter_byte))).replace("{n}", str(max(int(n), 0)))
        parts.append(text)
    return "  ".join(parts)


def status_text(xlvl, score, depth, gold, hp, maxhp, energy, max_energy, ac, xp, time, hunger,
                hallucinating) -> tuple[str, str]:
    """One env's two status lines, as strings."""
    line1, head = status_head_text(xlvl, score, depth, gold, hp, maxhp, energy, max_energy, ac, xp)
    return line1, head + status_tail_text(time, hunger, hallucinating)


def status_head_text(xlvl, score, depth, gold, hp, maxhp, energy, max_energy, ac, xp) -> tuple[str, str]:
    """One env's first status line and the head of its second (see :func:`status_head`), as strings."""
    title = _titles()[min(max(int(xlvl), 0), 30)]
    line1 = f"{'Agent the ' + title:<30}" + _LINE1[0] + str(max(int(score), 0))
    numbers = [max(int(v), 0) for v in (depth, gold, hp, maxhp, energy, max_energy, ac, xlvl, xp)]
    return line1, "".join(label + str(v) for label, v in zip(_LINE2, numbers))


def status_tail_text(time, hunger, hallucinating) -> str:
    hunger_text = _HUNGER_TEXT[min(max(int(hunger), 0), len(_HUNGER_TEXT) - 1)]
    return _LINE2[-1] + str(max(int(time), 0)) + hunger_text + (" Hallu" if hallucinating else "")


def inventory_lines(counts, letters) -> list[tuple[int, str]]:
    """One env's inventory as (kind, line) in letter order."""
    held = [(int(_LETTER_RANK[int(letters[k])]), k) for k in range(len(counts)) if counts[k] > 0]
    return [(k, f"{chr(int(letters[k]))} - {item_text(k, int(counts[k]))}") for _, k in sorted(held)]


def text_row(text: str, width: int, fill: int) -> np.ndarray:
    """``text`` as ``width`` bytes, cut or padded with ``fill``."""
    out = np.full(width, fill, np.uint8)
    data = np.frombuffer(text.encode("latin-1")[:width], np.uint8)
    out[:data.size] = data
    return out


def text_rows(texts, width: int, fill: int) -> np.ndarray:
    """Strings as a (len(texts), width) byte array, each cut or padded with ``fill`` (:func:`text_row` of each)."""
    pad = bytes([fill])
    data = b"".join(text.encode("latin-1")[:width].ljust(width, pad) for text in texts)
    return np.frombuffer(data, np.uint8).reshape(len(texts), width).copy()


def inventory_few(counts: np.ndarray, letters: np.ndarray, slots: int, width: int) -> dict[str, np.ndarray]:
    """:func:`inventory` for a few envs."""
    from rewardgym.envs.dungeon.content import GLYPH_OBJ_OFF, ITEM_CLASS, MAXOCLASSES, NO_GLYPH

    n = counts.shape[0]
    out = {"inv_glyphs": np.full((n, slots), NO_GLYPH, np.int16), "inv_letters": np.zeros((n, slots), np.uint8),
           "inv_oclasses": np.full((n, slots), MAXOCLASSES, np.uint8),
           "inv_strs": np.zeros((n, slots, width), np.uint8)}
    envs, places, kinds, lines = [], [], [], []
    for i, (count_row, letter_row) in enumerate(zip(np.asarray(counts).tolist(), np.asarray(letters).tolist())):
        for j, (kind, line) in enumerate(inventory_lines(count_row, letter_row)[:slots]):
            envs.append(i)
            places.append(j)
            kinds.append(kind)
            lines.append(line)
    if lines:
        i, j, kind = np.array(envs), np.array(places), np.array(kinds)
        out["inv_glyphs"][i, j] = GLYPH_OBJ_OFF + kind
        out["inv_letters"][i, j] = letters[i, kind]
        out["inv_oclasses"][i, j] = ITEM_CLASS[kind]
        out["inv_strs"][i, j] = text_rows(lines, width, 0)
    return out
