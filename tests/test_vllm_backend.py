"""The LLM trainer's optional vLLM generation backend, where vLLM is not installed.

vLLM needs CUDA and is never installed here; what is tested is what runs without it: the clear
error when it is missing, the config checks, the weight names the engine is handed (from a
real peft model), and the generator's own logic (sync once after an update, cut after the end
token, sampling parameters) against a stand-in engine that records what it was given.
"""

from __future__ import annotations

import sys
import types

import gymnasium as gym
import pytest
import torch

import rewardgym  # noqa: F401
from rewardgym.agents.llm import LLMAgent
from rewardgym.agents.llm.vllm_generation import VLLMGenerator, trained_weights
from rewardgym.cli import main
from rewardgym.testing import save_tiny_causal_lm


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    return save_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture
def no_vllm(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # "import vllm" raises ImportError even where it is installed


def test_a_missing_vllm_is_one_clear_error(tiny_lm, no_vllm):
    envs = [gym.make("rewardgym/Bandit-Meta2-v0") for _ in range(2)]
    with pytest.raises(ImportError, match=r'pip install "rewardgym\[vllm\]"'):
        LLMAgent(envs, model=tiny_lm, device="cpu", generation_backend="vllm")
    with pytest.raises(ValueError, match="generation_backend must be one of transformers, vllm"):
        LLMAgent(envs, model=tiny_lm, device="cpu", generation_backend="sglang")
    with pytest.raises(ValueError, match="vllm_gpu_memory_utilization"):
        LLMAgent(envs, model=tiny_lm, device="cpu", vllm_gpu_memory_utilization=1.5)


def test_the_train_command_says_what_to_install(tiny_lm, tmp_path, capsys, no_vllm):
    code = main(["train", "rewardgym/Bandit-Meta2-v0", "--agent", "llm-grpo", "--model", str(tiny_lm),
                 "--out", str(tmp_path), "--no-progress", "--device", "cpu", "--config", "generation_backend=vllm"])
    err = capsys.readouterr().err
    assert code == 2 and 'pip install "rewardgym[vllm]"' in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not any(tmp_path.iterdir())


def test_on_the_cpu_vllm_is_refused_even_when_installed(tiny_lm, monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", types.ModuleType("vllm"))
    envs = [gym.make("rewardgym/Bandit-Meta2-v0") for _ in range(2)]
    with pytest.raises(ValueError, match="runs on a CUDA GPU"):
        LLMAgent(envs, model=tiny_lm, device="cpu", generation_backend="vllm")


def test_the_engine_gets_the_merged_weights_under_the_base_models_names(tiny_lm):
    pytest.importorskip("peft", reason="peft is part of the test extra")
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_lm)
    plain = dict(trained_weights(base))
    assert plain.keys() == base.state_dict().keys()
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_lm),
                           LoraConfig(r=2, lora_alpha=4, target_modules="all-linear", lora_dropout=0.0))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.fill_(0.5)  # a trained adapter: the merged weights differ from the base
    model.merge_adapter()
    merged = dict(trained_weights(model))
    model.unmerge_adapter()
    assert merged.keys() == plain.keys()  # no peft prefixes, no base_layer, no LoRA factors
    changed = [name for name in merged if not torch.equal(merged[name], plain[name])]
    assert changed and all(name.endswith(".weight") for name in changed)


class _Engine:
    """Stands in for vllm.LLM: records weight loads and answers with fixed token rows."""

    def __init__(self, **kwargs):
        self.kwargs, self.loads, self.resets, self.requests = kwargs, [], 0, []
        model = types.SimpleNamespace(load_weights=lambda items: self.loads.append(dict(items)))
        self.llm_engine = types.SimpleNamespace(model_executor=types.SimpleNamespace(
            driver_worker=types.SimpleNamespace(model_runner=types.SimpleNamespace(model=model))))

    def reset_prefix_cache(self):
        self.resets += 1

    def generate(self, requests, params, use_tqdm):
        self.requests.append((requests, params))
        rows = [[5, 6, 2, 7], [5, 6, 7, 8]]  # 2 is an end token: the first row stops there
        return [types.SimpleNamespace(outputs=[types.SimpleNamespace(token_ids=rows[k % 2])])
                for k in range(len(requests))]


def test_the_generator_syncs_once_after_an_update_and_cuts_at_the_end_token(monkeypatch):
    fake = types.ModuleType("vllm")
    fake.LLM = _Engine
    fake.SamplingParams = lambda **kwargs: kwargs
    monkeypatch.setitem(sys.modules, "vllm", fake)
    generator = VLLMGenerator("folder", tokenizer=None, max_new_tokens=4, temperature=0.7, end_ids=[2])
    engine = generator.llm
    assert engine.kwargs["model"] == "folder" and engine.kwargs["enable_prefix_caching"]
    assert generator([[1, 2, 3], [4]]) == [[5, 6, 2], [5, 6, 7, 8]]
    assert engine.requests[0][0] == [{"prompt_token_ids": [1, 2, 3]}, {"prompt_token_ids": [4]}]
    assert engine.requests[0][1] == {"max_tokens": 4, "stop_token_ids": [2], "skip_special_tokens": False,
                                     "temperature": 0.7, "top_p": 1.0, "top_k": -1}
    assert engine.loads == []  # nothing changed yet
    generator.weights_changed(torch.nn.Linear(2, 2))
    generator([[1]])
    generator([[1]])
    assert len(engine.loads) == 1 and set(engine.loads[0]) == {"weight", "bias"} and engine.resets == 1
    generator([[1]], greedy=True)
    assert engine.requests[-1][1]["temperature"] == 0.0 and generator.ended([5, 2]) and not generator.ended([5])
