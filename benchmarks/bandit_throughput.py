"""Bandit env throughput: the natively vectorised env against single envs stepped in a Python loop.

    python benchmarks/bandit_throughput.py [--env rewardgym/Bandit-Bernoulli10-v0] [--seconds 2]

Prints env steps per second for ``gym.make_vec(id, num_envs=N)`` at N = 1, 64 and 4096, and for
the peer in the same run: 4096 ``gym.make(id)`` envs stepped one after another in Python (what a
vector env built from single envs costs at best, before any process or copying overhead), and
Gymnasium's SyncVectorEnv over 64 of them. Actions are drawn before timing starts.
"""

from __future__ import annotations

import argparse
import platform
import time

import gymnasium as gym
import numpy as np

import rewardgym  # noqa: F401  (registers the ids)


def _timed(step_once, steps_per_call: int, seconds: float) -> float:
    step_once()  # warm-up
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(10):
            step_once()
        calls += 10
    return calls * steps_per_call / elapsed


def native(env_id: str, num_envs: int, seconds: float) -> float:
    envs = gym.make_vec(env_id, num_envs=num_envs)
    envs.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, envs.single_action_space.n, size=(256, num_envs))
    i = iter(range(10**12))
    return _timed(lambda: envs.step(actions[next(i) % 256]), num_envs, seconds)


def single_loop(env_id: str, num_envs: int, seconds: float) -> float:
    envs = [gym.make(env_id) for _ in range(num_envs)]
    for k, env in enumerate(envs):
        env.reset(seed=k)
    actions = np.random.default_rng(0).integers(0, envs[0].action_space.n, size=(256, num_envs)).tolist()
    i = iter(range(10**12))

    def step_all():
        row = actions[next(i) % 256]
        for env, a in zip(envs, row):
            _, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                env.reset()

    return _timed(step_all, num_envs, seconds)


def sync_vector(env_id: str, num_envs: int, seconds: float) -> float:
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync")
    envs.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, envs.single_action_space.n, size=(256, num_envs))
    i = iter(range(10**12))
    return _timed(lambda: envs.step(actions[next(i) % 256]), num_envs, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="rewardgym/Bandit-Bernoulli10-v0")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()

    peer = single_loop(args.env, 4096, args.seconds)
    rows = [(f"native make_vec, num_envs={n}", native(args.env, n, args.seconds)) for n in (1, 64, 4096)]
    rows.append(("gymnasium SyncVectorEnv, num_envs=64", sync_vector(args.env, 64, args.seconds)))
    rows.append(("peer: 4096 single envs in a Python loop", peer))

    print(f"{args.env} on {platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}")
    print(f"{'configuration':<42}{'steps/s':>14}{'vs loop':>10}")
    for name, rate in rows:
        print(f"{name:<42}{rate:>14,.0f}{rate / peer:>9.1f}x")


if __name__ == "__main__":
    main()
