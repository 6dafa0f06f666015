"""Manipulation env speed: each task against a raw ``mj_step`` loop on the same model, and Pusher-v5.

    pip install "gymnasium[mujoco]"   # for the Pusher-v5 peer
    python benchmarks/manipulation_speed.py [--seconds 2]

State mode: env steps per second of ``gym.make(id)`` (TimeLimit and all, resetting when an
episode ends) with random actions drawn before timing starts; the peer in the same run is a
bare ``mujoco.mj_step(model, data, nstep=frame_skip)`` loop on the very model the env built,
replaying the controls and mocap targets the env set on the same random actions (a still
scene would be cheaper physics), so the ratio is what the env's Python costs on top of the
physics (the goal: >= 0.8).
Gymnasium's ``Pusher-v5`` (a MuJoCo arm pushing an object) runs alongside for scale.
Pixel mode: steps per second with 64x64 and 224x224 observations from the front camera.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import gymnasium as gym
import numpy as np

import rewardgym  # noqa: F401  (registers the ids)
from rewardgym.registration import ENVS


def _timed(step_once, seconds: float) -> float:
    step_once()  # warm-up
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(20):
            step_once()
        calls += 20
    return calls / elapsed


def env_rate(env_id: str, seconds: float, **kwargs) -> float:
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, (256, *env.action_space.shape)).astype(env.action_space.dtype)
    i = iter(range(10**12))

    def step_once():
        _, _, terminated, truncated, _ = env.step(actions[next(i) % 256])
        if terminated or truncated:
            env.reset()

    rate = _timed(step_once, seconds)
    env.close()
    return rate


def raw_rate(env_id: str, seconds: float) -> float:
    import mujoco

    env = gym.make(env_id)
    env.reset(seed=0)
    base = env.unwrapped
    model, data, frame_skip = base.model, base.data, base.frame_skip
    # Record what the env's actions set (actuator controls, mocap targets), then replay them raw.
    actions = np.random.default_rng(0).uniform(-1, 1, (256, *env.action_space.shape)).astype(env.action_space.dtype)
    controls, targets = [], []
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        controls.append(data.ctrl.copy())
        targets.append(data.mocap_pos.copy())
        if terminated or truncated:
            env.reset()
    i = iter(range(10**12))

    def step_once():
        k = next(i) % 256
        data.ctrl[:] = controls[k]
        data.mocap_pos[:] = targets[k]
        mujoco.mj_step(model, data, nstep=frame_skip)

    rate = _timed(step_once, seconds)
    env.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved measurements (the median is shown)")
    args = parser.parse_args()

    ids = [entry.id for entry in ENVS if entry.family == "Manip"]
    print(f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}")
    print(f"\nstate mode: env steps/s against a raw mj_step loop (same model and frame skip), "
          f"median of {args.repeats}")
    print(f"{'id':<32}{'env':>10}{'raw mj_step':>13}{'ratio':>8}")
    for env_id in ids:
        ours, raw = [], []
        for _ in range(args.repeats):  # interleaved, so a slow moment of the machine hits both
            ours.append(env_rate(env_id, args.seconds))
            raw.append(raw_rate(env_id, args.seconds))
        ours_rate, raw_rate_ = float(np.median(ours)), float(np.median(raw))
        print(f"{env_id:<32}{ours_rate:>10,.0f}{raw_rate_:>13,.0f}{ours_rate / raw_rate_:>7.2f}x")
    pusher = env_rate("Pusher-v5", args.seconds)
    print(f"{'peer: Gymnasium Pusher-v5':<32}{pusher:>10,.0f}")

    print(f"\npixel mode (front camera, MUJOCO_GL={os.environ.get('MUJOCO_GL')}), env steps/s")
    for size in (64, 224):
        for env_id in ids[:1] + [i for i in ids if "Push" in i][:1]:
            rate = env_rate(env_id, args.seconds, obs_mode="pixels", width=size, height=size)
            print(f"{env_id:<32}{f'{size}x{size}':>10}{rate:>13,.0f}")


if __name__ == "__main__":
    main()
