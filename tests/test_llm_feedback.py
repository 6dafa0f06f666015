"""LLM feedback as an intrinsic reward: backends, annotation, service, reward models, spec."""

from __future__ import annotations

import http.server
import json
import threading
import time

import gymnasium as gym
import numpy as np
import pytest

from rewardgym.reward_models import make_reward
from rewardgym.rewards.transitions import Transitions
from rewardgym.reward_models.llm.annotation import (
    AnnotationService,
    EmbeddingAnnotator,
    LLMAnnotator,
    parse_preference,
    parse_yes_no,
)
from rewardgym.reward_models.llm.base import LLM
from rewardgym.reward_models.llm.intrinsic import (
    BradleyTerryReward,
    ClassifierReward,
    LLMFeedbackReward,
    make_annotator_llm,
)
from rewardgym.reward_models.llm.openai_chat import LLMRequestError, OpenAIChatLLM
from rewardgym.rewards.transforms import count_discount, quantile_threshold

GOAL = "go down the stairs"


class HashEncoder:
    """A deterministic fake sentence encoder: a random unit vector per text."""

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        rows = []
        for text in texts:
            rng = np.random.default_rng(abs(hash(text)) % 2**32)
            vector = rng.normal(size=self.dim)
            rows.append(vector / np.linalg.norm(vector))
        return np.array(rows, dtype=np.float32).reshape(len(texts), self.dim)


class ScriptedLLM:
    """Answers from a function of the prompt's text; counts prompts."""

    def __init__(self, answer, delay: float = 0.0) -> None:
        self.answer = answer
        self.delay = delay
        self.prompts: list = []

    def generate(self, prompts, *, max_new_tokens=64, temperature=0.1):
        time.sleep(self.delay)
        self.prompts.extend(prompts)
        return [self.answer(prompt[-1]["content"]) for prompt in prompts]


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from rewardgym.testing import save_tiny_causal_lm

    return save_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "label"),
    [
        ("1", 1.0), ("2", 0.0), ("None", 0.5), ("none.", 0.5), ("Message 1", 1.0), ("MESSAGE 2!", 0.0),
        ("<answer>2</answer>", 0.0), ("I think... <answer> None </answer>", 0.5), ("(1)", 1.0),
        ("The answer is: 2", 0.0), ("I prefer message 2", 0.0), ("Neither of them", 0.5),
        ("Message 1 is better than message 2", None), ("", None), ("banana", None), ("3", None),
    ],
)  # fmt: skip
def test_parse_preference(answer, label):
    assert parse_preference(answer) == label


@pytest.mark.parametrize(
    ("answer", "label"),
    [("yes", 1.0), ("Yes.", 1.0), ("NO", 0.0), ("<answer>no</answer>", 0.0), ("No, it is not", 0.0),
     ("Answer: yes", 1.0), ("maybe", None), ("", None), ("it is yes and no", None)],
)
def test_parse_yes_no(answer, label):
    assert parse_yes_no(answer) == label


# --- backends ------------------------------------------------------------------------------


def test_tiny_transformers_llm_drives_annotation(tiny_lm):
    from rewardgym.reward_models.llm.transformers_llm import TransformersLLM

    llm = TransformersLLM(tiny_lm, device="cpu", batch_size=2)
    assert isinstance(llm, LLM)
    assert llm.format("hi") == "<|user|>hi<|end|><|assistant|>"  # the chat template
    outputs = llm.generate(["hello", [{"role": "user", "content": "x"}], "abc"], max_new_tokens=4, temperature=0)
    assert len(outputs) == 3 and all(isinstance(o, str) and o for o in outputs)
    assert outputs == llm.generate(["hello", [{"role": "user", "content": "x"}], "abc"], max_new_tokens=4,
                                   temperature=0)  # greedy, and batching/left padding does not change it
    assert llm.generate(["abc"], max_new_tokens=4, temperature=0) == outputs[2:]

    annotator = LLMAnnotator(llm, GOAL, max_new_tokens=4, temperature=0, constrained=False)  # parse free replies
    labels = annotator.label_messages(["You see a staircase down.", "It's a wall."])
    pair_labels = annotator.label_pairs([("a", "b")])
    # a random model's answers are garbage: every one is invalid, counted, and nothing raises
    invalid = sum(label is None for label in labels + pair_labels)
    assert annotator.stats.queries == 3 and annotator.stats.invalid == invalid
    assert annotator.stats.valid == 3 - invalid
    annotator.label_messages(["It's a wall."])
    assert annotator.stats.queries == 3 and annotator.stats.cache_hits == 1

    reward = LLMFeedbackReward(GOAL, annotator, "lookup", beta=0)
    reward.submit(["You see a staircase down."])
    assert reward.flush(timeout=30) and reward.service.errors == 0
    reward.close()


