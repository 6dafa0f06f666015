"""Games from seeds: TextWorld's knobs, difficulty presets, and a planned walkthrough for every game.

``generate(kind, seed, knobs)`` draws everything from ``random.Random(seed)`` — no global RNG,
no clock, no iteration over hash-ordered sets — so a seed gives the same game in any process.
The map is a tree of rooms grown on a grid (exits are compass directions that agree both
ways); locks are ordered by their distance from the start, and the key of the k-th lock lies
in the part of the map the first k - 1 locks leave open, so every game is solvable. The
walkthrough is then *planned* by :class:`Planner` (fetch what the quest needs, fetching keys
for the locks in the way first) and played through the real parser and rules; a game whose
walkthrough does not win is a generator bug and raises.
"""

from __future__ import annotations

import dataclasses
import random
from collections import deque
from dataclasses import dataclass

from rewardgym.envs.textworlds import content as C
from rewardgym.envs.textworlds.quests import CoinQuest, CookingQuest, HouseholdQuest, TreasureQuest
from rewardgym.envs.textworlds.rules import Action, command_text, execute
from rewardgym.envs.textworlds.world import GONE, Game, State, Thing, World, make_thing

KINDS = ("cooking", "household", "treasure", "coins")
GOALS = ("pick", "clean", "heat", "cool")

# Seed splits (the dungeon family's convention: >= 1_000_000 is held out for testing).
SPLITS = {"train": (0, 500_000), "valid": (500_000, 1_000_000), "test": (1_000_000, 2**31 - 1)}


@dataclass(frozen=True)
class Knobs:
    """What a game is made of. ``quest_length`` means: cooking, the recipe's ingredients; household,
    1 for pick-and-place and 2 for a treatment first; treasure, the locks between the player and
    the treasure; coins, the number of coins."""

    n_rooms: int = 1
    n_objects: int = 2  # portable things that matter to nothing
    quest_length: int = 1
    distractors: bool = False  # things that look like the goal (other foods, a second treasure of the same kind)
    closed: bool = False  # doors between rooms and lids of containers start closed
    locks: int = 0  # locked doors (cooking, household, coins); treasure: quest_length decides
    cut: bool = True  # cooking: recipes ask for slicing/dicing/chopping
    cook: bool = True  # cooking: recipes ask for frying/roasting/grilling
    goal: str | None = None  # household: pick, clean, heat or cool (None: from quest_length)
    max_steps: int = 100

    def validate(self, kind: str) -> None:
        if not 1 <= self.n_rooms <= len(C.ROOMS):
            raise ValueError(f"n_rooms must be in 1..{len(C.ROOMS)}, got {self.n_rooms}")
        if not 0 <= self.n_objects <= 40:
            raise ValueError(f"n_objects must be in 0..40, got {self.n_objects}")
        limit = {"cooking": 5, "household": 2, "treasure": 6, "coins": len(C.COIN_ADJECTIVES)}[kind]
        low = 0 if kind == "treasure" else 1
        if not low <= self.quest_length <= limit:
            raise ValueError(f"quest_length of a {kind} game must be in {low}..{limit}, got {self.quest_length}")
        if not 0 <= self.locks <= 6:
            raise ValueError(f"locks must be in 0..6, got {self.locks}")
        if self.goal is not None and self.goal not in GOALS:
            raise ValueError(f"goal must be one of {GOALS} or None, got {self.goal!r}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")


def _preset(n_rooms, n_objects, quest_length, distractors=False, closed=False, locks=0, max_steps=100, **kw):
    return dict(n_rooms=n_rooms, n_objects=n_objects, quest_length=quest_length, distractors=distractors,
                closed=closed, locks=locks, max_steps=max_steps, **kw)


