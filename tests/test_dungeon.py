"""The dungeon family against the env contract, and its game: checkers, NLE's layout, vector == single,
determinism, bad input, messages for their events, invariants under random play, the scripted explorer."""

from __future__ import annotations

import copy
import hashlib
import pickle
import re
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from contract import assert_same_step, assert_vector_equals_single

import rewardgym
from rewardgym.envs.dungeon import content as C
from rewardgym.envs.dungeon import messages as M
from rewardgym.envs.dungeon.core import OBSERVATION_KEYS, DungeonCore
from rewardgym.envs.dungeon.experts import expert_for

DUNGEON_IDS = [i for i, e in rewardgym.ENV_IDS.items() if e.family == "Dungeon"]
NLE_SHAPES = {
    "glyphs": ((21, 79), np.int16), "chars": ((21, 79), np.uint8), "colors": ((21, 79), np.uint8),
    "specials": ((21, 79), np.uint8), "blstats": ((27,), np.int64), "message": ((256,), np.uint8),
    "inv_glyphs": ((55,), np.int16), "inv_strs": ((55, 80), np.uint8), "inv_letters": ((55,), np.uint8),
    "inv_oclasses": ((55,), np.uint8), "tty_chars": ((24, 80), np.uint8), "tty_colors": ((24, 80), np.int8),
    "tty_cursor": ((2,), np.uint8), "glyphs_crop": ((9, 9), np.int16), "chars_crop": ((9, 9), np.uint8),
    "colors_crop": ((9, 9), np.uint8), "specials_crop": ((9, 9), np.uint8),
}


def text(message: np.ndarray) -> str:
    return bytes(message).rstrip(b"\0").decode("latin-1")


def quiet_env(env_id: str = "rewardgym/Dungeon-Score-v0", seed: int = 0, **kwargs):
    """An unwrapped env after reset with its monsters removed and no new ones, for scripted scenes."""
    env = gym.make(env_id, spawn_rate=0.0, **kwargs).unwrapped
    env.reset(seed=seed)
    env.core.state.mon_type[0] = -1
    return env


def floor_neighbour(env) -> tuple[int, int, int]:
    """A compass action and the empty floor square it leads to from the player."""
    s = env.core.state
    for a in range(8):
        y, x = s.py[0] + C.DY[a], s.px[0] + C.DX[a]
        if s.terrain[0, y, x] == C.FLOOR and s.obj_kind[0, y, x] == 0:
            return env.core.action_names.index(C.ACTIONS[a].name), int(y), int(x)
    raise AssertionError("the player has no free floor square around")


def act(env, name: str):
    return env.step(env.core.action_names.index(name))


def put_monster(env, name: str, y: int, x: int, hp: int = 99, slot: int = 0):
    """Place an awake monster; a look (no game time) lets the display catch up with the edit."""
    s = env.core.state
    kind = next(i for i, m in enumerate(C.MONSTERS) if m.name == name)
    s.mon_type[0, slot], s.mon_y[0, slot], s.mon_x[0, slot], s.mon_hp[0, slot] = kind, y, x, hp
    s.mon_awake[0, slot], s.mon_energy[0, slot] = True, 0
    act(env, "LOOK")
    return kind


# -- checkers, registration, spaces ----------------------------------------------------------------
@pytest.mark.parametrize("env_id", ["rewardgym/Dungeon-Score-v0", "rewardgym/Dungeon-Room5x5-v0",
                                    "rewardgym/Dungeon-Room15x15Door-v0"])
def test_gymnasium_and_sb3_checkers_pass(env_id):
    check_env(gym.make(env_id).unwrapped, skip_render_check=False)
    sb3_check_env(gym.make(env_id), warn=False)


def test_every_task_is_registered_and_steps():
    names = {i.split("/")[1].removeprefix("Dungeon-").removesuffix("-v0") for i in DUNGEON_IDS}
    assert {"Score", "Gold", "Staircase", "StaircaseLvl3", "StaircaseLvl4", "Eat", "Scout", "Oracle", "OracleSober",
            "Room5x5", "Room15x15"} <= names
    for env_id in DUNGEON_IDS:
        env = gym.make(env_id)
        obs, info = env.reset(seed=1)
        assert env.observation_space.contains(obs) and isinstance(info["task"], str) and info["task"]
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert isinstance(reward, float) and isinstance(info["success"], bool)


def test_nle_observation_layout():
    env = gym.make("rewardgym/Dungeon-Gold-v0",
                   observation_keys=OBSERVATION_KEYS)
    obs, _ = env.reset(seed=3)
    for key, (shape, dtype) in NLE_SHAPES.items():
        assert obs[key].shape == shape and obs[key].dtype == dtype, key
    x, y = obs["blstats"][C.BL_X], obs["blstats"][C.BL_Y]
    assert obs["glyphs"][y, x] == C.GLYPH_PLAYER and chr(obs["chars"][y, x]) == "@"
    assert chr(obs["tty_chars"][y + 1, x]) == "@" and tuple(obs["tty_cursor"]) == (y + 1, x)
    assert chr(obs["chars_crop"][4, 4]) == "@" and obs["glyphs_crop"][4, 4] == C.GLYPH_PLAYER
    blstats = obs["blstats"]
    assert (blstats[C.BL_HP], blstats[C.BL_HPMAX], blstats[C.BL_DEPTH], blstats[C.BL_GOLD], blstats[C.BL_XP],
            blstats[C.BL_TIME], blstats[C.BL_HUNGER], blstats[C.BL_AC]) == (16, 16, 1, 0, 1, 1, C.NOT_HUNGRY, 6)
    status = bytes(obs["tty_chars"][23]).decode().rstrip()
    assert status == "Dlvl:1 $:0 HP:16(16) Pw:2(2) AC:6 Xp:1/0 T:1"
    assert bytes(obs["tty_chars"][22]).decode().startswith("Agent the Wanderer")
    assert text(obs["message"]).startswith("Hello Agent, welcome to the dungeon!")
    lines = [text(row) for row in obs["inv_strs"] if row.any()]
    assert lines == ["a - a +1 long sword (weapon in hand)", "b - an uncursed +1 ring mail (being worn)",
                     "c - a food ration"]
    assert list(obs["inv_letters"][:3]) == list(b"abc") and obs["inv_oclasses"][3] == C.MAXOCLASSES
    assert list(obs["inv_oclasses"][:3]) == [C.WEAPON_CLASS, C.ARMOR_CLASS, C.FOOD_CLASS]
    assert obs["inv_glyphs"][3] == C.NO_GLYPH
    # Unexplored squares are NetHack's dark stone, as in NLE.
    assert (obs["glyphs"] == C.GLYPH_STONE).mean() > 0.5 and chr(obs["chars"][0, 0]) == " "


