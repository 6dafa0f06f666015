"""The showcase: a learned reward teaching an agent what the sparse reward alone does not, in minutes on a CPU.

``rewardgym showcase`` (and :func:`run_showcase`) does the whole loop on sparse
``rewardgym/Manip-Reach-v0`` (reward 0 within 5 cm of the target, −1 elsewhere):

1. the scripted expert records ``demos`` episodes (:func:`rewardgym.collect_demos`);
2. a progress model Φ(goal_delta) ∈ [0, 1] is fitted on them (:class:`ProgressModel`), its
   value-order correlation (VOC) checked on held-out demos;
3. PPO (the Reach preset's settings) trains on the sparse reward alone and on the sparse reward
   plus potential-based shaping ``scale·(γΦ(s′) − Φ(s))``, for each seed, two runs at a time;
4. each run is tested on held-out seeds (deterministic policy), and one plot shows both
   learning curves.

Potential-based shaping leaves the optimal policy unchanged (Ng et al. 1999), so what the plot
shows is sample efficiency bought by the demonstrations.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ENV_ID = "rewardgym/Manip-Reach-v0"
KEYS = ("goal_delta",)  # what Φ reads: the goal is what progress is about (velocities would be extrapolated)
TEST_SEED = 1_000_000
GAMMA = 0.99


def fit_progress_model(env_id: str, demos: int, folder: Path, keys: Sequence[str] = KEYS, seed: int = 0,
                       test_demos: int = 20) -> dict[str, Any]:
    """Collect expert demos of ``env_id``, fit a state progress model on ``keys`` into ``folder/model``.

    Returns the model's path, fitting time and VOC on held-out and on test-seed demos.
    """
    from rewardgym.reward_models.progress import ProgressModel
    from rewardgym.workflows.demos import collect_demos, load_demos

    collect_demos(env_id, demos, folder / "demos", progress=False)
    model = ProgressModel("state", keys=list(keys))
    started = time.perf_counter()
    model.fit(load_demos(folder / "demos"), seed=seed, progress=False)
    seconds = time.perf_counter() - started
    model.save(folder / "model")
    collect_demos(env_id, test_demos, folder / "test_demos", seed=TEST_SEED, progress=False)
    return {"path": str(folder / "model"), "seconds": seconds, **model.config["metrics"],
            "test_voc": model.evaluate(load_demos(folder / "test_demos"))["voc"]}


def train_ppo(env_id: str, steps: int, seed: int, reward: str | None, episodes: int,
              num_envs: int | None = None, threads: int = 1) -> dict[str, Any]:
    """One PPO run with the env's preset settings; the training curve (step, success) and the test success."""
    import gymnasium as gym
    import torch

    from rewardgym.agents import make_agent
    from rewardgym.rewards import make_reward
    from rewardgym.workflows.presets import preset_for
    from rewardgym.wrappers.vector import LearnedReward

    torch.set_num_threads(threads)
    preset = preset_for(env_id, "ppo")
    config = {**(preset.config if preset else {}), "device": "cpu"}
    envs = gym.make_vec(env_id, num_envs=num_envs or (preset.num_envs if preset else 8), vectorization_mode="sync")
    model = None
    if reward is not None:  # scored once per rollout, as `rewardgym train --reward` does for PPO
        model = make_reward(reward)
        envs = LearnedReward(envs, model, defer=True)
    curve: list[tuple[float, float]] = []
    agent = make_agent("ppo", envs, seed=seed, **config)
    started = time.perf_counter()
    agent.learn(envs, steps, progress=False,
                callbacks=[lambda m: curve.append((m["step"], m["success_rate"])) if "success_rate" in m else None])
    seconds = time.perf_counter() - started
    envs.close()
    if model is not None and callable(getattr(model, "close", None)):
        model.close()
    test_envs = gym.make_vec(env_id, num_envs=10, vectorization_mode="sync")
    test = agent.evaluate(test_envs, episodes, seed=TEST_SEED, deterministic=True)
    test_envs.close()
    return {"curve": curve, "seconds": seconds, "test_success": float(test["success_rate"]),
            "steps": agent.global_step}


def _run(job: tuple) -> tuple:
    label, seed, reward, steps, episodes = job
    return label, seed, train_ppo(ENV_ID, steps, seed, reward, episodes)


def plot_showcase(results: dict[str, list[dict]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for (label, runs), color in zip(results.items(), ("tab:gray", "tab:blue")):
        curves = [np.asarray(r["curve"]) for r in runs if r["curve"]]
        for k, curve in enumerate(curves):
            ax.plot(curve[:, 0], curve[:, 1], color=color, alpha=0.9, linewidth=1.5,
                    label=f"{label} (seeds {', '.join(str(r['seed']) for r in runs)})" if k == 0 else None)
    ax.set_xlabel("env steps")
    ax.set_ylabel("training success rate (last 100 episodes)")
    ax.set_ylim(-0.02, 1.02)  # the whole range: a flat line stays flat
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def run_showcase(out: str | Path, steps: int = 100_000, seeds: Sequence[int] = (0, 1, 2), demos: int = 60,
                 scale: float = 10.0, episodes: int = 50, workers: int | None = None, echo=print) -> dict[str, Any]:
    """The whole showcase (see the module docstring); writes ``out/`` and returns the results."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    echo(f"1/3 recording {demos} expert demos of {ENV_ID} and fitting a progress model on {list(KEYS)} ...")
    fitted = fit_progress_model(ENV_ID, demos, out)
    echo(f"    progress model: VOC {fitted['val_voc']:.3f} on held-out demos, {fitted['test_voc']:.3f} on "
         f"test-seed demos (1 = progress rises along every demo)")
    spec = f"progress:{fitted['path']};gamma={GAMMA};scale={scale}"
    arms = {"sparse reward": None, "sparse + progress shaping": spec}
    jobs = [(label, seed, reward, steps, episodes) for seed in seeds for label, reward in arms.items()]
    workers = workers or max(1, min(len(jobs), os.cpu_count() or 1))
    echo(f"2/3 training PPO on the sparse reward alone and with the shaping, seeds {list(seeds)}, {steps:,} steps "
         f"each ({len(jobs)} runs, {workers} at a time) ...")
    results: dict[str, list[dict]] = {label: [] for label in arms}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for done, (label, seed, run) in enumerate(pool.map(_run, jobs), 1):
            results[label].append({"seed": seed, **run})
            echo(f"    [{done}/{len(jobs)}] {label}, seed {seed}: test success {run['test_success']:.0%} "
                 f"({run['seconds']:.0f} s)")
    plot_path = out / "showcase.png"
    plot_showcase(results, plot_path, f"PPO on sparse {ENV_ID.removeprefix('rewardgym/')}: alone vs + progress "
                                      f"shaping from {demos} demos")
    summary = {label: float(np.mean([r["test_success"] for r in runs])) for label, runs in results.items()}
    (out / "results.json").write_text(json.dumps({"env_id": ENV_ID, "steps": steps, "seeds": list(seeds),
                                                  "progress_model": fitted, "summary": summary,
                                                  "runs": results}, indent=1, default=str))
    echo("3/3 test success on 50 held-out episodes (deterministic policy), mean over seeds:")
    for label, value in summary.items():
        echo(f"    {label:<28}{value:>6.0%}")
    echo(f"plot: {plot_path}; results: {out / 'results.json'}; model: {fitted['path']} "
         f"({time.perf_counter() - started:.0f} s in all)")
    return {"summary": summary, "runs": results, "progress_model": fitted, "plot": str(plot_path)}