# Difficulty 1..5 per kind; every walkthrough fits in well under half of max_steps.
PRESETS: dict[str, tuple[dict, ...]] = {
    "cooking": (
        _preset(1, 2, 1, cut=False, cook=False),
        _preset(1, 3, 2, closed=True, cook=False),
        _preset(3, 5, 2, closed=True, distractors=True),
        _preset(6, 8, 3, closed=True, distractors=True, locks=1, max_steps=150),
        _preset(9, 12, 4, closed=True, distractors=True, locks=2, max_steps=200),
    ),
    "household": (
        _preset(1, 3, 1),
        _preset(1, 5, 2, closed=True),
        _preset(3, 7, 2, closed=True),
        _preset(5, 10, 2, closed=True, distractors=True),
        _preset(8, 14, 2, closed=True, distractors=True, locks=1, max_steps=150),
    ),
    "treasure": (
        _preset(1, 2, 0),
        _preset(3, 4, 0, closed=True, distractors=True),
        _preset(5, 6, 1, closed=True, distractors=True),
        _preset(8, 10, 2, closed=True, distractors=True, max_steps=150),
        _preset(12, 14, 3, closed=True, distractors=True, max_steps=200),
    ),
    "coins": (
        _preset(1, 1, 1),
        _preset(3, 2, 2),
        _preset(5, 4, 3, closed=True),
        _preset(8, 6, 5, closed=True, locks=1, max_steps=150),
        _preset(12, 8, 8, closed=True, locks=2, max_steps=250),
    ),
}
DIFFICULTIES = range(1, 6)


