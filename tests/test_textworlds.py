"""The text-world family: checkers, planned walkthroughs, the parser, the rules, choice mode, state, text."""

from __future__ import annotations

import pickle
import random
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import rewardgym
from rewardgym.envs.language import InvalidCommand
from rewardgym.envs.textworlds import rules
from rewardgym.envs.textworlds.env import TextWorldEnv
from rewardgym.envs.textworlds.generator import SPLITS, generate, knobs_for
from rewardgym.envs.textworlds.parser import VERBS
from rewardgym.envs.textworlds.quests import CoinQuest, CookingQuest
from rewardgym.envs.textworlds.world import GONE, Game, State, World, make_thing
from rewardgym.wrappers.text import TextInterface

TEXT_IDS = [i for i, e in rewardgym.ENV_IDS.items() if e.family == "Text"]
KINDS = ["cooking", "household", "treasure", "coins"]


def test_ids_are_registered():
    assert {"rewardgym/Text-Cooking-v0", "rewardgym/Text-Household-v0", "rewardgym/Text-Treasure-v0",
            "rewardgym/Text-Coins-v0"} <= set(TEXT_IDS)


# -- the env contract ----------------------------------------------------------------------
@pytest.mark.parametrize("env_id", TEXT_IDS)
@pytest.mark.parametrize("action_mode, observation", [("choice", "text"), ("choice", "vector"), ("text", "text")])
def test_gymnasium_checker_passes(env_id, action_mode, observation):
    check_env(gym.make(env_id, action_mode=action_mode, observation=observation).unwrapped, skip_render_check=False)


def test_sb3_checker_passes_in_choice_mode_with_vector_observations():
    env = gym.make("rewardgym/Text-Cooking-v0", action_mode="choice", observation="vector")
    sb3_check_env(env, warn=False)
    obs, _ = env.reset(seed=0)
    assert obs["view"].shape == (512,) and obs["choices"].shape == (64, 64)
    assert obs["view"].sum() > 5 and obs["choices"][0].sum() > 0 and not obs["choices"][-1].any()


def test_make_vec_stacks_vector_observations_and_action_masks():
    envs = gym.make_vec("rewardgym/Text-Coins-v0", num_envs=3, vectorization_mode="sync", action_mode="choice",
                        observation="vector")
    obs, info = envs.reset(seed=0)
    assert obs["view"].shape == (3, 512) and info["action_mask"].shape == (3, 64) and info["_action_mask"].all()
    obs, reward, terminated, truncated, info = envs.step(np.zeros(3, dtype=np.int64))
    assert reward.shape == (3,) and info["action_mask"].dtype == np.int8
    envs.close()


def test_info_holds_the_contract_keys_on_every_step():
    env = gym.make("rewardgym/Text-Cooking-v0", difficulty=3)
    obs, info = env.reset(seed=1)
    for command in ["look", "xyzzy", *info["walkthrough"][:3]]:
        assert info["task"].startswith("You are hungry") and info["success"] is info["won"] is False
        commands = info["admissible_commands"]
        assert commands == sorted(commands) and "look" in commands
        assert info["max_score"] > 0 and info["feedback"] == obs and isinstance(info["walkthrough"], list)
        obs, reward, terminated, truncated, info = env.step(command)
    assert info["moves"] == 4  # "xyzzy" is not a move


def test_same_seed_same_game_in_a_fresh_process_and_different_seeds_differ():
    code = ("import gymnasium as gym, rewardgym; e = gym.make('rewardgym/Text-Treasure-v0', difficulty=4); "
            "o, i = e.reset(seed=7); print(repr((o, i['walkthrough'])))")
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    env = gym.make("rewardgym/Text-Treasure-v0", difficulty=4)
    obs, info = env.reset(seed=7)
    assert there == repr((obs, info["walkthrough"]))
    games = set()
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        games.add((obs, tuple(info["walkthrough"])))
    assert len(games) == 20


