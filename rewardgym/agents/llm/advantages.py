"""Advantage estimators of the GRPO family, and the KL estimators, as plain functions.

Every estimator compares the G episodes of one *group* (G rollouts of the same task and
seed) with each other, so no value network is needed:

* ``grpo`` (DeepSeekMath): Â_i = (R_i − mean_G R) / (std_G R + ε). The standard deviation is
  the sample one (ddof = 1), as TRL computes it.
* ``dr-grpo`` ("Understanding R1-Zero-Like Training"): Â_i = R_i − mean_G R; dividing by the
  std up-weights groups that are nearly all right or all wrong.
* ``rloo`` (Ahmadian et al.): Â_i = R_i − mean_{j≠i} R_j = G/(G − 1) · (R_i − mean_G R).
* ``reinforce``: Â_i = R_i − b, with b a running mean of past returns (:class:`RunningBaseline`).

With per-turn rewards (``turn_advantages``), GRPO and Dr.GRPO follow DeepSeekMath's process
supervision: all turn rewards of a group are normalised together, r̃ = (r − mean)/(std + ε)
(no division for Dr.GRPO), and the advantage of turn t is the sum of r̃ over turns t, t+1, ....
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ESTIMATORS = ("grpo", "dr-grpo", "rloo", "reinforce")
TURN_ESTIMATORS = ("grpo", "dr-grpo")
KL_ESTIMATORS = ("k1", "k3")
EPS = 1e-4  # TRL's epsilon in the std division


def check_estimator(estimator: str, group_size: int) -> None:
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}")
    if estimator != "reinforce" and group_size < 2:
        raise ValueError(f"{estimator} compares the episodes of a group: group_size must be >= 2, got {group_size}")


def group_advantages(returns: np.ndarray, estimator: str, *, baseline: float | None = None,
                     eps: float = EPS) -> np.ndarray:
    """Episode advantages from ``returns`` of shape (groups, G); ``baseline`` is REINFORCE's b."""
    returns = np.asarray(returns, dtype=np.float64)
    if returns.ndim != 2:
        raise ValueError(f"returns must be (groups, group_size), got shape {returns.shape}")
    check_estimator(estimator, returns.shape[1])
    if estimator == "reinforce":
        return returns - (returns.mean() if baseline is None else baseline)
    centred = returns - returns.mean(axis=1, keepdims=True)
    if estimator == "grpo":
        return centred / (returns.std(axis=1, ddof=1, keepdims=True) + eps)
    if estimator == "rloo":
        g = returns.shape[1]
        return centred * g / (g - 1)
    return centred  # dr-grpo


def turn_advantages(group: Sequence[Sequence[float]], estimator: str, *, eps: float = EPS) -> list[np.ndarray]:
    """Per-turn advantages of one group's episodes from their per-turn rewards (process supervision)."""
    if estimator not in TURN_ESTIMATORS:
        raise ValueError(f"per-turn rewards work with {' or '.join(TURN_ESTIMATORS)}, not {estimator!r}")
    rewards = [np.asarray(r, dtype=np.float64) for r in group]
    every = np.concatenate(rewards) if rewards else np.zeros(0)
    if every.size == 0:
        return rewards
    scale = (every.std(ddof=1) if every.size > 1 else 0.0) + eps if estimator == "grpo" else 1.0
    mean = every.mean()
    # reverse cumulative sum: the advantage of turn t sums the normalised rewards from t on
    return [np.cumsum(((r - mean) / scale)[::-1])[::-1] for r in rewards]


class RunningBaseline:
    """REINFORCE's baseline: an exponential moving average of batch-mean returns.

    ``value`` is None until the first batch; the first batch is centred on its own mean.
    """

    def __init__(self, momentum: float = 0.9, value: float | None = None):
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"baseline momentum must be in [0, 1), got {momentum}")
        self.momentum, self.value = momentum, value

    def update(self, returns: np.ndarray) -> None:
        mean = float(np.mean(returns))
        self.value = mean if self.value is None else self.momentum * self.value + (1 - self.momentum) * mean


def kl_estimate(logp, ref_logp, kind: str = "k3"):
    """Per-token estimate of KL(π ‖ π_ref) from log-probabilities of tokens sampled from π (Schulman's k1, k3).

    k1 = log π − log π_ref (unbiased, can be negative); k3 = π_ref/π − log(π_ref/π) − 1
    (unbiased, never negative, lower variance). Works on NumPy arrays and torch tensors.
    """
    diff = ref_logp - logp
    if kind == "k1":
        return -diff
    if kind == "k3":
        exp = np.exp(diff) if isinstance(diff, np.ndarray | float) else diff.exp()
        return exp - diff - 1
    raise ValueError(f"unknown KL estimator {kind!r}; choose k1 or k3")
