"""Bandit baselines: regret against uniform, sublinear regret, the Agent protocol."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rewardgym
from rewardgym.agents import AGENTS, Agent, load_agent, make_agent

SEEDS = 100


def _regret_curve(agent_name: str, horizon: int, env_id: str = "rewardgym/Bandit-Bernoulli10-v0") -> np.ndarray:
    """Mean cumulative regret over 100 fixed seeds, after each pull."""
    envs = gym.make_vec(env_id, num_envs=SEEDS, horizon=horizon)
    agent = make_agent(agent_name, envs, seed=0)
    obs, _ = envs.reset(seed=0)
    curve = np.empty(horizon)
    for t in range(horizon):
        obs, _, _, _, info = envs.step(agent.act(obs))
        curve[t] = info["cumulative_regret"].mean()
    return curve


@pytest.fixture(scope="module")
def regret_at_1000():
    return {name: _regret_curve(name, 1000)[-1] for name in ("uniform", "ucb", "thompson", "epsilon-greedy")}


def test_ucb_and_thompson_beat_uniform_fivefold(regret_at_1000):
    assert regret_at_1000["uniform"] > 100  # sanity: uniform pays ~0.4 regret a pull
    assert regret_at_1000["ucb"] * 5 < regret_at_1000["uniform"]
    assert regret_at_1000["thompson"] * 5 < regret_at_1000["uniform"]
    assert regret_at_1000["epsilon-greedy"] < regret_at_1000["uniform"]


def test_textbook_ucb1_explores_more_than_tuned(regret_at_1000):
    envs = gym.make_vec("rewardgym/Bandit-Bernoulli10-v0", num_envs=SEEDS, horizon=1000)
    assert make_agent("ucb", envs).variant == "tuned"
    textbook = make_agent("ucb", envs, variant="ucb1", seed=0)
    obs, _ = envs.reset(seed=0)
    for _ in range(1000):
        obs, _, _, _, info = envs.step(textbook.act(obs))
    regret = info["cumulative_regret"].mean()
    assert regret_at_1000["ucb"] < regret < regret_at_1000["uniform"] / 2


def test_thompson_regret_grows_sublinearly():
    curve = _regret_curve("thompson", 4000)
    assert curve[3999] < 3 * curve[999]


def test_thompson_gaussian_prior_on_gaussian_arms():
    curve = _regret_curve("thompson", 500, "rewardgym/Bandit-Gaussian10-v0")
    uniform = _regret_curve("uniform", 500, "rewardgym/Bandit-Gaussian10-v0")
    assert curve[-1] * 5 < uniform[-1]
    assert make_agent("thompson", gym.make("rewardgym/Bandit-Gaussian10-v0")).prior == "gaussian"


def test_linucb_uses_the_context():
    linucb = _regret_curve("linucb", 1000, "rewardgym/Bandit-Contextual5-v0")[-1]
    thompson = _regret_curve("thompson", 1000, "rewardgym/Bandit-Contextual5-v0")[-1]
    assert linucb * 5 < thompson  # context-blind baselines cannot learn a contextual bandit
    with pytest.raises(ValueError, match="contextual"):
        make_agent("linucb", gym.make("rewardgym/Bandit-Bernoulli5-v0"))


def test_greedy_suffers_suffix_failures_that_thompson_avoids():
    env = gym.make_vec("rewardgym/Bandit-Bernoulli10-v0", num_envs=50, horizon=500)
    greedy = make_agent("greedy", env).evaluate(env, 50, seed=0)
    thompson = make_agent("thompson", env).evaluate(env, 50, seed=0)
    assert greedy["suffix_failure"] > 0.1
    assert thompson["suffix_failure"] < greedy["suffix_failure"]


BANDIT_AGENTS = sorted(name for name, target in AGENTS.items() if target.startswith("rewardgym.agents.bandits:"))


@pytest.mark.parametrize("name", BANDIT_AGENTS)
def test_protocol_learn_evaluate_save_load(name, tmp_path):
    task = "Contextual5" if name == "linucb" else "Bernoulli5"
    env = gym.make_vec(f"rewardgym/Bandit-{task}-v0", num_envs=4, horizon=20)
    agent = make_agent(name, env, seed=3)
    assert isinstance(agent, Agent)
    seen = []
    assert agent.learn(env, 200, callbacks=[seen.append], progress=False) is agent
    # 50 steps an env: 20 + reset + 20 + reset + 8
    assert seen and seen[-1]["step"] == 200 and seen[-1]["episodes"] == 8
    result = agent.evaluate(env, 10, seed=0)
    assert result["episodes"] == 10 and result["mean_length"] == 20
    assert {"mean_return", "success_rate", "cumulative_regret", "suffix_failure"} <= set(result)
    agent.save(tmp_path / "agent")
    loaded = load_agent(tmp_path / "agent", env)
    assert type(loaded) is type(agent) and loaded.config() == agent.config()


def test_callback_returning_false_stops_learning():
    env = gym.make_vec("rewardgym/Bandit-Bernoulli5-v0", num_envs=2, horizon=20)
    seen = []
    make_agent("ucb", env).learn(env, 10_000, callbacks=[lambda m: seen.append(m) or False], progress=False)
    assert len(seen) == 1


def test_agents_accept_a_single_env():
    env = gym.make("rewardgym/Bandit-Bernoulli5-v0", horizon=30)
    result = rewardgym.make_agent("ucb", env).evaluate(env, 3, seed=1)
    assert result["episodes"] == 3 and result["mean_length"] == 30


def test_bad_agent_inputs():
    env = gym.make("rewardgym/Bandit-Bernoulli5-v0")
    with pytest.raises(ValueError, match="unknown agent 'nope'"):
        make_agent("nope", env)
    with pytest.raises(ValueError, match="epsilon"):
        make_agent("epsilon-greedy", env, epsilon=2.0)
    with pytest.raises(ValueError, match="bad config"):
        make_agent("ucb", env, colour="red")
    with pytest.raises(ValueError, match="Discrete"):
        make_agent("ucb", gym.make("Pendulum-v1"))
    with pytest.raises(ValueError, match="bandit env"):
        make_agent("thompson", gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="built for 5"):
        make_agent("ucb", env).act({"last_arm": np.zeros((2, 3)), "last_reward": np.zeros((2, 1))})


def test_corrupt_or_mismatched_checkpoint(tmp_path):
    env = gym.make("rewardgym/Bandit-Bernoulli5-v0")
    with pytest.raises(FileNotFoundError, match="not a saved agent"):
        load_agent(tmp_path)
    (tmp_path / "agent.json").write_text("{not json")
    with pytest.raises(ValueError, match="corrupt"):
        load_agent(tmp_path)
    make_agent("ucb", env).save(tmp_path / "ucb")
    with pytest.raises(ValueError, match="holds a 'ucb' agent"):
        rewardgym.agents.agent_class("thompson").load(tmp_path / "ucb")
