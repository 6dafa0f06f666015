"""Learning curves for the benchmarks that train PPO under several reward conditions and seeds.

A run's curve is an array with one row per log point: the env step, then the logged metrics
asked for (``learn_curve``). Runs of one condition have different log steps, so they are
compared on a common grid by interpolation (``on_grid``), drawn as thin lines per seed and a
thick mean (``plot_runs``), and summarised at fractions of the run (``marks``).
"""

from __future__ import annotations

import time

import numpy as np

from rewardgym.workflows.curves import on_grid


def learn_curve(agent, envs, steps: int, keys: tuple[str, ...] = ("success_rate",)) -> tuple[np.ndarray, float]:
    """Train ``agent`` for ``steps``; the curve (step, *keys) at every log point that has them, and the seconds."""
    curve: list[tuple[float, ...]] = []

    def record(metrics: dict) -> None:
        if all(key in metrics for key in keys):
            curve.append((metrics["step"], *(metrics[key] for key in keys)))

    start = time.perf_counter()
    agent.learn(envs, steps, callbacks=[record], progress=False)
    return np.array(curve), time.perf_counter() - start


def plot_success_bands(results: dict[str, list[dict]], colors: dict[str, str], path, title: str,
                       xlabel: str = "env steps", ylabel: str = "training success rate (last 100 episodes), IQM",
                       floor: tuple[float, str] | None = None) -> None:
    """Each arm's runs (``{"curve": [[step, success], ...]}``) as an IQM curve with its 95% bootstrap band,
    on [0, 1]; ``floor``: a dotted reference line (value, label). Saved as a PNG at ``path``."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    from rewardgym.workflows.curves import plot_band

    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=120)
    for arm, runs in results.items():
        runs = [{"curve": np.asarray(r["curve"])} for r in runs if len(r["curve"])]
        if runs:
            plot_band(ax, runs, 1, colors[arm], f"{arm} ({len(runs)} seeds)")
    if floor is not None:
        ax.axhline(floor[0], color="black", linestyle=":", linewidth=1, label=floor[1])
    ax.set_ylabel(ylabel, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylim(-0.02, 1.02)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1000:.0f}k"))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


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
