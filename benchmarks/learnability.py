"""Does PPO learn each family's easiest task from the command line, as a user would run it?

    python benchmarks/learnability.py [--steps N] [--seeds 0 1] [--jobs 2] [--episodes 100]

For each row, ``rewardgym train ENV --agent ppo`` (with the env's preset and its budget of steps,
as a user gets it; ``--steps`` sets one budget for every row), then ``rewardgym eval`` of the
final checkpoint on 100 held-out episodes, deterministic and stochastic; next to it
``rewardgym eval`` of the ``random`` agent on the same seeds. Every
command goes through ``rewardgym.cli.main``, so the figures are what the commands print. Runs
go to a temporary folder, one torch thread each, ``--jobs`` at a time.

The rows: the easiest task of each family, plus a GUI task whose instruction must be read
(ClickButton: click the button the instruction names) and an app task (ClickDialog).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread per run
# ruff: noqa: E402  (the thread settings above must come before NumPy's and torch's imports)

import argparse
import contextlib
import io
import json
import multiprocessing
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

ROWS = [  # (family, env id, the figure compared)
    ("bandit", "rewardgym/Bandit-Meta5-v0", "mean_return"),
    ("manipulation", "rewardgym/Manip-ReachDense-v0", "success_rate"),
    ("dungeon", "rewardgym/Dungeon-Room5x5-v0", "success_rate"),
    ("text", "rewardgym/Text-Coins-v0", "success_rate"),
    ("GUI (read the instruction)", "rewardgym/GUI-ClickButton-v0", "success_rate"),
    ("GUI app", "rewardgym/GUI-ClickDialog-v0", "success_rate"),
]


def _cli(argv: list[str]) -> tuple[int, str]:
    """``rewardgym ARGV`` in this process: (exit status, what it printed)."""
    from rewardgym.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        status = main(argv)
    return status, out.getvalue()


def _eval(run: Path, episodes: int, *mode: str) -> dict:
    status, text = _cli(["eval", str(run), "--episodes", str(episodes), "--json", *mode])
    if status != 0:
        raise RuntimeError(f"eval {run} failed")
    return json.loads(text)


def job(args: tuple) -> tuple:
    family, env_id, key, agent, seed, steps, episodes, out = args
    folder = Path(out) / f"{agent}-{env_id.split('/')[-1]}-s{seed}"
    started = time.perf_counter()
    from rewardgym.workflows.presets import preset_for

    preset = preset_for(env_id, "ppo")  # the random agent plays the env PPO's preset builds
    kwargs = [f"{k}={v}" for k, v in (preset.env_kwargs if preset and agent == "random" else {}).items()]
    budget = ([] if steps is None else ["--steps", str(steps)]) if agent == "ppo" else ["--steps", "1"]
    status, _ = _cli(["train", env_id, "--agent", agent, *budget,
                      "--seed", str(seed), "--out", str(folder), "--no-progress", "--threads", "1"]
                     + (["--env-kwargs", *kwargs] if kwargs else []))
    if status != 0:
        raise RuntimeError(f"train {env_id} --agent {agent} failed")
    seconds = time.perf_counter() - started
    (run,) = list(folder.iterdir())
    result = {"seconds": seconds, "steps": json.loads((run / "config.json").read_text())["steps"]}
    if agent == "ppo":
        result["deterministic"] = _eval(run, episodes, "--deterministic")[key]
        result["stochastic"] = _eval(run, episodes, "--stochastic")[key]
    else:
        result["random"] = _eval(run, episodes)[key]
    return env_id, agent, seed, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, help="PPO's budget on every row (default: each preset's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rows", nargs="+", help="env ids to run (default: every row)")
    args = parser.parse_args()
    rows = [r for r in ROWS if not args.rows or r[1] in args.rows]
    budget = "each preset's budget of steps" if args.steps is None else f"{args.steps:,} steps"
    print(f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}, PPO with each env's preset, "
          f"{budget}, seeds {args.seeds}, eval on {args.episodes} held-out episodes\n")
    with tempfile.TemporaryDirectory() as out:
        jobs = [(family, env_id, key, agent, seed, args.steps, args.episodes, out)
                for family, env_id, key in rows for agent in ("ppo", "random") for seed in args.seeds]
        results: dict = {}
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            for env_id, agent, seed, result in pool.imap_unordered(job, jobs):
                results.setdefault(env_id, {}).setdefault(agent, {})[seed] = result
                print(f"  {env_id} {agent} seed {seed}: {result}", flush=True)
    print("\n| family | env | measure | PPO steps | PPO deterministic | PPO stochastic | random | PPO train s |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for family, env_id, key in rows:
        ppo, rnd = results[env_id]["ppo"], results[env_id]["random"]

        seconds = np.mean([ppo[s]["seconds"] for s in args.seeds])
        print(f"| {family} | {env_id.split('/')[-1]} | {key.replace('_', ' ')} | {ppo[args.seeds[0]]['steps']:,} | "
              f"{_cell(ppo, 'deterministic', key, args.seeds)} | {_cell(ppo, 'stochastic', key, args.seeds)} | "
              f"{_cell(rnd, 'random', key, args.seeds)} | {seconds:.0f} |")


    out = Path(__file__).parent / "results" / "learnability.json"
    out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "machine": platform.machine(),
                               "steps": args.steps, "seeds": args.seeds, "episodes": args.episodes,
                               "results": results}, indent=1))
    print(f"\nresults: {out}")


def _cell(runs: dict, name: str, key: str, seeds: list[int]) -> str:
    """Each seed's figure, "a / b"."""
    fmt = "{:.0%}" if key == "success_rate" else "{:.1f}"
    return " / ".join(fmt.format(runs[s][name]) for s in seeds)


if __name__ == "__main__":
    main()
