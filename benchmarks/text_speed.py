"""Text-world speed: game generation and random-command steps per second next to TextWorld, timed by this one script.

    python benchmarks/text_speed.py [--seconds 3] [--repeats 1] [--tw-games 5]
                                    [--peer-python PATH | --no-peers]

Peer: TextWorld 1.7 (``textworld``, with jericho and spaCy), in a venv of its own that the first
run creates (a minute or two of pip, reused afterwards; see ``peers.py``), or in the interpreter
given with ``--peer-python`` (its ``tw-make`` must sit next to it). When it cannot be installed
or run, the script says why and prints our figures alone.

Games: TextWorld's custom games of ``tw-make custom --world-size 5 --nb-objects 10 --quest-length 5``
next to our Treasure games with the same knobs (``n_rooms=5, n_objects=10, quest_length=5``, the
rest from difficulty 3: closed doors and containers, look-alike treasures) and our Cooking games
at difficulty 3. The knobs do not mean quite the same: TextWorld's quest length counts the
quest's actions (its walkthroughs are about that long), ours counts the locks between the player and
the treasure (a chest and up to four doors, each with its key to fetch), so our games are the longer
ones; the mean walkthrough length of each is printed next to its generation time.

1. Generation, seconds per game (median over the seeds): ``tw-make`` as a command (the documented
   way, so it pays starting Python, importing textworld and its first, cold generation every
   time), then TextWorld's ``make_game`` and ``compile_game`` (Inform 7 to ``.z8``) in one warm
   process; ours is ``generator.generate(kind, seed, knobs)`` (the game and its checked
   walkthrough) over as many seeds as ``--seconds`` allows, after a warm-up.
2. Steps per second choosing uniformly among ``info["admissible_commands"]`` with a seeded
   ``random.Random``, resetting when an episode ends, resets inside the timed span, after a
   warm-up; the very same loop runs in the peer venv. TextWorld: ``textworld.gym.register_game``
   with ``EnvInfos(admissible_commands, score, max_score, won, lost)`` and
   ``max_episode_steps`` = our ``max_steps`` (100); its reset replays the same game file. So
   ours is timed both resetting to the same game (``reset(seed=s)``, the like-for-like row) and
   drawing a new game per reset (its default: generation inside the timed span), the latter
   next to TextWorld cycling through a pool of the ``tw-make`` games (``register_games``, the
   next game file per reset). Ours runs in free text (the command string, as TextWorld) and in
   ``action_mode="choice"`` (an index into ``info["choices"]``). Every measurement builds its env
   afresh (TextWorld's in a fresh process); ``--repeats`` interleaves them and shows medians.

The goals are printed as checks: ours steps/s >= 10x TextWorld's (like for like, and the slowest
of ours against the faster TextWorld figure); generation against ``tw-make`` is a ratio, with no
fixed goal. The figures are indicative: they move with the machine's load.
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import peers  # benchmarks/peers.py: the script's folder is on sys.path
from peers import Row

import rewardgym
from rewardgym.envs.textworlds.generator import generate, knobs_for

PEER_VENV = "textworld"
PEER_REQUIREMENTS = ["textworld==1.7.0"]
PEER_DISTRIBUTIONS = ["textworld", "jericho", "spacy", "numpy"]

# The comparable games: TextWorld's custom-game knobs, and ours.
WORLD_SIZE, NB_OBJECTS, QUEST_LENGTH = 5, 10, 5
TREASURE = ("treasure", "rewardgym/Text-Treasure-v0",
            dict(n_rooms=WORLD_SIZE, n_objects=NB_OBJECTS, quest_length=QUEST_LENGTH))
COOKING = ("cooking", "rewardgym/Text-Cooking-v0", {})
DIFFICULTY = 3
OUR_GAMES = {"Treasure 5/10/5": TREASURE, "Cooking d3": COOKING}
MAX_STEPS = knobs_for("treasure", DIFFICULTY, **TREASURE[2]).max_steps


def random_admissible(env, api: str, seconds: float, warmup: int, seed: int, reset_seed: int | None = None) -> dict:
    """Steps per second of ``env`` choosing uniformly among the admissible commands, resetting when an episode ends.

    ``api``: ``"textworld"`` (reset -> ``(obs, infos)``, step(command) -> ``(obs, score, done, infos)``),
    ``"text"`` (Gymnasium, the command string) or ``"choice"`` (Gymnasium, an index into ``info["choices"]``).
    A Gymnasium env is reset with ``seed`` first, then with ``reset_seed`` (None: the env draws the next game).
    Self-contained (its source also runs in the peer venv, so both sides use this very loop).
    """
    import random
    import time

    rng = random.Random(seed)
    textworld_api, choice = api == "textworld", api == "choice"
    key = "choices" if choice else "admissible_commands"
    info = env.reset()[1] if textworld_api else env.reset(seed=seed)[1]
    state = {"info": info, "steps": 0, "episodes": 0}

    def run(n: int) -> None:
        info = state["info"]
        for _ in range(n):
            commands = info[key]
            k = rng.randrange(len(commands))
            if textworld_api:
                _, _, done, info = env.step(commands[k])
            else:
                _, _, terminated, truncated, info = env.step(k if choice else commands[k])
                done = terminated or truncated
            state["steps"] += 1
            if done:
                info = env.reset()[1] if textworld_api else env.reset(seed=reset_seed)[1]
                state["episodes"] += 1
        state["info"] = info

    run(warmup)
    state.update(steps=0, episodes=0)
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        run(10)
    return {"rate": state["steps"] / elapsed, "episodes": state["episodes"]}


PEER_STEPS = inspect.getsource(random_admissible) + """
import textworld
import textworld.gym

