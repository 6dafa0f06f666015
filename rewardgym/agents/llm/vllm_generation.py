"""Generation through vLLM for the LLM trainer (``generation_backend="vllm"``, CUDA only).

The trainer keeps its transformers model for the update; a vLLM engine in the same process
(TRL's "colocate" mode) samples the rollouts. After each optimiser update the trainer's weights
are copied into the engine before the next rollout (``weights_changed`` marks them stale; the
copy happens lazily, once, at the next generation), so the rollout policy is the trained one.

What differs from the transformers backend, and why it is still on-policy enough:
- vLLM samples in its own precision (bf16 by default) with its own kernels, so the log-probs
  of its samples differ slightly from the trainer's. The update treats the samples as drawn
  from the trainer's policy (ρ = 1 on the first pass), as TRL does without its optional
  importance-sampling correction.
- Sampling follows the policy as in :class:`episodes.Generator`: temperature, top-p only when
  asked, no top-k, stop on the model's end tokens.

vLLM is an optional extra (``pip install "rewardgym[vllm]"``), not installed in CI; without it,
or without CUDA, building the generator is one clear error.
"""

from __future__ import annotations

from collections.abc import Sequence

from rewardgym.agents.llm.episodes import Generator, cut_after_end

_INSTALL = 'generation_backend="vllm" needs vLLM and a CUDA GPU: pip install "rewardgym[vllm]"'


def import_vllm():
    """The ``vllm`` module, or an ImportError that says how to install it."""
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(f"{_INSTALL} ({exc})") from None
    return vllm


def engine_model(llm):
    """The torch module inside a vLLM engine whose ``load_weights`` takes ``(name, tensor)`` pairs.

    Its path has moved between vLLM releases; this tries the known ones, newest first.
    """
    engine = llm.llm_engine
    paths = (("model_executor", "driver_worker", "worker", "model_runner", "model"),
             ("model_executor", "driver_worker", "model_runner", "model"))
    for path in paths:
        node = engine
        for name in path:
            node = getattr(node, name, None)
            if node is None:
                break
        if node is not None and callable(getattr(node, "load_weights", None)):
            return node
    raise RuntimeError("cannot reach the model inside this vLLM engine to load new weights; run it in one "
                       "process (VLLM_ENABLE_V1_MULTIPROCESSING=0) or use generation_backend='transformers'")


def trained_weights(model):
    """``(name, tensor)`` pairs of a transformers model as the engine names them.

    A peft model is merged first (the caller unmerges), its wrapper prefixes and the LoRA
    factors themselves dropped: the engine holds the plain architecture.
    """
    for name, tensor in model.state_dict().items():
        if "lora_" in name or "modules_to_save" in name:
            continue
        name = name.removeprefix("base_model.model.").replace(".base_layer", "")
        yield name, tensor


class VLLMGenerator:
    """Batched sampling through a colocated vLLM engine: token-id prompts in, each row's new tokens out.

    The same call as :class:`episodes.Generator` (``__call__``, ``ended``, ``max_new_tokens``,
    ``tokenizer``), plus ``weights_changed(model)``, which the trainer calls after each update.
    """

    def __init__(self, model_path: str, tokenizer, *, max_new_tokens: int, temperature: float, top_p: float = 1.0,
                 end_ids: Sequence[int], dtype: str = "bfloat16", gpu_memory_utilization: float = 0.3,
                 max_model_len: int | None = None, seed: int = 0):
        vllm = import_vllm()
        self.vllm = vllm
        self.tokenizer = tokenizer
        self.max_new_tokens, self.temperature, self.top_p = int(max_new_tokens), float(temperature), float(top_p)
        self.end_ids = sorted(int(i) for i in end_ids)
        self.llm = vllm.LLM(model=str(model_path), tokenizer=str(model_path), dtype=dtype, seed=int(seed),
                            gpu_memory_utilization=float(gpu_memory_utilization), max_model_len=max_model_len,
                            enable_prefix_caching=True)
        self._stale_model = None

    def sampling_params(self, greedy: bool):
        sampling = ({"temperature": 0.0} if greedy or self.temperature <= 0 else
                    {"temperature": self.temperature, "top_p": self.top_p, "top_k": -1})
        return self.vllm.SamplingParams(max_tokens=self.max_new_tokens, stop_token_ids=self.end_ids or None,
                                        skip_special_tokens=False, **sampling)

    def weights_changed(self, model) -> None:
        """The trainer updated ``model``: copy its weights into the engine before the next rollout."""
        self._stale_model = model

    def _sync(self) -> None:
        model, self._stale_model = self._stale_model, None
        merged = callable(getattr(model, "merge_adapter", None))
        if merged:
            model.merge_adapter()
        try:
            engine_model(self.llm).load_weights(trained_weights(model))
        finally:
            if merged:
                model.unmerge_adapter()
        reset = getattr(self.llm, "reset_prefix_cache", None)
        if callable(reset):  # cached prefixes were computed with the old weights
            reset()

    def __call__(self, prompts: Sequence[Sequence[int]], *, greedy: bool = False) -> list[list[int]]:
        if self._stale_model is not None:
            self._sync()
        requests = [{"prompt_token_ids": [int(t) for t in prompt]} for prompt in prompts]
        outputs = self.llm.generate(requests, self.sampling_params(greedy), use_tqdm=False)
        # vLLM keeps the stop token in token_ids; cut after the first, as Generator does
        return cut_after_end([output.outputs[0].token_ids for output in outputs], self.end_ids)

    ended = Generator.ended
