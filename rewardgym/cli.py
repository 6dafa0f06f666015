"""The ``rewardgym`` command: list, train, eval, play, collect-demos, fit-progress, reward-eval,
synthesize-reward.

A wrong argument is one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

DEFAULT_STEPS = 10_000


class UsageError(Exception):
    """A problem with what the user asked for: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def parse_assignments(items: Sequence[str], what: str) -> dict[str, Any]:
    """``["horizon=50", "drift=0.1"]`` -> ``{"horizon": 50, "drift": 0.1}``, values read as in reward specs.

    A value of comma-separated words (no spaces) is a list: ``hidden_sizes=128,128`` ->
    ``(128, 128)``, ``observation_keys=glyphs_crop,blstats`` -> ``("glyphs_crop", "blstats")``;
    a value starting with ``[`` or ``{`` is JSON.
    """
    from rewardgym.rewards import parse_value

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise UsageError(f"{what} must be KEY=VALUE, got {item!r}")
        text = value.strip()
        if text[:1] in ("[", "{"):
            try:
                out[key] = json.loads(text)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{what} {key}: not valid JSON ({exc.msg} at character {exc.pos})") from None
        elif "," in text and not any(c.isspace() for c in text):
            parts = text.split(",")
            if not all(parts):
                raise UsageError(f"{what} {key}: an empty item in the list {text!r}")
            out[key] = tuple(parse_value(part) for part in parts)
        else:
            out[key] = parse_value(value)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rewardgym", description="Embodied-agent RL environments with learned rewards.",
                     epilog="Examples:\n"
                            "  rewardgym list\n"
                            "  rewardgym train rewardgym/Bandit-Meta5-v0 --agent ppo --steps 100000\n"
                            "  rewardgym eval runs/Bandit-Meta5-v0-ppo-s0-<date-time>\n"
                            "  rewardgym play rewardgym/Text-Cooking-v0\n"
                            "rewardgym COMMAND --help says more about each command.",
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from rewardgym._version import __version__

    parser.add_argument("--version", action="version", version=f"rewardgym {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    p = sub.add_parser("list", help="list the registered environments",
                       description="Every id with its family, action space and task, 100 columns wide; "
                                   "--long adds the observation spaces. Example: rewardgym list --long "
                                   "rewardgym/Dungeon-Room5x5-v0")
    p.add_argument("ids", nargs="*", metavar="ID", help="only these ids (default: all)")
    p.add_argument("--family", help="only this family (e.g. Bandit, Dungeon, MultiAgent)")
    p.add_argument("--long", action="store_true", help="every space in full, one block per id")

    p = sub.add_parser("train", help="train an agent and leave a run folder",
                       description="Train an agent on an env (with a learned reward if --reward is given) and "
                                   "leave a run folder: config.json, metrics.csv, TensorBoard events, checkpoints, "
                                   "learning_curve.png. Example: rewardgym train rewardgym/Manip-Reach-v0 --agent "
                                   "ppo --steps 100000 --reward 'progress:models/reach-progress;scale=10'")
    p.add_argument("env_id", nargs="?", help="a rewardgym id (rewardgym list) or any Gymnasium id")
    p.add_argument("--agent", help="ppo, ippo, mappo, sb3, random, ucb, thompson, epsilon-greedy, greedy, uniform, "
                                   "linucb, llm-grpo, llm-dr-grpo, llm-rloo, llm-reinforce")
    p.add_argument("--model", metavar="PATH_OR_HUB_ID",
                   help="llm-* agents: the transformers causal LM to train (a local folder or a hub id)")
    p.add_argument("--reward",
                   help="a learned-reward spec, e.g. 'clip:goal=...;baseline=...' (default: the env's reward)")
    p.add_argument("--reward-mode", choices=("add", "replace"), default="add",
                   help="add the learned reward to the env's, or replace it (default add)")
    p.add_argument("--reward-coef", type=float, default=1.0, help="weight of the learned reward (default 1)")
    p.add_argument("--reward-env-coef", type=float, default=1.0,
                   help="weight of the env's own reward in --reward-mode add (default 1; Motif's alpha_ext)")
    p.add_argument("--steps", type=_positive_int,
                   help=f"env steps (default: the preset's budget, else {DEFAULT_STEPS})")
    p.add_argument("--seed", type=_non_negative_int, default=0,
                   help="seed of the agent and of the envs' first episodes (default 0)")
    p.add_argument("--num-envs", type=_positive_int,
                   help="parallel envs (default: the preset's, else the agent's; games for a multi-agent env)")
    p.add_argument("--device", default="auto", help="torch agents: auto, cpu, cuda, cuda:1 ... (default auto)")
    p.add_argument("--out", default="runs", help="parent folder of the run folder (default runs/)")
    p.add_argument("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE", help="env constructor arguments")
    p.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE", help="agent config overrides")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=_positive_int, metavar="N",
                   help="torch threads for this run (default: torch's, every core); give 1 when several "
                        "trainings share the machine, or their threads fight for the cores (6x slower measured)")
    p.add_argument("--reward-on-ray", nargs="?", const="local", metavar="ADDRESS",
                   help="score --reward in a Ray actor of its own (a local Ray on 127.0.0.1, or the cluster at "
                        "ADDRESS): a reward model that needs its own GPU")
    p.add_argument("--reward-gpus", type=float, default=0.0, metavar="N",
                   help="--reward-on-ray: GPUs the reward model's actor asks for (default 0)")
    p.add_argument("--team-reward", action="store_true",
                   help="multi-agent games: every seat gets its game's mean reward (the env's and the learned one), "
                        "a shared team reward, instead of its own")
    p.add_argument("--no-preset", action="store_true",
                   help="ignore the tuned settings for this env and agent (rewardgym/workflows/presets.py)")
    p.add_argument("--capture-video", action="store_true",
                   help="record one episode of the agent (deterministic where it has a mode) to RUN_DIR/videos/ at "
                        "the first log, every --video-every steps and at the end")
    p.add_argument("--video-every", type=_positive_int, metavar="STEPS",
                   help="steps between --capture-video recordings (default: a quarter of --steps)")
    p.add_argument("--video-format", choices=("auto", "gif", "mp4"), default="auto",
                   help="for --capture-video; auto (default): MP4 when imageio-ffmpeg is installed, else GIF")
    p.add_argument("--checkpoint-every", type=_non_negative_int, metavar="STEPS",
                   help="save checkpoints/step_<N> every STEPS env steps, keeping the last 3 (default: a tenth "
                        "of --steps; 0: only the final checkpoint)")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="play on Ray actors (--num-workers of them): PPO's workers play the rollouts with copies "
                        "of the policy and the update runs here; llm-* agents' play whole episodes with copies of "
                        "the model; for other agents they step the envs and the policy acts here. Alone, a local "
                        "Ray on 127.0.0.1; with an address, join that cluster")
    p.add_argument("--num-workers", type=_positive_int, metavar="N",
                   help="--ray: workers, each stepping its share of --num-envs or playing its share of a batch "
                        "(default 2)")
    p.add_argument("--ray-placement", choices=["spread", "pack", "strict-spread"],
                   help="--ray: lay the workers over the cluster's nodes: spread over as many as it has (default), "
                        "pack on as few, or strict-spread, each on its own; every worker's resources are reserved "
                        "at once (a Ray placement group), and a cluster that cannot hold them is one error")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="finish the run in RUN_DIR from its latest checkpoint (its env, agent and settings; a run "
                        "trained on Ray resumes on Ray as it was, or on the cluster --ray names: --ray alone "
                        "starts a local one when the old cluster is gone)")

    p = sub.add_parser("eval", help="evaluate a trained run",
                       description="Play the run's final checkpoint on held-out seeds and report return, length, "
                                   "success and the env's own end-of-episode values, on the env's own reward. "
                                   "Example: rewardgym eval runs/Bandit-Meta5-v0-ppo-s0-<date-time> --episodes 200")
    p.add_argument("run_dir", help="a run folder written by rewardgym train")
    p.add_argument("--episodes", type=_positive_int, default=100, help="episodes to play (default 100)")
    p.add_argument("--seed", type=_non_negative_int,
                   help="first seed (default: the run's seed + 1000000, a held-out range)")
    p.add_argument("--num-envs", type=_positive_int, help="parallel envs (default min(episodes, 16))")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--deterministic", dest="deterministic", action="store_true", default=None,
                      help="act by each action distribution's mode (the default where the agent has one: "
                           "ppo, sb3, llm-*; unless the run's preset says to sample, as for the text worlds)")
    mode.add_argument("--stochastic", dest="deterministic", action="store_false",
                      help="sample actions from the policy")
    p.add_argument("--video", action="store_true",
                   help="also record episodes from the first seed to RUN_DIR/videos/ (GIF; MP4 with imageio-ffmpeg): "
                        "the env's pictures, or its text drawn as a terminal")
    p.add_argument("--video-episodes", type=_positive_int, default=1, metavar="N",
                   help="episodes to record with --video (default 1)")
    p.add_argument("--video-format", choices=("auto", "gif", "mp4"), default="auto",
                   help="auto (default): MP4 when imageio-ffmpeg is installed, else GIF")

    p = sub.add_parser("play", help="play an environment in the terminal (type quit to stop)",
                       description="Play an env with a language interface yourself, through the text an LLM agent "
                                   "reads: type commands (or NetHack keys in the dungeon); 'quit' stops. With --run, "
                                   "watch a trained agent instead. Examples: rewardgym play rewardgym/Dungeon-Gold-v0 "
                                   "--seed 3; rewardgym play --run runs/Dungeon-Room5x5-v0-ppo-s0-<date-time>")
    p.add_argument("env_id", nargs="?",
                   help="a rewardgym id with a language interface (bandits, dungeon, text worlds, GUI), or a "
                        "multi-agent id (you take one seat)")
    p.add_argument("--run", metavar="RUN_DIR",
                   help="instead of playing yourself, watch the agent of a trained run play its env in the terminal "
                        "(deterministic where it has a mode; Ctrl-C stops)")
    p.add_argument("--seat", help="multi-agent ids: the seat you take (default the first; random players take "
                                  "the others, or with --run the run's trained policy)")
    p.add_argument("--episodes", type=_positive_int, default=1, help="--run: episodes to watch (default 1)")
    p.add_argument("--fps", type=float, default=8.0, help="--run: frames per second (default 8; 0: no pause)")
    p.add_argument("--seed", type=_non_negative_int, help="the episode's seed (default: a fresh one)")
    p.add_argument("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE", help="env constructor arguments")

    p = sub.add_parser("plot", help="compare runs on one figure: IQM over seeds with bootstrap bands",
                       description="Draw several runs on one figure: runs that differ only in their seed form one "
                                   "curve, the interquartile mean over the seeds with its 95%% bootstrap band; a "
                                   "rate is drawn on [0, 1]. Example: rewardgym plot runs/Manip-Reach-v0-ppo-s* "
                                   "--out reach.png")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run folders written by rewardgym train")
    p.add_argument("--metric", help="the logged column to draw (default success_rate when every run logged it, "
                                    "else mean_return)")
    p.add_argument("--out", metavar="FILE", help="the PNG (default comparison-<metric>.png beside the first run)")

    p = sub.add_parser("sweep", help="train one env and agent over seeds (and a grid of settings), then compare",
                       description="Train every seed x grid point as its own run folder, a few at a time in local "
                                   "processes or as tasks on a Ray cluster, then draw the groups on one figure (IQM "
                                   "over seeds, 95%% bootstrap bands). Any other train option goes after -- and "
                                   "reaches every run (-- --num-envs 8). Example: rewardgym sweep CartPole-v1 "
                                   "--agent ppo --seeds 0-4 --grid learning_rate=1e-4,3e-4 --steps 50000 --jobs 2")
    p.add_argument("env_id", help="a rewardgym id, a multi-agent name or any Gymnasium id")
    p.add_argument("--agent", required=True, help="the agent, as for train")
    p.add_argument("--seeds", nargs="+", default=["0-2"], metavar="SEEDS",
                   help="seeds: ranges and lists, e.g. 0-4 or 0,3,7 (default 0-2)")
    p.add_argument("--grid", nargs="*", default=[], metavar="KEY=V1,V2",
                   help="agent settings to sweep, each over its comma-separated values (every combination); "
                        "fixed settings go in --config")
    p.add_argument("--steps", type=_positive_int,
                   help=f"env steps per run (default: the preset's budget, else {DEFAULT_STEPS})")
    p.add_argument("--config", nargs="*", default=[], metavar="KEY=VALUE", help="agent settings for every run")
    p.add_argument("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE", help="env arguments for every run")
    p.add_argument("--reward", help="a learned-reward spec for every run, as for train")
    p.add_argument("--jobs", type=_positive_int, default=1,
                   help="runs at once (default 1; each run uses one torch thread)")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run each training as a Ray task: alone, a local cluster on 127.0.0.1 with --jobs CPUs; "
                        "with an address (e.g. 10.0.0.5:6379 or auto), join that cluster")
    p.add_argument("--metric", help="the logged column to compare (default success_rate when logged, else "
                                    "mean_return)")
    p.add_argument("--out", default="sweeps", help="parent folder of the sweep folder (default sweeps/)")

    p = sub.add_parser("showcase", help="a learned reward at work: sparse Reach with and without progress shaping",
                       description="Record expert demos of sparse rewardgym/Manip-Reach-v0, fit a progress model on "
                                   "them, train PPO on the sparse reward alone and with the progress shaping "
                                   "(two seeds each, two runs at a time), test both and plot them: about 5 "
                                   "minutes on 2 CPU cores, offline. Example: rewardgym showcase --out showcase")
    p.add_argument("--out", default="showcase", metavar="DIR",
                   help="where the demos, the model, the plot and the results go (default showcase/)")
    p.add_argument("--steps", type=_positive_int, default=100_000, help="env steps per PPO run (default 100000)")
    p.add_argument("--seeds", type=_non_negative_int, nargs="+", default=[0, 1, 2], help="PPO seeds (default 0 1 2)")
    p.add_argument("--demos", type=_positive_int, default=60, help="expert demos to fit the model on (default 60)")

    p = sub.add_parser("collect-demos", help="record episodes of the scripted expert in a demo folder")
    p.add_argument("env_id", help="a rewardgym id with a scripted expert (e.g. rewardgym/Manip-Push-v0)")
    p.add_argument("-n", "--episodes", type=_positive_int, required=True, metavar="N", help="number of episodes")
    p.add_argument("--out", required=True, metavar="DIR", help="the demo folder to write (must be empty or absent)")
    p.add_argument("--seed", type=_non_negative_int, default=0, metavar="S",
                   help="episode i resets with seed S + i (default 0; manipulation seeds >= 1000000 are the "
                        "test range)")
    p.add_argument("--frames", action="store_true", help="also store rendered frames (for pixel progress models)")
    p.add_argument("--overwrite", action="store_true", help="replace a demo set already in --out")
    p.add_argument("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE", help="env constructor arguments")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("fit-progress", help="fit a progress model on a demo folder (for --reward progress:PATH)")
    p.add_argument("demos", help="a demo folder written by collect-demos (or rewardgym.collect_demos)")
    p.add_argument("--out", required=True, metavar="DIR", help="where to save the model")
    p.add_argument("--encoder", choices=("auto", "state", "pixels", "text"), default="auto",
                   help="what the model reads (default auto: from the demos)")
    p.add_argument("--keys", nargs="+", metavar="KEY",
                   help="state encoder: the observation keys to read (e.g. goal_delta for goal-conditioned tasks)")
    p.add_argument("--epochs", type=_positive_int, metavar="N", help="training epochs (default: the model's)")
    p.add_argument("--val-fraction", type=float, default=0.2, metavar="F",
                   help="share of the episodes held out for VOC (default 0.2)")
    p.add_argument("--seed", type=_non_negative_int, default=0, metavar="S")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("synthesize-reward", help="have an LLM write and improve reward code (Eureka), run sandboxed")
    p.add_argument("env_id", help="an env that reports info['success'] (e.g. rewardgym/Manip-Reach-v0)")
    p.add_argument("--llm", required=True, metavar="SPEC",
                   help="transformers:PATH_OR_HUB_ID or openai:URL#MODEL (an OpenAI-compatible server)")
    p.add_argument("--iterations", type=_positive_int, default=3, help="rounds of sampling and reflection (3)")
    p.add_argument("--candidates", type=_positive_int, default=4, help="reward functions per round (4)")
    p.add_argument("--train-steps", type=_positive_int, default=50_000, help="PPO steps per candidate (50000)")
    p.add_argument("--eval-episodes", type=_positive_int, default=20, help="held-out episodes per candidate (20)")
    p.add_argument("--num-envs", type=_positive_int, default=8)
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.add_argument("--out", metavar="DIR", help="the run folder (default runs/reward-code/...)")
    p.add_argument("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE", help="env constructor arguments")
    p.add_argument("--device", default="auto", help="where a transformers LLM runs (default auto)")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the server's key")
    p.add_argument("--max-new-tokens", type=_positive_int, default=1024, metavar="N",
                   help="the longest answer the LLM may write (1024)")
    p.add_argument("--sandbox", choices=("os", "trusted"), default="os",
                   help="os: the OS sandbox, refused where the machine lacks a layer of it (default); "
                        "trusted: process limits only, for code you trust")

    p = sub.add_parser("sandbox-check", help="show which layers of the reward-code sandbox this machine provides")
    p.add_argument("--sandbox", choices=("os", "trusted"), default="os", help="the mode to check (default os)")

    p = sub.add_parser("reward-eval", help="judge a reward model on expert and random rollouts before training on it")
    p.add_argument("env_id", help="a rewardgym id; families with a scripted expert (Manip, Dungeon, GUI, Text) get "
                                  "VOC, the others random rollouts only")
    p.add_argument("--reward", required=True, metavar="SPEC", help="the reward spec to judge (as for train --reward)")
    p.add_argument("--episodes", type=_positive_int, default=20, metavar="N", help="episodes per policy (default 20)")
    p.add_argument("--seed", type=_non_negative_int, default=0, metavar="S",
                   help="episode i of each policy resets with seed S + i (default 0)")
    p.add_argument("--env-kwargs", nargs="*", default=[], metavar="KEY=VALUE", help="env constructor arguments")
    p.add_argument("--plot", metavar="PATH", help="also save a figure (.png, .pdf or .svg)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def _int(text: str) -> int:
    try:
        return int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


# -- commands ------------------------------------------------------------------------------
LIST_WIDTH = 100  # rewardgym list fits a terminal of this width (details: --long)


def cmd_list(args) -> int:
    import gymnasium as gym

    from rewardgym.envs.multiagent import ENVS as MULTIAGENT
    from rewardgym.envs.multiagent import make
    from rewardgym.registration import ENVS

    family = None if args.family is None else args.family.lower().replace("-", "")
    wanted = set(args.ids)
    known = {e.id for e in ENVS} | set(MULTIAGENT)
    unknown = sorted(wanted - known)
    if unknown:
        raise UsageError(f"no environment {unknown[0]!r} (rewardgym list shows the ids)")
    rows = []  # (id, family, observation, action, description)
    for entry in ENVS:
        if (family is None or entry.family.lower() == family) and (not wanted or entry.id in wanted):
            env = gym.make(entry.id)
            rows.append((entry.id, entry.family, space_summary(env.observation_space),
                         space_summary(env.action_space), entry.description))
            env.close()
    for name, description in MULTIAGENT.items():
        if (family is None or family == "multiagent") and (not wanted or name in wanted):
            env = make(name)
            agent = env.possible_agents[0]
            rows.append((name, "MultiAgent", space_summary(env.observation_space(agent)),
                         space_summary(env.action_space(agent)), description))
            env.close()
    if not rows:
        families = sorted({e.family for e in ENVS} | {"MultiAgent"})
        raise UsageError(f"no family {args.family!r}; families: {', '.join(families)}")
    if args.long:
        for env_id, fam, observation, action, description in rows:
            print(f"{env_id}  ({fam})")
            for label, text in (("task", description), ("observation", observation), ("action", action)):
                print(_wrapped(f"  {label}: ", text))
            print()
        return 0
    width_id = max(len(r[0]) for r in rows)
    width_action = max(len(r[3]) for r in rows)
    room = max(LIST_WIDTH - width_id - width_action - 6, 20)
    current = None
    for env_id, fam, _, action, description in rows:
        if fam != current:
            current = fam
            print(("" if env_id == rows[0][0] else "\n") + fam + (
                " (PettingZoo parallel envs: rewardgym.envs.multiagent.make(NAME); train takes NAME)"
                if fam.startswith("MultiAgent") else ""))
        text = description if len(description) <= room else description[: room - 1] + "…"
        print(f"  {env_id.ljust(width_id)}  {action.ljust(width_action)}  {text}")
    return 0


def _wrapped(head: str, text: str) -> str:
    """``head + text`` wrapped at LIST_WIDTH, continuation lines indented under the text."""
    import textwrap

    return textwrap.fill(text, LIST_WIDTH, initial_indent=head, subsequent_indent=" " * len(head),
                         break_on_hyphens=False)


def space_summary(space) -> str:
    """A short description of a space: ``Discrete(10)``, ``Box(84,84,3)``, ``Dict(last_arm:10, ...)``."""
    from gymnasium import spaces

    if isinstance(space, spaces.Dict):
        return "Dict(" + ", ".join(f"{k}:{space_summary(v)}" for k, v in space.spaces.items()) + ")"
    if isinstance(space, spaces.Box):
        return "Box(" + ",".join(map(str, space.shape)) + ")"
    if isinstance(space, spaces.Discrete):
        return f"Discrete({space.n})"
    if isinstance(space, spaces.Text):
        return "Text"
    return type(space).__name__


def _agent_class(name: str) -> type:
    from rewardgym.agents import agent_class

    try:
        return agent_class(name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _envs(spec, env_id: str, num_envs: int, env_kwargs: dict[str, Any], ray: tuple[str, int] | None = None,
          team_reward: bool = False):
    from rewardgym.workflows.training import make_envs

    try:
        if ray is None:
            return make_envs(spec, env_id, num_envs, env_kwargs, team_reward=team_reward)
        return make_envs(spec, env_id, num_envs, env_kwargs, workers=ray[1], ray_address=ray[0], placement=ray[2],
                         team_reward=team_reward)
    except (ValueError, ImportError) as exc:
        raise UsageError(str(exc).splitlines()[0]) from None


def _reward_model(spec: str, actor: dict[str, Any] | None = None):
    """The learned reward of ``--reward``, built once for the whole run (in a Ray actor with ``actor``:
    ``{"address", "num_gpus"}``)."""
    from rewardgym.reward_models.synthesis.sandbox import RewardCodeError
    from rewardgym.rewards import make_reward

    try:
        if actor is not None:
            from rewardgym.reward_models.remote import RayRewardModel

            address = None if actor["address"] == "local" else actor["address"]
            return RayRewardModel(spec, num_gpus=float(actor.get("num_gpus", 0.0)), address=address)
        return make_reward(spec)
    except (ValueError, TypeError, OSError, RewardCodeError, ImportError) as exc:  # OSError: an unloadable folder
        raise UsageError(f"--reward: {str(exc).splitlines()[0]}") from None


def cmd_train(args) -> int:
    from rewardgym import __version__
    from rewardgym.workflows.presets import preset_for
    from rewardgym.workflows.runs import FINAL_CHECKPOINT, new_run_dir, write_config

    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    if args.resume:
        if args.env_id or args.agent:
            raise UsageError("--resume takes the env and agent from the run folder; give no ENV_ID or --agent")
        return _resume(args)
    if not args.env_id or not args.agent:
        raise UsageError("train needs ENV_ID and --agent (or --resume RUN_DIR)")
    out = Path(args.out)
    blocker = next((p for p in (out, *out.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise UsageError(f"--out {args.out}: {blocker} is a file, not a folder")
    env_kwargs = parse_assignments(args.env_kwargs, "--env-kwargs")
    agent_config = parse_assignments(args.config, "--config")
    cls = _agent_class(args.agent)
    preset = None if args.no_preset else preset_for(args.env_id, cls.spec.name)
    if preset is not None:  # the command line wins, key by key
        env_kwargs = {**preset.env_kwargs, **env_kwargs}
        agent_config = {**preset.config, **agent_config}
        if args.num_envs is None and preset.num_envs:
            args.num_envs = preset.num_envs
        if args.steps is None and preset.steps:
            args.steps = preset.steps
        print(f"preset {preset.pattern} / {preset.agent}: {preset.describe()} ({preset.why}); --no-preset to drop it",
              file=sys.stderr)
    if args.steps is None:
        args.steps = DEFAULT_STEPS
    spec = cls.spec
    if spec.settings is not None:
        unknown = sorted(set(agent_config) - spec.settings)
        if unknown:
            raise UsageError(f"agent {args.agent!r} has no setting {unknown[0]!r}; its settings: "
                             f"{', '.join(sorted(spec.settings))}")
    agent_config.setdefault("seed", args.seed)
    if spec.takes_device:
        agent_config.setdefault("device", args.device)
    elif args.device != "auto":
        raise UsageError(f"agent {args.agent!r} runs on the CPU only: it takes no --device")
    if args.model is not None:
        if not spec.takes_model:
            raise UsageError(f"--model is for the llm-* agents; agent {args.agent!r} takes no model")
        agent_config["model"] = args.model
    elif spec.takes_model and "model" not in agent_config:
        raise UsageError(f"agent {args.agent!r} needs --model (a folder with a transformers causal LM, or a hub id)")
    num_envs = args.num_envs or spec.default_num_envs
    ray = _ray_settings(args)
    if ray is not None:
        num_envs = max(num_envs, ray[1])
    reward_actor = None
    if args.reward_on_ray is not None:
        if not args.reward:
            raise UsageError("--reward-on-ray runs the --reward model in a Ray actor: give --reward")
        reward_actor = {"address": args.reward_on_ray, "num_gpus": args.reward_gpus}
    elif args.reward_gpus:
        raise UsageError("--reward-gpus is the reward model's GPUs on Ray: give it with --reward-on-ray")
    rollouts = ray is not None and spec.env_interface == "text"  # an LLM agent: episodes played by Ray workers
    if rollouts and reward_actor:
        raise UsageError("--reward-on-ray: with --ray an llm-* agent's rollout workers build and score the learned "
                         "reward themselves; drop --reward-on-ray")
    # with rollout workers the learned reward is built and scored on them, not here (its spec checked first)
    worker_reward = (_worker_reward(args.reward, args.reward_mode, args.reward_coef, args.reward_env_coef)
                     if rollouts else None)
    env, reward_model = _training_envs(spec, args.env_id, num_envs, env_kwargs, None if rollouts else args.reward,
                                       args.reward_mode, args.reward_coef, args.reward_env_coef,
                                       None if rollouts else ray, args.team_reward, reward_actor)
    try:
        agent = cls(env, **agent_config)
    except (TypeError, ValueError, OSError, ImportError) as exc:  # OSError: an unloadable model folder
        _close(env, reward_model)
        raise UsageError(f"agent {args.agent!r}: {str(exc).splitlines()[0]}") from None
    if rollouts:
        _distribute_rollouts(agent, args.env_id, env_kwargs, ray, env, reward_model, worker_reward)
    elif ray is not None:
        _launch_workers(agent, env, reward_model)

    run_dir = new_run_dir(args.out, args.env_id, args.agent, args.seed)
    write_config(run_dir, {
        "env_id": args.env_id, "env_kwargs": env_kwargs, "num_envs": num_envs, "agent": args.agent,
        "agent_config": agent_config, "reward": args.reward, "reward_mode": args.reward_mode,
        "reward_coef": args.reward_coef, "reward_env_coef": args.reward_env_coef, "steps": args.steps,
        "seed": args.seed, "device": args.device, "checkpoint": FINAL_CHECKPOINT, "rewardgym_version": __version__,
        "preset": None if preset is None else preset.pattern, "team_reward": args.team_reward,
        "reward_actor": reward_actor,
        "eval_deterministic": True if preset is None else preset.eval_deterministic,
        "ray": None if ray is None else {"address": ray[0], "num_workers": ray[1], "placement": ray[2]},
    })
    print(f"run folder: {run_dir}", file=sys.stderr)
    every = args.checkpoint_every if args.checkpoint_every is not None else max(1, args.steps // 10)
    video = _video_capture(args, spec, agent, env_kwargs, run_dir) if args.capture_video else None
    return _learn(agent, env, run_dir, args.steps, every, args.no_progress, reward_model=reward_model, video=video)


def _ray_settings(args, recorded: dict[str, Any] | None = None) -> tuple[str, int, str] | None:
    """``(address, workers, placement)`` of ``--ray``, ``--num-workers`` and ``--ray-placement``, each falling back on
    the run's ``recorded`` settings (``--resume``), then on the defaults; None without Ray."""
    recorded = recorded or {}
    if args.ray is None and not recorded:
        for flag, value in (("--num-workers", args.num_workers), ("--ray-placement", args.ray_placement)):
            if value is not None:
                raise UsageError(f"{flag} is for Ray workers: give it with --ray")
        return None
    return (args.ray or recorded.get("address", "local"), args.num_workers or recorded.get("num_workers", 2),
            args.ray_placement or recorded.get("placement", "spread"))


def _worker_reward(spec: str | None, mode: str, coef: float, env_coef: float) -> dict[str, Any] | None:
    """``LearnedReward``'s arguments for the LLM rollout workers, which build the reward themselves."""
    if not spec:
        return None
    from rewardgym.rewards import available_rewards, parse_reward_spec

    try:  # what can be checked without building the model here; the workers' own errors come back in one line
        name = parse_reward_spec(spec).name
    except ValueError as exc:
        raise UsageError(f"--reward: {str(exc).splitlines()[0]}") from None
    if name not in available_rewards():
        raise UsageError(f"--reward: unknown reward {name!r}; available: {', '.join(available_rewards())}")
    return {"model": spec, "mode": mode, "coef": coef, "env_coef": env_coef}


def _distribute_rollouts(agent, env_id: str, env_kwargs: dict[str, Any], ray: tuple[str, int], env,
                         reward_model, reward: dict[str, Any] | None = None) -> None:
    """``train --agent llm-* --ray``: the LLM agent's episodes played by Ray workers with copies of the policy
    (and ``reward``, the learned reward's arguments, built and scored on each)."""
    try:
        workers = agent.distribute_rollouts(env_id, env_kwargs, ray[1], address=None if ray[0] == "local" else ray[0],
                                            placement=ray[2],
                                            reward=reward)
    except (ImportError, ValueError, ConnectionError, RuntimeError) as exc:
        _close(env, reward_model)
        raise UsageError(f"--ray: {str(exc).splitlines()[0]}") from None
    print(f"LLM rollouts on {workers.num_workers} Ray workers" + (" (each scoring the learned reward)" if reward
                                                                  else ""), file=sys.stderr)


def _launch_workers(agent, env, reward_model) -> None:
    """``train --agent ppo --ray``: start the rollout workers with copies of the policy before the run, so that
    workers the cluster cannot start are one line (the other agents' env workers started with their envs)."""
    launch = getattr(env, "launch", None)
    if launch is None:
        return
    try:
        launch(agent)
    except ValueError as exc:
        _close(env, reward_model)
        raise UsageError(f"--ray: {str(exc).splitlines()[0]}") from None
    print(f"PPO rollouts on {len(env.workers)} Ray workers, each with a copy of the policy"
          + (" (the learned reward scored here)" if reward_model is not None else ""), file=sys.stderr)


def _video_capture(args, spec, agent, env_kwargs: dict[str, Any], run_dir: Path):
    """``train --capture-video``: the callback that records the agent as it learns."""
    from rewardgym.workflows.video import VideoCapture, render_settings

    try:
        mode, fps = render_settings(args.env_id, env_kwargs)
    except ValueError as exc:
        raise UsageError(f"--capture-video: {exc}") from None
    every = args.video_every or max(1, args.steps // 4)
    return VideoCapture(agent, lambda: _envs(spec, args.env_id, 1, {**env_kwargs, "render_mode": mode}),
                        run_dir / "videos", every, seed=args.seed + HELD_OUT_SEEDS, fps=fps, fmt=args.video_format)


def _training_envs(spec, env_id: str, num_envs: int, env_kwargs: dict[str, Any], reward: str | None,
                   reward_mode: str = "add", reward_coef: float = 1.0, reward_env_coef: float = 1.0,
                   ray: tuple[str, int] | None = None, team_reward: bool = False,
                   reward_actor: dict[str, Any] | None = None):
    """``(env, reward model)``: the envs of ``spec``'s kind (stepped by Ray actors with ``ray``: (address,
    workers)), with the learned reward when one is given (scored by the learner, on the whole batch; in
    a Ray actor of its own with ``reward_actor``)."""
    from rewardgym.workflows.training import with_learned_reward

    env = _envs(spec, env_id, num_envs, env_kwargs, ray, team_reward)
    if not reward:
        return env, None
    try:
        model = _reward_model(reward, reward_actor)
    except BaseException:
        env.close()
        raise
    try:
        return with_learned_reward(env, spec, model, reward_mode, reward_coef, reward_env_coef), model
    except ValueError as exc:  # a model the env cannot serve (frames without rgb_array rendering)
        _close(env, model)
        raise UsageError(f"--reward: {exc}") from None


def _close(env, reward_model) -> None:
    from rewardgym.rewards import close_model

    env.close()
    if reward_model is not None:
        close_model(reward_model)


def _learn(agent, env, run_dir: Path, steps: int | None, checkpoint_every: int, no_progress: bool,
           resume_step: int | None = None, reward_model=None, video=None) -> int:
    """Train in the run folder; the final checkpoint is saved even on Ctrl-C (exit status 130 then)."""
    from rewardgym.workflows.runs import CURVE_FILE, read_metrics, run_summary
    from rewardgym.workflows.training import train

    try:
        last, interrupted = train(agent, env, run_dir, steps, checkpoint_every=checkpoint_every,
                                  progress=not no_progress, resume_step=resume_step, reward_model=reward_model,
                                  callbacks=[video] if video is not None else [])
    finally:
        if callable(getattr(agent, "close_rollouts", None)):
            agent.close_rollouts()
    if video is not None and not interrupted:
        video.finish(int(agent.global_step) if hasattr(agent, "global_step") else int(last.get("step", 0)))
        print(f"videos: {video.out_dir} ({len(video.paths)} recordings)")
    with contextlib.suppress(OSError, ValueError):  # no metrics.csv: what the logger kept
        last = run_summary(read_metrics(run_dir)) or last
    shown = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "step")
    per_step = " (per-step means over the last 10% of steps)" if any(k.endswith("_per_step") for k in last) else ""
    print(f"trained to step {int(last.get('step', 0))}: {shown}{per_step}")
    print(f"learning curve: {run_dir / CURVE_FILE}")
    return 130 if interrupted else 0


def _resume(args) -> int:
    from rewardgym.agents import load_agent
    from rewardgym.workflows.runs import latest_checkpoint, read_config

    run_dir = Path(args.resume)
    try:
        config = read_config(run_dir)
        checkpoint = latest_checkpoint(run_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    spec = _agent_class(config["agent"]).spec
    # Ray as the run had it, unless --ray gives another cluster (the old one gone: --ray alone starts a local one)
    ray = _ray_settings(args, config.get("ray") or {})
    rollouts = ray is not None and spec.env_interface == "text"
    worker_reward = (_worker_reward(config.get("reward"), config.get("reward_mode", "add"),
                                    config.get("reward_coef", 1.0), config.get("reward_env_coef", 1.0))
                     if rollouts else None)
    env, reward_model = _training_envs(spec, config["env_id"], int(config["num_envs"]), config.get("env_kwargs", {}),
                                       None if rollouts else config.get("reward"), config.get("reward_mode", "add"),
                                       config.get("reward_coef", 1.0), config.get("reward_env_coef", 1.0),
                                       None if rollouts else ray, bool(config.get("team_reward", False)),
                                       config.get("reward_actor"))
    try:
        agent = load_agent(checkpoint, env)
        if not agent.unfinished_steps:
            raise ValueError(f"{run_dir} has nothing left to resume ({checkpoint.name} ends its run)")
    except (FileNotFoundError, ValueError, OSError) as exc:
        _close(env, reward_model)
        message = str(exc) if "nothing left" in str(exc) else f"cannot load {checkpoint}: {exc}"
        raise UsageError(message) from None
    if rollouts:
        _distribute_rollouts(agent, config["env_id"], config.get("env_kwargs", {}), ray, env, reward_model,
                             worker_reward)
    elif ray is not None:
        _launch_workers(agent, env, reward_model)
    where = "" if ray is None else f" with {ray[1]} Ray workers ({ray[0]})"
    print(f"resuming {run_dir} from {checkpoint.name} at step {agent.global_step}{where}", file=sys.stderr)
    every = args.checkpoint_every if args.checkpoint_every is not None else max(1, int(config["steps"]) // 10)
    return _learn(agent, env, run_dir, None, every, args.no_progress, resume_step=agent.global_step,
                  reward_model=reward_model)


def _read_run(run_dir: str) -> dict[str, Any]:
    from rewardgym.workflows.runs import read_config

    try:
        return read_config(run_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def _load_run_agent(run_dir: str, config: dict[str, Any], env):
    """The run's final (or configured) checkpoint loaded for ``env``; one line when it cannot be (env closed)."""
    from rewardgym.agents import load_agent
    from rewardgym.workflows.runs import FINAL_CHECKPOINT

    try:
        return load_agent(Path(run_dir) / config.get("checkpoint", FINAL_CHECKPOINT), env)
    except (FileNotFoundError, ValueError, OSError) as exc:
        env.close()
        raise UsageError(f"cannot load the agent: {exc}") from None


HELD_OUT_SEEDS = 1_000_000  # evaluation and videos play seeds from the run's seed + this: training never does


def _held_out_seed(args, config: dict[str, Any]) -> int:
    """``--seed``, else the run's seed + :data:`HELD_OUT_SEEDS`."""
    return args.seed if args.seed is not None else int(config.get("seed", 0)) + HELD_OUT_SEEDS


def cmd_eval(args) -> int:
    """Evaluate on the environment's own reward: the learned reward the run trained with is not built."""
    config = _read_run(args.run_dir)
    video = None
    if args.video:  # before anything runs: an env that cannot be filmed is one line, at once
        from rewardgym.workflows.video import render_settings

        try:
            video = render_settings(config["env_id"], config.get("env_kwargs", {}))
        except ValueError as exc:
            raise UsageError(f"--video: {exc}") from None
    num_envs = args.num_envs or min(args.episodes, 16)
    env = _envs(_agent_class(config["agent"]).spec, config["env_id"], num_envs, config.get("env_kwargs", {}))
    agent = _load_run_agent(args.run_dir, config, env)
    seed = _held_out_seed(args, config)
    has_mode = "deterministic" in inspect.signature(agent.evaluate).parameters
    if args.deterministic is not None and not has_mode:
        env.close()
        raise UsageError(f"agent {config['agent']!r} has no deterministic mode: it evaluates as it acts "
                         f"(drop --deterministic/--stochastic)")
    default = bool(config.get("eval_deterministic", True))  # a preset may say sampling is the policy to judge
    deterministic = (default if args.deterministic is None else args.deterministic) if has_mode else None
    try:
        options = {} if deterministic is None else {"deterministic": deterministic}
        result = agent.evaluate(env, args.episodes, seed=seed, **options)
    finally:
        env.close()
    policy = {None: "as it acts", True: "deterministic", False: "stochastic"}[deterministic]
    by_preset = " (the run's preset; --deterministic for the mode)" if has_mode and args.deterministic is None \
        and not default else ""
    videos = _record_videos(args, config, agent, seed, *video) if video else []
    if args.json:
        print(json.dumps({**result, "policy": policy, **({"videos": videos} if args.video else {})}, indent=2))
    else:
        print(f"{config['agent']} on {config['env_id']}, {result['episodes']} episodes from seed {seed}, "
              f"{policy} policy{by_preset}:")
        for key, value in result.items():
            print(f"  {key:<20} {value:.4g}")
        for video in videos:
            print(f"video: {video['path']} ({video['length']} steps, return {video['return']:.4g}"
                  + ("" if video["success"] is None else f", {'success' if video['success'] else 'no success'}")
                  + (", cut at 1000 frames" if video["cut"] else "") + ")")
    return 0


def _record_videos(args, config: dict[str, Any], agent, seed: int, mode: str, fps: float) -> list[dict[str, Any]]:
    """``eval --video``: the agent's episodes from ``seed`` on, rendered in ``mode`` and written to RUN_DIR/videos/."""
    from rewardgym.workflows.video import record_episodes, write_video

    env_id, env_kwargs = config["env_id"], dict(config.get("env_kwargs", {}))
    spec = _agent_class(config["agent"]).spec
    episodes = record_episodes(agent, lambda: _envs(spec, env_id, 1, {**env_kwargs, "render_mode": mode}),
                               args.video_episodes, seed)
    out = []
    for k, episode in enumerate(episodes):
        stem = Path(args.run_dir) / "videos" / f"eval-seed{seed + k}"
        try:
            path = write_video(episode.pop("frames"), stem, fps=fps, fmt=args.video_format)
        except ValueError as exc:
            raise UsageError(f"--video: {exc}") from None
        out.append({"path": str(path), **episode})
    return out


def cmd_play(args) -> int:
    import gymnasium as gym

    import rewardgym  # noqa: F401
    from rewardgym.wrappers.text import TextInterface

    from rewardgym.envs.multiagent import ENVS as MULTIAGENT

    if (args.env_id is None) == (args.run is None):
        raise UsageError("give an env id to play yourself, or --run RUN_DIR to watch a trained agent (not both)")
    if args.run and args.seat:  # a seat of a multi-agent run's game; its trained policy plays the others
        config = _read_run(args.run)
        if config["env_id"].removeprefix("rewardgym/") not in MULTIAGENT:
            raise UsageError(f"--seat is for multi-agent games, and {args.run} trained on {config['env_id']}")
        return _play_seat(args, config)
    if args.run:
        return _watch(args)
    if args.env_id in MULTIAGENT:
        return _play_seat(args)

    try:
        env = gym.make(args.env_id, **parse_assignments(args.env_kwargs, "--env-kwargs"))
        env = TextInterface(env)
    except gym.error.Error as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    except TypeError as exc:
        raise UsageError(f"{args.env_id} cannot be played in the terminal: {exc}") from None
    text, info = env.reset(seed=args.seed)
    print(text)
    total = 0.0
    while True:
        try:
            command = input("> ")
        except (EOFError, KeyboardInterrupt):
            print()
            break
        if command.strip().lower() in ("quit", "exit"):
            break
        text, reward, terminated, truncated, info = env.step(command)
        total += reward
        print(text)
        if terminated or truncated:
            print(f"Episode over. Total reward {total:g}." + _episode_facts(info))
            break
    env.close()
    return 0


def _play_seat(args, run: dict[str, Any] | None = None) -> int:
    """``play`` on a multi-agent id: the person takes one seat (``--seat``), uniform random players the others
    — or, given a multi-agent ``run``'s config (``play --run RUN --seat S``), its trained policy.

    The person sees what the seat sees where the env can show one seat (``render_agent``), else
    the whole game; numbered choices when the game lists them; typed commands when the seat's
    actions are free text. Random players keep to their action masks; the trained policy acts on
    the other seats' observations as one batch, as it was trained (every seat a row).
    """
    import numpy as np
    from gymnasium import spaces

    from rewardgym.envs.multiagent import make as make_multiagent

    env_id = run["env_id"] if run else args.env_id
    kwargs = {**(run.get("env_kwargs", {}) if run else {}), **parse_assignments(args.env_kwargs, "--env-kwargs")}
    try:
        env = make_multiagent(env_id, render_mode="ansi", **kwargs)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"bad --env-kwargs for {env_id}: {str(exc).splitlines()[0]}") from None
    trained = None
    if run:
        spec = _agent_class(run["agent"]).spec
        rows = _envs(spec, env_id, 1, kwargs)
        trained = _load_run_agent(args.run, run, rows)
        rows.close()
        mode = ({"deterministic": bool(run.get("eval_deterministic", True))}
                if "deterministic" in inspect.signature(trained.act).parameters else {})
    seat = args.seat or env.possible_agents[0]
    if seat not in env.possible_agents:
        raise UsageError(f"--seat {seat!r}: {env_id}'s seats are {', '.join(env.possible_agents)}")
    space = env.action_space(seat)
    typed = isinstance(space, spaces.Text)
    if not typed and not isinstance(space, spaces.Discrete):
        raise UsageError(f"{args.env_id}'s actions are {type(space).__name__}: only numbered actions or text "
                         f"commands can be typed")
    rng = np.random.default_rng(args.seed)
    observations, infos = env.reset(seed=args.seed)

    def show() -> None:
        print(env.render_agent(seat) if hasattr(env, "render_agent") else env.render())
        for number, command in enumerate(infos.get(seat, {}).get("choices", ()) if seat in env.agents else ()):
            print(f"  {int(space.start) + number}: {command}")

    def allowed(agent: str) -> np.ndarray:
        agent_space = env.action_space(agent)
        mask = infos.get(agent, {}).get("action_mask")
        return np.flatnonzero(mask) if mask is not None else np.arange(agent_space.n)

    def random_action(agent: str):
        agent_space = env.action_space(agent)
        if isinstance(agent_space, spaces.Discrete):
            return int(agent_space.start + rng.choice(allowed(agent)))
        return agent_space.sample()

    def others() -> dict[str, Any]:
        agents = [agent for agent in env.agents if agent != seat]
        if trained is None or not agents:
            return {agent: random_action(agent) for agent in agents}
        batch = {key: np.stack([np.asarray(observations[a][key]) for a in agents]) for key in observations[agents[0]]}
        if spec.global_state:  # a centralised critic's input, which the policy was built to receive
            batch["state"] = np.repeat(np.asarray(env.state())[None], len(agents), axis=0)
        masks = [infos.get(a, {}).get("action_mask") for a in agents]
        info = None if any(m is None for m in masks) else {"action_mask": np.stack(masks),
                                                           "_action_mask": np.ones(len(agents), bool)}
        return dict(zip(agents, (a.item() if hasattr(a, "item") else a for a in trained.act(batch, info=info,
                                                                                             **mode))))

    how = ("Type a command each turn (quit to stop)." if typed else
           f"Type an action number ({int(space.start)}-{int(space.start + space.n - 1)}) each turn, or quit.")
    partners = f"the trained {run['agent']} of {args.run} plays" if run else "play at random"
    print(f"You are {seat} in {env_id}; the other seats {partners}. {how}")
    show()
    total = 0.0
    while seat in env.agents:
        try:
            command = input(f"{seat}> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            break
        if command.lower() in ("quit", "exit"):
            break
        if typed:
            action = command
        else:
            try:
                action = int(command)
                if not space.contains(action):
                    raise ValueError
            except ValueError:
                print(f"type an action number from {int(space.start)} to {int(space.start + space.n - 1)}, or quit")
                continue
            if action - int(space.start) not in allowed(seat):
                print(f"{action} cannot be done now; the numbers that can: "
                      f"{', '.join(str(int(space.start) + a) for a in allowed(seat))}")
                continue
        actions = {**others(), seat: action}
        observations, rewards, terminations, truncations, infos = env.step(actions)
        total += float(rewards[seat])
        print(f"you got {rewards[seat]:g}")
        show()
        if terminations[seat] or truncations[seat]:
            print(f"Episode over. Your total reward {total:g}." + _episode_facts(infos[seat]))
    env.close()
    return 0


def _watch(args) -> int:
    """``play --run``: the run's agent plays its env in the terminal, one ``ansi`` picture per step."""
    import time

    from rewardgym.workflows.video import record_episodes, render_modes

    config = _read_run(args.run)
    env_id = config["env_id"]
    env_kwargs = {**config.get("env_kwargs", {}), **parse_assignments(args.env_kwargs, "--env-kwargs")}
    try:
        modes, _ = render_modes(env_id, env_kwargs)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if "ansi" not in modes:
        raise UsageError(f"{env_id} draws no terminal picture (render modes {modes}): record a video of the run "
                         f"with: rewardgym eval {args.run} --video")
    spec = _agent_class(config["agent"]).spec

    def make_env():
        return _envs(spec, env_id, 1, {**env_kwargs, "render_mode": "ansi"})

    env = make_env()
    agent = _load_run_agent(args.run, config, env)
    env.close()
    seed = _held_out_seed(args, config)
    pause = 1.0 / args.fps if args.fps > 0 else 0.0
    clear = "\x1b[H\x1b[2J" if sys.stdout.isatty() else ""

    def show(text: str) -> None:
        print(f"{clear}{text}", flush=True)
        time.sleep(pause)

    try:
        episodes = record_episodes(agent, make_env, args.episodes, seed, on_frame=show)
    except KeyboardInterrupt:
        print()
        return 0
    for k, episode in enumerate(episodes):
        success = "" if episode["success"] is None else (", success" if episode["success"] else ", no success")
        print(f"episode {k + 1} (seed {seed + k}): {episode['length']} steps, return {episode['return']:.4g}{success}")
    return 0


def _episode_facts(info: dict) -> str:
    facts = []
    if "cumulative_regret" in info:
        facts.append(f"regret {info['cumulative_regret']:.2f}")
    if "best_arm_fraction" in info:
        facts.append(f"best arm pulled {100 * info['best_arm_fraction']:.0f}% of the time")
    if "success" in info:
        facts.append("success" if info["success"] else "no success")
    return (" " + ", ".join(facts) + ".") if facts else ""


def sweep_train(argv: list[str]):
    """One run of a sweep: ``rewardgym train ARGV`` in this process, quiet; its status and run folder.

    Module-level so that a process pool or a Ray worker can import it by name.
    """
    import contextlib
    import io

    from rewardgym.workflows.sweep import RunResult

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["train", *argv, "--no-progress", "--threads", "1"])
    folder = re.search(r"^run folder: (.+)$", err.getvalue(), re.MULTILINE)
    lines = [line for line in err.getvalue().strip().splitlines() if not line.startswith("run folder: ")]
    return RunResult(status, folder.group(1).strip() if folder else None, lines[-1] if lines else "")


def cmd_sweep(args) -> int:
    from rewardgym.workflows.sweep import parse_seeds, run_sweep

    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    grid = parse_assignments(args.grid, "--grid")
    parse_assignments(args.config, "--config")  # a malformed item is one line now, not one per run
    parse_assignments(args.env_kwargs, "--env-kwargs")
    passed = getattr(args, "train_args", [])
    own = sorted({"--config", "--env-kwargs", "--reward", "--steps", "--seed", "--out", "--agent"} & set(passed))
    if own:
        raise UsageError(f"give {', '.join(own)} to sweep itself, not after --")
    train_argv = [*([] if args.steps is None else ["--steps", str(args.steps)]), *passed]
    if args.reward:
        train_argv += ["--reward", args.reward]
    if args.env_kwargs:
        train_argv += ["--env-kwargs", *args.env_kwargs]
    try:  # every run's arguments must parse: check once, before anything starts
        build_parser().parse_args(["train", args.env_id, "--agent", args.agent, *train_argv, "--config", *args.config])
    except SystemExit:
        raise UsageError("the train arguments above do not parse (see rewardgym train --help)") from None
    try:
        result = run_sweep(args.env_id, args.agent, seeds, grid, train_argv, sweep_train, config=args.config,
                           out=args.out,
                           parallel=args.jobs, ray_address=None if args.ray == "local" else args.ray,
                           use_ray=args.ray is not None, metric=args.metric)
    except (ImportError, ValueError) as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    for group in result.summary:
        print(f"{group['label']}: seeds {group['seeds']}, at step {group['step']:.0f}: IQM {group['iqm']:.4g} "
              f"[{group['ci'][0]:.4g}, {group['ci'][1]:.4g}]")
    if result.plot:
        print(f"plot: {result.plot}")
    if result.failed:
        print(f"rewardgym: {len(result.failed)} of {len(result.jobs)} runs failed (listed above; "
              f"{result.folder / 'sweep.json'})", file=sys.stderr)
        return 1
    return 0


def cmd_plot(args) -> int:
    from rewardgym.workflows.runs import compare_runs

    try:
        path, summary = compare_runs(args.run_dirs, args.out, args.metric)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    for group in summary:
        print(f"{group['label']}: seeds {group['seeds']}, at step {group['step']:.0f}: IQM {group['iqm']:.4g} "
              f"[{group['ci'][0]:.4g}, {group['ci'][1]:.4g}]")
    print(f"plot: {path}")
    return 0


def cmd_fit_progress(args) -> int:
    from rewardgym.workflows.progress import fit_progress_model

    if not 0.0 < args.val_fraction < 1.0:
        raise UsageError(f"--val-fraction must be in (0, 1), got {args.val_fraction}")
    try:
        report = fit_progress_model(args.demos, args.out, encoder=args.encoder, epochs=args.epochs, seed=args.seed,
                                    progress=not args.no_progress, val_fraction=args.val_fraction, keys=args.keys,
                                    device=args.device)
    except (ValueError, FileNotFoundError) as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    print(f"{report['encoder']} progress model, {report['epochs']} epochs on {report['train_episodes']} episodes: "
          f"VOC {report['voc']:.3f} on {report['val_episodes']} held-out episodes; saved to {report['path']}")
    print(f"use it with --reward progress:{report['path']}")
    return 0


def cmd_synthesize_reward(args) -> int:
    import gymnasium as gym

    import rewardgym  # noqa: F401  (registers the ids)
    from rewardgym.reward_models.llm import make_llm
    from rewardgym.reward_models.synthesis.sandbox import RewardCodeError
    from rewardgym.workflows.synthesis import synthesize_reward

    env_kwargs = parse_assignments(args.env_kwargs, "--env-kwargs")
    if args.env_id not in gym.registry:
        raise UsageError(f"unknown env id {args.env_id!r} (rewardgym list shows the ids)")
    try:
        llm = make_llm(args.llm, device=args.device, api_key_env=args.api_key_env)
    except (ValueError, OSError) as exc:
        raise UsageError(f"--llm: {str(exc).splitlines()[0]}") from None
    try:
        result = synthesize_reward(args.env_id, llm, iterations=args.iterations, candidates=args.candidates,
                                   train_steps=args.train_steps, eval_episodes=args.eval_episodes,
                                   num_envs=args.num_envs, seed=args.seed, out=args.out, env_kwargs=env_kwargs,
                                   max_new_tokens=args.max_new_tokens, sandbox=args.sandbox)
    except RewardCodeError as exc:  # the sandbox cannot run on this machine
        print(f"rewardgym: {exc}", file=sys.stderr)
        return 1
    failed = sum(c.status != "trained" for c in result.candidates)
    print(f"{len(result.candidates)} candidates, {failed} of them failed (extraction, validation or training); "
          f"run folder: {result.run_dir}")
    if result.code is None:
        print("no candidate produced a working reward; the prompts, answers and errors are in the run folder")
        return 1
    best = result.best
    print(f"best: iteration {best.iteration}, candidate {best.index}, success rate {result.score:.2f}; "
          f"use it with --reward reward-code:{result.run_dir / 'best_reward.py'}")
    return 0


def cmd_sandbox_check(args) -> int:
    from rewardgym.reward_models.synthesis._worker import LAYERS
    from rewardgym.reward_models.synthesis.sandbox import RewardCodeError, sandbox_layers

    try:
        layers = sandbox_layers(args.sandbox)
    except RewardCodeError as exc:
        print(f"rewardgym: the {args.sandbox} sandbox cannot run here: {exc}", file=sys.stderr)
        return 1
    width = max(map(len, LAYERS))
    for layer in LAYERS:
        print(f"{layer:<{width}}  {'active' if layer in layers else 'OFF   '}  {layers.get(layer, '')}")
    missing = [layer for layer in LAYERS if layer not in layers]
    print(f"sandbox={args.sandbox}: " + ("every layer is active; a test reward scored correctly" if not missing
                                         else f"{len(missing)} of {len(LAYERS)} layers off (sandbox=trusted "
                                              f"runs only code you trust)"))
    return 0


def cmd_collect_demos(args) -> int:
    from rewardgym.workflows.demos import collect_demos, load_demos

    env_kwargs = parse_assignments(args.env_kwargs, "--env-kwargs")
    try:
        demos = collect_demos(args.env_id, args.episodes, args.out, seed=args.seed, frames=args.frames,
                              env_kwargs=env_kwargs, progress=not args.no_progress, overwrite=args.overwrite)
    except (ValueError, FileExistsError) as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        try:
            kept = len(load_demos(args.out))
        except ValueError:
            kept = 0
        print(f"interrupted: {kept} whole episodes kept in {args.out}", file=sys.stderr)
        return 130
    last = args.seed + len(demos) - 1
    print(f"{len(demos)} episodes of {demos.env_id} (seeds {args.seed}-{last}): success rate "
          f"{demos.success_rate:.2f}, mean return {demos.mean_return:.4g}; written to {demos.path}")
    return 0


PLOT_FORMATS = (".png", ".pdf", ".svg")


def cmd_reward_eval(args) -> int:
    from rewardgym.workflows.reward_eval import evaluate_reward

    env_kwargs = parse_assignments(args.env_kwargs, "--env-kwargs")
    if args.plot is not None:
        _check_plot_path(Path(args.plot))
    try:
        report = evaluate_reward(args.env_id, args.reward, episodes=args.episodes, seed=args.seed,
                                 env_kwargs=env_kwargs, progress=not args.no_progress)
    except ValueError as exc:
        raise UsageError(str(exc).splitlines()[0]) from None
    if args.plot is not None:
        try:
            report.plot(args.plot)
        except OSError as exc:
            raise UsageError(f"--plot: cannot write {args.plot}: {exc.strerror or exc}") from None
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
    if args.plot is not None and not args.json:
        print(f"plot: {args.plot}")
    return 0


def _check_plot_path(path: Path) -> None:
    """Refuse a plot path that cannot work before spending the rollouts on it."""
    if path.suffix.lower() not in PLOT_FORMATS:
        raise UsageError(f"--plot: {path} must end in {', '.join(PLOT_FORMATS)}")
    if path.is_dir():
        raise UsageError(f"--plot: {path} is a folder")
    existing = next((parent for parent in path.parents if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UsageError(f"--plot: {existing} is not a folder")


def cmd_showcase(args) -> int:
    from rewardgym.workflows.showcase import run_showcase

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out} is a file, not a folder")
    run_showcase(out, steps=args.steps, seeds=args.seeds, demos=args.demos)
    return 0


COMMANDS = {"showcase": cmd_showcase, "list": cmd_list, "train": cmd_train, "eval": cmd_eval, "play": cmd_play,
            "plot": cmd_plot,
            "sweep": cmd_sweep,
            "collect-demos": cmd_collect_demos, "fit-progress": cmd_fit_progress, "reward-eval": cmd_reward_eval,
            "synthesize-reward": cmd_synthesize_reward, "sandbox-check": cmd_sandbox_check}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passed: list[str] = []
    if argv[:1] == ["sweep"] and "--" in argv:  # sweep ... -- TRAIN_ARGS: handed to every run unread
        cut = argv.index("--")
        argv, passed = argv[:cut], argv[cut + 1:]
    args = build_parser().parse_args(argv)
    if args.command == "sweep":
        args.train_args = passed
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        print(f"rewardgym: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the output was piped into a reader that stopped (| head): not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