@pytest.mark.parametrize("crop_size", [5, 9, 11])
def test_crops_are_the_map_around_the_player_padded_with_stone(crop_size):
    """Crops equal a slice of the full layers around the player, unexplored stone off the map, also at its edges."""
    keys = ("glyphs", "chars", "colors", "specials", "glyphs_crop", "chars_crop", "colors_crop", "specials_crop")
    env = gym.make("rewardgym/Dungeon-Score-v0", observation_keys=keys, crop_size=crop_size)
    env.reset(seed=1)
    core = env.unwrapped.core
    pad = {"glyphs": C.GLYPH_STONE, "chars": ord(" "), "colors": 0, "specials": 0}
    r = crop_size // 2
    for y, x in [(1, 1), (1, 77), (19, 1), (19, 77), (10, 40), (2, 3), (r, 79 - r - 1)]:
        core.state.py[0], core.state.px[0] = y, x
        floor = C.GLYPH_CMAP_OFF + C.FLOOR  # something besides stone around the player
        for memory, value in ((core.state.mem_glyph, floor), (core.state.mem_char, C.GLYPH_CHAR[floor]),
                              (core.state.mem_color, C.GLYPH_COLOR[floor]),
                              (core.state.mem_special, C.GLYPH_SPECIAL[floor])):
            memory[0, y - 1:y + 2, x - 1:x + 2] = value
        obs = core.observe()
        for layer in pad:
            padded = np.pad(obs[layer][0], r, constant_values=pad[layer])
            np.testing.assert_array_equal(obs[layer + "_crop"][0], padded[y:y + crop_size, x:x + crop_size],
                                          err_msg=f"{layer} at {(y, x)}")
            assert obs[layer + "_crop"][0].dtype == obs[layer].dtype


def test_single_env_message_observation_is_the_message_text():
    env = gym.make("rewardgym/Dungeon-Score-v0", observation_keys=("message", "tty_chars"))
    env.reset(seed=2)
    actions = np.random.default_rng(2).integers(0, env.action_space.n, 300)
    shown = set()
    for action in actions:
        obs, _, terminated, truncated, _ = env.step(int(action))
        if terminated or truncated:
            obs, _ = env.reset()
        line = env.unwrapped.message()
        assert text(obs["message"]) == line
        assert bytes(obs["tty_chars"][0]).decode().rstrip() == line[:80].rstrip()
        shown.add(line)
    assert len(shown) > 3


def test_observation_keys_and_action_sets():
    env = gym.make("rewardgym/Dungeon-Score-v0", observation_keys=("glyphs_crop", "blstats"), crop_size=5,
                   actions="reduced")
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"glyphs_crop", "blstats"} and obs["glyphs_crop"].shape == (5, 5)
    assert env.action_space == gym.spaces.Discrete(12)
    assert gym.make("rewardgym/Dungeon-Room5x5-v0").action_space == gym.spaces.Discrete(8)
    env = gym.make("rewardgym/Dungeon-Score-v0", actions=("N", "S", "DOWN"))
    assert env.unwrapped.action_names == ("N", "S", "DOWN")
    for bad in ({"observation_keys": ("glyphs", "screen_descriptions")}, {"actions": "tiny"},
                {"actions": ("N", "FLY")}, {"task": "ascend"}, {"crop_size": 4}, {"oracle_depth": 1},
                {"penalty_mode": "cubic"}, {"layout": "maze"}, {"target_depth": 1}):
        with pytest.raises(ValueError):
            gym.make("rewardgym/Dungeon-Score-v0", **bad)


def test_make_vec_is_native_and_batched():
    envs = gym.make_vec("rewardgym/Dungeon-Score-v0", num_envs=16)
    assert type(envs).__name__ == "DungeonVectorEnv"
    obs, info = envs.reset(seed=0)
    assert obs["glyphs"].shape == (16, 21, 79) and obs["tty_chars"].shape == (16, 24, 80)
    obs, reward, terminated, truncated, info = envs.step(np.arange(16) % 17)
    assert reward.shape == (16,) and info["success"].shape == (16,) and info["_success"].all()
    assert len({obs["glyphs"][i].tobytes() for i in range(16)}) == 16  # one dungeon per seed


# -- vector == N single envs ------------------------------------------------------------------------
@settings(max_examples=12, deadline=None)
@given(env_id=st.sampled_from(["rewardgym/Dungeon-Score-v0", "rewardgym/Dungeon-Gold-v0",
                               "rewardgym/Dungeon-Room5x5-v0", "rewardgym/Dungeon-Room15x15Monster-v0",
                               "rewardgym/Dungeon-Room15x15Door-v0"]),
       seed=st.integers(0, 2**31), num_envs=st.integers(1, 3), max_steps=st.integers(1, 12),
       action_seed=st.integers(0, 1000))
def test_vector_equals_single(env_id, seed, num_envs, max_steps, action_seed):
    n_actions = gym.make(env_id).action_space.n
    actions = np.random.default_rng(action_seed).integers(0, n_actions, size=(2 * max_steps + 6, num_envs))
    assert_vector_equals_single(env_id, seed, actions, max_steps=max_steps)


def test_vector_equals_single_along_explorer_games():
    """The explorer's games (fights, gold, doors, stairs, new levels) are the same alone and batched."""
    seeds, steps = [11, 12, 13], 220
    single, actions = [], np.zeros((steps, len(seeds)), np.int64)
    for i, seed in enumerate(seeds):
        env = gym.make("rewardgym/Dungeon-Gold-v0", max_steps=steps)
        expert = expert_for(env)
        obs, _ = env.reset(seed=seed)
        trajectory = []
        for t in range(steps):
            actions[t, i] = expert.act(obs)
            trajectory.append(env.step(int(actions[t, i])))
            obs = trajectory[-1][0]
        single.append(trajectory)
        assert env.unwrapped.core.state.max_depth[0] >= 2  # the games reach a second level
    envs = gym.make_vec("rewardgym/Dungeon-Gold-v0", num_envs=len(seeds), max_steps=steps)
    envs.reset(seed=seeds[0])
    for t in range(steps):
        step = envs.step(actions[t])
        for i in range(len(seeds)):
            assert_same_step(step, single[i][t], i)


