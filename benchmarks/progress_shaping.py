"""Does a progress model help PPO on a sparse task? Sparse Reach alone vs sparse Reach + progress shaping.

    python benchmarks/progress_shaping.py [--env rewardgym/Manip-Reach-v0] [--steps 100000] [--seeds 0 1 2]
                                          [--demos 60] [--model PATH] [--scale 10] [--episodes 50]
                                          [--plot docs/img/progress_shaping.png] [--threads 1]

1. Unless ``--model`` names a saved progress model, collect ``--demos`` scripted-expert episodes of
   the env (seeds from 0) and fit a state :class:`~rewardgym.reward_models.progress.ProgressModel`
   on them (a fifth held out: its VOC is printed).
2. For each seed, train rewardgym's PPO (8 envs, the settings of ``benchmarks/manipulation_learning.py``)
   twice on the *sparse* env: with the env reward alone (0 within 5 cm of the goal, else -1), and
   with the env reward plus the potential-based shaping term of the progress model,
   ``scale * (0.99 * Phi(s') - Phi(s))``, scored by PPO's deferred rollout scoring (the spec
   ``progress:PATH;gamma=0.99;scale=S``, the same object ``rewardgym train --reward`` builds).
3. Report the training success rate (the last 100 episodes, over env steps) as a PNG, and a table of
   the test success (``--episodes`` episodes on held-out seeds from 1,000,000, deterministic policy)
   at the end of training.

Potential-based shaping keeps the optimal policy (Ng, Harada & Russell 1999) with gamma equal to
PPO's discount, so any gain is sample efficiency, not a changed task.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from curves import marks, plot_runs  # benchmarks/curves.py: the script's folder is on sys.path

from rewardgym.workflows import showcase

NUM_ENVS = 8  # the Reach preset's (rewardgym/workflows/presets.py), as are PPO's settings
GAMMA = showcase.GAMMA


def fit_model(env_id: str, demos: int, folder: Path) -> dict:
    """Collect expert demos of ``env_id`` and fit a progress model on goal_delta (the showcase's)."""
    return {**showcase.fit_progress_model(env_id, demos, folder), "path": folder / "model"}


def train(env_id: str, steps: int, seed: int, reward: str | None, episodes: int) -> dict:
    """One PPO run (the showcase's): the training curve as an array, the test success."""
    run = showcase.train_ppo(env_id, steps, seed, reward, episodes, num_envs=NUM_ENVS)
    return {**run, "curve": np.asarray(run["curve"])}


def plot(results: dict[str, list[dict]], env_id: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for (label, runs), color in zip(results.items(), ("tab:gray", "tab:blue")):
        plot_runs(ax, runs, 1, color, f"{label} (mean of {len(runs)} seeds)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("training success rate (last 100 episodes)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"PPO on {env_id.removeprefix('rewardgym/')}: sparse reward vs + progress shaping")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="rewardgym/Manip-Reach-v0", help="a sparse manipulation id")
    parser.add_argument("--steps", type=int, default=100_000, help="env steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--demos", type=int, default=60, help="expert episodes to fit the progress model on")
    parser.add_argument("--model", help="a saved progress model (skips collecting and fitting)")
    parser.add_argument("--scale", type=float, default=10.0, help="weight of the shaping term (Phi is in [0, 1])")
    parser.add_argument("--episodes", type=int, default=50, help="test episodes per run")
    parser.add_argument("--plot", default="docs/img/progress_shaping.png", help="where the PNG goes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()

    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s), "
          f"{time.strftime('%Y-%m-%d')}")
    with tempfile.TemporaryDirectory() as scratch:
        if args.model:
            model_path = Path(args.model)
            print(f"progress model: {model_path}")
        else:
            fitted = fit_model(args.env, args.demos, Path(scratch))
            model_path = fitted["path"]
            print(f"progress model: {fitted['train_episodes']} expert demos, fit in {fitted['seconds']:.0f} s; "
                  f"VOC {fitted['val_voc']:.3f} on {fitted['val_episodes']} held-out demos, "
                  f"{fitted['test_voc']:.3f} on 20 test-seed demos")
        spec = f"progress:{model_path};gamma={GAMMA};scale={args.scale}"
        conditions = {"sparse": None, "sparse + progress shaping": spec}
        results: dict[str, list[dict]] = {label: [] for label in conditions}
        print(f"PPO, {NUM_ENVS} envs, {args.steps:,} steps per run, seeds {args.seeds}; "
              f"shaping: {spec.split(';', 1)[1]}\n")
        print(f"{'condition':<28}{'seed':>5}{'wall s':>8}{'train success':>15}{'test success':>14}")
        for seed in args.seeds:
            for label, reward in conditions.items():
                r = train(args.env, args.steps, seed, reward, args.episodes)
                results[label].append(r)
                print(f"{label:<28}{seed:>5}{r['seconds']:>8.0f}{r['curve'][-1, 1]:>15.0%}{r['test_success']:>14.0%}",
                      flush=True)
    print(f"\n{'condition':<28}{'test success, mean ± sd':>26}{'train success at 25/50/100% of steps':>40}")
    for label, runs in results.items():
        test = np.array([r["test_success"] for r in runs])
        print(f"{label:<28}{f'{test.mean():.0%} ± {test.std():.0%}':>26}{marks(runs):>40}")
    plot(results, args.env, Path(args.plot))
    print(f"\nplot: {args.plot}; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
