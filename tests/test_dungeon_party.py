"""The dungeon party: the cooperative staircase and the gold race by hand, adventurers leaving, fuzzed play.

PettingZoo's API and seed tests and batched == single games run on every multi-agent id in
``test_multiagent.py``; these tests check the party's own rules.
"""

from __future__ import annotations

import numpy as np
import pytest

from rewardgym.envs.dungeon import content as C
from rewardgym.envs.multiagent import dungeon_party_v0, make_vec
from rewardgym.envs.multiagent.dungeon_party import ACTIONS, DungeonPartyCore

DOWN, WAIT = ACTIONS.index("DOWN"), ACTIONS.index("WAIT")
_MOVES = {(C.DY[a], C.DX[a]): a for a in range(8)}


def toward(core: DungeonPartyCore, game: int, seat: int, y: int, x: int) -> int:
    """The move from a seat's square one step toward (y, x), or DOWN when it stands there."""
    p = game * core.n_agents + seat
    dy, dx = int(np.sign(y - core.seats.py[p])), int(np.sign(x - core.seats.px[p]))
    return DOWN if (dy, dx) == (0, 0) else _MOVES[(dy, dx)]


def stairs_policy(core: DungeonPartyCore, game: int, seat: int) -> int:
    return toward(core, game, seat, core.state.down_y[game], core.state.down_x[game])


def test_the_party_goes_down_one_by_one_and_is_rewarded_together():
    env = dungeon_party_v0.parallel_env(n_agents=2, room_size=5, penalty_step=0.0)
    core = env.core
    for seed in range(50):  # a game where seat 1 does not stand on seat 0's diagonal to the staircase
        env.reset(seed=seed)
        if core.seats.py[1] - core.seats.py[0] != core.seats.px[1] - core.seats.px[0]:
            break
    # seat 0 walks to the staircase and goes down while seat 1 waits
    for _ in range(12):
        obs, rewards, terminations, truncations, infos = env.step(
            {"player_0": stairs_policy(core, 0, 0), "player_1": WAIT})
        if terminations["player_0"]:
            break
    assert rewards == {"player_0": 0.5, "player_1": 0.5}  # success_reward x 1 of 2 down, to everyone playing
    assert infos["player_0"]["success"] and not infos["player_0"]["party_success"]
    assert env.agents == ["player_1"] and not core.seats.success[1]
    for _ in range(12):
        obs, rewards, terminations, truncations, infos = env.step({"player_1": stairs_policy(core, 0, 1)})
        if terminations["player_1"]:
            break
    assert rewards == {"player_1": 0.5} and infos["player_1"]["success"] and infos["player_1"]["party_success"]
    assert env.agents == []


def test_adventurers_block_each_other_and_see_each_other_as_humans():
    env = dungeon_party_v0.parallel_env(n_agents=2, room_size=5, observation_keys=("glyphs", "glyphs_crop"))
    obs, _ = env.reset(seed=0)
    core = env.core
    u = core.seats
    (y0, x0), (y1, x1) = (u.py[0], u.px[0]), (u.py[1], u.px[1])
    assert (y0, x0) != (y1, x1)
    # in a lit room each sees the other as a human and itself as the player
    assert obs["player_0"]["glyphs"][y1, x1] == C.GLYPH_MON_OFF and obs["player_0"]["glyphs"][y0, x0] == C.GLYPH_PLAYER
    assert obs["player_1"]["glyphs"][y0, x0] == C.GLYPH_MON_OFF
    assert obs["player_0"]["glyphs_crop"][4, 4] == C.GLYPH_PLAYER
    # walk seat 1 next to seat 0, then into it: it stops, and no time passes
    for _ in range(10):
        if max(abs(u.py[1] - y0), abs(u.px[1] - x0)) == 1:
            break
        env.step({"player_0": WAIT, "player_1": toward(core, 0, 1, y0, x0)})
    time = core.state.time[0]
    env.step({"player_0": WAIT, "player_1": toward(core, 0, 1, y0, x0)})
    assert (u.py[1], u.px[1]) != (u.py[0], u.px[0])
    assert "is in your way" in core.message(0, 1)
    assert core.state.time[0] == time + 1  # seat 0's wait took time; seat 1's bump alone would not have


def test_the_gold_race_pays_what_each_picks_up_and_the_richest_wins():
    core = DungeonPartyCore(1, 3, "gold", room_size=7, penalty_step=0.0, horizon=400)
    core.reset(np.ones(1, bool), np.array([11], np.uint64))
    s = core.state
    piles = [(y, x, int(s.obj_qty[0, y, x])) for y, x in zip(*np.nonzero(s.obj_kind[0] == C.GOLD))]
    assert len(piles) >= 3 and s.gold[0] == sum(q for _, _, q in piles)
    earned = np.zeros(3)
    for _ in range(400):
        left = [(y, x) for y, x in zip(*np.nonzero(s.obj_kind[0] == C.GOLD))]
        actions = np.array([[toward(core, 0, i, *min(left, key=lambda q: abs(q[0] - core.seats.py[i])
                                                    + abs(q[1] - core.seats.px[i]))) if left else WAIT
                             for i in range(3)]])
        actions[actions == DOWN] = WAIT  # a seat on a pile picks it up by stepping on it
        reward, terminated, truncated = core.step(actions, ~core.gone.reshape(1, 3))
        earned += reward[0]
        if terminated.all():
            break
    assert terminated.all() and not truncated.any()  # the floor is bare: the race is over
    gold = core.seats.gold
    np.testing.assert_array_equal(earned, gold)
    assert gold.sum() == sum(q for _, _, q in piles)
    info = core.info()
    np.testing.assert_array_equal(info["success"][0], [g > np.delete(gold, i).max() for i, g in enumerate(gold)])


