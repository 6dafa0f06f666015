"""A generic novelty bonus: the baseline any learned exploration reward has to beat.

ONI and Motif compare their LLM-derived rewards against count-based and E3B/RND novelty bonuses:
an agent rewarded for seeing new things explores too, and only a reward that beats that says
the LLM added something. :class:`EpisodicNovelty` is the simplest strong one on message-rich
games (NetHack's episodic message counts, Henaff et al. 2022 show how strong episodic counts are):
``r = scale / N(key(s′))^β`` with ``N`` the number of times this episode has reached the same key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable
from typing import Any

import numpy as np

from rewardgym._batch import row
from rewardgym.reward_models.text import transition_texts
from rewardgym.rewards.transforms import EpisodeCounts
from rewardgym.rewards.transitions import Transitions

__all__ = ["EpisodicNovelty"]

KEYS = ("auto", "message", "obs")


class EpisodicNovelty:
    """Episodic count bonus ``scale / N^β`` over the message or the observation of each ``s′``.

    Args:
        key: what counts as "the same": ``"message"`` (the text of ``s′``: a text observation, a
            ``message`` observation key or ``info["message"]``), ``"obs"`` (the whole observation,
            hashed), or ``"auto"`` (default): the message when the transition has text, else the
            observation.
        beta: the count's exponent (0.5: ``1/√N``, the usual count bonus; Motif's discount uses 3).
        scale: the bonus of a first visit.

    Counts are per env and per episode (an episode's end, ``terminated`` or ``truncated``, clears
    its env's counts), so the bonus pays for covering ground within an episode, not for being
    somewhere the agent has not been for a while. Works step by step and on whole rollouts.
    """

    needs_frames = False

    def __init__(self, key: str = "auto", beta: float = 0.5, scale: float = 1.0) -> None:
        if key not in KEYS:
            raise ValueError(f"key must be one of {', '.join(KEYS)}, got {key!r}")
        if not float(beta) >= 0 or not float(scale) > 0:
            raise ValueError(f"beta must be >= 0 and scale > 0, got beta={beta}, scale={scale}")
        self.key, self.beta, self.scale = key, float(beta), float(scale)
        self.counts = EpisodeCounts(beta=self.beta)

    def keys(self, batch: Transitions) -> list[Hashable]:
        """The key of each ``s′``: its text, or a digest of its observation's bytes."""
        if self.key in ("auto", "message"):
            try:
                return [("text", text) for text in transition_texts(batch, "auto")]
            except ValueError:
                if self.key == "message":
                    raise
        return [("obs", _digest(row(batch.next_obs, j, copy=False))) for j in range(len(batch))]

    def __call__(self, batch: Transitions) -> np.ndarray:
        rows = np.arange(len(batch)) if batch.env_ids is None else np.asarray(batch.env_ids)
        done = np.asarray(batch.terminated, dtype=bool) | np.asarray(batch.truncated, dtype=bool)
        bonus, _ = self.counts(np.full(len(batch), self.scale), self.keys(batch), rows, done)
        return np.asarray(bonus, dtype=np.float32)

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"EpisodicNovelty(key={self.key!r}, beta={self.beta}, scale={self.scale})"


def _digest(observation: Any) -> bytes:
    """A digest of an observation (an array, a dict or tuple of them, or a text), equal iff its contents are."""
    digest = hashlib.blake2b(digest_size=16)

    def feed(value: Any) -> None:
        if isinstance(value, dict):
            for name in sorted(value):
                digest.update(str(name).encode())
                feed(value[name])
        elif isinstance(value, (tuple, list)):
            for part in value:
                feed(part)
        elif isinstance(value, str):
            digest.update(value.encode())
        else:
            array = np.ascontiguousarray(value)
            digest.update(str(array.dtype).encode() + str(array.shape).encode())
            digest.update(array.tobytes())

    feed(observation)
    return digest.digest()
