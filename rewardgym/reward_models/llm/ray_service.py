"""The annotation service with its annotator in a Ray actor (``rewardgym[distributed]``).

:class:`RayAnnotationService` has the interface and the queue of
:class:`~rewardgym.reward_models.llm.annotation.AnnotationService`, but the annotator runs
in a Ray actor: another process, or another machine of a Ray cluster, so a slow local LLM
neither shares the training process's cores and memory nor holds its GIL. The actor builds
the annotator itself from a small picklable recipe (an
:class:`~rewardgym.reward_models.llm.annotation.AnnotatorFactory` or any picklable
zero-argument callable), so model weights load in the actor, never in the driver.

The driver never waits for the actor: ``submit``, ``collect`` and ``pending`` poll the
batches in flight with ``ray.wait(..., timeout=0)``, gather the finished ones and send the
next (newest first, at most ``max_in_flight`` batches at the actor at once), so the work
moves along as training calls them. Each answer carries the annotator's
:class:`~rewardgym.reward_models.llm.annotation.AnnotationStats`, so the counts of
malformed answers are read in the driver (``service.stats``); the annotator's cache lives in
the actor, and the queue's record of submitted items keeps anything from being asked twice.

Ray is imported when a service is built, not before. When Ray is not initialised, a local
instance bound to 127.0.0.1 is started (:func:`rewardgym._ray.start_ray`);
to use a cluster, call ``ray.init(address=...)`` before building the service.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from rewardgym import _ray
from rewardgym.reward_models.llm.annotation import (
    AnnotationStats,
    Annotator,
    Kind,
    _AnnotationQueue,
    label_batch,
)

__all__ = ["RayAnnotationService", "import_ray"]

logger = logging.getLogger(__name__)

INSTALL_HINT = _ray.INSTALL_HINT


def import_ray() -> Any:
    """The ``ray`` module, or an ``ImportError`` that says how to install it."""
    return _ray.import_ray("the Ray annotation service")


class AnnotatorActor:
    """The actor's side: builds the annotator from its recipe, then labels one batch per call.

    Ray runs an actor's calls one at a time, in the order they were sent, so the statistics
    returned with a later batch are never older than those of an earlier one.
    """

    def __init__(self, factory: Callable[[], Annotator], kind: Kind) -> None:
        self.annotator = factory()
        self.kind = kind

    def label(self, batch: list[Any]) -> tuple[list[float | None], AnnotationStats | None]:
        """The batch's labels and the annotator's counters after labelling it."""
        labels = list(label_batch(self.annotator, self.kind, batch))
        stats = getattr(self.annotator, "stats", None)
        return labels, stats if isinstance(stats, AnnotationStats) else None


class RayAnnotationService(_AnnotationQueue):
    """Labels items in a Ray actor; ``submit`` and ``collect`` never wait for it.

    The queue behaves as :class:`~rewardgym.reward_models.llm.annotation.AnnotationService`'s:
    each distinct item is queued once, newest first, the oldest dropped beyond
    ``max_pending``; labels come back from :meth:`collect` as ``(item, label)`` pairs;
    malformed answers are left out and counted (:attr:`stats`); a batch the annotator fails
    on is logged and counted in ``errors``, its items forgotten so that they can be submitted
    again. An actor that dies (its annotator could not be built, its process was killed) is
    logged once, and the service stops as if closed. Unlike the thread, the actor gets work only when the
    driver calls ``submit``, ``collect``, ``pending`` or ``wait``; a training loop calls the
    first two every step, and ``max_in_flight`` batches queued at the actor keep it busy
    between calls.

    Args:
        factory: a picklable zero-argument callable that builds the annotator, called once
            in the actor, e.g. ``AnnotatorFactory(goal, "transformers:Qwen/Qwen2.5-0.5B-Instruct")``.
        kind: ``"messages"`` or ``"pairs"``.
        batch_size: items per annotator call.
        max_pending: capacity of the driver's queue.
        max_in_flight: batches sent to the actor and not yet answered, at most.
        num_cpus, num_gpus: the actor's Ray resources (a ``transformers:`` annotator on a GPU
            needs ``num_gpus=1``; Ray hides the GPUs from an actor that asked for none).
        actor_options: further ``ray.remote`` options for the actor (``resources``,
            ``runtime_env``, ...).
    """

    def __init__(self, factory: Callable[[], Annotator], kind: Kind = "messages", batch_size: int = 100,
                 max_pending: int = 100_000, max_in_flight: int = 2, num_cpus: float = 1,
                 num_gpus: float = 0, actor_options: dict[str, Any] | None = None) -> None:
        super().__init__(kind, batch_size, max_pending)
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight}")
        if not callable(factory):
            raise TypeError(f"factory must be a callable that builds the annotator, got {type(factory).__name__}")
        ray, _ = _ray.start_ray(num_cpus=max(1, math.ceil(num_cpus)), purpose="the Ray annotation service")
        self.factory = factory
        self.max_in_flight = int(max_in_flight)
        self._ray = ray
        options = {"num_cpus": num_cpus, "num_gpus": num_gpus, **(actor_options or {})}
        try:
            self._actor = ray.remote(AnnotatorActor).options(**options).remote(factory, kind)
        except TypeError as error:  # Ray's report of what did not pickle is the cause
            raise TypeError(
                f"the annotator recipe ({type(factory).__name__}) cannot be sent to a Ray actor, it does not pickle;"
                " give a recipe the actor can build from, such as AnnotatorFactory(goal, 'openai:URL#MODEL')"
            ) from error
        self._in_flight: dict[Any, tuple[int, list[Any]]] = {}  # object ref -> (sequence number, batch)
        self._sent = 0
        self._stats = AnnotationStats()
        self._stats_sequence = -1

    @property
    def stats(self) -> AnnotationStats:
        """The annotator's counters as of the latest answer (zeros before any, or when it keeps none)."""
        return self._stats

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted item is labelled; ``False`` on timeout (or once closed with items left)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._advance()
            with self._condition:
                if not self._pending and not self._busy:
                    return True
                refs = list(self._in_flight)
            remaining = None if deadline is None else deadline - time.monotonic()
            if not refs or (remaining is not None and remaining <= 0):
                return False  # closed with items left, or out of time
            self._ray.wait(refs, num_returns=1, timeout=remaining)

    def close(self, timeout: float | None = 5.0) -> None:
        """Gather the batches in flight (waiting at most ``timeout`` seconds), then stop the actor.

        Items still queued in the driver are not labelled. Ray itself keeps running.
        """
        with self._condition:
            if self._closed:
                return
            self._closed = True
            refs = list(self._in_flight)
        if not self._ray.is_initialized():  # Ray was shut down first: the actor is gone already
            return
        if refs:
            self._ray.wait(refs, num_returns=len(refs), timeout=timeout)
            self._advance()
        with self._condition:
            for _, batch in self._in_flight.values():
                self._busy -= len(batch)
            self._in_flight.clear()
        self._ray.kill(self._actor)

    def _advance(self) -> None:
        """Gather the answered batches and send queued ones, all without waiting."""
        if not self._ray.is_initialized():  # Ray was shut down under us: nothing can move
            return
        with self._condition:
            if self._in_flight:
                done, _ = self._ray.wait(list(self._in_flight), num_returns=len(self._in_flight), timeout=0)
                for ref in done:
                    self._gather(ref)
            while not self._closed and self._pending and len(self._in_flight) < self.max_in_flight:
                batch = self._take_batch()
                self._in_flight[self._actor.label.remote(batch)] = (self._sent, batch)
                self._sent += 1

    def _gather(self, ref: Any) -> None:
        """Record one answered batch (lock held; ``ref`` is ready, so ``ray.get`` does not wait)."""
        sequence, batch = self._in_flight.pop(ref)
        try:
            labels, stats = self._ray.get(ref)
        except self._ray.exceptions.RayActorError as error:  # e.g. its annotator could not be built
            self._finish(batch, None)
            if not self._closed:
                logger.error("the annotation actor died, no more labels will come: %s", error)
                self._closed = True
            return
        except Exception:  # never fatal: the agent keeps training on what it has
            logger.exception("annotation of %d items in the Ray actor failed", len(batch))
            self._finish(batch, None)
            return
        if stats is not None and sequence > self._stats_sequence:
            if stats.invalid > self._stats.invalid:  # the actor's own log does not reach the driver
                logger.warning("%d malformed annotator answers (total %d)", stats.invalid - self._stats.invalid,
                               stats.invalid)
            self._stats, self._stats_sequence = stats, sequence
        self._finish(batch, labels)
