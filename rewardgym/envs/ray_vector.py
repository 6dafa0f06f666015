"""A vector env whose envs are stepped by Ray actors: more envs than one machine (or one core) can step.

``RayVectorEnv("rewardgym/Dungeon-Room5x5-v0", num_envs=64, num_workers=4)`` starts four Ray
actors, each holding ``gym.make_vec`` of its share of the envs (the id's native vector env where
it has one), and presents them as one Gymnasium ``VectorEnv`` of 64 rows. Every ``step`` sends
each actor its rows' actions and gathers their results in one ``ray.get``: the actors step in
parallel, the learner keeps the policy (central inference, as SEED RL; the learner acts on the
whole batch, so PPO's loop, rewards and checkpoints are unchanged).

Seeds are split, not shared: ``reset(seed=s)`` resets worker ``i`` with ``s + offset_i`` (its
first row's index), so the rows play the episodes of a single-process ``make_vec(num_envs=64)``
seeded ``s`` — the same seeds, the same order — and a run with workers learns exactly as the
one-process run does (``tests/test_ray_training.py`` compares the weights).

A worker that dies (its machine lost, the process killed) is replaced: a warning is logged,
a new actor builds the same envs, and its rows end their episodes truncated on that step (with
the last observation they had) and start new ones on the next step, which Gymnasium's NEXT_STEP
autoreset treats as a reset step. Training goes on.

Without a running Ray, a local instance bound to the loopback address (127.0.0.1) is started;
``address`` joins a cluster (``ray start --head`` / ``ray start --address``, see
``docs/distributed.md``).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from rewardgym._batch import concat
from rewardgym._ray import Placement, actor_place, start_ray

log = logging.getLogger(__name__)


class EnvWorker:
    """One Ray actor's share of the envs: a vector env of ``num_envs`` copies of ``env_id``."""

    def __init__(self, env_id: str, num_envs: int, env_kwargs: dict[str, Any]):
        import gymnasium as gym

        from rewardgym.registration import register_envs

        register_envs()  # the ids, in this worker process
        self.env = gym.make_vec(env_id, num_envs=num_envs, **env_kwargs)

    def reset(self, seed: int | None, options: dict | None):
        return self.env.reset(seed=seed, options=options)

    def step(self, actions):
        return self.env.step(actions)

    def where(self) -> tuple[str, int]:
        """(Ray node id, process id) of this worker."""
        return actor_place()


def merge_infos(parts: list[dict[str, Any]], sizes: list[int]) -> dict[str, Any]:
    """Gymnasium vector infos of several workers as one: every key over all rows, ``_key`` marking the
    rows that have it (a worker without the key contributes zeros and False)."""
    keys = [k for k in dict.fromkeys(k for p in parts for k in p) if not k.startswith("_")]
    out: dict[str, Any] = {}
    for key in keys:
        present = [key in p for p in parts]
        sample = next(p[key] for p in parts if key in p)
        if isinstance(sample, dict):
            out[key] = merge_infos([p.get(key, {}) for p in parts], sizes)
            out["_" + key] = np.concatenate([np.asarray(p.get("_" + key, np.full(n, key in p)), bool)
                                             for p, n in zip(parts, sizes)])
            continue
        sample = np.asarray(sample)
        values = [np.asarray(p[key]) if key in p else np.zeros((n, *sample.shape[1:]), sample.dtype)
                  for p, n in zip(parts, sizes)]
        out[key] = np.concatenate(values)
        out["_" + key] = np.concatenate([np.asarray(p.get("_" + key, np.ones(n, bool)), bool) if has
                                         else np.zeros(n, bool) for p, n, has in zip(parts, sizes, present)])
    return out


