"""The small LLM interface the reward models talk to.

A backend only has to turn a batch of prompts into a batch of completions. A prompt is a
plain string or a chat message list ``[{"role": "user", "content": ...}, ...]``; the
backend applies its own chat template (local models) or sends the messages as they are
(chat-completion servers). Only the newly generated text comes back, one str per prompt,
in order.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["LLM", "Prompt", "as_messages"]

Prompt = str | list[dict]


@runtime_checkable
class LLM(Protocol):
    """Batched text generation: ``llm.generate(prompts) -> list[str]`` (new text only)."""

    def generate(
        self, prompts: list[str | list[dict]], *, max_new_tokens: int = 64, temperature: float = 0.1
    ) -> list[str]: ...


def as_messages(prompt: Prompt) -> list[dict]:
    """A chat message list for ``prompt``: a plain string becomes one user message."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [dict(message) for message in prompt]
