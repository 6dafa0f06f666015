"""The dungeon in words, for LLM agents and for people: what the player sees as text, commands by name.

``describe`` gives the message line, the map as the terminal shows it, the two status lines,
what is in sight (monsters, items, stairs, fountains and doors, nearest first, with the steps
to reach them) and the inventory. Everything comes from what the player is shown — the
map memory and the monsters in view — never from hidden state.

``parse`` reads one command: a name ("north", "go northeast", "pick up", "descend", "eat"),
an action name of the env ("NE", "PICKUP") or a NetHack keystroke ("k", "y", ",", ">");
``<answer>...</answer>`` tags are honoured. Single lowercase letters are NetHack's keys, so
``n`` moves southeast as in NetHack, while ``N``/``E``/``S``/``W`` are compass names.
"""

from __future__ import annotations


import numpy as np

from rewardgym.envs.dungeon import content as C
from rewardgym.envs.dungeon import messages as M
from rewardgym.envs.language import InvalidCommand, answer_in

# Words for each command (lowercase, spaces collapsed); the action names and keys are added below.
_WORDS: dict[str, tuple[str, ...]] = {
    "N": ("north",), "E": ("east",), "S": ("south",), "W": ("west",),
    "NE": ("northeast", "north east", "north-east"), "SE": ("southeast", "south east", "south-east"),
    "SW": ("southwest", "south west", "south-west"), "NW": ("northwest", "north west", "north-west"),
    "UP": ("up", "upstairs", "climb", "climb up", "ascend", "up the stairs", "climb the stairs", "go upstairs"),
    "DOWN": ("down", "downstairs", "descend", "down the stairs", "descend the stairs", "go downstairs"),
    "WAIT": ("wait", "rest", "stay", "do nothing"),
    "SEARCH": ("search", "search around"),
    "PICKUP": ("pick up", "pickup", "pick", "take", "get", "pick it up", "take it", "grab"),
    "EAT": ("eat", "eat food", "eat it"),
    "QUAFF": ("quaff", "drink", "drink a potion", "quaff a potion"),
    "READ": ("read", "read a scroll", "read the scroll"),
    "LOOK": ("look", "look here", "look around"),
}
_MOVE_VERBS = ("go ", "move ", "walk ", "head ", "step ", "run ")
_KEYS = {a.key: a.name for a in C.ACTIONS}  # NetHack keystrokes, case-sensitive
_LOOKUP = {word: name for name, words in _WORDS.items() for word in words}
_LOOKUP.update({name.lower(): name for name in C.ACTION_INDEX if len(name) > 1})


def command_name(text: str) -> str:
    """The action name (``"NE"``, ``"PICKUP"``, ...) that ``text`` names; raises :class:`InvalidCommand`."""
    if not isinstance(text, str):
        raise InvalidCommand(f"Expected text, got {type(text).__name__}.")
    answer = answer_in(text)
    raw = (text if answer is None else answer).strip()
    if len(raw) == 1:
        if raw in _KEYS:
            return _KEYS[raw]
        if raw in "NESW":
            return raw
    words = " ".join(raw.lower().split()).rstrip(".!")
    if words.startswith(_MOVE_VERBS) and words.split(" ", 1)[1] in _LOOKUP:
        words = words.split(" ", 1)[1]
    if words in _LOOKUP:
        return _LOOKUP[words]
    shown = raw if len(raw) <= 60 else raw[:57] + "..."
    raise InvalidCommand(f"I don't understand {shown!r}.")


def _steps(dy: int, dx: int) -> str:
    parts = [f"{abs(dy)} {'north' if dy < 0 else 'south'}" if dy else "",
             f"{abs(dx)} {'west' if dx < 0 else 'east'}" if dx else ""]
    return ", ".join(p for p in parts if p) or "here"


