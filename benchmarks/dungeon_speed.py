"""Dungeon env speed: random-action steps per second next to NLE and MiniHack, timed by this one script.

    python benchmarks/dungeon_speed.py [--seconds 3] [--num-envs 64 1024 4096] [--repeats 1] [--cold]
                                       [--peer-python PATH | --no-peers]

Peers: NLE's ``NetHackScore-v0`` and MiniHack's ``MiniHack-Room-5x5-v0``, single envs with their
default observation keys. They pin an older gymnasium, so they run in a venv of their own that
the first run creates (some 20 s of pip, reused afterwards; see ``peers.py``), or in the
interpreter given with ``--peer-python``. When they cannot be installed or run, the script says
why and prints our figures alone.

Every figure is env steps per second of ``gym.make(id)`` (``env.step`` with actions drawn from a
seeded RNG before timing, ``env.reset()`` whenever an episode ends, resets inside the timed span)
after a warm-up; the very same loop runs in the peer venv. Ours is timed with the same
observation keys as the peer it is compared with (the peer's defaults that ours has: NLE's minus
``screen_descriptions``; MiniHack's, crops included) and with all our default keys; then
``gym.make_vec(id, num_envs=N)`` (native batching: one compiled call a step, env steps = calls x N), and
at 1024 envs with only the keys an RL agent reads (glyphs, blstats, message, glyphs_crop). NLE
without ``screen_descriptions`` is timed too, so the like-for-like figure is there as well.
Measurements run one after another, never at once; ``--repeats`` interleaves them and shows medians.
The issue's goals are printed as checks: the vector env at 1024 envs >= 10x NLE's single env, our
single env >= NLE's with the same keys, and our single Room5x5 >= 1.5x MiniHack's Room-5x5; then
``import rewardgym``'s time and the first dungeon step's in a fresh process (``--cold``: also with
the compiled kernels removed from numba's cache, so they compile).
"""

from __future__ import annotations

import argparse
import inspect
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import peers  # benchmarks/peers.py: the script's folder is on sys.path
from peers import Row

import rewardgym  # noqa: F401  (registers the ids)
from rewardgym.envs.dungeon.core import DEFAULT_KEYS, OBSERVATION_KEYS

SCORE, ROOM = "rewardgym/Dungeon-Score-v0", "rewardgym/Dungeon-Room5x5-v0"
NLE, MINIHACK = "NetHackScore-v0", "MiniHack-Room-5x5-v0"
PEER_VENV = "nle-minihack"  # MiniHack depends on NLE, so one venv serves both
PEER_REQUIREMENTS = ["nle==1.3.0", "minihack==1.0.2", "setuptools<81"]  # MiniHack imports pkg_resources
PEER_MODULES = {NLE: "nle", MINIHACK: "minihack"}  # importing registers the ids


def random_steps(env, seconds: float, warmup: int, seed: int) -> dict:
    """Steps per second of ``env`` under seeded random actions, resetting when an episode ends.

    Self-contained (its source also runs in the peer venv, so both sides use this very loop).
    """
    import time

    import numpy as np

    actions = np.random.default_rng(seed).integers(0, env.action_space.n, 4096).tolist()
    env.reset(seed=seed)
    counts = {"steps": 0, "episodes": 0}

    def run(n: int) -> None:
        for _ in range(n):
            _, _, terminated, truncated, _ = env.step(actions[counts["steps"] % 4096])
            counts["steps"] += 1
            if terminated or truncated:
                env.reset()
                counts["episodes"] += 1

    run(warmup)
    counts.update(steps=0, episodes=0)
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        run(25)
    return {"rate": counts["steps"] / elapsed, "episodes": counts["episodes"]}


PEER_SNIPPET = inspect.getsource(random_steps) + """
import importlib

import gymnasium as gym

importlib.import_module(params["module"])
env_id = params["env_id"]
if env_id not in gym.registry:  # a later release may register it under a namespace
    env_id = next((name for name in gym.registry if name.split("/")[-1] == env_id), env_id)
env = gym.make(env_id, **params["kwargs"])
if params["seconds"] > 0:
    result = random_steps(env, params["seconds"], params["warmup"], params["seed"])
else:
    result = {}
result["keys"] = sorted(env.observation_space.spaces)
env.close()
"""


def vector_steps(envs, seconds: float, warmup: int, seed: int) -> dict:
    """Env steps per second (calls x num_envs) of a vector env under seeded random actions (autoreset)."""
    actions = np.random.default_rng(seed).integers(0, envs.single_action_space.n, (64, envs.num_envs))
    envs.reset(seed=seed)
    for k in range(warmup):
        envs.step(actions[k % 64])
    calls, episodes, start = 0, 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        _, _, terminated, truncated, _ = envs.step(actions[calls % 64])
        episodes += int(np.count_nonzero(terminated | truncated))
        calls += 1
    return {"rate": calls * envs.num_envs / elapsed, "episodes": episodes}


