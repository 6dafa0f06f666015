"""Run folders: what ``rewardgym train`` leaves behind and ``rewardgym eval`` reads.

A run folder holds ``config.json`` (everything needed to rebuild the env and the agent),
``metrics.csv`` (one row per log point), TensorBoard event files, ``checkpoints/`` (saved
agents; ``checkpoints/final`` at the end) and ``learning_curve.png``.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from rewardgym._files import read_json

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
CURVE_FILE = "learning_curve.png"
SAMPLES_FILE = "samples.jsonl"  # what an LLM agent wrote, a few episodes per batch
SAMPLES_MAX_BYTES = 50 * 1024 * 1024
CHECKPOINTS = "checkpoints"
FINAL_CHECKPOINT = "checkpoints/final"

# What the learning curve shows, in this order, when the run logged it.
_CURVES = {
    "mean_return": "episode return",
    "success_rate": "success rate",
    "reward_per_step": "reward per step",
    "reward_learned_per_step": "learned reward per step",
    "regret_per_step": "regret per step",
}


def new_run_dir(out: str | Path, env_id: str, agent: str, seed: int) -> Path:
    """A fresh folder ``out/<Env>-<agent>-s<seed>-<date-time>`` (suffixed if it exists)."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", env_id.split("/")[-1])
    base = Path(out) / f"{stem}-{agent}-s{seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    path.mkdir(parents=True)
    return path


def write_config(run_dir: Path, config: dict[str, Any]) -> None:
    (run_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2, default=str))


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """The run's config; a clear error when ``run_dir`` is not a run folder or the file is corrupt."""
    return read_json(Path(run_dir) / CONFIG_FILE, f"{run_dir} is not a run folder (no {CONFIG_FILE})",
                     required=("env_id", "agent"))


class RunLogger:
    """A training callback that writes metrics.csv and TensorBoard scalars, and plots the curve at the end."""

    def __init__(self, run_dir: str | Path, tensorboard: bool = True, resume_step: int | None = None):
        """``resume_step``: continue a run resumed at that step, dropping what was logged after it."""
        self.run_dir = Path(run_dir)
        self.rows: list[dict[str, float]] = []
        self._fields: list[str] = []
        self._writer = None
        if resume_step is not None and (self.run_dir / METRICS_FILE).is_file():
            with open(self.run_dir / METRICS_FILE, newline="") as f:
                self._fields = list(csv.DictReader(f).fieldnames or [])
            self.rows = [row for row in read_metrics(self.run_dir) if row.get("step", 0) <= resume_step]
            self._write_csv(mode="w")
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step hides the events a resumed run logged after its checkpoint
            self._writer = SummaryWriter(str(self.run_dir), purge_step=resume_step)

    def __call__(self, metrics: dict[str, float]) -> None:
        self.rows.append(dict(metrics))
        new_fields = [k for k in metrics if k not in self._fields]
        if new_fields or not self._fields:
            self._fields += new_fields
            self._write_csv(mode="w")  # the header grew: rewrite with every column
        else:
            self._write_csv(mode="a", rows=[metrics])
        if self._writer is not None:
            step = int(metrics.get("step", len(self.rows)))
            for key, value in metrics.items():
                if key != "step":
                    self._writer.add_scalar(f"train/{key}", value, step)

    def on_samples(self, step: int, samples: list[dict[str, Any]]) -> None:
        """Episodes an LLM agent sampled at ``step``: appended to samples.jsonl and TensorBoard's text tab.

        The file stops growing once it reaches :data:`SAMPLES_MAX_BYTES` (its last line says so).
        """
        path = self.run_dir / SAMPLES_FILE
        size = path.stat().st_size if path.exists() else 0
        if size < SAMPLES_MAX_BYTES:  # the batch that reaches the cap is the last, and says so
            lines = "".join(json.dumps({"step": step, **sample}, default=str) + "\n" for sample in samples)
            if size + len(lines) >= SAMPLES_MAX_BYTES:
                lines += json.dumps({"step": step, "note": f"samples stop here: the file reached its cap of "
                                                            f"{SAMPLES_MAX_BYTES} bytes"}) + "\n"
            with open(path, "a") as f:
                f.write(lines)
        if self._writer is not None:
            self._writer.add_text("samples", _samples_markdown(samples), step)

    def _write_csv(self, mode: str, rows: list[dict[str, float]] | None = None) -> None:
        with open(self.run_dir / METRICS_FILE, mode, newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self._fields, restval="")
            if mode == "w":
                writer.writeheader()
            writer.writerows(self.rows if rows is None else rows)

    def close(self) -> Path:
        if self._writer is not None:
            self._writer.close()
        return plot_learning_curve(self.run_dir)


