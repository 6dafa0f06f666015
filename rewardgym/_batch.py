"""Batched observations as vector envs return them: arrays, or dicts, tuples and lists of them."""

from __future__ import annotations

from typing import Any

import numpy as np


def copy_batch(batched: Any) -> Any:
    """A private copy of a batched observation: vector envs may hand out, and later reuse, their own buffers."""
    if isinstance(batched, np.ndarray):
        return batched.copy()
    if isinstance(batched, dict):
        return {key: copy_batch(value) for key, value in batched.items()}
    if isinstance(batched, tuple):
        return tuple(copy_batch(value) for value in batched)
    if isinstance(batched, list):
        return [copy_batch(value) for value in batched]
    return batched