# -- determinism, seeds, state ------------------------------------------------------------------------
_PROGRAM = """
import hashlib, numpy as np, gymnasium as gym, rewardgym
env = gym.make('rewardgym/Dungeon-Score-v0')
obs, _ = env.reset(seed={seed})
h = hashlib.sha256()
rng = np.random.default_rng(0)
for a in rng.integers(0, 17, size=300):
    obs, r, term, trunc, _ = env.step(int(a))
    h.update(obs['tty_chars'].tobytes()); h.update(obs['glyphs'].tobytes()); h.update(str(r).encode())
    if term or trunc:
        obs, _ = env.reset()
print(h.hexdigest())
"""


def test_same_seed_same_game_in_a_fresh_process():
    runs = [subprocess.run([sys.executable, "-c", _PROGRAM.format(seed=7)], capture_output=True, text=True,
                           check=True).stdout.strip() for _ in range(2)]
    namespace: dict = {}
    from contextlib import redirect_stdout
    from io import StringIO

    buffer = StringIO()
    with redirect_stdout(buffer):
        exec(_PROGRAM.format(seed=7), namespace)
    assert runs[0] == runs[1] == buffer.getvalue().strip()
    buffer = StringIO()
    with redirect_stdout(buffer):
        exec(_PROGRAM.format(seed=8), namespace)
    assert buffer.getvalue().strip() != runs[0]


def test_seeds_choose_dungeons_and_reset_without_seed_moves_on():
    env = gym.make("rewardgym/Dungeon-Score-v0").unwrapped
    env.reset(seed=1_000_000)
    test_level = env.core.state.terrain.copy()
    env.reset()
    assert not np.array_equal(test_level, env.core.state.terrain)
    env.reset(seed=1_000_000)
    np.testing.assert_array_equal(test_level, env.core.state.terrain)
    env.reset(seed=0)
    assert not np.array_equal(test_level, env.core.state.terrain)


def test_get_state_set_state_round_trip():
    env = gym.make("rewardgym/Dungeon-Score-v0").unwrapped
    env.reset(seed=5)
    rng = np.random.default_rng(0)
    for a in rng.integers(0, 17, size=60):
        env.step(int(a))
    snapshot = pickle.loads(pickle.dumps(env.get_state()))
    future_actions = rng.integers(0, 17, size=80)
    future = [env.step(int(a)) for a in future_actions]
    env.set_state(snapshot)
    again = [env.step(int(a)) for a in future_actions]
    for (o1, r1, t1, u1, i1), (o2, r2, t2, u2, i2) in zip(future, again):
        assert (r1, t1, u1, i1) == (r2, t2, u2, i2)
        for key in o1:
            np.testing.assert_array_equal(o1[key], o2[key])
    # A vector env's env restores into another slot.
    envs = gym.make_vec("rewardgym/Dungeon-Score-v0", num_envs=2)
    envs.reset(seed=5)
    state = envs.get_state(0)
    envs.set_state(1, state)
    obs, *_ = envs.step(np.array([3, 3]))
    np.testing.assert_array_equal(obs["glyphs"][0], obs["glyphs"][1])


@pytest.mark.parametrize(("field", "value", "message"), [
    ("py", 0, "must lie in [1, 19]"), ("px", 500, "must lie in [1, 77]"), ("terrain", None, "must lie in [0, 16]"),
    ("mon_type", 99, "must lie in [-1, 17]"), ("msg_n", 9, "must lie in [0, 4]"), ("room_box", None, "rows must lie"),
    ("depth", 0, "must lie in [1, 60]"), ("hp", "many", "is not int64 values"), ("key", [1, 2], "has shape"),
])  # fmt: skip
def test_a_corrupt_snapshot_is_one_clear_error_and_changes_nothing(field, value, message):
    """The compiled kernels do not check bounds: set_state refuses what would make them read past the state."""
    env = gym.make("rewardgym/Dungeon-Score-v0").unwrapped
    env.reset(seed=5)
    snapshot = env.get_state()
    before = {k: v.copy() for k, v in env.core.get_state(0).items()}
    bad = {**snapshot["core"]}
    if field == "terrain":
        bad[field] = np.where(np.arange(bad[field].size).reshape(bad[field].shape) == 7, 17, bad[field])
    elif field == "room_box":
        bad[field] = bad[field].copy()
        bad[field][0] = (30, 1, 40, 5)
    elif np.ndim(bad[field]) and not isinstance(value, list):
        bad[field] = bad[field].copy()
        bad[field].flat[0] = value
    else:
        bad[field] = value
    with pytest.raises(ValueError, match=re.escape(message)):
        env.set_state({**snapshot, "core": bad})
    for k, v in env.core.get_state(0).items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
    env.set_state(snapshot)  # the good one still restores


def test_envs_pickle_and_deepcopy_into_independent_games():
    env = gym.make("rewardgym/Dungeon-Score-v0")
    env.reset(seed=3)
    for copy_of in (copy.deepcopy, lambda e: pickle.loads(pickle.dumps(e))):
        twin = copy_of(env)
        for action in (1, 2, 13, 0):
            mine, theirs = env.step(action), twin.step(action)
            for key in mine[0]:
                np.testing.assert_array_equal(mine[0][key], theirs[0][key])
            assert mine[1:4] == theirs[1:4]
        twin.step(3)  # the copy has its own arrays
        assert env.unwrapped.core.state.t[0] + 1 == twin.unwrapped.core.state.t[0]
    envs = gym.make_vec("rewardgym/Dungeon-Room5x5-v0", num_envs=3)
    envs.reset(seed=0)
    twin = copy.deepcopy(envs)
    actions = np.array([1, 2, 3])
    np.testing.assert_array_equal(envs.step(actions)[0]["glyphs"], twin.step(actions)[0]["glyphs"])


