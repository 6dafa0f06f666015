"""Does LLM feedback on messages help PPO on a sparse dungeon task? Extrinsic reward vs + Motif's intrinsic reward.

    python benchmarks/llm_feedback_dungeon.py [--env rewardgym/Dungeon-Staircase-v0] [--goal TEXT]
                                              [--models lookup [bradley-terry]] [--steps 150000] [--seeds 0 1 2]
                                              [--envs 32] [--max-steps 500] [--coef 0.1] [--env-coef 10]
                                              [--plot docs/img/llm_feedback_dungeon.png] [--threads 1]

For each seed, train rewardgym's PPO (``--envs`` envs, ``actions="reduced"``, episodes of
``--max-steps`` steps) on the task's extrinsic reward alone, and on ``α_ext·r_ext + α_int·r_int``
for each ``--models`` reward model, ``r_int`` the ``llm-feedback`` reward
(``llm-feedback:goal=...;annotator=embedding;model=...``, Motif's β = 3 count discount) scored
on the ``message`` line by :class:`~rewardgym.wrappers.vector.LearnedReward` with Motif's mixing
(α_int = ``--coef`` = 0.1, α_ext = ``--env-coef`` = 10, Motif's value outside the Score task).
The annotator is the offline one: a message is labelled helpful when its MiniLM embedding is
close to the goal text (ELLM-style), so no LLM is needed.

The policy sees MiniHack's 9 x 9 egocentric ``chars_crop`` and the ``blstats`` (through MLPs,
normalised); the message is read by the reward only, not by the policy. Rewards are scaled by
the running std of the return (``norm_reward``) in every condition, so α_ext and α_int set the
ratio of the two terms, not the step size.

Reported: the training success rate (the last 100 episodes; on Staircase, reaching depth 2)
and the training return (the reward each agent is trained on, per episode) over env steps as a
two-panel PNG, and a table of the final values with the extrinsic return per episode (the
task's success reward times the success rate: the goal tasks pay only on success).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from curves import learn_curve, marks, plot_runs  # benchmarks/curves.py: the script's folder is on sys.path
from gymnasium.wrappers.vector import FilterObservation

import rewardgym
from rewardgym.reward_models import make_reward
from rewardgym.wrappers.vector import LearnedReward

POLICY_KEYS = ("chars_crop", "blstats")
PPO_CONFIG = {"num_steps": 128, "num_minibatches": 4, "update_epochs": 4, "learning_rate": 3e-4, "ent_coef": 0.01,
              "norm_obs": True, "norm_reward": True, "device": "cpu"}
GOALS = {"Staircase": "find the staircase down and descend", "Gold": "collect gold"}


def make_envs(env_id: str, num_envs: int, max_steps: int) -> gym.vector.VectorEnv:
    return gym.make_vec(env_id, num_envs=num_envs, observation_keys=(*POLICY_KEYS, "message"), actions="reduced",
                        max_steps=max_steps)


def train(env_id: str, steps: int, seed: int, spec: str | None, args: argparse.Namespace) -> dict:
    """One PPO run; returns the training curves and the reward model's annotation counts."""
    envs = make_envs(env_id, args.envs, args.max_steps)
    reward = None
    if spec is not None:
        reward = make_reward(spec)
        envs = LearnedReward(envs, reward, mode="add", coef=args.coef, env_coef=args.env_coef)
    envs = FilterObservation(envs, list(POLICY_KEYS))
    agent = rewardgym.make_agent("ppo", envs, seed=seed, **PPO_CONFIG)
    curve, seconds = learn_curve(agent, envs, steps, ("success_rate", "mean_return"))
    envs.close()
    out = {"curve": curve, "seconds": seconds, "steps": agent.global_step}
    if reward is not None:
        reward.close()
        out["messages"] = len(reward._known)
        out["queries"] = reward.annotator.stats.queries
        helpful = getattr(reward.model, "labels", None)
        out["helpful"] = sorted(m for m, label in helpful.items() if label > 0) if helpful else None
    return out


