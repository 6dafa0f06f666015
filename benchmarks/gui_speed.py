"""GUI env speed: steps per second on one core, with screenshots and with the element table only.

    python benchmarks/gui_speed.py [--seconds 2] [--repeats 3]

Each figure is env steps per second of ``gym.make(id, observation=...)`` (resetting when an
episode ends, so page builds and full redraws are included) under random valid actions drawn
before timing starts: in the coordinate mode uniform over the ``MultiDiscrete`` space (clicks,
scrolls, drags, keys, typing), in the element mode uniform over the actions
``info["action_mask"]`` allows. ``screenshot`` is 160x210 for the MiniWoB-style tasks and
240x320 for the apps. MiniWoB++ itself needs a browser and Selenium, so it is not run here; the
goal is 2,000 steps per second with screenshots on one core.
"""

from __future__ import annotations

import argparse
import platform
import time

import gymnasium as gym
import numpy as np

import rewardgym  # noqa: F401  (registers the ids)

TASKS = ("ClickButton", "LoginUser", "ChooseDate", "SearchAndClick", "FillForm", "ShopCheckout")
MODES = (("both", "coords"), ("pixels", "coords"), ("elements", "coords"), ("elements", "elements"))


def rate(env_id: str, observation: str, action_mode: str, seconds: float) -> float:
    env = gym.make(env_id, observation=observation, action_mode=action_mode)
    rng = np.random.default_rng(0)
    env.action_space.seed(0)
    coords = [env.action_space.sample() for _ in range(1024)] if action_mode == "coords" else None
    _, info = env.reset(seed=0)
    mask = info.get("action_mask")
    steps, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            if coords is not None:
                action = coords[steps % 1024]
            else:
                allowed = np.flatnonzero(mask)
                action = int(allowed[rng.integers(len(allowed))])
            _, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                _, info = env.reset()
            mask = info.get("action_mask")
            steps += 1
    env.close()
    return steps / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per figure (the median is shown)")
    args = parser.parse_args()

    print(f"{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}, one process")
    print(f"env steps/s, random valid actions, median of {args.repeats}")
    header = "".join(f"{f'{obs}/{mode}':>20}" for obs, mode in MODES)
    print(f"{'id':<32}{header}")
    for task in TASKS:
        env_id = f"rewardgym/GUI-{task}-v0"
        row = []
        for observation, action_mode in MODES:
            runs = [rate(env_id, observation, action_mode, args.seconds) for _ in range(args.repeats)]
            row.append(float(np.median(runs)))
        print(f"{env_id:<32}" + "".join(f"{r:>20,.0f}" for r in row))


if __name__ == "__main__":
    main()
