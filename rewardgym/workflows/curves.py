"""Curves across seeds, as rliable reports them: the interquartile mean and percentile-bootstrap bands.

A curve is an array with one row per log point, the env step first; runs of one condition log
at different steps, so they are compared on a common grid by interpolation (``on_grid``). The
interquartile mean (IQM) is the mean of the middle half of the runs: robust to one seed that
fails or soars, and less noisy than the median with few seeds (Agarwal et al. 2021, "Deep RL
at the Edge of the Statistical Precipice"). Used by ``rewardgym plot`` and the benchmarks.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bootstrap_ci", "iqm", "on_grid", "plot_band"]


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


def on_grid(runs: list[dict], column: int, points: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """The runs' ``column`` interpolated on a common grid of steps, from the step where every run has
    logged to the end of the shortest run (nothing extrapolated): (grid, curves)."""
    grid = np.linspace(max(r["curve"][0, 0] for r in runs), min(r["curve"][-1, 0] for r in runs), points)
    return grid, np.stack([np.interp(grid, r["curve"][:, 0], r["curve"][:, column]) for r in runs])


def plot_band(ax, runs: list[dict], column: int, color: str, label: str, samples: int = 500) -> None:
    """The IQM over runs of ``column`` on a common grid, with its 95% bootstrap band shaded."""
    grid, curves = on_grid(runs, column)
    middle = np.array([iqm(curves[:, k]) for k in range(curves.shape[1])])
    bands = np.array([bootstrap_ci(curves[:, k], samples=samples) for k in range(curves.shape[1])])
    ax.plot(grid, middle, color=color, linewidth=2, label=label)
    ax.fill_between(grid, bands[:, 0], bands[:, 1], color=color, alpha=0.2, linewidth=0)
