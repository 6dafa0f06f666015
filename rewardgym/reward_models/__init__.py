"""Learned and zero-shot reward models: batched scorers of transitions, built on :mod:`rewardgym.rewards`.

Build one from a spec string with :func:`make_reward` (``"clip:goal=...;baseline=..."``,
``"progress:PATH"``, ``"llm-feedback:goal=..."``, ``"python:mypkg.rewards:Shaped;scale=2"``, ...)
or pass your own object with ``needs_frames`` and ``__call__(batch: Transitions) -> (B,) float32``.
The model classes import torch and transformers, so they are exported lazily: ``import
rewardgym`` stays torch-free.
"""

import importlib

from rewardgym.rewards import (
    ConstantReward,
    Potential,
    RewardModel,
    RewardSpec,
    Transitions,
    VectorInfos,
    available_rewards,
    make_reward,
    parse_reward_spec,
    register_reward,
)

_LAZY_EXPORTS = {
    # zero-shot rewards: CLIP/SigLIP (vlm.py), text embeddings (text.py, embeddings.py), ensembles
    "CLIPReward": "rewardgym.reward_models.vlm",
    "TextEncoder": "rewardgym.reward_models.embeddings",
    "TextEmbeddingReward": "rewardgym.reward_models.text",
    "EpisodicNovelty": "rewardgym.reward_models.novelty",
    "RewardEnsemble": "rewardgym.reward_models.ensemble",
    # progress models (progress.py): Φ(observation, task) learned from demonstrations
    "ProgressModel": "rewardgym.reward_models.progress",
    "ProgressShaping": "rewardgym.reward_models.progress",
    # LLM feedback as an intrinsic reward (llm/): Motif's pairwise preferences and ONI's online labels
    "LLMFeedbackReward": "rewardgym.reward_models.llm.intrinsic",
    "LookupReward": "rewardgym.reward_models.llm.intrinsic",
    "ClassifierReward": "rewardgym.reward_models.llm.intrinsic",
    "BradleyTerryReward": "rewardgym.reward_models.llm.intrinsic",
    # LLM-written reward code (synthesis/), run in a sandboxed worker process
    "SandboxedReward": "rewardgym.reward_models.synthesis",
    "RewardCodeError": "rewardgym.reward_models.synthesis",
}

__all__ = ["Transitions", "RewardModel", "Potential", "VectorInfos", "make_reward", "register_reward",
           "available_rewards", "parse_reward_spec", "RewardSpec", "ConstantReward", *_LAZY_EXPORTS]


def __getattr__(name: str):
    if name in _LAZY_EXPORTS:
        return getattr(importlib.import_module(_LAZY_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
