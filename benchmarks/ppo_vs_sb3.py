"""rewardgym's PPO against stable-baselines3's PPO: same envs, same hyperparameters, same process.

    python benchmarks/ppo_vs_sb3.py [--speed-steps 40960] [--return-steps 200000] [--seeds 0 1 2] [--threads 1]

Hyperparameters are CleanRL's CartPole set for both: 4 envs x 128 steps, 4 epochs x 4
minibatches, lr 2.5e-4 annealed to 0, clip 0.2, value clip 0.2, ent 0.01, vf 0.5, grad-norm 0.5,
γ 0.99, λ 0.95, 64-64 tanh MLPs for actor and critic, Adam eps 1e-5, orthogonal init; CPU and
the same torch thread count for both.

Speed: env steps per second of a whole ``learn`` call (rollouts and updates) on
- CartPole-v1, both over 4 ``gym.make`` envs stepped in Python (Gymnasium's SyncVectorEnv for
  ours, SB3's DummyVecEnv for SB3), so the env costs the same;
- rewardgym/Bandit-Meta5-v0 (Dict observations), both over the same natively batched vector
  env (SB3 through ``rewardgym.agents.sb3.SB3VecEnv``).
Return: mean return of 20 evaluation episodes after ``--return-steps`` steps of CartPole-v1,
per seed, for both libraries (the goal: >= 475 on at least 2 of 3 seeds within 200k steps).
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


def cartpole_envs(library: str, seed: int):
    if library == "sb3":
        from stable_baselines3.common.env_util import make_vec_env

        return make_vec_env("CartPole-v1", n_envs=NUM_ENVS, seed=seed)
    return gym.make_vec("CartPole-v1", num_envs=NUM_ENVS, vectorization_mode="sync")


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


def evaluate_return(library: str, model, episodes: int = 20, seed: int = 10_000) -> float:
    env = gym.make("CartPole-v1")
    returns = []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        done, total = False, 0.0
        while not done:
            if library == "sb3":
                action, _ = model.predict(obs, deterministic=False)
            else:
                action = model.act(obs)
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
    parser.add_argument("--skip-return", action="store_true", help="speed only")
    parser.add_argument("--skip-speed", action="store_true", help="return only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s), "
          f"{time.strftime('%Y-%m-%d')}")
    if not args.skip_speed:
        speed(args.speed_steps)
    if not args.skip_return:
        final_return(args.return_steps, args.seeds)


def speed(steps: int) -> None:
    print(f"\nspeed: steps/s of a {steps}-step learn()")
    print(f"{'env':<30}{'rewardgym':>12}{'SB3':>12}{'ratio':>8}")
    for name, make_envs, policy in (("CartPole-v1", cartpole_envs, "MlpPolicy"),
                                    ("rewardgym/Bandit-Meta5-v0", bandit_envs, "MultiInputPolicy")):
        train("ours", make_envs, 2 * 512, 0)  # warm-up: first-call costs of torch
        ours = steps / train("ours", make_envs, steps, 0)[0]
        theirs = steps / train("sb3", make_envs, steps, 0, policy)[0]
        print(f"{name:<30}{ours:>12,.0f}{theirs:>12,.0f}{ours / theirs:>7.2f}x")


def final_return(steps: int, seeds: list[int]) -> None:
    print(f"\nreturn: CartPole-v1 mean of 20 evaluation episodes after {steps} steps")
    print(f"{'seed':<8}{'rewardgym':>12}{'SB3':>12}{'rewardgym s':>14}{'SB3 s':>10}")
    reached = {"ours": 0, "sb3": 0}
    for seed in seeds:
        row = {}
        for library in ("ours", "sb3"):
            seconds, model, _ = train(library, cartpole_envs, steps, seed)
            row[library] = (evaluate_return(library, model), seconds)
            reached[library] += row[library][0] >= 475
        print(f"{seed:<8}{row['ours'][0]:>12.1f}{row['sb3'][0]:>12.1f}{row['ours'][1]:>14.1f}{row['sb3'][1]:>10.1f}")
    print(f"seeds reaching 475: rewardgym {reached['ours']}/{len(seeds)}, SB3 {reached['sb3']}/{len(seeds)}")


if __name__ == "__main__":
    main()
