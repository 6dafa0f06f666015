"""The scripted experts: each family's expert, found by env id.

:data:`EXPERTS` maps a family to the ``"module:function"`` that builds its expert from an env
(an object with ``act(obs)``); the module is imported only when asked for, so asking for a
bandit's demos never imports MuJoCo. Demonstrations (:mod:`rewardgym.workflows.demos`) and
reward evaluation (:mod:`rewardgym.workflows.reward_eval`) roll them out.
"""

from __future__ import annotations

from typing import Any

from rewardgym._registry import Registry

__all__ = ["EXPERTS", "expert_for", "expert_name", "family_of"]

EXPERTS = Registry("expert", {
    "Manip": "rewardgym.envs.manipulation.experts:expert_for",
    "Dungeon": "rewardgym.envs.dungeon.experts:expert_for",
    "GUI": "rewardgym.envs.gui.experts:expert_for",
    "Text": "rewardgym.envs.textworlds.experts:expert_for",
})

def family_of(env_id: str) -> str | None:
    """The rewardgym family of ``env_id`` (None for other Gymnasium ids); ValueError for an unknown id."""
    import gymnasium as gym

    from rewardgym.registration import ENV_IDS

    entry = ENV_IDS.get(env_id)
    if entry is not None:
        return entry.family
    try:
        gym.spec(env_id)
    except gym.error.Error as exc:
        raise ValueError(f"{str(exc).splitlines()[0]} (rewardgym list shows the ids)") from None
    return None


def _family_with_expert(env_id: str) -> str:
    family = family_of(env_id)
    if family not in EXPERTS:
        what = f"the {family} family" if family else f"{env_id!r} (not a rewardgym id)"
        raise ValueError(f"no scripted expert for {what}; scripted experts exist for the "
                         f"{', '.join(EXPERTS.names())} family")
    return family


def expert_for(env_id: str, env: Any) -> Any:
    """The scripted expert of ``env_id``'s family, built for ``env``; ValueError saying why there is none."""
    family = _family_with_expert(env_id)
    try:
        return EXPERTS.get(family)(env)
    except ValueError as exc:  # an env of the family that has no expert
        raise ValueError(f"no scripted expert for {env_id} ({exc})") from None


def expert_name(env_id: str) -> str:
    """``"module:function"`` of the expert :func:`expert_for` builds (what a demo folder records as its policy)."""
    return EXPERTS.target(_family_with_expert(env_id))