def test_reset_without_a_seed_draws_games_from_the_split():
    env = TextWorldEnv("coins", 2, split="test")
    env.reset(seed=3)
    seeds = []
    for _ in range(5):
        env.reset()
        seeds.append(env.game.seed)
    assert all(s >= SPLITS["test"][0] for s in seeds) and len(set(seeds)) == 5
    again = TextWorldEnv("coins", 2, split="test")
    again.reset(seed=3)
    replayed = []
    for _ in range(5):
        again.reset()
        replayed.append(again.game.seed)
    assert replayed == seeds
    train = TextWorldEnv("coins", 2)
    train.reset(seed=3)
    train.reset()
    assert train.game.seed < SPLITS["train"][1]


def test_knobs_override_the_difficulty_preset_and_bad_ones_are_refused():
    env = TextWorldEnv("cooking", 1, n_rooms=7, quest_length=3, max_steps=40)
    env.reset(seed=0)
    assert len(env.game.rooms) == 7 and len(env.game.quest.ingredients) == 3 and env.max_steps == 40
    assert knobs_for("treasure", 5).n_rooms > knobs_for("treasure", 1).n_rooms
    for kwargs in ({"difficulty": 0}, {"difficulty": 6}, {"n_rooms": 0}, {"kind": "chess"}, {"reward": "big"},
                   {"action_mode": "mouse"}, {"goal": "paint"}, {"quest_length": 9}):
        with pytest.raises(ValueError):
            TextWorldEnv(**kwargs)


def test_truncated_at_max_steps_counting_refused_commands():
    env = gym.make("rewardgym/Text-Coins-v0", max_steps=3)
    env.reset(seed=0)
    flags = [env.step(command)[2:4] for command in ("look", "xyzzy", "look")]
    assert flags == [(False, False), (False, False), (False, True)]


# -- walkthroughs ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_every_walkthrough_wins_with_the_full_score(kind):
    """200 games per kind, 40 per difficulty: each walkthrough command is admissible when played,
    and the dense rewards add up to max_score on the winning step."""
    for difficulty in range(1, 6):
        env = TextWorldEnv(kind, difficulty)
        for seed in range(difficulty * 1000, difficulty * 1000 + 40):
            obs, info = env.reset(seed=seed)
            walkthrough, total = info["walkthrough"], 0.0
            assert 0 < len(walkthrough) < env.max_steps / 2
            for k, command in enumerate(walkthrough):
                assert command in info["admissible_commands"], (seed, command)
                obs, reward, terminated, truncated, info = env.step(command)
                total += reward
                assert terminated == (k == len(walkthrough) - 1) and not truncated, (seed, command, obs)
            assert info["won"] and info["success"] and not info["lost"]
            assert total == info["score"] == info["max_score"] > 0


def test_sparse_reward_pays_one_on_winning_only():
    env = gym.make("rewardgym/Text-Cooking-v0", difficulty=3, reward="sparse")
    obs, info = env.reset(seed=5)
    rewards = [env.step(command)[1] for command in info["walkthrough"]]
    assert rewards == [0.0] * (len(rewards) - 1) + [1.0]


def test_choice_mode_walkthrough_wins_on_the_hardest_games():
    for kind in KINDS:
        env = TextWorldEnv(kind, 5, action_mode="choice")
        for seed in range(25):
            obs, info = env.reset(seed=seed)
            for command in info["walkthrough"]:
                assert command in info["choices"], (kind, seed, command)
                obs, reward, terminated, truncated, info = env.step(info["choices"].index(command))
            assert terminated and info["won"]


# -- choice mode -------------------------------------------------------------------------------
def test_choice_mode_mask_and_bad_indices():
    env = gym.make("rewardgym/Text-Household-v0", action_mode="choice", max_choices=40)
    assert env.action_space == gym.spaces.Discrete(40)
    obs, info = env.reset(seed=2)
    n = len(info["choices"])
    mask = info["action_mask"]
    assert mask.dtype == np.int8 and mask.shape == (40,) and mask[:n].all() and not mask[n:].any() and n < 40
    assert info["choices"][0].startswith("go ") or info["choices"][0].startswith("take ")
    assert sorted(info["choices"]) == info["admissible_commands"]  # nothing was capped here
    before = env.unwrapped.get_state()
    obs, reward, terminated, truncated, info = env.step(n)  # in the space, past the list
    assert obs.startswith("There is no command") and reward == 0 and not (terminated or truncated)
    assert env.unwrapped.get_state()["world"] == before["world"]
    for bad in (40, -1, "take mug", 1.5):
        with pytest.raises(ValueError, match="Discrete"):
            env.unwrapped.step(bad)