def test_observing_an_env_the_batch_lacks_is_an_index_error():
    from rewardgym.envs.dungeon.display import observe

    core = gym.make_vec("rewardgym/Dungeon-Room5x5-v0", num_envs=2).unwrapped.core
    core.reset(np.ones(2, bool), np.arange(2, dtype=np.uint64))
    for envs in ([2], [-1], [0, 5]):
        with pytest.raises(IndexError, match=r"env indices must lie in \[0, 2\)"):
            observe(core, np.array(envs), ("glyphs", "tty_chars"))
    assert observe(core, np.array([1]), ("glyphs",))["glyphs"].shape == (1, 21, 79)


def test_the_core_refuses_actions_past_its_action_set():
    core = gym.make_vec("rewardgym/Dungeon-Room5x5-v0", num_envs=3).unwrapped.core
    core.reset(np.ones(3, bool), np.arange(3, dtype=np.uint64))
    for actions in ([0, 1, 99], [-1, 0, 0], [0, 1]):
        with pytest.raises(ValueError, match="actions must be 3 ints"):
            core.step(np.array(actions), np.ones(3, bool))
    single = gym.make("rewardgym/Dungeon-Room5x5-v0").unwrapped.core
    with pytest.raises(ValueError, match=r"actions must be 1 ints in \[0, 8\)"):
        single.step(np.array([8]), np.ones(1, bool))


# -- bad input --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("action", [17, -1, 2.5, "3", None, np.array([1, 2])])
def test_invalid_action_raises_naming_the_space(action):
    env = gym.make("rewardgym/Dungeon-Score-v0").unwrapped
    env.reset(seed=0)
    before = pickle.dumps(env.get_state())
    with pytest.raises(ValueError, match=r"Discrete\(17\)"):
        env.step(action)
    assert pickle.dumps(env.get_state()) == before


def test_invalid_vector_actions_raise_and_change_nothing():
    envs = gym.make_vec("rewardgym/Dungeon-Score-v0", num_envs=3)
    envs.reset(seed=0)
    before = [pickle.dumps(envs.get_state(i)) for i in range(3)]
    for bad in (np.array([0, 1, 17]), np.array([0, 1]), np.array([0.5, 1, 2])):
        with pytest.raises(ValueError, match=r"MultiDiscrete"):
            envs.step(bad)
    assert [pickle.dumps(envs.get_state(i)) for i in range(3)] == before


# -- the game: messages for their events -----------------------------------------------------------------
def test_gold_is_picked_up_walking_onto_it():
    env = quiet_env("rewardgym/Dungeon-Gold-v0")
    move, y, x = floor_neighbour(env)
    env.core.state.obj_kind[0, y, x], env.core.state.obj_qty[0, y, x] = C.GOLD, 7
    obs, reward, *_ = env.step(move)
    assert text(obs["message"]) == "$ - 7 gold pieces." and reward == 7 and obs["blstats"][C.BL_GOLD] == 7
    assert any(text(row) == "$ - 7 gold pieces" for row in obs["inv_strs"])


def test_food_is_seen_picked_up_and_eaten():
    env = quiet_env("rewardgym/Dungeon-Eat-v0")
    move, y, x = floor_neighbour(env)
    env.core.state.obj_kind[0, y, x], env.core.state.obj_qty[0, y, x] = C.CORPSE_OFF + C.MONSTERS.index(
        next(m for m in C.MONSTERS if m.name == "jackal")), 1
    obs, *_ = env.step(move)
    assert text(obs["message"]) == "You see here a jackal corpse."
    assert obs["glyphs"][y, x] == C.GLYPH_PLAYER and obs["specials"][y, x] == 0
    obs, reward, *_ = act(env, "PICKUP")
    assert text(obs["message"]) == "d - a jackal corpse." and reward == 0
    obs, reward, *_ = act(env, "PICKUP")
    assert text(obs["message"]) == "There is nothing here to pick up." and reward == -0.01
    env.core.state.nutrition[0] = 400
    obs, reward, *_ = act(env, "EAT")  # the food ration 'c' comes first in the pack
    assert text(obs["message"]) == "This food really hits the spot!" and reward == 799  # 800, less the turn
    obs, reward, *_ = act(env, "EAT")
    assert text(obs["message"]).startswith("This jackal corpse tastes terrible!") and reward == 249
    obs, reward, *_ = act(env, "EAT")
    assert text(obs["message"]) == "You don't have anything to eat." and reward == -0.01


def test_walls_doors_and_stairs_messages():
    env = quiet_env()
    s = env.core.state
    for a in range(8):  # walk into the nearest wall
        for _ in range(30):
            obs, reward, *_ = env.step(a)
            if text(obs["message"]) in ("It's a wall.", "It's solid stone."):
                break
        else:
            continue
        break
    assert text(obs["message"]) in ("It's a wall.", "It's solid stone.") and reward == -0.01
    obs, *_ = act(env, "DOWN")
    assert text(obs["message"]) == "You can't go down here."
    s.py[0], s.px[0] = s.down_y[0], s.down_x[0]
    obs, reward, *_ = act(env, "LOOK")
    assert text(obs["message"]) == "There is a staircase down here."
    obs, reward, *_ = act(env, "DOWN")
    assert text(obs["message"]) == "You descend the stairs." and obs["blstats"][C.BL_DEPTH] == 2
    assert reward == 50  # Score: 50 points for a new level
    obs, *_ = act(env, "UP")
    assert text(obs["message"]) == "You climb up the stairs." and obs["blstats"][C.BL_DEPTH] == 1
    s.py[0], s.px[0] = s.up_y[0], s.up_x[0]
    obs, *_ = act(env, "UP")
    assert "cannot leave" in text(obs["message"]) and obs["blstats"][C.BL_DEPTH] == 1


def test_fighting_messages_experience_and_death():
    env = quiet_env()
    s = env.core.state
    move, y, x = floor_neighbour(env)
    put_monster(env, "newt", y, x, hp=1)
    seen = set()
    for _ in range(40):
        obs, reward, *_ = env.step(move)
        seen.add(text(obs["message"]).split("  ")[0])
        if s.mon_type[0, 0] < 0:
            break
    assert "You kill the newt!" in seen and obs["blstats"][C.BL_EXP] == 1 and reward == 4
    seen.discard("You kill the newt!")
    assert seen <= {"You miss the newt.", "The newt bites!", "The newt misses!", ""}
    put_monster(env, "jackal", y, x)
    s.hp[0] = 1
    for _ in range(60):
        obs, reward, terminated, truncated, info = act(env, "WAIT")
        if terminated:
            break
    assert terminated and info["death"] and text(obs["message"]) == "The jackal bites!  You die..."
    assert obs["blstats"][C.BL_HP] == 0


