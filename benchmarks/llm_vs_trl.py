"""LLM GRPO: wall time per optimiser step of ours next to TRL's GRPOTrainer, same tiny model, same batch, one run.

    python benchmarks/llm_vs_trl.py [--steps 6] [--prompts 4] [--generations 4] [--max-new-tokens 32]
                                    [--repeats 1] [--hidden-size 64] [--layers 2] [--threads 1]
                                    [--multi-turn-batches 2] [--multi-turn-tokens 16] [--no-multi-turn]
                                    [--peer-python PATH | --no-peers]

Both sides train the same random tiny Llama (``rewardgym.testing.save_tiny_causal_lm``, one
folder for both, character-level tokenizer; its parameter count is printed) with GRPO on the
same single-turn task, with equal work per optimiser step:

- the prompt is what ``TextInterface(gym.make("rewardgym/Bandit-Bernoulli2-v0", horizon=1,
  instance_seed=0))`` shows on reset, after our agent's system prompt
  (``rewardgym.agents.llm.DEFAULT_SYSTEM_PROMPT``), as a chat message list through the model's
  chat template;
- one batch is ``--prompts`` P prompts x ``--generations`` G completions, sampled with
  ``generate`` at temperature 1 (no top-k, top-p or min-p), at most ``--max-new-tokens`` T new
  tokens each; one generation and one optimiser step per batch (one update epoch, one
  minibatch, no gradient accumulation, so ratio = 1 and no old-policy forward pass); ``--steps``
  S optimiser steps; AdamW, learning rate 1e-5, no weight decay, gradients clipped at norm 1;
  no KL term (beta 0), so no reference model; the GRPO loss (group-normalised advantages, each
  sequence's token mean, then the mean over sequences); fp32 on the CPU with ``--threads``
  torch threads on each side;
- the reward: the completion's ``<answer>`` (or whole text) parsed by
  ``rewardgym.envs.bandits.text.parse_arm`` (the very function and patterns, also on TRL's
  side; ours hands the env its last ``<answer>``, parse_arm takes the first), the chosen arm's
  pay-off (ours: the env's Bernoulli draw; TRL: the arm's mean), -0.1 for text that names no
  arm (ours: ``format_penalty=0.1``; the episode ends there, ``max_turns=1``). A random model
  rarely stops early, so both sides generate about T tokens a completion; the mean completion
  length of each side is printed.

Ours: ``rewardgym.agents.llm.LLMAgent(estimator="grpo", group_size=G, groups_per_batch=P,
max_turns=1, update_epochs=1, minibatches=1, kl_coef=0)`` over P x G envs,
``learn(total_steps=P*G*S)``, its other settings at their defaults (forward passes in
micro-batches of 8 sequences). TRL: ``trl.GRPOTrainer`` with ``per_device_train_batch_size=P*G``,
``num_generations=G``, ``gradient_accumulation_steps=1``, ``steps_per_generation=1``,
``num_iterations=1`` (so its generation batch is its train batch, P*G completions, one
``generate`` call per optimiser step), ``loss_type="grpo"``, ``max_steps=S``, its other settings
at their defaults (a linear learning-rate decay, entropies computed in the loss). TRL runs in a
venv of its own (torch, our transformers version and trl 1.16, created on first use; see
``peers.py``) or in the interpreter given with ``--peer-python``; when it cannot be installed or
run, the script says why and prints ours alone.

The figure is the wall time between consecutive optimiser steps (ours: our callback, called
after each batch's optimiser step; TRL: a ``TrainerCallback``'s ``on_step_end``), the median over
the steps after the first (warm-up) one, so rollout, reward, loss, backward, the optimiser and
any logging are all in it; ``--repeats`` alternates the two sides (TRL in a fresh process each
time) and shows medians. It is split into the rollout (ours: ``rollout_s``, generation and env
steps; TRL: its model's ``generate`` calls, timed) and the rest of the step. The goal is printed
as a check: ours <= TRL's time per optimiser step.

Multi-turn throughput (ours alone: TRL's GRPOTrainer has no env loop of ours to compare with):
``rewardgym/Bandit-Meta2-v0`` (20 pulls, ``max_turns=20``) and ``rewardgym/Text-Treasure-v0``
(a small game: difficulty 1, two rooms, 10 commands, ``max_turns=10``), ``--multi-turn-tokens``
new tokens a turn, ``--multi-turn-batches`` batches of P x G episodes; env steps/s (turns over
rollout and update time) and generated tokens/s (over generation time) as the agent reports
them, the median over the batches after the first.

Run it with as many ``--threads`` as there are idle cores: more threads than free cores slow
both sides many times over. The figures are indicative: they move with the machine's load.
"""

