"""Eureka's evolutionary reward search (Ma et al. 2023), with every candidate run in the sandbox.

Each iteration samples ``candidates`` reward functions from the LLM, validates each (the static
check, then a smoke test on a few random transitions), trains a short PPO run on each with the
candidate as the only reward (``reward_mode="replace"``), and scores it by the task's success rate
on held-out evaluation episodes. The best candidate so far, its success rate and its components'
statistics over training (Eureka's "reward reflection"), and the errors of failed candidates (Eureka
feeds tracebacks back) go into the next iteration's prompt.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rewardgym._batch import stack_items
from rewardgym.agents import make_agent
from rewardgym.reward_models.synthesis.prompt import build_prompt, extract_code
from rewardgym.reward_models.synthesis.sandbox import RewardCodeError, SandboxedReward, sandbox_layers
from rewardgym.rewards.transitions import Transitions
from rewardgym.workflows.runs import new_run_dir
from rewardgym.wrappers.vector import LearnedReward

__all__ = ["Candidate", "SynthesisResult", "synthesize_reward", "DEFAULT_PPO_CONFIG"]

# PPO settings that learn Manip-Reach from a dense reward (see PPOConfig's docstring).
DEFAULT_PPO_CONFIG: dict[str, Any] = {"num_steps": 64, "num_minibatches": 8, "update_epochs": 10,
                                      "learning_rate": 3e-4, "ent_coef": 0.0, "norm_obs": True}
SUMMARY_FILE = "summary.json"
BEST_FILE = "best_reward.py"
_SMOKE_STEPS = 8
EVAL_SEED_OFFSET = 1_000_000  # rewardgym's held-out seed range


@dataclass
class Candidate:
    """One sampled reward function and what became of it.

    ``status``: ``"trained"``, or the stage that failed: ``"extraction"`` (no code in the answer),
    ``"validation"`` (refused or failed on random transitions), ``"training"`` (failed mid-run).
    """

    iteration: int
    index: int
    answer: str
    code: str | None = None
    status: str = "pending"
    error: str | None = None
    success_rate: float | None = None
    evaluation: dict[str, float] = field(default_factory=dict)
    component_stats: dict[str, dict[str, float]] = field(default_factory=dict)
    component_history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return f"iter{self.iteration}_cand{self.index}"


@dataclass
class SynthesisResult:
    """The best reward code found, its success rate, the run folder and every candidate."""

    code: str | None
    score: float | None
    best: Candidate | None
    candidates: list[Candidate]
    run_dir: Path


def synthesize_reward(env_id: str, llm: Any, *, iterations: int = 3, candidates: int = 4, train_steps: int = 50_000,
                      eval_episodes: int = 20, num_envs: int = 8, seed: int = 0, out: str | Path | None = None,
                      progress: bool = True, env_kwargs: dict[str, Any] | None = None,
                      ppo_config: dict[str, Any] | None = None, max_new_tokens: int = 1024,
                      temperature: float = 1.0, timeout_s: float = 10.0, sandbox: str = "os") -> SynthesisResult:
    """Search for a reward for ``env_id`` with an LLM, Eureka style; every candidate runs sandboxed.

    Args:
        env_id: a Gymnasium id whose env reports ``info["success"]`` (and ideally ``info["task"]``).
        llm: any object with ``generate(prompts, *, max_new_tokens, temperature) -> list[str]``
            (prompts are chat message lists); one call per iteration with ``candidates`` prompts.
        iterations: rounds of sampling, training and reflection (Eureka: 5).
        candidates: reward functions sampled per round (Eureka: 16).
        train_steps: env steps of PPO per candidate.
        eval_episodes: held-out episodes (seeds from 1_000_000 + seed) that measure success.
        num_envs: vector envs for training and evaluation.
        seed: PPO's and the envs' seed, the same for every candidate so that they compare fairly.
        out: the run folder to write (created); default ``runs/reward-code/<env>-eureka-s<seed>-<time>``.
        progress: print one line per candidate.
        env_kwargs: passed to ``gym.make_vec``.
        ppo_config: PPO settings over :data:`DEFAULT_PPO_CONFIG` (``reward_model`` and
            ``reward_mode`` are set here).
        max_new_tokens, temperature: passed to ``llm.generate``.
        timeout_s: the sandbox's wall-clock limit per scoring round trip.
        sandbox: ``"os"`` (the OS sandbox; refused up front, before any LLM call, where the machine
            lacks a layer of it) or ``"trusted"`` (process limits only); see :class:`SandboxedReward`.

    Returns:
        A :class:`SynthesisResult`; ``code`` and ``score`` are ``None`` when no candidate trained.

    The run folder holds ``summary.json`` (settings, every candidate's status, error, success rate,
    evaluation and component statistics, the best one's name), ``best_reward.py`` (usable as
    ``reward-code:best_reward.py``), and per iteration ``iterN/prompt.txt`` and, per candidate,
    ``iterN/candK.py`` (or ``candK.txt`` with the raw answer when no code was found) and ``candK.json``.
    """
    if iterations < 1 or candidates < 1 or train_steps < 1 or eval_episodes < 1:
        raise ValueError("iterations, candidates, train_steps and eval_episodes must be >= 1")
    if not callable(getattr(llm, "generate", None)):
        raise TypeError(f"llm must have a generate(prompts, ...) method, got {type(llm).__name__}")
    sandbox_layers(sandbox)  # RewardCodeError now, not once per candidate, where the sandbox cannot run
    env_kwargs = dict(env_kwargs or {})
    config = {**DEFAULT_PPO_CONFIG, **(ppo_config or {})}
    run_dir = _run_dir(out, env_id, seed)
    probe = gym.make(env_id, **env_kwargs)
    try:
        _, info = probe.reset(seed=seed)
        task = info.get("task") if isinstance(info.get("task"), str) else None
        settings = {"env_id": env_id, "iterations": iterations, "candidates": candidates, "train_steps": train_steps,
                    "eval_episodes": eval_episodes, "num_envs": num_envs, "seed": seed, "env_kwargs": env_kwargs,
                    "ppo_config": config, "temperature": temperature, "max_new_tokens": max_new_tokens, "task": task}
        everything: list[Candidate] = []
        best: Candidate | None = None
        feedback = ""
        for iteration in range(iterations):
            prompt = build_prompt(probe, task, feedback=feedback)
            folder = run_dir / f"iter{iteration}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "prompt.txt").write_text("\n\n".join(f"[{m['role']}]\n{m['content']}" for m in prompt))
            answers = _generate(llm, prompt, candidates, max_new_tokens, temperature)
            round_ = []
            for index, answer in enumerate(answers):
                candidate = Candidate(iteration, index, answer)
                started = time.monotonic()
                _evaluate_candidate(candidate, probe, env_id, env_kwargs, config, train_steps, eval_episodes,
                                    num_envs, seed, timeout_s, sandbox)
                candidate.seconds = time.monotonic() - started
                _save_candidate(folder, candidate)
                if progress:
                    score = "-" if candidate.success_rate is None else f"{candidate.success_rate:.2f}"
                    detail = f" ({_first_line(candidate.error)})" if candidate.error else ""
                    print(f"[reward search] {candidate.name}: {candidate.status}, success {score}{detail}", flush=True)
                round_.append(candidate)
                if candidate.success_rate is not None and (best is None or candidate.success_rate > best.success_rate):
                    best = candidate
            everything += round_
            feedback = reflection(best, round_)
            _write_summary(run_dir, settings, everything, best)
    finally:
        probe.close()
    if progress and best is not None:
        print(f"[reward search] best: {best.name}, success {best.success_rate:.2f}; {run_dir}", flush=True)
    return SynthesisResult(best.code if best else None, best.success_rate if best else None, best, everything,
                           run_dir)


def reflection(best: Candidate | None, latest: list[Candidate]) -> str:
    """Eureka's reward reflection: the best reward so far, its success rate and component statistics,
    and the errors of this round's failed candidates, as text for the next prompt."""
    parts = []
    if best is not None:
        lines = [f"The best reward function so far (success rate {best.success_rate:.2f} after training):",
                 f"```python\n{best.code.rstrip()}\n```",
                 "Its values over training (per transition: mean, std, min, max; then the mean per rollout):"]
        for name, stats in best.component_stats.items():
            trace = [h[name] for h in best.component_history if name in h]
            picks = [trace[i] for i in np.linspace(0, len(trace) - 1, min(len(trace), 8)).astype(int)] if trace else []
            lines.append(f"- {name}: mean {stats['mean']:.4g}, std {stats['std']:.4g}, min {stats['min']:.4g}, "
                         f"max {stats['max']:.4g}; per rollout: {', '.join(f'{v:.3g}' for v in picks)}")
        lines.append("Improve it: rescale components whose values are too large or too small, rewrite or drop "
                     "components that do not change during training, and add what the task still needs.")
        parts.append("\n".join(lines))
    failures = [c for c in latest if c.error]
    if failures:
        parts.append("Some reward functions failed; avoid these errors:\n"
                     + "\n".join(f"- {_first_line(c.error, 300)}" for c in failures[:3]))
    return "\n\n".join(parts)


