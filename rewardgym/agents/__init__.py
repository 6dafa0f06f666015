"""Agents: bandit baselines, PPO, the stable-baselines3 bridge and the LLM-RL trainer, behind one protocol.

``make_agent(name, env, **config)`` builds any of them; ``load_agent(path, env)`` reloads a
saved one whatever its kind. Each class declares what the command line needs to know about
it in its :class:`AgentSpec` (``cls.spec``). Modules load lazily, so asking for a bandit
baseline never imports torch.
"""

from __future__ import annotations

from typing import Any

from rewardgym._registry import Registry
from rewardgym.agents.base import Agent, AgentSpec, EpisodeTracker, evaluate_agent, read_agent_file

AGENTS = Registry("agent", {
    "random": "rewardgym.agents.random_agent:RandomAgent",
    "uniform": "rewardgym.agents.bandits:Uniform",
    "greedy": "rewardgym.agents.bandits:Greedy",
    "epsilon-greedy": "rewardgym.agents.bandits:EpsilonGreedy",
    "ucb": "rewardgym.agents.bandits:UCB1",
    "thompson": "rewardgym.agents.bandits:Thompson",
    "linucb": "rewardgym.agents.bandits:LinUCB",
    "ppo": "rewardgym.agents.ppo:PPO",
    "ippo": "rewardgym.agents.mappo:IPPO",
    "mappo": "rewardgym.agents.mappo:MAPPO",
    "sb3": "rewardgym.agents.sb3:SB3Agent",
    "llm-grpo": "rewardgym.agents.llm:LLMAgent",
    "llm-dr-grpo": "rewardgym.agents.llm:LLMDrGRPO",
    "llm-rloo": "rewardgym.agents.llm:LLMRLOO",
    "llm-reinforce": "rewardgym.agents.llm:LLMReinforce",
})

__all__ = ["AGENTS", "Agent", "AgentSpec", "EpisodeTracker", "agent_class", "evaluate_agent", "load_agent",
           "make_agent"]


def agent_class(name: str) -> type:
    """The class registered under ``name``; ValueError listing the names otherwise."""
    return AGENTS.get(name)


def make_agent(name: str, env: Any, **config: Any):
    """Build the agent ``name`` for ``env`` (an Env or VectorEnv) with its config overrides."""
    cls = agent_class(name)
    try:
        return cls(env, **config)
    except TypeError as exc:  # an unknown config key: say which agent rejected it
        raise ValueError(f"bad config for agent {name!r}: {exc}") from None


def load_agent(path, env: Any = None):
    """Reload an agent saved with ``agent.save(path)``, whatever its kind."""
    return agent_class(read_agent_file(path)["agent"]).load(path, env)