def test_choice_list_is_capped_keeping_world_changing_commands_first():
    env = TextWorldEnv("cooking", 3, action_mode="choice", max_choices=3)
    obs, info = env.reset(seed=0)
    assert len(info["choices"]) == 3 and info["action_mask"].sum() == 3
    ranks = [rules.VERB_RANK[c.split()[0]] for c in info["choices"]]
    assert ranks == sorted(ranks) and not any(c.startswith(("examine", "look")) for c in info["choices"])


def test_free_text_mode_refuses_a_non_string_naming_the_space():
    env = gym.make("rewardgym/Text-Coins-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="Text"):
        env.unwrapped.step(3)


# -- the parser and the rules, on a hand-built world ---------------------------------------------
def tiny_world() -> World:
    """Kitchen: a table with a red key, a blue key and a knife; a locked red chest holding a gold coin;
    a closed fridge holding a yellow potato; a stove. North, through a locked iron door (the blue
    key's), a pantry with a purple potato."""
    food = {"portable": True, "edible": True, "cuttable": True, "cookable": True}
    things = (
        make_thing("table", "table", supporter=True),  # 0
        make_thing("red key", "key", portable=True, key_of=3),  # 1
        make_thing("blue key", "key", portable=True, key_of=4),  # 2
        make_thing("red chest", "chest", container=True, openable=True),  # 3
        make_thing("iron door", "door", openable=True, door=(0, 1)),  # 4
        make_thing("gold coin", "coin", portable=True),  # 5
        make_thing("fridge", "fridge", container=True, openable=True),  # 6
        make_thing("yellow potato", "potato", **food),  # 7
        make_thing("knife", "knife", portable=True, sharp=True),  # 8
        make_thing("stove", "stove", cooks="fried"),  # 9
        make_thing("purple potato", "potato", **food),  # 10
    )
    n, on_table = len(things), 2
    start = State(room=0, loc=[0, on_table, on_table, 0, GONE, 2 + 3, 0, 2 + 6, on_table, 0, 1],
                  is_open=[False] * n, locked=[i in (3, 4) for i in range(n)], cut=[""] * n, cooked=[""] * n,
                  clean=[True] * n, temp=[0] * n, done=set())
    game = Game(seed=0, kind="coins", rooms=("kitchen", "pantry"), exits=((("north", 1, 4),), (("south", 0, 4),)),
                things=things, quest=CoinQuest(task="Take the gold coin.", max_score=1, coins=(5,)), start=start)
    return World(game)


def play(world: World, command: str) -> str:
    """Run a command; assert that a refused one changed nothing."""
    before = world.state.copy()
    feedback, accepted = rules.execute(world, command)
    if not accepted:
        assert world.state == before, command
    return feedback


def test_ambiguous_names_ask_which_and_change_nothing():
    world = tiny_world()
    assert play(world, "take key") == "Which do you mean, the blue key or the red key?"
    assert play(world, "examine potato") == "You can't see any such thing."  # in the closed fridge
    assert play(world, "take the red key") == "You take the red key from the table."
    assert play(world, "take key") == "You take the blue key from the table."  # the one not yet held
    assert play(world, "drop key") == "Which do you mean, the blue key or the red key?"


@pytest.mark.parametrize("command", ["take red key", "TAKE   THE Red  Key.", "get the red key", "pick up red key",
                                     "pick the red key up", "grab a red key", "take red key from table",
                                     "take red from the table", "  Take red key  "])
def test_take_synonyms_articles_adjectives_and_case(command):
    world = tiny_world()
    assert play(world, command).startswith("You take the red key")
    assert world.held(1) and not world.held(2)


def test_looking_synonyms_give_the_same_answers():
    world = tiny_world()
    assert play(world, "look") == play(world, "l") == play(world, "examine room") == world.describe_room()
    assert "red chest (locked)" in play(world, "look") and "north, through a locked iron door" in play(world, "l")
    assert play(world, "x table") == play(world, "examine the table") == play(world, "look at table")
    assert "blue key" in play(world, "x table")
    assert play(world, "i") == play(world, "inventory") == "You are carrying nothing."


def test_unknown_and_impossible_commands_are_feedback():
    world = tiny_world()
    assert play(world, "xyzzy") == "I don't understand that."
    assert play(world, "") == play(world, "   ") == "I beg your pardon?"
    assert play(world, "take the unicorn") == "You can't see any such thing."
    assert play(world, "open red chest") == "That's locked."
    assert play(world, "take stove") == "The stove is fixed in place."
    assert play(world, "go west") == "You can't go that way."
    assert play(world, "eat knife") == "You need to take the knife first."
    assert play(world, "put") == "What do you want to put?"
    assert play(world, "slice yellow potato") == "You can't see any such thing."  # still in the closed fridge
    assert world.state.moves == 0


@pytest.mark.parametrize("command", ["n", "north", "go north", "walk north", "Go North!", "go to the pantry"])
def test_a_locked_door_needs_its_key(command):
    world = tiny_world()
    assert play(world, command) == "The iron door is locked."
    assert play(world, "open iron door") == "That's locked."
    play(world, "take red key")
    assert play(world, "unlock iron door with red key") == "The red key doesn't fit the iron door."
    assert play(world, "unlock iron door with blue key") == "You are not holding the blue key."
    play(world, "take blue key")
    assert play(world, "unlock the iron door") == "You unlock the iron door with the blue key."  # the key that fits
    assert play(world, command) == "The iron door is closed."
    assert play(world, "open iron door") == "You open the iron door."
    assert play(world, command).startswith("-= Pantry =-") and world.state.room == 1
    assert play(world, "s").startswith("-= Kitchen =-")


def test_chest_key_coin_and_quest_points():
    world = tiny_world()
    play(world, "get red key")
    assert play(world, "unlock chest with key") == "You unlock the red chest with the red key."  # the held key
    assert play(world, "open chest") == "You open the red chest, revealing a gold coin."
    assert play(world, "take coin") == "You take the gold coin from the red chest.\n*** You won! ***"
    assert world.state.won and world.state.score == 1


def test_cutting_cooking_and_containers():
    world = tiny_world()
    play(world, "open fridge")
    play(world, "take potato")
    assert play(world, "slice potato") == "What do you want to slice the yellow potato with?"
    play(world, "take knife")
    assert play(world, "cut potato") == "Do you want to slice, dice or chop the yellow potato?"
    assert play(world, "dice the potato with the knife") == "You dice the yellow potato."
    assert play(world, "chop potato with knife") == "The yellow potato is already diced."
    assert play(world, "roast potato") == "What do you want to roast the yellow potato with?"  # no oven here
    assert play(world, "fry potato") == "You fry the yellow potato with the stove."
    assert play(world, "cook potato with stove") == "You cook the yellow potato again and burn it."
    assert "diced and burned" in play(world, "examine potato")
    assert play(world, "put potato in fridge") == "You put the yellow potato in the fridge."
    play(world, "close fridge")
    assert play(world, "take potato") == "You can't see any such thing."
    assert play(world, "put knife on table") == "You put the knife on the table."


# -- losing at cooking -----------------------------------------------------------------------------
def cooking_env_before(wanted) -> tuple[TextWorldEnv, str]:
    """A cooking game played up to the first walkthrough command for which ``wanted(command)`` holds."""
    for seed in range(200):
        env = TextWorldEnv("cooking", 3)
        obs, info = env.reset(seed=seed)
        for command in info["walkthrough"]:
            if wanted(command):
                return env, command
            env.step(command)
    raise AssertionError("no such step in 200 games")


def test_the_wrong_cut_loses():
    env, command = cooking_env_before(lambda c: c.split()[0] in ("slice", "dice", "chop"))
    verb = command.split()[0]
    wrong = {"slice": "dice", "dice": "chop", "chop": "slice"}[verb]
    obs, reward, terminated, truncated, info = env.step(command.replace(verb, wrong, 1))
    assert terminated and info["lost"] and not info["won"] and not info["success"] and "You lost" in obs
    assert reward == 0.0


def test_the_wrong_cooking_and_burning_lose():
    env, command = cooking_env_before(lambda c: c.startswith("cook") and c.endswith("with stove"))
    state = env.get_state()
    obs, reward, terminated, truncated, info = env.step(command.replace("with stove", "with oven"))
    assert terminated and info["lost"] and "did not ask you to roast" in obs
    env.set_state(state)
    obs, reward, terminated, truncated, info = env.step(command)
    assert not terminated and reward == 1.0
    obs, reward, terminated, truncated, info = env.step(command)
    assert terminated and info["lost"] and "burned" in obs


def test_eating_an_ingredient_loses():
    env, command = cooking_env_before(lambda c: c.startswith("take") and " from " not in c and "knife" not in c
                                      and "cookbook" not in c)
    env.step(command)
    name = command.removeprefix("take ")
    assert name in [env.game.things[i].name for i in env.game.quest.ingredients]
    obs, reward, terminated, truncated, info = env.step(f"eat {name}")
    assert terminated and info["lost"] and "needed" in obs


def test_preparing_the_meal_before_every_step_is_done_loses():
    for seed in range(100):
        env = TextWorldEnv("cooking", 3)
        obs, info = env.reset(seed=seed)
        quest: CookingQuest = env.game.quest
        if any(quest.cuts) or any(quest.cooks):
            break
    for command in info["walkthrough"]:  # everything but the cutting and the cooking
        if command.split()[0] not in ("slice", "dice", "chop", "cook"):
            obs, reward, terminated, truncated, info = env.step(command)
        if command == "prepare meal":
            break
    assert terminated and info["lost"] and "ruined" in obs


# -- fuzzing ------------------------------------------------------------------------------------
FUZZ_ENV = TextWorldEnv("cooking", 3)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 50), text=st.one_of(
    st.text(), st.text(min_size=300, max_size=3000), st.just(""), st.text(alphabet=" \t\n\r"),
    st.builds(lambda verb, rest: f"{verb} {rest}", st.sampled_from(sorted(VERBS)), st.text(max_size=30))))
