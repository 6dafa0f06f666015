"""``SandboxedReward``: LLM-written reward code as a reward model, run in a contained worker process.

Eureka (Ma et al. 2023) and Text2Reward (Xie et al. 2023) have an LLM write the reward as Python,
``compute_reward(obs, action, next_obs, info) -> (reward, {component: value})``, and run it in the
training process. Neither sandboxes it; rewardgym does, because generated code can loop forever,
allocate without bound, import ``os`` or reach the interpreter's internals by accident as easily as
by design. The worker (``_worker.py``) is a separate interpreter; this module starts it, feeds it
batches, enforces the wall-clock timeout and turns every failure into a :class:`RewardCodeError`.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardgym._batch import row
from rewardgym.rewards.transitions import Transitions
from rewardgym.reward_models.synthesis._worker import MAX_MESSAGE_BYTES, check_code

__all__ = ["RewardCodeError", "SandboxedReward", "check_reward_code", "load_reward_code"]

_WORKER = Path(__file__).with_name("_worker.py")


class RewardCodeError(RuntimeError):
    """Reward code that was refused, failed, timed out, ran out of memory or returned a malformed value.

    ``str(error)`` is the reason (with the reward code's own lines when it raised), suitable for
    feeding back to the LLM as Eureka feeds back tracebacks.
    """


def check_reward_code(code: str) -> None:
    """The static check the worker applies before running ``code``; raises :class:`RewardCodeError`."""
    if not isinstance(code, str):
        raise RewardCodeError(f"reward code must be a str, got {type(code).__name__}")
    try:
        check_code(code)
    except ValueError as error:
        raise RewardCodeError(str(error)) from None


class SandboxedReward:
    """A reward model whose ``compute_reward`` runs in a separate, resource-limited process.

    ``model(batch)`` sends the batch's transitions to the worker in chunks of ``chunk_size`` (one
    round trip per chunk, so the IPC cost per transition is small) and returns the ``(B,)`` float32
    rewards. The per-transition components of the last batch are kept in :attr:`last_components`,
    and running statistics over every batch since :meth:`reset_stats` in :meth:`component_stats`
    (Eureka's reward reflection reads them).

    Args:
        code: Python source defining ``compute_reward(obs, action, next_obs, info) -> (float, dict)``.
            ``math``, ``numpy`` and ``np`` are in scope; ``import`` statements are refused.
        timeout_s: wall-clock seconds per chunk, enforced by killing the worker; also its CPU-time
            allowance per chunk.
        memory_mb: address space the worker may map beyond what the interpreter and NumPy use.
        chunk_size: transitions per round trip.

    Raises:
        RewardCodeError: on construction, when the code fails the static check or fails to define
            ``compute_reward``; when called, when it raises, times out, runs out of memory or
            returns something other than ``(finite float, {str: finite float})``. The worker is
            restarted on the next call after a crash or a timeout.
    """

    needs_frames = False

    def __init__(self, code: str, *, timeout_s: float = 10.0, memory_mb: int = 1024, chunk_size: int = 2048):
        check_reward_code(code)
        if not timeout_s > 0 or int(memory_mb) < 1 or int(chunk_size) < 1:
            raise ValueError("timeout_s, memory_mb and chunk_size must be positive")
        self.code = code
        self.timeout_s, self.memory_mb, self.chunk_size = float(timeout_s), int(memory_mb), int(chunk_size)
        self.last_components: dict[str, np.ndarray] = {}
        self.restarts = 0
        self._process: subprocess.Popen | None = None
        self._stderr = None
        self._workdir: str | None = None
        self.reset_stats()
        self._start()

    # -- the reward model -------------------------------------------------------------------
    def __call__(self, batch: Transitions) -> np.ndarray:
        return self.score(transitions_to_list(batch))

    def score(self, transitions: Sequence[tuple[Any, Any, Any, dict]]) -> np.ndarray:
        """Rewards for ``(obs, action, next_obs, info)`` tuples of single transitions."""
        rewards: list[float] = []
        components: list[dict[str, float]] = []
        for start in range(0, len(transitions), self.chunk_size):
            chunk = list(transitions[start:start + self.chunk_size])
            reply = self._request(("score", chunk))
            if len(reply.get("rewards", ())) != len(chunk) or len(reply.get("components", ())) != len(chunk):
                self._kill()
                raise RewardCodeError("the sandbox worker sent a malformed reply")
            rewards += reply["rewards"]
            components += reply["components"]
        out = np.asarray(rewards, dtype=np.float32)
        if not np.all(np.isfinite(out)):  # finite float64 can overflow float32
            raise RewardCodeError("the reward does not fit in float32 (|reward| > 3.4e38)")
        self.last_components = _columns(components)
        self._update_stats(out, self.last_components)
        return out

    # -- reward reflection (Eureka) ---------------------------------------------------------
    def reset_stats(self) -> None:
        """Forget the statistics gathered so far (e.g. between the smoke test and training)."""
        self._stats: dict[str, list[float]] = {}  # name -> [count, sum, sum of squares, min, max]
        self.history: list[dict[str, float]] = []  # per call: each component's mean (Eureka's checkpoints)

    def component_stats(self) -> dict[str, dict[str, float]]:
        """``{name: {mean, std, min, max, count}}`` over every transition scored since :meth:`reset_stats`.

        ``"reward"`` (the total) is included alongside the components.
        """
        out = {}
        for name, (count, total, squares, low, high) in self._stats.items():
            mean = total / count
            out[name] = {"mean": mean, "std": float(np.sqrt(max(squares / count - mean * mean, 0.0))),
                         "min": low, "max": high, "count": int(count)}
        return out

    def _update_stats(self, rewards: np.ndarray, components: Mapping[str, np.ndarray]) -> None:
        if len(rewards) == 0:
            return
        columns = {"reward": rewards.astype(np.float64), **components}
        for name, values in columns.items():
            values = values[~np.isnan(values)]
            if len(values) == 0:
                continue
            stats = self._stats.setdefault(name, [0.0, 0.0, 0.0, np.inf, -np.inf])
            stats[0] += len(values)
            stats[1] += float(values.sum())
            stats[2] += float(np.square(values).sum())
            stats[3] = min(stats[3], float(values.min()))
            stats[4] = max(stats[4], float(values.max()))
        self.history.append({name: float(np.nanmean(values)) for name, values in columns.items()
                             if not np.all(np.isnan(values))})

    # -- the worker -------------------------------------------------------------------------
    def _start(self) -> None:
        self._workdir = tempfile.mkdtemp(prefix="reward-code-")
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker; closed in _kill
        # A bare environment: one BLAS thread (the limits forbid new threads later on), nothing else
        # inherited; -I ignores PYTHON* variables and user site-packages.
        env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "LC_ALL": "C"}
        self._process = subprocess.Popen(
            [sys.executable, "-I", str(_WORKER), repr(self.timeout_s), str(self.memory_mb * 1024 * 1024)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, cwd=self._workdir, env=env,
            close_fds=True)
        try:
            self._request(("load", self.code), restart=False, timeout=max(self.timeout_s, 30.0))
        except RewardCodeError:
            self._kill()
            raise

    def _request(self, message: tuple[str, Any], *, restart: bool = True, timeout: float | None = None) -> dict:
        if restart and (self._process is None or self._process.poll() is not None):
            self.restarts += 1
            self._kill()
            self._start()
        process = self._process
        assert process is not None and process.stdin is not None and process.stdout is not None
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            process.stdin.write(struct.pack(">Q", len(payload)) + payload)
            process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise RewardCodeError(self._death_notice()) from None
        deadline = time.monotonic() + (self.timeout_s if timeout is None else timeout)
        header = self._read(8, deadline)
        size = struct.unpack(">Q", header)[0]
        if size > MAX_MESSAGE_BYTES:
            self._kill()
            raise RewardCodeError("the sandbox worker sent an oversized reply")
        try:
            reply = json.loads(self._read(size, deadline))
        except ValueError:
            self._kill()
            raise RewardCodeError("the sandbox worker sent a malformed reply") from None
        if not isinstance(reply, dict):
            self._kill()
            raise RewardCodeError("the sandbox worker sent a malformed reply")
        if not reply.get("ok"):
            raise RewardCodeError(str(reply.get("error", "unknown error")))
        return reply

    def _read(self, size: int, deadline: float) -> bytes:
        process = self._process
        assert process is not None and process.stdout is not None
        fd = process.stdout.fileno()
        data = bytearray()
        while len(data) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self._kill()
                raise RewardCodeError(f"timed out after {self.timeout_s:g} s (the worker was killed)")
            chunk = os.read(fd, min(size - len(data), 1 << 20))
            if not chunk:
                raise RewardCodeError(self._death_notice())
            data += chunk
        return bytes(data)

    def _death_notice(self) -> str:
        process = self._process
        code = process.wait(timeout=5) if process is not None else None
        reason = {-9: "killed (SIGKILL)", -24: "CPU time limit exceeded (SIGXCPU)"}.get(code, f"exit status {code}")
        tail = ""
        if self._stderr is not None:
            self._stderr.seek(0, os.SEEK_END)
            self._stderr.seek(max(0, self._stderr.tell() - 600))
            tail = self._stderr.read().decode(errors="replace").strip()
        self._kill()
        return f"the sandbox worker died: {reason}" + (f"; it wrote: {tail}" if tail else "")

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.kill()
            process.wait()
            for stream in (process.stdin, process.stdout):
                with contextlib.suppress(OSError, AttributeError):
                    stream.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def close(self) -> None:
        """Stop the worker process."""
        self._kill()

    def __enter__(self) -> SandboxedReward:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown may have torn down modules
            self._kill()

    def __repr__(self) -> str:
        first = next((line for line in self.code.splitlines() if line.startswith("def ")), "")
        return f"SandboxedReward({first.rstrip(':')!r})"


def load_reward_code(path: str, timeout_s: float = 10.0, memory_mb: int = 1024) -> SandboxedReward:
    """The ``reward-code`` spec: ``reward-code:PATH;timeout_s=10;memory_mb=1024`` -> :class:`SandboxedReward`.

    ``PATH`` is a Python file defining ``compute_reward``, e.g. a ``best_reward.py`` left by
    :func:`~rewardgym.reward_models.synthesis.synthesize_reward`.
    """
    file = Path(str(path)).expanduser()
    if not file.is_file():
        raise ValueError(f"reward code file {str(path)!r} does not exist")
    return SandboxedReward(file.read_text(), timeout_s=timeout_s, memory_mb=memory_mb)


# -- batches -> single transitions -------------------------------------------------------------
def transitions_to_list(batch: Transitions) -> list[tuple[Any, Any, Any, dict]]:
    """Split a batch into ``(obs, action, next_obs, info)`` tuples, as a single env would give them."""
    # copies, not views of the whole batch
    return [(row(batch.obs, i), row(batch.action, i), row(batch.next_obs, i), _plain_info(batch.infos[i]))
            for i in range(len(batch))]


_PLAIN = (str, int, float, bool, type(None), np.ndarray, np.generic)


def _plain_info(info: Mapping[str, Any]) -> dict:
    """The info's data, without objects the worker cannot (or should not) unpickle."""
    out = {}
    for key, value in info.items():
        if isinstance(value, Mapping):
            out[key] = _plain_info(value)
        elif isinstance(value, _PLAIN):
            out[key] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, _PLAIN) for v in value):
            out[key] = list(value)
    return out


def _columns(components: list[dict[str, float]]) -> dict[str, np.ndarray]:
    """Per-transition component dicts -> one (B,) array per name (NaN where a transition lacked it)."""
    names = sorted({name for parts in components for name in parts})
    return {name: np.array([parts.get(name, np.nan) for parts in components], dtype=np.float64) for name in names}
