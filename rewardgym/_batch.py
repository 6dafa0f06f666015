"""Batched observations and vector-env infos: the one set of helpers every layer walks them with.

A *batch* is what a vector env returns for N envs: an array with the env axis first, a dict
or a tuple of batches (``Dict`` and ``Tuple`` spaces), or a sequence of N items that Gymnasium
does not stack (``Text``: a tuple of str). Every helper here walks that structure with
:func:`map_batch`, so copying, slicing, merging and stacking follow one rule for any space.

Where a helper is given the single-env ``space`` the structure comes from it; without one,
dicts are walked by key, a tuple or list whose items are all arrays or dicts is a ``Tuple``
batch, and anything else is a leaf (an array, or a sequence of items). The only batch that
rule misreads is a ``Sequence`` space's (a tuple of ragged arrays): pass the space for those.

A vector env's *info* is one dict of arrays, each ``key`` with a boolean mask ``_key`` saying
which envs reported it; :class:`VectorInfos` reads it back per env.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, overload

import numpy as np
from gymnasium import spaces

__all__ = ["map_batch", "copy_batch", "take", "row", "merge_rows", "scatter", "concat", "stack_items",
           "add_batch_axis", "batch_size", "VectorInfos", "env_info", "end_values"]


def _is_structure(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and len(value) > 0 and all(
        isinstance(item, (np.ndarray, Mapping)) for item in value)


def map_batch(fn: Callable[..., Any], batch: Any, *others: Any, space: Any = None) -> Any:
    """``fn(leaf, *matching leaves of others)`` over every leaf of ``batch``, in its structure."""
    if space is None and type(batch) is dict:  # the common case first: a Dict batch of arrays
        return {key: fn(value, *(o[key] for o in others)) if type(value) is np.ndarray
                else map_batch(fn, value, *(o[key] for o in others)) for key, value in batch.items()}
    if isinstance(space, spaces.Dict) or (space is None and isinstance(batch, Mapping)):
        keys = space.spaces if space is not None else batch
        return {key: map_batch(fn, batch[key], *(o[key] for o in others),
                               space=None if space is None else space[key]) for key in keys}
    if isinstance(space, spaces.Tuple) or (space is None and _is_structure(batch)):
        return tuple(map_batch(fn, part, *(o[i] for o in others), space=None if space is None else space[i])
                     for i, part in enumerate(batch))
    return fn(batch, *others)


def _copy(leaf: Any) -> Any:
    if isinstance(leaf, np.ndarray):
        return leaf.copy()
    return type(leaf)(leaf) if isinstance(leaf, (tuple, list)) else leaf


def copy_batch(batch: Any, space: Any = None) -> Any:
    """A private copy: vector envs may hand out, and later reuse, their own buffers."""
    return map_batch(_copy, batch, space=space)


def take(batch: Any, rows: np.ndarray | Sequence[int], space: Any = None) -> Any:
    """The rows ``rows`` of a batch, as a batch (a copy)."""
    rows = np.asarray(rows, dtype=np.int64)

    def pick(leaf: Any) -> Any:
        if isinstance(leaf, np.ndarray):
            return leaf[rows]
        picked = [leaf[i] for i in rows]
        return tuple(picked) if isinstance(leaf, tuple) else picked

    return map_batch(pick, batch, space=space)


def row(batch: Any, i: int, space: Any = None, copy: bool = True) -> Any:
    """Env ``i``'s item of a batch (an array or NumPy scalar, a dict or tuple of them, or one text).

    Arrays are copied out unless ``copy=False``, which gives views into the batch.
    """
    if space is None and type(batch) is dict:  # a Dict batch, the single envs' every step: no closures
        return {key: (leaf[i].copy() if copy and leaf.ndim > 1 else leaf[i]) if type(leaf) is np.ndarray
                else row(leaf, i, copy=copy) for key, leaf in batch.items()}

    def pick(leaf: Any) -> Any:
        item = leaf[i]
        return np.array(item) if copy and isinstance(item, np.ndarray) else item

    return map_batch(pick, batch, space=space)


def merge_rows(batch: Any, other: Any, mask: np.ndarray, space: Any = None) -> Any:
    """A copy of ``batch`` whose rows where ``mask`` is true come from ``other`` (a batch of the same envs)."""
    mask = np.asarray(mask, dtype=bool)

    def merge(leaf: Any, replacement: Any) -> Any:
        if isinstance(leaf, np.ndarray):
            out = np.array(leaf)
            out[mask] = np.asarray(replacement)[mask]
            return out
        merged = [new if m else old for old, new, m in zip(leaf, replacement, mask)]
        return tuple(merged) if isinstance(leaf, tuple) else merged

    return map_batch(merge, batch, other, space=space)


def scatter(batch: Any, rows: np.ndarray | Sequence[int], values: Any, space: Any = None) -> Any:
    """A copy of ``batch`` whose row ``rows[j]`` is row ``j`` of the batch ``values``."""
    rows = np.asarray(rows, dtype=np.int64)

    def put(leaf: Any, new: Any) -> Any:
        if isinstance(leaf, np.ndarray):
            out = np.array(leaf)
            out[rows] = new
            return out
        out_list = list(leaf)
        for j, i in enumerate(rows):
            out_list[i] = new[j]
        return tuple(out_list) if isinstance(leaf, tuple) else out_list

    return map_batch(put, batch, values, space=space)


def concat(batches: Sequence[Any], space: Any = None) -> Any:
    """Batches of the same structure joined along the env axis (T batches of N rows -> one of T·N)."""
    first = batches[0]

    def join(*leaves: Any) -> Any:
        if isinstance(leaves[0], np.ndarray):
            return np.concatenate(leaves)
        return [item for leaf in leaves for item in leaf]

    return map_batch(join, first, *batches[1:], space=space)


def stack_items(space: Any, items: Sequence[Any]) -> Any:
    """Single-env items (observations or actions of ``space``) as one batch, laid out as a vector env would."""
    from gymnasium.error import CustomSpaceError
    from gymnasium.vector.utils import concatenate, create_empty_array

    try:
        return concatenate(space, items, create_empty_array(space, n=len(items)))
    except CustomSpaceError:  # spaces Gymnasium cannot batch stay a list of items
        return list(items)


def add_batch_axis(item: Any) -> Any:
    """One env's observation as a batch of one, without knowing its space (arrays get a leading axis)."""
    return map_batch(lambda leaf: np.asarray(leaf)[None] if not isinstance(leaf, str) else [leaf], item)


