"""Free text -> :class:`Command`: verbs with synonyms, articles dropped, prepositions split.

The parser knows words, not the world: it returns the verb and the words that name the
object(s); :mod:`~rewardgym.envs.textworlds.rules` resolves those words against what the
player can see. Anything it cannot read comes back as a feedback string, never an exception.
Parsing is a lowercase, a ``str.translate`` that turns punctuation into spaces, a split and a
few dictionary look-ups — no regular expressions on the step path.
"""

from __future__ import annotations

from typing import NamedTuple

from rewardgym._text import words_of

DONT_UNDERSTAND = "I don't understand that."
PARDON = "I beg your pardon?"
MAX_CHARS = 500  # longer input is not a command anyone typed; it is refused without reading it all


class Command(NamedTuple):
    verb: str  # look, inventory, examine, go, take, drop, put, open, close, unlock, lock, eat, read,
    #            cut, cook, treat, prepare, help, score
    obj: tuple[str, ...] = ()  # the words naming the direct object
    other: tuple[str, ...] = ()  # the words after the preposition ("in the fridge", "with the knife")
    how: str = ""  # go: a direction; cut: sliced/diced/chopped; cook: fried/roasted/grilled; treat: clean/heat/cool


DIRECTIONS = {"n": "north", "s": "south", "e": "east", "w": "west",
              "north": "north", "south": "south", "east": "east", "west": "west"}

# word -> (verb, how)
VERBS: dict[str, tuple[str, str]] = {
    "look": ("look", ""), "l": ("look", ""),
    "inventory": ("inventory", ""), "i": ("inventory", ""), "inv": ("inventory", ""),
    "examine": ("examine", ""), "x": ("examine", ""), "inspect": ("examine", ""), "check": ("examine", ""),
    "describe": ("examine", ""),
    "go": ("go", ""), "walk": ("go", ""), "run": ("go", ""), "head": ("go", ""), "move": ("go", ""),
    "take": ("take", ""), "get": ("take", ""), "grab": ("take", ""), "pick": ("take", ""), "collect": ("take", ""),
    "drop": ("drop", ""), "discard": ("drop", ""),
    "put": ("put", ""), "place": ("put", ""), "insert": ("put", ""), "set": ("put", ""),
    "open": ("open", ""), "close": ("close", ""), "shut": ("close", ""),
    "unlock": ("unlock", ""), "lock": ("lock", ""),
    "eat": ("eat", ""), "consume": ("eat", ""),
    "read": ("read", ""),
    "slice": ("cut", "sliced"), "dice": ("cut", "diced"), "chop": ("cut", "chopped"), "cut": ("cut", ""),
    "cook": ("cook", ""), "fry": ("cook", "fried"), "roast": ("cook", "roasted"), "bake": ("cook", "roasted"),
    "grill": ("cook", "grilled"), "barbecue": ("cook", "grilled"),
    "clean": ("treat", "clean"), "wash": ("treat", "clean"), "rinse": ("treat", "clean"),
    "heat": ("treat", "heat"), "warm": ("treat", "heat"), "microwave": ("treat", "heat"),
    "cool": ("treat", "cool"), "chill": ("treat", "cool"), "refrigerate": ("treat", "cool"),
    "prepare": ("prepare", ""), "make": ("prepare", ""),
    "help": ("help", ""), "score": ("score", ""),
}

# The prepositions that separate the two objects of a verb.
PREPOSITIONS: dict[str, frozenset[str]] = {
    "take": frozenset({"from", "off", "out"}),
    "put": frozenset({"in", "into", "inside", "on", "onto", "upon"}),
    "unlock": frozenset({"with", "using"}), "lock": frozenset({"with", "using"}),
    "cut": frozenset({"with", "using"}),
    "cook": frozenset({"with", "on", "in", "using"}),
    "treat": frozenset({"with", "in", "at", "using"}),
}
NO_OBJECT = frozenset({"look", "inventory", "help", "score"})

def parse(text: object) -> Command | str:
    """The command ``text`` gives, or a feedback string saying why there is none."""
    if not isinstance(text, str):
        return DONT_UNDERSTAND
    if len(text) > MAX_CHARS:
        return DONT_UNDERSTAND
    words = words_of(text)
    if not words:
        return PARDON
    first, rest = words[0], words[1:]
    if first in DIRECTIONS:
        return Command("go", how=DIRECTIONS[first]) if not rest else DONT_UNDERSTAND
    if first not in VERBS:
        return DONT_UNDERSTAND
    verb, how = VERBS[first]

    # Two-word verbs and particles: "look at", "pick up", "pick X up", "put down", "go to".
    if verb == "look" and rest and rest[0] in ("at", "in", "inside", "into"):
        verb, rest = "examine", rest[1:]
    elif verb == "take" and rest and rest[0] == "up":
        rest = rest[1:]
    elif verb == "take" and first == "pick" and rest and rest[-1] == "up":
        rest = rest[:-1]
    elif verb == "put" and rest and (rest[0] == "down" or rest[-1] == "down"):
        verb, rest = "drop", [w for w in rest if w != "down"]
    if verb == "examine" and rest in (["room"], ["around"]):
        return Command("look")

    if verb in NO_OBJECT:
        return Command(verb) if not rest else DONT_UNDERSTAND
    if verb == "go":
        if rest and rest[0] == "to":
            rest = rest[1:]
        if len(rest) == 1 and rest[0] in DIRECTIONS:
            return Command("go", how=DIRECTIONS[rest[0]])
        # "go to the pantry": the rules look for an exit to a room of that name
        return Command("go", obj=tuple(rest)) if rest else "Where do you want to go?"
    if verb == "prepare":
        return Command("prepare") if rest == ["meal"] else "You can only prepare the meal."
    if not rest:
        return f"What do you want to {first}?"

    obj, other = rest, []
    preps = PREPOSITIONS.get(verb)
    if preps:
        for k, w in enumerate(rest):
            if w in preps:
                obj, other = rest[:k], rest[k + 1:]
                if other and other[0] == "of":  # "take X out of Y"
                    other = other[1:]
                if not other:
                    return f"What do you want to {first} it {w}?"
                break
    if not obj:
        return f"What do you want to {first}?"
    return Command(verb, tuple(obj), tuple(other), how)
