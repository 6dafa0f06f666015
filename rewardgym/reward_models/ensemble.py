r"""Ensembles of reward models: mean, minimum, or a lower confidence bound.

Learned rewards are wrong in places, and a policy optimises into exactly those places
(reward hacking). Several reward models that disagree there give a signal: scoring with
the pessimistic ``mean − λ·std`` over the members (a lower confidence bound, as in
uncertainty-penalised reward learning, e.g. Coste et al. 2024, "Reward Model Ensembles
Help Mitigate Overoptimization", arXiv:2310.02743, and the conservative ensembles of
offline RL) or their minimum keeps the policy where they agree.

For members ``r_1..r_M`` scoring a batch, with ``μ`` and ``σ`` the mean and the population
standard deviation (``ddof = 0``) over members:

* ``mode="mean"``: ``μ``
* ``mode="min"``: ``min_m r_m``
* ``mode="lcb"``: ``μ − λσ``

The wrappers pass rewards on but no per-model extras, so the members' scores and their
disagreement for the last batch are attributes (``last_scores``, ``last_std``) rather
than info keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from rewardgym.rewards.transitions import RewardModel, Transitions
from rewardgym.rewards.spec import make_reward

__all__ = ["RewardEnsemble", "ensemble_from_spec"]

Mode = Literal["mean", "min", "lcb"]


class RewardEnsemble:
    """Combines several reward models into one: mean, min, or ``mean − λ·std``.

    Args:
        members: reward models, or spec strings for :func:`rewardgym.make_reward`
            (``"clip:goal=a robot kneeling;baseline=a robot"``), in any mix.
        mode: ``"mean"``, ``"min"`` or ``"lcb"`` (lower confidence bound ``μ − λσ``).
        lam: λ of ``"lcb"``.

    Attributes:
        needs_frames: true when any member needs frames (the others ignore them).
        last_scores: ``(M, B)`` float32, each member's scores of the last batch.
        last_std: ``(B,)`` float32, their standard deviation over members: the ensemble's
            disagreement, a measure of how far the batch is from what the members agree on.

    Example:
        >>> from rewardgym.reward_models import RewardEnsemble
        >>> ensemble = RewardEnsemble(["constant:value=1", "constant:value=3"], mode="lcb", lam=0.5)
        >>> import numpy as np; from rewardgym.reward_models import Transitions
        >>> done = np.zeros(2, dtype=bool)
        >>> ensemble(Transitions(None, None, None, done, done, [{}, {}])).tolist()
        [1.5, 1.5]
        >>> ensemble.last_std.tolist()
        [1.0, 1.0]
    """

    def __init__(self, members: Sequence[RewardModel | str], mode: Mode = "mean", lam: float = 1.0) -> None:
        if isinstance(members, str) or not isinstance(members, Sequence):
            raise TypeError("members must be a list of reward models or spec strings")
        if not members:
            raise ValueError("a reward ensemble needs at least one member")
        if mode not in ("mean", "min", "lcb"):
            raise ValueError(f"mode must be 'mean', 'min' or 'lcb', got {mode!r}")
        if not np.isfinite(lam) or lam < 0:
            raise ValueError(f"lam must be a finite number >= 0, got {lam}")
        self.members = [make_reward(member) for member in members]
        self.mode = mode
        self.lam = float(lam)
        self.needs_frames = any(bool(getattr(member, "needs_frames", False)) for member in self.members)
        self.last_scores: np.ndarray | None = None
        self.last_std: np.ndarray | None = None

    def __call__(self, batch: Transitions) -> np.ndarray:
        """``(B,)`` float32: the members' scores of ``batch``, combined by ``mode``."""
        size = len(batch)
        rows = []
        for member in self.members:
            scores = np.asarray(member(batch), dtype=np.float32).reshape(-1)
            if scores.shape != (size,):
                raise ValueError(f"ensemble member {member!r} returned {scores.shape[0]} scores for {size} transitions")
            rows.append(scores)
        scores = np.stack(rows)
        self.last_scores = scores
        self.last_std = scores.std(axis=0)
        if self.mode == "mean":
            combined = scores.mean(axis=0)
        elif self.mode == "min":
            combined = scores.min(axis=0)
        else:
            combined = scores.mean(axis=0) - self.lam * self.last_std
        return combined.astype(np.float32)

    def __len__(self) -> int:
        return len(self.members)

    def __repr__(self) -> str:
        return f"RewardEnsemble({self.members!r}, mode={self.mode!r}, lam={self.lam})"


def ensemble_from_spec(member: str | list[str], mode: Mode = "mean", lam: float = 1.0) -> RewardEnsemble:
    """The ``ensemble`` spec: ``ensemble:mode=lcb;lam=1;member=SPEC;member=SPEC``.

    ``;`` separates the ensemble's own options, so inside a member spec write ``|`` where
    the member's options need ``;``::

        ensemble:mode=lcb;lam=0.5;member=clip:goal=a robot kneeling|baseline=a robot;member=text:goal=kneel

    Members with one option or none need no ``|`` (``member=progress:runs/a``).
    """
    members = [member] if isinstance(member, str) else list(member)
    if not all(isinstance(spec, str) for spec in members):
        raise ValueError(f"ensemble members must be spec strings, got {members!r}")
    return RewardEnsemble([spec.replace("|", ";") for spec in members], mode=mode, lam=lam)