def batch_size(batch: Any) -> int:
    """N, the number of envs in a batch."""
    sizes: list[int] = []
    map_batch(lambda leaf: sizes.append(len(leaf)), batch)
    if not sizes:
        raise ValueError("an empty batch structure has no size")
    return sizes[0]


# -- vector infos ------------------------------------------------------------------------
def env_info(info: Mapping[str, Any], num_envs: int, i: int) -> dict[str, Any]:
    """The info dict env ``i`` would have returned on its own (see :class:`VectorInfos`)."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        if key[:1] == "_" and key[1:] in info:
            continue  # a mask, not data
        mask = info.get("_" + key)
        if mask is not None and not mask[i]:
            continue
        if type(value) is np.ndarray and value.ndim >= 1 and len(value) == num_envs:
            item = value[i]
            out[key] = item.item() if isinstance(item, np.generic) else item
        elif isinstance(value, Mapping):
            out[key] = env_info(value, num_envs, i)
        elif mask is not None and isinstance(value, (list, tuple)) and len(value) == num_envs:
            out[key] = value[i]
        else:
            out[key] = value
    return out


class VectorInfos(Sequence[dict]):
    """Read-only per-env view of a Gymnasium vector-env info dict.

    ``VectorInfos(info, num_envs)[i]`` rebuilds the info dict env ``i`` would have returned on
    its own: only the keys whose mask is true for ``i``, no ``_``-prefixed mask keys, nested
    dicts (``final_info``, ``episode``) rebuilt the same way, NumPy scalars turned back into
    Python scalars. Values without a mask that are not batched are shared by every env.

    Dicts are built on first access and cached, so a vector step with thousands of envs costs
    no per-env Python work unless someone reads its infos.
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
            cached = self._cache[i] = env_info(self._info, self._num_envs, i)
        return cached

    def __repr__(self) -> str:
        return f"VectorInfos(num_envs={self._num_envs}, keys={list(self._info)})"


class RowInfos(Sequence[dict]):
    """The infos ``infos[rows[j]]`` as a sequence, each built only when read."""

    def __init__(self, infos: Sequence[dict], rows: Sequence[int]) -> None:
        self._infos, self._rows = infos, rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self._infos[int(self._rows[index])]


class ChainedInfos(Sequence[dict]):
    """Several info sequences read as one (the steps of a rollout, one after the other)."""

    def __init__(self, parts: Sequence[Sequence[dict]]) -> None:
        self._parts = list(parts)
        self._ends = np.cumsum([len(part) for part in self._parts])

    def __len__(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = int(index)
        if i < 0:
            i += len(self)
        part = int(np.searchsorted(self._ends, i, side="right"))
        if not 0 <= i < len(self):
            raise IndexError(f"info index {index} out of range for {len(self)} transitions")
        start = int(self._ends[part - 1]) if part else 0
        return self._parts[part][i - start]


def end_values(info: Mapping[str, Any], num_envs: int, i: int) -> dict[str, float]:
    """The numeric values env ``i`` reported in a vector info (``success``, ``regret``, ...), as floats."""
    return {key: float(value) for key, value in env_info(info, num_envs, i).items()
            if isinstance(value, (bool, int, float)) and not isinstance(value, str)}
