"""Learning curves for the benchmarks that train PPO under several reward conditions and seeds.

A run's curve is an array with one row per log point: the env step, then the logged metrics
asked for (``learn_curve``). Runs of one condition have different log steps, so they are
compared on a common grid by interpolation (``on_grid``), drawn as thin lines per seed and a
thick mean (``plot_runs``), and summarised at fractions of the run (``marks``).
"""

from __future__ import annotations

import time

import numpy as np


def learn_curve(agent, envs, steps: int, keys: tuple[str, ...] = ("success_rate",)) -> tuple[np.ndarray, float]:
    """Train ``agent`` for ``steps``; the curve (step, *keys) at every log point that has them, and the seconds."""
    curve: list[tuple[float, ...]] = []

    def record(metrics: dict) -> None:
        if all(key in metrics for key in keys):
            curve.append((metrics["step"], *(metrics[key] for key in keys)))

    start = time.perf_counter()
    agent.learn(envs, steps, callbacks=[record], progress=False)
    return np.array(curve), time.perf_counter() - start


def on_grid(runs: list[dict], column: int, points: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """The runs' ``column`` interpolated on a common grid of steps (up to the shortest run): (grid, curves)."""
    grid = np.linspace(0, min(r["curve"][-1, 0] for r in runs), points)
    return grid, np.stack([np.interp(grid, r["curve"][:, 0], r["curve"][:, column]) for r in runs])


def plot_runs(ax, runs: list[dict], column: int, color: str, label: str) -> None:
    """Each seed's curve as a thin line, their mean as a thick one."""
    grid, curves = on_grid(runs, column)
    for curve in curves:
        ax.plot(grid, curve, color=color, alpha=0.25, linewidth=0.8)
    ax.plot(grid, curves.mean(0), color=color, linewidth=2, label=label)


def marks(runs: list[dict], column: int = 1, fractions: tuple[float, ...] = (0.25, 0.5, 1.0)) -> str:
    """The mean over runs of ``column`` at each fraction of each run's steps, as "a% / b% / c%"."""
    out = []
    for fraction in fractions:
        at = [np.interp(fraction * r["curve"][-1, 0], r["curve"][:, 0], r["curve"][:, column]) for r in runs]
        out.append(f"{np.mean(at):.0%}")
    return " / ".join(out)


def iqm(values) -> float:
    """The interquartile mean (rliable): the mean of the middle 50% (scipy's trim_mean at 0.25)."""
    values = np.sort(np.asarray(values, dtype=float))
    cut = int(0.25 * len(values))
    return float(values[cut:len(values) - cut].mean())


def bootstrap_ci(values, statistic=iqm, samples: int = 2000, confidence: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` over runs (seeds resampled with replacement)."""
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    stats = [statistic(values[rng.integers(0, len(values), len(values))]) for _ in range(samples)]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return float(low), float(high)


def plot_band(ax, runs: list[dict], column: int, color: str, label: str, samples: int = 500) -> None:
    """The IQM over runs of ``column`` on a common grid, with its 95% bootstrap band shaded."""
    grid, curves = on_grid(runs, column)
    middle = np.array([iqm(curves[:, k]) for k in range(curves.shape[1])])
    bands = np.array([bootstrap_ci(curves[:, k], samples=samples) for k in range(curves.shape[1])])
    ax.plot(grid, middle, color=color, linewidth=2, label=label)
    ax.fill_between(grid, bands[:, 0], bands[:, 1], color=color, alpha=0.2, linewidth=0)
