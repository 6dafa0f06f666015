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
