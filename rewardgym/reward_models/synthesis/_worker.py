"""The sandbox worker: runs LLM-written ``compute_reward`` code in its own process.

This file is run *by path* (``python -I _worker.py``), not imported as part of rewardgym, so the
worker process holds nothing but the standard library, NumPy and the code under test. The parent
(:mod:`rewardgym.reward_models.synthesis.sandbox`) imports :func:`check_code` and the limits from
here, so the static check is the same on both sides.

Protocol, over the worker's stdin/stdout (each message: 8-byte big-endian length, then payload):

* parent -> worker: a pickle of ``("load", code)`` or ``("score", [(obs, action, next_obs, info), ...])``
  (the parent is trusted, so pickle is fine in this direction);
* worker -> parent: UTF-8 JSON ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. JSON, never
  pickle, because if the code under test ever escaped the Python-level restrictions, it could write
  anything to this pipe, and unpickling would hand it the parent.

Containment, in layers (see ``docs/reward_code.md``): the AST check and restricted builtins are
what keep honest-but-sloppy code on the rails; the process boundary and the ``resource`` limits
set in :func:`_limit_process` (CPU seconds, address space, no new files, no file writes, no new
processes) are what contain code that gets past them.
"""

from __future__ import annotations

import ast
import contextlib
import json
import math
import numbers
import os
import pickle
import struct
import sys
import traceback

# Attribute names that lead out of the sandbox (frames, code objects, a class's subclasses) or to
# the file system (NumPy's load/save family, array.tofile, ctypes views of raw memory). Names that
# start with "_" are refused wholesale, which covers __class__, __mro__, __subclasses__, __globals__.
FORBIDDEN_ATTRIBUTES = frozenset({
    "gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "ag_frame", "ag_code",
    "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "tb_frame", "tb_next",
    "co_code", "func_globals", "func_code", "mro", "format_map",
    "load", "loads", "save", "savez", "savez_compressed", "savetxt", "loadtxt", "genfromtxt",
    "fromfile", "tofile", "fromregex", "memmap", "dump", "dumps", "DataSource",
    "ctypes", "ctypeslib", "lib", "f2py", "distutils", "testing", "os", "sys", "system",
})

# The builtins the code may use: pure functions and the exceptions it may raise or catch.
_SAFE_BUILTIN_NAMES = (
    "abs", "all", "any", "bool", "dict", "divmod", "enumerate", "filter", "float", "int", "isinstance",
    "len", "list", "map", "max", "min", "pow", "range", "reversed", "round", "set", "slice", "sorted",
    "str", "sum", "tuple", "zip", "ArithmeticError", "AssertionError", "Exception", "IndexError",
    "KeyError", "OverflowError", "RuntimeError", "TypeError", "ValueError", "ZeroDivisionError",
    "True", "False", "None",
)

MAX_MESSAGE_BYTES = 512 * 1024 * 1024
CODE_FILENAME = "<reward code>"


def check_code(code: str) -> ast.Module:
    """Parse ``code`` and refuse what the sandbox does not allow; return the tree.

    Raises:
        ValueError: a syntax error, an import, a dunder or forbidden name or attribute, a class
            definition, or no top-level ``def compute_reward``; the message says which and where.
    """
    try:
        tree = ast.parse(code, filename=CODE_FILENAME)
    except SyntaxError as error:
        raise ValueError(f"syntax error on line {error.lineno}: {error.msg}") from None
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            raise ValueError(f"{where}: import statements are not allowed; math and numpy (as np) are provided")
        if isinstance(node, ast.Attribute) and (node.attr.startswith("_") or node.attr in FORBIDDEN_ATTRIBUTES):
            raise ValueError(f"{where}: access to the attribute {node.attr!r} is not allowed")
        if isinstance(node, ast.Name) and node.id.startswith("__"):
            raise ValueError(f"{where}: the name {node.id!r} is not allowed")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "__" in node.value:
            # Format strings such as "{0.__class__}" walk attributes by name.
            raise ValueError(f"{where}: strings containing '__' are not allowed")
        if isinstance(node, (ast.ClassDef, ast.AsyncFunctionDef, ast.Global, ast.Nonlocal)):
            raise ValueError(f"{where}: {type(node).__name__} statements are not allowed")
    if not any(isinstance(node, ast.FunctionDef) and node.name == "compute_reward" for node in tree.body):
        raise ValueError("the code defines no top-level function compute_reward(obs, action, next_obs, info)")
    return tree


