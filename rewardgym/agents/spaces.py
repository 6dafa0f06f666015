"""Gymnasium spaces as small JSON objects, so a saved agent names the spaces it was built for.

A saved torch agent must rebuild its network before it can load weights, and must refuse an
env whose spaces differ. ``describe_space`` writes what that needs (bounds collapse to one
number when they are uniform, so an 84x84x3 image box stays one line); ``space_from_description``
rebuilds the space.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces


def describe_space(space: spaces.Space) -> dict[str, Any]:
    if isinstance(space, spaces.Dict):
        return {"type": "Dict", "spaces": {key: describe_space(sub) for key, sub in space.spaces.items()}}
    if isinstance(space, spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype),
                "low": _bound(space.low), "high": _bound(space.high)}
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist(), "start": space.start.tolist()}
    if isinstance(space, spaces.MultiBinary):
        return {"type": "MultiBinary", "n": np.atleast_1d(space.n).tolist()}
    if isinstance(space, spaces.Text):
        return {"type": "Text", "min_length": int(space.min_length), "max_length": int(space.max_length),
                "charset": "".join(sorted(space.character_set))}
    raise ValueError(f"cannot describe a {type(space).__name__} space")


def space_from_description(description: dict[str, Any]) -> spaces.Space:
    kind = description.get("type")
    if kind == "Dict":
        return spaces.Dict({key: space_from_description(sub) for key, sub in description["spaces"].items()})
    if kind == "Box":
        dtype = np.dtype(description["dtype"])
        shape = tuple(description["shape"])
        low, high = (_bound_array(description[key], dtype, shape) for key in ("low", "high"))
        return spaces.Box(low, high, shape=shape, dtype=dtype)
    if kind == "Discrete":
        return spaces.Discrete(description["n"], start=description.get("start", 0))
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(description["nvec"], start=description.get("start"))
    if kind == "MultiBinary":
        n = description["n"]
        return spaces.MultiBinary(n[0] if len(n) == 1 else n)
    if kind == "Text":
        return spaces.Text(description["max_length"], min_length=description["min_length"],
                           charset=description["charset"])
    raise ValueError(f"unknown space description {description!r}")


def _bound_array(value: Any, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    """A bound from its JSON form; integer bounds go through Python ints, exact to int64's extremes."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        raw = np.asarray(value, dtype=object)
        exact = [max(info.min, min(info.max, int(v))) for v in raw.ravel()]
        return np.broadcast_to(np.array(exact, dtype=dtype).reshape(raw.shape), shape)
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).astype(dtype)


def _bound(values: np.ndarray) -> Any:
    """One number when every entry is equal, else the nested list; infinities as floats JSON can hold.

    Integer bounds stay Python ints: int64's extremes do not survive a trip through float64.
    """
    if np.issubdtype(values.dtype, np.integer):
        flat = values.ravel()
        return int(flat[0]) if flat.size and np.all(flat == flat[0]) else values.tolist()
    flat = values.astype(np.float64).ravel()
    if flat.size and np.all(flat == flat[0]):
        return _json_float(flat[0])
    return [_json_float(v) for v in flat] if values.ndim <= 1 else [_bound(row) for row in values]


def _json_float(value: float) -> float | str:
    if np.isposinf(value):
        return "inf"
    if np.isneginf(value):
        return "-inf"
    return float(value)
