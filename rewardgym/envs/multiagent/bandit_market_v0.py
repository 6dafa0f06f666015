"""``bandit_market_v0``: agents pulling shared Bernoulli arms, payouts split on collision (PettingZoo conventions).

    from rewardgym.envs.multiagent import bandit_market_v0

    env = bandit_market_v0.parallel_env(n_agents=3, n_arms=5, horizon=100, collision="split")
    observations, infos = env.reset(seed=0)
    while env.agents:
        actions = {agent: env.action_space(agent).sample() for agent in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)

``env()`` is the AEC form (PettingZoo's ``parallel_to_aec``); ``vector_env(num_games)`` steps
many games at once on (game, agent) axes. See :mod:`rewardgym.envs.multiagent.bandit_market`.
"""

from __future__ import annotations

from pettingzoo.utils.conversions import parallel_to_aec

from rewardgym.envs.multiagent.bandit_market import BanditMarketCore
from rewardgym.envs.multiagent.core import MultiAgentVectorEnv, ParallelCoreEnv

NAME = "bandit_market_v0"


class raw_env(ParallelCoreEnv):  # noqa: N801 (PettingZoo's module convention)
    metadata = {**ParallelCoreEnv.metadata, "name": NAME}

    def __init__(self, n_agents: int = 3, n_arms: int = 5, horizon: int = 100, collision: str = "split",
                 render_mode: str | None = None):
        super().__init__(BanditMarketCore(1, n_agents, n_arms, horizon, collision), render_mode=render_mode)


def parallel_env(**kwargs) -> raw_env:
    return raw_env(**kwargs)


def env(**kwargs):
    return parallel_to_aec(raw_env(**kwargs))


def vector_env(num_games: int, n_agents: int = 3, n_arms: int = 5, horizon: int = 100,
               collision: str = "split") -> MultiAgentVectorEnv:
    return MultiAgentVectorEnv(BanditMarketCore(num_games, n_agents, n_arms, horizon, collision))
