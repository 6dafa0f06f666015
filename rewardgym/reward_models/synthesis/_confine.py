"""Operating-system confinement for the reward-code worker (Linux).

Loaded by path by ``_worker.py`` (like it, it holds only the standard library, ``ctypes`` and,
for seccomp, ``pyseccomp``); the parent never imports it. The threat
model is in ``docs/reward_code.md``: the code under test is assumed to hold full Python, ``os``
and ``ctypes`` included, so every layer here is enforced by the kernel, never by Python.

The worker is set up in this order, and the untrusted code runs only after the last step:

1. :func:`enter_namespaces` — new user, mount, PID, network, IPC, UTS and cgroup namespaces, the
   user mapped to an unprivileged id (65534) inside; a fork makes the worker PID 1 of its PID
   namespace, so every process it could leave behind dies with it.
2. :func:`build_root` — an empty tmpfs root holding read-only binds of only what the interpreter
   and NumPy need, a small writable tmpfs scratch dir, no ``/proc``, no ``/dev``; ``pivot_root``
   into it and the old root detached.
3. :func:`drop_privileges` — no capabilities, no new privileges, not dumpable.
4. Per call, in the forked process that runs the code: :func:`limit_resources` (every hard rlimit
   equal to its soft one; memory, CPU, file size, descriptors, no processes) and
   :func:`install_seccomp` (a seccomp-bpf filter: no exec, fork, clone, sockets, ptrace, signals
   to others, SysV IPC, limit raising, mounts, namespaces, kernel keyrings, BPF, ...).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import resource
import signal
import stat
import sys

SANDBOX_UID = SANDBOX_GID = 65534  # "nobody" inside the user namespace; never root
SCRATCH = "/scratch"


_CLONE = {
    "user namespace": 0x10000000, "mount namespace": 0x00020000, "pid namespace": 0x20000000,
    "network namespace": 0x40000000, "ipc namespace": 0x08000000, "uts namespace": 0x04000000,
    "cgroup namespace": 0x02000000,
}
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_MS_NOATIME, _MS_NODIRATIME, _MS_RELATIME = 1024, 2048, 1 << 21
_MNT_DETACH = 2
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_GET_SECCOMP, _PR_SET_SECCOMP, _PR_SET_NO_NEW_PRIVS = 1, 4, 21, 22, 38
_SECCOMP_MODE_FILTER = 2
_SYSCALL = {"x86_64": {"pivot_root": 155}, "aarch64": {"pivot_root": 41}}

_libc = ctypes.CDLL(None, use_errno=True)


class Unavailable(Exception):
    """The kernel (or a missing library) cannot provide ``layer``; ``reason`` says why."""

    def __init__(self, layer: str, reason: str):
        super().__init__(f"{layer}: {reason}")
        self.layer, self.reason = layer, reason


def _check(result: int, layer: str, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise Unavailable(layer, f"{what} failed: {os.strerror(code)} ({errno.errorcode.get(code, code)})")


def _write(path: str, text: str, layer: str) -> None:
    try:
        with open(path, "w") as file:
            file.write(text)
    except OSError as error:
        raise Unavailable(layer, f"writing {path} failed: {error.strerror}") from None


# -- 1. namespaces -------------------------------------------------------------------------------
def enter_namespaces() -> dict[str, str]:
    """Unshare every namespace, map the user to 65534 and fork; return (in the child) what was done.

    The calling process stays outside the new PID namespace: it closes its descriptors, waits for
    the child and exits with its status, so that killing it (``SandboxedReward`` kills the process
    it started) kills the child through ``PR_SET_PDEATHSIG`` and, with the child as PID 1, every
    process of the namespace.
    """
    if not sys.platform.startswith("linux"):
        raise Unavailable("user namespace", f"Linux namespaces are not available on {sys.platform}")
    uid, gid = os.geteuid(), os.getegid()
    _check(_libc.unshare(_CLONE["user namespace"]), "user namespace", "unshare(CLONE_NEWUSER)")
    _write("/proc/self/setgroups", "deny", "user namespace")
    _write("/proc/self/uid_map", f"{SANDBOX_UID} {uid} 1", "user namespace")
    _write("/proc/self/gid_map", f"{SANDBOX_GID} {gid} 1", "user namespace")
    report = {"user namespace": f"uid {SANDBOX_UID} inside (uid {uid} outside, no capabilities there)"}
    for layer in ("mount namespace", "pid namespace", "network namespace", "ipc namespace", "uts namespace",
                  "cgroup namespace"):
        _check(_libc.unshare(_CLONE[layer]), layer, f"unshare({layer})")
    report.update({"network namespace": "no interfaces but a down loopback",
                   "ipc namespace": "private (no shared SysV IPC or message queues)",
                   "uts namespace": "private hostname"})
    _libc.sethostname(b"sandbox", 7)
    child = os.fork()
    if child:  # the outer process: hold nothing, wait, exit as the child did
        os.closerange(0, _max_fd())
        while True:
            try:
                _, status = os.waitpid(child, 0)
                break
            except ChildProcessError:
                os._exit(1)
            except InterruptedError:
                continue
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    report["pid namespace"] = f"pid {os.getpid()} (no other process visible; all die with it)"
    return report


def _max_fd() -> int:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return 65536 if soft == resource.RLIM_INFINITY else int(soft)


# -- 2. the root file system ---------------------------------------------------------------------
_LOCKABLE = ((os.ST_RDONLY, _MS_RDONLY), (os.ST_NOSUID, _MS_NOSUID), (os.ST_NODEV, _MS_NODEV),
             (os.ST_NOEXEC, _MS_NOEXEC), (os.ST_NOATIME, _MS_NOATIME), (os.ST_NODIRATIME, _MS_NODIRATIME),
             (os.ST_RELATIME, _MS_RELATIME))


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def encode(text: str | None) -> bytes | None:
        return None if text is None else text.encode()

    _check(_libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)),
           "mount namespace", f"mount {target}")


def _bind_readonly(source: str, target: str) -> None:
    _mount(source, target, None, _MS_BIND)
    # A bind mount made in a user namespace keeps the flags its source's mount had ("locked");
    # the remount must repeat them or the kernel refuses it.
    flags = os.statvfs(source).f_flag
    kept = sum(ms for st, ms in _LOCKABLE if flags & st)
    _mount(None, target, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV | kept)


def readonly_paths() -> list[str]:
    """What the worker's interpreter needs after ``pivot_root``: its prefix, NumPy, the system libraries."""
    import numpy

    numpy_dir = os.path.dirname(os.path.realpath(numpy.__file__))
    candidates = ["/usr", "/lib", "/lib64", "/lib32", os.path.realpath(sys.base_prefix), numpy_dir,
                  numpy_dir + ".libs", os.path.join(os.path.dirname(numpy_dir), "numpy.libs")]
    paths: list[str] = []
    for path in sorted({os.path.realpath(p) if not os.path.islink(p) else p for p in candidates}):
        if os.path.lexists(path) and not any(path == kept or path.startswith(kept + "/") for kept in paths):
            paths.append(path)
    return paths


