"""The random agent: uniform actions from the env's action space, for any family — the floor every learner
must clear, from the same command (``rewardgym train ENV --agent random``, ``rewardgym eval``).

Where the env marks the valid actions (``info["action_mask"]`` or an ``action_mask`` observation
key, as the text worlds' choice mode and masked Discrete spaces do), it draws among the valid
ones only, so it is a fair baseline rather than one that wastes turns on refused commands.
It learns nothing: ``learn`` plays the steps so the run folder has the same curves as any agent's.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

from rewardgym.agents.base import (
    AgentSpec,
    Callback,
    as_vector_env,
    evaluate_agent,
    learn_loop,
    load_config_agent,
    read_action_mask,
    write_agent_file,
)

class RandomAgent:
    spec: ClassVar[AgentSpec] = AgentSpec("random", settings=frozenset({"seed"}), default_num_envs=8)
    name: ClassVar[str] = spec.name
    unfinished_steps: ClassVar[int] = 0

    def __init__(self, env: Any = None, *, seed: int = 0, action_space: spaces.Space | None = None):
        if action_space is None:
            if env is None:
                raise ValueError("give an env or action_space")
            action_space = as_vector_env(env).single_action_space
        if isinstance(action_space, spaces.Text):
            raise ValueError("the random agent draws from the action space, and random text is not a command: give "
                             "the env a discrete action mode (e.g. --env-kwargs action_mode=choice)")
        self.action_space, self.seed = action_space, int(seed)
        self.rng = np.random.default_rng(self.seed)
        self._batched: dict[int, spaces.Space] = {}
        self.num_timesteps = 0

    @property
    def global_step(self) -> int:
        return self.num_timesteps

    def act(self, obs: Any, *, deterministic: bool = False, info: dict | None = None) -> np.ndarray:
        """One uniform action per row of ``obs`` (among the valid ones where a mask says which)."""
        rows = _batch_size(obs)
        mask = read_action_mask(obs, info)
        if mask is not None and isinstance(self.action_space, spaces.Discrete):
            mask = np.where(mask.any(axis=1, keepdims=True), mask, True)  # no valid action: any
            scores = self.rng.random(mask.shape) * mask
            return scores.argmax(axis=1) + int(self.action_space.start)
        if rows not in self._batched:  # the batch's space samples every row in one call
            self._batched[rows] = batch_space(self.action_space, rows)
            self._batched[rows].seed(int(self.rng.integers(2**31)))
        return self._batched[rows].sample()

    def learn(self, env, total_steps: int | None, *, callbacks: Iterable[Callback] = (), progress: bool = True):
        """Play ``total_steps`` env steps at random (nothing is learned; the run folder gets its curves)."""
        if total_steps is None:
            raise ValueError("nothing to resume: the random agent keeps no unfinished run")
        learn_loop(self, as_vector_env(env), total_steps, callbacks=callbacks, progress=progress, seed=self.seed)
        self.num_timesteps += total_steps
        return self

    def evaluate(self, env, episodes: int, *, seed: int | None = None) -> dict:
        return evaluate_agent(self, env, episodes, deterministic=False, seed=seed)

    def save(self, path) -> None:
        write_agent_file(path, self.name, {"seed": self.seed}, global_step=self.num_timesteps)

    @classmethod
    def load(cls, path: str | Path, env=None) -> RandomAgent:
        return load_config_agent(cls, path, env)


def _batch_size(obs: Any) -> int:
    if isinstance(obs, dict):
        return len(next(iter(obs.values())))
    return len(obs)