def _safe_getattr(obj, name, *default):
    if not isinstance(name, str) or name.startswith("_") or name in FORBIDDEN_ATTRIBUTES:
        raise AttributeError(f"access to the attribute {name!r} is not allowed")
    return getattr(obj, name, *default)


def _safe_hasattr(obj, name):
    return _safe_getattr(obj, name, _MISSING) is not _MISSING


_MISSING = object()


def _no_print(*args, **kwargs):
    """``print`` is a no-op: stdout is the protocol pipe, and the LLM's debug output is noise."""


def safe_builtins() -> dict:
    import builtins

    table = {name: getattr(builtins, name) for name in _SAFE_BUILTIN_NAMES}
    table.update(getattr=_safe_getattr, hasattr=_safe_hasattr, print=_no_print)
    return table


def _limit_process(cpu_seconds: float, memory_bytes: int) -> None:
    """OS-level limits: the real containment. Best effort where the platform lacks a limit."""
    import resource
    import signal

    def limit(kind: str, soft: int, hard: int | None = None) -> None:
        if hasattr(resource, kind):
            current_hard = resource.getrlimit(getattr(resource, kind))[1]
            hard = current_hard if hard is None else hard
            if current_hard != resource.RLIM_INFINITY:
                soft, hard = min(soft, current_hard), min(hard, current_hard)
            with contextlib.suppress(ValueError, OSError):  # a limit the platform refuses stays as it was
                resource.setrlimit(getattr(resource, kind), (soft, hard))

    # Address space: what the interpreter and NumPy already map, plus the allowance.
    try:
        with open("/proc/self/statm") as statm:
            mapped = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        mapped = 0
    limit("RLIMIT_AS", mapped + memory_bytes)
    # CPU seconds are cumulative per process: the soft limit is re-armed before each request
    # (see _arm_cpu), the hard limit is a backstop for the worker's whole life.
    limit("RLIMIT_CPU", int(math.ceil(cpu_seconds)) + 1, int(math.ceil(cpu_seconds)) * 1000 + 60)
    # No writes to files (EFBIG instead of SIGXFSZ's default of killing the process).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit("RLIMIT_FSIZE", 0, 0)
    # No new processes (ignored for root) and no new file descriptors: open(), sockets and pipes
    # fail with EMFILE, whatever route the code found to them.
    limit("RLIMIT_NPROC", 0, 0)
    limit("RLIMIT_NOFILE", _lowest_free_fd(), _lowest_free_fd())


def _lowest_free_fd() -> int:
    fd = os.open(os.devnull, os.O_RDONLY)
    os.close(fd)
    return fd


def _arm_cpu(cpu_seconds: float) -> None:
    import resource

    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = int(math.ceil(spent + cpu_seconds))
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _is_number(value) -> bool:
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.size == 1 and np.issubdtype(value.dtype, np.number)
    return isinstance(value, (numbers.Real, np.number)) and not isinstance(value, (bool, np.bool_))


