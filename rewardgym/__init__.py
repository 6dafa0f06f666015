"""rewardgym: embodied-agent RL environments with learned rewards, and the agents that train on them.

``import rewardgym`` registers every ``rewardgym/...`` id with Gymnasium. Heavy modules
(torch, transformers, mujoco) load only when something needs them.
"""

from __future__ import annotations

from typing import Any

from rewardgym._version import __version__
from rewardgym.registration import ENV_IDS, register_envs
__all__ = ["ENV_IDS", "collect_demos", "load_demos", "make_agent", "make_reward", "__version__"]

register_envs()


def make_reward(spec: Any, **kwargs: Any):
    """Build a reward model from a spec string such as ``"clip:goal=...;baseline=..."`` (see the CLI's --reward)."""
    from rewardgym.rewards import make_reward as _make_reward

    return _make_reward(spec, **kwargs)


def make_agent(name: str, env: Any, **config: Any):
    """Build an agent by name (``"ppo"``, ``"ucb"``, ``"thompson"``, ...) for ``env``."""
    from rewardgym.agents import make_agent as _make_agent

    return _make_agent(name, env, **config)


def collect_demos(env_id: str, n: int, path: Any, *, seed: int = 0, policy: Any = None, frames: bool = False,
                  env_kwargs: dict[str, Any] | None = None, progress: bool = True, overwrite: bool = False):
    """Record ``n`` episodes of ``policy`` (default: the family's scripted expert) in the folder ``path``.

    Episode ``i`` resets with seed ``seed + i``. See :func:`rewardgym.workflows.demos.collect_demos`,
    and :mod:`rewardgym.workflows.demos` (or docs/demos.md) for the on-disk format.
    """
    from rewardgym.workflows.demos import collect_demos as _collect_demos

    return _collect_demos(env_id, n, path, seed=seed, policy=policy, frames=frames, env_kwargs=env_kwargs,
                          progress=progress, overwrite=overwrite)


def load_demos(path: Any):
    """The demo set in folder ``path`` (a sequence of episodes read lazily); see :mod:`rewardgym.workflows.demos`."""
    from rewardgym.workflows.demos import load_demos as _load_demos

    return _load_demos(path)