def test_hunger_hallucination_and_healing_messages():
    env = quiet_env()
    s = env.core.state
    s.nutrition[0] = 151
    obs, *_ = act(env, "WAIT")
    assert text(obs["message"]) == "You are beginning to feel hungry." and obs["blstats"][C.BL_HUNGER] == C.HUNGRY
    assert bytes(obs["tty_chars"][23]).decode().rstrip().endswith(" Hungry")
    for kind, letter in ((C.POTION_HALLUCINATION, ord("d")), (C.POTION_HEALING, ord("e"))):
        s.inv_count[0, kind], s.inv_letter[0, kind] = 1, letter
    s.hp[0] = 5
    obs, *_ = act(env, "QUAFF")
    assert text(obs["message"]) == "Oh wow!  Everything looks so cosmic!"
    assert obs["blstats"][C.BL_CONDITION] & C.BL_MASK_HALLU
    assert bytes(obs["tty_chars"][23]).decode().rstrip().endswith(" Hungry Hallu")
    obs, *_ = act(env, "QUAFF")
    assert text(obs["message"]) == "You feel better." and obs["blstats"][C.BL_HP] > 5
    obs, *_ = act(env, "QUAFF")
    assert text(obs["message"]) == "You don't have anything to drink."
    s.hallu[0] = 1
    obs, *_ = act(env, "WAIT")
    assert text(obs["message"]) == "Everything looks SO boring now." and not obs["blstats"][C.BL_CONDITION]
    s.nutrition[0] = C.STARVE_AT
    obs, reward, terminated, truncated, info = act(env, "WAIT")
    assert text(obs["message"]).endswith("You die from starvation.") and terminated and info["death"]


def test_scrolls_map_and_teleport():
    env = quiet_env("rewardgym/Dungeon-Scout-v0")
    s = env.core.state
    for kind, letter in ((C.SCROLL_MAGIC_MAPPING, ord("d")), (C.SCROLL_TELEPORTATION, ord("e"))):
        s.inv_count[0, kind], s.inv_letter[0, kind] = 1, letter
    obs, reward, *_ = act(env, "READ")
    assert text(obs["message"]) == "A map coalesces in your mind!" and reward > 50
    assert (obs["chars"] == ord(">")).sum() == 1  # the staircase down is on the map now
    where = (s.py[0], s.px[0])
    obs, reward, *_ = act(env, "READ")
    assert text(obs["message"]) == "Your position suddenly seems very uncertain!" and (s.py[0], s.px[0]) != where
    obs, *_ = act(env, "READ")
    assert text(obs["message"]) == "You don't have anything to read."


def test_scout_pays_once_per_square():
    env = quiet_env("rewardgym/Dungeon-Scout-v0")
    s = env.core.state
    s.py[0], s.px[0] = s.down_y[0], s.down_x[0]
    rewards = [act(env, "DOWN")[1]]
    for _ in range(2):
        rewards += [act(env, "UP")[1], act(env, "DOWN")[1]]
    # Level 2's first glance pays; going back and forth pays nothing more (levels are scored by the most
    # squares seen on them, so the smaller first glance of level 1's other room does not pay either).
    assert rewards[0] > 10 and rewards[1:] == [0.0, 0.0, 0.0, 0.0]


# -- tasks ---------------------------------------------------------------------------------------------------
def test_room_task_corner_to_corner():
    env = gym.make("rewardgym/Dungeon-Room5x5-v0")
    obs, info = env.reset(seed=0)
    assert info["task"] == "Reach the staircase down (>) in this room."
    rewards = [env.step(env.unwrapped.action_names.index("SE"))[1] for _ in range(3)]
    obs, reward, terminated, truncated, info = env.step(env.unwrapped.action_names.index("SE"))
    assert rewards == [0.0, 0.0, 0.0] and reward == 1.0 and terminated and info["success"]
    env.reset(seed=1)
    for _ in range(100):
        obs, reward, terminated, truncated, info = env.step(env.unwrapped.action_names.index("N"))
    assert truncated and not terminated and not info["success"]  # MiniHack's 20 x size steps


def test_door_room_puts_a_closed_door_between_the_player_and_the_stairs():
    envs = gym.make_vec("rewardgym/Dungeon-Room15x15Door-v0", num_envs=64)
    obs, _ = envs.reset(seed=5)
    s = envs.unwrapped.core.state
    wall = (C.COLS - 17) // 2 + 1 + 7  # the room's left wall, then 7 columns west of the dividing wall
    column = s.terrain[:, 3:18, wall]  # the room's 15 rows
    assert ((column == C.VWALL) | (column == C.CLOSED_DOOR_V)).all()
    assert ((column == C.CLOSED_DOOR_V).sum(axis=1) == 1).all()
    assert len(set(np.argmax(column == C.CLOSED_DOOR_V, axis=1))) > 5  # the door's row is drawn per game
    assert (s.px < wall).all() and (s.down_x > wall).all()
    assert len(set(zip(s.py, s.px))) > 30 and len(set(zip(s.down_y, s.down_x))) > 30
    # lit, but the stairs' room is another room: not seen from the start
    assert not (obs["glyphs"] == C.GLYPH_CMAP_OFF + C.STAIRS_DOWN).any()
    env = gym.make("rewardgym/Dungeon-Room15x15Door-v0")
    obs, info = env.reset(seed=0)
    assert info["task"].startswith("Open the door (+) in the wall")
    explorer = expert_for(env)
    messages = []
    for _ in range(300):
        obs, reward, terminated, truncated, info = env.step(explorer.act(obs))
        messages.append(text(obs["message"]))
        if terminated or truncated:
            break
    assert terminated and reward == 1.0 and info["success"]
    assert "The door opens." in messages
    with pytest.raises(ValueError, match="room_door shape the room layout"):
        gym.make("rewardgym/Dungeon-Score-v0", room_door=True)
    with pytest.raises(ValueError, match="room_size >= 3"):
        gym.make("rewardgym/Dungeon-Room5x5-v0", room_door=True, room_size=2)