def ours(env_id: str, keys: tuple[str, ...], args) -> Callable[[], dict]:
    """Our single env with ``keys``, built afresh per measurement so no repeat inherits a warm cache."""

    def measure() -> dict:
        env = gym.make(env_id, observation_keys=keys)
        try:
            return random_steps(env, args.seconds, args.warmup, args.seed)
        finally:
            env.close()

    return measure


RL_KEYS = ("glyphs", "blstats", "message", "glyphs_crop")  # the moonshot's keys: what an RL agent reads


def ours_vector(env_id: str, num_envs: int, args, keys: tuple[str, ...] = DEFAULT_KEYS) -> Callable[[], dict]:
    """Our native vector env of ``num_envs`` games (default keys unless given)."""

    def measure() -> dict:
        envs = gym.make_vec(env_id, num_envs=num_envs, observation_keys=keys)
        try:
            return vector_steps(envs, args.seconds, 3, args.seed)
        finally:
            envs.close()

    return measure


def peer(python: Path | None, env_id: str, args, keys: list[str] | None = None) -> Callable[[], dict]:
    """A peer's single env in its own interpreter (a fresh process per measurement), default keys unless given."""

    def measure() -> dict:
        if python is None:
            raise peers.PeerUnavailable(peers.NOT_RUN)
        kwargs = {} if keys is None else {"observation_keys": keys}
        return peers.run_in(python, PEER_SNIPPET, timeout=args.seconds + 600, module=PEER_MODULES[env_id],
                            env_id=env_id, kwargs=kwargs, seconds=args.seconds, warmup=args.warmup, seed=args.seed)

    return measure


def find_peer_python(args) -> Path | None:
    return peers.find_peer(args, PEER_VENV, PEER_REQUIREMENTS, ["nle", "minihack", "gymnasium", "numpy"],
                           "NLE and MiniHack", needs="nle")


def default_keys(python: Path | None, env_id: str) -> tuple[str, ...] | None:
    """The peer's default observation keys as its env reports them (None when the peer does not run)."""
    if python is None:
        return None
    try:
        return tuple(peers.run_in(python, PEER_SNIPPET, module=PEER_MODULES[env_id], env_id=env_id, kwargs={},
                                  seconds=0, warmup=0, seed=0)["keys"])
    except peers.PeerUnavailable as error:
        print(f"{env_id}: unavailable, showing ours alone: {error}")
        return None


# The peers' defaults (nle 1.3.0, minihack 1.0.2), used to pick our keys when a peer does not run.
FALLBACK_KEYS = {
    NLE: ("glyphs", "chars", "colors", "specials", "blstats", "message", "inv_glyphs", "inv_strs", "inv_letters",
          "inv_oclasses", "screen_descriptions", "tty_chars", "tty_colors", "tty_cursor"),
    MINIHACK: ("glyphs", "chars", "colors", "specials", "glyphs_crop", "chars_crop", "colors_crop", "specials_crop",
               "blstats", "message"),
}


def ours_of(keys: tuple[str, ...]) -> tuple[str, ...]:
    """The keys that ours has, in our order."""
    return tuple(k for k in OBSERVATION_KEYS if k in keys)


def comparison_rows(python: Path | None, peer_id: str, our_id: str, name: str, args) -> tuple[list[Row], Row]:
    """The peer, then ours with the peer's keys (returned too: the goals use it), then ours with all its
    defaults (one row when the two key sets are the same)."""
    keys = default_keys(python, peer_id)
    usable = python if keys is not None else None
    keys = keys or FALLBACK_KEYS[peer_id]
    shared = ours_of(keys)
    if set(keys) - set(shared):
        print(f"{name}'s default keys that ours lacks: {', '.join(sorted(set(keys) - set(shared)))}")
    label = peer_id if peer_id.startswith(name) else f"{name} {peer_id}"
    rows = [Row(label, peer(usable, peer_id, args), keys=len(keys), short=name)]
    if set(keys) != set(shared):
        rows.append(Row(f"{name} {peer_id}, only the keys ours has", peer(usable, peer_id, args, list(shared)),
                        keys=len(shared)))
    same = set(shared) == set(DEFAULT_KEYS)
    matched = Row(f"ours {our_id.split('/')[-1]}, {name}'s keys" + (" (= our defaults)" if same else ""),
                  ours(our_id, shared, args), keys=len(shared), against=rows[0])
    rows.append(matched)
    if not same:
        rows.append(Row(f"ours {our_id.split('/')[-1]}, our default keys", ours(our_id, DEFAULT_KEYS, args),
                        keys=len(DEFAULT_KEYS), against=rows[0]))
    return rows, matched


