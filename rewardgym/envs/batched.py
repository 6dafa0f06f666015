"""One batched core, two Gymnasium faces.

A family whose dynamics allow it writes its state and transition once, over a leading
batch axis, as a :class:`BatchedCore`. :class:`CoreEnv` exposes it as a ``gymnasium.Env``
at batch size 1 and :class:`CoreVectorEnv` as a ``gymnasium.vector.VectorEnv`` stepping
all N environments in one call — so the single env and the vector env cannot drift apart.

Randomness is counter-based (:mod:`rewardgym.envs.rng`): each env carries an episode key,
``reset(seed=s)`` on the vector env gives env ``i`` the key of seed ``s + i``, and a reset
without a seed (or an autoreset) moves each env to the next key. A vector env seeded ``s``
therefore replays N single envs seeded ``s, s+1, ...`` exactly.

The vector env autoresets in Gymnasium's default NEXT_STEP mode: the step after an episode
ends resets that env, ignores its action and returns the first observation of the new
episode with zero reward.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from rewardgym._batch import env_info, row
from rewardgym.envs import rng


class BatchedCore(ABC):
    """State and transition of ``num_envs`` environments over a leading batch axis.

    Subclasses keep every per-env quantity in ``self.state``, a dataclass (or NamedTuple) of arrays whose
    first axis is the env index (this is what makes get_state/set_state generic), and the
    episode key in ``self.state.key``.
    """

    single_observation_space: spaces.Space
    single_action_space: spaces.Space
    state: Any

    def __init__(self, num_envs: int):
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.num_envs = num_envs

    @abstractmethod
    def reset(self, mask: np.ndarray, keys: np.ndarray) -> None:
        """Start a new episode in every env where ``mask`` is True, keyed by ``keys`` (one per masked env)."""

    @abstractmethod
    def step(self, action: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance the envs where ``active`` is True; return (reward, terminated, truncated), each (N,).

        Inactive envs must be left untouched; their entries in the returned arrays are ignored.
        """

    @abstractmethod
    def observe(self) -> Any:
        """The batched observation of the current state."""

    @abstractmethod
    def info(self, ended: np.ndarray) -> dict[str, np.ndarray]:
        """Per-env info arrays; keys that only exist at an episode's end are reported for ``ended`` envs.

        Returns a dict in the vector-env convention: each key ``k`` has a boolean mask ``"_k"``.
        """

    def render_text(self, index: int) -> str:
        """A text picture of env ``index`` (the ``ansi`` render mode)."""
        raise NotImplementedError(f"{type(self).__name__} has no text rendering")

    def render_rgb(self, b: np.ndarray) -> np.ndarray:
        """Pictures (len(b), H, W, 3) uint8 of envs ``b`` (the ``rgb_array`` render mode)."""
        raise NotImplementedError(f"{type(self).__name__} has no pixel rendering")

    # State clone/restore, generic over the state dataclass (or NamedTuple, as compiled cores take it).
    def _state_names(self) -> tuple[str, ...]:
        state = self.state
        return state._fields if hasattr(state, "_fields") else tuple(f.name for f in dataclasses.fields(state))

    def get_state(self, index: int) -> dict[str, np.ndarray]:
        return {name: np.array(getattr(self.state, name)[index]) for name in self._state_names()}

    def set_state(self, index: int, state: dict[str, np.ndarray]) -> None:
        self.write_state(index, self.checked_state(state))

    def write_state(self, index: int, checked: dict[str, np.ndarray]) -> None:
        """Write :meth:`checked_state`'s values into env ``index``."""
        for name, value in checked.items():
            getattr(self.state, name)[index] = value

    def checked_state(self, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``state``'s values as the state's dtypes, once every key and shape is right (nothing is written)."""
        names = set(self._state_names())
        if set(state) != names:
            raise ValueError(f"state must have exactly the keys {sorted(names)}, got {sorted(state)}")
        checked = {}
        for name, value in state.items():
            target = getattr(self.state, name)
            try:
                value = np.asarray(value, dtype=target.dtype)
            except (TypeError, ValueError, OverflowError) as error:
                raise ValueError(f"state[{name!r}] is not {target.dtype} values: {error}") from None
            if value.shape != target.shape[1:]:
                raise ValueError(f"state[{name!r}] has shape {value.shape}, expected {target.shape[1:]}")
            checked[name] = value
        return checked


def checked_actions(action, num_envs: int, n_actions: int) -> np.ndarray:
    """``action`` as ``num_envs`` int64 indices in ``[0, n_actions)``, else a one-line ValueError. For cores whose
    compiled step indexes with the action unchecked (the env faces check their spaces first; this guards the core
    itself)."""
    action = np.asarray(action, np.int64)
    if action.shape != (num_envs,) or (num_envs == 1 and not 0 <= action[0] < n_actions) or (
            num_envs > 1 and (action.min() < 0 or action.max() >= n_actions)):
        raise ValueError(f"actions must be {num_envs} ints in [0, {n_actions}), got {action!r}")
    return action


def masked_info(values: dict[str, np.ndarray], ended: np.ndarray, end_values: dict[str, np.ndarray]) -> dict:
    """Build a vector-convention info dict: ``values`` for all envs, ``end_values`` where ``ended``."""
    everyone = ~np.zeros(ended.shape, dtype=bool)
    info: dict[str, np.ndarray] = {}
    for key, value in values.items():
        info[key] = value
        info["_" + key] = everyone
    if np.count_nonzero(ended):
        for key, value in end_values.items():
            info[key] = value
            info["_" + key] = ended
    return info


def check_seed(seed: Any) -> int:
    """``seed`` as an int; ValueError unless it is a non-negative int."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
    return int(seed)


def is_seed_list(seed: Any) -> bool:
    """Whether ``seed`` is one seed per env (a list, tuple or 1-D array) rather than one seed for all."""
    if isinstance(seed, np.ndarray):
        return seed.ndim == 1
    return isinstance(seed, Sequence) and not isinstance(seed, (str, bytes))


def reset_keys(current: np.ndarray, started: bool, seed: int | Sequence[int | None] | None = None) -> np.ndarray:
    """Episode keys for resetting all ``len(current)`` envs (or games) whose keys are ``current``: those of
    seeds ``seed, seed + 1, ...`` for a seed; for a list of seeds, one per env, those seeds (an env whose
    seed is None gets its next key); else each one's next key (fresh OS entropy on the first reset)."""
    n = len(current)
    listed = is_seed_list(seed)
    if seed is not None and not listed:
        return rng.seed_key(check_seed(seed) + np.arange(n, dtype=np.uint64))
    keys = rng.next_key(current) if started else rng.fresh_keys(n)
    if listed:
        seeds = list(seed)
        if len(seeds) != n:
            raise ValueError(f"expected {n} seeds, got {len(seeds)}")
        for i, s in enumerate(seeds):
            if s is not None:
                keys[i] = rng.seed_key(check_seed(s))
    return keys


class CoreEnv(gym.Env):
    """A ``gymnasium.Env`` over a :class:`BatchedCore` of batch size 1."""

    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, core: BatchedCore, render_mode: str | None = None):
        if core.num_envs != 1:
            raise ValueError("CoreEnv needs a core of batch size 1")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.core = core
        self.render_mode = render_mode
        self.observation_space = core.single_observation_space
        self.action_space = core.single_action_space
        self._started = False
        self._needs_reset = True
        self._one = np.ones(1, dtype=bool)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            check_seed(seed)
        super().reset(seed=seed)
        self.core.reset(np.ones(1, dtype=bool), reset_keys(self.core.state.key, self._started, seed))
        self._started = True
        self._needs_reset = False
        return row(self.core.observe(), 0, copy=False), env_info(self.core.info(np.zeros(1, dtype=bool)), 1, 0)

    def step(self, action):
        if self._needs_reset:
            raise gym.error.ResetNeeded("call reset() before step(), and again after an episode ends")
        if not self._valid(action):
            raise ValueError(f"action {action!r} is not in the action space {self.action_space}")
        reward, terminated, truncated = self.core.step(np.asarray(action)[None], self._one)
        ended = terminated | truncated
        self._needs_reset = bool(ended[0])
        info = env_info(self.core.info(ended), 1, 0)
        return row(self.core.observe(), 0, copy=False), float(reward[0]), bool(terminated[0]), bool(truncated[0]), info

    def _valid(self, action) -> bool:
        # A plain int in a Discrete space is the common case; Space.contains costs more than a small step.
        space = self.action_space
        if type(action) is int and type(space) is spaces.Discrete:
            return int(space.start) <= action < int(space.start) + int(space.n)
        return space.contains(action)

    def render(self):
        if self.render_mode == "ansi":
            return self.core.render_text(0)
        if self.render_mode == "rgb_array":
            return self.core.render_rgb(np.zeros(1, np.int64))[0]
        return None

    def get_state(self) -> dict[str, Any]:
        """A picklable snapshot of the env (restore it with :meth:`set_state`)."""
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before get_state()")
        return {"core": self.core.get_state(0), "needs_reset": self._needs_reset}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a snapshot taken by :meth:`get_state` (of this env or of one made alike)."""
        self.core.set_state(0, state["core"])
        self._needs_reset = bool(state["needs_reset"])
        self._started = True


class CoreVectorEnv(VectorEnv):
    """A ``gymnasium.vector.VectorEnv`` stepping all envs of a :class:`BatchedCore` in one call.

    ``max_episode_steps`` (optional) truncates episodes like Gymnasium's TimeLimit does for the
    single env; ``gym.make_vec`` passes the registered value.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 4, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, core: BatchedCore, max_episode_steps: int | None = None, render_mode: str | None = None):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.core = core
        self.num_envs = core.num_envs
        self.render_mode = render_mode
        self.max_episode_steps = max_episode_steps
        self.single_observation_space = core.single_observation_space
        self.single_action_space = core.single_action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._started = False
        self._elapsed = np.zeros(self.num_envs, dtype=np.int64)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        self._all = np.ones(self.num_envs, dtype=bool)
        self._none = np.zeros(self.num_envs, dtype=bool)

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict | None = None):
        """Reset every env (or those in ``options["reset_mask"]``). An int seed gives env i the seed ``seed + i``."""
        mask = self._all.copy()
        if options and "reset_mask" in options:
            mask = np.asarray(options["reset_mask"], dtype=bool)
            if mask.shape != (self.num_envs,):
                raise ValueError(f"options['reset_mask'] must have shape ({self.num_envs},), got {mask.shape}")
        keys = reset_keys(self.core.state.key, self._started, seed)
        if isinstance(seed, (int, np.integer)):
            super().reset(seed=seed)
        if not self._started and not mask.all():
            raise ValueError("the first reset() must reset every env (no reset_mask)")
        self.core.reset(mask, keys[mask])
        self._started = True
        self._elapsed[mask] = 0
        self._autoreset[mask] = False
        return self.core.observe(), self.core.info(self._none)

    def step(self, actions):
        actions = np.asarray(actions)
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before step()")
        if not self.action_space.contains(actions):
            raise ValueError(f"actions {_preview(actions)} are not in the action space {self.action_space}")
        restarting = self._autoreset
        active = ~restarting
        if np.count_nonzero(restarting):
            self.core.reset(restarting, rng.next_key(self.core.state.key[restarting]))
            self._elapsed[restarting] = 0
        reward, terminated, truncated = self.core.step(actions, active)
        self._elapsed[active] += 1
        if self.max_episode_steps is not None:
            truncated = truncated | (self._elapsed >= self.max_episode_steps)
        reward = np.where(active, reward, 0.0)
        terminated = terminated & active
        truncated = truncated & active
        ended = terminated | truncated
        self._autoreset = ended
        return self.core.observe(), reward, terminated, truncated, self.core.info(ended)

    def render(self):
        if self.render_mode == "ansi":
            return tuple(self.core.render_text(i) for i in range(self.num_envs))
        if self.render_mode == "rgb_array":
            return tuple(self.core.render_rgb(np.arange(self.num_envs)))
        return None

    def get_state(self, index: int) -> dict[str, Any]:
        """A picklable snapshot of env ``index`` (restore it with :meth:`set_state`)."""
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before get_state()")
        return {"core": self.core.get_state(index), "elapsed": int(self._elapsed[index]),
                "autoreset": bool(self._autoreset[index])}

    def set_state(self, index: int, state: dict[str, Any]) -> None:
        """Restore env ``index`` from a snapshot taken by :meth:`get_state`."""
        if not self._started:
            raise gym.error.ResetNeeded("call reset() before set_state()")
        self.core.set_state(index, state["core"])
        self._elapsed[index] = state["elapsed"]
        self._autoreset[index] = state["autoreset"]


def _preview(actions: np.ndarray) -> str:
    text = np.array2string(actions, threshold=8, edgeitems=3)
    return f"{text} (dtype {actions.dtype}, shape {actions.shape})"
