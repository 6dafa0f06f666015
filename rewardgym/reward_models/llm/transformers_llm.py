"""A local causal LM (transformers) behind the :class:`~rewardgym.reward_models.llm.base.LLM` interface."""

from __future__ import annotations

import os
from typing import Any

from rewardgym._torch import load_pretrained, resolve_device
from rewardgym.reward_models.llm.base import Prompt, as_messages

__all__ = ["TransformersLLM"]

_HINT = "Pass model= a local folder holding a transformers causal LM (config.json, weights, tokenizer)."


class TransformersLLM:
    """Batched generation with a transformers causal LM; returns only the new text.

    Args:
        model: a hub id or a local folder loadable with ``AutoModelForCausalLM``/``AutoTokenizer``.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or a ``torch.device``.
        batch_size: prompts per ``generate`` call.

    Prompts are formatted with the tokenizer's chat template when it has one (chat message
    lists and plain strings alike, a plain string being one user message); without a
    template a plain string is used as is and a message list is written as
    ``"role: content"`` lines followed by ``"assistant:"``. Batches are left-padded so every
    prompt ends where generation starts. ``temperature <= 0`` decodes greedily.
    """

    def __init__(self, model: str | os.PathLike, device: str | Any = "auto", batch_size: int = 8) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model_name = os.fspath(model)
        self.device = resolve_device(device)
        self.batch_size = int(batch_size)
        self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, self.model_name, "causal LM", _HINT)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = load_pretrained(AutoModelForCausalLM.from_pretrained, self.model_name, "causal LM", _HINT)
        self.model.eval().to(self.device)

    def format(self, prompt: Prompt) -> str:
        """The text fed to the model for ``prompt`` (chat template applied when there is one)."""
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(as_messages(prompt), tokenize=False, add_generation_prompt=True)
        if isinstance(prompt, str):
            return prompt
        lines = [f"{message['role']}: {message['content']}" for message in prompt]
        return "\n".join([*lines, "assistant:"])

    def generate(
        self, prompts: list[str | list[dict]], *, max_new_tokens: int = 64, temperature: float = 0.1
    ) -> list[str]:
        """The completion of each prompt (new text only), in order."""
        texts = [self.format(prompt) for prompt in prompts]
        out: list[str] = []
        for start in range(0, len(texts), self.batch_size):
            out.extend(self._generate_batch(texts[start : start + self.batch_size], max_new_tokens, temperature))
        return out

    def _generate_batch(self, texts: list[str], max_new_tokens: int, temperature: float) -> list[str]:
        import torch

        # A chat template already writes the special tokens it needs.
        tokens = self.tokenizer(
            texts, return_tensors="pt", padding=True, add_special_tokens=not self.tokenizer.chat_template
        ).to(self.device)
        sampling = {"do_sample": True, "temperature": float(temperature)} if temperature > 0 else {"do_sample": False}
        with torch.inference_mode():
            generated = self.model.generate(
                **tokens, max_new_tokens=int(max_new_tokens), pad_token_id=self.tokenizer.pad_token_id, **sampling
            )
        new_tokens = generated[:, tokens["input_ids"].shape[1] :]
        return self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)

    def __repr__(self) -> str:
        return f"TransformersLLM(model={self.model_name!r}, device={str(self.device)!r}, batch_size={self.batch_size})"