def build_root(mountpoint: str, scratch_bytes: int) -> dict[str, str]:
    """A new root on ``mountpoint``: read-only binds of :func:`readonly_paths` and a scratch tmpfs.

    Symlinked top-level dirs (``/lib -> usr/lib`` on merged-/usr systems) are recreated as
    symlinks. After ``pivot_root`` the old root is detached: nothing else of the host is reachable.
    """
    layer = "mount namespace"
    paths = readonly_paths()
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    _mount("tmpfs", mountpoint, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=1m,nr_inodes=4096,mode=0755")
    for path in paths:
        target = mountpoint + path
        if os.path.islink(path):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(os.readlink(path), target)
            continue
        if stat.S_ISDIR(os.stat(path).st_mode):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "w").close()  # noqa: SIM115 - a mount point for a file
        _bind_readonly(path, target)
    os.mkdir(mountpoint + SCRATCH)
    _mount("tmpfs", mountpoint + SCRATCH, "tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
           f"size={max(scratch_bytes, 4096)},nr_inodes=256,mode=0700")
    _mount(None, mountpoint, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    os.chdir(mountpoint)
    number = _SYSCALL.get(platform.machine(), {}).get("pivot_root")
    if number is None:
        raise Unavailable(layer, f"pivot_root's syscall number is not known for {platform.machine()}")
    _check(_libc.syscall(number, b".", b"."), layer, "pivot_root")
    _check(_libc.umount2(b".", _MNT_DETACH), layer, "detaching the old root")
    os.chdir(SCRATCH)
    return {layer: f"empty root; read-only: {', '.join(paths)}; writable: {SCRATCH} "
                   f"({scratch_bytes // 1024} KiB tmpfs, emptied after every call); no /proc, no /dev"}


# -- 3. privileges -------------------------------------------------------------------------------
class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_privileges() -> dict[str, str]:
    """No capabilities (all three sets empty), ``no_new_privs``, not dumpable (no ptrace, no core)."""
    layer = "capabilities"
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), layer, "capset")
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), layer, "PR_SET_NO_NEW_PRIVS")
    _check(_libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0), layer, "PR_SET_DUMPABLE")
    return {layer: "none (effective, permitted and inheritable sets empty); no_new_privs; not dumpable"}


