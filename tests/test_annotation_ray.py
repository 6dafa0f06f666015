"""The annotation service with its annotator in a Ray actor: never blocks, same queue, same labels."""

from __future__ import annotations

import sys
import threading
import time

import gymnasium as gym
import numpy as np
import pytest

from rewardgym.reward_models import make_reward
from rewardgym.reward_models.llm.annotation import AnnotationStats, AnnotatorFactory
from rewardgym.reward_models.llm.intrinsic import LLMFeedbackReward

GOAL = "pick up the gold"
DELAY = 1.5  # seconds the scripted annotator takes per batch


class ScriptedSlowAnnotator:
    """A scripted stand-in for a slow LLM annotator (no model): sleeps ``delay`` seconds per batch,
    answers 1 for messages that mention gold, 0 for the rest, a malformed answer (``None``) for
    messages that contain "garbled", and fails the first batch that contains "boom".
    It keeps the record a real annotator keeps (``stats``) plus every item it was asked."""

    def __init__(self, delay: float = DELAY) -> None:
        self.delay = delay
        self.stats = AnnotationStats()
        self.asked: list[str] = []
        self.failed = False

    def label_messages(self, messages):
        time.sleep(self.delay)
        if any("boom" in m for m in messages) and not self.failed:
            self.failed = True
            raise RuntimeError("the scripted server is down")
        self.asked.extend(messages)
        labels = [None if "garbled" in m else float("gold" in m) for m in messages]
        self.stats.queries += len(messages)
        self.stats.invalid += labels.count(None)
        self.stats.valid += len(messages) - labels.count(None)
        return labels

    def label_pairs(self, pairs):
        raise AssertionError("this stand-in labels messages only")


def scripted_factory() -> ScriptedSlowAnnotator:
    return ScriptedSlowAnnotator()


@pytest.fixture(scope="module")
def ray_local():
    """One local Ray instance for the module (starting one takes seconds), with one CPU."""
    import ray  # part of the test extra: a missing ray fails here, it is not skipped
    # the test module is not importable in Ray's workers: send its classes by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
             _node_ip_address="127.0.0.1")  # nothing leaves the machine
    yield ray
    ray.shutdown()


def _timed(call, *args):
    start = time.perf_counter()
    out = call(*args)
    return out, time.perf_counter() - start


def test_submit_and_collect_never_wait_for_a_slow_actor(ray_local):
    from rewardgym.reward_models.llm.ray_service import RayAnnotationService

    service = RayAnnotationService(scripted_factory, "messages", batch_size=4)
    try:
        messages = [f"gold {i}" if i % 2 else f"wall {i}" for i in range(10)] + ["garbled"]
        queued, elapsed = _timed(service.submit, messages)
        assert queued == 11 and elapsed < DELAY / 3
        calls = []
        for _ in range(5):  # the agent keeps going while the first batch is being labelled
            (labelled, t_collect), (requeued, t_submit) = _timed(service.collect), _timed(service.submit, messages)
            calls += [t_collect, t_submit]
            assert labelled == [] and requeued == 0  # nothing ready yet; nothing queued twice
        assert max(calls) < DELAY / 3 and service.pending == 11
        assert service.wait(timeout=30) and service.pending == 0
        labelled = service.collect()
        assert sorted(labelled) == sorted((m, float("gold" in m)) for m in messages if m != "garbled")
        assert service.submit(messages) == 0 and service.collect() == []  # still nothing asked twice
        stats = service.stats
        assert (stats.queries, stats.valid, stats.invalid) == (11, 10, 1)  # the malformed answer counted
        assert service.errors == 0
    finally:
        service.close()


def test_a_failed_batch_is_counted_and_can_be_submitted_again(ray_local):
    from rewardgym.reward_models.llm.ray_service import RayAnnotationService

    service = RayAnnotationService(lambda: ScriptedSlowAnnotator(delay=0.0), "messages")
    try:
        service.submit(["boom", "gold"])
        assert service.wait(timeout=30) and service.errors == 1 and service.collect() == []
        assert service.submit(["boom", "gold"]) == 2  # forgotten after the error
        assert service.wait(timeout=30) and sorted(service.collect()) == [("boom", 0.0), ("gold", 1.0)]
        assert service.stats.queries == 2
    finally:
        service.close()


def test_newest_first_and_bounded_queue(ray_local):
    from rewardgym.reward_models.llm.ray_service import RayAnnotationService

    service = RayAnnotationService(lambda: ScriptedSlowAnnotator(delay=0.5), "messages", batch_size=2,
                                   max_pending=3, max_in_flight=1)
    try:
        service.submit(["m0", "m1"])  # sent at once: the actor holds them
        assert service.submit(["m2", "m3", "m4", "m5"]) == 4  # the queue keeps the newest 3
        assert service.submit(["m2"]) == 1  # m2 was dropped, so it may come back (dropping m3)
        assert service.wait(timeout=30)
        # the first batch newest first, then m2 (just resubmitted), m5, m4; m3 was dropped for good
        assert [item for item, _ in service.collect()] == ["m1", "m0", "m2", "m5", "m4"]
    finally:
        service.close()


