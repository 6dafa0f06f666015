"""The state of a text world: what is fixed for a game, what changes, and what the player can see.

A :class:`Game` is everything the generator decides once (rooms, exits, things, the quest, the
walkthrough); a :class:`State` is everything a command can change, kept as flat Python lists
indexed by thing id so that copying it (``get_state``, the planner) costs a few list copies.
:class:`World` pairs the two and answers the questions the rules, the parser and the
descriptions ask (what is in scope, what holds what), caching the answers until a rule changes
the state.

Locations are integers: ``0 .. len(rooms) - 1`` is a room's floor, ``len(rooms) + j`` is in or
on thing ``j``, :data:`INV` is the player's inventory, :data:`GONE` is out of play (eaten, or
mixed into the meal). Doors have no location: they belong to the two rooms they join.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

INV, GONE = -1, -2


@dataclass(frozen=True)
class Thing:
    """One object of the game, as the generator made it (fixed for the whole game)."""

    name: str  # unique in its game, e.g. "red potato"
    noun: str  # "potato"; the name's last words
    portable: bool = False
    container: bool = False  # things go in it
    supporter: bool = False  # things go on it
    openable: bool = False
    door: tuple[int, int] | None = None  # the two rooms a door joins
    key_of: int = -1  # the door or container this key unlocks
    edible: bool = False
    cuttable: bool = False
    cookable: bool = False
    sharp: bool = False  # cuts food (the knife)
    cooks: str = ""  # what cooking with this appliance does: "fried" (stove), "roasted" (oven), "grilled" (BBQ)
    treats: str = ""  # what this appliance does to a held thing: "clean" (sink), "heat" (microwave), "cool" (fridge)
    treatable: frozenset[str] = frozenset()  # which of clean/heat/cool apply to this thing
    text: str = ""  # what reading it shows
    words: frozenset[str] = field(default=frozenset(), compare=False)  # every word the player may name it by

    @property
    def article(self) -> str:
        return "an" if self.name[0] in "aeiou" else "a"

    @property
    def a_name(self) -> str:
        return f"{self.article} {self.name}"

    @property
    def prep(self) -> str:
        """The preposition things take with this receptacle: "in" a container, "on" a supporter."""
        return "in" if self.container else "on"


def make_thing(name: str, noun: str, **props: Any) -> Thing:
    return Thing(name=name, noun=noun, words=frozenset(name.lower().split()), **props)


@dataclass
class State:
    """Everything a command can change. Lists are indexed by thing id."""

    room: int
    loc: list[int]
    is_open: list[bool]
    locked: list[bool]
    cut: list[str]  # "" or "sliced" / "diced" / "chopped"
    cooked: list[str]  # "" or "fried" / "roasted" / "grilled" / "burned"
    clean: list[bool]
    temp: list[int]  # -1 cold, 0 as found, 1 hot
    done: set[str]  # the quest's subgoals already scored
    score: int = 0
    moves: int = 0
    won: bool = False
    lost: bool = False

    def copy(self) -> State:
        return State(self.room, list(self.loc), list(self.is_open), list(self.locked), list(self.cut),
                     list(self.cooked), list(self.clean), list(self.temp), set(self.done), self.score,
                     self.moves, self.won, self.lost)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Game:
    """One generated game: the map, the things, the quest and the commands that win it."""

    seed: int
    kind: str
    rooms: tuple[str, ...]
    exits: tuple[tuple[tuple[str, int, int], ...], ...]  # per room: (direction, room, door id or -1)
    things: tuple[Thing, ...]
    quest: Any  # a rewardgym.envs.textworlds.quests.Quest
    start: State = field(compare=False)
    walkthrough: tuple[str, ...] = ()

    @property
    def task(self) -> str:
        return self.quest.task

    @property
    def max_score(self) -> int:
        return self.quest.max_score

    def doors_of(self, room: int) -> list[int]:
        return [door for _, _, door in self.exits[room] if door >= 0]


class World:
    """A game being played: the fixed :class:`Game`, the current :class:`State`, and queries over them."""

    def __init__(self, game: Game, state: State | None = None):
        self.game = game
        self.things = game.things
        self.n_rooms = len(game.rooms)
        self.state = game.start.copy() if state is None else state
        self.key_for = {thing.key_of: i for i, thing in enumerate(game.things) if thing.key_of >= 0}
        self._index: dict[int, list[int]] | None = None
        self._scope: list[int] | None = None
        self.version = 0  # bumped by every change; the env caches admissible commands per version

    def changed(self) -> None:
        """Forget cached answers; every rule that moves or opens something calls this."""
        self._index = None
        self._scope = None
        self.version += 1

    # -- where things are ----------------------------------------------------------------
    def contents(self, where: int) -> list[int]:
        """Ids at location ``where`` (a room, INV, or ``n_rooms + holder``), in id order."""
        if self._index is None:
            index: dict[int, list[int]] = {}
            for i, loc in enumerate(self.state.loc):
                index.setdefault(loc, []).append(i)
            self._index = index
        return self._index.get(where, [])

    def inside(self, holder: int) -> list[int]:
        return self.contents(self.n_rooms + holder)

    def inventory(self) -> list[int]:
        return self.contents(INV)

    def holder(self, i: int) -> int:
        """The thing that ``i`` is in or on, or -1."""
        loc = self.state.loc[i]
        return loc - self.n_rooms if loc >= self.n_rooms else -1

    def room_of(self, i: int) -> int:
        """The room whose floor holds ``i``, directly or through receptacles (INV or GONE otherwise)."""
        loc = self.state.loc[i]
        while loc >= self.n_rooms:
            loc = self.state.loc[loc - self.n_rooms]
        return loc

    def holders(self, i: int) -> list[int]:
        """The receptacles around ``i``, innermost first."""
        chain, j = [], self.holder(i)
        while j >= 0:
            chain.append(j)
            j = self.holder(j)
        return chain

    def shows_contents(self, i: int) -> bool:
        thing = self.things[i]
        return thing.supporter or (thing.container and self.state.is_open[i])

    def scope(self) -> list[int]:
        """Everything the player can see and name: the room (through open containers), its doors, the inventory."""
        if self._scope is None:
            seen: list[int] = []
            stack = list(reversed(self.contents(self.state.room)))
            stack += reversed(self.game.doors_of(self.state.room))
            stack += reversed(self.inventory())
            while stack:
                i = stack.pop()
                seen.append(i)
                if self.shows_contents(i):
                    stack += reversed(self.inside(i))
            self._scope = seen
        return self._scope

    def held(self, i: int) -> bool:
        return self.state.loc[i] == INV

    def exit_to(self, direction: str) -> tuple[int, int] | None:
        for d, room, door in self.game.exits[self.state.room]:
            if d == direction:
                return room, door
        return None

    # -- descriptions ----------------------------------------------------------------------
    def describe_room(self) -> str:
        s, g = self.state, self.game
        title = g.rooms[s.room]
        lines = [f"-= {title.title()} =-", f"You are in the {title}."]
        floor = self.contents(s.room)
        if floor:
            lines.append(f"You see {listing([self.a_name_with_state(i) for i in floor])}.")
        for i in floor:
            lines += self._describe_contents(i)
        exits = []
        for direction, room, door in g.exits[s.room]:
            if door >= 0:
                state = "locked" if s.locked[door] else ("open" if s.is_open[door] else "closed")
                article = "an" if state == "open" else "a"
                exits.append(f"{direction}, through {article} {state} {self.things[door].name}, to the {g.rooms[room]}")
            else:
                exits.append(f"{direction} to the {g.rooms[room]}")
        lines.append(f"Exits: {listing(exits, sep='; ')}." if exits else "There is no way out.")
        return "\n".join(lines)

    def _describe_contents(self, i: int) -> list[str]:
        if not self.shows_contents(i):
            return []
        inner = self.inside(i)
        thing = self.things[i]
        if not inner:
            return []
        lines = [f"{thing.prep.capitalize()} the {thing.name}: {listing([self.a_name_with_state(j) for j in inner])}."]
        for j in inner:
            lines += self._describe_contents(j)
        return lines

    def a_name_with_state(self, i: int) -> str:
        thing, s = self.things[i], self.state
        if thing.openable:
            state = "locked" if s.locked[i] else ("open" if s.is_open[i] else "closed")
            return f"{thing.a_name} ({state})"
        return thing.a_name

    def describe_inventory(self) -> str:
        held = self.inventory()
        if not held:
            return "You are carrying nothing."
        return f"You are carrying: {listing([self.a_name_with_state(i) for i in held])}."

    def describe_thing(self, i: int) -> str:
        thing, s = self.things[i], self.state
        parts = [f"You see {thing.a_name}."]
        if thing.door is not None:
            a, b = thing.door
            other = b if a == s.room else a
            parts.append(f"It leads to the {self.game.rooms[other]}.")
        if thing.openable:
            parts.append("It is locked." if s.locked[i] else ("It is open." if s.is_open[i] else "It is closed."))
        if thing.key_of >= 0:
            parts.append(f"It opens the {self.things[thing.key_of].name}.")
        condition = [w for w in (s.cut[i], s.cooked[i]) if w]
        if thing.treatable:
            condition += ["clean" if s.clean[i] else "dirty"] if "clean" in thing.treatable else []
            condition += ["hot"] if s.temp[i] > 0 else (["cold"] if s.temp[i] < 0 else [])
        if condition:
            parts.append(f"It is {listing(condition)}.")
        if thing.text:
            parts.append("There is something written on it.")
        if self.shows_contents(i):
            inner = self.inside(i)
            parts.append(f"{thing.prep.capitalize()} it you see {listing([self.a_name_with_state(j) for j in inner])}."
                         if inner else f"There is nothing {thing.prep} it.")
        return " ".join(parts)


def listing(items: list[str], sep: str = ",") -> str:
    """ "a, b and c" (with ``sep`` between all but the last two)."""
    if len(items) <= 1:
        return "".join(items)
    return f"{f'{sep} '.join(items[:-1])} and {items[-1]}"