def knobs_for(kind: str, difficulty: int = 1, **overrides) -> Knobs:
    """The preset of ``difficulty`` for ``kind``, with any knob given explicitly (not None) overriding it."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"difficulty must be in 1..{DIFFICULTIES[-1]}, got {difficulty!r}")
    known = {f.name for f in dataclasses.fields(Knobs)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown knobs {sorted(unknown)}; knobs are {sorted(known)}")
    values = {**PRESETS[kind][difficulty - 1], **{k: v for k, v in overrides.items() if v is not None}}
    knobs = Knobs(**values)
    knobs.validate(kind)
    return knobs


def generate(kind: str, seed: int, knobs: Knobs) -> Game:
    """The game of ``seed``, with its walkthrough."""
    builder = _Builder(kind, seed, knobs)
    game = builder.build()
    walkthrough = plan(game)
    return dataclasses.replace(game, walkthrough=tuple(walkthrough))


# -- building ------------------------------------------------------------------------------
class _Builder:
    """Collects rooms and things, then freezes them into a :class:`Game`."""

    def __init__(self, kind: str, seed: int, knobs: Knobs):
        self.kind, self.seed, self.knobs = kind, seed, knobs
        self.rng = random.Random(seed)
        self.specs: list[tuple[str, str, dict]] = []  # (name, noun, Thing properties)
        self.loc: list[int] = []
        self.is_open: list[bool] = []
        self.locked: list[bool] = []
        self.clean: list[bool] = []
        self.names: set[str] = set()
        self.storage: dict[int, list[int]] = {}  # room -> receptacles things may start in or on
        self.edge_door: dict[tuple[int, int], int] = {}

    # things
    def add(self, name: str, noun: str, loc: int, *, is_open: bool = False, locked: bool = False,
            clean: bool = True, **props) -> int:
        if name in self.names:
            raise AssertionError(f"duplicate name {name!r}")
        self.names.add(name)
        self.specs.append((name, noun, props))
        self.loc.append(loc)
        self.is_open.append(is_open)
        self.locked.append(locked)
        self.clean.append(clean)
        return len(self.specs) - 1

    def at(self, holder: int) -> int:
        """The location "in or on thing ``holder``"."""
        return self.n_rooms + holder

    def furnish(self, room: int, noun: str, kind: str, storage: bool = True, **props) -> int:
        name = self.unique(noun, C.FURNITURE_ADJECTIVES)
        closed = kind == "oc" and self.knobs.closed
        i = self.add(name, noun, room, is_open=not closed, container=kind != "s", supporter=kind == "s",
                     openable=kind == "oc", **props)
        if storage:
            self.storage.setdefault(room, []).append(i)
        return i

    def unique(self, noun: str, adjectives: tuple[str, ...], bare: bool = True) -> str:
        """``noun`` if free (and ``bare``), else an unused "adjective noun"."""
        if bare and noun not in self.names and not any(n.endswith(" " + noun) for n in self.names):
            return noun
        free = [f"{a} {noun}" for a in adjectives if f"{a} {noun}" not in self.names]
        if not free:
            raise ValueError(f"ran out of names for {noun!r}")
        return self.rng.choice(free)

    def spot(self, room: int | None = None) -> int:
        """A random place for a portable thing: a floor, or a receptacle in that room."""
        if room is None:
            room = self.rng.randrange(self.n_rooms)
        return self.rng.choice([room] + [self.at(r) for r in self.storage.get(room, [])])

    # map
    def layout(self, names: list[str]) -> None:
        rng, n = self.rng, len(names)
        self.rooms, self.n_rooms = names, n
        cells, pos = {(0, 0): 0}, [(0, 0)]
        self.edges: list[tuple[int, int, str]] = []  # (room, new room, direction from room)
        for new in range(1, n):
            while True:
                parent = rng.randrange(new)
                direction = rng.choice(C.DIRECTIONS)
                dx, dy = C.STEP[direction]
                cell = (pos[parent][0] + dx, pos[parent][1] + dy)
                if cell not in cells:
                    break
            cells[cell] = new
            pos.append(cell)
            self.edges.append((parent, new, direction))
        self.start = rng.randrange(n)
        # Tree distances from the start, and each room's edge towards the start.
        self.depth, self.parent_edge = {self.start: 0}, {self.start: None}
        queue = deque([self.start])
        while queue:
            room = queue.popleft()
            for k, (a, b, _) in enumerate(self.edges):
                for here, there in ((a, b), (b, a)):
                    if here == room and there not in self.depth:
                        self.depth[there] = self.depth[room] + 1
                        self.parent_edge[there] = k
                        queue.append(there)

    def path_edges(self, room: int) -> list[int]:
        """Edges from the start to ``room``, nearest the start first."""
        out = []
        while self.parent_edge[room] is not None:
            k = self.parent_edge[room]
            out.append(k)
            a, b, _ = self.edges[k]
            room = a if b == room else b
        return out[::-1]

    def far_room(self, k: int) -> int:
        """The room of edge ``k`` that lies away from the start."""
        a, b, _ = self.edges[k]
        return b if self.depth[b] > self.depth[a] else a

    def add_doors(self, locked_edges: list[int]) -> None:
        """A door on every locked edge, and on half the others in games with closed doors."""
        adjectives = [a for a in C.LOCK_ADJECTIVES if a not in self.lock_adjectives]
        self.rng.shuffle(adjectives)
        for k, (a, b, _) in enumerate(self.edges):
            locked = k in locked_edges
            if locked or (self.knobs.closed and self.rng.random() < 0.5):
                adjective = adjectives.pop()
                self.lock_adjectives.add(adjective)
                closed = locked or self.knobs.closed
                self.edge_door[k] = self.add(f"{adjective} door", "door", GONE, is_open=not closed, locked=locked,
                                             door=(a, b), openable=True)

    def add_chest(self, room: int) -> int:
        """A locked chest (its key is placed with the other keys)."""
        adjective = self.rng.choice([a for a in C.LOCK_ADJECTIVES if a not in self.lock_adjectives])
        self.lock_adjectives.add(adjective)
        noun = self.rng.choice(C.CHESTS)
        return self.add(f"{adjective} {noun}", noun, room, locked=True, container=True, openable=True)

    def place_keys(self, locks: list[int]) -> None:
        """Key k lies where locks 0..k-1 (ordered by distance from the start) let the player go."""
        def depth(lock: int) -> float:
            spec = self.specs[lock][2]
            if spec.get("door"):
                a, b = spec["door"]
                return max(self.depth[a], self.depth[b])
            return self.depth[self.loc[lock]] + 0.5  # a chest: after the doors to its room

        order = sorted(locks, key=depth)
        previous: set[int] = set()
        for k, lock in enumerate(order):
            region = self.region(blocked=set(order[k:]))
            newest = sorted(region - previous)
            rooms = newest if newest and self.rng.random() < 0.7 else sorted(region)
            room = self.rng.choice(rooms)
            later_chests = set(order[k:])
            spots = [room] + [self.at(r) for r in self.storage.get(room, []) if r not in later_chests]
            name = self.specs[lock][0]
            adjective = name.split()[0]
            self.add(f"{adjective} key", "key", self.rng.choice(spots), portable=True, key_of=lock)
            previous = region

    def region(self, blocked: set[int]) -> set[int]:
        """Rooms the player reaches from the start without passing a door in ``blocked``."""
        seen, stack = {self.start}, [self.start]
        while stack:
            room = stack.pop()
            for k, (a, b, _) in enumerate(self.edges):
                if self.edge_door.get(k) in blocked or room not in (a, b):
                    continue
                there = b if a == room else a
                if there not in seen:
                    seen.add(there)
                    stack.append(there)
        return seen

    def clutter(self, count: int, pool=C.CLUTTER) -> None:
        for noun, adjectives in self.rng.sample(pool, min(count, len(pool))):
            self.add(self.unique(noun, adjectives), noun, self.spot(), portable=True)

    # the whole game
    def build(self) -> Game:
        rng, knobs, kind = self.rng, self.knobs, self.kind
        self.lock_adjectives: set[str] = set()
        others = [r for r in C.ROOMS if r not in ("kitchen", "backyard")]
        if kind == "cooking":
            names = ["kitchen", "backyard"][: knobs.n_rooms] + rng.sample(others, max(0, knobs.n_rooms - 2))
        elif kind == "household":
            names = ["kitchen"] + rng.sample(others, knobs.n_rooms - 1)
        else:
            names = rng.sample(others + ["kitchen", "backyard"], knobs.n_rooms)
        self.layout(names)
        # Furniture first (names get adjectives only where a noun repeats).
        furniture = [(room, noun, kind_) for room, name in enumerate(names) for noun, kind_ in C.ROOMS[name]]
        if kind == "household":
            extra = rng.sample(C.HOUSEHOLD_RECEPTACLES, min(len(C.HOUSEHOLD_RECEPTACLES), 2 + knobs.n_rooms))
            furniture += [(rng.randrange(knobs.n_rooms), noun, kind_) for noun, kind_ in extra]
        for room, noun, kind_ in furniture:
            self.furnish(room, noun, kind_)
        quest = getattr(self, f"_{kind}")()
        return self._freeze(quest)

    def _finish_locks(self, locked_edges: list[int], chests: list[int]) -> list[int]:
        self.add_doors(locked_edges)
        locks = [self.edge_door[k] for k in locked_edges] + chests
        self.place_keys(locks)
        return locks

    def _random_locked_edges(self) -> list[int]:
        edges = list(range(len(self.edges)))
        return sorted(self.rng.sample(edges, min(self.knobs.locks, len(edges))))

    # task kinds: each places its things and returns (quest, locks)
    def _cooking(self):
        rng, knobs = self.rng, self.knobs
        kitchen = 0
        self.furnish(kitchen, "fridge", "oc")
        counter = self.furnish(kitchen, "counter", "s")
        table = self.furnish(kitchen, "table", "s")
        self.add("stove", "stove", kitchen, cooks="fried")
        self.add("oven", "oven", kitchen, cooks="roasted")
        methods = ["fried", "roasted"]
        if self.n_rooms > 1:
            self.add("BBQ", "bbq", 1, cooks="grilled")
            methods.append("grilled")
        self.add("knife", "knife", self.at(counter), portable=True, sharp=True)
        size = knobs.quest_length
        foods = rng.sample(C.FOODS, min(len(C.FOODS), size + (size if knobs.distractors else 0)))
        ingredients, cuts, cooks = [], [], []
        for k, (noun, adjectives) in enumerate(foods):
            i = self.add(self.unique(noun, adjectives, bare=False), noun, self.spot(), portable=True, edible=True,
                         cuttable=True, cookable=True)
            if k < size:
                ingredients.append(i)
                cuts.append(rng.choice(("",) + C.CUTS) if knobs.cut else "")
                cooks.append(rng.choice([""] + methods) if knobs.cook else "")
        if knobs.distractors:  # a look-alike of the first ingredient: same noun, another adjective
            noun, adjectives = next(f for f in C.FOODS if f[0] == self.specs[ingredients[0]][1])
            spare = [a for a in adjectives if f"{a} {noun}" not in self.names]
            if spare:
                self.add(f"{rng.choice(spare)} {noun}", noun, self.spot(), portable=True, edible=True,
                         cuttable=True, cookable=True)
        meal = self.add("meal", "meal", GONE, portable=True, edible=True)
        self.add("cookbook", "cookbook", self.at(table), portable=True)
        self.clutter(knobs.n_objects)
        n_points = size + sum(1 for c in cuts if c) + sum(1 for c in cooks if c) + 2
        quest = CookingQuest(
            task="You are hungry! Let's cook a delicious meal. Check the cookbook in the kitchen for the recipe. "
                 "Once done, enjoy your meal!",
            max_score=n_points, ingredients=tuple(ingredients), cuts=tuple(cuts), cooks=tuple(cooks),
            kitchen=kitchen, meal=meal)
        self._finish_locks(self._random_locked_edges(), [])
        return quest

    def _household(self):
        rng, knobs = self.rng, self.knobs
        kitchen = 0
        self.furnish(kitchen, "fridge", "oc", treats="cool")
        self.furnish(kitchen, "microwave", "oc", treats="heat")
        self.furnish(kitchen, "sink", "c", treats="clean")
        goal = knobs.goal or ("pick" if knobs.quest_length == 1 else rng.choice(GOALS[1:]))
        treatment = "" if goal == "pick" else goal
        nouns = [n for n, (_, can) in C.HOUSEHOLD.items() if not treatment or treatment in can]
        noun = rng.choice(nouns)
        adjectives, _ = C.HOUSEHOLD[noun]
        appliances = {i for i, (_, _, p) in enumerate(self.specs) if p.get("treats")}
        targets = [i for room in range(self.n_rooms) for i in self.storage.get(room, []) if i not in appliances]
        target = rng.choice(targets)
        candidates = []
        for _ in range(2 if knobs.distractors else 1):
            room = rng.randrange(self.n_rooms)
            spots = [room] + [self.at(r) for r in self.storage.get(room, []) if r != target]
            candidates.append(self._household_thing(noun, adjectives, rng.choice(spots)))
        others = [n for n in C.HOUSEHOLD if n != noun]
        for other in rng.sample(others, min(len(others), knobs.n_objects)):
            self._household_thing(other, C.HOUSEHOLD[other][0], self.spot())
        name = self.specs[target][0]
        prep = "in" if self.specs[target][2]["container"] else "on"
        adjective = {"": "", "clean": "clean ", "heat": "hot ", "cool": "cool "}[treatment]
        article = "an" if (adjective or noun)[0] in "aeiou" else "a"
        quest = HouseholdQuest(task=f"Put {article} {adjective}{noun} {prep} the {name}.",
                               max_score=3 if treatment else 2, noun=noun, treatment=treatment, target=target,
                               candidates=tuple(candidates))
        self._finish_locks(self._random_locked_edges(), [])
        return quest

    def _household_thing(self, noun: str, adjectives: tuple[str, ...], loc: int) -> int:
        can = C.HOUSEHOLD[noun][1]
        # Things that can be cleaned start dirty, so that cleaning them is a real step. Nothing is edible:
        # household games have no way to lose, and eating the only mug-like apple would be one.
        return self.add(self.unique(noun, adjectives, bare=False), noun, loc, clean="clean" not in can, portable=True,
                        treatable=can)

    def _treasure(self):
        rng, knobs = self.rng, self.knobs
        noun, adjectives = rng.choice(C.TREASURES)
        n_locks = knobs.quest_length
        deepest = max(self.depth.values())
        rooms = [r for r in range(self.n_rooms) if self.depth[r] >= min(max(n_locks - 1, 1), deepest)]
        room = rng.choice(rooms)
        chests = [self.add_chest(room)] if n_locks else []
        loc = self.at(chests[0]) if chests else self.spot(room)
        treasure = self.add(self.unique(noun, adjectives, bare=False), noun, loc, portable=True)
        if knobs.distractors:
            for _ in range(2):
                spare = [a for a in adjectives if f"{a} {noun}" not in self.names]
                if spare:
                    self.add(f"{rng.choice(spare)} {noun}", noun, self.spot(), portable=True)
        self.clutter(knobs.n_objects)
        path = self.path_edges(room)
        locked_edges = sorted(rng.sample(path, min(max(n_locks - 1, 0), len(path))))
        locks = self._finish_locks(locked_edges, chests)
        name = self.specs[treasure][0]
        quest = TreasureQuest(task=f"Somewhere in this house is the {name}. Find it and take it.",
                              max_score=len(locks) + 1, treasure=treasure, locks=tuple(locks))
        return quest

    def _coins(self):
        rng, knobs = self.rng, self.knobs
        coins = []
        for adjective in rng.sample(C.COIN_ADJECTIVES, knobs.quest_length):
            coins.append(self.add(f"{adjective} coin", "coin", self.spot(), portable=True))
        self.clutter(knobs.n_objects)
        n = len(coins)
        task = "Find the coin and take it." if n == 1 else f"There are {n} coins in this house. Collect them all."
        quest = CoinQuest(task=task, max_score=n, coins=tuple(coins))
        self._finish_locks(self._random_locked_edges(), [])
        return quest

    def _freeze(self, quest) -> Game:
        things = tuple(make_thing(name, noun, **props) for name, noun, props in self.specs)
        exits: list[list[tuple[str, int, int]]] = [[] for _ in range(self.n_rooms)]
        for k, (a, b, direction) in enumerate(self.edges):
            door = self.edge_door.get(k, -1)
            exits[a].append((direction, b, door))
            exits[b].append((C.OPPOSITE[direction], a, door))
        order = {d: r for r, d in enumerate(C.DIRECTIONS)}
        n = len(things)
        start = State(room=self.start, loc=list(self.loc), is_open=list(self.is_open), locked=list(self.locked),
                      cut=[""] * n, cooked=[""] * n, clean=list(self.clean), temp=[0] * n, done=set())
        if isinstance(quest, CookingQuest):
            things = tuple(dataclasses.replace(t, text=quest_recipe_text(quest, things)) if t.name == "cookbook"
                           else t for t in things)
        return Game(seed=self.seed, kind=self.kind, rooms=tuple(self.rooms),
                    exits=tuple(tuple(sorted(e, key=lambda x: order[x[0]])) for e in exits), things=things,
                    quest=quest, start=start)


def quest_recipe_text(quest: CookingQuest, things: tuple[Thing, ...]) -> str:
    lines = ["You open the cookbook and read the recipe:", "", "Ingredients:"]
    lines += [f"  {things[i].name}" for i in quest.ingredients]
    lines += ["", "Directions:"]
    for k, i in enumerate(quest.ingredients):
        if quest.cuts[k]:
            lines.append(f"  {C.CUT_VERBS[quest.cuts[k]]} the {things[i].name}")
        if quest.cooks[k]:
            lines.append(f"  {C.COOK_VERBS[quest.cooks[k]]} the {things[i].name}")
    lines += ["  prepare meal", "  eat meal"]
    return "\n".join(lines)


# -- planning the walkthrough ----------------------------------------------------------------
class Planner:
    """Plans and plays the commands that win a game, through the real parser and rules.

    ``fetch(thing)`` walks to it (unlocking and opening doors on the way, fetching their keys
    first), opens the receptacles around it and takes it; the task kinds chain fetches and
    the few commands of their own.
    """

    def __init__(self, game: Game):
        self.world = World(game)
        self.commands: list[str] = []

    def do(self, command: str) -> None:
        feedback, ok = execute(self.world, command)
        if not ok:
            raise RuntimeError(f"walkthrough of game {self.world.game.seed}: {command!r} was refused: {feedback}")
        self.commands.append(command)

    def name(self, i: int) -> str:
        return self.world.things[i].name

    def route(self, goal: int) -> list[tuple[str, int]]:
        """(direction, door) steps of the shortest way from the player's room to ``goal``."""
        exits, start = self.world.game.exits, self.world.state.room
        previous: dict[int, tuple[int, str, int] | None] = {start: None}
        queue = deque([start])
        while queue:
            room = queue.popleft()
            for direction, there, door in exits[room]:
                if there not in previous:
                    previous[there] = (room, direction, door)
                    queue.append(there)
        steps = []
        room = goal
        while previous[room] is not None:
            room, direction, door = previous[room]
            steps.append((direction, door))
        return steps[::-1]

    def goto(self, room: int, depth: int = 0) -> None:
        world, state = self.world, self.world.state
        route = self.route(room)
        for _, door in route:  # keys first, so the walk itself never turns back
            if door >= 0 and state.locked[door] and not world.held(world.key_for[door]):
                self.fetch(world.key_for[door], depth + 1)
                return self.goto(room, depth + 1)
        for direction, door in route:
            if door >= 0 and state.locked[door]:
                self.do(f"unlock {self.name(door)} with {self.name(world.key_for[door])}")
            if door >= 0 and not state.is_open[door]:
                self.do(f"open {self.name(door)}")
            self.do(f"go {direction}")

    def fetch(self, i: int, depth: int = 0) -> None:
        if depth > 50:
            raise RuntimeError(f"game {self.world.game.seed}: keys lead in a circle")
        world = self.world
        if world.held(i):
            return
        holders = world.holders(i)[::-1]  # outermost first
        for h in holders:
            key = world.key_for.get(h)
            if world.state.locked[h] and not world.held(key):
                self.fetch(key, depth + 1)
        self.goto(world.room_of(i), depth)
        for h in holders:
            if world.state.locked[h]:
                self.do(f"unlock {self.name(h)} with {self.name(world.key_for[h])}")
            if world.things[h].openable and not world.state.is_open[h]:
                self.do(f"open {self.name(h)}")
        self.do(command_text(world, Action("take", i, world.holder(i))))

    def distance(self, i: int) -> int:
        return len(self.route(self.world.room_of(i)))


