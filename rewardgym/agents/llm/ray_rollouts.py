"""The LLM trainer's rollouts on Ray actors: each worker plays whole episodes (env steps and
generation) with its own copy of the policy, and gets the learner's weights after every update.

``agent.distribute_rollouts("rewardgym/Text-Coins-v0", num_workers=2)`` (``rewardgym train ...
--agent llm-grpo --ray [ADDRESS] --num-workers 2``) starts the workers; from then on each batch
of :meth:`~rewardgym.agents.llm.grpo.LLMAgent.learn` is split into one share of episodes per
worker, played in parallel, and gathered in order, and the learner updates on the whole batch
as it does alone. What crosses the object store: the episodes' token ids and rewards one way,
the trainable weights (the LoRA adapters only, with ``lora_rank > 0``) the other, put once per
update and read by every worker.

Workers load the model from the same folder or hub id as the learner (a cluster's machines need
it too), without the reference copy or the optimiser, and take ``num_gpus`` each when asked.
A learned reward (``reward={"model": SPEC, "mode": ..., "coef": ..., "env_coef": ...}``, the
arguments of ``LearnedReward``) is built by each worker and scored there, deferred, on the
episodes it played; a stateful one (novelty counts) keeps one state per worker.
Generation in a worker draws from a torch seed the learner hands it, so a batch is reproducible
for a given learner seed and number of workers (not across numbers of workers: the shares
differ).

On a multi-agent id (self-play) a worker holds games in their free-text form, every seat a row,
and a seed it is handed is one game, played in every seat: the learner's seeds are split by
game, and the episodes come back one per seat, grouped per (seed, seat) as in one process.

A worker that dies is replaced with a logged warning: a new actor loads the model, takes the
last weights, and plays the dead one's share again; training goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardgym._ray import Placement, actor_place, error_cause, start_ray
from rewardgym.agents.llm.episodes import Episode, RolloutStats
from rewardgym.envs.multiagent import ENVS as MULTIAGENT
from rewardgym.envs.multiagent import make_vec

log = logging.getLogger(__name__)


def trainable_state(model) -> dict[str, Any]:
    """The weights an update changes (every trained parameter, LoRA adapters only under LoRA), on the CPU."""
    return {name: p.detach().to("cpu", copy=True) for name, p in model.named_parameters() if p.requires_grad}


class RolloutWorker:
    """One Ray actor: a copy of the policy and ``num_envs`` text envs of ``env_id`` (of a multi-agent id,
    ``num_envs`` games in their free-text form, every seat a row: self-play)."""

    def __init__(self, agent_class, model: str, config: dict[str, Any], env_id: str, env_kwargs: dict[str, Any],
                 num_envs: int, threads: int = 1, reward: dict[str, Any] | None = None):
        import gymnasium as gym
        import torch

        from rewardgym.registration import register_envs
        from rewardgym.wrappers.text import TextInterface

        torch.set_num_threads(threads)  # the CPUs Ray gave it: more threads than cores fight (6x slower measured)
        register_envs()  # the ids, in this worker process
        self.agent = agent_class(None, model=model, **config)
        if env_id.removeprefix("rewardgym/") in MULTIAGENT:
            from rewardgym.wrappers.multiagent import AgentsAsEnvs

            self.envs = AgentsAsEnvs(make_vec(env_id, num_envs, free_text=True, **env_kwargs))
        else:
            self.envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", wrappers=[TextInterface],
                                     **env_kwargs)
        if reward is not None:  # the learned reward, built here and scored where the episodes are played
            from rewardgym.wrappers.vector import LearnedReward

            self.envs = LearnedReward(self.envs, **reward, defer=True)

    def load_weights(self, state: dict[str, Any]) -> None:
        missing = set(state) - {name for name, _ in self.agent.model.named_parameters()}
        if missing:
            raise ValueError(f"the learner's weights name parameters this worker's model lacks: {sorted(missing)[:3]}")
        self.agent.model.load_state_dict(state, strict=False)
        self.agent.generator.weights_changed(self.agent.model)

    def rollout(self, seeds: Sequence[int], groups: Sequence[int], torch_seed: int):
        return self.agent.rollout(self.envs, seeds, groups=groups, torch_seed=torch_seed)

    def fingerprint(self) -> float:
        """A sum over the trainable weights (tests compare it with the learner's)."""
        return float(sum(p.double().sum() for p in trainable_state(self.agent.model).values()))

    def where(self) -> tuple[str, int]:
        """(Ray node id, process id) of this worker."""
        return actor_place()


class RayRollouts:
    """``num_workers`` :class:`RolloutWorker` actors that play an LLM agent's episodes."""

    def __init__(self, agent, env_id: str, env_kwargs: dict[str, Any] | None = None, num_workers: int = 2,
                 envs_per_worker: int = 8, address: str | None = None, num_gpus: float = 0.0, num_cpus: int = 1,
                 reward: dict[str, Any] | None = None, placement: str = "spread", start_timeout: float = 300.0):
        if num_workers < 1 or envs_per_worker < 1:
            raise ValueError(f"num_workers and envs_per_worker must be >= 1, got {num_workers} and {envs_per_worker}")
        c = agent.config
        if c.generation_backend != "transformers":
            raise ValueError("rollout workers generate with transformers; generation_backend='vllm' runs in the "
                             "learner's process only")
        if reward is not None and not isinstance(reward.get("model"), str):
            raise ValueError("a learned reward on rollout workers is given as a spec string (model='novelty', ...): "
                             "each worker builds its own")
        self.ray, self._started = start_ray(address, purpose="LLM rollouts on Ray")
        try:  # every worker's resources at once, or a clear error now
            self._placement = Placement(self.ray, num_workers, num_cpus, num_gpus, placement, start_timeout,
                                        what="LLM rollout workers")
        except ValueError:
            self._stop_ray()
            raise
        config = {f: v for f, v in vars(c).items() if f != "model"}
        # a worker samples: no reference policy to keep, its own device (a GPU only if it was given one)
        config.update(kl_coef=0.0, device="cuda" if num_gpus else "cpu")
        self._spec = (type(agent), c.model, config, env_id, dict(env_kwargs or {}), int(envs_per_worker),
                      int(num_cpus), reward)
        self._actor = self.ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(RolloutWorker)
        self.workers = [self._start(i) for i in range(num_workers)]
        try:  # a worker that cannot start (a model or a reward spec that does not load) is one line, here
            self.ray.get([worker.where.remote() for worker in self.workers])
        except (self.ray.exceptions.RayActorError, self.ray.exceptions.RayTaskError) as exc:
            self.close()
            raise ValueError(f"a rollout worker could not start: {error_cause(exc)}") from None
        self._weights = None
        self.sync(agent.model)

    @property
    def num_workers(self) -> int:
        return len(self.workers)

    def sync(self, model) -> None:
        """Send the learner's trainable weights to every worker (one object in the store, read by all)."""
        self._weights = self.ray.put(trainable_state(model))
        loading = [worker.load_weights.remote(self._weights) for worker in self.workers]  # all at once
        for i, done in enumerate(loading):
            try:
                self.ray.get(done)
            except self.ray.exceptions.RayActorError as exc:
                self._replace(i, exc)

    def rollout(self, seeds: Sequence[int], groups: Sequence[int], torch_seed: int) -> tuple[list[Episode],
                                                                                            RolloutStats]:
        """The episodes of ``seeds`` (in that order), played in one share per worker."""
        shares = [share for share in np.array_split(np.arange(len(seeds)), self.num_workers) if len(share)]
        seeds, groups = np.asarray(seeds), np.asarray(groups)

        def play(i: int, share: np.ndarray):
            return self.workers[i].rollout.remote(seeds[share].tolist(), groups[share].tolist(), torch_seed + i)

        futures = [play(i, share) for i, share in enumerate(shares)]
        episodes: list[Episode] = []
        stats = RolloutStats()
        for i, share in enumerate(shares):
            try:
                played, part = self.ray.get(futures[i])
            except self.ray.exceptions.RayActorError as exc:
                self._replace(i, exc)
                played, part = self.ray.get(play(i, share))
            episodes += played
            stats.turns += part.turns
            stats.generated_tokens += part.generated_tokens
            stats.generate_s = max(stats.generate_s, part.generate_s)  # the workers generate at the same time
            stats.env_s = max(stats.env_s, part.env_s)
        return episodes, stats

    def _replace(self, i: int, exc: Exception) -> None:
        log.warning("LLM rollout worker %d died (%s); starting a new one with the last weights", i,
                    str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        self.workers[i] = self._start(i)
        self.ray.get(self.workers[i].load_weights.remote(self._weights))

    def _start(self, i: int):
        """Worker ``i``, in its bundle of the placement."""
        return self._actor.options(**self._placement.options(i)).remote(*self._spec)

    def fingerprints(self) -> list[float]:
        return self.ray.get([w.fingerprint.remote() for w in self.workers])

    def where(self) -> list[tuple[str, int]]:
        return self.ray.get([w.where.remote() for w in self.workers])

    def close(self) -> None:
        for worker in self.workers:
            self.ray.kill(worker)
        self.workers = []
        self._placement.remove()
        self._stop_ray()

    def _stop_ray(self) -> None:
        if self._started:
            self.ray.shutdown()
            self._started = False
