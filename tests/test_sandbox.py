"""The reward-code sandbox against an attacker who already holds full Python.

Python-level checks are not what contains hostile code, so every function here runs with
``restrict_python=False``: real builtins, ``import os``, ``ctypes`` and ``socket`` in hand, as if it
had escaped any Python-level restriction. What must hold is the operating system's confinement
(namespaces, an empty read-only root, seccomp, hard limits, a fresh process per call) and the
parent's treatment of the reply as hostile. After each attack, valid code still scores correctly
on the same worker.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from rewardgym.reward_models.synthesis import RewardCodeError, SandboxedReward
from rewardgym.reward_models.synthesis._worker import LAYERS

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the OS sandbox is Linux's")

ONE = [(np.zeros(2), 0, np.ones(2), {"task": "t"})]


def hostile(body: str, **kwargs) -> SandboxedReward:
    """A model whose compute_reward runs ``body`` with full Python; ``out`` is its components dict."""
    code = "import os, sys, ctypes, ctypes.util, resource, signal, socket, threading\n" \
           "libc = ctypes.CDLL(None, use_errno=True)\n" \
           "def attempt(out, name, action):\n" \
           "    try:\n        action()\n        out[name] = 1.0\n" \
           "    except Exception:\n        out[name] = 0.0\n" \
           "def compute_reward(obs, action, next_obs, info):\n" \
           "    out = {}\n" + textwrap.indent(textwrap.dedent(body), "    ") + "\n    return 1.0, out\n"
    return SandboxedReward(code, restrict_python=False, **kwargs)


def succeeded(model: SandboxedReward) -> dict[str, float]:
    model.score(ONE)
    return {name: float(values[0]) for name, values in model.last_components.items()}


def still_scores(model: SandboxedReward) -> None:
    """The same worker process, with new code loaded through the same path, scores correctly."""
    process = model._process
    model.code = "def compute_reward(obs, action, next_obs, info):\n    return float(next_obs.sum()), {}\n"
    model._check(model._request(b"L", 0, model.code.encode()))
    assert model.score(ONE * 3).tolist() == [2.0, 2.0, 2.0]
    assert model._process is process and model.restarts == 0


@pytest.fixture(scope="module")
def layers():
    with SandboxedReward("def compute_reward(o, a, n, i):\n    return 0.0, {}\n") as model:
        return dict(model.layers)


def test_every_layer_is_active(layers):
    assert list(layers) == list(LAYERS)
    assert "uid 65534 inside" in layers["user namespace"] and "pid 1" in layers["pid namespace"]


def test_no_file_outside_the_scratch_dir_can_be_created_or_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("the parent's data")
    with hostile(f"""
        target = {str(tmp_path)!r}
        attempt(out, "create", lambda: open(os.path.join(target, "made.txt"), "w").write("x"))
        attempt(out, "create_tmp", lambda: open("/tmp/made.txt", "w").write("x"))
        attempt(out, "create_usr", lambda: open("/usr/made.txt", "w").write("x"))
        attempt(out, "read", lambda: open(os.path.join(target, "secret.txt")).read())
        attempt(out, "read_etc", lambda: open("/etc/passwd").read())
        attempt(out, "read_proc", lambda: open("/proc/self/status").read())
        attempt(out, "libc_open", lambda: (_ for _ in ()).throw(OSError()) if libc.open(
            os.path.join(target, "c.txt").encode(), os.O_CREAT | os.O_WRONLY, 0o644) < 0 else None)
        attempt(out, "chmod", lambda: os.chmod("/usr", 0o777))
        attempt(out, "scratch", lambda: open("note.txt", "w").write("x"))  # the scratch dir works
    """) as model:
        assert succeeded(model) == {"create": 0, "create_tmp": 0, "create_usr": 0, "read": 0, "read_etc": 0,
                                    "read_proc": 0, "libc_open": 0, "chmod": 0, "scratch": 1}
        still_scores(model)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["secret.txt"]
    assert not Path("/tmp/made.txt").exists()


def test_the_parent_cannot_be_seen_signalled_or_read(monkeypatch):
    monkeypatch.setenv("REWARDGYM_TEST_SECRET", "s3cret")
    received = []
    previous = signal.signal(signal.SIGUSR1, lambda *_: received.append(1))
    try:
        parent = os.getpid()
        with hostile(f"""
            parent = {parent}
            out["sees_parent"] = float(os.getppid() == parent or os.getpid() == parent)
            out["pid"] = float(os.getpid())
            attempt(out, "kill", lambda: os.kill(parent, signal.SIGUSR1))
            attempt(out, "kill_libc", lambda: (_ for _ in ()).throw(OSError()) if libc.kill(
                parent, int(signal.SIGUSR1)) != 0 else None)
            attempt(out, "kill_init", lambda: os.kill(1, signal.SIGKILL))
            attempt(out, "proc_environ", lambda: open(f"/proc/{{parent}}/environ").read())
            out["env_secret"] = float(any("s3cret" in v for v in os.environ.values()))
            attempt(out, "ptrace", lambda: (_ for _ in ()).throw(OSError()) if libc.ptrace(16, 1, 0, 0) != 0 else None)
        """) as model:
            seen = succeeded(model)
            time.sleep(0.2)
            assert seen.pop("pid") < 100  # its own PID namespace, where the zygote is 1
            assert seen == {"sees_parent": 0, "kill": 0, "kill_libc": 0, "kill_init": 0, "proc_environ": 0,
                            "env_secret": 0, "ptrace": 0}
            assert received == []
            still_scores(model)
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_nothing_is_kept_between_calls():
    with hostile("""
        import builtins
        out["stash_seen"] = float(hasattr(builtins, "rewardgym_stash"))
        builtins.rewardgym_stash = 1
        out["file_seen"] = float(os.path.exists("kept.txt"))
        open("kept.txt", "w").write("x")
        out["dir_seen"] = float(os.path.exists("locked"))
        if not os.path.exists("locked"):
            os.mkdir("locked"); open("locked/f", "w").close(); os.chmod("locked", 0)
        out["fd_seen"] = 0.0
        for fd in range(3, 64):
            try:
                os.fstat(fd); out["fd_seen"] = 1.0
            except OSError:
                pass
        keep = os.open("/scratch", os.O_RDONLY)
        attempt(out, "thread", lambda: threading.Thread(target=lambda: None).start())
        attempt(out, "shm", lambda: (_ for _ in ()).throw(OSError()) if libc.shmget(1234, 4096, 0o1600) < 0 else None)
    """) as model:
        first, second = succeeded(model), succeeded(model)
        assert first == second == {"stash_seen": 0, "file_seen": 0, "dir_seen": 0, "fd_seen": 0, "thread": 0,
                                   "shm": 0}
        still_scores(model)


def test_no_sockets_and_no_network():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    try:
        with hostile(f"""
            attempt(out, "tcp", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=1))
            attempt(out, "udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            attempt(out, "unix", lambda: socket.socket(socket.AF_UNIX))
            attempt(out, "raw_syscall", lambda: (_ for _ in ()).throw(OSError()) if libc.socket(2, 1, 0) < 0 else None)
        """) as model:
            assert succeeded(model) == {"tcp": 0, "udp": 0, "unix": 0, "raw_syscall": 0}
            with pytest.raises(TimeoutError):
                server.accept()
            still_scores(model)
    finally:
        server.close()


def _sandbox_processes(model: SandboxedReward) -> list[int]:
    """The worker's process and its descendants, as the host sees them."""
    found, todo = [], [model._process.pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            todo += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_no_process_is_started_and_none_outlives_close():
    model = hostile("""
        import subprocess
        attempt(out, "fork", os.fork)
        attempt(out, "popen", lambda: subprocess.Popen(["/usr/bin/sleep", "100"]))
        attempt(out, "thread", lambda: threading.Thread(target=lambda: None).start())
        attempt(out, "raw_fork", lambda: (_ for _ in ()).throw(OSError()) if libc.syscall(57) < 0 else None)
        attempt(out, "exec", lambda: os.execv("/usr/bin/true", ["true"]))
        attempt(out, "unshare", lambda: (_ for _ in ()).throw(OSError()) if libc.unshare(0x10000000) != 0 else None)
    """)
    try:
        assert succeeded(model) == {"fork": 0, "popen": 0, "thread": 0, "raw_fork": 0, "exec": 0, "unshare": 0}
        processes = _sandbox_processes(model)
        assert len(processes) <= 4  # the outer process, the zygote, the parked child and the last one, exiting
        still_scores(model)
    finally:
        model.close()
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in processes)


def test_limits_cannot_be_raised():
    with hostile("""
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        out["hard_is_soft"] = float(soft == hard)
        attempt(out, "setrlimit", lambda: resource.setrlimit(resource.RLIMIT_AS, (-1, -1)))
        attempt(out, "raise_cpu", lambda: resource.setrlimit(resource.RLIMIT_CPU, (10**6, 10**6)))
        attempt(out, "allocate", lambda: bytearray(2 * 2**30))
    """, memory_mb=256) as model:
        assert succeeded(model) == {"hard_is_soft": 1, "setrlimit": 0, "raise_cpu": 0, "allocate": 0}
        still_scores(model)


@pytest.mark.parametrize("body, reason", [
    # a forged or broken reply written straight to the pipe
    ("os.write(1, b'not json'); os._exit(0)", "malformed reply"),
    ("os.write(1, b'{\"ok\": true, \"rewards\": [\"x\"], \"names\": [], \"values\": [[]]}'); os._exit(0)",
     "not 1 rewards"),
    ("os.write(1, b'{\"ok\": true, \"rewards\": [1.0, 2.0], \"names\": [], \"values\": [[], []]}'); os._exit(0)",
     "not 1 rewards"),
    ("os.write(1, b'{\"ok\": true, \"rewards\": [1e400], \"names\": [], \"values\": [[]]}'); os._exit(0)",
     "finite"),
    ("os.write(1, b'{\"ok\": true, \"rewards\": [1.0]'); os._exit(0)", "malformed reply"),
    ("os.write(1, b'[' * 20000); os._exit(0)", "malformed reply"),
    ("os.write(1, b'{\"ok\": true, \"rewards\": [1.0], \"names\": [' + b','.join(b'\"n%d\"' % i for i in range(200))"
     " + b'], \"values\": [[]]}'); os._exit(0)", "component names"),
    ("os.write(1, b'{\"ok\": false, \"error\": 7}'); os._exit(0)", "<int>"),
    ("os.write(1, b'x' * (64 << 20)); os._exit(0)", "reply is over"),
    # death, silence and waiting
    ("os._exit(3)", "exited with status 3"),
    ("os.close(1)\nwhile True: pass", "timed out|CPU time limit"),
    ("import time\nos.close(1)\ntime.sleep(100)", "timed out"),
    ("attempt(out, 'stop', lambda: os.kill(os.getpid(), signal.SIGSTOP))\nimport time\ntime.sleep(100)", "timed out"),
    ("ctypes.string_at(0)", "crashed \\(SIGSEGV\\)"),
    # a huge number of components, returned honestly
    ("return 1.0, {f'c{i}': 1.0 for i in range(100000)}", "at most 32 components"),
    ("return 1.0, {'x' * 1000: 1.0}", "1 to 64 characters"),
])
def test_misbehaving_code_is_one_clear_error_and_the_worker_survives(body, reason):
    with hostile(body, timeout_s=1.0) as model:
        started = time.monotonic()
        with pytest.raises(RewardCodeError, match=reason):
            model.score(ONE)
        assert time.monotonic() - started < 1.0 + 2.5  # the timeout and the worker's grace, never a hang
        still_scores(model)


def test_code_at_load_time_runs_only_inside_the_sandbox(tmp_path):
    code = f"""
import os
try:
    open(os.path.join({str(tmp_path)!r}, "loaded.txt"), "w").write("x")
except OSError:
    pass
def compute_reward(obs, action, next_obs, info):
    return 1.0, {{}}
"""
    with SandboxedReward(code, restrict_python=False) as model:
        assert model.score(ONE).tolist() == [1.0]
    assert list(tmp_path.iterdir()) == []


def test_a_machine_without_user_namespaces_is_refused_unless_trusted(tmp_path):
    """unshare() denied by a seccomp filter on the parent: the sandbox says which layer is missing."""
    script = textwrap.dedent("""
        import errno, pyseccomp
        rules = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
        rules.add_rule(pyseccomp.ERRNO(errno.EPERM), "unshare")
        rules.load()
        from rewardgym.reward_models.synthesis import RewardCodeError, SandboxedReward
        code = "def compute_reward(o, a, n, i):\\n    return 2.0, {}\\n"
        try:
            SandboxedReward(code)
        except RewardCodeError as error:
            print("refused:", error)
        with SandboxedReward(code, sandbox="trusted") as model:
            print("trusted:", model.score([(0, 0, 0, {})]).tolist(), sorted(model.layers))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("refused: the OS sandbox is not available on this machine: user namespace: "
                               "unshare(CLONE_NEWUSER) failed: Operation not permitted")
    assert "sandbox='trusted'" in lines[0]
    assert lines[1] == "trusted: [2.0] ['file descriptors', 'rlimits']"


def test_sandbox_check_command_lists_every_layer(capsys):
    from rewardgym.cli import main

    assert main(["sandbox-check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0].strip() for line in out[:len(LAYERS)]] == list(LAYERS)
    assert all(" active " in line for line in out[:len(LAYERS)])
    assert out[-1] == "sandbox=os: every layer is active; a test reward scored correctly"


def test_train_with_reward_code_runs_end_to_end_in_the_sandbox(tmp_path, capsys):
    """PPO scores each rollout in one sandboxed call; the reward replaces the env's."""
    from rewardgym.cli import main

    reward = tmp_path / "reward.py"
    reward.write_text("def compute_reward(obs, action, next_obs, info):\n"
                      "    return float(action == 1), {'picked_one': float(action == 1)}\n")
    code = main(["train", "rewardgym/Bandit-Bernoulli2-v0", "--agent", "ppo", "--steps", "512", "--num-envs", "4",
                 "--reward", f"reward-code:{reward}", "--reward-mode", "replace", "--out", str(tmp_path / "run"),
                 "--no-progress", "--config", "num_steps=64"])
    out = capsys.readouterr().out
    assert code == 0
    [run] = (tmp_path / "run").iterdir()
    assert (run / "checkpoints" / "final").is_dir() and "reward-code" in (run / "config.json").read_text()
    assert "reward_learned_per_step" in out


def test_a_refused_reward_code_spec_is_one_line_on_the_command_line(tmp_path, capsys):
    from rewardgym.cli import main

    reward = tmp_path / "reward.py"
    reward.write_text("import os\ndef compute_reward(obs, action, next_obs, info):\n    return 0.0, {}\n")
    code = main(["train", "rewardgym/Bandit-Bernoulli2-v0", "--agent", "ppo", "--steps", "256",
                 "--reward", f"reward-code:{reward}", "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "import statements are not allowed" in err


def test_a_child_that_lingers_after_replying_cannot_reach_the_next_call():
    """Call 1 replies, then keeps writing a file; the next call's code (its top level included) never sees it."""
    code = textwrap.dedent("""
        import json, os, time
        SEEN_AT_LOAD = os.path.exists("late.txt")
        def compute_reward(obs, action, next_obs, info):
            if float(obs) == 1.0:
                os.write(1, json.dumps({"ok": True, "rewards": [0.0], "names": ["seen"], "values": [[0.0]]}).encode())
                os.close(1)
                for _ in range(300):
                    open("late.txt", "w").write("x")
                    time.sleep(0.001)
                os._exit(0)
            return 0.0, {"seen": float(SEEN_AT_LOAD or os.path.exists("late.txt"))}
    """)
    with SandboxedReward(code, restrict_python=False) as model:
        for _ in range(3):
            model.score([(1.0, 0, 0.0, {})])
            model.score([(0.0, 0, 0.0, {})])
            assert model.last_components["seen"].tolist() == [0.0]
