"""The reward maths, written once over a batch axis in NumPy.

Each class holds the per-env (or global) state one reward transform needs and works on
``(B,)`` arrays. :mod:`rewardgym.wrappers` runs it at ``B = 1`` behind a
:class:`gymnasium.Wrapper` and at ``B = num_envs`` behind a
:class:`gymnasium.vector.VectorWrapper`; agents and reward models use the same pieces
(:class:`RunningMeanStd` normalises PPO's observations, :class:`RewardStandardizer` and
:class:`EpisodeCounts` shape Motif's intrinsic reward). The adapters decide which envs made
a real transition (``scored``) and which start a new episode (``reset_envs``); the formulas
live here only.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from rewardgym.rewards.transitions import Potential, RewardModel, Transitions

__all__ = [
    "RewardMix",
    "team_mean",
    "score_transitions",
    "evaluate_potential",
    "PotentialShaper",
    "RunningMeanStd",
    "RewardStandardizer",
    "BoundedTransform",
    "EpisodeCounts",
    "count_discount",
    "quantile_threshold",
    "default_count_key",
    "sigmoid",
]

def _as_batch(values: Any, batch_size: int, what: str) -> np.ndarray:
    """Check a scorer's output is ``(B,)`` and return it as float64."""
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (batch_size,):
        raise ValueError(
            f"{what} returned shape {array.shape} for a batch of {batch_size};"
            f" expected ({batch_size},)"
        )
    return array


def score_transitions(model: RewardModel, batch: Transitions) -> np.ndarray:
    """``model(batch)`` as a ``(B,)`` float64 array, with a clear error on a wrong shape."""
    return _as_batch(model(batch), len(batch), f"reward model {type(model).__name__}")


def evaluate_potential(
    potential: Potential,
    obs: Any,
    infos: Sequence[dict],
    frames: np.ndarray | None = None,
) -> np.ndarray:
    """Φ of a batch of states as ``(B,)`` float64; frames are passed only when given."""
    values = potential(obs, infos) if frames is None else potential(obs, infos, frames)
    return _as_batch(values, len(infos), f"potential {type(potential).__name__}")


class RewardMix:
    """Mixes the environment reward with a learned reward.

    ``mode="add"``: ``r = env_coef·r_env + coef·r_learned`` (VLM-RM and Motif add a scaled
    learned term to the task reward); ``mode="replace"``: ``r = coef·r_learned`` (the
    zero-shot VLM-RM setting, where the learned reward is the only signal).
    """

    def __init__(
        self, mode: Literal["add", "replace"] = "add", coef: float = 1.0, env_coef: float = 1.0
    ) -> None:
        if mode not in ("add", "replace"):
            raise ValueError(f"mode must be 'add' or 'replace', got {mode!r}")
        self.mode = mode
        self.coef = float(coef)
        self.env_coef = float(env_coef)

    def __call__(self, env_reward: np.ndarray, learned: np.ndarray) -> np.ndarray:
        learned = np.asarray(learned, dtype=np.float64)
        if self.mode == "replace":
            return self.coef * learned
        return self.env_coef * np.asarray(env_reward, dtype=np.float64) + self.coef * learned


def team_mean(rewards: np.ndarray, team_size: int) -> np.ndarray:
    """Each row's reward replaced by the mean of its team's: rows ``k·team_size ... (k+1)·team_size − 1``
    of the last axis are one team (a multi-agent game's seats, as ``AgentsAsEnvs`` lays them out)."""
    rewards = np.asarray(rewards, dtype=np.float64)
    if rewards.shape[-1] % team_size:
        raise ValueError(f"{rewards.shape[-1]} rows do not split into teams of {team_size}")
    teams = rewards.reshape(*rewards.shape[:-1], -1, team_size)
    return np.broadcast_to(teams.mean(-1, keepdims=True), teams.shape).reshape(rewards.shape).copy()


