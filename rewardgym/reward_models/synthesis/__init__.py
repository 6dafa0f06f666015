"""LLM-written reward code: a sandbox to run it, and the prompt that asks for it.

* :class:`SandboxedReward` runs ``compute_reward(obs, action, next_obs, info) -> (reward, components)``
  in a separate, resource-limited process (the ``reward-code:PATH`` spec builds one).
* :func:`build_prompt` and :func:`extract_code` are the environment-as-context prompt of Eureka
  (Ma et al. 2023) and the parsing of the LLM's answer.

Eureka's search itself, which trains an agent on each candidate, is a workflow:
:func:`rewardgym.workflows.synthesis.synthesize_reward`.
"""

from rewardgym.reward_models.synthesis.prompt import build_prompt, describe_env, extract_code, pruned_source
from rewardgym.reward_models.synthesis.sandbox import (
    RewardCodeError,
    SandboxedReward,
    check_reward_code,
    load_reward_code,
)

__all__ = [
    "RewardCodeError",
    "SandboxedReward",
    "check_reward_code",
    "load_reward_code",
    "build_prompt",
    "describe_env",
    "extract_code",
    "pruned_source",
]
