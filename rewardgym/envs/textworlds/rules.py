"""The rules: what each command needs, what it does, and which commands would do something now.

A command goes text -> :class:`~rewardgym.envs.textworlds.parser.Command` (words) ->
:class:`Action` (thing ids, resolved against what the player can see) -> :func:`check` (the
reason it cannot happen, or None) -> :func:`perform` (the change, the quest's reaction, the
feedback). :func:`check` changes nothing, so a refused command leaves the world exactly as it
was, and :func:`admissible` is just every candidate action that passes :func:`check`, written
the canonical way (``take red potato from fridge``).
"""

from __future__ import annotations

from typing import NamedTuple

from rewardgym.envs.textworlds.content import COOK_VERBS, CUT_VERBS
from rewardgym.envs.textworlds.parser import Command, parse
from rewardgym.envs.textworlds.world import GONE, INV, World, listing

HELP = ("Commands: look, inventory, examine X, go north/south/east/west (or n/s/e/w), take X, take X from Y, "
        "drop X, put X in/on Y, open X, close X, unlock X with Y, lock X with Y, eat X, read X, "
        "slice/dice/chop X with Y, cook X with Y (or fry/roast/grill X), clean X in Y, heat X with Y, "
        "cool X with Y, prepare meal, score, help.")
CANT_SEE = "You can't see any such thing."
TREAT_WORDS = {"clean": ("clean", "in", "clean"), "heat": ("heat", "with", "hot"), "cool": ("cool", "with", "cold")}


class Action(NamedTuple):
    verb: str
    a: int = -1
    b: int = -1
    how: str = ""


def execute(world: World, text: object) -> tuple[str, bool]:
    """Play one command: (feedback, whether the game accepted it). A refused command changes nothing."""
    command = parse(text)
    if isinstance(command, str):
        return command, False
    action = resolve_command(world, command)
    if isinstance(action, str):
        return action, False
    problem = check(world, action)
    if problem is not None:
        return problem, False
    return perform(world, action), True


# -- words -> things ----------------------------------------------------------------------
def resolve(world: World, words: tuple[str, ...], prefer=None) -> int | str:
    """The thing in scope that ``words`` name, or feedback: none seen, or a question when several fit."""
    wanted = frozenset(words)
    things = world.things
    matches = [i for i in world.scope() if wanted <= things[i].words]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        return CANT_SEE
    name = " ".join(words)
    exact = [i for i in matches if things[i].name.lower() == name]
    if len(exact) == 1:
        return exact[0]
    if prefer is not None:  # "take key" when one key is already held means the other one
        preferred = [i for i in matches if prefer(i)]
        if len(preferred) == 1:
            return preferred[0]
    names = sorted(f"the {things[i].name}" for i in matches)
    return f"Which do you mean, {listing(names).replace(' and ', ' or ')}?"


def resolve_command(world: World, command: Command) -> Action | str:
    verb, things, state = command.verb, world.things, world.state
    if verb in ("look", "inventory", "help", "score", "prepare"):
        return Action(verb)
    if verb == "go":
        if command.how:
            return Action("go", how=command.how)
        wanted = frozenset(command.obj)
        for direction, room, _ in world.game.exits[state.room]:
            if wanted <= frozenset(world.game.rooms[room].split()):
                return Action("go", how=direction)
        return "You can't go that way."

    held = world.held
    prefer = {"take": lambda i: not held(i), "open": lambda i: not state.is_open[i],
              "close": lambda i: state.is_open[i], "unlock": lambda i: state.locked[i],
              "lock": lambda i: not state.locked[i], "examine": None, "read": None}.get(verb, held)
    if verb == "take" and command.other:  # the source first: "take red from table" means what is on the table
        b = resolve(world, command.other)
        if isinstance(b, str):
            return b
        a = resolve(world, command.obj, lambda i: world.holder(i) == b)
        return a if isinstance(a, str) else Action(verb, a, b)
    a = resolve(world, command.obj, prefer)
    if isinstance(a, str):
        return a
    how = command.how
    # What is wrong with the object itself comes first: "unlock the BBQ" is refused, not asked "with what?".
    problem = _object_problem(world, verb, a, how)
    if problem is not None:
        return problem
    if command.other:
        b = resolve(world, command.other, held if verb in ("unlock", "lock", "cut") else None)
    else:
        b = _default_instrument(world, verb, a, how)
    if isinstance(b, str):
        return b
    if verb == "cut" and not how:
        return f"Do you want to slice, dice or chop the {things[a].name}?"
    if verb == "cook":
        if not things[b].cooks:
            return f"You can't cook anything with the {things[b].name}."
        if how and how != things[b].cooks:
            return f"You can't {COOK_VERBS[how]} anything with the {things[b].name}."
        how = things[b].cooks
    if verb == "put" and b < 0:
        return f"What do you want to put the {things[a].name} in?"
    return Action(verb, a, b, how)


