"""PPO's rollouts on Ray actors: each worker steps its share of the envs and acts with its own copy
of the policy; the learner gathers the rollouts, scores the learned reward, updates and sends the
weights out again.

``RolloutWorkers("rewardgym/Dungeon-Room5x5-v0", num_envs=64, num_workers=4)`` (``rewardgym train
ENV --agent ppo --ray [ADDRESS] --num-workers 4``) starts four Ray actors; PPO's ``learn`` takes it
in place of a vector env. Each iteration the learner puts its weights (and ``norm_obs``'s running
statistics) in the object store once; every worker loads them, plays ``num_steps`` steps of its
envs (acting in NumPy on the CPU, as the one-process rollout does) and sends back the whole
rollout: the preprocessed observations, actions, log-probs, values, rewards and flags, the value
of its last observation, the episodes it finished, the observation statistics it saw, and, when
a learned reward is on, the transitions it recorded. The learner joins the shares row-wise, in
worker order, into one rollout of ``num_envs`` rows and updates on it as it does alone: one
round trip per rollout rather than one per step (``envs.ray_vector.RayVectorEnv``'s central
inference), and synchronous PPO, so the data is always on-policy.

- **Seeds.** ``start(agent, seed)`` resets worker ``i``'s envs with ``seed`` plus the index of its
  first row, so the rows play the episodes of one ``make_vec(num_envs)`` seeded ``seed``; worker
  ``i`` samples actions from its own generator, seeded ``agent seed + i * 1_000_003`` (worker 0
  draws what the one-process run draws). With one worker a run learns exactly the weights of the
  one-process run (tested).
- **Observation statistics** (``norm_obs``): a worker normalises with the learner's statistics
  plus what it saw and has not sent yet, and sends what it saw; the learner merges every
  worker's, so its statistics are those of every observation played.
- **Learned rewards are scored by the learner** (:meth:`RolloutWorkers.score_with`): each worker's
  envs are wrapped in a deferred ``LearnedReward`` that only records; the learner joins the
  workers' transitions (rows and ``env_ids`` numbered across all workers) and scores them in one
  model call, on its own device or in the reward model's own Ray actor (``--reward-on-ray``). A
  model that keeps per-env state sees the envs as one process would.
- **A dead worker is replaced.** A warning is logged, a new actor builds the same envs, starts
  fresh episodes (seeds moved on by the restart count) and plays the rollout with the same
  weights; training goes on. The dead worker's episodes in progress are lost.
- **Checkpoints.** A mid-run checkpoint holds the learner's state; the workers' episodes are
  theirs, so a resumed run starts fresh episodes (as with an env that cannot save its state).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import numpy as np
import torch

from rewardgym._ray import Placement, actor_place, error_cause, start_ray
from rewardgym.agents.base import EpisodeTracker, MetricsWindow
from rewardgym.agents.ppo import PPO, Rollout, Run, stack_steps
from rewardgym.agents.spaces import describe_space
from rewardgym.envs.ray_vector import probe_spaces, split_rows
from rewardgym.rewards.transforms import RewardMix, RunningMeanStd
from rewardgym.rewards.spec import make_reward
from rewardgym.rewards.transitions import RewardModel, close_model
from rewardgym.wrappers.vector import join_recorded, score_recorded

log = logging.getLogger(__name__)

__all__ = ["RolloutWorkers", "RolloutWorker"]

SEED_STRIDE = 1_000_003  # worker i's action sampling seed: the agent's seed + i * this
CPU = torch.device("cpu")


class _RecordingStats(RunningMeanStd):
    """``norm_obs``'s statistics on a worker: updated as the one-process rollout updates them, and what
    this worker saw since its last rollout kept apart (``seen``), for the learner to merge."""

    def __init__(self, shape: tuple[int, ...]):
        super().__init__(shape, epsilon=1e-4)
        self.seen = RunningMeanStd(shape)

    def update(self, batch: np.ndarray) -> None:
        super().update(batch)
        self.seen.update(batch)

    def follow(self, learner: dict[str, Any]) -> None:
        """The learner's statistics, plus what this worker saw that the learner has not merged yet."""
        self.load_state(learner)
        self.merge(self.seen)

    def take_seen(self) -> RunningMeanStd:
        seen, self.seen = self.seen, RunningMeanStd(self.mean.shape)
        return seen


