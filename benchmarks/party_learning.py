"""Does a party learn to go down together? MAPPO and IPPO on the cooperative dungeon party, against random play.

    python benchmarks/party_learning.py [--steps 60000] [--seeds 0 1 2] [--games 16] [--test-games 200]
                                        [--env-kwargs KEY=VALUE ...]

``dungeon_party_v0`` as it comes: two adventurers in one lit 5x5 room (the first on the
staircase up in a corner, the second on a random square; the staircase down in the far
corner), 100 steps, NLE's -0.01 for steps without game time: the party is rewarded
together each time one of them goes down the staircase, and succeeds when both have. Trained
the way ``rewardgym train dungeon_party_v0 --agent A --config norm_obs=true num_steps=16
learning_rate=1e-3`` trains (every seat a row; observations normalised; rollouts of 16 steps
per row, so 60k steps make ~117 updates instead of CleanRL's default ~15), then played on
held-out seeds (from 1,000,000). ``--env-kwargs`` changes the game (``room_size=7
room_random=true``, ``layout=dungeon``, as ``rewardgym train`` reads them):

* ``random``: every adventurer acts uniformly at random — the floor;
* ``ippo`` (``--agent ippo``): one policy shared by both seats (the seat one-hot in its observation), its own critic;
* ``mappo``: the same with a critic that also reads the game's ``state()``;
* ``scripted``: each adventurer walks straight to the staircase and goes down — what the task
  allows (an adventurer in the other's way costs a step).

Reported: the party's success rate (both down within 100 steps) per condition, mean and range
over seeds, and the training curves (an adventurer's success: it went down) as an IQM band
over seeds, saved to ``--plot``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from curves import learn_curve, plot_success_bands  # benchmarks/curves.py: the script's folder

from rewardgym.agents import agent_class, make_agent
from rewardgym.cli import parse_assignments
from rewardgym.envs.multiagent.dungeon_party import ACTIONS
from rewardgym.workflows.training import make_envs

NAME = "dungeon_party_v0"
CONFIG = {"norm_obs": True, "device": "cpu", "num_steps": 16, "learning_rate": 1e-3}
_MOVES = {(-1, 0): 0, (0, 1): 1, (1, 0): 2, (0, -1): 3, (-1, 1): 4, (1, 1): 5, (1, -1): 6, (-1, -1): 7}


def describe(env_kwargs: dict) -> str:
    """The game in a few words, for the plot's title."""
    return " ".join(f"{k}={v}" for k, v in env_kwargs.items()) or "5x5 room"


def party_success(games, act, test_games: int, seed: int) -> float:
    """Play ``test_games`` games of the vector env ``games`` (its rows acted by ``act(obs, info)``); the share in
    which the whole party went down."""
    rows = games
    core = rows.games.core
    obs, info = rows.reset(seed=seed)
    wins = ended = 0
    while ended < test_games:
        obs, _, _, _, info = rows.step(act(obs, info, core))
        over = ~rows.games.active.any(axis=1)  # games whose last adventurer left on this step
        wins += int(core.left.reshape(core.num_games, -1)[over].all(axis=1).sum())
        ended += int(over.sum())
    return wins / ended


def scripted(obs, info, core) -> np.ndarray:
    u, s, n = core.seats, core.state, core.n_agents
    game = np.repeat(np.arange(core.num_games), n)
    dy, dx = np.sign(s.down_y[game] - u.py), np.sign(s.down_x[game] - u.px)
    return np.array([ACTIONS.index("DOWN") if (a, b) == (0, 0) else _MOVES[(a, b)] for a, b in zip(dy, dx)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60_000, help="agent-steps of training per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--games", type=int, default=16, help="games played at once in training")
    parser.add_argument("--test-games", type=int, default=200)
    parser.add_argument("--plot", default="docs/img/dungeon_party.png")
    parser.add_argument("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE", help="the game's arguments")
    args = parser.parse_args()
    env_kwargs = parse_assignments(args.env_kwargs, "--env-kwargs")
    torch.set_num_threads(1)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread, "
          f"{time.strftime('%Y-%m-%d')}; {NAME}, 2 adventurers, {describe(env_kwargs)}, {args.games} games, "
          f"{args.steps:,} agent-steps per run, seeds {args.seeds}, {args.test_games} test games")
    rng = np.random.default_rng(0)
    rates: dict[str, list[float]] = {"random": [], "scripted": [], "ippo": [], "mappo": []}
    curves: dict[str, list[dict]] = {"ippo": [], "mappo": []}
    for seed in args.seeds:
        test = make_envs(agent_class("ppo").spec, NAME, 64, env_kwargs)
        rows = test.num_envs
        rates["random"].append(party_success(test, lambda o, i, c, rows=rows: rng.integers(0, len(ACTIONS), rows),
                                             args.test_games, 1_000_000 + 1000 * seed))
        rates["scripted"].append(party_success(test, scripted, args.test_games, 1_000_000 + 1000 * seed))
        for name in ("ippo", "mappo"):
            spec = agent_class(name).spec
            envs = make_envs(spec, NAME, args.games, env_kwargs)
            agent = make_agent(name, envs, seed=seed, **CONFIG)
            curve, seconds = learn_curve(agent, envs, args.steps)
            curves[name].append({"curve": curve})
            test = make_envs(spec, NAME, 64, env_kwargs)
            rate = party_success(test, lambda o, i, c, agent=agent: agent.act(o, deterministic=False, info=i),
                                 args.test_games, 1_000_000 + 1000 * seed)
            rates[name].append(rate)
            print(f"  seed {seed} {name:<6} party success {rate:.0%}  ({seconds:.0f} s)", flush=True)
        print(f"  seed {seed} random {rates['random'][-1]:.1%}  scripted {rates['scripted'][-1]:.0%}", flush=True)
    print("\n| play | party success (both down in 100 steps) | seeds' range |")
    print("|---|---:|---:|")
    for name, values in rates.items():
        print(f"| {name} | {np.mean(values):.1%} | {min(values):.1%} - {max(values):.1%} |")
    plot_success_bands(curves, {"ippo": "tab:blue", "mappo": "tab:red"}, args.plot,
                       f"{NAME}, 2 adventurers: an adventurer goes down (training)\n{describe(env_kwargs)}",
                       ylabel="adventurer success rate (last 100 episodes), IQM")
    print(f"curves: {args.plot}")


if __name__ == "__main__":
    main()
