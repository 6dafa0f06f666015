"""Every seat of every game as one row of a Gymnasium vector env: independent learners with shared parameters.

``AgentsAsEnvs(make_vec("bandit_market_v0", G))`` is a ``gymnasium.vector.VectorEnv`` of
``G × A`` rows, row ``g·A + a`` being agent ``a`` of game ``g``. Any single-agent vector learner
(rewardgym's PPO, ``LearnedReward``, the evaluation loop) then trains one policy that plays
every seat — independent PPO with parameter sharing, the agent's seat one-hot in its
observation telling the policy which seat it plays. Each row's reward is that agent's own.

``state_key="state"`` adds each game's ``state()`` to every one of its rows' observations, for
a centralised critic (MAPPO reads it; its actor does not). ``team_reward=True`` gives every row
its game's mean reward instead of its own (a shared team reward; a learned reward on top is
shared the same way with ``LearnedReward(team_size=A)``).

A game restarts on the next step after its last agent left (NEXT_STEP autoreset), for all its
rows at once. An agent that leaves before the others (an adventurer who went down the stairs
or died) ends its row's episode on that step; until its game restarts, the row *waits*: every
step it reports the agent's episode ended again (``terminated``, zero reward, the last
observation), so each waiting step is a reset step to a NEXT_STEP learner — PPO masks it out
of the loss (``valid``) and the episode tracker counts no episode there. The game's restart is
then the row's reset step, as for any row.

A free-text game (the kitchen's text form) gives rows of texts and takes one reply per row;
``None`` (a row with nothing to say, its episode over) is an empty reply. ``reset(seed=[...])``
takes one seed per row, the same for the rows of one game: the LLM trainer's self-play resets
each game's seats with the game's seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from rewardgym.envs.batched import is_seed_list
from rewardgym.rewards.transforms import team_mean


class AgentsAsEnvs(VectorEnv):
    """A multi-agent vector env (arrays on (game, agent) axes) as a vector env of G·A rows."""

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, games, state_key: str | None = None, render_mode: str | None = None,
                 team_reward: bool = False):
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be 'ansi' or None, got {render_mode!r}")
        self.games, self.render_mode, self.team_reward = games, render_mode, bool(team_reward)
        self.n_games, self.n_agents = games.num_games, games.n_agents
        self.num_envs = self.n_games * self.n_agents
        self.state_key = state_key
        self.single_observation_space = games.single_observation_space
        self.text_actions = isinstance(games.single_action_space, spaces.Text)
        if state_key is not None:  # every row also sees its game's state() (a centralised critic's input)
            if not isinstance(games.single_observation_space, spaces.Dict):
                raise ValueError(f"a game state in the rows needs Dict observations, and they are "
                                 f"{type(games.single_observation_space).__name__}")
            if state_key in games.single_observation_space.spaces:
                raise ValueError(f"the observation already has a key {state_key!r}")
            self.single_observation_space = spaces.Dict({**games.single_observation_space.spaces,
                                                         state_key: games.state_space})
        self.single_action_space = games.single_action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.possible_agents = games.possible_agents

    def _rows(self, obs: dict[str, np.ndarray] | np.ndarray) -> dict[str, np.ndarray] | np.ndarray:
        if not isinstance(obs, dict):  # one array of (G, A) observations: the texts of a free-text game
            return obs.reshape(self.num_envs, *obs.shape[2:])
        rows = {key: value.reshape(self.num_envs, *value.shape[2:]) for key, value in obs.items()}
        if self.state_key is not None:
            rows[self.state_key] = self.state()
        return rows

    def _infos(self, info: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        everyone = np.ones(self.num_envs, dtype=bool)
        out: dict[str, np.ndarray] = {}
        for key, value in info.items():
            value = np.asarray(value)
            out[key] = value.reshape(self.num_envs, *value.shape[2:])  # per-agent rows (an action mask: (G·A, n))
            out["_" + key] = everyone
        return out

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict | None = None):
        """Restart every game: an int seed gives game g the seed ``seed + g`` (all its rows); a list gives
        one seed per row, the same for the rows of one game (None: the game's next episode, or the seed of
        its other rows)."""
        if is_seed_list(seed):
            seed = self._game_seeds(list(seed))
        obs, info = self.games.reset(seed=seed, options=options)
        return self._rows(obs), self._infos(info)

    def _game_seeds(self, seeds: list) -> list[int | None]:
        if len(seeds) != self.num_envs:
            raise ValueError(f"expected {self.num_envs} seeds (one per row: games x agents), got {len(seeds)}")
        out = []
        for g in range(self.n_games):
            given = {s for s in seeds[g * self.n_agents:(g + 1) * self.n_agents] if s is not None}
            if len(given) > 1:
                raise ValueError(f"the rows of game {g} are one game and take one seed, got "
                                 f"{', '.join(sorted(str(s) for s in given))}")
            out.append(given.pop() if given else None)
        return out

    def step(self, actions):
        if self.text_actions:  # replies; None (a row with nothing to say: its episode is over) is an empty one
            actions = np.array(["" if a is None else a for a in actions], dtype=object)
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions must have shape ({self.num_envs},) (games x agents), got {actions.shape}")
        playing = self.games.active.copy()
        obs, reward, terminated, truncated, info = self.games.step(actions.reshape(self.n_games, self.n_agents))
        # rows whose agent left while its game goes on (a restarting game has no agent playing before the step)
        waiting = ~playing & playing.any(axis=1, keepdims=True)
        terminated = terminated | waiting
        shape = (self.num_envs,)
        reward = team_mean(reward.reshape(shape), self.n_agents) if self.team_reward else reward.reshape(shape)
        return self._rows(obs), reward, terminated.reshape(shape), truncated.reshape(shape), self._infos(info)

    def render(self) -> tuple[str, ...] | None:
        """Every game as text (``render_mode="ansi"``), one string per game, as a vector env renders."""
        if self.render_mode == "ansi":
            return tuple(self.games.render_text(g) for g in range(self.n_games))
        return None

    def state(self) -> np.ndarray:
        """Each row's game state (for a centralised critic), (G·A, S)."""
        return np.repeat(self.games.state(), self.n_agents, axis=0)

    def close(self, **kwargs) -> None:
        self.games.close()
