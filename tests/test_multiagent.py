"""Multi-agent envs: PettingZoo's own API and seed tests, batched == single games, the market's payouts by hand.

PettingZoo's test functions ship with the package the envs are built on; running them on every
multi-agent id is how a PettingZoo env shows it follows the conventions.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test

from rewardgym.agents import load_agent
from rewardgym.cli import main
from rewardgym.envs.multiagent import ENVS, env_module, make, make_aec, make_vec
from rewardgym.envs.multiagent.bandit_market import BanditMarketCore


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():  # PettingZoo suggests Box observations; ours are Dicts of Boxes, as NLE's
        warnings.filterwarnings("ignore", message="Observation", category=UserWarning)
        yield


@pytest.mark.parametrize("name", sorted(ENVS))
def test_pettingzoo_api_and_seed_tests(name):
    module = env_module(name)
    parallel_api_test(module.parallel_env(), num_cycles=300)
    parallel_seed_test(module.parallel_env)
    api_test(module.env(), num_cycles=300)
    env = make(name)
    assert env.metadata["name"] == name and env.possible_agents
    agent = env.possible_agents[0]
    assert env.observation_space(agent) is env.observation_space(agent)
    assert env.action_space(agent) is env.action_space(agent)
    env.reset(seed=0)
    assert env.state_space.contains(env.state())
    assert make_aec(name).possible_agents == env.possible_agents


@pytest.mark.parametrize("name", sorted(ENVS))
def test_batched_games_replay_single_games(name):
    """A vector env seeded s plays games s, s+1, ... exactly as single games do, through their restarts."""
    games, seed = 4, 7
    kwargs = {"horizon": 5}
    vec = make_vec(name, games, **kwargs)
    singles = [make(name, **kwargs) for _ in range(games)]
    obs, infos = vec.reset(seed=seed)
    current = [env.reset(seed=seed + g) for g, env in enumerate(singles)]
    rng = np.random.default_rng(0)
    restarts = 0
    for step in range(24):
        for g, (env, (o, info)) in enumerate(zip(singles, current)):
            for a, agent in enumerate(env.possible_agents):
                for key, value in o[agent].items():
                    np.testing.assert_array_equal(obs[key][g, a], value, err_msg=f"{key}, game {g}, step {step}")
                assert infos["success"][g, a] == info[agent]["success"]
        np.testing.assert_array_equal(vec.state(), np.stack([env.state() for env in singles]))
        actions = rng.integers(0, vec.single_action_space.n, (games, vec.n_agents))
        obs, rewards, terminations, truncations, infos = vec.step(actions)
        for g, env in enumerate(singles):
            if not env.agents:  # the game ended on the last step: NEXT_STEP, the vector game restarts now
                assert (rewards[g] == 0).all() and vec.active[g].all()
                current[g] = env.reset()  # unseeded: the game's next key, as the vector env's restart
                restarts += 1
                continue
            o, r, te, tr, info = env.step({agent: int(actions[g, a]) for a, agent in enumerate(env.possible_agents)})
            np.testing.assert_array_equal(rewards[g], [r[agent] for agent in env.possible_agents])
            np.testing.assert_array_equal(terminations[g], [te[agent] for agent in env.possible_agents])
            np.testing.assert_array_equal(truncations[g], [tr[agent] for agent in env.possible_agents])
            current[g] = (o, info)
    assert restarts >= games  # every game ended and restarted at least once


def test_market_payouts_regret_and_success_by_hand():
    core = BanditMarketCore(2, n_agents=3, n_arms=4, horizon=5, collision="split")
    core.reset(np.ones(2, bool), np.array([1, 2], np.uint64))
    core.state.means[:] = [1.0, 1.0, 0.0, 0.5]  # arms 0 and 1 always pay, arm 2 never
    acting = np.ones((2, 3), bool)
    reward, terminated, _ = core.step(np.array([[0, 0, 1], [0, 1, 3]]), acting)
    np.testing.assert_allclose(reward, [[0.5, 0.5, 1.0], [1.0, 1.0, reward[1, 2]]])
    assert reward[1, 2] in (0.0, 1.0)
    share = (1.0 + 1.0 + 0.5) / 3  # the team optimum (top three arms, one agent each), per agent
    np.testing.assert_allclose(core.state.regret, [[share - 0.5, share - 0.5, share - 1.0],
                                                   [share - 1.0, share - 1.0, share - 0.5]])
    np.testing.assert_array_equal(core.state.success, [[False, False, True], [True, True, True]])
    np.testing.assert_array_equal(core.state.load, [[2, 1, 0, 0], [1, 1, 0, 1]])
    assert not terminated.any()

    zero = BanditMarketCore(1, n_agents=3, n_arms=3, horizon=5, collision="zero")
    zero.reset(np.ones(1, bool), np.array([1], np.uint64))
    zero.state.means[:] = 1.0
    reward, _, _ = zero.step(np.array([[2, 2, 0]]), np.ones((1, 3), bool))
    np.testing.assert_allclose(reward, [[0.0, 0.0, 1.0]])  # a collision pays nobody

    # an agent that is not acting changes nothing, and a game with nobody acting stays as it was
    before = core.get_state(1)
    core.step(np.array([[2, 2, 2], [0, 0, 0]]), np.array([[True, False, False], [False, False, False]]))
    after = core.get_state(1)
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert core.state.last_arm[0].tolist() == [2, 0, 1] and core.state.load[0].tolist() == [0, 0, 1, 0]


def test_bad_actions_and_arguments_are_clear_errors():
    env = make("bandit_market_v0")
    with pytest.raises(RuntimeError, match="call reset"):
        env.step({"player_0": 0})
    env.reset(seed=0)
    with pytest.raises(ValueError, match="player_1: action 9 is not in the action space"):
        env.step({"player_0": 0, "player_1": 9, "player_2": 0})
    with pytest.raises(ValueError, match="no action for player_2"):
        env.step({"player_0": 0, "player_1": 1})
    with pytest.raises(ValueError, match="not playing"):
        env.step({"player_0": 0, "player_1": 1, "player_2": 2, "player_9": 0})
    vec = make_vec("bandit_market_v0", 2)
    vec.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        vec.step(np.zeros((3, 3), np.int64))
    with pytest.raises(ValueError, match="outside the action space"):
        vec.step(np.full((2, 3), 5))
    with pytest.raises(ValueError, match="n_arms must be >= n_agents"):
        make("bandit_market_v0", n_agents=4, n_arms=3)
    with pytest.raises(ValueError, match="collision must be"):
        make("bandit_market_v0", collision="bounce")
    with pytest.raises(ValueError, match="unknown multi-agent env"):
        make("chess_v9")


def test_list_shows_the_multiagent_section(capsys):
    assert main(["list", "--family", "multiagent"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ENVS) and "Discrete(5)" in out


def test_supersuit_vectorises_the_parallel_env():
    import supersuit as ss

    env = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(make("bandit_market_v0", horizon=4)), 2,
                                num_cpus=0, base_class="gymnasium")
    obs, _ = env.reset(seed=0)
    assert obs["counts"].shape == (6, 5)  # 2 games x 3 agents, one row each
    for step in range(4):
        obs, rewards, terminations, truncations, _ = env.step(np.arange(6) % 5)
        assert rewards.shape == (6,) and terminations.all() == (step == 3)


def test_every_seat_is_a_row_of_a_gymnasium_vector_env():
    from rewardgym.wrappers.multiagent import AgentsAsEnvs

    games = make_vec("bandit_market_v0", 2, horizon=3)
    rows = AgentsAsEnvs(games)
    assert rows.num_envs == 6 and rows.single_action_space == games.single_action_space
    obs, info = rows.reset(seed=3)
    reference = make_vec("bandit_market_v0", 2, horizon=3)
    ref_obs, _ = reference.reset(seed=3)
    actions = np.array([0, 0, 1, 2, 3, 4])
    obs, reward, terminated, truncated, info = rows.step(actions)
    ref_obs, ref_reward, *_ = reference.step(actions.reshape(2, 3))
    for key in ref_obs:  # row g * A + a is agent a of game g
        np.testing.assert_array_equal(obs[key], ref_obs[key].reshape(6, *ref_obs[key].shape[2:]))
    np.testing.assert_array_equal(reward, ref_reward.reshape(6))
    assert info["success"].shape == (6,) and info["_success"].all() and rows.state().shape[0] == 6
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        rows.step(np.zeros((2, 3), np.int64))


def test_a_row_whose_agent_left_waits_as_reset_steps_until_its_game_restarts():
    """Agent 1 leaves at the first step while agent 0 plays two more: row 1 reports an end on every waiting step,
    so PPO masks those steps out and the tracker counts one episode for it, not one per step."""
    from rewardgym.agents.base import EpisodeTracker
    from rewardgym.wrappers.multiagent import AgentsAsEnvs

    class Games:
        num_games, n_agents, possible_agents = 1, 2, ["player_0", "player_1"]
        single_observation_space = make_vec("bandit_market_v0", 1, n_agents=2).single_observation_space
        single_action_space = make_vec("bandit_market_v0", 1, n_agents=2).single_action_space

        def __init__(self):
            self.active, self.t = np.ones((1, 2), bool), 0

        def step(self, actions):
            self.t += 1
            if self.t == 4:  # everyone left on step 3: the game restarts
                self.active[:] = True
                return {}, np.zeros((1, 2)), np.zeros((1, 2), bool), np.zeros((1, 2), bool), {}
            done = np.array([[self.t == 3, self.t == 1]]) & self.active
            self.active &= ~done
            return {}, np.ones((1, 2)), done, np.zeros((1, 2), bool), {}

    rows, tracker = AgentsAsEnvs(Games()), EpisodeTracker(2)
    ended = []
    for _ in range(4):
        _, reward, terminated, truncated, info = rows.step(np.zeros(2, np.int64))
        ended.append(terminated.tolist())
        for i, episode in tracker.update(reward, terminated, truncated, info):
            assert (i, episode["length"], episode["return"]) in ((0, 3, 3.0), (1, 1, 1.0))
    assert ended == [[False, True], [False, True], [True, True], [False, False]]
    assert tracker.window.episodes == 2


def test_train_and_eval_a_multiagent_id_from_the_command_line(tmp_path, capsys):
    args = ["train", "bandit_market_v0", "--steps", "1200", "--num-envs", "4", "--out", str(tmp_path), "--no-progress"]
    assert main([*args, "--agent", "thompson", "--reward", "constant:value=1", "--reward-mode", "replace"]) == 0
    (run,) = tmp_path.iterdir()
    rows = (run / "metrics.csv").read_text().splitlines()
    column = rows[0].split(",").index("reward_per_step")
    assert rows[-1].split(",")[column] == "1.0"  # every seat got the learned reward
    assert main(["train", "bandit_market_v0", "--agent", "ppo", "--steps", "1536", "--num-envs", "4",
                 "--out", str(tmp_path / "ppo"), "--no-progress", "--config", "num_steps=128"]) == 0
    (ppo_run,) = (tmp_path / "ppo").iterdir()
    capsys.readouterr()
    assert main(["eval", str(ppo_run), "--episodes", "12", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 12 and result["policy"] == "deterministic" and "cumulative_regret" in result
    assert main(["train", "bandit_market_v0", "--agent", "ppo", "--env-kwargs", "n_arms=1", "--out",
                 str(tmp_path / "bad")]) == 2
    assert "bad --env-kwargs for bandit_market_v0: n_arms must be" in capsys.readouterr().err


def test_a_centralised_critic_reads_the_state_and_the_actor_does_not():
    import torch

    from rewardgym.agents.policies import ActorCritic, NumpyActorCritic, ObservationPreprocessor
    from rewardgym.wrappers.multiagent import AgentsAsEnvs

    rows = AgentsAsEnvs(make_vec("bandit_market_v0", 3), state_key="state")
    obs, _ = rows.reset(seed=0)
    np.testing.assert_array_equal(obs["state"], np.repeat(rows.games.state(), 3, axis=0))
    for _ in range(4):
        obs, *_ = rows.step(np.arange(9) % 5)
    space = rows.single_observation_space
    policy = ActorCritic(space, rows.single_action_space, None, "tanh", 0, torch.device("cpu"), critic_only=("state",))
    pre = ObservationPreprocessor(space, ("state",))
    parts = pre(obs)
    state_width = int(np.prod(space["state"].shape))
    assert pre.actor_width == pre.vector_width - state_width and pre.vector_keys[-1] == "state"
    other = {"vector": parts["vector"].copy()}
    other["vector"][:, pre.actor_width:] += 5.0  # another global state, the same local observations
    with torch.no_grad():
        tensors = {k: torch.from_numpy(v) for k, v in parts.items()}
        changed = {k: torch.from_numpy(v) for k, v in other.items()}
        logits, value = policy._params(policy.encoder(tensors)), policy.value(tensors)
        assert torch.equal(logits, policy._params(policy.encoder(changed)))  # the actor never reads the state
        assert not torch.allclose(value, policy.value(changed))  # the critic does
        # the NumPy rollout network (actor and critic fused) agrees with torch
        _, out, numpy_value = NumpyActorCritic(policy).draw(parts, None, np.random.default_rng(0))
        np.testing.assert_allclose(out, logits.numpy(), atol=1e-5)
        np.testing.assert_allclose(numpy_value, value.numpy(), atol=1e-5)


def test_mappo_trains_saves_and_evaluates_from_the_command_line(tmp_path, capsys):
    args = ["train", "bandit_market_v0", "--agent", "mappo", "--steps", "1536", "--num-envs", "4", "--no-progress",
            "--config", "num_steps=128", "norm_obs=true"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    (run,) = tmp_path.iterdir()
    saved = json.loads((run / "checkpoints" / "final" / "agent.json").read_text())
    assert saved["agent"] == "mappo" and saved["config"]["critic_only_keys"] == ["state"]
    capsys.readouterr()
    assert main(["eval", str(run), "--episodes", "8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 8
    assert main(["train", "CartPole-v1", "--agent", "mappo", "--out", str(tmp_path / "bad")]) == 2
    assert "MAPPO trains on multi-agent envs" in capsys.readouterr().err


def test_ippo_is_shared_ppo_on_the_seats_under_its_own_name(tmp_path, capsys):
    args = ["train", "bandit_market_v0", "--agent", "ippo", "--steps", "768", "--num-envs", "2", "--no-progress",
            "--config", "num_steps=64"]
    assert main([*args, "--out", str(tmp_path / "ippo")]) == 0
    assert main([*args[:3], "ppo", *args[4:], "--out", str(tmp_path / "ppo")]) == 0
    (ippo,), (ppo,) = (tmp_path / "ippo").iterdir(), (tmp_path / "ppo").iterdir()
    saved = json.loads((ippo / "checkpoints" / "final" / "agent.json").read_text())
    assert saved["agent"] == "ippo" and saved["config"]["critic_only_keys"] == []
    # the same method as --agent ppo on a multi-agent id: the same seed trains the same weights
    weights = [load_agent(run / "checkpoints" / "final").policy.state_dict() for run in (ippo, ppo)]
    assert weights[0].keys() == weights[1].keys()
    assert all(np.array_equal(weights[0][k].numpy(), weights[1][k].numpy()) for k in weights[0])
    capsys.readouterr()
    assert main(["eval", str(ippo), "--episodes", "6", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 6
    assert main(["train", "CartPole-v1", "--agent", "ippo", "--out", str(tmp_path / "bad")]) == 2
    assert "IPPO trains on multi-agent envs" in capsys.readouterr().err


def test_a_person_takes_one_seat_of_a_multi_agent_game(monkeypatch, capsys):
    typed = iter(["9", "two", "1"] + ["1"] * 3)
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    assert main(["play", "bandit_market_v0", "--seat", "player_1", "--seed", "3",
                 "--env-kwargs", "horizon=4"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("You are player_1 in bandit_market_v0")
    assert out.count("type an action number from 0 to 4, or quit") == 2  # "9" and "two"
    assert out.count("you got ") == 4 and "Episode over. Your total reward" in out
    assert "player_1: arm 1, paid" in out
    assert main(["play", "bandit_market_v0", "--seat", "nobody"]) == 2
    assert "--seat 'nobody': bandit_market_v0's seats are player_0, player_1, player_2" in capsys.readouterr().err


@pytest.mark.parametrize("name, agent, seat, typed", [("kitchen_talk_v0", "ppo", "player_1", ["4", "quit"]),
                                                      ("bandit_market_v0", "mappo", "player_2", ["0", "1", "quit"])])
def test_a_person_takes_a_seat_and_the_trained_policy_plays_the_others(name, agent, seat, typed, tmp_path,
                                                                        monkeypatch, capsys):
    assert main(["train", name, "--agent", agent, "--steps", "300", "--out", str(tmp_path), "--no-progress"]) == 0
    (run,) = [str(p) for p in tmp_path.iterdir() if p.is_dir()]
    cls = type(load_agent(f"{run}/checkpoints/final"))
    real_act, asked = cls.act, []

    def act(self, obs, **kwargs):  # record how many seats the trained policy is asked to play at once
        actions = real_act(self, obs, **kwargs)
        asked.append(len(actions))
        return actions

    monkeypatch.setattr(cls, "act", act)
    answers = iter(typed)
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    capsys.readouterr()
    assert main(["play", "--run", run, "--seat", seat, "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert f"You are {seat} in {name}; the other seats the trained {agent} of {run} plays." in out
    assert asked and set(asked) == {1 if name == "kitchen_talk_v0" else 2}  # the other seats, one batch a turn
    assert main(["play", "--run", run, "--seat", "nobody"]) == 2
    assert f"--seat 'nobody': {name}'s seats are player_0, player_1" in capsys.readouterr().err
    assert main(["train", "rewardgym/Bandit-Bernoulli2-v0", "--agent", "ucb", "--steps", "10", "--out",
                 str(tmp_path / "one"), "--no-progress"]) == 0
    (one,) = (tmp_path / "one").iterdir()
    capsys.readouterr()
    assert main(["play", "--run", str(one), "--seat", "player_0"]) == 2  # a single-agent run has no seats
    assert "--seat is for multi-agent games" in capsys.readouterr().err


# -- team rewards -------------------------------------------------------------------------------
class SeatNumber:
    """A learned reward that differs by seat: the seat's index (from the seat one-hot)."""

    needs_frames = False

    def __call__(self, batch):
        return np.argmax(batch.obs["seat"], axis=1).astype(np.float32)


