"""rewardgym: embodied-agent RL environments with learned rewards, and the agents that train on them.

``import rewardgym`` registers every ``rewardgym/...`` id with Gymnasium. Heavy modules
(torch, transformers, mujoco) load only when something needs them.
"""

from __future__ import annotations

from typing import Any

from rewardgym.registration import ENV_IDS, register_envs

__version__ = "0.1.0"
__all__ = ["ENV_IDS", "make_agent", "make_reward", "__version__"]

register_envs()


def make_reward(spec: Any, **kwargs: Any):
    """Build a reward model from a spec string such as ``"clip:goal=...;baseline=..."`` (see the CLI's --reward)."""
    from rewardgym.reward_models import make_reward as _make_reward

    return _make_reward(spec, **kwargs)


def make_agent(name: str, env: Any, **config: Any):
    """Build an agent by name (``"ppo"``, ``"ucb"``, ``"thompson"``, ...) for ``env``."""
    from rewardgym.agents import make_agent as _make_agent

    return _make_agent(name, env, **config)
