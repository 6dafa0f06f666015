"""The reward-model interface: batches of transitions in, one float per transition out.

A reward model scores a *batch* of transitions (leading axis ``B`` everywhere), in the
style of imitation's reward nets: a function of ``(s, a, s′, done)`` plus the per-step
infos and, when it asks for them, rendered frames. The same model therefore serves a
single :class:`gymnasium.Env` (``B = 1``), a :class:`gymnasium.vector.VectorEnv`
(``B = num_envs``) and deferred scoring of a whole rollout (``B = steps × envs``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, overload, runtime_checkable

import numpy as np

__all__ = ["Transitions", "RewardModel", "Potential", "VectorInfos"]


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
            envs this is a lazy :class:`VectorInfos` view, so only models that read infos pay
            for building them.
        frames: ``(B, H, W, 3)`` uint8 renders of ``s′`` when the model declares
            ``needs_frames``, else ``None``.
        env_ids: ``(B,)`` the vector-env index of each row, when the rows are not simply envs
            ``0 .. B−1`` (a vector wrapper leaves out envs that are resetting); ``None``
            otherwise. Models that keep per-env state (episode counts) key it by these.
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


@runtime_checkable
class RewardModel(Protocol):
    """Scores a batch of transitions: ``model(batch) -> (B,) float32``.

    ``needs_frames`` tells the wrappers to render the environment after each step and pass
    the frames in ``batch.frames``. Trainable models add ``fit(...)``, ``save(path)`` and
    ``load(path)``.
    """

    needs_frames: bool

    def __call__(self, batch: Transitions) -> np.ndarray: ...


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


class VectorInfos(Sequence[dict]):
    """Read-only per-env view of a Gymnasium vector-env info dict.

    Vector envs return one dict of arrays, each ``key`` paired with a boolean mask
    ``_key`` saying which envs reported it. ``VectorInfos(info, num_envs)[i]`` rebuilds
    the info dict env ``i`` would have returned on its own: only the keys whose mask is
    true for ``i``, no ``_``-prefixed mask keys, nested dicts (``final_info``,
    ``episode``) rebuilt the same way, NumPy scalars turned back into Python scalars.
    Values without a mask that are not batched are shared by every env.

    Dicts are built on first access and cached, so a vector step with thousands of envs
    costs no per-env Python work unless a reward model actually reads its infos.
    """

    def __init__(self, info: Mapping[str, Any], num_envs: int) -> None:
        self._info = info
        self._num_envs = int(num_envs)
        self._cache: list[dict | None] = [None] * self._num_envs

    def __len__(self) -> int:
        return self._num_envs

    @overload
    def __getitem__(self, index: int) -> dict: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict]: ...

    def __getitem__(self, index: int | slice) -> dict | list[dict]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._num_envs))]
        i = int(index)
        if i < 0:
            i += self._num_envs
        if not 0 <= i < self._num_envs:
            raise IndexError(f"env index {index} out of range for {self._num_envs} envs")
        cached = self._cache[i]
        if cached is None:
            cached = self._cache[i] = _env_info(self._info, self._num_envs, i)
        return cached

    def __repr__(self) -> str:
        return f"VectorInfos(num_envs={self._num_envs}, keys={list(self._info)})"


def _env_info(info: Mapping[str, Any], num_envs: int, i: int) -> dict:
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key.startswith("_") and key[1:] in info:
            continue  # a mask, not data
        mask = info.get(f"_{key}")
        if mask is not None and not mask[i]:
            continue
        if isinstance(value, Mapping):
            out[key] = _env_info(value, num_envs, i)
        elif isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == num_envs:
            item = value[i]
            out[key] = item.item() if isinstance(item, np.generic) else item
        elif mask is not None and isinstance(value, (list, tuple)) and len(value) == num_envs:
            out[key] = value[i]
        else:
            out[key] = value
    return out
