"""Step-by-step digests of the dungeon's games, recorded from the NumPy core that came before the compiled one.

Every dungeon id is played by a fixed policy (seeded random actions mixed with the scripted explorer,
so games reach new levels, fight, eat, quaff and read) as a single env and as a vector env, with
every observation key; each step's observations, rewards, ends, infos and messages are hashed in
order. A digest that changes means the game changed: a rule, a draw, a message or a pixel of the
observation. Regenerate only for an intended change of the game, with ``python
tests/test_dungeon_digest.py`` (it prints the table), and say why in the commit.
"""

from __future__ import annotations

import hashlib

import gymnasium as gym
import numpy as np
import pytest

import rewardgym  # noqa: F401
from rewardgym.envs.dungeon.core import OBSERVATION_KEYS
from rewardgym.envs.dungeon.experts import DungeonExplorer

IDS = ["Score", "Gold", "Eat", "Scout", "Staircase", "StaircaseLvl3", "StaircaseLvl4", "Oracle", "OracleSober",
       "Room5x5", "Room15x15", "Room15x15Random", "Room15x15Dark", "Room15x15Door", "Room15x15Monster"]
STEPS = 300
EXTRA = {"Score": {"spawn_rate": 0.2}, "Oracle": {"oracle_depth": 2}}  # more monsters; the Oracle within reach


def _act(explorer: DungeonExplorer, pick: np.random.Generator, n: int) -> int:
    """The explorer's command 60% of the time (when the env has it), else a random one."""
    if pick.random() < 0.6:
        name = explorer.plan()
        if name in explorer.core.action_names:
            return explorer.core.action_names.index(name)
    return int(pick.integers(n))


def _update(h, obs, i, extras) -> None:
    for key in OBSERVATION_KEYS:
        h.update(np.ascontiguousarray(obs[key][i] if i is not None else obs[key]).tobytes())
    h.update(repr(extras).encode())


def single_digest(name: str, seed: int = 3) -> str:
    env = gym.make(f"rewardgym/Dungeon-{name}-v0", observation_keys=OBSERVATION_KEYS, **EXTRA.get(name, {}))
    explorer = DungeonExplorer(env)
    pick = np.random.default_rng(seed)
    n = env.action_space.n
    h = hashlib.sha256()
    obs, info = env.reset(seed=seed)
    _update(h, obs, None, (info["success"], info["task"]))
    for _ in range(STEPS):
        action = _act(explorer, pick, n)
        obs, reward, terminated, truncated, info = env.step(action)
        _update(h, obs, None, (reward, terminated, truncated, sorted((k, str(v)) for k, v in info.items()),
                               env.unwrapped.message()))
        if terminated or truncated:
            obs, info = env.reset()
    return h.hexdigest()[:16]


def vector_digest(name: str, num_envs: int = 3, seed: int = 5) -> str:
    envs = gym.make_vec(f"rewardgym/Dungeon-{name}-v0", num_envs=num_envs, observation_keys=OBSERVATION_KEYS,
                        **EXTRA.get(name, {}))
    explorers = [DungeonExplorer(envs, i) for i in range(num_envs)]
    pick = np.random.default_rng(seed)
    n = envs.single_action_space.n
    h = hashlib.sha256()
    obs, info = envs.reset(seed=seed)
    for _ in range(STEPS):
        actions = [_act(e, pick, n) for e in explorers]
        obs, reward, terminated, truncated, info = envs.step(np.array(actions))
        for i in range(num_envs):
            _update(h, obs, i, (reward[i], terminated[i], truncated[i], envs.core.message(i),
                                sorted((k, str(v[i])) for k, v in info.items())))
    return h.hexdigest()[:16]


def stress_digest(seed: int = 9, steps: int = 1500) -> str:
    """Rare rules: a hungry, hurt player with potions and scrolls to spare goes down, up and about the Oracle's
    level among many monsters (hunger states, healing, hallucination, magic mapping, teleports, climbing,
    the Oracle's sounds, starvation)."""
    from rewardgym.envs.dungeon import content as C

    envs = gym.make_vec("rewardgym/Dungeon-Oracle-v0", num_envs=2, observation_keys=OBSERVATION_KEYS,
                        oracle_depth=2, spawn_rate=0.3)
    s, core = envs.core.state, envs.core
    explorers = [DungeonExplorer(envs, i) for i in range(2)]
    pick = np.random.default_rng(seed)
    index = {name: i for i, name in enumerate(core.action_names)}
    h = hashlib.sha256()
    obs, info = envs.reset(seed=seed)
    for _ in range(steps):
        for i in range(2):
            if s.time[i] == 1:  # a new game: a pack full of potions and scrolls, little food left, hurt
                for k, kind in enumerate((C.POTION_HEALING, C.POTION_HALLUCINATION, C.SCROLL_MAGIC_MAPPING,
                                          C.SCROLL_TELEPORTATION)):
                    s.inv_count[i, kind], s.inv_letter[i, kind] = 3, ord("d") + k
                s.nutrition[i] = (152, 60)[i]  # env 1 starves: no food in its pack
                s.inv_count[1, C.FOOD_RATION] = s.inv_letter[1, C.FOOD_RATION] = 0
                s.hallu[0] = 30
                s.hp[i] = 5
        actions = []
        for i, e in enumerate(explorers):
            on_up = s.terrain[i, s.py[i], s.px[i]] == C.STAIRS_UP and s.depth[i] > 1
            r = pick.random()
            if on_up and r < 0.5:
                actions.append(index["UP"])
            elif r < 0.08:
                actions.append(index[("QUAFF", "READ", "LOOK", "EAT")[int(pick.integers(4))]])
            elif r < 0.6:
                actions.append(index[e.plan()])
            else:
                actions.append(int(pick.integers(len(index))))
        obs, reward, terminated, truncated, info = envs.step(np.array(actions))
        for i in range(2):
            _update(h, obs, i, (reward[i], terminated[i], truncated[i], core.message(i),
                                sorted((k, str(v[i])) for k, v in info.items())))
    return h.hexdigest()[:16]


