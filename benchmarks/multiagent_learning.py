"""Does a shared policy learn the bandit market? PPO (parameter sharing) and MAPPO against bandit baselines.

    python benchmarks/multiagent_learning.py [--steps 300000] [--seeds 0 1 2] [--games 16] [--episodes 96]

``bandit_market_v0`` (3 agents, 5 Bernoulli arms drawn afresh each episode, 100 pulls, collisions
split the payout) trained the way ``rewardgym train bandit_market_v0 --agent A`` trains it
(every seat a row, ``--num-envs`` games), then evaluated on held-out seeds (from 1,000,000):

* ``uniform``: every agent pulls uniformly at random (no learning) — the floor;
* ``thompson``: an independent Thompson-sampling learner per seat within each episode (it sees
  its own pulls only, not the others');
* ``ppo``: one policy shared by every seat, trained across episodes (IPPO with parameter
  sharing, ``norm_obs``); ``mappo``: the same with a critic that also reads the game's state.

Reported per agent-episode: return (payout collected in 100 pulls), cumulative regret against
the team optimum's per-agent share, and how often the episode's last pull was on a top-3 arm
with no one else on it (``success``: settled on a good arm of its own), mean over seeds; PPO
and MAPPO deterministic and stochastic.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from rewardgym.agents import agent_class, make_agent
from rewardgym.workflows.training import make_envs

NAME = "bandit_market_v0"
PPO_CONFIG = {"norm_obs": True, "device": "cpu"}


def run(agent_name: str, steps: int, seed: int, games: int, episodes: int) -> dict[str, dict]:
    spec = agent_class(agent_name).spec
    envs = make_envs(spec, NAME, games, {})
    config = {"seed": seed, **(PPO_CONFIG if agent_name in ("ppo", "mappo") else {})}
    agent = make_agent(agent_name, envs, **config)
    started = time.perf_counter()
    if agent_name != "uniform":
        agent.learn(envs, steps, progress=False)
    seconds = time.perf_counter() - started
    envs.close()
    out = {}
    modes = {"deterministic": True, "stochastic": False} if agent_name in ("ppo", "mappo") else {"": None}
    for label, deterministic in modes.items():
        test = make_envs(spec, NAME, games, {})
        options = {} if deterministic is None else {"deterministic": deterministic}
        result = agent.evaluate(test, episodes, seed=1_000_000, **options)
        test.close()
        out[f"{agent_name} {label}".strip()] = {**result, "seconds": seconds}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300_000, help="agent-steps of training per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--games", type=int, default=16, help="games played at once (rows: games x 3 agents)")
    parser.add_argument("--episodes", type=int, default=96, help="test agent-episodes per run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread, "
          f"{time.strftime('%Y-%m-%d')}; {NAME}, {args.games} games, {args.steps:,} agent-steps per run, "
          f"seeds {args.seeds}, {args.episodes} test agent-episodes")
    rows: dict[str, list[dict]] = {}
    for seed in args.seeds:
        for agent_name in ("uniform", "thompson", "ppo", "mappo"):
            for label, result in run(agent_name, args.steps, seed, args.games, args.episodes).items():
                rows.setdefault(label, []).append(result)
                print(f"  seed {seed} {label:<24} return {result['mean_return']:6.2f}  regret "
                      f"{result['cumulative_regret']:6.2f}  success {result['success_rate']:.0%}  "
                      f"({result['seconds']:.0f} s)", flush=True)
    print("\n| agent | return per agent-episode | cumulative regret | last pull on a top arm, alone | train s |")
    print("|---|---:|---:|---:|---:|")
    for label, results in rows.items():
        mean = {k: np.mean([r[k] for r in results]) for k in ("mean_return", "cumulative_regret", "success_rate",
                                                               "seconds")}
        sd = np.std([r["mean_return"] for r in results])
        print(f"| {label} | {mean['mean_return']:.1f} ± {sd:.1f} | {mean['cumulative_regret']:.1f} | "
              f"{mean['success_rate']:.0%} | {mean['seconds']:.0f} |")


if __name__ == "__main__":
    main()
