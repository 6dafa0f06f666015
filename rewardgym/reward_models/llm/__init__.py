"""LLM feedback as an intrinsic reward (Motif, Klissarov et al. 2023; ONI, Zheng et al. 2024).

``base`` holds the tiny :class:`LLM` protocol and is torch-free; the backends, annotators and
reward models are imported from their own modules (``ray_service``, the Ray form of the
annotation service, imports ray only when it is used).
"""

from __future__ import annotations

import os

from rewardgym.reward_models.llm.base import LLM, Prompt, as_messages

__all__ = ["LLM", "Prompt", "as_messages", "make_llm", "parse_llm_spec"]


def parse_llm_spec(spec: str) -> tuple[str, str]:
    """``(backend, target)`` of an LLM spec, checked without building anything: ``("transformers",
    PATH_OR_HUB_ID)`` or ``("openai", "URL#MODEL")``; ``ValueError`` for any other form."""
    backend, _, target = str(spec).partition(":")
    if (backend == "transformers" and target) or (backend == "openai" and "#" in target):
        return backend, target
    raise ValueError(f"LLM {spec!r}: expected 'transformers:PATH_OR_HUB_ID' or 'openai:URL#MODEL'")


def make_llm(spec: str, device: str = "auto", api_key_env: str = "OPENAI_API_KEY") -> LLM:
    """The LLM a spec names: ``transformers:PATH_OR_HUB_ID`` (a local causal LM on ``device``) or
    ``openai:URL#MODEL`` (an OpenAI-compatible server, the API key read from ``api_key_env``)."""
    backend, target = parse_llm_spec(spec)
    if backend == "transformers":
        from rewardgym.reward_models.llm.transformers_llm import TransformersLLM

        return TransformersLLM(target, device=device)
    from rewardgym.reward_models.llm.openai_chat import OpenAIChatLLM

    url, _, model = target.rpartition("#")
    return OpenAIChatLLM(url, model, api_key=os.environ.get(api_key_env))