def test_staircase_task_reward_and_time_penalty_settings():
    env = quiet_env("rewardgym/Dungeon-Staircase-v0")
    s = env.core.state
    _, reward, *_ = act(env, "LOOK")
    assert reward == 0.0  # Motif's goal tasks have no step penalty
    s.py[0], s.px[0] = s.down_y[0], s.down_x[0]
    obs, reward, terminated, truncated, info = act(env, "DOWN")
    assert reward == 50.0 and terminated and info["success"] and info["depth_reached"] == 2
    for mode, expected in (("constant", [-0.01, -0.01, -0.01]), ("linear", [-0.01, -0.02, -0.03]),
                           ("square", [-0.01, -0.04, -0.09]), ("always", [-0.01, -0.01, -0.01])):
        env = quiet_env(penalty_mode=mode)
        assert [act(env, "LOOK")[1] for _ in range(3)] == pytest.approx(expected)
    env = quiet_env(penalty_step=0.0, penalty_time=-0.5)
    assert act(env, "WAIT")[1] == -0.5 and act(env, "LOOK")[1] == 0.0


def test_oracle_level_and_the_hallucination_probe():
    env = quiet_env("rewardgym/Dungeon-Oracle-v0", oracle_depth=2)
    s = env.core.state
    s.py[0], s.px[0] = s.down_y[0], s.down_x[0]
    obs, reward, *_ = act(env, "DOWN")
    assert (s.mon_type[0] == C.ORACLE).sum() == 1 and (s.terrain[0] == C.FOUNTAIN).sum() == 4
    assert reward == 0.0
    # The probe: a hallucinated Oracle next to the player counts for Oracle, not for OracleSober.
    results = {}
    for task in ("Oracle", "OracleSober"):
        env = quiet_env(f"rewardgym/Dungeon-{task}-v0")
        s = env.core.state
        move, y, x = floor_neighbour(env)
        lichen = put_monster(env, "lichen", y, x)
        s.hallu[0] = 5000
        for _ in range(300):
            obs, reward, terminated, truncated, info = act(env, "WAIT")
            if terminated:
                break
        results[task] = (terminated, reward, info["success"])
        assert obs["glyphs"][y, x] != C.GLYPH_MON_OFF + lichen or not terminated
    assert results["Oracle"] == (True, 50.0, True)
    assert results["OracleSober"] == (False, 0.0, False)


def test_explorer_reaches_the_oracle():
    env = gym.make("rewardgym/Dungeon-OracleSober-v0", oracle_depth=2)
    expert = expert_for(env)
    obs, _ = env.reset(seed=1_000_003)
    for _ in range(1500):
        obs, reward, terminated, truncated, info = env.step(expert.act(obs))
        if terminated or truncated:
            break
    assert info["success"] and reward == 50.0
    x, y = obs["blstats"][:2]
    assert (obs["glyphs"][y - 1:y + 2, x - 1:x + 2] == C.GLYPH_ORACLE).any()


def test_explorer_reaches_depth_two_on_most_test_seeds():
    successes, gold = 0, 0
    for seed in range(1_000_000, 1_000_012):
        env = gym.make("rewardgym/Dungeon-Staircase-v0")
        expert = expert_for(env)
        obs, info = env.reset(seed=seed)
        for _ in range(2000):
            obs, reward, terminated, truncated, info = env.step(expert.act(obs))
            if terminated or truncated:
                break
        successes += info["success"]
        gold += info["gold"] > 0
    assert successes >= 11 and gold >= 10


@pytest.mark.slow
def test_explorer_goes_deep_and_finds_the_oracle_on_most_seeds():
    deep, oracle = 0, 0
    for seed in range(1_000_000, 1_000_030):
        for env_id in ("rewardgym/Dungeon-StaircaseLvl4-v0", "rewardgym/Dungeon-OracleSober-v0"):
            env = gym.make(env_id)
            expert = expert_for(env)
            obs, info = env.reset(seed=seed)
            for _ in range(5000):
                obs, reward, terminated, truncated, info = env.step(expert.act(obs))
                if terminated or truncated:
                    break
            if "Lvl4" in env_id:
                deep += info["success"]
            else:
                oracle += info["success"]
    assert deep >= 25 and oracle >= 20


# -- random play -------------------------------------------------------------------------------------------
def _check_invariants(envs, obs, info):
    s = envs.core.state
    rows = np.arange(envs.num_envs)
    assert (s.hp >= 0).all() and (s.hp <= s.maxhp).all() and (s.gold >= 0).all()
    assert ((s.py >= 1) & (s.py < C.ROWS - 1) & (s.px >= 1) & (s.px < C.COLS - 1)).all()
    assert C.WALKABLE[s.terrain[rows, s.py, s.px]].all()
    alive = s.mon_type >= 0
    b, m = np.nonzero(alive)
    assert C.WALKABLE[s.terrain[b, s.mon_y[b, m], s.mon_x[b, m]]].all()
    assert not ((s.mon_y[b, m] == s.py[b]) & (s.mon_x[b, m] == s.px[b])).any()
    squares = b * 10_000 + s.mon_y[b, m] * 100 + s.mon_x[b, m]
    assert len(np.unique(squares)) == len(squares)  # one monster a square
    assert (s.inv_count >= 0).all() and (s.obj_qty >= 0).all() and (s.nutrition <= 2000).all()
    bl = obs["blstats"]
    assert (bl[:, C.BL_HP] == s.hp).all() and (bl[:, C.BL_X] == s.px).all() and (bl[:, C.BL_GOLD] == s.gold).all()
    assert (obs["glyphs"][rows, bl[:, C.BL_Y], bl[:, C.BL_X]] == C.GLYPH_PLAYER).all()
    assert ((obs["glyphs"] >= 0) & (obs["glyphs"] < C.MAX_GLYPH)).all()
    assert info["success"].dtype == bool


@pytest.mark.parametrize("env_id, kwargs", [
    ("rewardgym/Dungeon-Score-v0", {"max_steps": 400}),
    ("rewardgym/Dungeon-Room15x15Monster-v0", {"actions": "full"}),
])
def test_random_play_keeps_the_invariants(env_id, kwargs):
    """10k random steps across 50 seeds raise nothing and keep the state consistent."""
    envs = gym.make_vec(env_id, num_envs=50, **kwargs)
    obs, info = envs.reset(seed=123)
    rng = np.random.default_rng(0)
    messages = set()
    for t in range(200):
        obs, reward, terminated, truncated, info = envs.step(rng.integers(0, envs.single_action_space.n, 50))
        assert np.isfinite(reward).all()
        _check_invariants(envs, obs, info)
        if t % 50 == 0:
            assert envs.observation_space.contains(obs)
        messages.update(text(m) for m in obs["message"])
    assert len(messages) > 10


