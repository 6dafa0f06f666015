"""The sandbox worker: runs LLM-written ``compute_reward`` code in its own confined process.

This file is run *by path* (``python -I _worker.py CONFIG``), not imported as part of rewardgym,
so the worker holds nothing but the standard library, NumPy, ``pyseccomp`` and the code under
test. The parent (:mod:`rewardgym.reward_models.synthesis.sandbox`) imports :func:`check_code`,
:func:`check_result` and the limits from here, so both sides apply the same rules.

The worker process is a *zygote* that never runs untrusted code itself. It confines itself first
(``_confine.py``: namespaces, an empty read-only root, no capabilities), then for every request
forks a child that sets hard rlimits and a seccomp filter, closes every descriptor but its reply
pipe, and only then executes the code (its top level included) and scores the transitions. The
child exits after the one request: nothing it does (memory, files in the scratch dir, descriptors,
threads) survives into the next call; the zygote empties the scratch dir after each one.

Protocol, over the worker's stdin/stdout (each message: 8-byte big-endian length, then payload):

* worker -> parent, once at start: JSON ``{"ok": true, "layers": {layer: description}}`` or
  ``{"ok": false, "layer": ..., "error": ...}`` when a layer of the OS sandbox is not available;
* parent -> worker: a 13-byte header (payload length, kind ``b"L"`` or ``b"S"``, transition count)
  and the payload: the code as UTF-8 (load) or a pickle of ``[(obs, action, next_obs, info), ...]``
  (score), which only the confined child unpickles (the parent is trusted, so pickle is fine in
  this direction);
* worker -> parent: UTF-8 JSON ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. JSON, never
  pickle: the reply is written by the untrusted child, and the parent treats it as hostile.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import numbers
import os
import pickle
import select
import shutil
import signal
import struct
import sys
import time
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

# The sandbox's layers, in the order the worker reports them and `rewardgym sandbox-check` prints them.
LAYERS = ("user namespace", "mount namespace", "pid namespace", "network namespace", "ipc namespace",
          "uts namespace", "capabilities", "seccomp", "rlimits", "file descriptors")
LEAF = "\0leaf"  # marks an array (or list) of a batch sent whole: {LEAF: array}
MAX_MESSAGE_BYTES = 512 * 1024 * 1024  # a request (the parent's transitions)
MAX_COMPONENTS = 32  # distinct component names per batch
MAX_NAME_CHARS = 64  # characters of a component name
MAX_ERROR_CHARS = 4000  # characters of an error message
CODE_FILENAME = "<reward code>"


def max_reply_bytes(transitions: int) -> int:
    """The largest reply a well-formed score of ``transitions`` transitions can be."""
    # a float as JSON is at most 24 characters (plus separator); names are sent once per batch
    return 16_384 + MAX_COMPONENTS * (MAX_NAME_CHARS * 6 + 4) + transitions * 26 * (1 + MAX_COMPONENTS)


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
    if len(components) > MAX_COMPONENTS:
        raise ValueError(f"at most {MAX_COMPONENTS} components are allowed, got {len(components)}")
    out = {}
    for name, value in components.items():
        if not isinstance(name, str):
            raise ValueError(f"component names must be str, got {_describe(name)}")
        if not 0 < len(name) <= MAX_NAME_CHARS:
            raise ValueError(f"component names must have 1 to {MAX_NAME_CHARS} characters, got {len(name)}")
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




def _row(node, i: int):
    """Transition ``i`` of a batch sent whole ({LEAF: array} leaves in dicts and tuples), as a single env gives it.

    ``rewardgym._batch.row``'s job, written again because this file may import nothing of rewardgym.
    """
    if type(node) is dict:
        if LEAF in node:
            item = node[LEAF][i]
            return item.copy() if type(item).__name__ == "ndarray" else item
        return {key: _row(value, i) for key, value in node.items()}
    if type(node) is tuple:
        return tuple(_row(value, i) for value in node)
    raise ValueError(f"not a batch sent whole: {type(node).__name__}")


# -- the zygote and its children -------------------------------------------------------------------
_SIGNALS = {signal.SIGKILL: "SIGKILL", signal.SIGXCPU: "SIGXCPU", signal.SIGSEGV: "SIGSEGV",
            signal.SIGABRT: "SIGABRT", signal.SIGBUS: "SIGBUS", signal.SIGSYS: "SIGSYS", signal.SIGXFSZ: "SIGXFSZ"}


def _frame(data: bytes) -> bytes:
    return struct.pack(">Q", len(data)) + data


def _error(message: str, **extra) -> bytes:
    return json.dumps({"ok": False, "error": message[:MAX_ERROR_CHARS], **extra}).encode()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class Zygote:
    """Holds the code and the confinement settings; runs each request in a fresh, confined child.

    The child of the next request is forked, confined and left waiting for it as soon as the last
    one has been answered, so the fork is not on the request's critical path; it runs no reward
    code until its request comes, which is only after the last call's child is reaped and the
    scratch dir emptied. Its stdin is a pipe from the zygote (the request), its stdout a pipe to
    it (the reply); it has no other descriptor but ``/dev/null``.
    """

    def __init__(self, config: dict, confine, seccomp_program: bytes | None, scratch: str, base_memory: int,
                 devnull: int):
        import numpy as np

        self.config, self.confine, self.scratch = config, confine, scratch
        self.seccomp_program = seccomp_program  # None: no seccomp (sandbox="trusted")
        self.timeout_s = float(config["timeout_s"])
        self.cpu_seconds = math.ceil(self.timeout_s) + 1  # a backstop: the wall-clock deadline comes first
        self.memory_limit = base_memory + int(config["memory_bytes"])
        builtins_ = safe_builtins() if config["restrict_python"] else __builtins__
        self.globals_template = {"__builtins__": builtins_, "np": np, "numpy": np, "math": math}
        self.code, self.compiled = "", None
        self.devnull = devnull
        self.child: tuple[int, int, int] | None = None  # pid, request pipe, reply pipe
        self.finishing: tuple[int, float] | None = None  # the child that answered: pid, start time

    def handle(self, kind: bytes, count: int, payload: bytes) -> bytes:
        self.finish()
        if kind == b"L":
            self._discard_child()
            code = payload.decode("utf-8", errors="replace")
            try:
                tree = check_code(code) if self.config["restrict_python"] else ast.parse(code, CODE_FILENAME)
                compiled = compile(tree, CODE_FILENAME, "exec")
            except (ValueError, SyntaxError) as error:  # SyntaxError: unrestricted code that does not parse
                return _error(str(error))
            self.code, self.compiled = code, compiled
            return self._call(b"L", b"", 0)
        if self.compiled is None:
            return _error("no reward code loaded")
        return self._call(kind, payload, count)

    # -- the zygote's side of a call ----------------------------------------------------------
    def _spawn(self) -> None:
        to_child, request = os.pipe()
        reply, from_child = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, which exits
            try:
                self._child(to_child, from_child)
            finally:
                os._exit(70)
        os.close(to_child)
        os.close(from_child)
        self.child = (pid, request, reply)

    def _discard_child(self) -> None:
        if self.child is not None:
            pid, request, reply = self.child
            self.child = None
            os.close(request)
            os.close(reply)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)

    def _call(self, kind: bytes, payload: bytes, count: int) -> bytes:
        if self.child is None:
            self._spawn()
        pid, request, reply = self.child
        self.child = None
        started = time.monotonic()
        reason = None
        try:
            _write_all(request, struct.pack(">Qc", len(payload), kind))
            _write_all(request, payload)
        except OSError:  # the child died before reading its request (e.g. a limit at start-up)
            pass
        finally:
            os.close(request)
        limit = max_reply_bytes(count)
        data = bytearray()
        try:
            while True:
                left = started + self.timeout_s - time.monotonic()
                if left <= 0 or not select.select([reply], [], [], left)[0]:
                    reason = f"timed out after {self.timeout_s:g} s (the call was killed)"
                    break
                chunk = os.read(reply, 1 << 20)
                if not chunk:
                    break
                data += chunk
                if len(data) > limit:
                    reason = f"the reward code's reply is over {limit} bytes"
                    break
        finally:
            os.close(reply)
        if reason is None and data:  # answered: reaped (and the scratch dir emptied) after the reply is sent
            self.finishing = (pid, started)
            return bytes(data)
        status, usage = self._reap(pid, started, kill=reason is not None)
        self._wipe_scratch()
        return _error(reason if reason is not None else self._death(status, usage))

    def prepare(self) -> None:
        """After a reply: fork, confine and park the next request's child (off the next call's critical path)."""
        if self.child is None and self.compiled is not None:
            self._spawn()

    def finish(self) -> None:
        """Before a request: reap the child that answered the last one and empty the scratch dir.

        So the code of one call never runs beside another's, nor sees its files. (The parked child
        may have been forked before: until it gets its request it runs only the zygote's code.)
        """
        if self.finishing is not None:
            pid, started = self.finishing
            self.finishing = None
            # It has replied: a little time to exit, then it is killed (a reply does not buy it the deadline).
            self._reap(pid, min(started, time.monotonic() - self.timeout_s + 0.05), kill=False)
            self._wipe_scratch()

    def _reap(self, child: int, started: float, kill: bool) -> tuple[int, object]:
        """Wait for the child (it may have closed its pipe and kept running): kill it at the deadline."""
        if not kill:
            try:
                exited = os.pidfd_open(child)
            except (AttributeError, OSError):  # Linux < 5.3: poll
                exited = None
            try:
                while True:
                    pid, status, usage = os.wait4(child, os.WNOHANG)
                    left = started + self.timeout_s - time.monotonic()
                    if pid or left <= 0:
                        break
                    if exited is None:
                        time.sleep(min(left, 0.001))
                    else:
                        select.select([exited], [], [], left)
            finally:
                if exited is not None:
                    os.close(exited)
            if pid:
                return status, usage
        os.kill(child, signal.SIGKILL)
        _, status, usage = os.wait4(child, 0)
        return status, usage

    def _death(self, status: int, usage) -> str:
        cpu = usage.ru_utime + usage.ru_stime
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            name = _SIGNALS.get(number, f"signal {number}")
            if number in (signal.SIGKILL, signal.SIGXCPU) and cpu >= self.cpu_seconds - 0.05:
                return f"CPU time limit exceeded ({cpu:.1f} s of CPU; the call was killed by {name})"
            if number == signal.SIGKILL:
                return f"timed out after {self.timeout_s:g} s (the call was killed)"
            return f"the reward code crashed ({name}); it may have run out of memory " \
                   f"(memory_mb={self.config['memory_bytes'] >> 20})"
        return f"the reward code exited with status {os.WEXITSTATUS(status)} without a reply"

    def _wipe_scratch(self) -> None:
        """Empty the scratch dir, whatever modes the last call left on what it made there."""
        os.chmod(self.scratch, 0o700)
        for root, dirs, _ in os.walk(self.scratch):
            for name in dirs:
                path = os.path.join(root, name)
                if not os.path.islink(path):
                    try:
                        os.chmod(path, 0o700)
                    except OSError:
                        continue
        for entry in os.scandir(self.scratch):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                try:
                    os.unlink(entry.path)
                except OSError:
                    continue

    # -- the child: confine, then wait for the request and run the code --------------------------
    def _child(self, request: int, reply: int) -> None:
        os.dup2(request, 0)
        os.dup2(reply, 1)
        os.dup2(self.devnull, 2)
        self.confine.close_fds((0, 1, 2))
        os.chdir(self.scratch)
        self.confine.limit_resources(memory_bytes=self.memory_limit, cpu_seconds=self.cpu_seconds,
                                     file_bytes=int(self.config["scratch_bytes"]), open_files=16)
        if self.seccomp_program is not None:
            self.confine.install_seccomp(self.seccomp_program)
        try:
            header = _read_exactly(0, 9)
            if header is None:
                os._exit(0)
            size, kind = struct.unpack(">Qc", header)
            payload = _read_exactly(0, size)
            if payload is None:
                os._exit(0)
            transitions = pickle.loads(payload) if kind != b"L" else None  # the parent's data: trusted
            del payload
            if kind == b"B":  # whole arrays: split into transitions here, where it costs the parent nothing
                obs, action, next_obs, infos = transitions
                transitions = [(_row(obs, i), _row(action, i), _row(next_obs, i), info) for i, info in enumerate(infos)]
            # Only now does the untrusted code run, its top level included: the request comes once the
            # last call's process is dead and the scratch dir emptied, never beside them.
            result = self._run(transitions)
        except MemoryError:
            result = _error(f"MemoryError: the transitions or the reward code's results did not fit in "
                            f"memory_mb={self.config['memory_bytes'] >> 20}")
        _write_all(1, result)
        os.close(1)  # the zygote sees the end of the reply now, not after this process's memory is torn down
        os._exit(0)

    def _run(self, transitions: list | None) -> bytes:
        namespace = dict(self.globals_template)
        try:
            exec(self.compiled, namespace)
        except BaseException as error:  # noqa: BLE001 - any failure of untrusted code is reported, not fatal
            return _error(f"while defining the code: {_user_traceback(error, self.code)}")
        function = namespace.get("compute_reward")
        if not callable(function):
            return _error("compute_reward is not a function")
        if transitions is None:  # a load: the code defines compute_reward
            return json.dumps({"ok": True}).encode()
        rewards, rows, names = [], [], {}
        for index, (obs, action, next_obs, info) in enumerate(transitions):
            try:
                result = function(obs, action, next_obs, info)
            except BaseException as error:  # noqa: BLE001 - SystemExit, MemoryError, ... all become reports
                return _error(f"transition {index}: {_user_traceback(error, self.code)}", index=index)
            try:
                reward, parts = check_result(result)
            except ValueError as error:
                return _error(f"transition {index}: {error}", index=index)
            for name in parts:
                names.setdefault(name, len(names))
            if len(names) > MAX_COMPONENTS:
                return _error(f"transition {index}: more than {MAX_COMPONENTS} distinct component names in a batch",
                              index=index)
            rewards.append(reward)
            rows.append(parts)
        order = list(names)
        values = [[parts.get(name) for name in order] for parts in rows]
        return json.dumps({"ok": True, "rewards": rewards, "names": order, "values": values}).encode()


# -- start-up --------------------------------------------------------------------------------------
def _load_confine():
    spec = importlib.util.spec_from_file_location("_rewardgym_confine", os.path.join(os.path.dirname(__file__),
                                                                                       "_confine.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mapped_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _read_exactly(fd: int, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, min(size - len(data), 1 << 20))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def main() -> None:
    config = json.loads(sys.argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    sys.dont_write_bytecode = True
    confine = _load_confine()
    devnull = os.open(os.devnull, os.O_RDWR)  # before the root (and its /dev) goes away
    layers: dict[str, str] = {}
    try:
        if config["sandbox"] == "os":
            # Before NumPy is imported: unshare(CLONE_NEWUSER) needs a single-threaded process.
            layers.update(confine.enter_namespaces())
            seccomp_program, count = confine.seccomp_filter()
            import numpy  # noqa: F401 - loaded before the old root goes away
            base_memory = _mapped_bytes()
            layers.update(confine.build_root(config["root"], int(config["scratch_bytes"])))
            layers.update(confine.drop_privileges())
            scratch = confine.SCRATCH
            layers["seccomp"] = f"{count} rules: no exec, fork, threads, sockets, ptrace, signals, SysV IPC, " \
                                f"mounts, namespaces or raised limits (EPERM); other ABIs killed"
        else:
            seccomp_program, scratch = None, config["root"]
            import numpy  # noqa: F401
            base_memory = _mapped_bytes()
            os.chdir(scratch)
        layers["rlimits"] = "per call: hard = soft for every limit; address space, CPU seconds, file size, " \
                            "16 descriptors, no processes"
        layers["file descriptors"] = "per call: only the request and reply pipes (stderr is /dev/null)"
        zygote = Zygote(config, confine, seccomp_program, scratch, base_memory, devnull)
    except confine.Unavailable as error:
        _write_all(1, _frame(json.dumps({"ok": False, "layer": error.layer, "error": error.reason}).encode()))
        return
    requests, replies = os.dup(0), os.dup(1)
    for fd in (0, 1, 2):  # occupied, so that no pipe of a call lands on them
        os.dup2(zygote.devnull, fd)
    confine.close_fds((0, 1, 2, requests, replies, zygote.devnull))
    _write_all(replies, _frame(json.dumps({"ok": True, "layers": layers}).encode()))
    while True:
        header = _read_exactly(requests, 13)
        if header is None:
            return
        size, kind, count = struct.unpack(">QcI", header)
        payload = _read_exactly(requests, size) if size <= MAX_MESSAGE_BYTES else None
        if payload is None:
            return
        _write_all(replies, _frame(zygote.handle(kind, count, payload)))
        zygote.prepare()
        zygote.finish()

if __name__ == "__main__":
    main()