infos = textworld.EnvInfos(admissible_commands=True, score=True, max_score=True, won=True, lost=True)
if len(params["gamefiles"]) == 1:
    env_id = textworld.gym.register_game(params["gamefiles"][0], request_infos=infos,
                                         max_episode_steps=params["max_steps"])
else:
    env_id = textworld.gym.register_games(params["gamefiles"], request_infos=infos,
                                          max_episode_steps=params["max_steps"])
env = textworld.gym.make(env_id)
result = random_admissible(env, "textworld", params["seconds"], params["warmup"], params["seed"])
env.close()
"""

# TextWorld's generation in one process, as tw-make does it (textworld.make = make_game + compile_game),
# the two halves timed apart, after a cold first game.
PEER_GENERATION = """
import os
import statistics
import time

start = time.perf_counter()
import textworld
from textworld.generator import compile_game, make_game
import_s = time.perf_counter() - start


def options_for(seed):
    options = textworld.GameOptions()
    options.seeds = seed
    options.nb_rooms, options.nb_objects = params["world_size"], params["nb_objects"]
    options.chaining.min_length = options.chaining.max_length = params["quest_length"]
    options.chaining.max_depth = params["quest_length"]
    options.path = os.path.join(params["folder"], f"game{seed}.z8")
    options.file_ext, options.force_recompile = ".z8", True
    return options


start = time.perf_counter()
make_game(options_for(params["warmup_seed"]))
cold_s = time.perf_counter() - start
make_s, compile_s, walkthrough = [], [], []
for seed in params["seeds"]:
    options = options_for(seed)
    start = time.perf_counter()
    game = make_game(options)
    middle = time.perf_counter()
    compile_game(game, options)
    make_s.append(middle - start)
    compile_s.append(time.perf_counter() - middle)
    walkthrough.append(len(game.walkthrough or ()))
result = {"import_s": import_s, "cold_make_s": cold_s, "make_s": statistics.median(make_s),
          "compile_s": statistics.median(compile_s), "walkthrough": statistics.mean(walkthrough)}