class PeriodicCheckpoint:
    """A training callback that saves the agent to ``checkpoints/step_<N>`` every ``every`` steps, keeping ``keep``."""

    def __init__(self, agent, run_dir: str | Path, every: int, keep: int = 3):
        self.agent, self.folder, self.every, self.keep = agent, Path(run_dir) / CHECKPOINTS, every, keep
        self._next = every

    def __call__(self, metrics: dict[str, float]) -> None:
        step = int(metrics.get("step", 0))
        if step < self._next:
            return
        self.agent.save(self.folder / f"step_{step}")
        self._next = (step // self.every + 1) * self.every
        for old in periodic_checkpoints(self.folder.parent)[:-self.keep]:
            shutil.rmtree(old)


def periodic_checkpoints(run_dir: str | Path) -> list[Path]:
    """The run's ``checkpoints/step_<N>`` folders, oldest first."""
    found = [p for p in (Path(run_dir) / CHECKPOINTS).glob("step_*") if p.name[5:].isdigit()]
    return sorted(found, key=lambda p: int(p.name[5:]))


def latest_checkpoint(run_dir: str | Path) -> Path:
    """The checkpoint a resumed run continues from: the one saved at the highest step (``final`` on a tie)."""
    run_dir = Path(run_dir)
    candidates = [run_dir / FINAL_CHECKPOINT, *periodic_checkpoints(run_dir)]
    candidates = [p for p in candidates if (p / "agent.json").is_file()]
    if not candidates:
        raise FileNotFoundError(f"{run_dir} has no checkpoint to resume from")
    return max(candidates, key=_saved_step)


def _saved_step(checkpoint: Path) -> int:
    return int(read_json(checkpoint / "agent.json", f"{checkpoint} has no agent.json").get("global_step", -1))


def read_metrics(run_dir: str | Path) -> list[dict[str, float]]:
    with open(Path(run_dir) / METRICS_FILE, newline="") as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def run_summary(rows: list[dict[str, float]], tail: float = 0.1) -> dict[str, float]:
    """What a finished run reached: the last logged row, with each ``*_per_step`` mean taken over the
    rows of the run's last ``tail`` of steps (at least the last row), weighted by the steps each row
    covers — so the figure does not come from whatever few steps the last log happened to hold.
    """
    if not rows:
        return {}
    out = dict(rows[-1])
    stepped = [row for row in rows if "step" in row]
    if len(stepped) < 2:
        return out
    end = stepped[-1]["step"]
    since = end - tail * end
    for key in [k for k in out if k.endswith("_per_step")]:
        total = weight = 0.0
        for before, row in zip(stepped, stepped[1:]):
            if row["step"] > since and key in row:
                span = row["step"] - max(before["step"], since)
                total, weight = total + span * row[key], weight + span
        if weight > 0:
            out[key] = total / weight
    return out


def _honest_limits(ax, values: list[float], key: str) -> None:
    """Y limits that show a flat line as flat: rates on [0, 1]; otherwise a span of at least a tenth of
    the values' size (matplotlib would stretch a change of 1e-6 over the whole panel)."""
    if key == "success_rate":
        ax.set_ylim(-0.02, 1.02)
        return
    low, high = min(values), max(values)
    floor = 0.1 * max(abs(low), abs(high)) or 1.0
    if high - low < floor:
        middle = (low + high) / 2
        ax.set_ylim(middle - floor / 2, middle + floor / 2)


def plot_learning_curve(run_dir: str | Path) -> Path:
    """Draw ``learning_curve.png`` from ``metrics.csv``: one panel per curve the run logged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    rows = read_metrics(run_dir) if (run_dir / METRICS_FILE).is_file() else []
    curves = [(k, label) for k, label in _CURVES.items() if any(k in row for row in rows)]
    fig, axes = plt.subplots(1, max(1, len(curves)), figsize=(4.2 * max(1, len(curves)), 3.2), squeeze=False)
    for ax, (key, label) in zip(axes[0], curves):
        points = [(row["step"], row[key]) for row in rows if key in row and "step" in row]
        ax.plot(*zip(*points), color="tab:blue", marker="." if len(points) < 20 else None)
        _honest_limits(ax, [v for _, v in points], key)
        ax.set_xlabel("environment steps")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    if not curves:
        axes[0][0].text(0.5, 0.5, "nothing logged", ha="center", va="center")
    name = run_dir.name
    fig.suptitle(name, fontsize=9)
    fig.tight_layout()
    path = run_dir / CURVE_FILE
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _samples_markdown(samples: list[dict[str, Any]], width: int = 400) -> str:
    """Sampled episodes as Markdown for TensorBoard's text tab (each text cut to ``width`` characters)."""

    def cut(text: str) -> str:
        text = str(text).replace("\n", " ")
        return text if len(text) <= width else text[:width] + "..."

    parts = []
    for sample in samples:
        parts.append(f"**seed {sample.get('seed')}, return {sample.get('return', 0):.3g}**\n")
        for k, turn in enumerate(sample.get("turns", [])):
            parts.append(f"{k + 1}. *env:* {cut(turn['observation'])}  \n*reply:* `{cut(turn['reply'])}`  \n"
                         f"*read:* `{turn['command'] or '(nothing)'}`, reward {turn['reward']:.3g}, "
                         f"advantage {turn['advantage']:.3g}\n")
    return "\n".join(parts)


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    """A run's agent settings and env arguments, flat (``env.``-prefixed), without its seed."""
    agent = {k: v for k, v in (config.get("agent_config") or {}).items() if k != "seed"}
    return {**agent, **{f"env.{k}": v for k, v in (config.get("env_kwargs") or {}).items()}}


def compare_runs(run_dirs: list[str | Path], out: str | Path | None = None,
                 metric: str | None = None) -> tuple[Path, list[dict[str, Any]]]:
    """One figure of several runs (``rewardgym plot``): runs that differ only in their seed form a group,
    drawn as the interquartile mean over its seeds with a 95% bootstrap band (a single run as its line).
    A group's label is its agent (and reward), plus the agent settings and env arguments in which
    the runs differ (a sweep's grid).

    ``metric``: a logged column (default ``success_rate`` when every run logged it, else
    ``mean_return``). ``out``: the PNG (default ``comparison-<metric>.png`` beside the first run).
    Returns the path and, per group, its label, seeds and the IQM with its interval at the last
    step every run of the group reached. ValueError, naming the folder, for anything unreadable.
    """
    from rewardgym.workflows.curves import bootstrap_ci, iqm, on_grid, plot_band

    if not run_dirs:
        raise ValueError("give at least one run folder")
    runs = []
    for run_dir in map(Path, run_dirs):
        config = read_config(run_dir)
        if not (run_dir / METRICS_FILE).is_file():
            raise ValueError(f"{run_dir} has no {METRICS_FILE}: nothing was logged")
        try:
            rows = read_metrics(run_dir)
        except (ValueError, csv.Error) as exc:
            raise ValueError(f"{run_dir / METRICS_FILE} is corrupt: {exc}") from None
        runs.append((run_dir, config, rows))
    if metric is None:
        metric = "success_rate" if all(any("success_rate" in r for r in rows) for _, _, rows in runs) else "mean_return"
    groups: dict[str, list[dict]] = {}
    envs = {config["env_id"] for _, config, _ in runs}
    settings = [_settings(config) for _, config, _ in runs]
    varying = sorted({k for s in settings for k in s if len({json.dumps(t.get(k), default=str) for t in settings}) > 1})
    for (run_dir, config, rows), setting in zip(runs, settings):
        points = [(row["step"], row[metric]) for row in rows if metric in row and "step" in row]
        if not points:
            logged = sorted({k for row in rows for k in row} - {"step"})
            raise ValueError(f"{run_dir} logged no {metric!r} (it logged: {', '.join(logged)})")
        label = config["agent"] + (f" + {config['reward']}" if config.get("reward") else "")
        if len(envs) > 1:
            label = f"{config['env_id'].split('/')[-1]}: {label}"
        if varying:  # the settings that tell this run's group from the others' (a sweep's grid)
            label += " (" + ", ".join(f"{k}={setting.get(k, '-')}" for k in varying) + ")"
        groups.setdefault(label, []).append({"curve": np.asarray(points, dtype=float), "seed": config.get("seed")})

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.2), dpi=120)
    summary, values = [], []
    for (label, group), color in zip(groups.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"] * 10):
        seeds = [g["seed"] for g in group]
        name = f"{label} ({len(group)} run{'s' if len(group) > 1 else ''})"
        if len(group) > 1:
            plot_band(ax, group, 1, color, name)
        else:
            ax.plot(*group[0]["curve"].T, color=color, linewidth=2, label=name)
        _, curves = on_grid(group, 1)
        finals = curves[:, -1]
        values += curves.ravel().tolist()
        summary.append({"label": label, "seeds": seeds, "step": float(min(g["curve"][-1, 0] for g in group)),
                        "iqm": iqm(finals), "ci": list(bootstrap_ci(finals))})
    _honest_limits(ax, values, metric)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(_CURVES.get(metric, metric) + (" (IQM over seeds, 95% bootstrap band)" if any(
        len(g) > 1 for g in groups.values()) else ""), fontsize=9)
    ax.set_title(", ".join(sorted(envs)) if len(envs) == 1 else "", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(out) if out is not None else Path(run_dirs[0]).parent / f"comparison-{metric}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path, summary
