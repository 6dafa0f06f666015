"""Learned and zero-shot reward models: batched scorers of transitions.

Build one from a spec string with :func:`make_reward` (``"constant:value=1"``,
``"python:mypkg.rewards:Shaped;scale=2"``, ...) or pass your own object with
``needs_frames`` and ``__call__(batch: Transitions) -> (B,) float32``.
"""

from rewardgym.reward_models.base import Potential, RewardModel, Transitions, VectorInfos
from rewardgym.reward_models.spec import (
    ConstantReward,
    RewardSpec,
    available_rewards,
    make_reward,
    parse_reward_spec,
    register_reward,
)

__all__ = [
    "Transitions",
    "RewardModel",
    "Potential",
    "VectorInfos",
    "make_reward",
    "register_reward",
    "available_rewards",
    "parse_reward_spec",
    "RewardSpec",
    "ConstantReward",
]

# --- zero-shot rewards: CLIP/SigLIP (vlm.py), text embeddings (text.py, embeddings.py), ensembles
# The classes import torch and transformers, so they are exported lazily (module __getattr__) and
# registered by "module:attr" strings, imported on first use: `import rewardgym` stays torch-free.
register_reward("clip", "rewardgym.reward_models.vlm:CLIPReward")
register_reward("text-embedding", "rewardgym.reward_models.text:TextEmbeddingReward")
register_reward("text", "rewardgym.reward_models.text:TextEmbeddingReward")
register_reward("ensemble", "rewardgym.reward_models.ensemble:ensemble_from_spec")

_LAZY_EXPORTS = {
    "CLIPReward": "rewardgym.reward_models.vlm",
    "TextEncoder": "rewardgym.reward_models.embeddings",
    "TextEmbeddingReward": "rewardgym.reward_models.text",
    "RewardEnsemble": "rewardgym.reward_models.ensemble",
}
__all__ += list(_LAZY_EXPORTS)


def __getattr__(name: str):
    if name in _LAZY_EXPORTS:
        import importlib

        return getattr(importlib.import_module(_LAZY_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- progress models (progress.py): Φ(observation, task) learned from demonstrations. The spec
# "progress:PATH;gamma=0.99" builds ProgressShaping, the shaping term γ(1 − terminated)Φ(s′) − Φ(s).
register_reward("progress", "rewardgym.reward_models.progress:make_progress_reward")
_PROGRESS_EXPORTS = ("ProgressModel", "ProgressShaping", "fit_progress_model")
_LAZY_EXPORTS.update(dict.fromkeys(_PROGRESS_EXPORTS, "rewardgym.reward_models.progress"))
__all__ += list(_PROGRESS_EXPORTS)

# --- LLM feedback as an intrinsic reward (llm/): Motif's pairwise preferences and ONI's online labels.
# "llm-feedback:goal=...;annotator=embedding|transformers:PATH|openai:URL#MODEL;model=lookup;beta=3"
register_reward("llm-feedback", "rewardgym.reward_models.llm.intrinsic:make_llm_feedback")
_LLM_EXPORTS = ("LLMFeedbackReward", "LookupReward", "ClassifierReward", "BradleyTerryReward")
_LAZY_EXPORTS.update(dict.fromkeys(_LLM_EXPORTS, "rewardgym.reward_models.llm.intrinsic"))
__all__ += list(_LLM_EXPORTS)

# --- LLM-written reward code (synthesis/): "reward-code:PATH" runs a file's compute_reward in a sandboxed
# worker process; synthesize_reward is Eureka's search. Lazy, like the rest: the search imports torch when run.
register_reward("reward-code", "rewardgym.reward_models.synthesis.sandbox:load_reward_code")
_SYNTHESIS_EXPORTS = ("SandboxedReward", "RewardCodeError", "synthesize_reward")
_LAZY_EXPORTS.update(dict.fromkeys(_SYNTHESIS_EXPORTS, "rewardgym.reward_models.synthesis"))
__all__ += list(_SYNTHESIS_EXPORTS)