"""


# -- generation -------------------------------------------------------------------------------
@dataclass
class Generation:
    """One generation line: seconds per game (median) and the games' mean walkthrough length."""

    label: str
    seconds: float | None = None
    walkthrough: float | None = None
    games: int = 0
    missing: str | None = None


def tw_make(python: Path, folder: Path, seeds: list[int], row: Generation) -> list[str]:
    """``tw-make custom`` once per seed, as a command: ``row`` gets the per-game median; returns the game files."""
    script = python.parent / "tw-make"
    if not script.exists():
        raise peers.PeerUnavailable(f"no tw-make next to {python}")
    times, files, failures = [], [], []
    for seed in seeds:
        output = folder / f"tw{seed}.z8"
        command = [str(python), str(script), "custom", "--world-size", str(WORLD_SIZE), "--nb-objects",
                   str(NB_OBJECTS), "--quest-length", str(QUEST_LENGTH), "--seed", str(seed), "--output",
                   str(output), "--force", "--silent"]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0 or not output.exists():
            lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
            failures.append(f"seed {seed}: {lines[-1].strip() if lines else f'exit {done.returncode}'}")
            continue
        times.append(elapsed)
        files.append(str(output))
    if failures:
        print("tw-make failed for " + "; ".join(failures))
    if not times:
        raise peers.PeerUnavailable("tw-make made no game")
    row.seconds, row.games = statistics.median(times), len(times)
    return files


def tw_walkthroughs(python: Path, files: list[str]) -> float:
    """Mean walkthrough length of the games ``tw-make`` wrote (read from their ``.json``)."""
    code = """
import statistics
import textworld
lengths = [len(textworld.Game.load(path[:-3] + ".json").walkthrough or ()) for path in params["files"]]
result = {"walkthrough": statistics.mean(lengths)}
"""
    return peers.run_in(python, code, files=files)["walkthrough"]


def ours_generation(label: str, kind: str, knobs: dict, seconds: float, seed: int) -> Generation:
    """Our ``generate`` over consecutive seeds for ``seconds`` (at least 20 games), after a warm-up."""
    settings = knobs_for(kind, DIFFICULTY, **knobs)
    for k in range(20):
        generate(kind, 1_000_000 + k, settings)
    times, lengths, start, game_seed = [], [], time.perf_counter(), seed
    while time.perf_counter() - start < seconds or len(times) < 20:
        began = time.perf_counter()
        game = generate(kind, game_seed, settings)
        times.append(time.perf_counter() - began)
        lengths.append(len(game.walkthrough))
        game_seed += 1
    return Generation(label, statistics.median(times), statistics.mean(lengths), len(times))


def measure_generation(python: Path | None, folder: Path, args) -> tuple[list[Generation], list[str], dict]:
    """TextWorld's rows (command, then in-process), then ours; also the tw-make game files and
    TextWorld's in-process details (import time, cold first game)."""
    seeds = [args.seed + 1 + k for k in range(args.tw_games)]
    command = Generation(f"TextWorld tw-make custom {WORLD_SIZE}/{NB_OBJECTS}/{QUEST_LENGTH} (command)")
    making = Generation("TextWorld make_game, in-process (warm)")
    compiling = Generation("TextWorld compile_game (Inform 7 -> z8), in-process")
    files, details = [], {}
    if python is None:
        for row in (command, making, compiling):
            row.missing = peers.NOT_RUN
    else:
        try:
            files = tw_make(python, folder, seeds, command)
            command.walkthrough = tw_walkthroughs(python, files)
        except peers.PeerUnavailable as error:
            command.missing = str(error)
        try:
            inproc = folder / "in-process"
            inproc.mkdir(exist_ok=True)
            details = peers.run_in(python, PEER_GENERATION, folder=str(inproc), seeds=seeds,
                                   warmup_seed=args.seed + 10_000, world_size=WORLD_SIZE, nb_objects=NB_OBJECTS,
                                   quest_length=QUEST_LENGTH)
            making.seconds, compiling.seconds = details["make_s"], details["compile_s"]
            making.walkthrough = details["walkthrough"]
            making.games = compiling.games = len(seeds)
        except peers.PeerUnavailable as error:
            making.missing = compiling.missing = str(error)
    rows = [command, making, compiling]
    for name, (kind, _, knobs) in OUR_GAMES.items():
        rows.append(ours_generation(f"ours generate() {name}", kind, knobs, args.seconds, args.seed))
    return rows, files, details