def test_fuzzed_parties_in_the_dungeon_keep_their_invariants():
    games = make_vec("dungeon_party_v0", 8, n_agents=4, task="gold", layout="dungeon", horizon=150)
    core = games.core
    rng = np.random.default_rng(0)
    obs, _ = games.reset(seed=5)
    space = games.single_observation_space
    for step in range(400):
        obs, reward, terminated, truncated, info = games.step(rng.integers(0, len(ACTIONS), (8, 4)))
        for key, value in obs.items():
            assert value.shape[:2] == (8, 4) and space[key].contains(value[step % 8, step % 4]), key
        u = core.seats
        for g in range(8):
            here = [(u.py[p], u.px[p]) for p in range(4 * g, 4 * g + 4) if not core.gone[p]]
            assert len(set(here)) == len(here)  # two adventurers never share a square
            monsters = {(y, x) for t, y, x in zip(core.state.mon_type[g], core.state.mon_y[g], core.state.mon_x[g])
                        if t >= 0}
            assert not monsters & set(here)
        assert (u.hp >= 0).all() and (u.hp <= u.maxhp).all()
        assert core.state_space.contains(core.global_state()[step % 8])
    assert core.seats.dead.any() or core.seats.gold.any()  # the dungeon did something to someone


def test_bad_actions_and_arguments_are_one_clear_line():
    env = dungeon_party_v0.parallel_env()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="player_0"):
        env.step({"player_0": 99, "player_1": 0})
    with pytest.raises(ValueError, match=r"actions must be 4 ints in \[0, 11\)"):
        make_vec("dungeon_party_v0", 2).core.step(np.full((2, 2), -1), np.ones((2, 2), bool))
    for kwargs, match in [({"n_agents": 5}, "n_agents"), ({"task": "war"}, "task"), ({"layout": "maze"}, "layout"),
                          ({"observation_keys": ("smell",)}, "observation_keys"), ({"actions": ("FLY",)}, "actions"),
                          ({"room_size": 1}, "room_size"), ({"horizon": 0}, "horizon"),
                          ({"n_agents": 4, "room_size": 2}, "room_size"), ({"crop_size": 4}, "crop_size"),
                          ({"layout": "dungeon", "room_size": 7}, "room layout")]:
        with pytest.raises(ValueError, match=match):
            dungeon_party_v0.parallel_env(**kwargs)


def test_a_party_pickles_and_plays_on_the_same():
    import pickle

    games = make_vec("dungeon_party_v0", 3, n_agents=3, layout="dungeon")
    games.reset(seed=1)
    copy = pickle.loads(pickle.dumps(games))
    rng = np.random.default_rng(2)
    for _ in range(30):
        actions = rng.integers(0, len(ACTIONS), (3, 3))
        a, b = games.step(actions), copy.step(actions)
        for key in a[0]:
            np.testing.assert_array_equal(a[0][key], b[0][key])
        np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.slow
def test_mappo_learns_to_bring_the_whole_party_down():
    """60k agent-steps of MAPPO (16-step rollouts, ~117 updates): both adventurers go down in most games,
    where random play brings the party down in a few."""
    from rewardgym.agents import make_agent
    from rewardgym.agents.mappo import MAPPO
    from rewardgym.workflows.training import make_envs

    def party_rate(act, seed: int) -> float:
        rows = make_envs(MAPPO.spec, "dungeon_party_v0", 64)
        core = rows.games.core
        obs, info = rows.reset(seed=seed)
        wins = ended = 0
        while ended < 200:
            obs, _, _, _, info = rows.step(act(obs, info, rows.num_envs))
            over = ~rows.games.active.any(axis=1)  # the last adventurer left on this step
            wins += int(core.left.reshape(64, 2)[over].all(axis=1).sum())
            ended += int(over.sum())
        return wins / ended

    rng = np.random.default_rng(0)
    random_rate = party_rate(lambda obs, info, n: rng.integers(0, len(ACTIONS), n), 1_000_000)
    envs = make_envs(MAPPO.spec, "dungeon_party_v0", 16)
    agent = make_agent("mappo", envs, seed=0, norm_obs=True, device="cpu", num_steps=16, learning_rate=1e-3)
    agent.learn(envs, 60_000, progress=False)
    trained_rate = party_rate(lambda obs, info, n: agent.act(obs, info=info), 1_000_000)
    assert random_rate < 0.06 and trained_rate > 0.8, (random_rate, trained_rate)
