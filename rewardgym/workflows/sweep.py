"""Sweeps: one training per seed and grid point, each a normal run folder, then one comparison plot.

``rewardgym sweep ENV --agent A --seeds 0-4 --grid learning_rate=1e-4,3e-4`` expands to ten
``rewardgym train`` runs (five seeds x two learning rates), runs them ``--jobs`` at a time in
local processes or as tasks on a Ray cluster (``--ray``: a local one bound to 127.0.0.1, or
``--ray ADDRESS`` to join one), and draws the groups on one figure with
:func:`~rewardgym.workflows.runs.compare_runs` (IQM over seeds, 95% bootstrap bands).

Layout: ``OUT/<Env>-<agent>-<date-time>/<grid point>/<run folder>`` plus
``comparison.png`` and ``sweep.json`` (every run's arguments, status and folder). A run
that fails is reported in one line and left out of the plot; the others go on.

This module knows nothing of the command line: the caller hands it a ``worker`` — a picklable
function that trains one run from its ``train`` arguments and returns a :class:`RunResult` —
so the same jobs run in a process pool or as Ray tasks.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rewardgym._ray import start_ray
from rewardgym.workflows.runs import compare_runs, read_metrics, run_summary


@dataclass
class SweepJob:
    label: str  # the grid point ("base" without a grid)
    seed: int
    argv: list[str]  # ``rewardgym train`` arguments


@dataclass
class RunResult:
    status: int  # the train command's exit status
    run_dir: str | None = None
    error: str = ""  # its last line on stderr when it failed


@dataclass
class SweepResult:
    folder: Path
    jobs: list[SweepJob]
    results: list[RunResult]
    plot: Path | None = None
    summary: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[tuple[SweepJob, RunResult]]:
        return [(j, r) for j, r in zip(self.jobs, self.results) if r.status != 0 or not r.run_dir]


def parse_seeds(items: Sequence[str]) -> list[int]:
    """``["0-4"]`` -> 0..4; ``["0,2", "7"]`` -> 0, 2, 7 (order kept, duplicates dropped). ValueError when bad."""
    seeds: list[int] = []
    for item in items:
        for part in str(item).split(","):
            start, dash, stop = part.strip().partition("-")
            try:
                values = range(int(start), int(stop) + 1) if dash else [int(start)]
            except ValueError:
                raise ValueError(f"--seeds: {part!r} is not a seed or a range such as 0-4") from None
            if dash and int(stop) < int(start) or any(v < 0 for v in values):
                raise ValueError(f"--seeds: {part!r} is not a range of seeds >= 0 (write it low-high)")
            seeds += [v for v in values if v not in seeds]
    if not seeds:
        raise ValueError("--seeds: give at least one seed")
    return seeds


def grid_points(grid: dict[str, Any]) -> list[dict[str, Any]]:
    """Every combination of the grid's values: ``{"lr": (1, 2), "ent": 0}`` -> ``[{lr: 1, ent: 0}, {lr: 2, ent: 0}]``.
    """
    keys = list(grid)
    values = [v if isinstance(v, (tuple, list)) else (v,) for v in grid.values()]
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)]


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (dict, list, tuple)) else str(value)


def plan(env_id: str, agent: str, seeds: Sequence[int], grid: dict[str, Any], train_argv: Sequence[str],
         folder: Path, config: Sequence[str] = ()) -> list[SweepJob]:
    """The jobs: every grid point x seed, each with its own ``--out`` folder (``folder/<grid point>``);
    ``config`` (``KEY=VALUE`` items) goes to every run, the grid point's settings after it."""
    jobs = []
    for point in grid_points(grid):
        label = ",".join(f"{k}={_text(v)}" for k, v in point.items()) or "base"
        config = [*config, *(f"{k}={_text(v)}" for k, v in point.items())]
        # the label names a folder: a value such as "../x" or "a/b" must not lead out of the sweep's folder
        place = folder / (re.sub(r"[^A-Za-z0-9_.=,+-]+", "-", label).strip(".") or "point")
        for seed in seeds:
            argv = [env_id, "--agent", agent, "--seed", str(seed), "--out", str(place), *train_argv]
            if config:
                argv += ["--config", *config]
            jobs.append(SweepJob(label, seed, argv))
    return jobs


