"""rewardgym's PPO against stable-baselines3's PPO: same envs, same hyperparameters, same process.

    python benchmarks/ppo_vs_sb3.py [--speed-steps 40960] [--return-steps 200000] [--seeds 0 1 2] [--threads 1]

Hyperparameters are CleanRL's CartPole set for both: 4 envs x 128 steps, 4 epochs x 4
minibatches, lr 2.5e-4 annealed to 0, clip 0.2, value clip 0.2, ent 0.01, vf 0.5, grad-norm 0.5,
γ 0.99, λ 0.95, 64-64 tanh MLPs for actor and critic, Adam eps 1e-5, orthogonal init; CPU and
the same torch thread count for both.

Speed: env steps per second of a whole ``learn`` call (rollouts and updates), the median of
``--repeats`` runs alternating between the libraries, on
- CartPole-v1, both over 4 ``gym.make`` envs stepped in Python (Gymnasium's SyncVectorEnv for
  ours, SB3's DummyVecEnv for SB3), so the env costs the same;
- rewardgym/Bandit-Meta5-v0 (Dict observations), both over the same natively batched vector
  env (SB3 through ``rewardgym.agents.sb3.SB3VecEnv``);
- CartPole-v1 as each library builds it by default (``gym.make_vec`` gives Gymnasium's
  NumPy-vectorised CartPole; SB3's ``make_vec_env`` a DummyVecEnv), for reference.
Return: mean return of 20 evaluation episodes after ``--return-steps`` steps of CartPole-v1
(the learning rate annealed over those steps), per seed, for both libraries, with the
deterministic policy (SB3's ``evaluate_policy`` default) and with the stochastic one (the goal:
>= 475 on at least 2 of 3 seeds within 200k steps).
"""

from __future__ import annotations

import argparse
import platform
import time

import gymnasium as gym
import numpy as np
import torch

import rewardgym  # noqa: F401  (registers the ids)
from rewardgym.agents.ppo import PPO

CLEANRL = {"num_steps": 128, "num_minibatches": 4, "update_epochs": 4, "learning_rate": 2.5e-4, "anneal_lr": True,
           "clip_coef": 0.2, "clip_vloss": True, "ent_coef": 0.01, "vf_coef": 0.5, "max_grad_norm": 0.5,
           "gamma": 0.99, "gae_lambda": 0.95}
NUM_ENVS = 4


def sb3_ppo(env, seed: int, policy: str = "MlpPolicy"):
    from stable_baselines3 import PPO as SB3PPO

    c = CLEANRL
    return SB3PPO(
        policy, env, n_steps=c["num_steps"], batch_size=c["num_steps"] * NUM_ENVS // c["num_minibatches"],
        n_epochs=c["update_epochs"], learning_rate=lambda progress: progress * c["learning_rate"],
        clip_range=c["clip_coef"], clip_range_vf=c["clip_coef"], ent_coef=c["ent_coef"], vf_coef=c["vf_coef"],
        max_grad_norm=c["max_grad_norm"], gamma=c["gamma"], gae_lambda=c["gae_lambda"], seed=seed, device="cpu",
        policy_kwargs={"net_arch": {"pi": [64, 64], "vf": [64, 64]}, "activation_fn": torch.nn.Tanh,
                       "ortho_init": True})


def cartpole_envs(library: str, seed: int, native: bool = False):
    if library == "sb3":
        from stable_baselines3.common.env_util import make_vec_env

        return make_vec_env("CartPole-v1", n_envs=NUM_ENVS, seed=seed)
    return gym.make_vec("CartPole-v1", num_envs=NUM_ENVS, vectorization_mode=None if native else "sync")


def native_cartpole_envs(library: str, seed: int):
    return cartpole_envs(library, seed, native=True)


def bandit_envs(library: str, seed: int):
    envs = gym.make_vec("rewardgym/Bandit-Meta5-v0", num_envs=NUM_ENVS)
    if library == "sb3":
        from rewardgym.agents.sb3 import SB3VecEnv

        envs = SB3VecEnv(envs)
        envs.seed(seed)
    return envs