def print_table(rows: list[Row]) -> None:
    """The figures, each of ours as a ratio of the peer it is compared with; then why any figure is missing."""
    print(f"\n{'what':<56}{'keys':>5}{'steps/s':>11}{'episodes':>10}  ratio")
    for row in rows:
        rate = row.median()
        if rate is None:
            print(f"{row.label:<56}{row.keys:>5}{'missing':>11}")
            continue
        print(f"{row.label:<56}{row.keys:>5}{rate:>11,.0f}{row.median('episodes'):>10,.0f}  {row.ratio()}")
    peers.print_missing(rows)


def print_goals(score_rows: list[Row], matched: Row, vector: dict[int, Row], minihack: Row, room: Row,
                rl: Row) -> None:
    """The issue's targets, as pass/FAIL lines."""
    print("\ngoals:")
    nle = score_rows[0]
    same_keys = score_rows[1] if len(score_rows) > 2 else nle  # NLE with only the keys ours has
    nle_rate = nle.median()
    at_1024 = vector[1024].median() if 1024 in vector else None
    peers.check("vector Dungeon-Score-v0 x1024 >= 10x NLE NetHackScore-v0 single", at_1024,
                None if nle_rate is None else 10 * nle_rate,
                "a figure is missing" if 1024 in vector else "1024 is not among --num-envs")
    peers.check("single Dungeon-Score-v0 >= NLE NetHackScore-v0 single with the same keys", matched.median(),
                same_keys.median())
    minihack_rate = minihack.median()
    peers.check("single Dungeon-Room5x5-v0 (MiniHack's keys) >= 1.5x MiniHack-Room-5x5-v0 single", room.median(),
                None if minihack_rate is None else 1.5 * minihack_rate)
    rl_rate = rl.median()
    if rl_rate is not None:
        print(f"  [info] moonshot, 1M steps/s with the keys an RL agent uses ({', '.join(RL_KEYS)}): "
              f"{rl_rate:,.0f} ({rl_rate / 1e6:.2f}x of it)")


STARTUP = """
import time
t0 = time.perf_counter()
import rewardgym
t1 = time.perf_counter()
import gymnasium as gym
env = gym.make("rewardgym/Dungeon-Score-v0")
env.reset(seed=0)
env.step(0)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def startup(cold: bool) -> None:
    """``import rewardgym`` and the first dungeon step, each in a fresh process: with the compiled kernels in
    numba's cache, and (``--cold``) after removing them, so they compile."""
    import subprocess
    import sys

    from rewardgym.envs.dungeon import rules

    def run() -> tuple[float, float]:
        out = subprocess.run([sys.executable, "-c", STARTUP], capture_output=True, text=True, check=True).stdout
        return tuple(float(v) for v in out.split())

    if cold:
        cache = Path(rules.__file__).parent / "__pycache__"
        for stale in [*cache.glob("*.nbi"), *cache.glob("*.nbc"), *cache.glob("*.tables")]:
            stale.unlink()
        _, compile_s = run()
        print(f"\nfirst dungeon step with nothing compiled yet: {compile_s:.1f} s (numba compiles the kernels "
              "once and caches them next to the package)")
    run()  # fill the cache when it was empty
    import_s, first_s = run()
    print(f"{'' if cold else chr(10)}import rewardgym: {import_s:.2f} s (numba is not imported); first dungeon "
          f"make + reset + step in a fresh process, kernels cached: {first_s:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="timed span of each measurement")
    parser.add_argument("--warmup", type=int, default=200, help="single-env steps before timing starts")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[64, 1024, 4096], help="vector env sizes")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved measurements (the median is shown)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the action draws and of the first reset")
    parser.add_argument("--cold", action="store_true",
                        help="also time the first step with the kernels' cache removed (they compile, about a minute)")
    peers.add_peer_options(parser, "nle and minihack installed")
    args = parser.parse_args()

    print(peers.machine_line(gym, np, rewardgym))
    python = find_peer_python(args)
    score_rows, matched = comparison_rows(python, NLE, SCORE, "NLE", args)
    vector = {n: Row(f"ours Dungeon-Score-v0, vector x{n}", ours_vector(SCORE, n, args), keys=len(DEFAULT_KEYS),
                     against=score_rows[0]) for n in args.num_envs}
    size = 1024 if 1024 in args.num_envs else max(args.num_envs)
    rl = Row(f"ours Dungeon-Score-v0, vector x{size}, {len(RL_KEYS)} RL keys", ours_vector(SCORE, size, args, RL_KEYS),
             keys=len(RL_KEYS), against=score_rows[0])
    room_rows, room = comparison_rows(python, MINIHACK, ROOM, "MiniHack", args)
    rows = score_rows + list(vector.values()) + [rl] + room_rows

    peers.measure_all(rows, args.repeats)
    print(f"\nrandom actions, {args.seconds:g} s per figure after a warm-up, median of {args.repeats}; "
          "episodes = episodes ended in the timed span")
    print_table(rows)
    print_goals(score_rows, matched, vector, room_rows[0], room, rl)
    startup(args.cold)


if __name__ == "__main__":
    main()
