"""One batched multi-agent core, two faces: a PettingZoo ``ParallelEnv`` and a games x agents vector env.

A multi-agent env writes its state and transition once over two leading axes, games and
agents, as a :class:`MultiAgentCore`. :class:`ParallelCoreEnv` is PettingZoo's parallel API
over one game (``agents`` as a list of names, dicts keyed by name); PettingZoo's
``parallel_to_aec`` turns it into the turn-based AEC form. :class:`MultiAgentVectorEnv` steps
G games at once with arrays whose first two axes are (game, agent) — the shape a
parameter-shared policy reads directly — and cannot drift from the single game, since both
run the same core.

Seeding follows the single-agent cores (:mod:`rewardgym.envs.batched`): ``reset(seed=s)``
gives game ``i`` of a vector env the key of seed ``s + i``, so a vector env seeded ``s`` replays
single games seeded ``s, s + 1, ...``; an unseeded reset moves each game to its next key.
The vector env autoresets a game in Gymnasium's NEXT_STEP mode once all its agents are done.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from rewardgym.envs import rng
from rewardgym.envs.batched import reset_keys


class MultiAgentCore(ABC):
    """State and transition of ``num_games`` games of ``n_agents`` agents over leading (game, agent) axes.

    Subclasses keep every per-game quantity in ``self.state`` (a dataclass of arrays whose first
    axis is the game) with the episode key in ``self.state.key``; each agent's observation
    space is ``single_observation_space`` (the agents are alike: a shared policy can serve
    every seat) and ``state_space`` is the game's global state for a centralised critic.
    """

    single_observation_space: spaces.Dict
    single_action_space: spaces.Space
    state_space: spaces.Box
    state: Any

    def __init__(self, num_games: int, n_agents: int):
        if num_games < 1:
            raise ValueError(f"num_games must be >= 1, got {num_games}")
        if n_agents < 1:
            raise ValueError(f"n_agents must be >= 1, got {n_agents}")
        self.num_games, self.n_agents = int(num_games), int(n_agents)

    @abstractmethod
    def reset(self, mask: np.ndarray, keys: np.ndarray) -> None:
        """Start a new episode in every game where ``mask`` (G,) is True, keyed by ``keys``."""

    @abstractmethod
    def step(self, actions: np.ndarray, acting: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance every game for the agents where ``acting`` (G, A) is True (agents still playing
        in games not being reset); return (reward, terminated, truncated), each (G, A).

        Games with no acting agent must be left untouched.
        """

    @abstractmethod
    def observe(self) -> dict[str, np.ndarray]:
        """Every agent's observation: a dict of (G, A, ...) arrays."""

    @abstractmethod
    def global_state(self) -> np.ndarray:
        """The state of each game for a centralised critic, (G, S) float32."""

    @abstractmethod
    def info(self) -> dict[str, np.ndarray]:
        """Per-agent info: a dict of (G, A) arrays (``success``, ``task``, ...)."""

    def render_text(self, game: int) -> str:
        raise NotImplementedError(f"{type(self).__name__} has no text rendering")

    def render_seat(self, game: int, agent: int) -> str:
        """What one agent sees, as text (the whole game where nothing is hidden from anyone)."""
        return self.render_text(game)

    # -- actions: Discrete by default; a core with other actions (free text) overrides these three --
    def noop_action(self) -> Any:
        """What fills the action of an agent that does not act (ignored by :meth:`step`)."""
        return self.single_action_space.start

    def empty_actions(self) -> np.ndarray:
        """A (G, A) array to write actions into, filled with :meth:`noop_action`."""
        return np.full((self.num_games, self.n_agents), self.noop_action(), dtype=np.int64)

    def check_action(self, action: Any) -> str | None:
        """Why one agent's action cannot be played (None when it can)."""
        if not self.single_action_space.contains(action):
            return f"action {action!r} is not in the action space {self.single_action_space}"
        return None

    def check_actions(self, actions: np.ndarray, active: np.ndarray) -> None:
        """ValueError unless ``actions`` is a (G, A) array whose entries for ``active`` agents can be played."""
        space = self.single_action_space
        if actions.shape != (self.num_games, self.n_agents) or not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(f"actions must be an integer array of shape ({self.num_games}, {self.n_agents}), "
                             f"got {actions.dtype} {actions.shape}")
        if ((actions < space.start) | (actions >= space.start + space.n))[active].any():
            raise ValueError(f"actions outside the action space {space}")

    def get_state(self, game: int) -> dict[str, np.ndarray]:
        return {f.name: np.array(getattr(self.state, f.name)[game]) for f in dataclasses.fields(self.state)}


def agent_names(n_agents: int) -> list[str]:
    return [f"player_{i}" for i in range(n_agents)]


