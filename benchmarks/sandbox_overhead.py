"""What the reward-code sandbox costs: per-call latency, throughput and start-up, side by side.

    python benchmarks/sandbox_overhead.py [--calls 200] [--repeats 5]

The same reward function (Manip-Reach's dense distance reward, two components, Dict observations)
is scored on batches as a vector env gives them (``model(Transitions)``)
- in the training process with no sandbox at all (what Eureka and Text2Reward do: the floor);
- by ``SandboxedReward(sandbox="trusted")`` (a worker process, rlimits, a fresh process per call);
- by ``SandboxedReward(sandbox="os")`` (the same plus namespaces, an empty root, seccomp).
Per call: the median over ``--calls`` calls of a batch of 1 transition (with a 2 ms pause between
calls, as when an env steps between them) and of a batch of 1024 transitions (back to back).
Start-up: construction to the first scored transition, the median of ``--repeats`` workers.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from rewardgym._batch import row
from rewardgym.reward_models.synthesis import SandboxedReward
from rewardgym.rewards.transitions import Transitions

CODE = """
def compute_reward(obs, action, next_obs, info):
    distance = float(np.linalg.norm(next_obs["achieved_goal"] - next_obs["desired_goal"]))
    bonus = 1.0 if distance < 0.05 else 0.0
    return -distance + bonus, {"distance": -distance, "bonus": bonus}
"""


def transitions(n: int, seed: int = 0) -> Transitions:
    """A batch as a vector env gives it: Dict observations of (n, ...) arrays."""
    rng = np.random.default_rng(seed)
    obs = {"observation": rng.normal(size=(n, 10)), "achieved_goal": rng.normal(size=(n, 3)),
           "desired_goal": rng.normal(size=(n, 3))}
    next_obs = {key: value + 0.01 for key, value in obs.items()}
    return Transitions(obs=obs, action=rng.normal(size=(n, 4)), next_obs=next_obs, terminated=np.zeros(n, bool),
                       truncated=np.zeros(n, bool), infos=[{"task": "reach the target"} for _ in range(n)])


class InProcess:
    """The reward run in this process, unsandboxed, one transition at a time."""

    def __init__(self, code: str):
        namespace = {"np": np}
        exec(code, namespace)  # noqa: S102 - the benchmark's own code
        self.function = namespace["compute_reward"]

    def __call__(self, batch: Transitions) -> np.ndarray:
        return np.asarray([self.function(row(batch.obs, i), row(batch.action, i), row(batch.next_obs, i),
                                         batch.infos[i])[0] for i in range(len(batch))], dtype=np.float32)

    def close(self) -> None:
        pass


def per_call(model, batch: Transitions, calls: int, pause_s: float) -> float:
    model(batch)  # warm
    seconds = []
    for _ in range(calls):
        if pause_s:
            time.sleep(pause_s)
        started = time.perf_counter()
        model(batch)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, Python {platform.python_version()}")
    one, many = transitions(1), transitions(1024)
    builders = {"in process (no sandbox)": lambda: InProcess(CODE),
                "sandbox=trusted": lambda: SandboxedReward(CODE, sandbox="trusted"),
                "sandbox=os": lambda: SandboxedReward(CODE, sandbox="os")}
    rows = {}
    for name, build in builders.items():
        starts = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            model = build()
            model(one)
            starts.append(time.perf_counter() - started)
            model.close()
        model = build()
        try:
            np.testing.assert_allclose(model(many), InProcess(CODE)(many), rtol=1e-6)
            rows[name] = (statistics.median(starts), per_call(model, one, args.calls, 0.002),
                          per_call(model, many, max(args.calls // 10, 5), 0.0))
        finally:
            model.close()
    floor = rows["in process (no sandbox)"]
    print(f"{'':26} {'start-up':>10} {'B=1 per call':>14} {'B=1024 per call':>16} {'B=1024 transitions/s':>21}")
    for name, (start, single, batch) in rows.items():
        print(f"{name:26} {start * 1e3:8.1f} ms {single * 1e3:11.3f} ms {batch * 1e3:13.2f} ms "
              f"{1024 / batch:14,.0f} ({batch / floor[2]:.2f}x the floor's time)")


if __name__ == "__main__":
    main()