def test_random_play_with_potions_scrolls_and_descents():
    """Random players that carry potions and scrolls and stand on stairs reach every kind of event."""
    envs = gym.make_vec("rewardgym/Dungeon-Score-v0", num_envs=40, max_steps=300)
    envs.reset(seed=7)
    s = envs.core.state
    for kind, letter in ((C.POTION_HALLUCINATION, ord("d")), (C.SCROLL_TELEPORTATION, ord("e")),
                         (C.SCROLL_MAGIC_MAPPING, ord("f")), (C.POTION_HEALING, ord("g"))):
        s.inv_count[:, kind], s.inv_letter[:, kind] = 3, letter
    s.py[:20], s.px[:20] = s.down_y[:20], s.down_x[:20]
    rng = np.random.default_rng(1)
    depths = set()
    for _ in range(250):
        obs, reward, terminated, truncated, info = envs.step(rng.integers(0, 17, 40))
        _check_invariants(envs, obs, info)
        depths.update(obs["blstats"][:, C.BL_DEPTH].tolist())
    assert max(depths) >= 2


@pytest.mark.slow
def test_long_random_play_keeps_the_invariants():
    envs = gym.make_vec("rewardgym/Dungeon-Score-v0", num_envs=256, max_steps=2000)
    obs, info = envs.reset(seed=99)
    rng = np.random.default_rng(2)
    for _ in range(400):
        obs, reward, terminated, truncated, info = envs.step(rng.integers(0, 17, 256))
        _check_invariants(envs, obs, info)


# -- text ------------------------------------------------------------------------------------------------------
def test_text_paths_agree():
    """The compiled message, status lines and inventory equal the strings of the text interface."""
    from rewardgym.envs.dungeon.display import compose_inventory, compose_message, compose_status

    envs = gym.make_vec("rewardgym/Dungeon-Score-v0", num_envs=64, max_steps=200)
    envs.reset(seed=3)
    s = envs.core.state
    s.inv_count[:, C.APPLE] = np.arange(64) % 3
    s.inv_letter[:, C.APPLE] = np.where(np.arange(64) % 3, ord("Z"), 0)
    rng = np.random.default_rng(3)
    message, line1, line2 = np.empty(256, np.uint8), np.empty(80, np.uint8), np.empty(80, np.uint8)
    glyphs, inv_letters, oclasses = np.empty(55, np.int16), np.empty(55, np.uint8), np.empty(55, np.uint8)
    strs = np.empty((55, 80), np.uint8)
    for _ in range(30):
        envs.step(rng.integers(0, 17, 64))
        for i in range(64):
            compose_message(message, s.msg_code[i], s.msg_arg[i], s.msg_num[i], s.msg_letter[i])
            expected = M.message_line(s.msg_code[i], s.msg_arg[i], s.msg_num[i], s.msg_letter[i])
            assert bytes(message).rstrip(b"\0").decode("latin-1") == expected[:256]
            compose_status(line1, line2, s.xlvl[i], envs.core.score()[i], s.depth[i], s.gold[i], s.hp[i],
                           s.maxhp[i], s.xp[i], s.hunger[i], s.hallu[i] > 0, s.time[i])
            text1, text2 = M.status_text(s.xlvl[i], envs.core.score()[i], s.depth[i], s.gold[i], s.hp[i], s.maxhp[i],
                                         2, 2, 6, s.xp[i], s.time[i], s.hunger[i], s.hallu[i] > 0)
            assert (bytes(line1).decode(), bytes(line2).decode()) == (text1[:80].ljust(80), text2[:80].ljust(80))
            counts, letters = s.inv_count[i].copy(), s.inv_letter[i].copy()
            counts[C.GOLD], letters[C.GOLD] = s.gold[i], ord("$")
            compose_inventory(glyphs, inv_letters, oclasses, strs, s.inv_count[i], s.inv_letter[i], s.gold[i])
            lines = M.inventory_lines(counts, letters)
            assert [bytes(row).rstrip(b"\0").decode() for row in strs[:len(lines)]] == [line for _, line in lines]
            kinds = np.array([kind for kind, _ in lines], np.int64)
            np.testing.assert_array_equal(glyphs[:len(lines)], C.GLYPH_OBJ_OFF + kinds)
            np.testing.assert_array_equal(inv_letters[:len(lines)], letters[kinds])
            np.testing.assert_array_equal(oclasses[:len(lines)], C.ITEM_CLASS[kinds])
            assert (glyphs[len(lines):] == C.NO_GLYPH).all() and not strs[len(lines):].any()
            assert (oclasses[len(lines):] == C.MAXOCLASSES).all() and not inv_letters[len(lines):].any()
    # numbers past what the game reaches, and long message runs, are cut as the rows require
    compose_status(line1, line2, 30, 10**12, 60, 10**11, 999, 999, 10**9, 6, True, 10**10)
    text1, text2 = M.status_text(30, 10**12, 60, 10**11, 999, 999, 2, 2, 6, 10**9, 10**10, 6, True)
    assert bytes(line1).decode() == text1.replace(str(10**12), "9999999999")[:80].ljust(80)
    assert bytes(line2).decode() == text2.replace(str(10**11), "9999999999").replace(str(10**10), "9999999999")[
        :80].ljust(80)


def test_messages_decode_and_ansi_render():
    env = gym.make("rewardgym/Dungeon-Score-v0", render_mode="ansi")
    env.reset(seed=0)
    assert env.unwrapped.message().startswith("Hello Agent")
    picture = env.render()
    plain = __import__("re").sub(r"\x1b\[[0-9;]*m", "", picture).splitlines()
    assert len(plain) == 24 and plain[0].startswith("Hello Agent") and plain[23].startswith("Dlvl:1 $:0 HP:16(16)")
    assert "@" in "".join(plain[1:22]) and "\x1b[" in picture
    digest = hashlib.sha256(picture.encode()).hexdigest()
    env.reset(seed=0)
    assert hashlib.sha256(env.render().encode()).hexdigest() == digest