class _Stub(http.server.BaseHTTPRequestHandler):
    fail_first: set[str] = set()
    slow: set[str] = set()
    seen: list[str] = []
    in_flight = 0
    max_in_flight = 0
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        content = body["messages"][-1]["content"]
        cls = type(self)
        with cls.lock:
            cls.seen.append(content)
            cls.in_flight += 1
            cls.max_in_flight = max(cls.max_in_flight, cls.in_flight)
            attempt = cls.seen.count(content)
        try:
            time.sleep(0.05)
            if content in cls.fail_first and attempt == 1:
                self.send_response(500)
                self.end_headers()
                return
            if content in cls.slow and attempt == 1:
                time.sleep(1.0)  # longer than the client's timeout
            reply = {"choices": [{"message": {"role": "assistant", "content": f"echo {content}"}}]}
            data = json.dumps(reply).encode()
            self.send_response(200 if content != "bad request" else 400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            with cls.lock:
                cls.in_flight -= 1

    def log_message(self, *args):
        pass


@pytest.fixture
def stub_server():
    _Stub.fail_first, _Stub.slow, _Stub.seen = {"flaky"}, {"slow"}, []
    _Stub.in_flight = _Stub.max_in_flight = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_openai_chat_llm_retries_and_limits_concurrency(stub_server):
    llm = OpenAIChatLLM(stub_server, "tiny", timeout=0.5, retries=2, max_concurrency=3, backoff=0.01)
    assert isinstance(llm, LLM)
    prompts = ["flaky", "slow", *[f"p{i}" for i in range(8)], [{"role": "user", "content": "chat"}]]
    answers = llm.generate(prompts)
    assert answers[:2] == ["echo flaky", "echo slow"]  # a 500 and a timeout, both retried
    assert answers[2:] == [f"echo p{i}" for i in range(8)] + ["echo chat"]
    assert _Stub.seen.count("flaky") == 2 and _Stub.seen.count("slow") == 2
    assert 1 < _Stub.max_in_flight <= 3
    with pytest.raises(LLMRequestError, match="400"):
        llm.generate(["bad request"])
    assert _Stub.seen.count("bad request") == 1  # client errors are not retried
    no_retry = OpenAIChatLLM(stub_server, "tiny", timeout=0.5, retries=0, backoff=0.01)
    _Stub.seen.clear()
    with pytest.raises(LLMRequestError, match="1 attempts"):
        no_retry.generate(["flaky"])


def test_make_annotator_llm_syntax(stub_server):
    assert make_annotator_llm("embedding") == "embedding"
    llm = make_annotator_llm(f"openai:{stub_server}#tiny")
    assert isinstance(llm, OpenAIChatLLM) and llm.model == "tiny" and llm.url == stub_server + "/chat/completions"
    with pytest.raises(ValueError, match="openai:URL#MODEL"):
        make_annotator_llm("openai:http://localhost:8000/v1")


# --- annotators and the service ------------------------------------------------------------


def test_llm_annotator_cache_prompts_and_invalid_answers():
    def answer(text):  # the prompt quotes the message
        return "<answer>yes</answer>" if "'a staircase'" in text else ("no" if "'a wall'" in text else "??")

    llm = ScriptedLLM(answer)
    annotator = LLMAnnotator(llm, GOAL)
    labels = annotator.label_messages(["a staircase", "a wall", "a wall", "gibberish"])
    assert labels == [1.0, 0.0, 0.0, None]
    assert len(llm.prompts) == 3 and GOAL in llm.prompts[0][-1]["content"]
    assert annotator.stats.invalid == 1 and annotator.stats.valid == 2 and annotator.stats.cache_hits == 1
    annotator.label_messages(["a staircase", "gibberish"])
    assert len(llm.prompts) == 3  # nothing is sent twice, not even a malformed one

    pairs = LLMAnnotator(ScriptedLLM(lambda text: "Message 1"), GOAL)
    assert pairs.label_pairs([("x", "y"), ("y", "x"), ("x", "y")]) == [1.0, 1.0, 1.0]
    assert pairs.llm.prompts.__len__() == 2  # ordered pairs: (x, y) and (y, x) are different questions
    assert "Message 1: 'x'" in pairs.llm.prompts[0][-1]["content"]


def test_embedding_annotator_prefers_the_message_about_the_goal():
    from rewardgym.reward_models.embeddings import TextEncoder

    annotator = EmbeddingAnnotator("go down the staircase", TextEncoder(), threshold=0.3)
    near, far = "There is a staircase down here.", "You hear the footsteps of a guard on patrol."
    assert annotator.label_messages([near, far]) == [1.0, 0.0]
    assert annotator.label_pairs([(near, far), (far, near), (near, near)]) == [1.0, 0.0, 0.5]


def test_service_never_blocks_on_a_slow_annotator():
    delay = 0.5
    annotator = LLMAnnotator(ScriptedLLM(lambda text: "yes", delay=delay), GOAL)
    service = AnnotationService(annotator, "messages", batch_size=4)
    start = time.perf_counter()
    queued = service.submit([f"m{i}" for i in range(10)])
    elapsed = time.perf_counter() - start
    assert queued == 10 and elapsed < delay / 10
    assert service.collect() == []  # nothing ready yet, and asking does not wait
    assert service.submit(["m0", "m1"]) == 0  # already queued
    assert service.wait(timeout=10)
    labelled = dict(service.collect())
    assert labelled == {f"m{i}": 1.0 for i in range(10)}
    assert len(annotator.llm.prompts) == 10 and service.pending == 0
    service.close()


def test_service_survives_annotator_errors():
    calls = []

    class Flaky:
        def label_messages(self, messages):
            calls.append(list(messages))
            if len(calls) == 1:
                raise RuntimeError("server down")
            return [1.0] * len(messages)

    service = AnnotationService(Flaky(), "messages")
    service.submit(["a"])
    assert service.wait(timeout=5) and service.errors == 1 and service.collect() == []
    assert service.submit(["a"]) == 1  # forgotten after the error, so it can come back
    assert service.wait(timeout=5) and service.collect() == [("a", 1.0)]
    service.close()


# --- reward models ------------------------------------------------------------------------


def test_bradley_terry_recovers_a_known_order():
    messages = [f"message {i}" for i in range(12)]
    true_score = {m: i for i, m in enumerate(messages)}  # higher index = more progress
    rng = np.random.default_rng(0)
    pairs = [(messages[i], messages[j]) for i, j in rng.integers(0, len(messages), size=(120, 2)) if i != j]
    labels = [1.0 if true_score[a] > true_score[b] else 0.0 for a, b in pairs]
    model = BradleyTerryReward(HashEncoder(dim=32), steps=300)
    model.update(pairs, labels)
    scores = model.score(messages)
    ranks = np.argsort(np.argsort(scores))
    assert np.corrcoef(ranks, np.arange(len(messages)))[0, 1] > 0.95
    assert model.fit() < 0.3  # the pairwise loss is low once the order is learned


def test_bradley_terry_ties_pull_scores_together():
    model = BradleyTerryReward(HashEncoder(), steps=300)
    model.update([("a", "b"), ("b", "a")], [0.5, 0.5])
    a, b = model.score(["a", "b"])
    assert abs(a - b) < 1e-3


def test_classifier_generalises_from_labels():
    encoder = HashEncoder(dim=8)
    classifier = ClassifierReward(encoder, binary=False)
    assert classifier.score(["x"]).tolist() == [0.0]
    classifier.update(["good"], [1.0])
    assert classifier.score(["anything"]).tolist() == [1.0]  # one class so far
    classifier.update(["bad"], [0.0])
    p_good, p_bad = classifier.score(["good", "bad"])
    assert p_good > 0.5 > p_bad


def test_classifier_refits_incrementally_to_the_fit_from_scratch():
    """Warm-started refits over kept features reach the one minimum a fit of every label at once finds,
    and the encoder is asked only about messages it has not embedded for the model."""

    class Counting(HashEncoder):
        asked: list[str] = []

        def encode(self, texts):
            self.asked.extend(texts)
            return super().encode(texts)

    encoder = Counting(dim=16)
    rng = np.random.default_rng(0)
    words = [f"message {k}" for k in range(300)]
    truth = {m: float(rng.random() < 0.3) for m in words}
    incremental = ClassifierReward(encoder, binary=False)
    for start in range(0, 300, 40):
        batch = words[start:start + 40]
        incremental.update(batch, [truth[m] for m in batch])
    assert sorted(encoder.asked) == sorted(words)  # each labelled message embedded once
    relabelled = words[:5]
    incremental.update(relabelled, [1.0 - truth[m] for m in relabelled])  # the latest label counts
    truth.update({m: 1.0 - truth[m] for m in relabelled})
    scratch = ClassifierReward(HashEncoder(dim=16), binary=False, newton_steps=50)
    scratch.update(list(truth), list(truth.values()))
    np.testing.assert_allclose(incremental.weights, scratch.weights, atol=1e-6)
    np.testing.assert_allclose(incremental.score(words), scratch.score(words), atol=1e-6)


def test_waiting_for_labels_pays_a_message_the_first_time_it_is_seen():
    llm = ScriptedLLM(lambda text: "yes" if "'stairs'" in text else "no")
    eager = LLMFeedbackReward(GOAL, llm, "lookup", beta=0.0, wait=5.0)
    try:
        assert eager(_batch(["stairs", "wall"])).tolist() == [1.0, 0.0]
    finally:
        eager.close()
    spec = make_reward("llm-feedback:goal=go down the stairs;wait=2")
    try:
        assert spec.wait == 2.0
    finally:
        spec.close()
    with pytest.raises(ValueError, match="wait"):
        LLMFeedbackReward(GOAL, llm, "lookup", wait=-1)


def test_count_discount_and_quantile_threshold_maths():
    np.testing.assert_allclose(count_discount([1.0, 1.0, 2.0], [1, 2, 3], beta=3), [1.0, 1 / 8, 2 / 27])
    np.testing.assert_allclose(count_discount([1.0], [4], beta=0), [1.0])
    np.testing.assert_allclose(quantile_threshold([-1.0, 0.2, 0.5, 2.0], 0.5), [0.0, 0.0, 0.0, 2.0])


def _batch(texts, done=None):
    n = len(texts)
    done = np.zeros(n, bool) if done is None else np.asarray(done)
    return Transitions(obs=None, action=np.zeros(n), next_obs=list(texts), terminated=done,
                       truncated=np.zeros(n, bool), infos=[{}] * n)


def test_lookup_reward_counts_discount_per_episode():
    llm = ScriptedLLM(lambda text: "yes" if "'stairs'" in text else "no")
    reward = LLMFeedbackReward(GOAL, llm, "lookup", beta=3.0)
    assert reward(_batch(["stairs"])).tolist() == [0.0]  # not labelled yet
    assert reward.flush(timeout=5)
    np.testing.assert_allclose(reward(_batch(["stairs"])), [1 / 2**3])  # 2nd time this episode
    np.testing.assert_allclose(reward(_batch(["stairs"], done=[True])), [1 / 3**3])
    np.testing.assert_allclose(reward(_batch(["stairs"])), [1.0])  # a new episode: counts restart
    assert reward(_batch(["wall"])).tolist() == [0.0]
    assert reward(_batch([""])).tolist() == [0.0]
    assert reward.flush(timeout=5)
    assert len(llm.prompts) == 2  # "stairs" and "wall" once each; the empty message never
    reward.close()


def test_count_discount_follows_env_ids_when_resetting_envs_are_left_out():
    """A vector wrapper leaves resetting envs out of the batch: counts stay with their env."""
    llm = ScriptedLLM(lambda text: "yes")
    reward = LLMFeedbackReward(GOAL, llm, "lookup", beta=3.0)
    reward(_batch(["a", "a", "b"]))
    assert reward.flush(timeout=5)
    reward.counts = None  # start counting from here, with every message labelled 1
    np.testing.assert_allclose(reward.reward(["a", "a", "b"], np.array([False, True, False])), [1, 1, 1])
    # env 1 ended and is resetting: the batch holds envs 0 and 2 only
    np.testing.assert_allclose(reward.reward(["a", "b"], np.zeros(2, bool), env_ids=[0, 2]), [1 / 8, 1 / 8])
    # env 1 is back with a new episode; envs 0 and 2 keep counting
    np.testing.assert_allclose(reward.reward(["a", "a", "b"], np.zeros(3, bool), env_ids=[0, 1, 2]),
                               [1 / 27, 1, 1 / 27])
    reward.close()


def test_vector_learned_reward_passes_the_env_ids_of_a_partial_batch():
    from rewardgym.wrappers.vector import LearnedReward as VectorLearnedReward

    seen = []

    class Recorder:
        needs_frames = False

        def __call__(self, batch):
            seen.append(None if batch.env_ids is None else list(batch.env_ids))
            return np.zeros(len(batch), np.float32)

    envs = VectorLearnedReward(gym.make_vec("rewardgym/Dungeon-Room5x5-v0", num_envs=4), Recorder())
    envs.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 8, (300, 4))
    for a in actions:  # random walks reach the stairs at different times
        envs.step(a)
    partial = [ids for ids in seen if ids is not None]
    assert None in seen and partial and all(len(ids) < 4 and ids == sorted(set(ids)) for ids in partial)