def print_generation(rows: list[Generation], details: dict) -> None:
    print(f"\n{'generation':<56}{'per game':>12}{'games':>7}{'walkthr.':>10}  ratio")
    reference = rows[0].seconds
    for row in rows:
        if row.seconds is None:
            print(f"{row.label:<56}{'missing':>12}")
            continue
        figure = f"{row.seconds:.2f} s" if row.seconds >= 0.1 else f"{row.seconds * 1e3:.2f} ms"
        walkthrough = "" if row.walkthrough is None else f"{row.walkthrough:.1f}"
        ratio = ""
        if row.label.startswith("ours"):
            ratio = f"{reference / row.seconds:,.0f}x faster than tw-make" if reference else "(tw-make missing)"
        print(f"{row.label:<56}{figure:>12}{row.games:>7}{walkthrough:>10}  {ratio}")
    for row in rows:
        if row.missing and row.missing != peers.NOT_RUN:
            print(f"  {row.label}: missing because {row.missing}")
    if details:
        print(f"  TextWorld in-process: importing textworld {details['import_s']:.1f} s, its first (cold) "
              f"make_game {details['cold_make_s']:.1f} s; tw-make pays both for every game")


# -- stepping ---------------------------------------------------------------------------------
def peer_steps(python: Path | None, files: list[str], args) -> Callable[[], dict]:
    """TextWorld's gym env over ``files`` (one: replayed on reset; several: the next one per reset)."""

    def measure() -> dict:
        if python is None or not files:
            raise peers.PeerUnavailable(peers.NOT_RUN)
        return peers.run_in(python, PEER_STEPS, timeout=args.seconds + 600, gamefiles=files, max_steps=MAX_STEPS,
                            seconds=args.seconds, warmup=args.warmup, seed=args.seed)

    return measure


def our_steps(env_id: str, knobs: dict, mode: str, same_game: bool, args) -> Callable[[], dict]:
    """Our env in ``mode`` ("text" or "choice"), built afresh per measurement; ``same_game``: reset to game ``seed``."""

    def measure() -> dict:
        env = gym.make(env_id, difficulty=DIFFICULTY, action_mode=mode, **knobs)
        try:
            return random_admissible(env, mode, args.seconds, args.warmup, args.seed,
                                     reset_seed=args.seed if same_game else None)
        finally:
            env.close()

    return measure


def step_rows(python: Path | None, files: list[str], args) -> tuple[Row, Row, list[Row]]:
    """TextWorld on one game and on the pool of games, then ours: each game kind, free text and choice,
    the same game on every reset and a new one."""
    one = Row("TextWorld gym, one tw-make game (replayed on reset)", peer_steps(python, files[:1], args),
              short="TextWorld one game")
    pool = Row(f"TextWorld gym, pool of {len(files) or args.tw_games} tw-make games (next per reset)",
               peer_steps(python, files, args), short="TextWorld pool")
    if len(files) < 2:
        pool.missing = peers.NOT_RUN if python is None or not files else "tw-make made a single game"
    ours = []
    for name, (_, env_id, knobs) in OUR_GAMES.items():
        for same_game, reference in ((True, one), (False, pool)):
            for mode in ("text", "choice"):
                label = (f"ours {name}, {'free text' if mode == 'text' else 'choice'}, "
                         f"{'same game on reset' if same_game else 'new game per reset'}")
                ours.append(Row(label, our_steps(env_id, knobs, mode, same_game, args), against=reference))
    return one, pool, ours