class PotentialShaper:
    r"""Potential-based shaping (Ng, Harada & Russell 1999), per env.

    .. math:: r' = r + \gamma (1 - \text{terminated}) \Phi(s') - \Phi(s)

    The potential of a terminal state is zero, otherwise episodes of different lengths
    break the guarantee that the optimal policy is unchanged; a truncated episode keeps
    ``γΦ(s′)`` because its last state is not terminal. With ``γ = 1`` the shaping terms of a
    terminated episode telescope to ``−Φ(s_0)``; progress rewards such as VIP/LIV's
    ``S(o_{t+1}, g) − S(o_t, g)`` are this shaping with ``γ = 1``.

    ``potential`` holds ``Φ(s)`` of each env's current state.
    """

    def __init__(self, num_envs: int, gamma: float = 0.99) -> None:
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}")
        self.gamma = float(gamma)
        self.potential = np.zeros(num_envs, dtype=np.float64)

    def reset_envs(self, mask: np.ndarray, potential: np.ndarray) -> None:
        """Envs in ``mask`` start an episode in states with potentials ``potential[mask]``."""
        self.potential[mask] = np.asarray(potential, dtype=np.float64)[mask]

    def step(
        self,
        reward: np.ndarray,
        next_potential: np.ndarray,
        terminated: np.ndarray,
        scored: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Shape one step; returns ``(r′, F)`` with ``F = γ(1−terminated)Φ(s′) − Φ(s)``.

        Envs outside ``scored`` made no real transition (a vector autoreset step): their
        shaping term is zero, and ``next_potential`` becomes their new ``Φ(s)`` all the same.
        """
        next_potential = np.asarray(next_potential, dtype=np.float64)
        alive = 1.0 - np.asarray(terminated, dtype=np.float64)
        bonus = self.gamma * alive * next_potential - self.potential
        if scored is not None:
            bonus = np.where(scored, bonus, 0.0)
        self.potential = next_potential.copy()
        return np.asarray(reward, dtype=np.float64) + bonus, bonus


class RunningMeanStd:
    """Running mean and (population) variance of a stream of batches, in float64.

    The parallel form of Welford's algorithm (Chan et al. 1979), exact for any batch sizes,
    so one env stepped B times and B envs stepped once give the same statistics. ``shape`` is
    the shape of one row (``()`` for scalars such as rewards). The count starts at
    ``epsilon``, the mean at 0 and the variance at 1: with Gymnasium's and SB3's
    ``epsilon = 1e-4`` (observation normalisation) the first batch all but replaces them; with
    ``epsilon = 0`` the statistics are exactly those of the data seen.
    """

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 0.0) -> None:
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = float(epsilon)

    def update(self, batch: np.ndarray) -> None:
        """Fold in a batch of rows (shape ``(B, *shape)``; for scalars any shape, read flat)."""
        batch = np.asarray(batch, dtype=np.float64)
        if self.mean.ndim == 0:
            batch = batch.reshape(-1)
        if batch.shape[0]:
            self._fold(batch.mean(axis=0), batch.var(axis=0), batch.shape[0])

    def merge(self, other: RunningMeanStd) -> None:
        """Fold in another stream's statistics (counted from 0: ``epsilon=0``), as if its rows came here."""
        if other.count:
            self._fold(other.mean, other.var, other.count)

    def _fold(self, batch_mean: np.ndarray, batch_var: np.ndarray, n: float) -> None:
        total = self.count + n
        delta = batch_mean - self.mean
        # np.asarray: keep 0-d arrays (NumPy makes scalars of 0-d arithmetic)
        self.mean = np.asarray(self.mean + delta * (n / total))
        m2 = self.var * self.count + batch_var * n + delta * delta * (self.count * n / total)
        self.var = np.asarray(m2 / total)
        self.count = total

    def normalize(self, x: np.ndarray, clip: float) -> np.ndarray:
        """``(x − mean) / sqrt(var + 1e-8)`` clipped to ``[−clip, clip]``, as float32."""
        out = np.clip((x - self.mean) / np.sqrt(self.var + 1e-8), -clip, clip)
        return out.astype(np.float32)

    def state(self) -> dict[str, Any]:
        """The statistics as plain values (arrays and a float), for checkpoints."""
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": float(self.count)}

    def load_state(self, state: dict[str, Any]) -> None:
        mean = np.asarray(state["mean"], dtype=np.float64)
        var = np.asarray(state["var"], dtype=np.float64)
        if mean.shape != self.mean.shape or var.shape != self.var.shape:
            raise ValueError(f"running statistics of shape {tuple(mean.shape)}, expected {self.mean.shape}")
        self.mean, self.var, self.count = mean.copy(), var.copy(), float(state["count"])


class RewardStandardizer:
    r"""Standardises rewards with their running mean and variance.

    .. math:: \hat r = (r - \mu) / \sqrt{\sigma^2 + \epsilon}
              \quad(\text{or } r / \sqrt{\sigma^2 + \epsilon} \text{ with } center=False)

    μ and σ² are the running statistics of the rewards themselves, updated with the current
    batch before it is standardised. This is the normalisation Motif and ONI apply to a
    learned intrinsic reward, ``r̂ = (r_φ − μ)/σ``; it is NOT Gymnasium's
    ``NormalizeReward``, which divides by the running std of the discounted *return* and
    never centres. Set ``update = False`` to freeze the statistics (e.g. for evaluation).
    """

    def __init__(self, epsilon: float = 1e-8, center: bool = True) -> None:
        if epsilon <= 0:
            raise ValueError(f"epsilon must be positive, got {epsilon}")
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.stats = RunningMeanStd()
        self.update = True

    def __call__(self, rewards: np.ndarray) -> np.ndarray:
        rewards = np.asarray(rewards, dtype=np.float64)
        if self.update:
            self.stats.update(rewards)
        return self.standardize(rewards)

    def standardize(self, rewards: np.ndarray) -> np.ndarray:
        """``rewards`` standardised with the statistics as they are (no update)."""
        rewards = np.asarray(rewards, dtype=np.float64)
        centred = rewards - float(self.stats.mean) if self.center else rewards
        return centred / np.sqrt(float(self.stats.var) + self.epsilon)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow for large ``|x|``."""
    x = np.asarray(x, dtype=np.float64)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


class BoundedTransform:
    r"""PAR's bounded reward ("Reward Shaping to Mitigate Reward Hacking in RLHF").

    .. math:: r' = \sigma\big((r - r_{ref}) / scale\big) \in (0, 1)

    The sigmoid rises fast around the reference and saturates, so pushing an already high
    reward higher (the usual reward hack) earns almost nothing. ``reference`` is a constant,
    or ``"running"`` for the running mean of the rewards seen so far (including the current
    batch). ``scale`` is a temperature: the width of the sigmoid's steep part in reward units.
    """

    def __init__(self, reference: float | Literal["running"] = 0.0, scale: float = 1.0) -> None:
        if isinstance(reference, str) and reference != "running":
            raise ValueError(f"reference must be a number or 'running', got {reference!r}")
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.reference = reference
        self.scale = float(scale)
        self.stats = RunningMeanStd()
        self.update = True

    def __call__(self, rewards: np.ndarray) -> np.ndarray:
        rewards = np.asarray(rewards, dtype=np.float64)
        if self.reference == "running":
            if self.update:
                self.stats.update(rewards)
            reference = float(self.stats.mean)
        else:
            reference = float(self.reference)
        return sigmoid((rewards - reference) / self.scale)


def default_count_key(obs: Any, info: Mapping[str, Any]) -> Hashable:
    """The count key: ``info["message"]`` when present (Motif counts NetHack messages),
    else the observation itself, as bytes for arrays."""
    if "message" in info:
        return _hashable(info["message"])
    return _hashable(obs)


def _hashable(value: Any) -> Hashable:
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, Mapping):
        return tuple((key, _hashable(value[key])) for key in sorted(value))
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def count_discount(rewards: np.ndarray, counts: np.ndarray, beta: float) -> np.ndarray:
    """Motif's count discount ``r / N^β`` (``N >= 1``, the count of the step's key in its episode)."""
    return np.asarray(rewards, dtype=np.float64) / np.asarray(counts, dtype=np.float64) ** beta


def quantile_threshold(rewards: np.ndarray, threshold: float) -> np.ndarray:
    """Motif's threshold: ``1[r > threshold]·r`` (rewards at or below it become 0)."""
    rewards = np.asarray(rewards, dtype=np.float64)
    return np.where(rewards > threshold, rewards, 0.0)


