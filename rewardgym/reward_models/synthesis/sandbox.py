"""``SandboxedReward``: LLM-written reward code as a reward model, run in an OS sandbox.

Eureka (Ma et al. 2023) and Text2Reward (Xie et al. 2023) have an LLM write the reward as Python,
``compute_reward(obs, action, next_obs, info) -> (reward, {component: value})``, and run it in the
training process. Neither sandboxes it; rewardgym does, and assumes the code is hostile: Python
cannot sandbox Python, so the containment is the operating system's (``_confine.py``: Linux
namespaces, an empty read-only root, seccomp-bpf, hard rlimits, a fresh process per call; see
``docs/reward_code.md``). This module starts the worker (``_worker.py``), feeds it batches, holds
every read and write to a deadline, checks every reply as hostile, and turns every failure into
a :class:`RewardCodeError`.
"""

from __future__ import annotations

import contextlib
import json
import math
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

from rewardgym._batch import map_batch
from rewardgym.rewards.transitions import Transitions
from rewardgym.reward_models.synthesis._worker import (
    LAYERS,
    LEAF,
    MAX_COMPONENTS,
    MAX_ERROR_CHARS,
    MAX_MESSAGE_BYTES,
    MAX_NAME_CHARS,
    check_code,
    max_reply_bytes,
)

__all__ = ["SANDBOXES", "RewardCodeError", "SandboxedReward", "check_reward_code", "load_reward_code",
           "sandbox_layers"]

