"""Peer libraries for benchmarks, each in a virtualenv of its own, driven through a subprocess.

Some peers cannot share our environment (NLE pins an older gymnasium, MiniHack needs an old
setuptools), so a benchmark measures them in a separate interpreter:

    python = peer_python("nle-minihack", ["nle==1.3.0", "minihack==1.0.2", "setuptools<81"])
    figures = run_in(python, "result = {'answer': params['x'] * 2}", x=21)   # {'answer': 42}

``peer_python`` creates the venv under ``$XDG_CACHE_HOME/rewardgym/bench-venvs/<name>`` (``~/.cache``
when unset) on first use and reuses it afterwards, as long as it was installed from the same
requirements. ``run_in`` runs a snippet there and hands back the dict it leaves in ``result``,
so the timing loop can be the very same code on both sides. Both raise :class:`PeerUnavailable`
with a one-line reason instead of a traceback, so a benchmark can print why and carry on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MARKER_FILE = "bench-requirements.json"  # written last: a venv without it is an unfinished install
PIP_LOG = "pip.log"
RESULT_TAG = "@@peer-result@@"  # the snippet's own prints (libraries do print) cannot pass for it

# Runs in the peer's interpreter: reads the job from stdin, runs the snippet with ``params``
# in scope and prints its ``result`` as one tagged JSON line.
_RUNNER = """
import json, sys
job = json.load(sys.stdin)
namespace = {"__name__": "__peer__", "params": job["params"]}
exec(compile(job["code"], "<peer snippet>", "exec"), namespace)
sys.stdout.write("\\n" + job["tag"] + json.dumps(namespace["result"]) + "\\n")
"""


NOT_RUN = "the peer does not run (the reason is printed above)"


class PeerUnavailable(RuntimeError):
    """A peer could not be installed or run; ``str(error)`` is a one-line reason for the user."""


def cache_root() -> Path:
    """Where the peer venvs live: outside the checkout, so ``git clean`` does not cost a reinstall."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rewardgym" / "bench-venvs"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def peer_python(name: str, requirements: list[str], log=print) -> Path:
    """The interpreter of venv ``name`` with ``requirements`` installed, creating it when needed.

    An existing venv is reused only when its recorded requirements equal ``requirements``;
    otherwise it is rebuilt from scratch, so changing a pin in a benchmark is enough to
    refresh it. pip's output goes to ``pip.log`` in the venv, quoted when the install fails.
    """
    venv = cache_root() / name
    python = venv_python(venv)
    marker = venv / MARKER_FILE
    if python.exists() and marker.exists() and json.loads(marker.read_text()) == requirements:
        return python
    log(f"creating the peer venv {venv} ({' '.join(requirements)}); pip output goes to {venv / PIP_LOG}")
    start = time.perf_counter()
    _run_logged([sys.executable, "-m", "venv", "--clear", str(venv)], venv.parent / f"{name}-venv.log",
                what="python -m venv")
    _run_logged([str(python), "-m", "pip", "install", "--disable-pip-version-check", *requirements],
                venv / PIP_LOG, what="pip install")
    marker.write_text(json.dumps(requirements))
    log(f"peer venv {name} ready in {time.perf_counter() - start:.0f} s")
    return python


def _run_logged(command: list[str], log_file: Path, what: str) -> None:
    """Run ``command`` with its output in ``log_file``; on failure raise with the output's last line."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "w") as out:
        try:
            code = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT).returncode
        except OSError as error:
            raise PeerUnavailable(f"{what} could not start: {error}") from None
    if code != 0:
        lines = [line for line in log_file.read_text(errors="replace").splitlines() if line.strip()]
        last = lines[-1].strip() if lines else "no output"
        raise PeerUnavailable(f"{what} failed (exit {code}): {last} [see {log_file}]")


def run_in(python: str | Path, code: str, timeout: float | None = 900, **params) -> dict:
    """Run ``code`` in ``python`` with ``params`` (JSON-able) in scope; return the dict it assigns to ``result``.

    The snippet runs in a fresh process, so it pays its own imports and nothing it loads
    leaks into ours. A failure raises :class:`PeerUnavailable` with the snippet's last
    error line.
    """
    job = json.dumps({"code": code, "params": params, "tag": RESULT_TAG})
    try:
        done = subprocess.run([str(python), "-c", _RUNNER], input=job, capture_output=True, text=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PeerUnavailable(f"{python} could not run the snippet: {error}") from None
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    raise PeerUnavailable(f"snippet failed (exit {done.returncode}): {errors[-1].strip() if errors else 'no output'}")


def versions(python: str | Path, distributions: list[str]) -> dict[str, str]:
    """Installed version of each distribution in ``python``'s environment ("missing" when absent)."""
    code = """
from importlib import metadata
result = {}
for name in params["names"]:
    try:
        result[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        result[name] = "missing"
"""
    return run_in(python, code, names=distributions)