from __future__ import annotations

import argparse
import inspect
import re
import statistics
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import peers  # benchmarks/peers.py: the script's folder is on sys.path
import torch
import transformers
from peers import Row

import rewardgym
from rewardgym.agents.llm import DEFAULT_SYSTEM_PROMPT, LLMAgent
from rewardgym.envs.bandits import text as bandit_text
from rewardgym.testing import save_tiny_causal_lm
from rewardgym.wrappers import TextInterface

PEER_VENV = "trl"
PEER_REQUIREMENTS = ["torch==2.13.0", f"transformers=={transformers.__version__}", "trl==1.16.0"]
PEER_DISTRIBUTIONS = ["trl", "transformers", "torch", "accelerate", "datasets"]

BANDIT, INSTANCE_SEED = "rewardgym/Bandit-Bernoulli2-v0", 0
LEARNING_RATE, TEMPERATURE, INVALID_REWARD = 1e-5, 1.0, -0.1
MULTI_TURN = {  # label -> (env id, gym.make kwargs, turns per episode at most)
    "Bandit-Meta2-v0 (20 pulls)": ("rewardgym/Bandit-Meta2-v0", {}, 20),
    "Text-Treasure-v0 (difficulty 1, 2 rooms, 10 commands)":
        ("rewardgym/Text-Treasure-v0", {"difficulty": 1, "n_rooms": 2, "max_steps": 10}, 10),
}
def bandit_env() -> gym.Env:
    return TextInterface(gym.make(BANDIT, horizon=1, instance_seed=INSTANCE_SEED))


def bandit_task(seed: int) -> tuple[str, list[float]]:
    """The first observation of the single-turn bandit and its arms' means (the same for every seed)."""
    env = bandit_env()
    text = env.reset(seed=seed)[0]
    means = [float(m) for m in env.unwrapped.core.expected_rewards()[0]]
    env.close()
    return text, means


def parser_source() -> str:
    """``parse_arm`` with the compiled patterns and the exception it needs, as source for TRL's interpreter."""
    lines = ["import re", "class InvalidCommand(ValueError):", "    pass"]
    for name, value in vars(bandit_text).items():
        if isinstance(value, re.Pattern):
            lines.append(f"{name} = re.compile({value.pattern!r}, {int(value.flags)})")
    return "\n".join(lines) + "\n" + inspect.getsource(bandit_text.parse_arm)


def step_times(marks: list[float]) -> list[float]:
    """Seconds of each optimiser step from the timestamps [start, end of step 1, end of step 2, ...]."""
    return [b - a for a, b in zip(marks, marks[1:])]


def after_warmup(values: list[float]) -> float:
    """The median of ``values`` without the first (warm-up) one, or the one value when alone."""
    return float(statistics.median(values[1:] if len(values) > 1 else values))


