"""LLM feedback as an intrinsic reward (Motif, Klissarov et al. 2023; ONI, Zheng et al. 2024).

``base`` holds the tiny :class:`LLM` protocol and is torch-free; the backends, annotators and
reward models are imported from their own modules.
"""

from rewardgym.reward_models.llm.base import LLM, Prompt, as_messages

__all__ = ["LLM", "Prompt", "as_messages"]