def train(library: str, make_envs, steps: int, seed: int, policy: str = "MlpPolicy"):
    """(seconds, trained model, envs) for one ``learn`` of ``steps`` env steps."""
    envs = make_envs(library, seed)
    model = sb3_ppo(envs, seed, policy) if library == "sb3" else PPO(envs, seed=seed, device="cpu", **CLEANRL)
    start = time.perf_counter()
    if library == "sb3":
        model.learn(total_timesteps=steps)
    else:
        model.learn(envs, steps, progress=False)
    return time.perf_counter() - start, model, envs


def evaluate_return(library: str, model, deterministic: bool, episodes: int = 20, seed: int = 10_000) -> float:
    env = gym.make("CartPole-v1")
    returns = []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        done, total = False, 0.0
        while not done:
            if library == "sb3":
                action, _ = model.predict(obs, deterministic=deterministic)
            else:
                action = model.act(obs, deterministic=deterministic)
            obs, reward, terminated, truncated, _ = env.step(int(action))
            total += reward
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed-steps", type=int, default=40_960, help="env steps per speed measurement")
    parser.add_argument("--return-steps", type=int, default=200_000, help="CartPole steps before the return check")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch threads, the same for both")
    parser.add_argument("--repeats", type=int, default=3, help="speed runs per library (the median is shown)")
    parser.add_argument("--skip-return", action="store_true", help="speed only")
    parser.add_argument("--skip-speed", action="store_true", help="return only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s), "
          f"{time.strftime('%Y-%m-%d')}")
    if not args.skip_speed:
        speed(args.speed_steps, args.repeats)
    if not args.skip_return:
        final_return(args.return_steps, args.seeds)


def speed(steps: int, repeats: int) -> None:
    print(f"\nspeed: steps/s of a {steps}-step learn(), median of {repeats}")
    print(f"{'env':<44}{'rewardgym':>11}{'SB3':>9}{'ratio':>8}")
    for name, make_envs, policy in (("CartPole-v1, same Python-stepped envs", cartpole_envs, "MlpPolicy"),
                                    ("Bandit-Meta5-v0, same native vector env", bandit_envs, "MultiInputPolicy"),
                                    ("CartPole-v1, each library's default envs", native_cartpole_envs, "MlpPolicy")):
        train("ours", make_envs, 2 * 512, 0)  # warm-up: first-call costs of torch
        train("sb3", make_envs, 2 * 512, 0, policy)
        ours, theirs = [], []
        for _ in range(repeats):
            ours.append(steps / train("ours", make_envs, steps, 0)[0])
            theirs.append(steps / train("sb3", make_envs, steps, 0, policy)[0])
        ours_rate, their_rate = float(np.median(ours)), float(np.median(theirs))
        print(f"{name:<44}{ours_rate:>11,.0f}{their_rate:>9,.0f}{ours_rate / their_rate:>7.2f}x")


def final_return(steps: int, seeds: list[int]) -> None:
    print(f"\nreturn: CartPole-v1 mean of 20 evaluation episodes after {steps} steps "
          "(deterministic / stochastic policy)")
    print(f"{'seed':<6}{'rewardgym':>16}{'SB3':>16}{'rewardgym s':>13}{'SB3 s':>8}")
    reached = {(library, det): 0 for library in ("ours", "sb3") for det in (True, False)}
    for seed in seeds:
        cells, seconds = {}, {}
        for library in ("ours", "sb3"):
            seconds[library], model, _ = train(library, cartpole_envs, steps, seed)
            for det in (True, False):
                value = evaluate_return(library, model, det)
                reached[library, det] += value >= 475
                cells[library, det] = value
        shown = {lib: f"{cells[lib, True]:.0f} / {cells[lib, False]:.0f}" for lib in ("ours", "sb3")}
        print(f"{seed:<6}{shown['ours']:>16}{shown['sb3']:>16}{seconds['ours']:>13.1f}{seconds['sb3']:>8.1f}")
    n = len(seeds)
    print(f"seeds reaching 475, deterministic: rewardgym {reached['ours', True]}/{n}, SB3 {reached['sb3', True]}/{n}; "
          f"stochastic: rewardgym {reached['ours', False]}/{n}, SB3 {reached['sb3', False]}/{n}")


if __name__ == "__main__":
    main()