# -- the table every peer benchmark prints ----------------------------------------------------------
@dataclass
class Row:
    """One line of a benchmark table: how to measure it, and the peer row it is a ratio of."""

    label: str
    measure: Callable[[], dict]  # -> {"rate", "episodes"}; raises PeerUnavailable for a peer
    against: Row | None = None  # the peer row it is a ratio of
    short: str = ""  # a peer row's name in the ratio column
    keys: int | None = None  # observation keys, where the table shows them
    results: list[dict] = field(default_factory=list)
    missing: str | None = None  # why there is no figure

    def median(self, what: str = "rate") -> float | None:
        return float(statistics.median(r[what] for r in self.results)) if self.results else None

    def ratio(self, digits: int = 2) -> str:
        """``"7.78x NLE"`` against its peer row, or why there is none."""
        if self.against is None:
            return ""
        reference, mine = self.against.median(), self.median()
        if not reference or mine is None:
            return f"({self.against.short} missing)"
        return f"{mine / reference:,.{digits}f}x {self.against.short}"


def measure_all(rows: list[Row], repeats: int) -> None:
    """Each row once per repeat, one at a time (interleaved, so a slow spell of the machine hits all)."""
    for _ in range(repeats):
        for row in rows:
            if row.missing:
                continue
            try:
                row.results.append(row.measure())
            except PeerUnavailable as error:
                row.missing = str(error)


def print_missing(rows: list[Row]) -> None:
    """Why a figure is missing, for the rows whose reason was not printed already."""
    for row in rows:
        if row.missing and row.missing != NOT_RUN:
            print(f"  {row.label}: missing because {row.missing}")


def check(text: str, ours_rate: float | None, needed: float | None, why_not: str = "a figure is missing") -> None:
    """One goal line: pass, FAIL, or n/a (a peer did not run, or the row was not asked for)."""
    if ours_rate is None or needed is None:
        print(f"  [n/a ] {text}: {why_not}")
        return
    verdict = "pass" if ours_rate >= needed else "FAIL"
    print(f"  [{verdict}] {text}: {ours_rate:,.0f} against {needed:,.0f} needed ({ours_rate / needed:.2f}x of it)")


def find_peer(args, venv: str, requirements: list[str], distributions: list[str], what: str,
              needs: str) -> Path | None:
    """A benchmark's peer interpreter (built on first use), or None with the reason printed.

    ``args`` carries the benchmark's ``--no-peers`` and ``--peer-python`` options; ``needs`` is
    the distribution without which the peer cannot run; ``what`` names the peer in messages.
    """
    if args.no_peers:
        print("peers: skipped (--no-peers)")
        return None
    try:
        python = Path(args.peer_python) if args.peer_python else peer_python(venv, requirements)
        found = versions(python, distributions)
    except PeerUnavailable as error:
        print(f"peers: {what} unavailable, showing ours alone: {error}")
        return None
    if found.get(needs) == "missing":
        print(f"peers: {needs} is not installed in {python}, showing ours alone")
        return None
    print("peers: " + ", ".join(f"{name} {version}" for name, version in found.items()) + f" ({python})")
    return python


def add_peer_options(parser: argparse.ArgumentParser, installed: str) -> None:
    """``--peer-python`` (an interpreter with ``installed``, instead of the venv) and ``--no-peers``."""
    parser.add_argument("--peer-python", help=f"interpreter with {installed} (skips the venv)")
    parser.add_argument("--no-peers", action="store_true", help="time ours alone")


def machine_line(*libraries: object, extra: str = "") -> str:
    """What the figures were measured on: processor, CPUs, date, Python and each module's version."""
    versions = "".join(f", {module.__name__} {getattr(module, '__version__', '?')}" for module in libraries)
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}, "
            f"Python {platform.python_version()}{versions}{extra}")
