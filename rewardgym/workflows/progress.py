"""Fitting a progress model on a demo folder: what ``rewardgym fit-progress`` runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rewardgym.reward_models.progress import ProgressModel
from rewardgym.workflows.demos import load_demos

__all__ = ["fit_progress_model"]


def fit_progress_model(demos_path: str | Path, out_path: str | Path, *, encoder: str = "auto",
                       epochs: int | None = None, seed: int = 0, progress: bool = True, val_fraction: float = 0.2,
                       keys: Sequence[str] | None = None, device: str = "cpu") -> dict[str, Any]:
    """Fit a :class:`ProgressModel` on the demo folder ``demos_path``, save it to ``out_path``; the figures.

    ``keys`` (state encoder) chooses what Φ reads, e.g. ``["goal_delta"]``; see :class:`ProgressModel`.

    Returns ``{"path", "encoder", "epochs", "train_episodes", "val_episodes", "voc", "voc_std", "start",
    "end", "mae", "final_loss"}``, the VOC and Φ figures measured on the held-out episodes.
    """
    model = ProgressModel(encoder, keys=keys, device=device)  # a device torch lacks fails before any reading
    demos = load_demos(demos_path)
    history = model.fit(demos, epochs, val_fraction=val_fraction, seed=seed, progress=progress)
    model.save(out_path)
    metrics = model.config["metrics"]
    report = {"path": str(out_path), "encoder": model.encoder, "epochs": metrics["epochs"],
              "train_episodes": metrics["train_episodes"], "val_episodes": metrics["val_episodes"]}
    for key in ("voc", "voc_std", "start", "end", "mae"):
        report[key] = metrics.get(f"val_{key}", float("nan"))
    report["final_loss"] = history[-1]["loss"] if history else float("nan")
    return report