DIGESTS = {
    'Score': ('d5a083a8453c00b8', '75e9f1d1f2691e72'),
    'Gold': ('1d1a3e0271e40e0e', '0d32c01e963ce327'),
    'Eat': ('0528a0b39fb64bb2', '9f33ac2e895d7493'),
    'Scout': ('e794d64634e31aa9', 'd3c8ccbc39175e88'),
    'Staircase': ('ec17d7d239d26eb9', '674632926e504bd6'),
    'StaircaseLvl3': ('ee798c3e293307f0', 'a87d82ab577654f3'),
    'StaircaseLvl4': ('91c060d3df0ce290', '2140d3d694a9c51e'),
    'Oracle': ('a79d86266fc1f28f', '2bb8161e7205750f'),
    'OracleSober': ('8ccc79adb165e4b2', '90fd6fa223c4c89a'),
    'Room5x5': ('87f611b752314cf5', '166716edbe049a12'),
    'Room15x15': ('9569aaee4c8fe7b9', '513441a37b0ca13f'),
    'Room15x15Random': ('6ae1cbbb6b862084', '979afd238d44e9fe'),
    'Room15x15Dark': ('c5207cabac07eefd', '779dbc623e0b59f8'),
    'Room15x15Door': ('3e47224710e78b86', '08e33a9d21150449'),
    'Room15x15Monster': ('f1b7da67aeb3d82f', 'c278d162c0ffba09'),
}
STRESS = 'c41917ffab323962'


@pytest.mark.parametrize("name", IDS)
def test_single_env_digest(name):
    assert single_digest(name) == DIGESTS[name][0]


@pytest.mark.parametrize("name", IDS)
def test_vector_env_digest(name):
    assert vector_digest(name) == DIGESTS[name][1]


def test_stress_digest():
    assert stress_digest() == STRESS


if __name__ == "__main__":
    print(f"STRESS = {stress_digest()!r}")
    for name in IDS:
        print(f"    {name!r}: ({single_digest(name)!r}, {vector_digest(name)!r}),")


def test_parallel_batches_equal_serial_ones():
    """Large batches are stepped and drawn a slice per core, on threads: the same games as smaller batches."""
    from rewardgym.envs.jit import SPLIT_FROM

    big, half = 2 * SPLIT_FROM, SPLIT_FROM // 2
    envs = gym.make_vec("rewardgym/Dungeon-Score-v0", num_envs=big, observation_keys=OBSERVATION_KEYS,
                        spawn_rate=0.2)
    parts = [gym.make_vec("rewardgym/Dungeon-Score-v0", num_envs=half, observation_keys=OBSERVATION_KEYS,
                          spawn_rate=0.2) for _ in range(big // half)]
    seeds = range(0, big, half)
    first = envs.reset(seed=0)[0]
    rest = [p.reset(seed=s)[0] for p, s in zip(parts, seeds)]
    for key in OBSERVATION_KEYS:
        np.testing.assert_array_equal(first[key], np.concatenate([r[key] for r in rest]))
    actions = np.random.default_rng(0).integers(0, envs.single_action_space.n, (60, big))
    for a in actions:
        step = envs.step(a)
        small = [p.step(a[k * half:(k + 1) * half]) for k, p in enumerate(parts)]
        for key in OBSERVATION_KEYS:
            np.testing.assert_array_equal(step[0][key], np.concatenate([r[0][key] for r in small]))
        for j in (1, 2, 3):
            np.testing.assert_array_equal(step[j], np.concatenate([r[j] for r in small]))


def test_observations_the_caller_keeps_are_never_written_over():
    """Observation arrays of large batches are reused only once the caller holds nothing of them (the pool's
    reference count)."""
    from rewardgym.envs.dungeon.display import _POOL_FROM

    n = _POOL_FROM
    envs = gym.make_vec("rewardgym/Dungeon-Score-v0", num_envs=n, observation_keys=OBSERVATION_KEYS)
    actions = np.random.default_rng(0).integers(0, envs.single_action_space.n, (30, n))
    obs, _ = envs.reset(seed=0)
    kept = {k: v.copy() for k, v in obs.items()}
    view = obs["tty_chars"][2]  # a view alone keeps its array
    view_copy = view.copy()
    del obs
    single = gym.make("rewardgym/Dungeon-Score-v0")
    first, _ = single.reset(seed=0)
    first_copy = {k: v.copy() for k, v in first.items()}
    for a in actions:
        held = envs.step(a)[0]
        single.step(int(a[0]))
    np.testing.assert_array_equal(view, view_copy)
    for k, v in first.items():
        np.testing.assert_array_equal(v, first_copy[k])
    assert not all(np.array_equal(held[k], kept[k]) for k in kept)
    # nothing held: the same arrays come back, drawn afresh
    del held
    ids = {k: id(v) for k, v in envs.step(actions[0])[0].items()}
    again = envs.step(actions[1])[0]
    assert {k: id(v) for k, v in again.items()} == ids