def test_bradley_terry_feedback_normalises_and_thresholds():
    order = {f"msg {i}": i for i in range(10)}
    llm = ScriptedLLM(lambda text: _prefer(text, order))
    reward = LLMFeedbackReward(GOAL, llm, BradleyTerryReward(HashEncoder(32), steps=200), beta=0.0,
                               epsilon=0.5, pairs_per_message=4)
    for message in order:
        reward(_batch([message]))
    reward.flush(timeout=10)
    out = reward(_batch(list(order)))
    assert reward.normalize and reward.epsilon == 0.5
    assert np.count_nonzero(out) <= 6 and out[-1] > 0 and out[0] == 0.0  # below the median: 0
    reward.close()


def _prefer(prompt: str, order: dict[str, int]) -> str:
    first = prompt.split("Message 1: '")[1].split("'")[0]
    second = prompt.split("Message 2: '")[1].split("'")[0]
    return "1" if order[first] > order[second] else "2"


def test_spec_through_learned_reward_on_the_dungeon():
    from rewardgym.wrappers import LearnedReward

    reward = make_reward("llm-feedback:goal=go down the stairs;model=lookup;beta=3")
    assert isinstance(reward, LLMFeedbackReward) and reward.beta == 3.0 and reward.epsilon is None
    env = LearnedReward(gym.make("rewardgym/Dungeon-Score-v0"), reward, mode="add", coef=0.1)
    env.reset(seed=0)
    messages = []
    for _ in range(20):
        _, total, terminated, truncated, info = env.step(env.action_space.sample())
        messages.append(env.unwrapped.message())
        assert total == pytest.approx(info["reward_env"] + 0.1 * info["reward_learned"])
        if terminated or truncated:
            env.reset()
    assert reward.flush(timeout=30)
    assert set(reward.annotator.cache) == {("message", m) for m in messages if m}
    reward.close()


