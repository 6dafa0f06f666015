"""The reward-model interface: batches of transitions in, one float per transition out.

A reward model scores a *batch* of transitions (leading axis ``B`` everywhere), in the
style of imitation's reward nets: a function of ``(s, a, s′, done)`` plus the per-step
infos and, when it asks for them, rendered frames. The same model therefore serves a
single :class:`gymnasium.Env` (``B = 1``), a :class:`gymnasium.vector.VectorEnv`
(``B = num_envs``) and deferred scoring of a whole rollout (``B = steps × envs``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rewardgym._batch import ChainedInfos, concat

__all__ = ["Transitions", "RewardModel", "Potential", "close_model"]


@dataclass
class Transitions:
    """A batch of ``B`` transitions ``(s, a, s′)``; every field has a leading batch axis.

    Attributes:
        obs: batched observation ``s`` (an array, a dict of arrays, or a sequence of str
            for text observations), as a vector env would batch it.
        action: batched action ``a``.
        next_obs: batched observation ``s′`` reached by taking ``a`` in ``s``.
        terminated: ``(B,)`` bool, ``s′`` is terminal.
        truncated: ``(B,)`` bool, the episode was cut after this transition.
        infos: the per-transition info dicts (task text, messages, success, ...). For vector
            envs this is a lazy view (:class:`rewardgym.rewards.VectorInfos`), so only models
            that read infos pay for building them.
        frames: ``(B, H, W, 3)`` uint8 renders of ``s′`` when the model declares
            ``needs_frames``, else ``None``.
        env_ids: ``(B,)`` the vector-env index of each row, when the rows are not simply envs
            ``0 .. B−1`` (a vector wrapper leaves out envs that are resetting, a rollout is
            scored in one batch); ``None`` otherwise. Models that keep per-env state (episode
            counts) key it by these.
    """

    obs: Any
    action: Any
    next_obs: Any
    terminated: np.ndarray
    truncated: np.ndarray
    infos: Sequence[dict]
    frames: np.ndarray | None = None
    env_ids: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.terminated)

    @classmethod
    def concat(cls, batches: Sequence[Transitions]) -> Transitions:
        """Several batches as one, in order (the steps of a rollout, scored in one call).

        ``env_ids`` of a batch that has none are ``0 .. B−1``.
        """
        if not batches:
            raise ValueError("no transitions to join")
        if len(batches) == 1:
            return batches[0]
        frames = [b.frames for b in batches]
        if any(f is None for f in frames) and not all(f is None for f in frames):
            raise ValueError("cannot join batches with frames and batches without")
        return cls(
            obs=concat([b.obs for b in batches]), action=concat([b.action for b in batches]),
            next_obs=concat([b.next_obs for b in batches]),
            terminated=np.concatenate([b.terminated for b in batches]),
            truncated=np.concatenate([b.truncated for b in batches]),
            infos=ChainedInfos([b.infos for b in batches]),
            frames=None if frames[0] is None else np.concatenate(frames),
            env_ids=np.concatenate([np.arange(len(b)) if b.env_ids is None else np.asarray(b.env_ids)
                                    for b in batches]),
        )


@runtime_checkable
class RewardModel(Protocol):
    """Scores a batch of transitions: ``model(batch) -> (B,) float32``.

    ``needs_frames`` tells the wrappers to render the environment after each step and pass
    the frames in ``batch.frames``. ``close()`` releases what the model started (an
    annotation thread, a worker process, a Ray actor); whoever built the model calls it once
    when training ends (:func:`close_model` accepts models without one). Trainable models add
    ``fit(...)``, ``save(path)`` and ``load(path)``.
    """

    needs_frames: bool

    def __call__(self, batch: Transitions) -> np.ndarray: ...

    def close(self) -> None: ...


def close_model(model: Any) -> None:
    """``model.close()`` when the model has one; a plain function or a model with nothing to release is left alone."""
    close = getattr(model, "close", None)
    if callable(close):
        close()


@runtime_checkable
class Potential(Protocol):
    """A state potential Φ for shaping: ``potential(obs, infos) -> (B,) float32``.

    ``obs`` is a batched observation and ``infos`` the matching info dicts. A potential may
    set ``needs_frames = True`` (the attribute is optional and read as ``False`` when
    absent); it is then called as ``potential(obs, infos, frames)`` with ``(B, H, W, 3)``
    uint8 frames. Any plain function ``lambda obs, infos: ...`` is a valid potential.
    """

    def __call__(
        self, obs: Any, infos: Sequence[dict], frames: np.ndarray | None = None
    ) -> np.ndarray: ...