def _describe(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def check_result(result) -> tuple[float, dict[str, float]]:
    """``(reward, components)`` as plain floats, or ValueError saying what is wrong with ``result``."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise ValueError(f"compute_reward must return (reward, components), got {_describe(result)}")
    reward, components = result
    if not _is_number(reward):
        raise ValueError(f"the reward must be a float, got {_describe(reward)}")
    reward = float(reward.item() if hasattr(reward, "item") else reward)
    if not math.isfinite(reward):
        raise ValueError(f"the reward must be finite, got {reward}")
    if not isinstance(components, dict):
        raise ValueError(f"the components must be a dict of name -> float, got {_describe(components)}")
    out = {}
    for name, value in components.items():
        if not isinstance(name, str):
            raise ValueError(f"component names must be str, got {_describe(name)}")
        if not _is_number(value):
            raise ValueError(f"component {name!r} must be a float, got {_describe(value)}")
        value = float(value.item() if hasattr(value, "item") else value)
        if not math.isfinite(value):
            raise ValueError(f"component {name!r} must be finite, got {value}")
        out[name] = value
    return reward, out


def _user_traceback(error: BaseException, code: str) -> str:
    """The error and the lines of the reward code it passed through (what Eureka feeds back)."""
    lines = code.splitlines()
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == CODE_FILENAME]
    where = "".join(
        f"\n  line {f.lineno}, in {f.name}: {lines[f.lineno - 1].strip() if 0 < f.lineno <= len(lines) else ''}"
        for f in frames
    )
    return f"{type(error).__name__}: {error}{where}"


class _Worker:
    def __init__(self, cpu_seconds: float):
        import numpy as np

        self.cpu_seconds = cpu_seconds
        self.globals_template = {"__builtins__": safe_builtins(), "np": np, "numpy": np, "math": math}
        self.code = ""
        self.function = None

    def load(self, code: str) -> dict:
        try:
            tree = check_code(code)
            namespace = dict(self.globals_template)
            _arm_cpu(self.cpu_seconds)
            exec(compile(tree, CODE_FILENAME, "exec"), namespace)
        except ValueError as error:
            return {"ok": False, "error": str(error)}
        except BaseException as error:  # noqa: BLE001 - any failure of untrusted code is reported, not fatal
            return {"ok": False, "error": f"while defining the code: {_user_traceback(error, code)}"}
        function = namespace.get("compute_reward")
        if not callable(function):
            return {"ok": False, "error": "compute_reward is not a function"}
        self.code, self.function = code, function
        return {"ok": True}

    def score(self, transitions: list) -> dict:
        if self.function is None:
            return {"ok": False, "error": "no reward code loaded"}
        rewards, components = [], []
        _arm_cpu(self.cpu_seconds)
        for index, (obs, action, next_obs, info) in enumerate(transitions):
            try:
                result = self.function(obs, action, next_obs, info)
            except BaseException as error:  # noqa: BLE001 - SystemExit, MemoryError, ... all become reports
                return {"ok": False, "error": f"transition {index}: {_user_traceback(error, self.code)}",
                        "index": index}
            try:
                reward, parts = check_result(result)
            except ValueError as error:
                return {"ok": False, "error": f"transition {index}: {error}", "index": index}
            rewards.append(reward)
            components.append(parts)
        return {"ok": True, "rewards": rewards, "components": components}


def _read_exactly(stream, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main() -> None:
    cpu_seconds, memory_bytes = float(sys.argv[1]), int(sys.argv[2])
    # The protocol gets its own descriptors; fd 1 then points at stderr so that stray writes
    # (C extensions, an escaped print) cannot corrupt the replies.
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    replies = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    worker = _Worker(cpu_seconds)
    _limit_process(cpu_seconds, memory_bytes)
    while True:
        header = _read_exactly(requests, 8)
        if header is None:
            return
        payload = _read_exactly(requests, struct.unpack(">Q", header)[0])
        if payload is None:
            return
        kind, argument = pickle.loads(payload)
        reply = worker.load(argument) if kind == "load" else worker.score(argument)
        try:
            data = json.dumps(reply).encode()
        except (TypeError, ValueError) as error:
            data = json.dumps({"ok": False, "error": f"unserialisable reply: {error}"}).encode()
        replies.write(struct.pack(">Q", len(data)) + data)


if __name__ == "__main__":
    main()