def test_any_string_is_answered_and_refusals_change_nothing(seed, text):
    env = FUZZ_ENV
    env.reset(seed=seed)
    before = env.get_state()
    obs, reward, terminated, truncated, info = env.step(text)
    assert env.observation_space.contains(obs) and obs == info["feedback"]
    after = env.get_state()
    assert after["steps"] == before["steps"] + 1
    if info["moves"] == before["world"].moves:  # refused: the world is exactly as it was
        assert after["world"] == before["world"] and reward == 0.0 and not terminated


PREPOSITIONS = ["in", "on", "with", "from", "into", "using", "at"]
# One or two words per verb (the synonyms have their own parser test), so no verb drowns the others.
COMMAND_VERBS = ["take", "get", "drop", "put", "place", "open", "close", "unlock", "lock", "eat", "read", "slice",
                 "dice", "chop", "cut", "cook", "fry", "roast", "grill", "clean", "heat", "cool", "examine", "go"]
assert set(COMMAND_VERBS) <= set(VERBS)


SYNONYMS = {"take": ["get", "grab", "pick up"], "put": ["place", "insert"], "examine": ["x", "look at"],
            "go": ["walk", "go to"], "drop": ["discard", "put down"], "close": ["shut"], "eat": ["consume"],
            "cook": ["fry", "roast", "grill"], "in": ["on", "into", "with"], "with": ["using", "in"], "on": ["in"]}


