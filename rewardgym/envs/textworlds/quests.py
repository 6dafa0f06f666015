"""What each task kind scores, and when a game is won or lost.

The rules (:mod:`~rewardgym.envs.textworlds.rules`) change the world and then tell the quest
what happened as an event tuple — ``("take", i)``, ``("put", i, receptacle)``, ``("unlock", i)``,
``("cut", i, "sliced")``, ``("cook", i, "fried")``, ``("treat", i, "clean")``, ``("eat", i)``,
``("prepare",)``. The quest awards points for subgoals reached for the first time (TextWorld's
intermediate rewards: ``score`` only goes up, to ``max_score``), sets ``won`` or ``lost``, and
may add a line to the feedback.
"""

from __future__ import annotations

from dataclasses import dataclass

from rewardgym.envs.textworlds.content import COOK_VERBS, CUT_VERBS
from rewardgym.envs.textworlds.world import World

WON = "*** You won! ***"
LOST = "*** You lost! ***"


def award(world: World, subgoal: str, points: int = 1) -> None:
    """Score ``subgoal`` once; reaching it again pays nothing."""
    state = world.state
    if subgoal not in state.done:
        state.done.add(subgoal)
        state.score += points


def lose(world: World, why: str) -> str:
    world.state.lost = True
    return f"{why}\n{LOST}"


def win(world: World) -> str:
    world.state.won = True
    return WON


@dataclass(frozen=True)
class Quest:
    task: str
    max_score: int

    def react(self, world: World, event: tuple) -> str:
        """Score ``event``; returns a line to add to the feedback ("" if none)."""
        return ""


@dataclass(frozen=True)
class CookingQuest(Quest):
    """TextWorld's Cooking: take each ingredient (1 point), prepare it as the recipe says (1 point a step),
    prepare the meal in the kitchen (1) and eat it (1, won). A cut or a cooking the recipe does not ask
    for, cooking twice (burning), eating an ingredient, or preparing the meal before every step is done
    loses the game."""

    ingredients: tuple[int, ...] = ()
    cuts: tuple[str, ...] = ()  # per ingredient: "" or "sliced" / "diced" / "chopped"
    cooks: tuple[str, ...] = ()  # per ingredient: "" or "fried" / "roasted" / "grilled"
    kitchen: int = 0
    meal: int = -1

    def react(self, world: World, event: tuple) -> str:
        verb, *args = event
        if verb == "eat" and args[0] == self.meal:
            award(world, "eat meal")
            return win(world)
        if verb == "prepare":
            return self._prepare(world)
        if not args or args[0] not in self.ingredients:
            return ""  # other food is free to cut, cook and eat
        k = self.ingredients.index(args[0])
        name = world.things[args[0]].name
        if verb == "take":
            award(world, f"take {name}")
        elif verb == "eat":
            return lose(world, f"You needed the {name} for the recipe.")
        elif verb == "cut":
            if args[1] != self.cuts[k]:
                return lose(world, f"The recipe did not ask you to {CUT_VERBS[args[1]]} the {name}.")
            award(world, f"{args[1]} {name}")
        elif verb == "cook":
            if args[1] == "burned":
                return lose(world, f"The {name} is burned to a crisp.")
            if args[1] != self.cooks[k]:
                return lose(world, f"The recipe did not ask you to {COOK_VERBS[args[1]]} the {name}.")
            award(world, f"{args[1]} {name}")
        return ""

    def _prepare(self, world: World) -> str:
        state = world.state
        for k, i in enumerate(self.ingredients):
            if (state.cut[i], state.cooked[i]) != (self.cuts[k], self.cooks[k]):
                name = world.things[i].name
                return lose(world, f"The {name} was not prepared as the recipe says; the meal is ruined.")
        award(world, "prepare meal")
        return ""


@dataclass(frozen=True)
class HouseholdQuest(Quest):
    """ALFWorld's household tasks: put a (clean / hot / cool) thing of a kind in or on a receptacle.
    Taking a thing of that kind scores 1, the treatment 1, and putting a qualifying one in place 1 (won)."""

    noun: str = ""
    treatment: str = ""  # "" (pick and place), "clean", "heat" or "cool"
    target: int = -1
    candidates: tuple[int, ...] = ()

    def qualifies(self, world: World, i: int) -> bool:
        state = world.state
        return i in self.candidates and (
            self.treatment == "" or (self.treatment == "clean" and state.clean[i])
            or (self.treatment == "heat" and state.temp[i] > 0) or (self.treatment == "cool" and state.temp[i] < 0))

    def react(self, world: World, event: tuple) -> str:
        verb, *args = event
        if verb == "take" and args[0] in self.candidates:
            award(world, f"take {self.noun}")
        elif verb == "treat" and args[0] in self.candidates and args[1] == self.treatment:
            award(world, f"{self.treatment} {self.noun}")
        elif verb == "put" and args[1] == self.target and self.qualifies(world, args[0]):
            award(world, "place")
            return win(world)
        return ""


@dataclass(frozen=True)
class TreasureQuest(Quest):
    """TextWorld's Treasure Hunter: take the named object. Unlocking each lock on the way scores 1,
    taking the treasure 1 (won)."""

    treasure: int = -1
    locks: tuple[int, ...] = ()

    def react(self, world: World, event: tuple) -> str:
        verb, *args = event
        if verb == "unlock" and args[0] in self.locks:
            award(world, f"unlock {world.things[args[0]].name}")
        elif verb == "take" and args[0] == self.treasure:
            award(world, "take treasure")
            return win(world)
        return ""


@dataclass(frozen=True)
class CoinQuest(Quest):
    """TextWorld's Coin Collector, with several coins: each coin picked up scores 1; the last one wins."""

    coins: tuple[int, ...] = ()

    def react(self, world: World, event: tuple) -> str:
        verb, *args = event
        if verb == "take" and args[0] in self.coins:
            award(world, f"take {world.things[args[0]].name}")
            if all(f"take {world.things[c].name}" in world.state.done for c in self.coins):
                return win(world)
        return ""
