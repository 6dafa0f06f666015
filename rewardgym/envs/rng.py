"""Counter-based random numbers for batched environments.

A batched core steps thousands of environments in one NumPy call, yet each must draw
exactly the numbers it would draw alone, so that ``gym.make_vec(id, N)`` seeded ``s``
replays N single envs seeded ``s, s+1, ...``. A stateful generator per env would need a
Python loop per step; instead every draw is a pure function of
``(episode key, step counter, stream)`` hashed with SplitMix64, which vectorises
over any batch shape and is independent of which other envs share the batch.

Keys are ``uint64`` arrays. ``seed_key(seed)`` turns a user seed into a key,
``next_key(key)`` derives the key of the following episode (used on reset without a
seed and on autoreset), and ``uniform``/``normal`` draw floats of shape
``key.shape + shape``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_EPISODE = np.uint64(0xD1B54A32D192ED03)
_NORMAL_STREAMS = 1 << 20
_S11, _S27, _S30, _S31 = (np.uint64(n) for n in (11, 27, 30, 31))
_FNV = np.uint64(0x100000001B3)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic, no state)."""
    z = np.asarray(x, dtype=np.uint64)
    if z.ndim == 0:  # NumPy warns on scalar overflow only; wrapping is the point here
        return splitmix64(z[None])[0]
    z = z + _GOLDEN
    z = (z ^ (z >> _S30)) * _MUL1
    z = (z ^ (z >> _S27)) * _MUL2
    return z ^ (z >> _S31)


def seed_key(seed: int | np.ndarray) -> np.ndarray:
    """Key of the first episode after ``reset(seed=seed)``; negative seeds are rejected."""
    seed = np.asarray(seed)
    if np.any(seed < 0):
        raise ValueError(f"seeds must be non-negative integers, got {seed}")
    return splitmix64(seed.astype(np.uint64))


def next_key(key: np.ndarray) -> np.ndarray:
    """Key of the episode that follows the one keyed ``key``."""
    return splitmix64(np.asarray(key, dtype=np.uint64) ^ _EPISODE)


def fresh_keys(n: int) -> np.ndarray:
    """``n`` keys from OS entropy, for a first reset without a seed (not reproducible by design)."""
    return splitmix64(np.random.SeedSequence().generate_state(n, dtype=np.uint64))


@lru_cache(maxsize=64)
def _lanes(shape: tuple[int, ...]) -> np.ndarray:
    lanes = np.arange(int(np.prod(shape)), dtype=np.uint64).reshape(shape) * _GOLDEN
    lanes.flags.writeable = False
    return lanes


def _bits(key: np.ndarray, counter: np.ndarray | int, stream: int, shape: tuple[int, ...]) -> np.ndarray:
    key = np.asarray(key, dtype=np.uint64)
    counter = np.atleast_1d(np.asarray(counter, dtype=np.uint64))
    # Mix key, counter and stream in turn so nearby counters land far apart.
    base = splitmix64(key ^ splitmix64(counter * _FNV + np.uint64(stream)))
    if shape:
        base = base.reshape(base.shape + (1,) * len(shape)) + _lanes(shape)
    return splitmix64(base)


def uniform(key: np.ndarray, counter: np.ndarray | int, stream: int, shape: tuple[int, ...] = ()) -> np.ndarray:
    """Floats in [0, 1) of shape ``key.shape + shape``; ``counter`` broadcasts against ``key``."""
    return (_bits(key, counter, stream, shape) >> _S11).astype(np.float64) * (1.0 / 9007199254740992.0)


def normal(key: np.ndarray, counter: np.ndarray | int, stream: int, shape: tuple[int, ...] = ()) -> np.ndarray:
    """Standard normal floats (Box-Muller over two uniform streams kept apart from ``uniform``'s)."""
    u1 = uniform(key, counter, _NORMAL_STREAMS + 2 * stream, shape)
    u2 = uniform(key, counter, _NORMAL_STREAMS + 2 * stream + 1, shape)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)
