"""The rewards core: what every reward in rewardgym shares, and nothing above it.

* :class:`Transitions` and the :class:`RewardModel` protocol (``model(batch) -> (B,)``,
  ``needs_frames``, ``close()``); :class:`Potential` for shaping;
* the spec registry: :func:`make_reward` builds a model from ``"name:key=value;..."``, the
  strings ``rewardgym train --reward`` takes; :func:`register_reward` adds a name;
* the reward transforms (:mod:`rewardgym.rewards.transforms`): mixing, potential shaping,
  running normalisation, bounding, count discounts, over a batch axis in NumPy;
* :class:`VectorInfos`, the per-env view of a vector env's info dict.

This package imports only NumPy and rewardgym's ground-floor helpers. Reward models
(:mod:`rewardgym.reward_models`) build on it; wrappers and agents use it.
"""

from rewardgym._batch import VectorInfos
from rewardgym.rewards.spec import (
    REWARDS,
    ConstantReward,
    RewardSpec,
    available_rewards,
    make_reward,
    parse_reward_spec,
    parse_value,
    register_reward,
)
from rewardgym.rewards.transitions import Potential, RewardModel, Transitions, close_model

__all__ = [
    "Transitions",
    "RewardModel",
    "Potential",
    "VectorInfos",
    "close_model",
    "make_reward",
    "register_reward",
    "available_rewards",
    "parse_reward_spec",
    "parse_value",
    "RewardSpec",
    "ConstantReward",
    "REWARDS",
]