def test_team_mean_shares_each_teams_mean_over_its_rows():
    from rewardgym.rewards.transforms import team_mean

    np.testing.assert_allclose(team_mean(np.array([1.0, 2.0, 6.0, 0.0, 0.0, 3.0]), 3), [3, 3, 3, 1, 1, 1])
    steps = np.array([[1.0, 3.0, 0.0, 4.0], [2.0, 2.0, 5.0, 7.0]])  # (T, N): the deferred form
    np.testing.assert_allclose(team_mean(steps, 2), [[2, 2, 2, 2], [2, 2, 6, 6]])
    with pytest.raises(ValueError, match="do not split into teams of 4"):
        team_mean(np.zeros(6), 4)


@pytest.mark.parametrize("defer", [False, True])
def test_a_team_reward_gives_every_seat_its_games_mean_env_and_learned_reward(defer):
    from rewardgym.wrappers.multiagent import AgentsAsEnvs
    from rewardgym.wrappers.vector import LearnedReward

    own, team = AgentsAsEnvs(make_vec("bandit_market_v0", 2, horizon=3)), AgentsAsEnvs(
        make_vec("bandit_market_v0", 2, horizon=3), team_reward=True)
    shared = LearnedReward(team, SeatNumber(), defer=defer, team_size=3)
    own.reset(seed=3)
    shared.reset(seed=3)
    actions = np.array([0, 0, 1, 2, 3, 4])  # two seats of game 0 collide on arm 0
    _, reward, *_ = own.step(actions)
    _, mixed, *_ = shared.step(actions)
    games = reward.reshape(2, 3).mean(axis=1)
    seats = np.array([0.0, 1.0, 2.0])  # the learned reward per seat, whose mean is 1
    if defer:
        np.testing.assert_allclose(mixed, np.repeat(games, 3))  # the step gives the (team) env reward ...
        mixed = shared.flush().total[0]  # ... and the flush the mixed one
    np.testing.assert_allclose(mixed, np.repeat(games + seats.mean(), 3))
    assert not np.allclose(reward, np.repeat(games, 3))  # the seats' own rewards did differ
    with pytest.raises(ValueError, match="team_size=4 does not split 6 rows"):
        LearnedReward(team, SeatNumber(), team_size=4)