_WORKER = Path(__file__).with_name("_worker.py")
SANDBOXES = ("os", "trusted")
SCRATCH_BYTES = 1 << 20  # the worker's writable scratch dir (a tmpfs), emptied after every call
START_TIMEOUT_S = 60.0  # the worker's start-up (an interpreter, NumPy, the namespaces)
GRACE_S = 2.0  # the worker's own bookkeeping on top of a call's timeout (reaping, emptying the scratch dir)

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
    """A reward model whose ``compute_reward`` runs in an operating-system sandbox.

    ``model(batch)`` sends the batch's transitions to the worker in chunks of ``chunk_size`` (one
    round trip per chunk) and returns the ``(B,)`` float32 rewards. Every chunk runs in a fresh
    process forked for it, so nothing the code does survives into the next call. The
    per-transition components of the last batch are kept in :attr:`last_components`, and running
    statistics over every batch since :meth:`reset_stats` in :meth:`component_stats` (Eureka's
    reward reflection reads them). :attr:`layers` says which layers of the sandbox are active.

    Args:
        code: Python source defining ``compute_reward(obs, action, next_obs, info) -> (float, dict)``.
            ``math``, ``numpy`` and ``np`` are in scope.
        timeout_s: wall-clock seconds per chunk, enforced by killing the process that runs it; also
            its CPU-time allowance.
        memory_mb: address space the code may map beyond what the interpreter and NumPy use.
        chunk_size: transitions per round trip.
        sandbox: ``"os"`` (default) runs the code in new user, mount, PID, network, IPC and UTS
            namespaces with an empty read-only root, no capabilities, a seccomp filter and hard
            rlimits, and refuses to run at all where the machine cannot provide one of them;
            ``"trusted"`` runs it with the rlimits and the process boundary only, for code you
            trust on a machine without them.
        restrict_python: refuse imports, dunder attributes and the like before running, and give
            the code a restricted set of builtins (default). This keeps honest code on the rails
            and its errors clear; it is not what contains hostile code (the OS sandbox is).
            ``False`` runs it with Python's full builtins, imports included.

    Raises:
        RewardCodeError: on construction, when the sandbox is not available, the code fails the
            static check or fails to define ``compute_reward``; when called, when it raises, times
            out, runs out of memory, crashes or returns something other than
            ``(finite float, {str: finite float})``, or when the worker's reply is malformed. The
            worker is restarted on the next call if it died.
    """

    needs_frames = False

    def __init__(self, code: str, *, timeout_s: float = 10.0, memory_mb: int = 1024, chunk_size: int = 2048,
                 sandbox: str = "os", restrict_python: bool = True):
        if restrict_python:
            check_reward_code(code)
        elif not isinstance(code, str):
            raise RewardCodeError(f"reward code must be a str, got {type(code).__name__}")
        if sandbox not in SANDBOXES:
            raise ValueError(f"sandbox must be one of {', '.join(SANDBOXES)}, got {sandbox!r}")
        if not timeout_s > 0 or int(memory_mb) < 1 or int(chunk_size) < 1:
            raise ValueError("timeout_s, memory_mb and chunk_size must be positive")
        self.code, self.sandbox, self.restrict_python = code, sandbox, bool(restrict_python)
        self.timeout_s, self.memory_mb, self.chunk_size = float(timeout_s), int(memory_mb), int(chunk_size)
        self.last_components: dict[str, np.ndarray] = {}
        self.layers: dict[str, str] = {}
        self.restarts = 0
        self._process: subprocess.Popen | None = None
        self._stderr = None
        self._root: str | None = None
        self.reset_stats()
        self._start()

    # -- the reward model -------------------------------------------------------------------
    def __call__(self, batch: Transitions) -> np.ndarray:
        """Score a batch: sent as whole arrays (cheap to pickle) and split into transitions in the sandbox."""
        infos = [_plain_info(info) for info in batch.infos]
        payloads = []
        for start in range(0, len(batch), self.chunk_size):
            part = slice(start, start + self.chunk_size)
            columns = tuple(map_batch(lambda leaf: {LEAF: leaf[part]}, value)  # noqa: B023 - used at once
                            for value in (batch.obs, batch.action, batch.next_obs))
            payloads.append((b"B", len(infos[part]), (*columns, infos[part])))
        return self._score(payloads)

    def score(self, transitions: Sequence[tuple[Any, Any, Any, dict]]) -> np.ndarray:
        """Rewards for ``(obs, action, next_obs, info)`` tuples of single transitions."""
        return self._score([(b"S", len(chunk), chunk) for chunk in (
            list(transitions[start:start + self.chunk_size]) for start in range(0, len(transitions), self.chunk_size))])

    def _score(self, chunks: list[tuple[bytes, int, Any]]) -> np.ndarray:
        rewards: list[np.ndarray] = []
        columns: list[dict[str, np.ndarray]] = []
        for kind, count, data in chunks:
            reply = self._request(kind, count, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
            chunk_rewards, chunk_columns = parse_scores(reply, count)
            rewards.append(chunk_rewards)
            columns.append(chunk_columns)
        out = np.concatenate(rewards) if rewards else np.zeros(0, np.float32)
        self.last_components = _merge_columns(columns, [len(r) for r in rewards])
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
        self._root = tempfile.mkdtemp(prefix="reward-code-")
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker; closed in _kill
        config = {"sandbox": self.sandbox, "timeout_s": self.timeout_s, "memory_bytes": self.memory_mb << 20,
                  "scratch_bytes": SCRATCH_BYTES, "root": self._root, "restrict_python": self.restrict_python}
        # A bare environment: one BLAS thread (the sandbox forbids new threads), nothing else
        # inherited; -I ignores PYTHON* variables and user site-packages.
        env = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "LC_ALL": "C",
               "TMPDIR": "/scratch" if self.sandbox == "os" else self._root}
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", str(_WORKER), json.dumps(config)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=self._stderr, cwd=self._root, env=env, close_fds=True)
            os.set_blocking(self._process.stdin.fileno(), False)
            hello = self._reply(time.monotonic() + START_TIMEOUT_S, MAX_ERROR_CHARS * 8)
            if not hello.get("ok"):
                layer, reason = _text(hello.get("layer")), _text(hello.get("error"))
                raise RewardCodeError(
                    f"the OS sandbox is not available on this machine: {layer}: {reason}. Run "
                    f"`rewardgym sandbox-check` for details; sandbox='trusted' runs code you trust without it")
            layers = hello.get("layers")
            if not isinstance(layers, dict) or set(layers) - set(LAYERS):
                raise RewardCodeError("the sandbox worker sent a malformed greeting")
            self.layers = {name: _text(layers[name]) for name in LAYERS if name in layers}
            self._check(self._request(b"L", 0, self.code.encode(), restart=False))
        except RewardCodeError:
            self._kill()
            raise
        except OSError as error:
            self._kill()
            raise RewardCodeError(f"could not start the sandbox worker: {error}") from None

    def _request(self, kind: bytes, count: int, payload: bytes, *, restart: bool = True) -> dict:
        if restart and (self._process is None or self._process.poll() is not None):
            self.restarts += 1
            self._kill()
            self._start()
        if len(payload) > MAX_MESSAGE_BYTES:
            raise RewardCodeError(f"a chunk of {count} transitions is {len(payload) >> 20} MiB, over the sandbox's "
                                  f"{MAX_MESSAGE_BYTES >> 20} MiB; lower chunk_size")
        deadline = time.monotonic() + self.timeout_s + GRACE_S
        self._send(struct.pack(">QcI", len(payload), kind, count) + payload, deadline)
        return self._check(self._reply(deadline, max_reply_bytes(count)))

    def _send(self, data: bytes, deadline: float) -> None:
        process = self._process
        assert process is not None and process.stdin is not None
        fd, view = process.stdin.fileno(), memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                self._kill()
                raise RewardCodeError(f"timed out after {self.timeout_s:g} s sending to the sandbox worker "
                                      f"(it was killed)")
            try:
                view = view[os.write(fd, view[:1 << 20]):]
            except BlockingIOError:
                continue
            except OSError:
                raise RewardCodeError(self._death_notice()) from None

    def _reply(self, deadline: float, limit: int) -> dict:
        """One framed JSON reply, read to ``deadline``, at most ``limit`` bytes; a dict or an error."""
        size = struct.unpack(">Q", self._read(8, deadline))[0]
        if size > limit:
            self._kill()
            raise RewardCodeError(f"the sandbox worker sent a reply of {size} bytes, over the {limit} allowed")
        try:
            reply = json.loads(self._read(size, deadline))
        except (ValueError, RecursionError):
            raise RewardCodeError("the sandbox worker sent a malformed reply (not JSON)") from None
        if not isinstance(reply, dict):
            raise RewardCodeError("the sandbox worker sent a malformed reply (not an object)")
        return reply

    @staticmethod
    def _check(reply: dict) -> dict:
        if reply.get("ok") is not True:
            raise RewardCodeError(_text(reply.get("error", "unknown error")))
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
                raise RewardCodeError(f"timed out after {self.timeout_s:g} s (the sandbox worker was killed)")
            chunk = os.read(fd, min(size - len(data), 1 << 20))
            if not chunk:
                raise RewardCodeError(self._death_notice())
            data += chunk
        return bytes(data)

    def _death_notice(self) -> str:
        process = self._process
        code = None
        if process is not None:
            try:
                code = process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                process.kill()
                code = process.wait()
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
                process.kill()  # its child, PID 1 of the sandbox, dies with it, and so does all else in it
            process.wait()
            for stream in (process.stdin, process.stdout):
                with contextlib.suppress(OSError, AttributeError):
                    stream.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def close(self) -> None:
        """Stop the worker and every process in its sandbox."""
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
        return f"SandboxedReward({first.rstrip(':')!r}, sandbox={self.sandbox!r})"