def command_from(world: World, picks: list[int]) -> str:
    """A command-like string from the game's own words. Half the time an admissible command rewritten
    (synonyms, a word dropped, upper case: often still accepted, sometimes not); else a verb, a thing in
    scope by its full name, its noun or one word of it, and sometimes a preposition and a second thing."""
    p = iter(picks + [0] * 9)
    if next(p) % 2:
        options = [rules.command_text(world, a) for a in rules.admissible(world) if a.verb != "examine"]
        words = options[next(p) % len(options)].split()
        for k, w in enumerate(words):
            if w in SYNONYMS and next(p) % 2:
                words[k] = SYNONYMS[w][next(p) % len(SYNONYMS[w])]
        if len(words) > 2 and next(p) % 3 == 0:
            del words[1 + next(p) % (len(words) - 1)]
        text = " ".join(words)
        return text.upper() if next(p) % 4 == 0 else text
    verbs = COMMAND_VERBS
    names = [world.things[i].name for i in world.scope()] or ["meal"]  # an empty room: still a name
    held = [world.things[i].name for i in world.inventory()] or names  # most verbs act on what is held

    def name(pool: list[str]) -> str:
        full = pool[next(p) % len(pool)]
        return [full, full.split()[-1], full.split()[0]][next(p) % 3]

    text = f"{verbs[next(p) % len(verbs)]} {name(held if next(p) % 2 else names)}"
    if next(p) % 2:
        text += f" {PREPOSITIONS[next(p) % len(PREPOSITIONS)]} {name(names)}"
    return text


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(KINDS), seed=st.integers(0, 10_000), walk=st.lists(st.integers(0, 999), max_size=20),
       picks=st.lists(st.integers(0, 10**6), min_size=12, max_size=12))