def plot(results: dict[str, list[dict]], env_id: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.0), dpi=120)
    colors = ("tab:gray", "tab:blue", "tab:orange", "tab:green")
    for (label, runs), color in zip(results.items(), colors):
        for ax, column in zip(axes, (1, 2)):
            plot_runs(ax, runs, column, color, f"{label} ({len(runs)} seeds)")
    axes[0].set_ylabel("training success rate (last 100 episodes)", fontsize=9)
    axes[0].set_ylim(-0.02, 1.02)
    axes[1].set_ylabel("training return per episode (reward trained on)", fontsize=9)
    axes[1].set_yscale("symlog", linthresh=1.0)
    for ax in axes:
        ax.set_xlabel("env steps")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1000:.0f}k"))
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(f"PPO on {env_id.removeprefix('rewardgym/')}: extrinsic reward vs + LLM-feedback intrinsic reward "
                 "(offline embedding annotator)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.94))  # room for the title above both panels
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="rewardgym/Dungeon-Staircase-v0", help="a sparse dungeon task id")
    parser.add_argument("--goal", help="the goal text shown to the annotator (default: the task's)")
    parser.add_argument("--models", nargs="+", default=["lookup"],
                        help="llm-feedback reward models to compare with the extrinsic reward alone")
    parser.add_argument("--steps", type=int, default=150_000, help="env steps per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--envs", type=int, default=32, help="envs of the vector env")
    parser.add_argument("--max-steps", type=int, default=500, help="steps before an episode is truncated")
    parser.add_argument("--coef", type=float, default=0.1, help="alpha_int, the weight of the intrinsic reward")
    parser.add_argument("--env-coef", type=float, default=10.0, help="alpha_ext, the weight of the task's reward")
    parser.add_argument("--plot", default="docs/img/llm_feedback_dungeon.png", help="where the PNG goes")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    task = args.env.removeprefix("rewardgym/").removeprefix("Dungeon-").removesuffix("-v0")
    goal = args.goal or GOALS[task]
    success_reward = gym.spec(args.env).kwargs.get("success_reward")

    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s), "
          f"{time.strftime('%Y-%m-%d')}")
    conditions: dict[str, str | None] = {"extrinsic": None}
    for model in args.models:
        conditions[f"+ llm-feedback ({model})"] = f"llm-feedback:goal={goal};annotator=embedding;model={model}"
    results: dict[str, list[dict]] = {label: [] for label in conditions}
    print(f"PPO on {args.env}, {args.envs} envs, episodes of {args.max_steps} steps, observation {POLICY_KEYS}, "
          f"reduced actions, {args.steps:,} steps per run, seeds {args.seeds}")
    print(f"intrinsic reward: goal {goal!r}, annotator=embedding, beta=3; "
          f"alpha_int={args.coef}, alpha_ext={args.env_coef}\n")
    print(f"{'condition':<32}{'seed':>5}{'wall s':>8}{'success':>9}{'ext. return':>13}{'train return':>14}"
          f"{'messages':>10}{'queries':>9}")
    for seed in args.seeds:
        for label, spec in conditions.items():
            r = train(args.env, args.steps, seed, spec, args)
            results[label].append(r)
            final = r["curve"][-1]
            extrinsic = final[1] * success_reward if success_reward else float("nan")
            print(f"{label:<32}{seed:>5}{r['seconds']:>8.0f}{final[1]:>9.0%}{extrinsic:>13.1f}{final[2]:>14.2f}"
                  f"{r.get('messages', ''):>10}{r.get('queries', ''):>9}", flush=True)
            if r.get("helpful") is not None and seed == args.seeds[0]:
                print(f"    messages labelled helpful: {r['helpful']}")
    print(f"\n{'condition':<32}{'success, mean ± sd':>20}{'success at 25/50/100% of steps':>34}")
    for label, runs in results.items():
        final = np.array([r["curve"][-1, 1] for r in runs])
        print(f"{label:<32}{f'{final.mean():.0%} ± {final.std():.0%}':>20}{marks(runs):>34}")
    plot(results, args.env, Path(args.plot))
    print(f"\nplot: {args.plot}; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
