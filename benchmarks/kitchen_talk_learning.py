"""Do two agents learn to talk? MAPPO on the talking kitchen, against the same learner that cannot be heard.

    python benchmarks/kitchen_talk_learning.py [--steps 300000] [--seeds 0 1 2] [--games 8] [--episodes 200]
                                               [--jobs 2] [--report JSON]

``kitchen_talk_v0`` (4 foods, 8 steps, a ruined meal costs 1/3: a blind guess is worth 0): the reader must say
which food the recipe needs, the cook must take the food it hears. Arms, each trained the way
``rewardgym train kitchen_talk_v0 --agent A`` trains it (every seat a row of one shared policy,
``--num-envs`` games):

* ``random``: both players choose uniformly among the commands on offer (no learning);
* ``mappo``: MAPPO, one actor for both seats, the critic reading the game's ``state()``;
* ``mappo-mute``: the same learner with ``talk=False`` — what is said is not heard, so the best
  it can do is guess (one game in four): the success communication has to beat;
* ``ippo``: independent PPO with parameter sharing (no centralised critic).

The learners' settings (``PPO_CONFIG``, what ``--config`` gives ``rewardgym train``): rollouts of
16 steps per row and a learning rate of 1e-3, observations normalised. A game lasts about two
steps, so CleanRL's 128-step rollouts make only ~150 updates in 300k steps, too few to leave the
start, where neither the reader's words nor the cook's listening pays until the other's does.

Reported: the training success rate (last 100 games) as an IQM curve with a 95% bootstrap
band across seeds (PNG), and the final policy's success on held-out games (seeds from
1,000,000), deterministic and stochastic, IQM [95% CI] over seeds.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread per run
# ruff: noqa: E402  (the thread settings above must come before NumPy's and torch's imports)

import argparse
import json
import multiprocessing
import platform
import time
from pathlib import Path

import numpy as np
import torch
from curves import learn_curve, plot_success_bands  # benchmarks/curves.py: the script's folder

from rewardgym.agents import agent_class, make_agent
from rewardgym.workflows.curves import bootstrap_ci, iqm
from rewardgym.workflows.training import make_envs

NAME = "kitchen_talk_v0"
ARMS = ("random", "mappo", "mappo-mute", "ippo")
COLORS = dict(zip(ARMS, ("tab:gray", "tab:orange", "tab:blue", "tab:green")))
PPO_CONFIG = {"device": "cpu", "num_steps": 16, "learning_rate": 1e-3, "norm_obs": True}
HELD_OUT = 1_000_000


def env_kwargs(arm: str) -> dict:
    return {"talk": arm != "mappo-mute"}


def run(job: tuple) -> tuple[tuple[str, int], dict]:
    arm, seed, steps, games, episodes = job
    torch.set_num_threads(1)
    agent_name = {"random": "random", "mappo-mute": "mappo"}.get(arm, arm)
    spec = agent_class(agent_name).spec
    kwargs = env_kwargs(arm)
    envs = make_envs(spec, NAME, games, kwargs)
    agent = make_agent(agent_name, envs, seed=seed, **({} if arm == "random" else PPO_CONFIG))
    curve, seconds = (np.zeros((0, 2)), 0.0) if arm == "random" else learn_curve(agent, envs, steps)
    envs.close()
    out = {"curve": curve.tolist(), "seconds": seconds}
    modes = {"stochastic": {}} if arm == "random" else {"deterministic": {"deterministic": True},
                                                          "stochastic": {"deterministic": False}}
    for label, options in modes.items():
        test = make_envs(spec, NAME, games, kwargs)
        result = agent.evaluate(test, episodes, seed=HELD_OUT + seed * episodes, **options)
        test.close()
        out[label] = result["success_rate"]
    return (arm, seed), out


def table(results: dict[str, list[dict]]) -> str:
    lines = ["| arm | held-out success, deterministic | stochastic | per seed (det.) | train s |",
             "|---|---:|---:|---|---:|"]
    for arm, runs in results.items():
        cells = []
        for mode in ("deterministic", "stochastic"):
            values = [r[mode] for r in runs if mode in r]
            if values:
                low, high = bootstrap_ci(values)
                cells.append(f"{iqm(values):.0%} [{low:.0%}, {high:.0%}]")
            else:
                cells.append("—")
        per_seed = " ".join(f"{r.get('deterministic', r['stochastic']):.0%}" for r in runs)
        lines.append(f"| {arm} | {cells[0]} | {cells[1]} | {per_seed} | "
                     f"{np.mean([r['seconds'] for r in runs]):.0f} |")
    return "\n".join(lines)


def plot(results: dict[str, list[dict]], path: Path, n_items: int = 4) -> None:
    plot_success_bands(results, COLORS, path, f"{NAME}: MAPPO with and without being heard, IQM and 95% bootstrap "
                       f"band", xlabel="agent-steps", ylabel="training success rate (last 100 games), IQM",
                       floor=(1 / n_items, f"best guess without talk (1/{n_items})"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300_000, help="agent-steps of training per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    parser.add_argument("--games", type=int, default=8, help="games played at once (rows: games x 2 seats)")
    parser.add_argument("--episodes", type=int, default=200, help="held-out agent-episodes per run")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, one process and one thread each")
    parser.add_argument("--out", default="benchmarks/results/kitchen_talk.json")
    parser.add_argument("--plot", default="docs/img/kitchen_talk.png")
    parser.add_argument("--report", metavar="JSON", help="print the table and redraw the plot of a results file")
    args = parser.parse_args()
    if args.report:
        results = json.loads(Path(args.report).read_text())["runs"]
        print(table(results))
        plot(results, Path(args.plot))
        return
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread per run, "
          f"{args.jobs} at once, {time.strftime('%Y-%m-%d')}; {NAME}, {args.games} games, "
          f"{args.steps:,} agent-steps per run, seeds {args.seeds}, {args.episodes} held-out agent-episodes")
    jobs = [(arm, seed, args.steps, args.games, args.episodes) for seed in args.seeds for arm in args.arms]
    runs: dict[tuple[str, int], dict] = {}
    started = time.perf_counter()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
        for (arm, seed), result in pool.imap_unordered(run, jobs):
            runs[arm, seed] = result
            print(f"  {arm:<12} seed {seed}: held-out success "
                  + ", ".join(f"{m} {result[m]:.0%}" for m in ("deterministic", "stochastic") if m in result)
                  + f" ({result['seconds']:.0f} s)", flush=True)
            results = {a: [runs[a, s] for s in args.seeds if (a, s) in runs] for a in args.arms}
            out.write_text(json.dumps({"steps": args.steps, "seeds": args.seeds, "runs": results}))
    results = {a: [runs[a, s] for s in args.seeds] for a in args.arms}
    print("\n" + table(results))
    plot(results, Path(args.plot))
    print(f"\nresults: {out}; plot: {args.plot}; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