class _ScoredByLearner:
    """The model a worker's recording ``LearnedReward`` holds: its steps are taken, never scored here."""

    def __init__(self, needs_frames: bool):
        self.needs_frames = needs_frames

    def __call__(self, batch) -> np.ndarray:
        raise RuntimeError("a rollout worker records transitions; the learner scores them")


class RolloutWorker:
    """One Ray actor: ``num_envs`` envs of ``env_id`` and a copy of the learner's policy that acts on them,
    drawing actions from its own generators (``sample_seed``). ``record_frames``: not None when the
    learner scores a learned reward (whether its model needs frames): the envs record transitions."""

    def __init__(self, config: dict[str, Any], observation_space: str, action_space: str, env_id: str,
                 num_envs: int, env_kwargs: dict[str, Any], sample_seed: int, record_frames: bool | None = None):
        import gymnasium as gym

        from rewardgym.agents.spaces import space_from_description
        from rewardgym.registration import register_envs

        torch.set_num_threads(1)  # the one CPU Ray gave it
        register_envs()  # the ids, in this worker process
        self.env = gym.make_vec(env_id, num_envs=num_envs, **env_kwargs)
        # the learner's settings; the seed only seeds the sampling (the weights come from the learner)
        self.agent = PPO(observation_space=space_from_description(observation_space),
                         action_space=space_from_description(action_space),
                         **{**config, "device": "cpu", "seed": sample_seed})
        self.agent.check_env(self.env)
        if self.agent.obs_rms is not None:
            self.agent.obs_rms = _RecordingStats(self.agent.obs_rms.mean.shape)
        self.reward = None  # the recording LearnedReward, when the learner scores a learned reward
        if record_frames is not None:
            from rewardgym.wrappers.vector import LearnedReward

            self.env = self.reward = LearnedReward(self.env, _ScoredByLearner(record_frames), defer=True)
        self.run: Run | None = None

    def start(self, seed: int, obs_stats: dict[str, Any] | None) -> None:
        """Reset the envs (row ``j`` with ``seed + j``) and begin a run of fresh episodes."""
        agent = self.agent
        if obs_stats is not None:
            agent.obs_rms.take_seen()  # a new run: what an earlier one saw and did not send is dropped
            agent.obs_rms.follow(obs_stats)
        obs, info = self.env.reset(seed=seed)
        if self.reward is not None:
            self.reward.take()  # nothing recorded before this run counts
        n = self.env.num_envs
        self.run = Run(env=self.env, obs=agent.observe(obs, update=True), mask=agent.action_mask(obs, info),
                       valid=np.ones(n, dtype=bool), tracker=EpisodeTracker(n), iteration=0, num_iterations=0,
                       start_step=0, discounted_return=None)

    def collect(self, weights: dict[str, torch.Tensor], obs_stats: dict[str, Any] | None) -> dict[str, Any]:
        """One rollout with the learner's ``weights``, stacked per field for the trip back."""
        agent, run = self.agent, self.run
        if run is None:
            raise RuntimeError("start() the worker's run before collecting")
        agent.policy.load_state_dict(weights)
        if obs_stats is not None:
            agent.obs_rms.follow(obs_stats)
        run.tracker.window = MetricsWindow()  # what this rollout adds to the learner's log
        rollout = agent.play_rollout(run)
        return {
            "obs": {key: _host([step[key] for step in rollout.obs]) for key in rollout.obs[0]},
            "masks": rollout.stacked_masks(), "actions": _host(rollout.actions),
            "log_probs": _host(rollout.log_probs), "values": _host(rollout.values),
            "rewards": rollout.rewards, "terminated": rollout.terminated, "truncated": rollout.truncated,
            "valid": rollout.valid, "next_value": _host([rollout.next_value])[0],
            "window": run.tracker.window,
            "seen": None if agent.obs_rms is None else agent.obs_rms.take_seen(),
            "recorded": None if self.reward is None else self.reward.take(),
        }

    def where(self) -> tuple[str, int]:
        """(Ray node id, process id) of this worker."""
        return actor_place()


def _host(items: list) -> np.ndarray:
    """Per-step arrays or (CPU) tensors as one (T, ...) array."""
    return stack_steps(items, CPU).numpy()


