"""A local causal LM (transformers) behind the :class:`~rewardgym.reward_models.llm.base.LLM` interface."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

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

    def choose(self, prompts: list[str | list[dict]], options: Sequence[str], *, prefix: str = "") -> np.ndarray:
        """Log-probability of each option as the reply to each prompt, ``(N, K)``: constrained answers.

        The model reads the formatted prompt, then ``prefix`` (e.g. ``"<answer>"``, the start of
        the reply the prompt asks for), and each option's tokens are scored (summed log-probs).
        Unlike parsing a free reply, this always gives an answer: what a small model prefers
        among the allowed ones (the label a yes/no or 1/2/None prompt asks for).
        """
        import torch

        if not options:
            raise ValueError("choose needs at least one option")
        heads = [self.tokenizer(self.format(prompt) + prefix, add_special_tokens=not self.tokenizer.chat_template)
                 ["input_ids"] for prompt in prompts]
        tails = [self.tokenizer(option, add_special_tokens=False)["input_ids"] for option in options]
        if all(len(tail) == 1 for tail in tails):  # one token each: one pass over the prompts scores them all
            return self._next_token_logprobs(heads, [tail[0] for tail in tails])
        rows = [(head, tail) for head in heads for tail in tails]
        scores = np.zeros(len(rows))
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(rows), self.batch_size * len(options)):
            chunk = rows[start : start + self.batch_size * len(options)]
            width = max(len(h) + len(t) for h, t in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            attention = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, (head, tail) in enumerate(chunk):  # right padding: positions stay those of an unpadded prompt
                ids[row, : len(head) + len(tail)] = torch.as_tensor(head + tail)
                attention[row, : len(head) + len(tail)] = 1
            with torch.inference_mode():
                logits = self.model(input_ids=ids.to(self.device), attention_mask=attention.to(self.device)).logits
            logp = torch.log_softmax(logits.float(), dim=-1).cpu()
            for row, (head, tail) in enumerate(chunk):
                positions = torch.arange(len(head) - 1, len(head) + len(tail) - 1)
                scores[start + row] = float(logp[row, positions, torch.as_tensor(tail)].sum())
        return scores.reshape(len(prompts), len(options))

    def _next_token_logprobs(self, heads: list[list[int]], tokens: list[int]) -> np.ndarray:
        """log p(token | head) for every head and token, ``(N, K)``: one right-padded forward pass per batch."""
        import torch

        out = np.zeros((len(heads), len(tokens)))
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(heads), self.batch_size):
            chunk = heads[start : start + self.batch_size]
            width = max(len(head) for head in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            attention = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, head in enumerate(chunk):
                ids[row, : len(head)] = torch.as_tensor(head)
                attention[row, : len(head)] = 1
            with torch.inference_mode():
                logits = self.model(input_ids=ids.to(self.device), attention_mask=attention.to(self.device)).logits
            last = torch.as_tensor([len(head) - 1 for head in chunk], device=logits.device)
            logp = torch.log_softmax(logits[torch.arange(len(chunk), device=logits.device), last].float(), dim=-1)
            out[start : start + len(chunk)] = logp[:, torch.as_tensor(tokens, device=logits.device)].cpu().numpy()
        return out

    def __repr__(self) -> str:
        return f"TransformersLLM(model={self.model_name!r}, device={str(self.device)!r}, batch_size={self.batch_size})"