def print_steps(rows: list[Row]) -> None:
    print(f"\n{'random admissible commands':<56}{'steps/s':>12}{'episodes':>10}  ratio")
    for row in rows:
        rate = row.median()
        if rate is None:
            print(f"{row.label:<56}{'missing':>12}")
            continue
        print(f"{row.label:<56}{rate:>12,.0f}{row.median('episodes'):>10,.0f}  {row.ratio(digits=0)}")
    peers.print_missing(rows)


# -- goals ------------------------------------------------------------------------------------
def print_goals(one: Row, pool: Row, ours: list[Row], generation: list[Generation]) -> None:
    print("\ngoals:")
    like = next(row for row in ours if row.label.startswith("ours Treasure") and "free text, same" in row.label)
    one_rate = one.median()
    peers.check("ours Treasure, free text, same game >= 10x TextWorld one game", like.median(),
          None if one_rate is None else 10 * one_rate)
    measured = [row for row in ours if row.median() is not None]
    slowest = min(measured, key=lambda row: row.median()) if measured else None
    theirs = [rate for rate in (one_rate, pool.median()) if rate is not None]
    peers.check(f"slowest of ours ({slowest.label[5:] if slowest else '-'}) >= 10x the faster TextWorld figure",
          slowest.median() if slowest else None, 10 * max(theirs) if theirs else None)
    command, making, _ = generation[:3]
    for row in generation[3:]:
        if command.seconds is None:
            print(f"  [info] {row.label[5:]}: {row.seconds * 1e3:.2f} ms per game; tw-make missing")
            continue
        against_make = (f", {making.seconds / row.seconds:,.0f}x faster than make_game alone (no Inform 7)"
                        if making.seconds else "")
        print(f"  [info] {row.label[5:]}: {command.seconds / row.seconds:,.0f}x faster than tw-make per game"
              f"{against_make} (no fixed goal)")


def find_peer_python(args) -> Path | None:
    return peers.find_peer(args, PEER_VENV, PEER_REQUIREMENTS, PEER_DISTRIBUTIONS, "TextWorld", needs="textworld")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="timed span of each steps figure, and of each of our generation figures")
    parser.add_argument("--warmup", type=int, default=100, help="steps before timing starts")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved steps measurements (the median is shown)")
    parser.add_argument("--tw-games", type=int, default=5, help="TextWorld games to generate (seeds seed+1...)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the command draws, the games and the first reset")
    peers.add_peer_options(parser, "textworld, tw-make next to it")
    args = parser.parse_args()
    if args.tw_games < 1:
        parser.error("--tw-games must be >= 1")

    print(peers.machine_line(gym, np, rewardgym))
    python = find_peer_python(args)
    with tempfile.TemporaryDirectory(prefix="text-speed-") as folder:
        generation, files, details = measure_generation(python, Path(folder), args)
        one, pool, ours = step_rows(python, files, args)
        peers.measure_all([one, pool, *ours], args.repeats)

    print(f"\ngames: TextWorld {WORLD_SIZE} rooms / {NB_OBJECTS} objects / quest length {QUEST_LENGTH}; ours Treasure "
          f"n_rooms={WORLD_SIZE}, n_objects={NB_OBJECTS}, quest_length={QUEST_LENGTH} (locks), Cooking difficulty "
          f"{DIFFICULTY}; walkthr. = mean walkthrough length in commands")
    print_generation(generation, details)
    print(f"\nsteps: {args.seconds:g} s per figure after {args.warmup} steps, median of {args.repeats}, resets inside "
          f"the timed span, episodes of at most {MAX_STEPS} steps; episodes = episodes ended in the timed span")
    print_steps([one, pool, *ours])
    print_goals(one, pool, ours, generation)


if __name__ == "__main__":
    main()
