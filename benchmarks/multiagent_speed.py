"""Multi-agent speed: the batched envs against the same envs vectorised by SuperSuit.

    python benchmarks/multiagent_speed.py [--env bandit_market_v0 dungeon_party_v0] [--games 1 64 1024]
        [--seconds 3]

Agent-steps per second (games x agents x steps / s) of random play, measured in one process:
``make_vec(name, G)`` (one step for all games: NumPy for the bandit market, one compiled call
for the dungeon party) and SuperSuit's
``concat_vec_envs_v1(pettingzoo_env_to_vec_env_v1(parallel_env()), G)`` (G copies of the
PettingZoo env stepped one after another, the way SuperSuit users vectorise any PettingZoo
env). Actions are drawn beforehand so only the envs are timed.

The bandit market runs 3 agents; the dungeon party 2 adventurers in its default 5x5 room with
its default keys. Adventurers leave the party's game before the others, which SuperSuit's
vectoriser accepts only behind ``black_death_v3``, and that wants Box observations: on
SuperSuit's side the party's Dict observation is flattened into one Box by a one-line
PettingZoo wrapper (gymnasium's ``flatten``), and that flattening counts in its time; the same
wrapper marks a game's last agents both terminated and truncated, without which
``black_death_v3`` (SuperSuit 3.11) never sees the game end.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from rewardgym.envs.multiagent import env_module, make_vec

AGENTS = {"bandit_market_v0": 3, "dungeon_party_v0": 2}


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


def ours(name: str, games: int, seconds: float) -> float:
    env = make_vec(name, games, n_agents=AGENTS[name])
    actions = np.random.default_rng(0).integers(0, env.single_action_space.n, (64, games, AGENTS[name]))
    return rate(env.step, lambda: env.reset(seed=0), games * AGENTS[name], seconds, actions)


def flat_parallel_env(name: str):
    """The PettingZoo env with each agent's Dict observation flattened into one Box (for black_death_v3)."""
    from gymnasium import spaces
    from pettingzoo.utils import BaseParallelWrapper

    class Flat(BaseParallelWrapper):
        def observation_space(self, agent):
            return spaces.flatten_space(self.env.observation_space(agent))

        def _flat(self, obs):
            return {a: spaces.flatten(self.env.observation_space(a), o) for a, o in obs.items()}

        def reset(self, seed=None, options=None):
            obs, info = self.env.reset(seed=seed, options=options)
            return self._flat(obs), info

        def step(self, actions):
            obs, rewards, terminations, truncations, infos = self.env.step(actions)
            if not self.env.agents:  # black_death_v3 (SuperSuit 3.11) ends a game only when its last agents
                truncations = dict.fromkeys(truncations, True)  # report terminated *and* truncated
                terminations = dict.fromkeys(terminations, True)
            return self._flat(obs), rewards, terminations, truncations, infos

    return Flat(env_module(name).parallel_env(n_agents=AGENTS[name]))


def supersuit(name: str, games: int, seconds: float) -> float:
    import supersuit as ss

    if name == "dungeon_party_v0":
        env = ss.black_death_v3(flat_parallel_env(name))
    else:
        env = env_module(name).parallel_env(n_agents=AGENTS[name])
    n = env.action_space(env.possible_agents[0]).n
    env = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(env), games, num_cpus=0, base_class="gymnasium")
    actions = np.random.default_rng(0).integers(0, n, (64, games * AGENTS[name]))
    return rate(env.step, lambda: env.reset(seed=0), games * AGENTS[name], seconds, actions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, nargs="+", default=[1, 64, 1024])
    parser.add_argument("--env", nargs="+", default=list(AGENTS), choices=list(AGENTS))
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per measurement")
    args = parser.parse_args()
    for name in args.env:
        print(f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}, {name}, "
              f"{AGENTS[name]} agents, random actions; agent-steps per second")
        print(f"{'games':>6}{'rewardgym':>14}{'SuperSuit':>14}{'ratio':>8}")
        for games in args.games:
            a, b = ours(name, games, args.seconds), supersuit(name, games, args.seconds)
            print(f"{games:>6}{a:>14,.0f}{b:>14,.0f}{a / b:>7.1f}x", flush=True)


if __name__ == "__main__":
    main()
