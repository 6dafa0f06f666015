"""LLM-written reward code: a sandbox to run it, and Eureka's evolutionary search to write it.

* :class:`SandboxedReward` runs ``compute_reward(obs, action, next_obs, info) -> (reward, components)``
  in a separate, resource-limited process (the ``reward-code:PATH`` spec builds one).
* :func:`build_prompt` and :func:`extract_code` are the environment-as-context prompt of Eureka
  (Ma et al. 2023) and the parsing of the LLM's answer.
* :func:`synthesize_reward` is Eureka's loop: sample candidates, train PPO on each, keep the best,
  reflect its per-component statistics into the next prompt.

Importing this package does not import torch; :func:`synthesize_reward` imports the agents when called.
"""

from rewardgym.reward_models.synthesis.prompt import build_prompt, describe_env, extract_code, pruned_source
from rewardgym.reward_models.synthesis.sandbox import (
    RewardCodeError,
    SandboxedReward,
    check_reward_code,
    load_reward_code,
)
from rewardgym.reward_models.synthesis.search import Candidate, SynthesisResult, synthesize_reward

__all__ = [
    "RewardCodeError",
    "SandboxedReward",
    "check_reward_code",
    "load_reward_code",
    "build_prompt",
    "describe_env",
    "extract_code",
    "pruned_source",
    "Candidate",
    "SynthesisResult",
    "synthesize_reward",
]