def test_train_with_a_team_reward_from_the_command_line(tmp_path, capsys):
    args = ["train", "bandit_market_v0", "--agent", "mappo", "--steps", "600", "--num-envs", "2", "--no-progress",
            "--team-reward", "--reward", "constant:value=1"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    (run,) = tmp_path.iterdir()
    assert json.loads((run / "config.json").read_text())["team_reward"] is True
    capsys.readouterr()
    assert main(["train", "rewardgym/Bandit-Bernoulli2-v0", "--agent", "ucb", "--team-reward", "--out",
                 str(tmp_path / "one")]) == 2
    assert "a team reward is for multi-agent games" in capsys.readouterr().err


def test_rows_take_a_seed_per_row_and_the_rows_of_a_game_share_it():
    from rewardgym.wrappers.multiagent import AgentsAsEnvs

    rows = AgentsAsEnvs(make_vec("kitchen_talk_v0", 3))
    obs, _ = rows.reset(seed=[7, 7, None, None, None, 2])  # game 1 goes on to its next episode
    single = make_vec("kitchen_talk_v0", 1)
    for game, seed in ((0, 7), (2, 2)):
        expected, _ = single.reset(seed=seed)
        for key in obs:
            np.testing.assert_array_equal(obs[key][2 * game:2 * game + 2], expected[key][0])
    games, _ = make_vec("kitchen_talk_v0", 2).reset(seed=[None, 7])  # the games take a list too
    np.testing.assert_array_equal(games["view"][1], obs["view"][:2])
    with pytest.raises(ValueError, match="the rows of game 1 are one game and take one seed, got 1, 2"):
        rows.reset(seed=[7, 7, 1, 2, 0, 0])
    with pytest.raises(ValueError, match="expected 6 seeds"):
        rows.reset(seed=[1, 2])
    for bad in (3.5, "7", [7, 7, 1.5, 1.5, 0, 0]):
        with pytest.raises(ValueError, match="seed must be a non-negative int or None"):
            rows.reset(seed=bad)