def _default_instrument(world: World, verb: str, a: int, how: str) -> int | str:
    """The second object of a command that left it out ("unlock door", "fry potato"), or -1 if none is needed."""
    things = world.things
    if verb in ("unlock", "lock"):
        fits = [i for i in world.inventory() if things[i].key_of == a]
    elif verb == "cut":
        fits = [i for i in world.inventory() if things[i].sharp]
    elif verb == "cook":
        fits = [i for i in world.scope() if things[i].cooks and (not how or things[i].cooks == how)]
    elif verb == "treat":
        fits = [i for i in world.scope() if things[i].treats == how]
    else:
        return -1
    if len(fits) == 1:
        return fits[0]
    return f"What do you want to {_word(verb, how)} the {things[a].name} with?"


def _word(verb: str, how: str) -> str:
    """The verb as the player would say it ("dice", "fry", "clean")."""
    if verb == "cut":
        return CUT_VERBS.get(how, "cut")
    if verb == "cook":
        return COOK_VERBS.get(how, "cook")
    return how if verb == "treat" else verb


# -- can it happen? -----------------------------------------------------------------------
def check(world: World, action: Action) -> str | None:
    """Why ``action`` cannot happen now, or None if it can. Changes nothing."""
    verb, a, b, how = action
    things, state = world.things, world.state
    if verb == "go":
        exit_ = world.exit_to(how)
        if exit_ is None:
            return "You can't go that way."
        door = exit_[1]
        if door >= 0 and not state.is_open[door]:
            return f"The {things[door].name} is {'locked' if state.locked[door] else 'closed'}."
        return None
    if verb == "prepare":
        return _check_prepare(world)
    if verb in ("look", "inventory", "help", "score"):
        return None
    problem = _object_problem(world, verb, a, how)
    if problem is not None:
        return problem
    if b < 0:
        return f"What do you want to {_word(verb, how)} the {things[a].name} with?" if verb in _TOOL_VERBS else None
    thing, tool = things[a], things[b]
    if verb == "take":
        return None if world.holder(a) == b else f"The {thing.name} is not {tool.prep} the {tool.name}."
    if verb in ("unlock", "lock"):
        if not world.held(b):
            return f"You are not holding the {tool.name}."
        return None if tool.key_of == a else f"The {tool.name} doesn't fit the {thing.name}."
    if verb == "put":
        if a == b:
            return "You can't put something inside itself."
        if not (tool.container or tool.supporter):
            return f"You can't put things in or on the {tool.name}."
        return f"The {tool.name} is closed." if tool.container and not state.is_open[b] else None
    if verb == "cut":
        if not world.held(b):
            return f"You need to hold the {tool.name} to cut with it."
        return None if tool.sharp else f"You can't cut anything with the {tool.name}."
    if verb == "cook":
        return None if tool.cooks == how else f"You can't {_word(verb, how)} anything with the {tool.name}."
    if verb == "treat":
        return None if tool.treats == how else f"You can't {how} anything with the {tool.name}."
    return None


_TOOL_VERBS = frozenset({"put", "unlock", "lock", "cut", "cook", "treat"})  # these need a second thing


