"""The LLM-RL trainer: a causal LM that plays rewardgym's text interfaces and learns by GRPO and kin.

``LLMAgent`` (``--agent llm-grpo``) and its variants ``LLMDrGRPO`` (``llm-dr-grpo``), ``LLMRLOO``
(``llm-rloo``) and ``LLMReinforce`` (``llm-reinforce``) share one implementation
(``grpo.py``); ``advantages.py`` holds the estimators, ``episodes.py`` the multi-turn rollout.
Importing this package loads neither torch nor transformers; building an agent does.
"""

from rewardgym.agents.llm.advantages import ESTIMATORS, RunningBaseline, group_advantages, kl_estimate, turn_advantages
from rewardgym.agents.llm.episodes import ChatFormat, Episode, extract_action
from rewardgym.agents.llm.grpo import (
    DEFAULT_SYSTEM_PROMPT,
    LLMAgent,
    LLMConfig,
    LLMDrGRPO,
    LLMReinforce,
    LLMRLOO,
    episode_metrics,
    text_envs,
)

__all__ = [
    "DEFAULT_SYSTEM_PROMPT", "ESTIMATORS", "ChatFormat", "Episode", "LLMAgent", "LLMConfig", "LLMDrGRPO",
    "LLMRLOO", "LLMReinforce", "RunningBaseline", "episode_metrics", "extract_action", "group_advantages",
    "kl_estimate", "text_envs", "turn_advantages",
]
