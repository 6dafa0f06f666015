"""One episode of a single env, recorded: the rollout loop that demonstrations and reward evaluation share."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["EpisodeRecord", "run_episode", "render_frame"]


@dataclass
class EpisodeRecord:
    """An episode of T steps: T+1 observations (the reset one first), T of everything else.

    ``frames`` holds ``env.render()`` after the reset and after each step (T+1) when asked for.
    Everything is a copy: envs may reuse their observation and info buffers from step to step.
    """

    observations: list[Any]
    reset_info: dict[str, Any]
    actions: list[Any] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    terminated: list[bool] = field(default_factory=list)
    truncated: list[bool] = field(default_factory=list)
    infos: list[dict[str, Any]] = field(default_factory=list)
    frames: list[np.ndarray] | None = None

    @property
    def length(self) -> int:
        return len(self.rewards)

    @property
    def success(self) -> list[bool]:
        """``info["success"]`` after each step (False where the env reports none)."""
        return [bool(info.get("success", False)) for info in self.infos]


def render_frame(env) -> np.ndarray:
    """``env.render()`` as an (H, W, 3) uint8 copy; ValueError when the env renders anything else."""
    frame = env.render()
    if not (isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3):
        raise ValueError(f"render() must return an (H, W, 3) uint8 image for frames, got {type(frame).__name__}"
                         + (f" {frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else ""))
    return frame.copy()


def run_episode(env, act: Callable[[Any], Any], seed: int, frames: bool = False) -> EpisodeRecord:
    """Reset ``env`` with ``seed`` and step it with ``act(obs)`` until the episode ends."""
    obs, info = env.reset(seed=seed)
    record = EpisodeRecord([copy.deepcopy(obs)], copy.deepcopy(info), frames=[render_frame(env)] if frames else None)
    while True:
        action = act(obs)
        obs, reward, terminated, truncated, info = env.step(action)
        record.observations.append(copy.deepcopy(obs))
        record.actions.append(copy.deepcopy(action))
        record.rewards.append(float(reward))
        record.terminated.append(bool(terminated))
        record.truncated.append(bool(truncated))
        record.infos.append(copy.deepcopy(info))
        if record.frames is not None:
            record.frames.append(render_frame(env))
        if terminated or truncated:
            return record
