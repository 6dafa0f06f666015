"""Multi-agent environments with PettingZoo's conventions, natively batched.

Each env is a module named with its version (``bandit_market_v0``) holding ``parallel_env(**kwargs)``
(PettingZoo's parallel API), ``env(**kwargs)`` (the AEC form, through PettingZoo's own conversion)
and ``vector_env(num_games, **kwargs)`` (many games stepped at once, arrays on (game, agent)
axes). ``make(name)`` / ``make_vec(name, num_games)`` build any of them by name;
``ENVS`` lists them with one line each.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

ENVS = {
    "bandit_market_v0": "agents pull shared Bernoulli arms; collisions split the payout (competing bandits)",
    "dungeon_party_v0": "2-4 adventurers on one dungeon level: all down the staircase (cooperative) or a gold race",
    "kitchen_talk_v0": "two players, one reads the recipe, one is in the kitchen: they must talk to cook (cooperative)",
}

__all__ = ["ENVS", "env_module", "make", "make_aec", "make_vec", "text_kwargs"]


def env_module(name: str) -> ModuleType:
    """The module of multi-agent env ``name`` (with or without a ``rewardgym/`` prefix)."""
    name = name.removeprefix("rewardgym/")
    if name not in ENVS:
        raise ValueError(f"unknown multi-agent env {name!r}; known: {', '.join(sorted(ENVS))}")
    return importlib.import_module(f"rewardgym.envs.multiagent.{name}")


def make(name: str, **kwargs: Any):
    """A PettingZoo ``ParallelEnv`` of env ``name``."""
    return env_module(name).parallel_env(**kwargs)


def make_aec(name: str, **kwargs: Any):
    """The AEC (turn-based) form of env ``name``."""
    return env_module(name).env(**kwargs)


def make_vec(name: str, num_games: int, free_text: bool = False, **kwargs: Any):
    """``num_games`` games of env ``name`` stepped together (see ``core.MultiAgentVectorEnv``); with
    ``free_text``, in the env's free-text form (:func:`text_kwargs`; ``kwargs`` on top), what an LLM plays."""
    if free_text:
        kwargs = {**text_kwargs(name), **kwargs}
    return env_module(name).vector_env(num_games, **kwargs)


def text_kwargs(name: str) -> dict[str, Any]:
    """The arguments that give env ``name`` its free-text form (text observations and actions, what an LLM
    agent plays: its module's ``TEXT_KWARGS``); ValueError when it has none."""
    form = getattr(env_module(name), "TEXT_KWARGS", None)
    if form is None:
        raise ValueError(f"{name} has no language interface")
    return dict(form)