class EpisodeCounts:
    r"""Motif's count discount: a reward divided by how often its key was seen this episode.

    .. math:: r' = r / N(\text{key})^\beta

    ``N`` counts the steps of the current episode whose key equals this step's key,
    including this step (so the first occurrence keeps its full reward). The reset
    observation is not counted: only transitions are. Motif uses the NetHack message as
    the key and ``β = 3``, so an agent cannot farm a rewarding message by repeating it.
    Envs are numbered from 0; counts for envs not seen before start empty.
    """

    def __init__(self, num_envs: int = 0, beta: float = 3.0) -> None:
        if beta < 0:
            raise ValueError(f"beta must be non-negative, got {beta}")
        self.beta = float(beta)
        self.counts: list[dict[Hashable, int]] = [{} for _ in range(num_envs)]

    def reset_envs(self, mask: np.ndarray) -> None:
        """Forget the counts of the envs in ``mask``; their episode (re)starts."""
        for i in np.flatnonzero(mask):
            if i < len(self.counts):
                self.counts[i].clear()

    def __call__(
        self,
        rewards: np.ndarray,
        keys: Sequence[Hashable],
        rows: Sequence[int] | np.ndarray | None = None,
        done: Sequence[bool] | np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Count ``keys[j]`` for env ``rows[j]`` (default ``j``), in order; return ``(r′, N)``.

        ``done[j]``: step ``j`` ended its env's episode, so that env's later steps in the same
        call (a whole rollout scored at once) start a new episode's counts.
        """
        rows = range(len(keys)) if rows is None else [int(r) for r in rows]
        if len(rows):
            self.counts.extend({} for _ in range(max(rows) + 1 - len(self.counts)))
        counts = np.empty(len(keys), dtype=np.int64)
        for j, (row, key) in enumerate(zip(rows, keys, strict=True)):
            seen = self.counts[row].get(key, 0) + 1
            self.counts[row][key] = seen
            counts[j] = seen
            if done is not None and done[j]:
                self.counts[row].clear()
        return count_discount(rewards, counts, self.beta), counts
