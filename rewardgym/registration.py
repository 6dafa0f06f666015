"""The one table of rewardgym environment ids.

Every id is ``rewardgym/<Family>-<Task>-v0``. :func:`register_envs` (called on
``import rewardgym``) hands the table to Gymnasium, so ``gym.make``, ``gym.make_vec`` and
``gym.make("rewardgym:rewardgym/...")`` all work. Families whose core is batched declare a
``vector_entry_point``: ``gym.make_vec`` then steps all envs in one NumPy call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym

from rewardgym.envs.bandits.tasks import TASKS as BANDIT_TASKS
from rewardgym.envs.dungeon.tasks import TASKS as DUNGEON_TASKS
from rewardgym.envs.gui.tasks import TASKS as GUI_TASKS
from rewardgym.envs.manipulation.tasks import TASKS as MANIP_TASKS
from rewardgym.envs.textworlds.tasks import TASKS as TEXT_TASKS

NAMESPACE = "rewardgym"


@dataclass(frozen=True)
class EnvEntry:
    id: str
    family: str
    description: str
    entry_point: str
    vector_entry_point: str | None = None
    kwargs: dict = field(default_factory=dict)
    max_episode_steps: int | None = None


def _family(family: str, module: str, env_class: str, vector_class: str | None, tasks: dict,
            max_episode_steps: int | None = None) -> list[EnvEntry]:
    return [
        EnvEntry(
            id=f"{NAMESPACE}/{family}-{task}-v0",
            family=family,
            description=description,
            entry_point=f"{module}:{env_class}",
            vector_entry_point=f"{module}:{vector_class}" if vector_class else None,
            kwargs=kwargs,
            max_episode_steps=max_episode_steps,
        )
        for task, (description, kwargs) in tasks.items()
    ]


# Bandits end at their own horizon (it shapes the observation and the regret metrics),
# so they need no TimeLimit.
ENVS: list[EnvEntry] = [
    *_family("Bandit", "rewardgym.envs.bandits.env", "BanditEnv", "BanditVectorEnv", BANDIT_TASKS),
    # MuJoCo manipulation: Fetch's 50-step episodes; gym.make_vec uses Gymnasium's Sync/Async vector envs.
    *_family("Manip", "rewardgym.envs.manipulation.env", "ManipulationEnv", None, MANIP_TASKS, max_episode_steps=50),
    # The VLM-RM setting: no task reward of its own; the reward is a vision-language model's score of the frames.
    EnvEntry(id=f"{NAMESPACE}/Manip-HumanoidPose-v0", family="Manip",
             description="MuJoCo humanoid with no task reward, to be posed (kneeling by default) by a CLIP reward",
             entry_point="rewardgym.envs.manipulation.humanoid:HumanoidPoseEnv", max_episode_steps=100),
    # The NetHack-like dungeon truncates at its own max_steps (NLE's max_episode_steps; 20 x size for the rooms).
    *_family("Dungeon", "rewardgym.envs.dungeon.env", "DungeonEnv", "DungeonVectorEnv", DUNGEON_TASKS),
    *_family("GUI", "rewardgym.envs.gui.env", "GUIEnv", None, GUI_TASKS),
    *_family("Text", "rewardgym.envs.textworlds.env", "TextWorldEnv", None, TEXT_TASKS),
]

ENV_IDS: dict[str, EnvEntry] = {entry.id: entry for entry in ENVS}


def register_envs() -> None:
    """Register every id with Gymnasium (idempotent)."""
    for entry in ENVS:
        if entry.id in gym.registry:
            continue
        gym.register(
            id=entry.id,
            entry_point=entry.entry_point,
            vector_entry_point=entry.vector_entry_point,
            kwargs=dict(entry.kwargs),
            max_episode_steps=entry.max_episode_steps,
        )
