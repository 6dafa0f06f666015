"""What makes an LLM-derived reward usable: contrastive offline labels, constrained LLM answers, Motif offline.

The embedding annotator runs on the real MiniLM encoder (the test extra installs it), so the
labels asserted are the ones a user gets; the constrained answers run through a tiny random
Llama saved and loaded by transformers, checked against a forward pass computed by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rewardgym.reward_models import make_reward
from rewardgym.reward_models.llm.annotation import FAILURE_TEXTS, EmbeddingAnnotator, LLMAnnotator
from rewardgym.reward_models.llm.intrinsic import BradleyTerryReward, LLMFeedbackReward, fit_preferences

GOAL = "find the staircase down and descend"
DOWN, UP = "There is a staircase down here.", "There is a staircase up here."
FAILURES = ["You can't go up here.", "It's a wall.", "There is nothing here to pick up."]


@pytest.fixture(scope="module")
def encoder():
    from rewardgym.reward_models.embeddings import TextEncoder

    return TextEncoder()


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from rewardgym.testing import save_tiny_causal_lm

    return save_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


def test_similarity_alone_rewards_near_misses_and_failures_the_contrast_does_not(encoder):
    plain = EmbeddingAnnotator(GOAL, encoder, avoid=())
    assert plain.label_messages([DOWN, UP, "You can't go up here."]) == [1.0, 1.0, 1.0]  # the diagnosis
    generic = EmbeddingAnnotator(GOAL, encoder)  # FAILURE_TEXTS by default
    assert generic.label_messages([DOWN, *FAILURES]) == [1.0, 0.0, 0.0, 0.0]
    task = EmbeddingAnnotator(GOAL, encoder, avoid=FAILURE_TEXTS + ("going up", "climb upstairs"))
    assert task.label_messages([DOWN, UP, *FAILURES]) == [1.0, 0.0, 0.0, 0.0, 0.0]
    # pairs follow the contrastive score: down beats up only once "up" is a near miss
    assert task.label_pairs([(DOWN, UP), (UP, DOWN)]) == [1.0, 0.0]
    goal, score = task.similarities([DOWN, UP])
    np.testing.assert_allclose(goal, plain.similarity([DOWN, UP]), atol=1e-6)
    assert score[0] > task.contrast > score[1]


def test_the_spec_passes_near_misses_to_the_annotator(encoder):
    reward = make_reward(f"llm-feedback:goal={GOAL};annotator=embedding;avoid=going up|climb upstairs")
    try:
        assert reward.annotator.avoid == FAILURE_TEXTS + ("going up", "climb upstairs")
        assert reward.annotator.label_messages([DOWN, UP]) == [1.0, 0.0]
    finally:
        reward.close()


@pytest.mark.parametrize("options", [["yes", "no", "None"], ["y", "n", "1"]])  # several tokens, or one each
def test_choose_scores_each_option_as_a_forward_pass_does(tiny_lm, options):
    from rewardgym.reward_models.llm.transformers_llm import TransformersLLM

    llm = TransformersLLM(tiny_lm, device="cpu", batch_size=2)
    prompts = ["short", [{"role": "user", "content": "a much longer prompt than the first one"}], "mid prompt"]
    assert all(len(llm.tokenizer(o, add_special_tokens=False)["input_ids"]) == (1 if len(o) == 1 else len(o))
               for o in options)
    scores = llm.choose(prompts, options, prefix="<answer>")
    assert scores.shape == (3, 3) and np.isfinite(scores).all() and (scores < 0).all()
    for row, prompt in enumerate(prompts):  # by hand: one unpadded sequence per option
        head = llm.tokenizer(llm.format(prompt) + "<answer>", add_special_tokens=False)["input_ids"]
        for col, option in enumerate(options):
            tail = llm.tokenizer(option, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                logits = llm.model(input_ids=torch.tensor([head + tail])).logits[0]
            logp = torch.log_softmax(logits.float(), -1)
            expected = sum(float(logp[len(head) - 1 + k, token]) for k, token in enumerate(tail))
            assert scores[row, col] == pytest.approx(expected, abs=1e-4)
    with pytest.raises(ValueError, match="at least one option"):
        llm.choose(prompts, [])


class ChoosingLLM:
    """Answers by scores: prefers "yes" for messages with "stair", "1"/"2" for the pair holding one."""

    def __init__(self):
        self.calls = 0

    def generate(self, prompts, *, max_new_tokens=64, temperature=0.1):
        raise AssertionError("a constrained annotator never parses free text")

    def choose(self, prompts, options, *, prefix=""):
        self.calls += 1
        assert prefix == "<answer>"
        out = np.full((len(prompts), len(options)), -5.0)
        for row, prompt in enumerate(prompts):
            text = prompt[-1]["content"]
            if options == ["yes", "no"]:
                out[row, 0 if "stair" in text.split("message:")[-1] else 1] = -0.1
            else:
                first, second = text.split("Message 1:")[1].split("Message 2:")
                winner = 0 if "stair" in first else 1 if "stair" in second else 2
                out[row, winner] = -0.1
        return out


def test_a_constrained_annotator_takes_the_likeliest_allowed_answer():
    annotator = LLMAnnotator(ChoosingLLM(), GOAL)
    assert annotator.constrained
    assert annotator.label_messages([DOWN, "It's a wall."]) == [1.0, 0.0]
    assert annotator.label_pairs([(DOWN, "It's a wall."), ("It's a wall.", DOWN), ("a", "b")]) == [1.0, 0.0, 0.5]
    assert annotator.stats.queries == 5 and annotator.stats.valid == 5 and annotator.stats.invalid == 0

    class Server:  # an LLM that can only generate (an OpenAI-compatible server)
        def generate(self, prompts, *, max_new_tokens=64, temperature=0.1):
            return ["<answer>yes</answer>"] * len(prompts)

    assert not LLMAnnotator(Server(), GOAL).constrained
    assert LLMAnnotator(Server(), GOAL).label_messages(["x"]) == [1.0]
    with pytest.raises(ValueError, match="needs an LLM with choose"):
        LLMAnnotator(Server(), GOAL, constrained=True)
    with pytest.raises(ValueError, match="constrained must be"):
        LLMAnnotator(Server(), GOAL, constrained="yes")


def test_motif_offline_fits_once_and_then_asks_for_nothing(encoder):
    dataset = [DOWN, "It's a wall.", "You see no objects here.", "The stairs are steep.", DOWN, ""] * 5
    llm = ChoosingLLM()
    model = fit_preferences(dataset, LLMAnnotator(llm, GOAL), pairs=60, seed=0, encoder=encoder)
    assert isinstance(model, BradleyTerryReward) and llm.calls == 1  # one batch of pairs, labelled once
    scores = model.score([DOWN, "The stairs are steep.", "It's a wall.", "You see no objects here."])
    assert min(scores[:2]) > max(scores[2:])  # messages about stairs rank above the rest
    reward = LLMFeedbackReward(GOAL, None, model, beta=0, epsilon=0.0, normalize=False)
    assert reward.service is None and reward.annotator is None
    reward.submit([DOWN, "It's a wall."])  # offline: nothing is queued, nothing is learned
    assert reward.learn() == 0 and reward.flush(timeout=1)
    rewards = reward.reward([DOWN, "It's a wall.", ""], np.zeros(3, bool))
    assert rewards[0] > 0 and rewards[1] == 0 and rewards[2] == 0
    reward.close()
    with pytest.raises(ValueError, match="two distinct messages"):
        fit_preferences([DOWN, DOWN, ""], LLMAnnotator(llm, GOAL), encoder=encoder)
