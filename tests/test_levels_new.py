"""The compiled one-env level generator (``_levels_new``) builds the vectorised generator's levels bit for bit."""

from __future__ import annotations

import types

import numpy as np
import pytest

from rewardgym.envs import rng
from rewardgym.envs.dungeon import _levels_new as L
from rewardgym.envs.dungeon import content as C
from rewardgym.envs.dungeon import levels
from rewardgym.envs.dungeon.core import _new_state
from rewardgym.envs.dungeon.state import DungeonState, Rules, new_state

ROOM_DEFAULTS = dict(room_size=5, room_random=False, room_lit=True, room_monsters=0, room_door=False)
CONFIGS = [
    dict(layout="dungeon"),
    dict(layout="room", room_size=1),
    dict(layout="room"),
    dict(layout="room", room_size=15),
    dict(layout="room", room_size=17),
    dict(layout="room", room_random=True),
    dict(layout="room", room_size=17, room_random=True),
    dict(layout="room", room_lit=False),
    dict(layout="room", room_door=True),
    dict(layout="room", room_size=15, room_door=True, room_random=True),
    dict(layout="room", room_size=3, room_door=True, room_monsters=16),
    dict(layout="room", room_monsters=3),
    dict(layout="room", room_monsters=16),
    dict(layout="room", room_size=17, room_random=True, room_monsters=16, room_lit=False),
]


def _rules(cfg) -> Rules:
    return Rules(task=0, room_layout=cfg.layout == "room", room_size=cfg.room_size, room_random=cfg.room_random,
                 room_lit=cfg.room_lit, room_monsters=cfg.room_monsters, room_door=cfg.room_door, spawn_rate=0.0,
                 oracle_lo=5, oracle_hi=9, max_steps=1000, penalty_mode=0, penalty_step=0.0, penalty_time=0.0,
                 success_reward=1.0, target_depth=1, monsters=True)


def _garbage(states, seed: int) -> None:
    """The same random values in every field of each state, so that what a generator leaves alone shows."""
    r = np.random.default_rng(seed)
    for name in DungeonState._fields:
        arrays = [getattr(state, name) for state in states]
        a = arrays[0]
        if a.dtype == bool:
            value = r.random(a.shape) < 0.5
        elif name == "terrain":
            value = r.integers(0, C.N_TERRAIN, a.shape)
        elif name == "mon_type":
            value = r.integers(-1, C.N_MONSTERS, a.shape)
        else:
            value = r.integers(0, 100, a.shape)
        for array in arrays:
            array[...] = value


def _assert_same(old, new) -> None:
    for name in DungeonState._fields:
        np.testing.assert_array_equal(getattr(old, name), getattr(new, name), err_msg=name)


def _levels(n: int, seed: int, depth_range: tuple[int, int]):
    """Episode keys and the arguments of one level per env: shallow ones a quarter of the time at the Oracle's
    depth, deep ones a tenth of the time at the bottom (no stairs down)."""
    r = np.random.default_rng(seed)
    keys = rng.seed_key(np.arange(n) + 1000 * seed)
    depth = r.integers(*depth_range, n, endpoint=True)
    oracle_depth = r.integers(2, 12, n, endpoint=True)
    special = r.random(n)
    if depth_range[1] <= 12:
        depth[special < 0.25] = oracle_depth[special < 0.25]
    else:
        depth[special < 0.1] = C.MAX_DEPTH
    xlvl = r.integers(1, 30, n, endpoint=True)
    from_below, populate = r.random(n) < 0.5, r.random(n) < 0.5
    counter = r.integers(0, 10**6, n)
    return keys, depth, oracle_depth, xlvl, from_below, populate, counter