# -- TRL ----------------------------------------------------------------------------------------
PEER_SNIPPET = parser_source() + '''
import statistics
import tempfile
import time
import warnings

import torch

torch.set_num_threads(params["threads"])
warnings.filterwarnings("ignore")
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import GRPOConfig, GRPOTrainer

P, G, S, T = params["prompts"], params["generations"], params["steps"], params["max_new_tokens"]
torch.manual_seed(params["seed"])
tokenizer = AutoTokenizer.from_pretrained(params["model"])
model = AutoModelForCausalLM.from_pretrained(params["model"], dtype=torch.float32)
messages = [{"role": "system", "content": params["system"]}, {"role": "user", "content": params["prompt"]}]
dataset = Dataset.from_list([{"prompt": messages} for _ in range(P * S)])
batches, lengths, errors, rewards, generate_s, prompt_tokens = [], [], [], [], [], []


def bandit_reward(completions, completion_ids, **kwargs):
    out = []
    for completion, ids in zip(completions, completion_ids):
        text = completion[-1]["content"] if isinstance(completion, list) else completion
        try:
            arm = parse_arm(text, len(params["means"]))
        except InvalidCommand:
            out.append(params["invalid_reward"])
            errors.append(1)
        else:
            out.append(params["means"][arm])
            errors.append(0)
        lengths.append(len(ids))
    rewards.extend(out)
    batches.append(len(out))
    return out


class Clock(TrainerCallback):
    def __init__(self):
        self.marks = []

    def on_train_begin(self, args, state, control, **kwargs):
        self.marks.append(time.perf_counter())

    def on_step_end(self, args, state, control, **kwargs):
        self.marks.append(time.perf_counter())


with tempfile.TemporaryDirectory() as folder:
    config = GRPOConfig(
        output_dir=folder, per_device_train_batch_size=P * G, num_generations=G, gradient_accumulation_steps=1,
        steps_per_generation=1, num_iterations=1, max_steps=S, max_completion_length=T,
        temperature=params["temperature"], top_p=1.0, top_k=0, learning_rate=params["learning_rate"], beta=0.0,
        loss_type="grpo", scale_rewards="group", max_grad_norm=1.0, weight_decay=0.0,
        use_cpu=True, bf16=False, fp16=False, report_to="none", save_strategy="no", logging_steps=1,
        disable_tqdm=True, dataloader_num_workers=0, seed=params["seed"], log_completions=False,
    )
    clock = Clock()
    trainer = GRPOTrainer(model=model, reward_funcs=[bandit_reward], args=config, train_dataset=dataset,
                          processing_class=tokenizer, callbacks=[clock])
    generate = trainer.model.generate

    def timed_generate(*args, **kwargs):
        prompt_tokens.append(int(kwargs["attention_mask"].sum(1).float().mean()))
        start = time.perf_counter()
        try:
            return generate(*args, **kwargs)
        finally:
            generate_s.append(time.perf_counter() - start)

    trainer.model.generate = timed_generate
    trainer.train()
    steps = trainer.state.global_step

result = {
    "marks": clock.marks, "steps": steps, "completions": batches, "generate_s": generate_s,
    "mean_length": statistics.mean(lengths), "format_error_rate": statistics.mean(errors),
    "mean_reward": statistics.mean(rewards), "threads": torch.get_num_threads(),
    "ref_model": trainer.ref_model is not None, "generation_batch_size": config.generation_batch_size,
    "prompt_tokens": statistics.mean(prompt_tokens),
}
'''


def trl_run(python: Path | None, model: Path, prompt: str, means: list[float], system: str, args):
    """TRL's GRPOTrainer in its own interpreter (a fresh process per measurement)."""

    def measure() -> dict:
        if python is None:
            raise peers.PeerUnavailable(peers.NOT_RUN)
        out = peers.run_in(python, PEER_SNIPPET, timeout=1800, model=str(model), prompt=prompt, means=means,
                           system=system, prompts=args.prompts, generations=args.generations, steps=args.steps,
                           max_new_tokens=args.max_new_tokens, temperature=TEMPERATURE,
                           learning_rate=LEARNING_RATE, invalid_reward=INVALID_REWARD, threads=args.threads,
                           seed=args.seed)
        batch = args.prompts * args.generations
        if (out["steps"] != args.steps or out["completions"] != [batch] * args.steps
                or len(out["generate_s"]) != args.steps):
            raise peers.PeerUnavailable(f"TRL did {out['steps']} optimiser steps, {len(out['generate_s'])} "
                                        f"generate calls, on completion batches {out['completions']}, not "
                                        f"{args.steps} of {batch}")
        times = step_times(out["marks"])
        step_s = after_warmup(times)
        return {"rate": 1 / step_s, "step_s": step_s, "generate_s": after_warmup(out["generate_s"]),
                "rest_s": after_warmup([t - g for t, g in zip(times, out["generate_s"])]), "completions": batch,
                "mean_length": out["mean_length"], "tokens_per_s": batch * out["mean_length"] / step_s,
                "mean_reward": out["mean_reward"], "format_error_rate": out["format_error_rate"],
                "threads": out["threads"], "first_step_s": times[0], "ref_model": out["ref_model"],
                "prompt_tokens": out["prompt_tokens"]}

    return measure