class DungeonText:
    """The :class:`~rewardgym.envs.language.TextAdapter` of env ``index`` of a dungeon core."""

    max_sights = 12  # things listed under "In sight", nearest first

    def __init__(self, core, index: int = 0):
        self.core, self.index = core, index
        self.commands = {name: i for i, name in enumerate(core.action_names)}

    def instruction(self) -> str:
        names = [_WORDS[n][0] for n in self.core.action_names]
        return (f"You play a NetHack-like dungeon game as the @. {self.core.instruction}\n"
                f"Each turn, answer with one command: {', '.join(names)}. NetHack's keys also work "
                f"(h j k l y u b n to move, < > to climb or descend, , to pick up).")

    def describe(self, obs=None, info=None) -> str:
        from rewardgym.envs.dungeon.display import observe

        core, i = self.core, self.index
        s = core.state
        view = observe(core, np.array([i]), ("tty_chars", "glyphs"))
        tty, glyphs = view["tty_chars"][0], view["glyphs"][0]
        rows = [bytes(r).decode("latin-1").rstrip() for r in tty[1:1 + C.ROWS]]
        while rows and not rows[-1]:
            rows.pop()
        while rows and not rows[0]:
            rows.pop(0)
        margin = min((len(r) - len(r.lstrip(" ")) for r in rows if r), default=0)
        rows = [r[margin:] for r in rows]  # the map's blank left margin costs tokens and says nothing
        status = [bytes(r).decode("latin-1").rstrip() for r in tty[22:24]]
        counts, letters = s.inv_count[i].copy(), s.inv_letter[i].copy()
        counts[C.GOLD], letters[C.GOLD] = s.gold[i], ord("$")
        inventory = [line for _, line in M.inventory_lines(counts, letters)]
        sights = self._sights(glyphs, int(s.py[i]), int(s.px[i]))
        parts = [f"Message: {core.message(i) or '(none)'}", "", "Map:", *rows, "", *status, "",
                 "In sight: " + ("; ".join(sights) if sights else "nothing of note") + ".",
                 "Inventory: " + "; ".join(inventory) + "."]
        return "\n".join(parts)

    def _sights(self, glyphs: np.ndarray, py: int, px: int) -> list[str]:
        """Notable glyphs on the shown map, nearest first: "a jackal (d) 1 north, 2 east"."""
        notable = (glyphs < C.GLYPH_CMAP_OFF) | np.isin(glyphs, _NOTABLE_TERRAIN)
        notable[py, px] = False
        ys, xs = np.nonzero(notable)
        order = np.argsort(np.maximum(np.abs(ys - py), np.abs(xs - px)), kind="stable")[: self.max_sights]
        out = []
        for y, x in zip(ys[order], xs[order]):
            g = int(glyphs[y, x])
            out.append(f"{_glyph_phrase(g)} ({chr(C.GLYPH_CHAR[g])}) {_steps(int(y) - py, int(x) - px)}")
        return out

    def parse(self, text: str) -> int:
        available = ", ".join(_WORDS[n][0] for n in self.core.action_names)
        try:
            name = command_name(text)
        except InvalidCommand as feedback:
            raise InvalidCommand(f"{feedback} The commands are: {available}.") from None
        if name not in self.commands:
            raise InvalidCommand(f"You can't {_WORDS[name][0]} in this game. The commands are: {available}.")
        return self.commands[name]


_NOTABLE_TERRAIN = np.array([C.GLYPH_CMAP_OFF + t for t in (C.STAIRS_UP, C.STAIRS_DOWN, C.FOUNTAIN, C.CLOSED_DOOR_V,
                                                            C.CLOSED_DOOR_H, C.OPEN_DOOR_V, C.OPEN_DOOR_H)])


def _glyph_phrase(glyph: int) -> str:
    name = C.GLYPH_NAMES[glyph]
    if glyph < C.GLYPH_OBJ_OFF:
        return f"the {name}" if name[0].isupper() else f"an {name}" if name[0] in "aeiou" else f"a {name}"
    if glyph < C.GLYPH_CMAP_OFF:
        kind = glyph - C.GLYPH_OBJ_OFF
        return "gold" if kind == C.GOLD else M.item_text(kind, 1)
    return f"a {name}"
