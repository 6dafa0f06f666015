"""Multi-agent speed: the batched bandit market against the same env vectorised by SuperSuit.

    python benchmarks/multiagent_speed.py [--games 1 64 1024] [--seconds 3] [--agents 3]

Agent-steps per second (games x agents x steps / s) of random play, measured in one process:
``make_vec("bandit_market_v0", G)`` (one NumPy step for all games) and SuperSuit's
``concat_vec_envs_v1(pettingzoo_env_to_vec_env_v1(parallel_env()), G)`` (G copies of the
PettingZoo env stepped one after another, the way SuperSuit users vectorise any PettingZoo
env). Actions are drawn beforehand so only the envs are timed.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from rewardgym.envs.multiagent import bandit_market_v0, make_vec


def rate(step, reset, agents_per_call: int, seconds: float, actions: np.ndarray) -> float:
    reset()
    for k in range(5):  # warm-up
        step(actions[k % len(actions)])
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for k in range(50):
            step(actions[k % len(actions)])
        calls += 50
    return calls * agents_per_call / (time.perf_counter() - started)


def ours(games: int, agents: int, seconds: float) -> float:
    env = make_vec("bandit_market_v0", games, n_agents=agents)
    actions = np.random.default_rng(0).integers(0, env.single_action_space.n, (64, games, agents))
    return rate(env.step, lambda: env.reset(seed=0), games * agents, seconds, actions)


def supersuit(games: int, agents: int, seconds: float) -> float:
    import supersuit as ss

    env = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(bandit_market_v0.parallel_env(n_agents=agents)),
                                games, num_cpus=0, base_class="gymnasium")
    actions = np.random.default_rng(0).integers(0, 5, (64, games * agents))
    return rate(env.step, lambda: env.reset(seed=0), games * agents, seconds, actions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, nargs="+", default=[1, 64, 1024])
    parser.add_argument("--agents", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per measurement")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}, bandit_market_v0, "
          f"{args.agents} agents, random actions; agent-steps per second")
    print(f"{'games':>6}{'rewardgym':>14}{'SuperSuit':>14}{'ratio':>8}")
    for games in args.games:
        a, b = ours(games, args.agents, args.seconds), supersuit(games, args.agents, args.seconds)
        print(f"{games:>6}{a:>14,.0f}{b:>14,.0f}{a / b:>7.1f}x", flush=True)


if __name__ == "__main__":
    main()
