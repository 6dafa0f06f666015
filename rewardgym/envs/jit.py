"""What the compiled env cores share: numba's ``njit`` with an on-disk cache, and the counter RNG per draw.

A core's step is one compiled call over the batch: per-env rules are plain scalar code (an
``if`` per rule, no masks) and a single env is the batch of one of the same kernel. Large
batches are cut into one slice per core, stepped at once on threads (:func:`split`: the kernels
release the GIL); numba's own ``parallel=True`` would compile every rule a second time, for
minutes, to do the same. ``njit`` here compiles
with ``cache=True`` (machine code is kept next to the module, so a second process starts in
a fraction of a second and nothing compiles at install), ``nogil`` and NumPy's error model
(no exceptions for division by zero, no bounds checks); never ``fastmath``, which would change
floating-point results and so the games.

The draws are :mod:`rewardgym.envs.rng`'s, one at a time: ``uniform(key, counter, stream,
lane)`` equals ``rng.uniform(key, counter, stream, (lanes,))[lane]`` bit for bit, so a compiled
core plays the same games as the NumPy code that defined them.

Module-level arrays a kernel reads (the games' content tables) are compile-time constants of
its cached machine code, and numba keys that cache by the kernel's own file only. So
:func:`cache_guard` fingerprints the tables a kernel module reads and drops the module's
cache files when they changed since it was compiled.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numba
import numpy as np

njit = functools.partial(numba.njit, cache=True, nogil=True, error_model="numpy")

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_FNV = np.uint64(0x100000001B3)
_S11, _S27, _S30, _S31 = (np.uint64(n) for n in (11, 27, 30, 31))
_UNIT = 1.0 / 9007199254740992.0


@njit(inline="always")
def splitmix64(x):
    """SplitMix64's finaliser of a uint64 (wrapping arithmetic): :func:`rewardgym.envs.rng.splitmix64`."""
    z = np.uint64(x) + _GOLDEN
    z = (z ^ (z >> _S30)) * _MUL1
    z = (z ^ (z >> _S27)) * _MUL2
    return z ^ (z >> _S31)


@njit(inline="always")
def draw_base(key, counter, stream):
    """The hash every lane of one draw starts from (``rng._bits`` before the lanes are added)."""
    return splitmix64(np.uint64(key) ^ splitmix64(np.uint64(counter) * _FNV + np.uint64(stream)))


@njit(inline="always")
def lane_uniform(base, lane):
    """Lane ``lane`` of the draw whose :func:`draw_base` is ``base``: a float in [0, 1)."""
    return np.float64(splitmix64(base + np.uint64(lane) * _GOLDEN) >> _S11) * _UNIT


@njit(inline="always")
def uniform(key, counter, stream, lane):
    """``rng.uniform(key, counter, stream, (lanes,))[lane]`` for one key (lane 0 is also the lane-less draw)."""
    return lane_uniform(draw_base(key, counter, stream), lane)


_NORMAL_STREAMS = np.uint64(1 << 20)  # rng.normal's streams, kept apart from uniform's


@njit
def normal(key, counter, stream, lane):
    """A standard normal draw by Box-Muller, as ``rng.normal(key, counter, stream, (lanes,))[lane]`` computes it —
    up to the last bit: NumPy's own ``log1p`` differs from the C library's (which numba calls) on a few percent of
    inputs."""
    base = _NORMAL_STREAMS + np.uint64(2) * np.uint64(stream)
    u1 = uniform(key, counter, base, lane)
    u2 = uniform(key, counter, base + np.uint64(1), lane)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def cache_guard(module_file: str, *tables) -> None:
    """Drop the numba cache of the kernels in ``module_file`` when the ``tables`` (arrays, numbers or strings
    the kernels read as constants) differ from those it was compiled with. Call it before the first kernel runs."""
    digest = hashlib.sha256()
    for table in tables:
        value = np.ascontiguousarray(table)
        digest.update(f"{value.dtype}{value.shape}".encode())
        digest.update(value.tobytes())
    fingerprint = digest.hexdigest()
    source = Path(module_file)
    cache = source.parent / "__pycache__"
    marker = cache / f"{source.stem}.tables"
    try:
        if marker.read_text() == fingerprint:
            return
    except OSError:
        pass
    try:
        cache.mkdir(exist_ok=True)
        for stale in cache.glob(f"{source.stem}.*.nb[ic]"):
            stale.unlink()
        marker.write_text(fingerprint)
    except OSError:  # a read-only install: numba then caches in its user-wide folder, keyed the same way
        pass


SPLIT_FROM = 256  # batches at least this large are cut into one slice per core
_pool: tuple[int, ThreadPoolExecutor] | None = None


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_CORES = cores()


def _threads() -> ThreadPoolExecutor:
    """This process's pool of one thread per core (a forked child makes its own)."""
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(_CORES, "rewardgym-jit"))
    return _pool[1]


def split(kernel, n: int, *args):
    """Run ``kernel(*args, start, stop)`` over ``[0, n)``: in one call for small ``n``, else one slice per core,
    at once on threads (``kernel`` must be a ``nogil`` kernel whose slices share no writes). Returns the kernel's
    result, summed over the slices when it returns a number."""
    if n < SPLIT_FROM or _CORES < 2:
        return kernel(*args, 0, n)
    workers = _CORES
    bounds = [n * k // workers for k in range(workers + 1)]
    futures = [_threads().submit(kernel, *args, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
    results = [future.result() for future in futures]
    return None if results[0] is None else sum(results)


@contextlib.contextmanager
def compile_notice(what: str, after: float = 3.0):
    """Log a warning, once the block has run ``after`` seconds, that ``what`` is compiling: the first process on a
    machine compiles the kernels (they are cached afterwards), and a silent minute looks like a hang."""
    timer = threading.Timer(after, logging.getLogger("rewardgym").warning,
                            (f"compiling {what} with numba: once per install, about a minute; later processes load "
                             f"the cached machine code in under a second",))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