def load_reward_code(path: str, timeout_s: float = 10.0, memory_mb: int = 1024, sandbox: str = "os") -> SandboxedReward:
    """The ``reward-code`` spec, ``reward-code:PATH;timeout_s=10;memory_mb=1024;sandbox=os``.

    ``PATH`` is a Python file defining ``compute_reward``, e.g. a ``best_reward.py`` left by
    :func:`~rewardgym.workflows.synthesis.synthesize_reward`.
    """
    file = Path(str(path)).expanduser()
    if not file.is_file():
        raise ValueError(f"reward code file {str(path)!r} does not exist")
    return SandboxedReward(file.read_text(), timeout_s=timeout_s, memory_mb=memory_mb, sandbox=sandbox)


def sandbox_layers(sandbox: str = "os") -> dict[str, str]:
    """Start a worker with a trivial reward, score one transition, return the layers it reports.

    Raises :class:`RewardCodeError` (saying which layer is missing) where the machine cannot
    provide the ``"os"`` sandbox. ``rewardgym sandbox-check`` prints this.
    """
    code = "def compute_reward(obs, action, next_obs, info):\n    return float(obs), {'obs': float(obs)}\n"
    with SandboxedReward(code, timeout_s=10, sandbox=sandbox) as model:
        if model.score([(2.0, 0, 0.0, {})]).tolist() != [2.0]:
            raise RewardCodeError("the sandbox worker scored a test transition wrongly")
        return dict(model.layers)


