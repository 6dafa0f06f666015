"""What do Ray workers cost and give? Env steps/s and PPO steps/s, one process against 1, 2, ... workers.

    python benchmarks/ray_scaling.py [--workers 1 2] [--num-envs 16] [--seconds 5]
                                     [--envs CartPole-v1 rewardgym/Dungeon-Room5x5-v0]

For each env id: random actions on ``gym.make_vec(num_envs)`` in this process, then on
``RayVectorEnv(num_envs, W)`` for each W (a local Ray on 127.0.0.1, one CPU per worker), in
env steps per second; then PPO (``num_steps=128``, its defaults otherwise) trained for
``--ppo-steps`` in this process, on ``RayVectorEnv`` (the learner acts on every step: central
inference) and on ``RolloutWorkers`` (each worker acts with a copy of the policy and sends
whole rollouts: what ``rewardgym train --agent ppo --ray`` runs), in env steps per second of
training and learner updates per second. Everything in one run, so the ratios compare like
with like. On a 2-core machine the workers share the cores with the process that learns, so
the figures that predict a bigger machine are the rollout workers' own rate (env steps per
second of a worker while it collects) and the learner's update time: with a core per worker,
an iteration takes about the slowest worker's rollout plus the update.

``--llm MODEL`` (a model folder, ``smollm2``, or ``tiny`` for a tiny random model built here)
adds the LLM trainer (``llm-grpo``, 4 groups of 4 episodes of up to 4 turns on
``--llm-env``): env steps (turns) per second of training with the episodes played in this
process, then by W rollout workers with copies of the model (``distribute_rollouts``).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
# ruff: noqa: E402  (the thread settings above must come before NumPy's and torch's imports)

import argparse
import platform
import time

import gymnasium as gym
import numpy as np
import torch

import rewardgym  # noqa: F401  (registers the ids)
from rewardgym.agents import make_agent
from rewardgym.agents.ppo_ray import RolloutWorkers
from rewardgym.envs.ray_vector import RayVectorEnv, ray_init

PPO_STEPS = 128  # PPO's rollout length here (its default)


class TimedWorkers(RolloutWorkers):
    """Rollout workers that clock their rollouts (what is left of an iteration is the learner's update)."""

    collect_s = 0.0

    def collect(self, agent, tracker):
        start = time.perf_counter()
        try:
            return super().collect(agent, tracker)
        finally:
            self.collect_s += time.perf_counter() - start


def env_rate(envs, seconds: float) -> float:
    """Random-action env steps per second (every env's step counts)."""
    rng = np.random.default_rng(0)
    envs.reset(seed=0)
    n = envs.num_envs
    sample = (lambda: rng.integers(0, envs.single_action_space.n, n)) if hasattr(envs.single_action_space, "n") \
        else (lambda: envs.action_space.sample())
    for _ in range(10):  # warm up
        envs.step(sample())
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        envs.step(sample())
        steps += n
    return steps / (time.perf_counter() - start)


def build(env_id: str, num_envs: int, workers: int, kwargs: dict):
    """``num_envs`` copies of ``env_id``: in this process (``workers`` 0) or on that many Ray workers."""
    if workers == 0:
        return gym.make_vec(env_id, num_envs=num_envs, **kwargs)
    return RayVectorEnv(env_id, num_envs, workers, kwargs)


def ppo_rate(envs, steps: int) -> tuple[float, float]:
    """(PPO env steps per second of training, seconds of it spent collecting rollouts when ``envs`` clocks them)."""
    agent = make_agent("ppo", envs, seed=0, device="cpu", num_steps=PPO_STEPS)
    agent.learn(envs, 1, progress=False)  # one iteration first: the workers start (their imports take seconds)
    collected = getattr(envs, "collect_s", 0.0)  # the clock of the timed rollouts, past the first iteration
    done, start = agent.global_step, time.perf_counter()
    agent.learn(envs, steps, progress=False)
    return (agent.global_step - done) / (time.perf_counter() - start), getattr(envs, "collect_s", 0.0) - collected


def llm_rate(model: str, env_id: str, workers: int, batches: int) -> float:
    """LLM trainer env steps (turns) per second over ``batches`` batches after a first one (model loading)."""
    from rewardgym.agents.llm import LLMAgent, text_envs

    envs = text_envs([gym.make(env_id) for _ in range(16)])
    agent = LLMAgent(envs, model=model, group_size=4, groups_per_batch=4, max_new_tokens=16, max_turns=4,
                     device="cpu", seed=0)
    if workers:
        agent.distribute_rollouts(env_id, num_workers=workers)
    agent.learn(envs, 1, progress=False)
    steps, start = agent.global_step, time.perf_counter()
    for _ in range(batches):
        agent.learn(envs, 1, progress=False)
    rate = (agent.global_step - steps) / (time.perf_counter() - start)
    agent.close_rollouts()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["CartPole-v1", "rewardgym/Dungeon-Room5x5-v0"])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--ppo-steps", type=int, default=32_768)
    parser.add_argument("--llm", metavar="MODEL", help="also the LLM trainer's rollouts: a model folder, smollm2, "
                                                       "or tiny")
    parser.add_argument("--llm-env", default="rewardgym/Bandit-Meta2-v0")
    parser.add_argument("--llm-batches", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{time.strftime('%Y-%m-%d')}; {args.num_envs} envs, {args.seconds:.0f} s per env figure, "
          f"PPO {args.ppo_steps:,} steps")
    ray = ray_init(num_cpus=max(args.workers))
    batch = PPO_STEPS * args.num_envs
    print("\n| env | envs on | env steps/s | x one process | PPO steps/s, central inference | x one process "
          "| PPO steps/s, rollout workers | x one process | updates/s | a worker's own steps/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for env_id in args.envs:
        kwargs = {"vectorization_mode": "sync"} if env_id == "CartPole-v1" else {}

        base_env = base_ppo = None
        for workers in [0, *args.workers]:
            envs = build(env_id, args.num_envs, workers, kwargs)
            rate = env_rate(envs, args.seconds)
            envs.close()
            envs = build(env_id, args.num_envs, workers, kwargs)
            central, _ = ppo_rate(envs, args.ppo_steps)
            envs.close()
            base_env, base_ppo = base_env or rate, base_ppo or central
            where = "this process" if workers == 0 else f"{workers} Ray worker{'s' if workers > 1 else ''}"
            row = f"| {env_id.removeprefix('rewardgym/')} | {where} | {rate:,.0f} | {rate / base_env:.2f}x | "
            if workers == 0:
                print(row + f"{central:,.0f} | 1.00x | {central:,.0f} | 1.00x | {central / batch:.2f} | |", flush=True)
                continue
            envs = TimedWorkers(env_id, args.num_envs, workers, kwargs)
            copies, collect_s = ppo_rate(envs, args.ppo_steps)
            iterations = -(-args.ppo_steps // batch)
            # a worker plays num_steps steps of its share of the envs per rollout, the rollouts at once
            own = PPO_STEPS * max(envs.sizes) * iterations / collect_s
            envs.close()
            print(row + f"{central:,.0f} | {central / base_ppo:.2f}x | {copies:,.0f} | {copies / base_ppo:.2f}x | "
                  f"{copies / batch:.2f} | {own:,.0f} |", flush=True)
    if args.llm:
        model = args.llm
        if model == "tiny":
            import tempfile

            from rewardgym.testing import save_tiny_causal_lm

            model = str(save_tiny_causal_lm(tempfile.mkdtemp()))
        print(f"\n| LLM trainer ({args.llm}) on {args.llm_env.removeprefix('rewardgym/')} | episodes played on "
              f"| env steps/s | x one process |\n|---|---|---:|---:|")
        base = None
        for workers in [0, *args.workers]:
            rate = llm_rate(model, args.llm_env, workers, args.llm_batches)
            base = base or rate
            where = "this process" if workers == 0 else f"{workers} rollout worker{'s' if workers > 1 else ''}"
            print(f"| | {where} | {rate:,.1f} | {rate / base:.2f}x |", flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main()