# --- the synthesize-reward command ------------------------------------------------------------
def test_synthesize_reward_command_with_a_tiny_random_lm(tiny_lm, tmp_path, capsys):
    """A random LM writes no usable code: every candidate is recorded as failed, nothing crashes."""
    from rewardgym.cli import main

    out = tmp_path / "eureka"
    code = main(["synthesize-reward", "rewardgym/Bandit-Bernoulli2-v0", "--llm", f"transformers:{tiny_lm}",
                 "--iterations", "1", "--candidates", "2", "--train-steps", "64", "--eval-episodes", "1",
                 "--num-envs", "1", "--device", "cpu", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 1 and "2 candidates, 2 of them failed" in printed and "no candidate produced" in printed
    assert (out / "summary.json").is_file() and (out / "iter0" / "prompt.txt").is_file()


@pytest.mark.parametrize("argv, message", [
    (["synthesize-reward", "rewardgym/Bandit-Bernoulli2-v0", "--llm", "gpt"], "--llm"),
    (["synthesize-reward", "rewardgym/Bandit-Bernoulli2-v0", "--llm", "openai:http://localhost:1"], "--llm"),
    (["synthesize-reward", "NoSuchEnv-v9", "--llm", "transformers:x"], "unknown env id"),
])
def test_synthesize_reward_command_refuses_bad_arguments(argv, message, capsys):
    from rewardgym.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("rewardgym: error:") and message in err and err.count("\n") == 1


def test_training_keeps_stepping_while_the_annotator_is_stuck():
    """An annotator that cannot answer until released: the wrapped env steps on, then labels arrive."""
    from rewardgym.wrappers import LearnedReward

    release = threading.Event()

    class StuckLLM(ScriptedLLM):
        def generate(self, prompts, **kwargs):
            release.wait(timeout=60)
            return super().generate(prompts, **kwargs)

    reward = LLMFeedbackReward("find the staircase down", annotator=StuckLLM(lambda text: "yes"), model="lookup")
    env = LearnedReward(gym.make("rewardgym/Dungeon-Room15x15Monster-v0"), reward, mode="add", coef=0.1)
    env.reset(seed=0)
    for _ in range(30):  # would hang here if a step waited for a label
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        assert info["reward_learned"] == 0.0  # no label has arrived yet
        if terminated or truncated:
            env.reset()
    assert reward.service.pending > 0 and reward.service.collect() == []
    release.set()
    assert reward.flush(timeout=30) and reward.service.pending == 0
    reward.close()
