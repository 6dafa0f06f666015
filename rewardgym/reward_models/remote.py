"""Any reward model scored in a Ray actor with its own resources: a reward model that needs its own
GPU (a VLM, a progress model, a judge LLM) next to a learner that needs another.

``RayRewardModel("clip:goal=a robot reaching;baseline=a robot", num_gpus=1)`` (``rewardgym train
... --reward SPEC --reward-on-ray [ADDRESS] --reward-gpus 1``) starts one Ray actor that builds the
spec's model with ``make_reward`` and scores every batch sent to it; in the training process it
is a reward model like any other (``needs_frames``, ``__call__(batch)``, ``close()``), so
``LearnedReward`` and the deferred scoring of PPO and the LLM trainer use it unchanged: a
deferred reward sends a whole rollout's transitions in one call.

A dead actor (its machine lost, the process killed) is restarted with a logged warning and the
batch scored again; training goes on. Only scoring crosses: models that are fitted while
training (none of the built-in kinds) stay in the training process.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import numpy as np

from rewardgym._ray import error_cause, start_ray

log = logging.getLogger(__name__)


class RewardActor:
    """The Ray actor: the model of ``spec``, built in its process."""

    def __init__(self, spec: str):
        from rewardgym.rewards import make_reward  # the reward kinds are registered where make_reward lives

        self.model = make_reward(spec)

    def needs_frames(self) -> bool:
        return bool(getattr(self.model, "needs_frames", False))

    def score(self, batch) -> np.ndarray:
        return np.asarray(self.model(batch), dtype=np.float32)

    def close(self) -> None:
        from rewardgym.rewards import close_model

        close_model(self.model)


class RayRewardModel:
    """A reward spec's model in a Ray actor asking for ``num_gpus`` and ``num_cpus``.

    A local Ray on 127.0.0.1 unless ``address`` names a cluster (or Ray is already running).
    ``restarts`` counts the actors that died and were replaced.
    """

    def __init__(self, spec: str, *, num_gpus: float = 0.0, num_cpus: float = 1.0, address: str | None = None):
        if num_gpus < 0 or num_cpus < 0:
            raise ValueError(f"num_gpus and num_cpus must be >= 0, got {num_gpus} and {num_cpus}")
        self.spec = spec
        self.ray, self._started = start_ray(address, purpose="a reward model on Ray")
        self._actor_class = self.ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(RewardActor)
        self.restarts = 0
        self._actor = self._actor_class.remote(spec)
        try:  # the first call says whether the spec builds: its error, in the training process
            self.needs_frames = self.ray.get(self._actor.needs_frames.remote())
        except (self.ray.exceptions.RayTaskError, self.ray.exceptions.RayActorError) as exc:
            self._shutdown()
            raise ValueError(f"reward {spec!r} on Ray: {error_cause(exc)}") from None

    def __call__(self, batch) -> np.ndarray:
        try:
            return self.ray.get(self._actor.score.remote(batch))
        except self.ray.exceptions.RayActorError as exc:
            log.warning("the reward model's Ray actor died (%s); starting a new one and scoring the batch again",
                        str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            self.restarts += 1
            self._actor = self._actor_class.remote(self.spec)
            return self.ray.get(self._actor.score.remote(batch))

    def where(self) -> Any:
        """The actor's handle (for tests and tools: ``ray.kill(model.where())``)."""
        return self._actor

    def close(self) -> None:
        if self._actor is None:
            return
        with contextlib.suppress(self.ray.exceptions.RayError):  # already gone: nothing of it to release
            self.ray.get(self._actor.close.remote())
        self._shutdown()

    def _shutdown(self) -> None:
        self.ray.kill(self._actor)
        self._actor = None
        if self._started:
            self.ray.shutdown()
            self._started = False