def plan(game: Game) -> list[str]:
    """The commands that win ``game`` (checked: the game is won with the full score)."""
    planner = Planner(game)
    world, quest = planner.world, game.quest
    if isinstance(quest, CookingQuest):
        planner.goto(quest.kitchen)
        planner.do("read cookbook")
        for i in quest.ingredients:
            planner.fetch(i)
        knife = next(i for i, t in enumerate(game.things) if t.sharp)
        for k, i in enumerate(quest.ingredients):
            if quest.cuts[k]:
                planner.fetch(knife)
                planner.do(f"{C.CUT_VERBS[quest.cuts[k]]} {planner.name(i)} with knife")
        for k, i in enumerate(quest.ingredients):
            if quest.cooks[k]:
                device = next(d for d, t in enumerate(game.things) if t.cooks == quest.cooks[k])
                planner.goto(world.room_of(device))
                planner.do(f"cook {planner.name(i)} with {planner.name(device)}")
        planner.goto(quest.kitchen)
        planner.do("prepare meal")
        planner.do("eat meal")
    elif isinstance(quest, HouseholdQuest):
        chosen = min(quest.candidates, key=lambda i: (planner.distance(i), i))
        planner.fetch(chosen)
        if quest.treatment:
            device = next(d for d, t in enumerate(game.things) if t.treats == quest.treatment)
            planner.goto(world.room_of(device))
            planner.do(command_text(world, Action("treat", chosen, device, quest.treatment)))
        target = quest.target
        planner.goto(world.room_of(target))
        if game.things[target].openable and not world.state.is_open[target]:
            planner.do(f"open {planner.name(target)}")
        planner.do(command_text(world, Action("put", chosen, target)))
    elif isinstance(quest, TreasureQuest):
        planner.fetch(quest.treasure)
    elif isinstance(quest, CoinQuest):
        left = list(quest.coins)
        while left:
            coin = min(left, key=lambda i: (planner.distance(i), i))
            planner.fetch(coin)
            left.remove(coin)
    state = world.state
    if not state.won or state.score != game.max_score:
        raise RuntimeError(f"walkthrough of {game.kind} game {game.seed} ends with won={state.won}, "
                           f"score {state.score}/{game.max_score}")
    return planner.commands