def _object_problem(world: World, verb: str, a: int, how: str) -> str | None:
    """Why the verb cannot act on thing ``a`` whatever it is done with, or None."""
    thing, state = world.things[a], world.state
    if verb in ("examine", "look", "inventory", "help", "score", "go", "prepare"):
        return None
    if verb == "take":
        if world.held(a):
            return "You already have that."
        return None if thing.portable else f"The {thing.name} is fixed in place."
    if verb == "read":
        return None if thing.text else f"There is nothing written on the {thing.name}."
    if verb in ("open", "close"):
        if not thing.openable:
            return f"You can't {verb} the {thing.name}."
        if verb == "open":
            if state.locked[a]:
                return "That's locked."
            return "It's already open." if state.is_open[a] else None
        return None if state.is_open[a] else "It's already closed."
    if verb in ("unlock", "lock"):
        if a not in world.key_for:
            return f"You can't {verb} the {thing.name}."
        if verb == "unlock":
            return None if state.locked[a] else f"The {thing.name} is not locked."
        if state.locked[a]:
            return f"The {thing.name} is already locked."
        return f"You have to close the {thing.name} first." if state.is_open[a] else None
    # The rest act on something the player holds.
    if not world.held(a):
        if thing.portable:
            return f"You need to take the {thing.name} first."
        return f"You can't {_word(verb, how) if verb != 'put' else 'move'} the {thing.name}."
    if verb == "eat":
        return None if thing.edible else f"You can't eat the {thing.name}."
    if verb == "cut":
        if not thing.cuttable:
            return f"You can't cut the {thing.name}."
        return f"The {thing.name} is already {state.cut[a]}." if state.cut[a] else None
    if verb == "cook":
        return None if thing.cookable else f"You can't cook the {thing.name}."
    if verb == "treat":
        word, _, adjective = TREAT_WORDS[how]
        if how not in thing.treatable:
            return f"You can't {word} the {thing.name}."
        already = (state.clean[a] if how == "clean" else state.temp[a] > 0 if how == "heat" else state.temp[a] < 0)
        return f"The {thing.name} is already {adjective}." if already else None
    return None  # drop, put


def _check_prepare(world: World) -> str | None:
    quest, state = world.game.quest, world.state
    if not hasattr(quest, "ingredients"):
        return "There is no meal to prepare here."
    if state.room != quest.kitchen:
        return "You can only prepare the meal in the kitchen."
    if state.loc[quest.meal] != GONE:
        return "You have already prepared the meal."
    if not all(world.held(i) for i in quest.ingredients):
        return "You don't have all the ingredients of the recipe."
    return None


# -- make it happen -----------------------------------------------------------------------
def perform(world: World, action: Action) -> str:
    """Apply an action that passed :func:`check`; returns the feedback."""
    verb, a, b, how = action
    things, state = world.things, world.state
    if verb == "look":
        text = world.describe_room()
    elif verb == "inventory":
        text = world.describe_inventory()
    elif verb == "examine":
        text = world.describe_thing(a)
    elif verb == "help":
        text = HELP
    elif verb == "score":
        text = f"Your score is {state.score} out of a possible {world.game.max_score}, in {state.moves} moves."
    elif verb == "read":
        text = things[a].text
    elif verb == "go":
        state.room = world.exit_to(how)[0]
        world.changed()
        text = world.describe_room()
    else:
        text = _change(world, action)
    state.moves += 1
    event = _event(world, action)
    reaction = world.game.quest.react(world, event) if event else ""
    return f"{text}\n{reaction}" if reaction else text


def _event(world: World, action: Action) -> tuple:
    """What the quest hears about an action that happened (empty for looking around)."""
    verb, a, b, how = action
    if verb in ("take", "unlock", "eat"):
        return (verb, a)
    if verb == "put":
        return (verb, a, b)
    if verb in ("cut", "treat"):
        return (verb, a, how)
    if verb == "cook":
        return (verb, a, world.state.cooked[a])  # "burned" when it was cooked twice
    if verb == "prepare":
        return (verb,)
    return ()