def probe_spaces(env_id: str, env_kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """``(single observation space, single action space)`` of ``env_id``'s vector env, from one env built here,
    so a bad argument is one line before any worker starts; ValueError unless it autoresets on the next step."""
    import gymnasium as gym

    probe = gym.make_vec(env_id, num_envs=1, **env_kwargs)
    spaces, mode = (probe.single_observation_space, probe.single_action_space), probe.metadata.get(
        "autoreset_mode", AutoresetMode.NEXT_STEP)
    probe.close()
    if mode != AutoresetMode.NEXT_STEP:
        raise ValueError(f"{env_id}'s vector env does not autoreset on the next step")
    return spaces


def split_rows(num_envs: int, num_workers: int) -> tuple[list[int], list[int]]:
    """``(sizes, offsets)``: ``num_envs`` rows over ``num_workers`` workers, the first ones a row longer."""
    if num_workers < 1 or num_envs < num_workers:
        raise ValueError(f"need 1 <= num_workers <= num_envs, got {num_workers} workers for {num_envs} envs")
    share, extra = divmod(num_envs, num_workers)
    sizes = [share + (i < extra) for i in range(num_workers)]
    return sizes, np.cumsum([0, *sizes[:-1]]).tolist()


def ray_init(address: str | None = None, num_cpus: int | None = None):
    """Ray, initialised for env workers (see :func:`rewardgym._ray.start_ray`)."""
    return start_ray(address, num_cpus, purpose="Ray env workers")[0]


class RayVectorEnv(VectorEnv):
    """``num_envs`` copies of ``env_id`` split over ``num_workers`` Ray actors (see the module docstring)."""

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, env_id: str, num_envs: int, num_workers: int = 2, env_kwargs: dict[str, Any] | None = None,
                 address: str | None = None, num_cpus_per_worker: float = 1.0, placement: str = "spread",
                 start_timeout: float = 300.0):
        self.sizes, self.offsets = split_rows(num_envs, num_workers)
        self.env_id, self.env_kwargs = env_id, dict(env_kwargs or {})
        obs_space, act_space = probe_spaces(env_id, self.env_kwargs)
        self.ray = ray_init(address)
        # every worker's CPUs at once (rewardgym._ray.Placement), or a clear error now
        self._placement = Placement(self.ray, num_workers, num_cpus_per_worker, strategy=placement,
                                    timeout=start_timeout, what="env workers")
        self._actor_class = self.ray.remote(num_cpus=num_cpus_per_worker)(EnvWorker)
        self.workers = [self._start(i) for i in range(num_workers)]
        self.num_envs = num_envs
        self.single_observation_space, self.single_action_space = obs_space, act_space
        self.observation_space = batch_space(obs_space, num_envs)
        self.action_space = batch_space(act_space, num_envs)
        self.restarts = 0
        self._last: list[tuple] = [()] * num_workers  # each worker's last (obs, info), for a replaced worker's rows
        self._fresh: dict[int, tuple] = {}  # replaced workers' reset results, handed out on the next step
        self._seed_base: int | None = None
        self._episodes = 0

    def _start(self, i: int):
        return self._actor_class.options(**self._placement.options(i)).remote(self.env_id, self.sizes[i],
                                                                             self.env_kwargs)

    def _split(self, actions) -> list[Any]:
        actions = np.asarray(actions)
        return [actions[o:o + n] for o, n in zip(self.offsets, self.sizes)]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        seeds = [None if seed is None else seed + o for o in self.offsets]
        self._seed_base = seed
        results = self.ray.get([w.reset.remote(s, options) for w, s in zip(self.workers, seeds)])
        self._last = list(results)
        self._fresh.clear()
        return self._join([r[0] for r in results]), merge_infos([r[1] for r in results], self.sizes)

    def step(self, actions):
        refs = [None if i in self._fresh else w.step.remote(a)
                for i, (w, a) in enumerate(zip(self.workers, self._split(actions)))]
        parts = []
        for i, ref in enumerate(refs):
            if ref is None:  # a replaced worker's rows: its first observations, as a reset step
                obs, info = self._fresh.pop(i)
                n = self.sizes[i]
                parts.append((obs, np.zeros(n), np.zeros(n, bool), np.zeros(n, bool), info))
                continue
            try:
                parts.append(self.ray.get(ref))
            except (self.ray.exceptions.RayActorError, self.ray.exceptions.WorkerCrashedError) as exc:
                parts.append(self._replace(i, exc))
        self._last = [(p[0], p[4]) for p in parts]
        return (self._join([p[0] for p in parts]), np.concatenate([p[1] for p in parts]).astype(np.float64),
                np.concatenate([p[2] for p in parts]), np.concatenate([p[3] for p in parts]),
                merge_infos([p[4] for p in parts], self.sizes))

    def _replace(self, i: int, exc: Exception) -> tuple:
        """Worker ``i`` died: start a new one; its rows end truncated now and restart on the next step."""
        self.restarts += 1
        log.warning("rewardgym: env worker %d of %d died (%s); starting a new one, its %d envs restart",
                    i, len(self.workers), str(exc).splitlines()[0][:120], self.sizes[i])
        self.workers[i] = self._start(i)
        seed = None if self._seed_base is None else self._seed_base + 1_000_003 * self.restarts + self.offsets[i]
        self._fresh[i] = self.ray.get(self.workers[i].reset.remote(seed, None))
        obs, info = self._last[i]
        n = self.sizes[i]
        return obs, np.zeros(n), np.zeros(n, bool), np.ones(n, bool), info

    def _join(self, observations: list[Any]) -> Any:
        return concat(observations, self.single_observation_space)

    def close(self, **kwargs) -> None:
        for worker in getattr(self, "workers", []):
            with contextlib.suppress(Exception):  # already gone
                self.ray.kill(worker)
        self.workers = []
        if hasattr(self, "_placement"):
            self._placement.remove()