class RolloutWorkers:
    """``num_envs`` copies of ``env_id`` split over ``num_workers`` Ray actors that act with copies of a PPO
    agent's policy (see the module docstring). PPO's ``learn`` takes it in place of a vector env:

    >>> workers = RolloutWorkers("CartPole-v1", num_envs=8, num_workers=2)  # doctest: +SKIP
    >>> agent = PPO(workers, num_steps=64)                                 # doctest: +SKIP
    >>> agent.learn(workers, 100_000); workers.close()                     # doctest: +SKIP

    A local Ray on 127.0.0.1 unless ``address`` names a cluster (or Ray is already running). Every
    worker's ``num_cpus_per_worker`` CPUs are reserved at once, ``placement`` ``"spread"`` over as
    many nodes as the cluster has, ``"pack"`` on as few, ``"strict-spread"`` one per node
    (:class:`rewardgym._ray.Placement`); a cluster that cannot hold them all within
    ``start_timeout`` seconds is a ValueError saying so, here, before anything runs.
    ``restarts`` counts the workers that died and were replaced.
    """

    def __init__(self, env_id: str, num_envs: int, num_workers: int = 2, env_kwargs: dict[str, Any] | None = None,
                 address: str | None = None, num_cpus_per_worker: float = 1.0, placement: str = "spread",
                 start_timeout: float = 300.0):
        self.sizes, self.offsets = split_rows(num_envs, num_workers)
        self.env_id, self.env_kwargs = env_id, dict(env_kwargs or {})
        self.single_observation_space, self.single_action_space = probe_spaces(env_id, self.env_kwargs)
        self.num_envs = num_envs
        self.ray, self._started = start_ray(address, purpose="PPO rollout workers on Ray")
        try:
            self._placement = Placement(self.ray, num_workers, num_cpus_per_worker, strategy=placement,
                                        timeout=start_timeout, what="PPO rollout workers")
        except ValueError:
            self._stop_ray()
            raise
        self._actor = self.ray.remote(num_cpus=num_cpus_per_worker)(RolloutWorker)
        self.workers: list[Any] = []
        self.restarts = 0
        self._agent_spec: tuple | None = None  # what a worker is built from: set by the first start()
        self._reward: tuple[RewardModel, RewardMix] | None = None
        self._seed: int | None = None
        self._owns_model = False

    def score_with(self, model: RewardModel | str, mode: str = "add", coef: float = 1.0,
                   env_coef: float = 1.0) -> RolloutWorkers:
        """Train on ``model``'s learned reward, mixed as ``LearnedReward`` mixes it: the workers record their
        transitions, the learner scores every rollout's in one call. As with ``LearnedReward``, a model given
        as a spec string is built here and closed by :meth:`close`; a model object stays the caller's."""
        if self.workers:
            raise RuntimeError("give the learned reward before the workers start")
        if self._reward is not None:
            raise RuntimeError("these workers already score a learned reward")
        self._owns_model = isinstance(model, str)
        model = make_reward(model)
        self._reward = (model, RewardMix(mode, coef, env_coef))
        return self

    # -- the RolloutCollector protocol (agents.ppo) ----------------------------------------
    def start(self, agent: PPO, seed: int) -> None:
        """Launch the workers for ``agent`` (when not yet) and reset their envs, row ``j`` with ``seed + j``."""
        self.launch(agent)
        self._seed = seed
        stats = _stats(agent)
        starting = [worker.start.remote(seed + offset, stats) for worker, offset in zip(self.workers, self.offsets)]
        for i, started in enumerate(starting):
            try:
                self.ray.get(started)
            except self.ray.exceptions.RayActorError as exc:  # died since the last run: a new one starts it
                self._replace(i, exc, agent, stats)

    def launch(self, agent: PPO) -> None:
        """Start the workers with copies of ``agent``'s policy settings (again only for an agent with other
        settings); ValueError in one line when they cannot start."""
        spec = (agent.config.to_json(), describe_space(agent.observation_space),
                describe_space(agent.action_space))
        if self._agent_spec != spec:  # a new agent (or its first): new workers with its settings
            self._kill_workers()
            self._agent_spec = spec
            self.workers = [self._build(i, agent) for i in range(len(self.sizes))]
            try:  # a worker that cannot start (an env or a reward the worker cannot build) is one line, here
                self.ray.get([worker.where.remote() for worker in self.workers])
            except (self.ray.exceptions.RayActorError, self.ray.exceptions.RayTaskError) as exc:
                self._kill_workers()
                self._agent_spec = None
                raise ValueError(f"a rollout worker could not start: {error_cause(exc)}") from None

    def collect(self, agent: PPO, tracker: EpisodeTracker) -> Rollout:
        """One rollout of every worker with ``agent``'s weights, joined row-wise; rewards scored here."""
        weights = self.ray.put({key: value.detach().cpu() for key, value in agent.policy.state_dict().items()})
        stats = _stats(agent)
        futures = [worker.collect.remote(weights, stats) for worker in self.workers]
        parts = []
        for i, future in enumerate(futures):
            try:
                parts.append(self.ray.get(future))
            except self.ray.exceptions.RayActorError as exc:  # a new worker plays the rollout, same weights
                self._replace(i, exc, agent, stats)
                parts.append(self.ray.get(self.workers[i].collect.remote(weights, stats)))
            except self.ray.exceptions.RayTaskError as exc:
                raise RuntimeError(f"rollout worker {i} failed: {error_cause(exc)}") from None
        for part in parts:
            tracker.window.absorb(part["window"])
            if part["seen"] is not None:
                agent.obs_rms.merge(part["seen"])
        return self._join(parts, agent)

    def _join(self, parts: list[dict[str, Any]], agent: PPO) -> Rollout:
        """The workers' shares as one rollout of ``num_envs`` rows (worker 0's rows first)."""
        steps = agent.config.num_steps
        rollout = Rollout(steps, self.num_envs)

        def rows(name: str) -> np.ndarray:
            return np.concatenate([part[name] for part in parts], axis=1)

        obs = {key: np.concatenate([part["obs"][key] for part in parts], axis=1) for key in parts[0]["obs"]}
        rollout.obs = [{key: value[t] for key, value in obs.items()} for t in range(steps)]
        if all(part["masks"] is None for part in parts):
            rollout.masks = [None] * steps
        else:
            width = next(part["masks"] for part in parts if part["masks"] is not None).shape[-1]
            masks = np.concatenate([np.ones((steps, n, width), bool) if part["masks"] is None else part["masks"]
                                    for part, n in zip(parts, self.sizes)], axis=1)
            rollout.masks = list(masks)
        rollout.actions, rollout.log_probs, rollout.values = list(rows("actions")), list(rows("log_probs")), \
            list(rows("values"))
        rollout.rewards, rollout.terminated = rows("rewards"), rows("terminated")
        rollout.truncated, rollout.valid = rows("truncated"), rows("valid")
        rollout.next_value = torch.from_numpy(np.concatenate([part["next_value"] for part in parts]))
        if self._reward is not None:
            model, mix = self._reward
            recorded = join_recorded([part["recorded"] for part in parts], self.sizes)
            rollout.take_rewards(score_recorded(model, mix, recorded, self.num_envs))
        return rollout

    # -- workers ------------------------------------------------------------------------
    def _build(self, i: int, agent: PPO):
        config, observation_space, action_space = self._agent_spec
        seed = agent.config.seed + SEED_STRIDE * (i + self.restarts * len(self.sizes))
        # with a learned reward the worker records transitions (and frames, when the model needs them)
        record_frames = None if self._reward is None else bool(getattr(self._reward[0], "needs_frames", False))
        return self._actor.options(**self._placement.options(i)).remote(
            config, observation_space, action_space, self.env_id, self.sizes[i], self.env_kwargs, seed, record_frames)

    def _replace(self, i: int, exc: Exception, agent: PPO, stats: dict[str, Any] | None) -> None:
        """Worker ``i`` died: a new one, in its bundle, starts fresh episodes (seeds moved on by the restarts)."""
        self.restarts += 1
        log.warning("rewardgym: PPO rollout worker %d of %d died (%s); starting a new one, its %d envs restart",
                    i, len(self.workers), str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__,
                    self.sizes[i])
        self.workers[i] = self._build(i, agent)
        seed = self._seed + SEED_STRIDE * self.restarts + self.offsets[i]
        self.ray.get(self.workers[i].start.remote(seed, stats))

    def where(self) -> list[tuple[str, int]]:
        """(Ray node id, process id) of every worker."""
        return self.ray.get([worker.where.remote() for worker in self.workers])

    def _kill_workers(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(Exception):  # already gone
                self.ray.kill(worker)
        self.workers = []

    def close(self, **kwargs) -> None:
        self._kill_workers()
        self._placement.remove()
        if self._owns_model:
            close_model(self._reward[0])
            self._owns_model = False
        self._stop_ray()

    def _stop_ray(self) -> None:
        if self._started:
            self.ray.shutdown()
            self._started = False


def _stats(agent: PPO) -> dict[str, Any] | None:
    """``norm_obs``'s running statistics as they are now (what every worker normalises with this rollout)."""
    return None if agent.obs_rms is None else agent.obs_rms.state()