def _local(jobs: list[SweepJob], worker: Callable, parallel: int):
    if parallel <= 1:
        for index, job in enumerate(jobs):
            yield index, worker(job.argv)
        return
    with ProcessPoolExecutor(parallel, mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {pool.submit(worker, job.argv): index for index, job in enumerate(jobs)}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # the process died (killed, out of memory): the sweep goes on
                result = RunResult(1, None, f"the run's process died: {type(exc).__name__}: {exc}")
            yield futures[future], result


def _on_ray(jobs: list[SweepJob], worker: Callable, address: str | None, parallel: int):
    """Each job a Ray task asking for one CPU; a task whose worker dies is retried once, then reported."""
    ray, started_here = start_ray(address, parallel, purpose="sweep --ray")
    try:
        task = ray.remote(num_cpus=1, max_retries=1)(worker)
        refs = {task.remote(job.argv): index for index, job in enumerate(jobs)}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                result = ray.get(done[0])
            except ray.exceptions.RayError as exc:
                result = RunResult(1, None, f"the Ray task failed: {str(exc).splitlines()[0]}")
            yield refs[done[0]], result
    finally:
        if started_here:
            ray.shutdown()


def run_sweep(env_id: str, agent: str, seeds: Sequence[int], grid: dict[str, Any], train_argv: Sequence[str],
              worker: Callable[[list[str]], RunResult], *, config: Sequence[str] = (), out: str | Path = "sweeps",
              parallel: int = 1,
              ray_address: str | None = None, use_ray: bool = False, metric: str | None = None,
              report: Callable[[str], None] = print) -> SweepResult:
    """Train every grid point x seed with ``worker`` and compare the runs; see the module docstring."""
    stem = env_id.split("/")[-1]
    folder = Path(out) / f"{stem}-{agent}-{time.strftime('%Y%m%d-%H%M%S')}"
    n = 1
    while folder.exists():
        n += 1
        folder = folder.with_name(f"{stem}-{agent}-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
    folder.mkdir(parents=True)
    jobs = plan(env_id, agent, seeds, grid, train_argv, folder, config)
    results: list[RunResult | None] = [None] * len(jobs)
    where = f"on Ray ({ray_address or 'a local cluster'})" if use_ray else f"{parallel} at a time"
    report(f"sweep: {len(jobs)} runs ({len(jobs) // len(seeds)} grid point(s) x {len(seeds)} seed(s)), {where}; "
           f"folder {folder}")
    runner = _on_ray(jobs, worker, ray_address, parallel) if use_ray else _local(jobs, worker, parallel)
    for finished, (index, result) in enumerate(runner, 1):
        results[index] = result
        job = jobs[index]
        if result.status == 0 and result.run_dir:
            tail = run_summary(read_metrics(result.run_dir))
            shown = ", ".join(f"{k} {tail[k]:.4g}" for k in ("success_rate", "mean_return") if k in tail)
            report(f"[{finished}/{len(jobs)}] {job.label} seed {job.seed}: {shown or 'done'} ({result.run_dir})")
        else:
            report(f"[{finished}/{len(jobs)}] {job.label} seed {job.seed}: FAILED: {result.error or 'no run folder'}")
        _save(folder, jobs, results)
    sweep = SweepResult(folder, jobs, [r for r in results if r is not None])
    done = [r.run_dir for r in sweep.results if r.status == 0 and r.run_dir]
    if done:
        sweep.plot, sweep.summary = compare_runs(done, folder / "comparison.png", metric)
    _save(folder, jobs, results)
    return sweep


def _save(folder: Path, jobs: list[SweepJob], results: list[RunResult | None]) -> None:
    (folder / "sweep.json").write_text(json.dumps(
        [{**asdict(job), **(asdict(result) if result is not None else {"status": None})}
         for job, result in zip(jobs, results)], indent=1))
