"""MAPPO: PPO whose critic also reads the game's global state (Yu et al. 2022, "The Surprising
Effectiveness of PPO in Cooperative Multi-Agent Games"); and IPPO, its baseline without one.

It is :class:`~rewardgym.agents.ppo.PPO` with one change, ``critic_only_keys=("state",)``: every
agent's row of the multi-agent env carries the game's ``state()`` under the observation key
``state`` (``AgentsAsEnvs(games, state_key="state")``, which ``rewardgym train`` builds for this
agent), the critic reads it, the actor does not — centralised training, decentralised
execution. The actor is shared by every seat (parameter sharing, the seat one-hot in its
observation), as in the paper's MAPPO with shared parameters. Everything else — the losses,
GAE, normalisation, checkpoints — is PPO's, in ``ppo.py``.

:class:`IPPO` (``--agent ippo``) is independent PPO with parameter sharing, the paper's IPPO: PPO
itself on the rows of a multi-agent env, each seat's critic reading only that seat's
observation. ``--agent ppo`` trains a multi-agent id the same way; ``ippo`` names the method in
the run's files and refuses a single-agent env.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from rewardgym.agents.base import AgentSpec, seats_of
from rewardgym.agents.ppo import PPO, PPOConfig

STATE_KEY = "state"


class MAPPO(PPO):
    """PPO with a centralised critic on the ``state`` observation key (see the module docstring)."""

    spec: ClassVar[AgentSpec] = AgentSpec("mappo", settings=frozenset(f.name for f in dataclasses.fields(PPOConfig)),
                                          default_num_envs=4, deferred_rewards=True, takes_device=True,
                                          global_state=True)
    name: ClassVar[str] = spec.name

    def __init__(self, env: Any = None, **config: Any):
        config.setdefault("critic_only_keys", (STATE_KEY,))
        super().__init__(env, **config)


class IPPO(PPO):
    """Independent PPO with shared parameters on a multi-agent env's rows (see the module docstring)."""

    spec: ClassVar[AgentSpec] = AgentSpec("ippo", settings=frozenset(f.name for f in dataclasses.fields(PPOConfig)),
                                          default_num_envs=4, deferred_rewards=True, takes_device=True)
    name: ClassVar[str] = spec.name

    def __init__(self, env: Any = None, **config: Any):
        if env is not None and seats_of(env) == 1:
            raise ValueError("IPPO trains on multi-agent envs (every seat a row of one policy); "
                             "for a single-agent env use --agent ppo")
        super().__init__(env, **config)