# -- ours ---------------------------------------------------------------------------------------
def learn_ours(envs: list[gym.Env], model: Path, total_steps: int, max_new_tokens: int, max_turns: int,
               args) -> tuple[list, list, object]:
    """One ``learn`` of ours; the metrics of every batch, the timestamps [start, after batch 1, ...], the agent."""
    agent = LLMAgent(envs, model=str(model), estimator="grpo", group_size=args.generations,
                              groups_per_batch=args.prompts, max_new_tokens=max_new_tokens, max_turns=max_turns,
                              temperature=TEMPERATURE, learning_rate=LEARNING_RATE, update_epochs=1,
                              minibatches=1, kl_coef=0.0, format_penalty=-INVALID_REWARD, seed=args.seed,
                              device="cpu")
    metrics, marks = [], []

    def callback(m) -> None:
        marks.append(time.perf_counter())
        metrics.append(dict(m))

    torch.set_num_threads(args.threads)
    marks.append(time.perf_counter())
    agent.learn(envs, total_steps=total_steps, callbacks=[callback], progress=False)
    return metrics, marks, agent


def ours_run(model: Path, prompt: str, args):
    """Our LLMAgent on P x G single-turn bandit envs, S optimiser steps."""

    def measure() -> dict:
        batch = args.prompts * args.generations
        envs = [bandit_env() for _ in range(batch)]
        try:
            metrics, marks, agent = learn_ours(envs, model, batch * args.steps, args.max_new_tokens, 1, args)
        finally:
            for env in envs:
                env.close()
        updates = [int(m["updates"]) for m in metrics]
        steps = [int(m["step"]) for m in metrics]
        if updates != list(range(1, args.steps + 1)) or steps != [batch * (k + 1) for k in range(args.steps)]:
            raise peers.PeerUnavailable(f"ours did optimiser steps {updates} at env steps {steps}, not "
                                        f"{args.steps} of {batch} completions each")
        times = step_times(marks)
        step_s = after_warmup(times)
        lengths = [float(m["response_tokens"]) for m in metrics]  # generated tokens per turn
        rollout = [m["rollout_s"] for m in metrics]
        return {"rate": 1 / step_s, "step_s": step_s, "generate_s": after_warmup(rollout),
                "rest_s": after_warmup([t - r for t, r in zip(times, rollout)]), "completions": batch,
                "mean_length": statistics.mean(lengths),
                "tokens_per_s": batch * statistics.mean(lengths) / step_s,
                "mean_reward": statistics.mean(m["mean_return"] for m in metrics),
                "format_error_rate": statistics.mean(m["format_error_rate"] for m in metrics),
                "threads": torch.get_num_threads(), "first_step_s": times[0], "ref_model": False,
                "prompt_tokens": len(agent.chat.opening(prompt))}

    return measure