def broken_factory():
    raise FileNotFoundError("no model at /nowhere")


def test_an_actor_whose_annotator_cannot_be_built_stops_the_service(ray_local, caplog):
    from rewardgym.reward_models.llm.ray_service import RayAnnotationService

    service = RayAnnotationService(broken_factory, "messages", batch_size=1)
    try:
        service.submit(["a", "b", "c"])
        start = time.perf_counter()
        assert not service.wait(timeout=30)  # returns once the actor is known dead, not at the timeout
        assert time.perf_counter() - start < 20
        assert service.errors >= 1 and service.collect() == []
        assert "the annotation actor died" in caplog.text and "no model at /nowhere" in caplog.text
    finally:
        service.close()


class UnpicklableLLM:
    """An LLM client holding a lock, as HTTP clients do: it cannot travel to an actor."""

    def __init__(self) -> None:
        self.lock = threading.Lock()

    def generate(self, prompts, *, max_new_tokens=64, temperature=0.1):
        return ["yes"] * len(prompts)


def test_an_annotator_that_does_not_pickle_gets_a_clear_error(ray_local):
    with pytest.raises(TypeError, match="does not pickle.*AnnotatorFactory"):
        LLMFeedbackReward(GOAL, annotator=UnpicklableLLM(), service="ray")


def test_llm_feedback_with_a_ray_service_drives_a_vector_dungeon(ray_local):
    """The spec's ``service=ray``: the offline annotator is built in the actor; steps never wait."""
    from rewardgym.reward_models.llm.ray_service import RayAnnotationService
    from rewardgym.wrappers.vector import LearnedReward

    reward = make_reward(f"llm-feedback:goal={GOAL};model=lookup;service=ray")
    try:
        assert isinstance(reward, LLMFeedbackReward) and isinstance(reward.service, RayAnnotationService)
        assert isinstance(reward.annotator, AnnotatorFactory) and reward.annotator.annotator == "embedding"
        envs = LearnedReward(gym.make_vec("rewardgym/Dungeon-Gold-v0", num_envs=2), reward, mode="add", coef=0.1)
        envs.reset(seed=0)
        seen, restarting, step_times = set(), np.zeros(2, dtype=bool), []
        for action in np.random.default_rng(0).integers(0, envs.single_action_space.n, (40, 2)):
            (obs, _, terminated, truncated, _), elapsed = _timed(envs.step, action)
            step_times.append(elapsed)
            seen.update(_text(row) for row, skip in zip(obs["message"], restarting) if not skip)
            restarting = terminated | truncated
        # loading the sentence encoder in the actor takes seconds: a step that waited would show it
        assert max(step_times) < 1.0
        assert reward._encoder is None  # the driver never built an encoder: the actor did
        assert reward.flush(timeout=60)
        labels = reward.model.labels
        assert labels and set(labels) == seen - {""}
        assert set(labels.values()) <= {0.0, 1.0}
        assert reward.service.stats.queries == len(labels) and reward.service.errors == 0
        envs.close()
    finally:
        reward.close()


def _text(row: np.ndarray) -> str:
    """NLE's NUL-padded message bytes as text."""
    return np.asarray(row, dtype=np.uint8).tobytes().split(b"\0", 1)[0].decode("utf-8", errors="replace")


def test_missing_ray_says_how_to_install_it(monkeypatch):
    from rewardgym.reward_models.llm.ray_service import RayAnnotationService

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    hint = r'pip install "rewardgym\[distributed\]"'
    with pytest.raises(ImportError, match=hint):
        RayAnnotationService(AnnotatorFactory(GOAL), "messages")
    with pytest.raises(ImportError, match=hint):
        LLMFeedbackReward(GOAL, service="ray")
    with pytest.raises(ImportError, match=hint):
        make_reward(f"llm-feedback:goal={GOAL};service=ray")


def test_service_options_are_checked():
    with pytest.raises(ValueError, match="service must be 'thread' or 'ray'"):
        LLMFeedbackReward(GOAL, service="process")
    with pytest.raises(ValueError, match="needs service=ray"):
        make_reward(f"llm-feedback:goal={GOAL};annotator_gpus=1")
    with pytest.raises(ValueError, match="openai:URL#MODEL"):
        make_reward(f"llm-feedback:goal={GOAL};annotator=gpt;service=ray")
