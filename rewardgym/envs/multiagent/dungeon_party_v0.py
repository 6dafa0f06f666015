"""``dungeon_party_v0``: 2-4 adventurers on one dungeon level, cooperative or competitive (PettingZoo API).

    from rewardgym.envs.multiagent import dungeon_party_v0

    env = dungeon_party_v0.parallel_env(n_agents=2, task="stairs")        # everyone down the staircase
    env = dungeon_party_v0.parallel_env(n_agents=3, task="gold", layout="dungeon")  # a race for gold
    observations, infos = env.reset(seed=0)
    while env.agents:
        actions = {agent: env.action_space(agent).sample() for agent in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)

``env()`` is the AEC form (PettingZoo's ``parallel_to_aec``); ``vector_env(num_games)`` steps
many games at once on (game, agent) axes. See :mod:`rewardgym.envs.multiagent.dungeon_party`
and, for the rules, :mod:`rewardgym.envs.dungeon.party`.
"""

from __future__ import annotations

from pettingzoo.utils.conversions import parallel_to_aec

from rewardgym.envs.multiagent.core import MultiAgentVectorEnv, ParallelCoreEnv
from rewardgym.envs.multiagent.dungeon_party import DungeonPartyCore

NAME = "dungeon_party_v0"


class raw_env(ParallelCoreEnv):  # noqa: N801 (PettingZoo's module convention)
    metadata = {**ParallelCoreEnv.metadata, "name": NAME}

    def __init__(self, n_agents: int = 2, task: str = "stairs", render_mode: str | None = None, **kwargs):
        super().__init__(DungeonPartyCore(1, n_agents, task, **kwargs), render_mode=render_mode)


def parallel_env(**kwargs) -> raw_env:
    return raw_env(**kwargs)


def env(**kwargs):
    return parallel_to_aec(raw_env(**kwargs))


def vector_env(num_games: int, n_agents: int = 2, task: str = "stairs", **kwargs) -> MultiAgentVectorEnv:
    return MultiAgentVectorEnv(DungeonPartyCore(num_games, n_agents, task, **kwargs))
