"""Messages as codes, their strings, and the byte tables the compiled display composes them from.

The core never formats a string while it steps. An event pushes a message *code* with up to
three arguments — a name (a monster, or an item and whether it is plural), a number (gold
pieces, a level) and an inventory letter — into the env's message slots. :func:`tables` packs
every template's pieces, the status lines' labels, the rank titles and the items' names into
one byte pool with (offset, length) tables; the display's kernels compose the ``message``
observation, the tty's status lines and the inventory keys from them for every env, each
step. The ``*_text`` and ``*_line`` functions give the same texts as Python strings (for the
language interface and the tests, which check that both give the same bytes).

``TEMPLATES`` is the table of strings, in NetHack's voice; ``{mon}`` is a monster's name,
``{thing}`` an item ("a food ration", "7 gold pieces"), ``{n}`` a number and ``{L}`` an
inventory letter. :func:`message_text` turns codes back into a Python string (for the
language interface and tests).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from rewardgym.envs.dungeon.content import INVENTORY_LETTERS, ITEMS, MONSTERS, N_ITEMS, N_MONSTERS, RANK_TITLES, STATS

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
_HUNGER_TEXT = [" Satiated", "", " Hungry", " Weak", " Fainting", " Fainted", " Starved"]


@lru_cache(maxsize=1)
def _titles() -> list[str]:
    """The rank title of every experience level 1..30 (index 0 unused)."""
    titles = ["Wanderer"]
    for level in range(1, 31):
        titles.append([name for first, name in RANK_TITLES if first <= level][-1])
    return titles


def message_text(code, arg, number, letter) -> str:
    """The message line of one env (1-D slot arrays) as a Python string."""
    return message_line(code, arg, number, letter)


LETTER_RANK = np.full(256, 99, np.int64)  # inventory order: gold ($), then a-z, then A-Z
LETTER_RANK[ord("$")] = 0
LETTER_RANK[np.frombuffer(INVENTORY_LETTERS, np.uint8)] = 1 + np.arange(len(INVENTORY_LETTERS))


# -- the same texts as Python strings -------------------------------------------------------------------
# For the language interface and the messages' text; the display's kernels compose the same bytes
# from tables() (the tests compare them).

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
    held = [(int(LETTER_RANK[int(letters[k])]), k) for k in range(len(counts)) if counts[k] > 0]
    return [(k, f"{chr(int(letters[k]))} - {item_text(k, int(counts[k]))}") for _, k in sorted(held)]