@pytest.mark.parametrize("depth_range", [(1, 12), (20, C.MAX_DEPTH)])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_generate_matches_vectorised(config, depth_range):
    cfg = types.SimpleNamespace(**{**ROOM_DEFAULTS, **config})
    dungeon = cfg.layout == "dungeon"
    n = 640 if dungeon else 320  # the dungeon's batch crosses the old generator's chunks of 512
    for seed in range(3 if dungeon and depth_range == (1, 12) else 1):
        old, new = _new_state(n), new_state(n)
        _garbage((old, new), seed)
        args = _levels(n, seed + sum(depth_range), depth_range)
        keys, depth, oracle_depth, xlvl, from_below, populate, counter = args
        g = np.flatnonzero(np.random.default_rng(seed).random(n) < 0.95)  # some envs keep their level
        for s in (old, new):
            s.key[:], s.depth[:], s.oracle_depth[:], s.xlvl[:] = keys, depth, oracle_depth, xlvl
        levels.generate(old, g, depth[g], from_below[g], populate[g], counter[g], cfg)
        rules = _rules(cfg)
        for b in g:
            L.generate(new, int(b), int(depth[b]), bool(from_below[b]), bool(populate[b]), int(counter[b]), rules)
        _assert_same(old, new)
        if dungeon:  # the sample holds the Oracle's level, the bottom level, loot and monsters
            assert (old.mon_type[g, 0] == C.ORACLE).any() == (depth_range == (1, 12))
            assert (old.down_y[g] < 0).any() == (depth_range != (1, 12))
            assert (old.obj_kind[g] > 0).any() and (old.mon_type[g] >= 0).any()


def test_level_key():
    r = np.random.default_rng(0)
    keys = r.integers(0, 2**64, 2000, dtype=np.uint64)
    depth = r.integers(0, 100, 2000)
    expected = levels.level_key(keys, depth)
    got = np.array([L.level_key(k, d) for k, d in zip(keys, depth)], np.uint64)
    np.testing.assert_array_equal(got, expected)


def test_randint():
    r = np.random.default_rng(1)
    u = np.concatenate([r.random(5000), [0.0, 1 - 2.0**-53, 0.5]])
    low = r.integers(-30, 30, u.size)
    high = low + r.integers(-5, 40, u.size)  # high < low too
    expected = levels.randint(u, low, high)
    got = np.array([L.randint(a, lo, hi) for a, lo, hi in zip(u, low, high)])
    np.testing.assert_array_equal(got, expected)


def test_sample_monster():
    r = np.random.default_rng(2)
    n = 5000
    u = np.concatenate([r.random(n - 2), [0.0, 1 - 2.0**-53]])
    depth, xlvl = r.integers(1, C.MAX_DEPTH, n, endpoint=True), r.integers(1, 30, n, endpoint=True)
    expected = levels.sample_monster(u, depth, xlvl)
    got = np.array([L.sample_monster(a, d, x) for a, d, x in zip(u, depth, xlvl)])
    np.testing.assert_array_equal(got, expected)


def test_monster_hp():
    r = np.random.default_rng(3)
    u = r.random((5000, 3))
    kind = r.integers(0, C.N_MONSTERS, 5000)
    expected = levels.monster_hp(u, kind)
    got = np.array([L.monster_hp(a, b, c, k) for (a, b, c), k in zip(u, kind)])
    np.testing.assert_array_equal(got, expected)


def test_place_monster():
    n = 3000
    r = np.random.default_rng(4)
    old, new = _new_state(n), new_state(n)
    _garbage((old, new), 4)
    mon_y, mon_x = r.integers(0, 3, (2, n, C.MAX_MONSTERS))  # a crowded corner of the map: squares are often taken
    py, px = r.integers(0, 3, (2, n))
    for s in (old, new):
        s.mon_y[:], s.mon_x[:], s.py[:], s.px[:] = mon_y, mon_x, py, px
    g = np.arange(n)
    slot, kind = r.integers(0, C.MAX_MONSTERS + 2, n), r.integers(0, C.N_MONSTERS, n)
    y, x = r.integers(0, 3, (2, n))
    awake, hp_u = r.random(n) < 0.5, r.random((n, 3))
    expected = levels._place_monster(old, g, slot, kind, y, x, awake, hp_u)
    got = np.array([L.place_monster(new, b, slot[b], kind[b], y[b], x[b], awake[b], *hp_u[b]) for b in g])
    np.testing.assert_array_equal(got, expected)
    assert 0 < expected.sum() < n
    _assert_same(old, new)