def test_accepted_commands_do_what_an_admissible_command_does(kind, seed, walk, picks):
    """Free text built from the game's own words: refused -> nothing changes; accepted -> the world
    ends up as one of the admissible commands would leave it (so the admissible list is complete)."""
    game = generate(kind, seed, knobs_for(kind, 3))
    world = World(game)
    for k in walk:  # wander first, along admissible commands
        options = rules.admissible(world)
        rules.perform(world, options[k % len(options)])
        if world.state.won or world.state.lost:
            return
    text = command_from(world, picks)
    before = world.state.copy()
    outcomes = []
    for action in rules.admissible(world):
        trial = World(game, before.copy())
        rules.perform(trial, action)
        outcomes.append(trial.state)
    feedback, accepted = rules.execute(world, text)
    if accepted:
        assert world.state in outcomes, text
    else:
        assert world.state == before, text


def test_admissible_commands_parse_back_to_their_actions():
    """Each admissible command's text, typed in, does exactly what the action does: info's list is playable."""
    rng = random.Random(1)
    for kind in KINDS * 5:
        game = generate(kind, rng.randrange(10_000), knobs_for(kind, 4))
        world = World(game)
        for _ in range(rng.randrange(25)):
            rules.perform(world, rng.choice(rules.admissible(world)))
            if world.state.won or world.state.lost:
                break
        for action in rules.admissible(world):
            by_action, by_text = World(game, world.state.copy()), World(game, world.state.copy())
            rules.perform(by_action, action)
            feedback, accepted = rules.execute(by_text, rules.command_text(world, action))
            assert accepted and by_text.state == by_action.state, (action, feedback)


def test_commands_built_from_game_words_are_often_accepted():
    """Guards the property test above: its commands must reach the rules' effects, not only refusals."""
    rng, accepted, verbs = random.Random(0), 0, set()
    for _ in range(300):
        kind = rng.choice(KINDS)
        world = World(generate(kind, rng.randrange(10_000), knobs_for(kind, 3)))
        for _ in range(rng.randrange(20)):
            options = rules.admissible(world)
            rules.perform(world, rng.choice(options))
        text = command_from(world, [rng.randrange(10**6) for _ in range(12)])
        if rules.execute(world, text)[1]:
            accepted += 1
            verbs.add(rules.parse(text).verb)
    assert accepted > 100 and {"go", "take", "drop", "put", "open", "close", "examine"} <= verbs


# -- state --------------------------------------------------------------------------------------
def test_get_state_set_state_round_trip_continues_identically():
    env = gym.make("rewardgym/Text-Treasure-v0", difficulty=4).unwrapped
    obs, info = env.reset(seed=9)
    rng = random.Random(0)
    for _ in range(10):
        obs, *_, info = env.step(rng.choice(info["admissible_commands"]))
    state = pickle.loads(pickle.dumps(env.get_state()))
    commands = [rng.choice(["look", "xyzzy", "n", "s", "e", "w", "take key", "open door"]) for _ in range(30)]
    first = [env.step(c) for c in commands]
    fresh = gym.make("rewardgym/Text-Treasure-v0", difficulty=4).unwrapped
    for target in (env, fresh):
        target.set_state(state)
        for c, expected in zip(commands, first):
            step = target.step(c)
            assert step[:4] == expected[:4] and step[4] == expected[4]
    env.set_state(state)
    env.reset()
    fresh.set_state(state)
    fresh.reset()
    assert env.game.seed == fresh.game.seed  # the seed generator was restored too