def multi_turn(model: Path, args) -> list[tuple[str, dict | str]]:
    """Our throughput on the multi-turn envs: (label, figures or why there are none)."""
    rows = []
    batch = args.prompts * args.generations
    for label, (env_id, kwargs, turns) in MULTI_TURN.items():
        envs = [gym.make(env_id, **kwargs) for _ in range(batch)]  # the agent wraps those that need TextInterface
        try:
            metrics, marks, _ = learn_ours(envs, model, args.multi_turn_batches * batch * turns,
                                        args.multi_turn_tokens, turns, args)
        except peers.PeerUnavailable as error:
            rows.append((label, str(error)))
            continue
        finally:
            for env in envs:
                env.close()
        if not metrics:
            rows.append((label, "no batch finished"))
            continue
        rows.append((label, {
            "env_steps_per_s": after_warmup([m["env_steps_per_s"] for m in metrics]),
            "tokens_per_s": after_warmup([m["tokens_per_s"] for m in metrics]),
            "batches": len(metrics), "turns": statistics.mean(m["mean_length"] for m in metrics),
            "batch_s": after_warmup(step_times(marks)),
            "mean_return": statistics.mean(m["mean_return"] for m in metrics),
            "format_error_rate": statistics.mean(m["format_error_rate"] for m in metrics),
        }))
    return rows


# -- output -------------------------------------------------------------------------------------
def find_peer_python(args) -> Path | None:
    python = peers.find_peer(args, PEER_VENV, PEER_REQUIREMENTS, PEER_DISTRIBUTIONS, "TRL", needs="trl")
    if python is not None:
        transformers_version = peers.versions(python, ["transformers"]).get("transformers")
        if transformers_version != transformers.__version__:
            print(f"  note: TRL's transformers {transformers_version} is not ours ({transformers.__version__})")
    return python


def cell(row: Row, key: str, form: str) -> str:
    values = [r[key] for r in row.results if r.get(key) is not None]
    return form.format(statistics.median(values)) if values else "-"


def print_table(ours: Row, trl: Row) -> None:
    print(f"\n{'what':<52}{'ours':>12}{'TRL':>12}  ratio")
    lines = [
        ("wall time per optimiser step (median after 1st)", "step_s", "{:.3f} s"),
        ("  rollout (ours: rollout_s; TRL: generate())", "generate_s", "{:.3f} s"),
        ("  the rest: reward, loss, backward, optimiser", "rest_s", "{:.3f} s"),
        ("first (warm-up) optimiser step", "first_step_s", "{:.3f} s"),
        ("completions per optimiser step", "completions", "{:.0f}"),
        ("prompt tokens", "prompt_tokens", "{:.0f}"),
        ("mean completion length, tokens", "mean_length", "{:.1f}"),
        ("completion tokens per second of step time", "tokens_per_s", "{:,.0f}"),
        ("mean reward", "mean_reward", "{:+.3f}"),
        ("unparsable completions", "format_error_rate", "{:.0%}"),
        ("torch threads", "threads", "{:.0f}"),
    ]
    for label, key, form in lines:
        ratio = ""
        if key == "step_s":
            ratio = ours.ratio() + " (optimiser steps/s)"
        print(f"{label:<52}{cell(ours, key, form):>12}{cell(trl, key, form):>12}  {ratio}")
    peers.print_missing([ours, trl])


def print_multi_turn(rows: list[tuple[str, dict | str]], args) -> None:
    print(f"\nmulti-turn, ours alone: {args.prompts} x {args.generations} episodes a batch, "
          f"{args.multi_turn_tokens} new tokens a turn at most; medians over the batches after the first")
    print(f"{'env':<58}{'env steps/s':>12}{'tokens/s':>10}{'s/batch':>9}{'batches':>8}{'turns/ep':>9}"
          f"{'return':>8}{'unpars.':>8}")
    for label, figures in rows:
        if isinstance(figures, str):
            print(f"{label:<58}{'missing':>12}  ({figures})")
            continue
        f = figures
        print(f"{label:<58}{f['env_steps_per_s']:>12,.1f}{f['tokens_per_s']:>10,.0f}{f['batch_s']:>9.2f}"
              f"{f['batches']:>8}{f['turns']:>9.1f}{f['mean_return']:>8.2f}{f['format_error_rate']:>8.0%}")