# -- 4. per call: limits and seccomp -------------------------------------------------------------
def limit_resources(memory_bytes: int, cpu_seconds: int, file_bytes: int, open_files: int) -> None:
    """Set the limits, then make every hard limit equal to its soft one (no raising them back)."""
    wanted = {"RLIMIT_AS": memory_bytes, "RLIMIT_CPU": cpu_seconds, "RLIMIT_FSIZE": file_bytes,
              "RLIMIT_NOFILE": open_files, "RLIMIT_NPROC": 0, "RLIMIT_CORE": 0, "RLIMIT_MEMLOCK": 0,
              "RLIMIT_MSGQUEUE": 0}
    for name in dir(resource):
        if not name.startswith("RLIMIT_"):
            continue
        kind = getattr(resource, name)
        soft, hard = resource.getrlimit(kind)
        if name in wanted:
            soft = wanted[name] if hard == resource.RLIM_INFINITY else min(wanted[name], hard)
        try:
            resource.setrlimit(kind, (soft, soft))
        except (ValueError, OSError):  # a limit this kernel does not know
            continue


_DENIED = (
    # new programs and processes (threads included: nothing may outlive or run beside a call)
    "execve", "execveat", "fork", "vfork", "clone",
    # the network and other processes
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    "ptrace", "process_vm_readv", "process_vm_writev", "kill", "tkill", "tgkill", "rt_sigqueueinfo",
    "rt_tgsigqueueinfo", "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "kcmp",
    # state that would outlive the call: SysV IPC and POSIX message queues
    "shmget", "shmat", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop",
    "semctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    # limits, identities and privileges
    "setrlimit", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "setfsuid", "setfsgid", "capset", "personality",
    # the file system's structure, namespaces and the kernel
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "mknod", "mknodat",
    "open_by_handle_at", "name_to_handle_at", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount",
    "open_tree", "mount_setattr", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
    "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register", "fanotify_init",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon",
    "swapoff", "acct", "quotactl", "syslog", "vhangup", "settimeofday", "clock_settime", "adjtimex",
    "clock_adjtime", "sethostname", "setdomainname", "iopl", "ioperm", "lookup_dcookie", "uselib",
)


def seccomp_filter() -> tuple[bytes, int]:
    """The filter as a BPF program, and its number of rules: built once, before any untrusted code exists.

    Denied calls fail with ``EPERM`` (``clone3`` with ``ENOSYS``, so libc falls back to ``clone``,
    which is denied); ``prlimit64`` may read limits but not set them. Syscalls of another ABI (i386,
    x32) kill the process: libseccomp's default for an architecture the filter does not name.
    """
    try:
        import pyseccomp as seccomp
    except ImportError:
        raise Unavailable("seccomp", "the pyseccomp package is not installed (pip install pyseccomp)") from None
    try:
        rules = seccomp.SyscallFilter(seccomp.ALLOW)
        denied = 0
        for name in _DENIED:
            try:
                rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
                denied += 1
            except (OSError, ValueError, RuntimeError):  # not a syscall on this architecture
                continue
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        rules.add_rule(seccomp.ERRNO(errno.EPERM), "prlimit64", seccomp.Arg(2, seccomp.NE, 0))
        with os.fdopen(os.memfd_create("seccomp"), "w+b") as memory:
            rules.export_bpf(memory)
            memory.seek(0)
            program = memory.read()
    except (OSError, RuntimeError) as error:  # libseccomp missing or too old
        raise Unavailable("seccomp", f"libseccomp: {error}") from None
    if not program or len(program) % 8:
        raise Unavailable("seccomp", "libseccomp exported no BPF program")
    return program, denied + 2


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp(program: bytes) -> None:
    """Load the BPF ``program`` into this process (irrevocable; ``no_new_privs`` is already set)."""
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    _check(_libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp",
           "loading the filter")
    if _libc.prctl(_PR_GET_SECCOMP, 0, 0, 0, 0) != 2:
        raise Unavailable("seccomp", "the filter did not take effect")


def close_fds(keep: tuple[int, ...]) -> None:
    """Close every descriptor but ``keep``."""
    low = 0
    for fd in sorted(set(keep)) + [_max_fd()]:
        if fd > low:  # os.closerange(a, b) with b <= a closes everything from a on
            os.closerange(low, fd)
        low = fd + 1