def _change(world: World, action: Action) -> str:
    verb, a, b, how = action
    things, state = world.things, world.state
    name = things[a].name if a >= 0 else ""
    world.changed()
    if verb == "take":
        source = world.holder(a)
        state.loc[a] = INV
        return f"You take the {name} from the {things[source].name}." if source >= 0 else f"You take the {name}."
    if verb == "drop":
        state.loc[a] = state.room
        return f"You drop the {name}."
    if verb == "put":
        state.loc[a] = world.n_rooms + b
        return f"You put the {name} {things[b].prep} the {things[b].name}."
    if verb == "open":
        state.is_open[a] = True
        if not things[a].container:
            return f"You open the {name}."
        inner = world.inside(a)
        seen = listing([world.a_name_with_state(j) for j in inner]) if inner else "nothing"
        return f"You open the {name}, revealing {seen}."
    if verb == "close":
        state.is_open[a] = False
        return f"You close the {name}."
    if verb in ("unlock", "lock"):
        state.locked[a] = verb == "lock"
        return f"You {verb} the {name} with the {things[b].name}."
    if verb == "eat":
        state.loc[a] = GONE
        return f"You eat the {name}. Not bad."
    if verb == "cut":
        state.cut[a] = how
        return f"You {CUT_VERBS[how]} the {name}."
    if verb == "cook":
        if state.cooked[a]:
            state.cooked[a] = "burned"
            return f"You cook the {name} again and burn it."
        state.cooked[a] = how
        return f"You {COOK_VERBS[how]} the {name} with the {things[b].name}."
    if verb == "treat":
        word, prep, _ = TREAT_WORDS[how]
        if how == "clean":
            state.clean[a] = True
        else:
            state.temp[a] = 1 if how == "heat" else -1
        return f"You {word} the {name} {prep} the {things[b].name}."
    if verb == "prepare":
        quest = world.game.quest
        for i in quest.ingredients:
            state.loc[i] = GONE
        state.loc[quest.meal] = INV
        return "You prepare the meal. It is now in your inventory."
    raise AssertionError(f"no effect for {verb}")


# -- what would do something --------------------------------------------------------------
def candidate_actions(world: World) -> list[Action]:
    """Every action worth checking now: the verbs applied to what is in scope and in hand."""
    things, state = world.things, world.state
    scope, held = world.scope(), world.inventory()
    out = [Action("look"), Action("inventory"), Action("prepare")]
    out += [Action("go", how=d) for d, _, _ in world.game.exits[state.room]]
    receptacles = [r for r in scope if things[r].container or things[r].supporter]
    cookers = [d for d in scope if things[d].cooks]
    treaters = [d for d in scope if things[d].treats]
    sharp = [k for k in held if things[k].sharp]
    for i in scope:
        thing = things[i]
        out.append(Action("examine", i))
        if thing.text:
            out.append(Action("read", i))
        if thing.openable:
            out.append(Action("close" if state.is_open[i] else "open", i))
        key = world.key_for.get(i)
        if key is not None:
            out.append(Action("lock" if not state.locked[i] else "unlock", i, key))
        if thing.portable and state.loc[i] != INV:
            out.append(Action("take", i, world.holder(i)))
    for i in held:
        thing = things[i]
        out.append(Action("drop", i))
        out += [Action("put", i, r) for r in receptacles]
        if thing.edible:
            out.append(Action("eat", i))
        if thing.cuttable:
            out += [Action("cut", i, k, how) for k in sharp for how in CUT_VERBS]
        if thing.cookable:
            out += [Action("cook", i, d, things[d].cooks) for d in cookers]
        out += [Action("treat", i, d, things[d].treats) for d in treaters]
    return out


def admissible(world: World) -> list[Action]:
    return [action for action in candidate_actions(world) if check(world, action) is None]


def command_text(world: World, action: Action) -> str:
    """The canonical command for ``action``, which the parser reads back to the same action."""
    verb, a, b, how = action
    things = world.things
    if verb in ("look", "inventory", "help", "score"):
        return verb
    if verb == "go":
        return f"go {how}"
    if verb == "prepare":
        return "prepare meal"
    name = things[a].name
    if verb == "take":
        return f"take {name} from {things[b].name}" if b >= 0 else f"take {name}"
    if verb == "put":
        return f"put {name} {things[b].prep} {things[b].name}"
    if verb in ("unlock", "lock", "cook"):
        return f"{verb} {name} with {things[b].name}"
    if verb == "cut":
        return f"{CUT_VERBS[how]} {name} with {things[b].name}"
    if verb == "treat":
        word, prep, _ = TREAT_WORDS[how]
        return f"{word} {name} {prep} {things[b].name}"
    return f"{verb} {name}"


# Choice mode lists commands that change the world first, so a cap on the list drops looks, not moves.
VERB_RANK = {verb: rank for rank, verb in enumerate(
    ("go", "take", "open", "unlock", "put", "cut", "cook", "treat", "prepare", "eat", "read", "drop", "close",
     "lock", "look", "inventory", "examine"))}
