"""The compiled cores' common ground: the counter RNG per draw, the cache guard, the slices over threads."""

from __future__ import annotations

import threading
import time

import numpy as np

from rewardgym.envs import jit, rng


@jit.njit
def _draws(keys, counters, stream, lanes, out):
    for i in range(keys.size):
        for lane in range(lanes):
            out[i, lane] = jit.uniform(keys[i], counters[i], stream, lane)


def test_compiled_draws_are_the_numpy_draws_bit_for_bit():
    keys = rng.seed_key(np.arange(200, dtype=np.uint64) * 7919)
    counters = np.random.default_rng(0).integers(0, 2**40, 200)
    for stream in (0, 1, 5, 1 << 20):
        out = np.empty((200, 9))
        _draws(keys, counters, stream, 9, out)
        np.testing.assert_array_equal(out, rng.uniform(keys, counters, stream, (9,)))
    assert jit.splitmix64(np.uint64(12345)) == rng.splitmix64(np.uint64(12345))


def test_cache_guard_drops_a_modules_cache_when_its_tables_change(tmp_path):
    module = tmp_path / "kernels.py"
    module.write_text("# kernels\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    other = cache / "other.step-10.py311.nbi"
    other.write_text("")

    def compiled():
        for name in ("kernels.step-10.py311.nbi", "kernels.step-10.py311.1.nbc"):
            (cache / name).write_text("machine code")

    table = np.arange(5)
    jit.cache_guard(str(module), table, 3)
    compiled()
    jit.cache_guard(str(module), table, 3)  # the same tables: the cache stays
    assert len(list(cache.glob("kernels.*.nb?"))) == 2
    table[2] = 99
    jit.cache_guard(str(module), table, 3)  # a table changed: the module's cache goes, other modules' stays
    assert not list(cache.glob("kernels.*.nb?")) and other.exists()
    compiled()
    jit.cache_guard(str(module), table, 4)  # a constant changed
    assert not list(cache.glob("kernels.*.nb?"))


def test_split_covers_every_row_once_on_threads(monkeypatch):
    monkeypatch.setattr(jit, "_CORES", 3)
    seen = np.zeros(1000, np.int64)
    threads = set()

    def kernel(out, start, stop):
        threads.add(threading.get_ident())
        time.sleep(0.05)  # long enough that another thread takes the next slice
        out[start:stop] += 1
        return stop - start

    assert jit.split(kernel, 1000, seen) == 1000
    assert (seen == 1).all() and len(threads) > 1
    assert jit.split(kernel, 10, seen) == 10 and (seen[:10] == 2).all()  # small batches: one call, this thread