def parse_scores(reply: Mapping[str, Any], count: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The ``(count,)`` float32 rewards and the components of a worker's reply, checked as hostile input.

    The reply is ``{"rewards": [float] * count, "names": [str] * k, "values": [[float | None] * k] * count}``
    with at most :data:`MAX_COMPONENTS` distinct names of at most :data:`MAX_NAME_CHARS` characters;
    anything else is a :class:`RewardCodeError`.
    """
    rewards, names, values = reply.get("rewards"), reply.get("names"), reply.get("values")
    if not (isinstance(rewards, list) and len(rewards) == count and all(type(v) in (int, float) for v in rewards)):
        raise RewardCodeError(f"the sandbox worker sent a malformed reply: not {count} rewards")
    if not (isinstance(names, list) and len(names) <= MAX_COMPONENTS
            and all(isinstance(name, str) and 0 < len(name) <= MAX_NAME_CHARS for name in names)
            and len(set(names)) == len(names)):
        raise RewardCodeError(f"the sandbox worker sent a malformed reply: component names must be at most "
                              f"{MAX_COMPONENTS} distinct strings of 1 to {MAX_NAME_CHARS} characters")
    if not (isinstance(values, list) and len(values) == count
            and all(isinstance(line, list) and len(line) == len(names)
                    and all(v is None or type(v) in (int, float) for v in line) for line in values)):
        raise RewardCodeError("the sandbox worker sent a malformed reply: components are not a table of numbers")
    try:
        totals = np.array(rewards, dtype=np.float64)
        table = np.array([[math.nan if v is None else v for v in line] for line in values],
                         dtype=np.float64).reshape(count, len(names))
    except (OverflowError, ValueError):
        raise RewardCodeError("the sandbox worker sent a malformed reply: a number out of range") from None
    if not np.all(np.abs(totals) <= np.finfo(np.float32).max):  # also catches inf and nan
        raise RewardCodeError("the reward must be finite and fit in float32 (|reward| <= 3.4e38)")
    if np.any(np.isinf(table)):  # NaN marks a component a transition did not report
        raise RewardCodeError("the sandbox worker sent a malformed reply: a component is not finite")
    return totals.astype(np.float32), {name: table[:, j].copy() for j, name in enumerate(names)}


def _merge_columns(chunks: list[dict[str, np.ndarray]], sizes: list[int]) -> dict[str, np.ndarray]:
    """Each chunk's components -> one (B,) array per name (NaN where a chunk lacked it)."""
    if len(chunks) == 1:
        return chunks[0]
    names = sorted({name for chunk in chunks for name in chunk})
    return {name: np.concatenate([chunk.get(name, np.full(size, np.nan)) for chunk, size in zip(chunks, sizes)])
            for name in names}


def _text(value: Any) -> str:
    """A worker-supplied string, bounded; anything else as its type's name."""
    return value[:MAX_ERROR_CHARS] if isinstance(value, str) else f"<{type(value).__name__}>"


# -- what crosses into the sandbox ------------------------------------------------------------
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