def _generate(llm: Any, prompt: list[dict[str, str]], k: int, max_new_tokens: int, temperature: float) -> list[str]:
    try:
        answers = list(llm.generate([prompt] * k, max_new_tokens=max_new_tokens, temperature=temperature))
    except Exception as error:  # noqa: BLE001 - a failed LLM call is a round of failed candidates, not a crash
        return [f"<the LLM call failed: {type(error).__name__}: {error}>"] * k
    answers = [a if isinstance(a, str) else "" for a in answers[:k]]
    return answers + [""] * (k - len(answers))


def _evaluate_candidate(candidate: Candidate, probe: gym.Env, env_id: str, env_kwargs: dict, config: dict,
                        train_steps: int, eval_episodes: int, num_envs: int, seed: int, timeout_s: float,
                        sandbox: str) -> None:
    candidate.code = extract_code(candidate.answer)
    if candidate.code is None:
        candidate.status, candidate.error = "extraction", "no ```python block defining compute_reward in the answer"
        return
    try:
        model = SandboxedReward(candidate.code, timeout_s=timeout_s, sandbox=sandbox)
    except RewardCodeError as error:
        candidate.status, candidate.error = "validation", str(error)
        return
    try:
        try:
            model(_random_transitions(probe, seed))
        except RewardCodeError as error:
            candidate.status, candidate.error = "validation", str(error)
            return
        model.reset_stats()
        try:
            evaluation = _train_and_evaluate(model, env_id, env_kwargs, config, train_steps, eval_episodes,
                                             num_envs, seed)
        except RewardCodeError as error:
            candidate.status, candidate.error = "training", str(error)
            return
        candidate.status = "trained"
        candidate.evaluation = evaluation
        candidate.success_rate = float(evaluation.get("success_rate", 0.0))
        candidate.component_stats = model.component_stats()
        candidate.component_history = model.history
    finally:
        model.close()


