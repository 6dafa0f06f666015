"""``kitchen_talk_v0``: one player reads the recipe, the other is in the kitchen; they must talk (PettingZoo API).

    from rewardgym.envs.multiagent import kitchen_talk_v0

    env = kitchen_talk_v0.parallel_env(n_items=4, horizon=8)          # choice mode, vector observations
    env = kitchen_talk_v0.parallel_env(action_mode="text", observation="text")  # free text, for LLM agents
    observations, infos = env.reset(seed=0)
    while env.agents:
        actions = {agent: env.action_space(agent).sample() for agent in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)

``env()`` is the AEC form (PettingZoo's ``parallel_to_aec``); ``vector_env(num_games)`` steps
many games at once on (game, agent) axes. See :mod:`rewardgym.envs.multiagent.kitchen_talk`.
"""

from __future__ import annotations

from pettingzoo.utils.conversions import parallel_to_aec

from rewardgym.envs.multiagent.core import MultiAgentVectorEnv, ParallelCoreEnv
from rewardgym.envs.multiagent.kitchen_talk import KitchenTalkCore

NAME = "kitchen_talk_v0"
TEXT_KWARGS = {"action_mode": "text", "observation": "text"}  # the free-text form an LLM agent plays


class raw_env(ParallelCoreEnv):  # noqa: N801 (PettingZoo's module convention)
    metadata = {**ParallelCoreEnv.metadata, "name": NAME}

    def __init__(self, n_items: int = 4, horizon: int = 8, talk: bool = True, action_mode: str = "choice",
                 observation: str = "vector", ruined: float | None = None, render_mode: str | None = None):
        super().__init__(KitchenTalkCore(1, n_items, horizon, talk, action_mode, observation, ruined),
                         render_mode=render_mode)


def parallel_env(**kwargs) -> raw_env:
    return raw_env(**kwargs)


def env(**kwargs):
    return parallel_to_aec(raw_env(**kwargs))


def vector_env(num_games: int, n_items: int = 4, horizon: int = 8, talk: bool = True, action_mode: str = "choice",
               observation: str = "vector", ruined: float | None = None) -> MultiAgentVectorEnv:
    return MultiAgentVectorEnv(KitchenTalkCore(num_games, n_items, horizon, talk, action_mode, observation, ruined))
