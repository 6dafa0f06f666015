"""LLM feedback as an intrinsic reward (Motif, Klissarov et al. 2023; ONI, Zheng et al. 2024).

``base`` holds the tiny :class:`LLM` protocol and is torch-free; the backends, annotators and
reward models are imported from their own modules.
"""

from __future__ import annotations

import os

from rewardgym.reward_models.llm.base import LLM, Prompt, as_messages

__all__ = ["LLM", "Prompt", "as_messages", "make_llm"]


def make_llm(spec: str, device: str = "auto", api_key_env: str = "OPENAI_API_KEY") -> LLM:
    """The LLM a spec names: ``transformers:PATH_OR_HUB_ID`` (a local causal LM on ``device``) or
    ``openai:URL#MODEL`` (an OpenAI-compatible server, the API key read from ``api_key_env``)."""
    backend, _, target = str(spec).partition(":")
    if backend == "transformers" and target:
        from rewardgym.reward_models.llm.transformers_llm import TransformersLLM

        return TransformersLLM(target, device=device)
    if backend == "openai" and "#" in target:
        from rewardgym.reward_models.llm.openai_chat import OpenAIChatLLM

        url, _, model = target.rpartition("#")
        return OpenAIChatLLM(url, model, api_key=os.environ.get(api_key_env))
    raise ValueError(f"LLM {spec!r}: expected 'transformers:PATH_OR_HUB_ID' or 'openai:URL#MODEL'")