def print_goal(ours: Row, trl: Row) -> None:
    print("\ngoals:")
    mine, theirs = ours.median("step_s"), trl.median("step_s")
    text = "ours wall time per optimiser step <= TRL GRPOTrainer's"
    if mine is None or theirs is None:
        print(f"  [n/a ] {text}: a figure is missing")
        return
    verdict = "pass" if mine <= theirs else "FAIL"
    print(f"  [{verdict}] {text}: {mine:.3f} s against {theirs:.3f} s ({theirs / mine:.2f}x TRL's speed)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6, help="optimiser steps per run (the first is the warm-up)")
    parser.add_argument("--prompts", type=int, default=4, help="prompts (groups) per batch, P")
    parser.add_argument("--generations", type=int, default=4, help="completions per prompt, G (>= 2)")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="new tokens per completion at most, T")
    parser.add_argument("--repeats", type=int, default=1, help="alternating runs per side (the median is shown)")
    parser.add_argument("--hidden-size", type=int, default=64, help="the tiny Llama's width")
    parser.add_argument("--layers", type=int, default=2, help="the tiny Llama's depth")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads, the same on both sides (more than the idle cores slows both a lot)")
    parser.add_argument("--multi-turn-batches", type=int, default=2, help="batches per multi-turn env")
    parser.add_argument("--multi-turn-tokens", type=int, default=16, help="new tokens a turn at most, multi-turn")
    parser.add_argument("--no-multi-turn", action="store_true", help="skip the multi-turn throughput")
    parser.add_argument("--seed", type=int, default=0, help="seed of both trainers and of the env resets")
    peers.add_peer_options(parser, "trl installed")
    args = parser.parse_args()
    if args.generations < 2:
        parser.error("--generations must be >= 2 (GRPO compares completions of one prompt)")
    if args.steps < 1 or args.prompts < 1 or args.max_new_tokens < 1:
        parser.error("--steps, --prompts and --max-new-tokens must be >= 1")
    torch.set_num_threads(args.threads)

    print(peers.machine_line(torch, transformers, rewardgym, extra=f", {args.threads} torch thread(s) per side"))
    python = find_peer_python(args)
    system = DEFAULT_SYSTEM_PROMPT
    prompt, means = bandit_task(args.seed)
    with tempfile.TemporaryDirectory(prefix="llm-vs-trl-") as folder:
        model = save_tiny_causal_lm(Path(folder) / "tiny-lm", hidden_size=args.hidden_size, num_layers=args.layers)
        lm = transformers.AutoModelForCausalLM.from_pretrained(model)
        parameters = sum(p.numel() for p in lm.parameters())
        prompt_tokens = len(transformers.AutoTokenizer.from_pretrained(model).apply_chat_template(
            [{"role": "system", "content": system}, {"role": "user", "content": prompt}],
            add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"])
        del lm
        print(f"model: random Llama, hidden {args.hidden_size}, {args.layers} layers, {parameters:,} parameters, "
              f"character-level tokenizer; prompt {prompt_tokens} tokens, after our agent's system prompt")
        print(f"work per optimiser step: {args.prompts} prompts x {args.generations} completions, at most "
              f"{args.max_new_tokens} new tokens each, temperature {TEMPERATURE:g}, lr {LEARNING_RATE:g}, no KL; "
              f"{args.steps} optimiser steps per run, median of {args.repeats} run(s) per side")
        ours = Row("ours", ours_run(model, prompt, args))
        trl = Row("TRL GRPOTrainer", trl_run(python, model, prompt, means, system, args), short="TRL")
        ours.against = trl
        peers.measure_all([trl, ours], args.repeats)
        print_table(ours, trl)
        if any(r.get("ref_model") for r in trl.results):
            print("  note: TRL built a reference model although beta is 0")
        multi = None if args.no_multi_turn or ours.missing else multi_turn(model, args)
    if multi is not None:
        print_multi_turn(multi, args)
    elif not args.no_multi_turn:
        print("\nmulti-turn, ours alone: not run (ours is missing, see above)")
    print_goal(ours, trl)


if __name__ == "__main__":
    main()