# -- pictures and words ----------------------------------------------------------------------------------------
def test_rgb_array_draws_the_terminal_in_its_colours():
    from rewardgym.envs.dungeon.render import CELL_H, CELL_W, PALETTE

    env = gym.make("rewardgym/Dungeon-Score-v0", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (24 * CELL_H, 80 * CELL_W, 3) and frame.dtype == np.uint8
    tty = env.unwrapped.core.observe()
    s = env.unwrapped.core.state
    y, x = int(s.py[0]) + 1, int(s.px[0])  # the player's cell on the tty
    cell = frame[y * CELL_H:(y + 1) * CELL_H, x * CELL_W:(x + 1) * CELL_W].reshape(-1, 3)
    lit = cell[cell.any(axis=1)]
    assert len(lit) > 5 and (lit == PALETTE[C.GLYPH_COLOR[C.GLYPH_PLAYER]]).all()  # a white @
    blank = [(r, c) for r in range(1, 22) for c in range(79) if tty["tty_chars"][0, r, c] == ord(" ")][0]
    assert not frame[blank[0] * CELL_H:(blank[0] + 1) * CELL_H, blank[1] * CELL_W:(blank[1] + 1) * CELL_W].any()
    distinct = {bytes(frame[:CELL_H, c * CELL_W:(c + 1) * CELL_W]) for c in range(5)}  # "Hello"
    assert len(distinct) == 4  # H, e, l, o: the same letter draws the same pixels, different letters differ
    env.reset(seed=0)
    np.testing.assert_array_equal(env.render(), frame)


def test_vector_rgb_array_equals_the_single_envs():
    vec = gym.make_vec("rewardgym/Dungeon-Gold-v0", num_envs=3, render_mode="rgb_array")
    vec.reset(seed=5)
    actions = np.random.default_rng(0).integers(0, vec.single_action_space.n, (10, 3))
    for a in actions:
        vec.step(a)
    frames = vec.render()
    for i in range(3):
        env = gym.make("rewardgym/Dungeon-Gold-v0", render_mode="rgb_array")
        env.reset(seed=5 + i)
        for a in actions[:, i]:
            env.step(int(a))
        np.testing.assert_array_equal(env.render(), frames[i])


def test_text_interface_describes_what_the_player_sees_and_parses_commands():
    from rewardgym.wrappers import TextInterface

    env = TextInterface(gym.make("rewardgym/Dungeon-Gold-v0", spawn_rate=0.0))
    text, info = env.reset(seed=3)
    assert text.startswith("You play a NetHack-like dungeon game") and "Collect as much gold" in text
    assert "Message: Hello Agent" in text and "Dlvl:1 $:0" in text and "c - a food ration" in text
    assert "@" in text.split("Map:")[1]
    core = env.unwrapped.core
    adapter = env.unwrapped.text_adapter
    names = core.action_names
    for command, name in [("north", "N"), ("Go North-East", "NE"), ("  move   south west. ", "SW"), ("k", "N"),
                          ("n", "SE"), ("N", "N"), ("descend", "DOWN"), (">", "DOWN"), ("<answer>pick up</answer>",
                          "PICKUP"), (",", "PICKUP"), ("drink", "QUAFF"), ("PICKUP", "PICKUP"), ("rest", "WAIT")]:
        assert names[adapter.parse(command)] == name, command
    before = core.get_state(0)
    for nonsense in ["", "fly away", "x" * 10_000, "\u2603", "fly north"]:
        text, reward, terminated, truncated, info = env.step(nonsense)
        assert info["invalid_action"] and "I don't understand" in text and "The commands are: north" in text
        assert reward == 0.0 and not terminated and not truncated
    after = core.get_state(0)
    assert all(np.array_equal(before[k], after[k]) for k in before)  # nothing moved
    x = int(core.state.px[0])
    text, *_ = env.step("search")
    assert "T:2" in text and int(core.state.px[0]) == x


def test_text_sights_name_what_is_in_view_with_the_way_there():
    from rewardgym.envs.dungeon.text import DungeonText

    env = quiet_env("rewardgym/Dungeon-Score-v0", seed=2)
    s = env.core.state
    put_monster(env, "jackal", int(s.py[0]) - 1, int(s.px[0]) + 2)
    words = DungeonText(env.core).describe()
    assert "a jackal (d) 1 north, 2 east" in words.split("In sight: ")[1].split(";")[0]


def test_text_rejects_commands_outside_a_reduced_action_set():
    from rewardgym.wrappers import TextInterface

    env = TextInterface(gym.make("rewardgym/Dungeon-Room5x5-v0"))
    text, _ = env.reset(seed=0)
    assert "answer with one command: north, east, south, west, northeast" in text and "quaff" not in text
    text, _, _, _, info = env.step("quaff")
    assert info["invalid_action"] and "You can't quaff in this game" in text


def test_play_the_dungeon_in_the_terminal():
    commands = "east\nfly\nsearch\nquit\n"
    out = subprocess.run([sys.executable, "-m", "rewardgym.cli", "play", "rewardgym/Dungeon-Gold-v0", "--seed", "3"],
                         input=commands, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("Dlvl:1") == 3 and "I don't understand 'fly'" in out.stdout and "T:3" in out.stdout


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_to_an_action_or_game_feedback(command):
    from rewardgym.envs.dungeon.text import DungeonText
    from rewardgym.envs.language import InvalidCommand

    adapter = DungeonText(_FUZZ_CORE)
    try:
        action = adapter.parse(command)
    except InvalidCommand as feedback:
        assert "The commands are" in str(feedback)
    else:
        assert 0 <= action < len(_FUZZ_CORE.action_names)


_FUZZ_CORE = DungeonCore(1, "score")


@pytest.mark.parametrize(("env_id", "kwargs", "message"), [
    ("rewardgym/Dungeon-Room5x5-v0", {"crop_size": 5}, "crop_size=5 does nothing without a *_crop"),
    ("rewardgym/Dungeon-Score-v0", {"room_size": 9}, "do nothing with layout='dungeon'"),
    ("rewardgym/Dungeon-Score-v0", {"room_monsters": 2}, "do nothing with layout='dungeon'"),
])  # fmt: skip
def test_arguments_that_would_do_nothing_are_errors(env_id, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        gym.make(env_id, **kwargs)
    gym.make(env_id, observation_keys=("glyphs_crop", "blstats"), crop_size=5).close()  # with a crop key it counts
