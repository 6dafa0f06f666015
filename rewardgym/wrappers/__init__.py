"""Gymnasium wrappers that apply learned rewards, shaping and normalisation, and the text interface.

The wrappers here take a :class:`gymnasium.Env`; those of the same names in
:mod:`rewardgym.wrappers.vector` take a :class:`gymnasium.vector.VectorEnv`, as Gymnasium
pairs ``gymnasium.wrappers`` with ``gymnasium.wrappers.vector``.
"""

from rewardgym.wrappers import vector
from rewardgym.wrappers.env import (
    BoundedReward,
    CountDiscount,
    LearnedReward,
    NormalizeReward,
    PotentialShaping,
)
from rewardgym.wrappers.text import TextInterface

__all__ = [
    "LearnedReward",
    "PotentialShaping",
    "NormalizeReward",
    "BoundedReward",
    "CountDiscount",
    "TextInterface",
    "vector",
]