class ParallelCoreEnv(ParallelEnv):
    """PettingZoo's parallel API over one game of a :class:`MultiAgentCore`.

    Agents leave ``agents`` when they are terminated or truncated and never come back within
    an episode; ``infos[agent]`` carries ``success`` and ``task``. An action outside an agent's
    space, or an action for an agent not playing, raises ``ValueError`` naming the agent.
    """

    metadata: dict[str, Any] = {"name": "multiagent_core", "render_modes": ["ansi"], "render_fps": 4,
                                "is_parallelizable": True}

    def __init__(self, core: MultiAgentCore, render_mode: str | None = None):
        if core.num_games != 1:
            raise ValueError("ParallelCoreEnv needs a core of one game")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.core = core
        self.render_mode = render_mode
        self.possible_agents = agent_names(core.n_agents)
        self.agents: list[str] = []
        self.observation_spaces = {agent: core.single_observation_space for agent in self.possible_agents}
        self.action_spaces = {agent: core.single_action_space for agent in self.possible_agents}
        self.state_space = core.state_space
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        self._started = False

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.core.reset(np.ones(1, dtype=bool), reset_keys(self.core.state.key, self._started, seed))
        self._started = True
        self.agents = list(self.possible_agents)
        return self._observations(), self._infos()

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            raise RuntimeError("every agent is done: call reset() before step()")
        extra = set(actions) - set(self.agents)
        if extra:
            raise ValueError(f"actions for agents that are not playing: {sorted(extra)}")
        acting = np.zeros((1, self.core.n_agents), dtype=bool)
        batch = self.core.empty_actions()
        for agent in self.agents:
            if agent not in actions:
                raise ValueError(f"no action for {agent}: every agent in env.agents acts each step")
            action = actions[agent]
            problem = self.core.check_action(action)
            if problem is not None:
                raise ValueError(f"{agent}: {problem}")
            acting[0, self._index[agent]] = True
            batch[0, self._index[agent]] = action
        reward, terminated, truncated = self.core.step(batch, acting)
        playing = list(self.agents)
        observations, infos = self._observations(playing), self._infos(playing)
        rewards = {a: float(reward[0, self._index[a]]) for a in playing}
        terminations = {a: bool(terminated[0, self._index[a]]) for a in playing}
        truncations = {a: bool(truncated[0, self._index[a]]) for a in playing}
        self.agents = [a for a in playing if not (terminations[a] or truncations[a])]
        return observations, rewards, terminations, truncations, infos

    def _observations(self, agents: list[str] | None = None) -> dict[str, Any]:
        obs = self.core.observe()
        if not isinstance(obs, dict):  # one array: a text observation per agent
            return {a: obs[0, self._index[a]] for a in (agents or self.agents)}
        return {a: {k: v[0, self._index[a]] for k, v in obs.items()} for a in (agents or self.agents)}

    def _infos(self, agents: list[str] | None = None) -> dict[str, dict[str, Any]]:
        info = self.core.info()
        return {a: {k: v[0, self._index[a]].item() if isinstance(v[0, self._index[a]], np.generic)
                    else v[0, self._index[a]] for k, v in info.items()} for a in (agents or self.agents)}

    def state(self) -> np.ndarray:
        """The game's global state (for a centralised critic such as MAPPO's)."""
        if not self._started:
            raise RuntimeError("call reset() before state()")
        return self.core.global_state()[0]

    def render(self):
        if self.render_mode == "ansi":
            return self.core.render_text(0)
        return None

    def render_agent(self, agent: str) -> str:
        """What ``agent`` sees of the game, as text (``rewardgym play`` shows a person their seat's)."""
        return self.core.render_seat(0, self._index[agent])

    def close(self) -> None:
        pass


class MultiAgentVectorEnv:
    """``num_games`` games of a :class:`MultiAgentCore` stepped together, arrays on (game, agent) axes.

    ``reset(seed)`` returns ``(obs, infos)``; ``step(actions)`` takes a (G, A) array (integers
    for Discrete actions, strings for free text) and returns ``obs`` (a dict of (G, A, ...)
    arrays, or one (G, A) array of texts), ``rewards``, ``terminations``,
    ``truncations`` (each (G, A)) and ``infos`` (a dict of (G, A) arrays). A game whose agents
    are all done restarts on the next step (NEXT_STEP autoreset, as Gymnasium's vector envs):
    its actions are ignored and it returns its first observation with zero rewards. Agents
    done before the others in their game get zero reward and keep their last observation
    until the game restarts (``active`` says who is playing).
    """

    metadata: dict[str, Any] = {"autoreset_mode": "next_step"}

    def __init__(self, core: MultiAgentCore):
        self.core = core
        self.num_games, self.n_agents = core.num_games, core.n_agents
        self.possible_agents = agent_names(core.n_agents)
        self.single_observation_space = core.single_observation_space
        self.single_action_space = core.single_action_space
        self.state_space = core.state_space
        self.active = np.zeros((self.num_games, self.n_agents), dtype=bool)
        self._restart = np.zeros(self.num_games, dtype=bool)
        self._started = False

    def render_text(self, game: int = 0) -> str:
        """Game ``game`` as text (what its ``ParallelEnv``'s ``render()`` shows in ``"ansi"`` mode)."""
        return self.core.render_text(game)

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict | None = None):
        """Start every game: an int seed gives game g the seed ``seed + g``; a list, one seed per game (None:
        that game's next episode)."""
        self.core.reset(np.ones(self.num_games, dtype=bool), reset_keys(self.core.state.key, self._started, seed))
        self._started = True
        self.active[:] = True
        self._restart[:] = False
        return self.core.observe(), self.core.info()

    def step(self, actions):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions)
        self.core.check_actions(actions, self.active)
        restarting = self._restart.copy()
        if restarting.any():
            self.core.reset(restarting, rng.next_key(self.core.state.key[restarting]))
            self.active[restarting] = True
        acting = self.active & ~restarting[:, None]
        played = self.core.empty_actions()
        played[acting] = actions[acting]
        reward, terminated, truncated = self.core.step(played, acting)
        reward = np.where(acting, reward, 0.0)
        terminated, truncated = terminated & acting, truncated & acting
        self.active &= ~(terminated | truncated)
        self._restart = ~self.active.any(axis=1)
        return self.core.observe(), reward, terminated, truncated, self.core.info()

    def state(self) -> np.ndarray:
        """Each game's global state, (G, S)."""
        return self.core.global_state()

    def close(self) -> None:
        pass
