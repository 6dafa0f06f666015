"""Helpers the env-family tests share: the vector == N single envs check of the batched-core contract."""

from __future__ import annotations

import gymnasium as gym
import numpy as np


def rollout_single(env_id, seeds, actions, **kwargs):
    """Per-env trajectories of single envs, resetting after each episode as NEXT_STEP autoreset does."""
    out = []
    for i, seed in enumerate(seeds):
        env = gym.make(env_id, **kwargs)
        obs, info = env.reset(seed=seed)
        steps, restart = [], False
        for a in actions[:, i]:
            if restart:
                obs, info = env.reset()
                steps.append((obs, 0.0, False, False, info))
                restart = False
                continue
            obs, r, term, trunc, info = env.step(int(a))
            steps.append((obs, r, term, trunc, info))
            restart = term or trunc
        out.append(steps)
    return out


def assert_same_step(vector_step, single_step, i):
    """Row ``i`` of a vector env's step equals a single env's step: observation, reward, flags and info keys."""
    obs, reward, terminated, truncated, info = vector_step
    s_obs, s_r, s_term, s_trunc, s_info = single_step
    for key in s_obs:
        np.testing.assert_array_equal(obs[key][i], s_obs[key], err_msg=key)
    assert (reward[i], terminated[i], truncated[i]) == (s_r, s_term, s_trunc)
    for key, value in s_info.items():
        assert info["_" + key][i] and info[key][i] == value, key
    assert {k for k in info if not k.startswith("_") and info["_" + k][i]} == set(s_info)


def assert_vector_equals_single(env_id, seed, actions, **kwargs):
    """``gym.make_vec`` seeded ``seed`` replays single envs seeded ``seed, seed + 1, ...`` step for step.

    ``actions`` is (steps, num_envs); ``kwargs`` go to both constructors.
    """
    num_envs = actions.shape[1]
    single = rollout_single(env_id, [seed + i for i in range(num_envs)], actions, **kwargs)
    envs = gym.make_vec(env_id, num_envs=num_envs, **kwargs)
    envs.reset(seed=seed)
    for t, a in enumerate(actions):
        step = envs.step(a)
        for i in range(num_envs):
            assert_same_step(step, single[i][t], i)
    envs.close()