def _random_transitions(env: gym.Env, seed: int) -> Transitions:
    """A few transitions under random actions: the smoke test each candidate passes before training."""
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    rows = []
    for _ in range(_SMOKE_STEPS):
        action = env.action_space.sample()
        next_obs, _, terminated, truncated, info = env.step(action)
        rows.append((obs, action, next_obs, terminated, truncated, info))
        obs = env.reset(seed=seed)[0] if terminated or truncated else next_obs
    observations, actions = env.observation_space, env.action_space
    return Transitions(obs=stack_items(observations, [r[0] for r in rows]),
                       action=stack_items(actions, [r[1] for r in rows]),
                       next_obs=stack_items(observations, [r[2] for r in rows]),
                       terminated=np.array([r[3] for r in rows]), truncated=np.array([r[4] for r in rows]),
                       infos=[r[5] for r in rows])


def _train_and_evaluate(model: SandboxedReward, env_id: str, env_kwargs: dict, config: dict, train_steps: int,
                        eval_episodes: int, num_envs: int, seed: int) -> dict[str, float]:
    # the candidate is the only reward, scored once per rollout as rewardgym train --reward does
    env = LearnedReward(gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **env_kwargs), model,
                        mode="replace", defer=True)
    eval_env = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **env_kwargs)
    try:
        agent = make_agent("ppo", env, **{**config, "seed": seed})
        env.reset(seed=seed)
        agent.learn(env, train_steps, progress=False)
        result = agent.evaluate(eval_env, eval_episodes, seed=EVAL_SEED_OFFSET + seed)
    finally:
        env.close()
        eval_env.close()
    if "success_rate" not in result:
        raise ValueError(f"{env_id} reports no info['success']: the search has nothing to score candidates by")
    return {key: float(value) for key, value in result.items() if isinstance(value, (int, float, np.number))}


def _run_dir(out: str | Path | None, env_id: str, seed: int) -> Path:
    if out is None:
        return new_run_dir(Path("runs") / "reward-code", env_id, "eureka", seed)
    path = Path(out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _save_candidate(folder: Path, candidate: Candidate) -> None:
    stem = f"cand{candidate.index}"
    if candidate.code is not None:
        (folder / f"{stem}.py").write_text(candidate.code)
    else:
        (folder / f"{stem}.txt").write_text(candidate.answer)
    (folder / f"{stem}.json").write_text(json.dumps(_record(candidate), indent=2))


def _record(candidate: Candidate) -> dict[str, Any]:
    record = asdict(candidate)
    record["name"] = candidate.name
    record.pop("answer")
    return record


def _write_summary(run_dir: Path, settings: dict, candidates: list[Candidate], best: Candidate | None) -> None:
    summary = {**settings, "best": best.name if best else None,
               "best_success_rate": best.success_rate if best else None,
               "candidates": [{k: v for k, v in _record(c).items() if k not in ("code", "component_history")}
                              for c in candidates]}
    (run_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    if best is not None:
        (run_dir / BEST_FILE).write_text(f"# {settings['env_id']}: {best.name}, success rate {best.success_rate:.3f}\n"
                                         + best.code)


def _first_line(text: str | None, limit: int = 160) -> str:
    line = re.sub(r"\s+", " ", text or "").strip()
    return line if len(line) <= limit else line[: limit - 3] + "..."
