"""The generic novelty bonus (episodic counts): the baseline an LLM-derived reward has to beat."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rewardgym  # noqa: F401 - registers the ids
from rewardgym.reward_models.novelty import EpisodicNovelty
from rewardgym.rewards import make_reward
from rewardgym.rewards.transitions import Transitions
from rewardgym.wrappers.vector import LearnedReward


def batch(next_obs, done=None, env_ids=None, infos=None) -> Transitions:
    n = len(next_obs) if not isinstance(next_obs, dict) else len(next(iter(next_obs.values())))
    done = np.zeros(n, bool) if done is None else np.asarray(done)
    return Transitions(next_obs, np.zeros(n), next_obs, done, np.zeros(n, bool), infos or [{}] * n,
                       env_ids=None if env_ids is None else np.asarray(env_ids))


def test_messages_pay_one_over_the_square_root_of_their_count_per_env_and_episode():
    novelty = EpisodicNovelty()
    # env 0 sees "a", "a", "b", then its episode ends on "a"; env 1 is counted apart
    rollout = batch(["a", "x", "a", "a", "b", "x", "a", "x"], done=[0, 0, 0, 0, 0, 0, 1, 0],
                    env_ids=[0, 1, 0, 1, 0, 1, 0, 1])
    np.testing.assert_allclose(novelty(rollout), [1, 1, 1 / np.sqrt(2), 1, 1, 1 / np.sqrt(2), 1 / np.sqrt(3),
                                                  1 / np.sqrt(3)], rtol=1e-6)
    # env 0's episode ended: its counts start again; env 1 goes on
    np.testing.assert_allclose(novelty(batch(["a", "x"])), [1, 1 / 2], rtol=1e-6)


def test_observations_without_text_are_counted_by_their_contents():
    novelty = EpisodicNovelty(key="obs", beta=1.0, scale=2.0)
    obs = {"pos": np.array([[0, 0], [0, 0], [1, 0]]), "goal": np.array([[5, 5], [5, 5], [5, 5]])}
    np.testing.assert_allclose(novelty(batch(obs, env_ids=[0, 0, 0])), [2.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="no text"):
        EpisodicNovelty(key="message")(batch(np.zeros((1, 3))))
    with pytest.raises(ValueError, match="key must be"):
        EpisodicNovelty(key="pixels")


def test_the_spec_drives_a_dungeon_and_the_bonus_decays_when_nothing_changes():
    model = make_reward("novelty:beta=0.5")
    assert isinstance(model, EpisodicNovelty) and model.beta == 0.5
    env = LearnedReward(gym.make_vec("rewardgym/Dungeon-Gold-v0", num_envs=2), model, mode="replace")
    env.reset(seed=0)
    rewards = []
    for _ in range(30):
        _, reward, terminated, truncated, _ = env.step(np.array([0, 0]))  # the same action again and again
        rewards.append(reward)
    rewards = np.array(rewards)
    assert np.all((rewards > 0) & (rewards <= 1.0))
    assert rewards[-1].max() < 0.5  # the same few messages seen again and again pay less and less
    env.close()
