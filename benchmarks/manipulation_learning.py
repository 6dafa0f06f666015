"""Learning on the manipulation family: rewardgym/Manip-Reach-v0 to >= 90% test success on CPU, two routes.

    python benchmarks/manipulation_learning.py [--routes ppo sac-her] [--ppo-steps 100000] [--sac-steps 10000]
                                               [--seed 0] [--episodes 100] [--test-seed 1000000] [--threads 1]

Each route trains through ``rewardgym train`` (in this process, so the timing is the command's
own: rollouts, updates, logging and checkpoints) from state observations, then loads the final
checkpoint and tests it on the sparse ``rewardgym/Manip-Reach-v0`` (reward 0 within 5 cm of the
goal, else -1; 50-step episodes): success is the last step of an episode within 5 cm, over
``--episodes`` episodes on held-out seeds from ``--test-seed`` (training seeds its envs with the
run seed, far below 1,000,000), with the deterministic and the stochastic policy.

Routes:
- ``ppo``: rewardgym's PPO trained on ``rewardgym/Manip-ReachDense-v0`` (the same task, reward
  minus the distance to the goal) with :data:`PPO_CONFIG`: CleanRL's continuous-action settings
  for the update (10 epochs, lr 3e-4, no entropy bonus) over 8 envs x 64 steps, and observation
  normalisation (``norm_obs``). Sparse Reach alone gives PPO no signal to follow: a random
  policy ends within 5 cm of the goal in about 1% of episodes.
- ``sac-her``: stable-baselines3's SAC with ``HerReplayBuffer`` through ``SB3Agent`` on the
  sparse ``rewardgym/Manip-Reach-v0`` itself, on one env with RL Zoo's FetchReach settings less its
  observation normalisation and time feature (:data:`SAC_CONFIG`): one update per env step.

The table: route, env steps trained, training wall seconds, env steps per second, test success
(deterministic / stochastic policy) and mean test return.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import platform
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import torch

import rewardgym  # noqa: F401  (registers the ids)
from rewardgym.agents import load_agent
from rewardgym.cli import main as rewardgym_main

TEST_ENV = "rewardgym/Manip-Reach-v0"
TEST_SEED = 1_000_000

PPO_ENV = "rewardgym/Manip-ReachDense-v0"
PPO_NUM_ENVS = 8
PPO_CONFIG = {"num_steps": 64, "num_minibatches": 8, "update_epochs": 10, "learning_rate": 3e-4, "ent_coef": 0.0,
              "norm_obs": True}
PPO_STEPS = 100_000

SAC_ENV = TEST_ENV
SAC_NUM_ENVS = 1
SAC_CONFIG = {"algo": "SAC", "replay_buffer_class": "HerReplayBuffer",
              "replay_buffer_kwargs": {"n_sampled_goal": 4, "goal_selection_strategy": "future"},
              "policy_kwargs": {"net_arch": [64, 64]}, "learning_rate": 1e-3, "gamma": 0.95, "batch_size": 256,
              "buffer_size": 100_000, "learning_starts": 1000}
SAC_STEPS = 10_000

ROUTES = {"ppo": ("ppo", PPO_ENV, PPO_NUM_ENVS, PPO_CONFIG, PPO_STEPS),
          "sac-her": ("sb3", SAC_ENV, SAC_NUM_ENVS, SAC_CONFIG, SAC_STEPS)}


def config_arguments(config: dict) -> list[str]:
    """``--config`` words for a settings dict: dicts as JSON, the rest as they print."""
    return [f"{key}={json.dumps(value) if isinstance(value, dict) else value}" for key, value in config.items()]


def train_command(route: str, steps: int, seed: int, out: Path) -> list[str]:
    """The ``rewardgym train`` arguments of a route."""
    agent, env_id, num_envs, config, _ = ROUTES[route]
    return ["train", env_id, "--agent", agent, "--num-envs", str(num_envs), "--steps", str(steps),
            "--seed", str(seed), "--device", "cpu", "--out", str(out), "--no-progress",
            "--config", *config_arguments(config)]


def run_route(route: str, steps: int | None = None, seed: int = 0, episodes: int = 100,
              test_seed: int = TEST_SEED, out: Path | None = None) -> dict:
    """Train one route with ``rewardgym train``, then test it on Manip-Reach-v0; returns the figures."""
    steps = ROUTES[route][4] if steps is None else steps
    with tempfile.TemporaryDirectory() as scratch:
        parent = Path(out or scratch)
        before = set(parent.iterdir()) if parent.exists() else set()
        log = io.StringIO()  # the command's own report: the table stays readable
        start = time.perf_counter()
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            status = rewardgym_main(train_command(route, steps, seed, parent))
        seconds = time.perf_counter() - start
        if status != 0:
            raise RuntimeError(f"rewardgym train failed for route {route}:\n{log.getvalue()}")
        (run_dir,) = set(parent.iterdir()) - before
        with open(run_dir / "metrics.csv", newline="") as f:
            trained_steps = int(float(list(csv.DictReader(f))[-1]["step"]))
        test_envs = gym.make_vec(TEST_ENV, num_envs=10, vectorization_mode="sync")
        agent = load_agent(run_dir / "checkpoints" / "final", test_envs)
        result = {"route": route, "steps": trained_steps, "seconds": seconds}
        for name, deterministic in (("deterministic", True), ("stochastic", False)):
            figures = agent.evaluate(test_envs, episodes, seed=test_seed, deterministic=deterministic)
            result[f"success_{name}"] = figures["success_rate"]
            result[f"return_{name}"] = figures["mean_return"]
            result["episodes"] = figures["episodes"]
        test_envs.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", nargs="+", choices=list(ROUTES), default=list(ROUTES))
    parser.add_argument("--ppo-steps", type=int, default=PPO_STEPS, help="PPO env steps (on Manip-ReachDense-v0)")
    parser.add_argument("--sac-steps", type=int, default=SAC_STEPS, help="SAC + HER env steps")
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--episodes", type=int, default=100, help="test episodes per policy")
    parser.add_argument("--test-seed", type=int, default=TEST_SEED, help="first test seed (held out: >= 1000000)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--out", help="keep the run folders here (default: a temporary folder)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s), "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"test: {TEST_ENV}, seeds from {args.test_seed}, {args.episodes} episodes; training seed {args.seed}\n")
    steps = {"ppo": args.ppo_steps, "sac-her": args.sac_steps}
    print(f"{'route':<9}{'trained on':<24}{'env steps':>10}{'wall s':>8}{'steps/s':>9}"
          f"{'success det / stoch':>21}{'return det':>12}")
    for route in args.routes:
        r = run_route(route, steps[route], args.seed, args.episodes, args.test_seed,
                      Path(args.out) if args.out else None)
        trained_on = ROUTES[route][1].removeprefix("rewardgym/")
        success = f"{r['success_deterministic']:.0%} / {r['success_stochastic']:.0%}"
        print(f"{route:<9}{trained_on:<24}{r['steps']:>10,}{r['seconds']:>8.0f}{r['steps'] / r['seconds']:>9,.0f}"
              f"{success:>21}{r['return_deterministic']:>12.1f}", flush=True)
    print("\ncommands:")
    for route in args.routes:
        words = train_command(route, steps[route], args.seed, Path("runs"))
        print("  rewardgym " + " ".join(f"'{w}'" if "{" in w else w for w in words))


if __name__ == "__main__":
    main()