# -- the language interface -----------------------------------------------------------------------
def test_text_interface_plays_a_game_in_free_text():
    env = TextInterface(gym.make("rewardgym/Text-Coins-v0", difficulty=3))
    text, info = env.reset(seed=3)
    assert text.count(info["task"]) == 1 and "Type commands such as" in text and "-= " in text
    text, reward, terminated, truncated, info = env.step("dance wildly")
    # the game's own words, but no turn: what its parser cannot read does not step the env
    assert text == "I don't understand that." and info["invalid_action"]
    for command in info["walkthrough"]:
        text, reward, terminated, truncated, info = env.step(command)
    assert terminated and info["success"] and "You won" in text


def test_text_interface_in_choice_mode_reads_numbers_and_command_text():
    env = TextInterface(gym.make("rewardgym/Text-Household-v0", difficulty=2, action_mode="choice"))
    text, info = env.reset(seed=1)
    assert "Commands:\n  0: " in text and "number or the text" in text
    adapter = env.unwrapped.text_adapter
    first = info["choices"][0]
    assert adapter.parse("0") == 0 and adapter.parse(f"  {first.upper()}. ") == 0
    with pytest.raises(InvalidCommand):
        adapter.parse("sing a song")
    text, reward, terminated, truncated, info = env.step("sing a song")
    assert info["invalid_action"] and "listed commands" in text
    for command in info["walkthrough"]:
        text, reward, terminated, truncated, info = env.step(f"the {command}")
    assert terminated and info["success"]


def test_rewardgym_play_with_piped_input():
    env = gym.make("rewardgym/Text-Treasure-v0", difficulty=3)
    _, info = env.reset(seed=4)
    stdin = "\n".join(["look", "what now?", *info["walkthrough"]]) + "\n"
    out = subprocess.run([sys.executable, "-m", "rewardgym.cli", "play", "rewardgym/Text-Treasure-v0",
                          "--seed", "4", "--env-kwargs", "difficulty=3"], input=stdin, capture_output=True,
                         text=True, check=True).stdout
    assert "I don't understand that." in out and "*** You won! ***" in out and out.rstrip().endswith("success.")


# -- demonstrations ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"action_mode": "choice", "observation": "vector"}])
def test_the_walkthrough_expert_records_winning_demos_that_replay(tmp_path, kwargs):
    demos = rewardgym.collect_demos("rewardgym/Text-Cooking-v0", 3, tmp_path / "demos", seed=40, env_kwargs=kwargs,
                                    progress=False)
    assert demos.success_rate == 1.0
    for k, episode in enumerate(rewardgym.load_demos(tmp_path / "demos")):
        env = gym.make("rewardgym/Text-Cooking-v0", **kwargs)
        obs, info = env.reset(seed=40 + k)
        if not kwargs:
            assert list(episode.actions) == list(info["walkthrough"]) and episode.observations[0] == obs
        for action in episode.actions:
            obs, *_ = env.step(action if isinstance(action, str) else int(action))
        if kwargs:
            np.testing.assert_array_equal(episode.observations["view"][-1], obs["view"])
        else:
            assert episode.observations[-1] == obs


def test_max_choices_without_choices_is_an_error():
    with pytest.raises(ValueError, match="max_choices=16 does nothing with action_mode='text' and observation='text'"):
        gym.make("rewardgym/Text-Coins-v0", max_choices=16)
    assert gym.make("rewardgym/Text-Coins-v0", max_choices=16, action_mode="choice").action_space.n == 16
    gym.make("rewardgym/Text-Coins-v0", max_choices=16, observation="vector").close()  # sizes the command rows
