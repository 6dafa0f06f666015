"""Stable-baselines3 on rewardgym: a VecEnv adapter, and an Agent around any SB3 algorithm.

:class:`SB3VecEnv` lets SB3 train on a Gymnasium ``VectorEnv``: rewardgym's natively
batched envs, ``SyncVectorEnv`` / ``AsyncVectorEnv``, and any of them wrapped in rewardgym's
vector reward wrappers (``LearnedReward``, ``PotentialShaping``, ...). :class:`SB3Agent` is
the :class:`rewardgym.agents.Agent` face of an SB3 algorithm, so
``rewardgym train ENV_ID --agent sb3 --config algo=A2C`` works like every other agent.

Autoreset. SB3 resets an env inside the step that ends its episode: the returned row is
already the next episode's first observation, and ``infos[i]["terminal_observation"]``
holds the last one. Gymnasium's default NEXT_STEP mode returns the last observation and
resets on the *following* step, whose action is ignored and whose reward is 0. The adapter
closes the gap within the step: right after a step that ended some episodes it calls
``env.reset(options={"reset_mask": done})``, which resets exactly those envs and clears
their pending autoreset, so the next step is a real transition for every env and SB3
never sees a reset step. This is the partial reset that Gymnasium's DISABLED mode is built
on; rewardgym's ``CoreVectorEnv``, ``SyncVectorEnv`` and ``AsyncVectorEnv`` honour it, and
rewardgym's vector wrappers treat it as the start of a new episode (no learned reward, no
shaping term for the reset). A masked reset draws the same fresh episode the autoreset
would have (no seed), so runs stay deterministic under a seed.
"""

from __future__ import annotations

import importlib
import io
import json
import math
import pickle
import time
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import stable_baselines3
from gymnasium import spaces
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv
from stable_baselines3 import HerReplayBuffer
from stable_baselines3.common import buffers
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

from rewardgym._batch import VectorInfos, copy_batch, merge_rows, row
from rewardgym._torch import resolve_device
from rewardgym.agents.base import (
    AGENT_FILE,
    AgentSpec,
    Callback,
    EpisodeTracker,
    MetricsWindow,
    Progress,
    evaluate_agent,
    read_agent_file,
    write_agent_file,
)
from rewardgym.wrappers.vector import refuse_deferred

__all__ = ["ALGORITHMS", "REPLAY_BUFFERS", "SB3Agent", "SB3VecEnv", "algorithm_class", "default_policy",
           "replay_buffer_class"]

ALGORITHMS = ("PPO", "A2C", "DQN", "SAC", "TD3", "DDPG")
"""The SB3 algorithms ``SB3Agent(algo=...)`` knows by name (any SB3 algorithm class works too)."""

REPLAY_BUFFERS = ("HerReplayBuffer", "ReplayBuffer", "DictReplayBuffer", "NStepReplayBuffer")
"""The SB3 replay buffers ``SB3Agent(replay_buffer_class=...)`` takes by name (or "module:Class", or a class)."""

MODEL_FILE = "model.zip"

# zip, JSON, pickle and torch each fail in their own way on a truncated or foreign file.
_BAD_FILE = (ValueError, KeyError, EOFError, OSError, RuntimeError, TypeError, AttributeError, AssertionError,
             zipfile.BadZipFile, pickle.UnpicklingError)


class SB3VecEnv(VecEnv):
    """SB3's ``VecEnv`` over a Gymnasium ``VectorEnv`` in NEXT_STEP (or DISABLED) autoreset mode.

    Spaces are the vector env's single-env spaces. ``step`` returns SB3's 4-tuple
    ``(obs, rewards, dones, infos)`` with ``dones = terminated | truncated``. For an env
    whose episode ended, the obs row is the first observation of its next episode,
    ``infos[i]["terminal_observation"]`` the last observation of the ended one, and
    ``infos[i]["TimeLimit.truncated"]`` is True when it was truncated and not terminated;
    the info of the reset is in ``reset_infos[i]``. Info keys such as ``success``,
    ``reward_env`` and ``reward_learned`` pass through per env.

    Episode statistics are filled in as SB3's ``Monitor`` does, so SB3's logger shows
    ``ep_rew_mean`` without a ``VecMonitor``: at an episode's end ``infos[i]["episode"]`` is
    ``{"r": return, "l": length, "t": seconds since the adapter was made}``, and
    ``infos[i]["is_success"]`` mirrors ``success`` (SB3's ``success_rate``). The adapter
    therefore answers ``env_is_wrapped(Monitor)`` with True. Wrapping it in a ``VecMonitor``
    still works; that one's statistics replace these.

    ``seed(s)`` gives env ``i`` the seed ``s + i`` at the next ``reset()`` (SB3's rule, and
    Gymnasium's for vector envs). ``get_attr``, ``set_attr`` and ``env_method`` reach the
    sub-envs of a ``SyncVectorEnv`` / ``AsyncVectorEnv``; a natively batched env has no
    sub-envs, so ``get_attr`` reads the vector env's own attribute for every index and the
    other two raise ``NotImplementedError``.
    """

    def __init__(self, env: VectorEnv | gym.Env):
        if isinstance(env, gym.Env):
            env = SyncVectorEnv([lambda: env])
        if not isinstance(env, VectorEnv):
            raise TypeError(f"expected a gymnasium VectorEnv or Env, got {type(env).__name__}")
        mode = AutoresetMode(env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP))
        if mode == AutoresetMode.SAME_STEP:
            raise ValueError("SB3VecEnv needs a NEXT_STEP (Gymnasium's default) or DISABLED autoreset vector env, "
                             "got SAME_STEP")
        base = env.unwrapped
        if isinstance(base, AsyncVectorEnv) and not base.shared_memory:
            # Gymnasium's async worker clears its pending autoreset on reset() only when it writes
            # to shared memory, so a masked reset would be followed by a second, silent reset step.
            raise ValueError("SB3VecEnv cannot reset single envs of an AsyncVectorEnv(shared_memory=False): "
                             "Gymnasium's worker then still autoresets on the next step; use shared_memory=True")
        refuse_deferred(env, "SB3")
        self.env = env
        self.autoreset_mode = mode
        self.tracker = EpisodeTracker(env.num_envs)  # Monitor's statistics: the return and length of each episode
        self._t_start = time.perf_counter()
        self._actions: Any = None
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)

    # -- the VecEnv API ---------------------------------------------------------------------
    def reset(self) -> VecEnvObs:
        obs, info = self.env.reset(seed=self._seed_argument(), options=self._options_argument())
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = list(VectorInfos(info, self.num_envs))
        self.tracker = EpisodeTracker(self.num_envs)
        return copy_batch(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        obs, reward, terminated, truncated, info = self.env.step(self._actions)
        terminated, truncated = np.asarray(terminated, dtype=bool), np.asarray(truncated, dtype=bool)
        dones = terminated | truncated
        reward = np.asarray(reward, dtype=np.float64)
        finished = self.tracker.update(reward, terminated, truncated, info)
        infos = list(VectorInfos(info, self.num_envs))
        for i, item in enumerate(infos):
            item["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        if dones.any():
            elapsed = round(time.perf_counter() - self._t_start, 6)
            for i, episode in finished:
                item = infos[i]
                item["terminal_observation"] = row(obs, i)
                item["episode"] = {"r": round(episode["return"], 6), "l": episode["length"], "t": elapsed}
                if "success" in item and "is_success" not in item:
                    item["is_success"] = bool(item["success"])
            # Resolve the NEXT_STEP reset now, so that no reset step ever reaches SB3.
            reset_obs, reset_info = self.env.reset(options={"reset_mask": dones.copy()})
            self.tracker.restart(dones)
            reset_infos = VectorInfos(reset_info, self.num_envs)
            for i in np.flatnonzero(dones):
                self.reset_infos[i] = reset_infos[i]
            obs = merge_rows(obs, reset_obs, dones)
        else:
            obs = copy_batch(obs)  # SB3 keeps the last observation until the next step is taken
        return obs, reward.astype(np.float32), dones, infos

    def close(self) -> None:
        self.env.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        if self.render_mode != "rgb_array":
            raise NotImplementedError(f"get_images needs render_mode='rgb_array', the env has {self.render_mode!r}")
        return list(self.env.render())

    def render(self, mode: str | None = None) -> Any:
        """Tiled frames in ``rgb_array`` mode (SB3's behaviour); other modes return the vector env's ``render()``."""
        if self.render_mode == "rgb_array":
            return super().render(mode)
        return self.env.render()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        rows = self._get_indices(indices)
        base = self.env.unwrapped
        if isinstance(base, SyncVectorEnv):
            return [base.envs[i].get_wrapper_attr(attr_name) for i in rows]
        if isinstance(base, AsyncVectorEnv):
            values = base.get_attr(attr_name)
            return [values[i] for i in rows]
        # A natively batched env: its attributes belong to all its envs at once.
        value = getattr(self.env, attr_name) if hasattr(self.env, attr_name) else getattr(base, attr_name)
        return [value for _ in rows]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        rows = list(self._get_indices(indices))
        base = self.env.unwrapped
        if isinstance(base, SyncVectorEnv):
            for i in rows:
                base.envs[i].set_wrapper_attr(attr_name, value)
        elif isinstance(base, AsyncVectorEnv) and sorted(rows) == list(range(self.num_envs)):
            base.set_attr(attr_name, value)
        else:
            raise NotImplementedError(self._no_sub_envs("set_attr", base, rows))

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list[Any]:
        """The results of ``method_name(*method_args, **method_kwargs)`` on the sub-envs ``indices``.

        A ``SyncVectorEnv`` calls the method on just those envs. An ``AsyncVectorEnv`` can only
        call all its workers at once (Gymnasium's ``call``), so every env runs the method and the
        results of ``indices`` come back: right for the pure methods SB3 calls on a subset, such as
        ``compute_reward`` for ``HerReplayBuffer`` (``indices=[0]``).
        """
        rows = list(self._get_indices(indices))
        base = self.env.unwrapped
        if isinstance(base, SyncVectorEnv):
            return [base.envs[i].get_wrapper_attr(method_name)(*method_args, **method_kwargs) for i in rows]
        if isinstance(base, AsyncVectorEnv):
            results = base.call(method_name, *method_args, **method_kwargs)
            return [results[i] for i in rows]
        raise NotImplementedError(self._no_sub_envs("env_method", base, rows))

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        rows = list(self._get_indices(indices))
        if wrapper_class is Monitor:  # the adapter reports Monitor's episode statistics itself
            return [True for _ in rows]
        base = self.env.unwrapped
        if isinstance(base, SyncVectorEnv):
            from stable_baselines3.common.env_util import is_wrapped

            return [is_wrapped(base.envs[i], wrapper_class) for i in rows]
        return [False for _ in rows]

    # -- helpers ----------------------------------------------------------------------------
    def _seed_argument(self) -> int | list[int | None] | None:
        seeds = self._seeds
        if all(s is None for s in seeds):
            return None
        if seeds[0] is not None and seeds == [seeds[0] + i for i in range(self.num_envs)]:
            return int(seeds[0])  # the vector env's own int-seed convention gives env i seed + i
        return [None if s is None else int(s) for s in seeds]

    def _options_argument(self) -> dict | None:
        first = self._options[0]
        if any(options != first for options in self._options):
            raise ValueError("a Gymnasium vector env takes one reset options dict for all its envs; "
                             "set_options() was given different ones")
        return dict(first) if first else None

    def _no_sub_envs(self, what: str, base: VectorEnv, rows: list[int]) -> str:
        if isinstance(base, AsyncVectorEnv):
            return f"{what} on an AsyncVectorEnv reaches all its envs at once, not only envs {rows}"
        return (f"{type(base).__name__} steps its envs as one batch and has no sub-envs for {what}; "
                "use the vector env itself")


# -- the agent -------------------------------------------------------------------------------
def algorithm_class(algo: str | type[BaseAlgorithm]) -> type[BaseAlgorithm]:
    """The SB3 algorithm class for ``algo``: a name in :data:`ALGORITHMS`, ``"module:Class"`` or a class."""
    if isinstance(algo, type) and issubclass(algo, BaseAlgorithm):
        return algo
    if isinstance(algo, str) and ":" in algo:
        module, _, attr = algo.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot import SB3 algorithm {algo!r}: {exc}") from None
        if isinstance(cls, type) and issubclass(cls, BaseAlgorithm):
            return cls
        raise ValueError(f"{algo!r} is not an SB3 algorithm class")
    if isinstance(algo, str) and algo.upper() in ALGORITHMS:
        return getattr(stable_baselines3, algo.upper())
    raise ValueError(f"unknown SB3 algorithm {algo!r}; choices: {', '.join(ALGORITHMS)} "
                     "(or an SB3 algorithm class, or 'module:Class')")


def _algorithm_name(cls: type[BaseAlgorithm]) -> str:
    if getattr(stable_baselines3, cls.__name__, None) is cls:
        return cls.__name__
    return f"{cls.__module__}:{cls.__qualname__}"


def default_policy(observation_space: spaces.Space) -> str:
    """SB3's policy for an observation space: MultiInputPolicy (Dict), CnnPolicy (images), else MlpPolicy."""
    if isinstance(observation_space, spaces.Dict):
        return "MultiInputPolicy"
    if is_image_space(observation_space):
        return "CnnPolicy"
    return "MlpPolicy"


def replay_buffer_class(name: str | type) -> type:
    """An SB3 replay buffer class from its name (``"HerReplayBuffer"``, ``"DictReplayBuffer"``, ...), or
    ``"module:Class"``; a class is returned as it is. This is how ``--config replay_buffer_class=...`` reads."""
    if isinstance(name, type):
        return name
    if not isinstance(name, str):
        raise ValueError(f"replay_buffer_class must be a class or its name, got {name!r}")
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot import replay buffer class {name!r}: {exc}") from None
    else:
        cls = getattr(stable_baselines3, name, None) or getattr(buffers, name, None)
    if not (isinstance(cls, type) and issubclass(cls, buffers.ReplayBuffer)):
        known = ", ".join(REPLAY_BUFFERS)
        raise ValueError(f"unknown replay buffer class {name!r}; choices: {known} (or 'module:Class')")
    return cls


def _replay_buffer_name(cls: type) -> str:
    """The name :func:`replay_buffer_class` reads back: SB3's own by name, others as ``module:Class``."""
    if cls.__name__ in REPLAY_BUFFERS and cls in (getattr(stable_baselines3, cls.__name__, None),
                                                  getattr(buffers, cls.__name__, None)):
        return cls.__name__
    return f"{cls.__module__}:{cls.__qualname__}"


def _resolve_algo_kwargs(algo_kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the algorithm gets, what agent.json records) from kwargs that may come as text from the CLI.

    ``replay_buffer_class`` may be a name (:func:`replay_buffer_class`); a ``*_kwargs`` entry
    (``policy_kwargs``, ``replay_buffer_kwargs``) may be a JSON object in a string.
    """
    resolved, recorded = dict(algo_kwargs), dict(algo_kwargs)
    if resolved.get("replay_buffer_class") is not None:
        cls = replay_buffer_class(resolved["replay_buffer_class"])
        resolved["replay_buffer_class"] = cls
        recorded["replay_buffer_class"] = _replay_buffer_name(cls)
    for key, value in algo_kwargs.items():
        if key.endswith("_kwargs") and isinstance(value, str):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{key} must be a JSON object, e.g. '{{\"n_sampled_goal\": 4}}', got {value!r}: "
                                 f"{exc}") from None
            if not isinstance(parsed, dict):
                raise ValueError(f"{key} must be a JSON object, got {value!r}")
            resolved[key] = recorded[key] = parsed
    return resolved, recorded


def _json_ready(values: dict[str, Any]) -> dict[str, Any]:
    """The entries that JSON can hold; the rest (classes, schedules) live in SB3's model.zip anyway."""
    out = {}
    for key, value in values.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        out[key] = value
    return out


class SB3Agent:
    """Any stable-baselines3 algorithm as a rewardgym agent.

    ``algo`` is PPO, A2C, DQN, SAC, TD3 or DDPG (any case), ``"module:Class"`` or an SB3
    algorithm class; ``policy`` defaults to :func:`default_policy` of the observation space;
    ``algo_kwargs`` go to the algorithm's constructor (``n_steps``, ``learning_rate``, ...).
    ``device="auto"`` takes CUDA when present. The SB3 model is ``agent.model``.

    Settings that SB3 takes as objects can come as text, as ``rewardgym train --config`` gives
    them: ``replay_buffer_class="HerReplayBuffer"`` (a name in :data:`REPLAY_BUFFERS` or
    ``"module:Class"``), and ``policy_kwargs`` / ``replay_buffer_kwargs`` as JSON objects
    (``'{"n_sampled_goal": 4}'``).

    ``learn`` counts steps across calls (SB3's ``reset_num_timesteps=False``). On-policy
    algorithms collect whole rollouts of ``n_steps × num_envs`` steps, so a run ends at the
    first rollout boundary at or past ``total_steps``. A checkpoint saved during ``learn``
    records the steps its run had left, and ``learn(env, None)`` on the reloaded agent
    finishes them (``rewardgym train --resume``); episodes restart, and off-policy
    algorithms restart with an empty replay buffer, since SB3's model.zip holds neither.
    """

    spec: ClassVar[AgentSpec] = AgentSpec("sb3", settings=None, default_num_envs=8, takes_device=True)
    name: ClassVar[str] = spec.name

    def __init__(self, env, algo: str | type[BaseAlgorithm] = "PPO", policy: str | type | None = None, seed: int = 0,
                 device: str = "auto", **algo_kwargs):
        cls = algorithm_class(algo)
        resolve_device(device)  # a device torch does not have is a clear error here, not SB3's quiet fallback
        algo_kwargs, recorded_kwargs = _resolve_algo_kwargs(algo_kwargs)
        vec_env = env if isinstance(env, SB3VecEnv) else SB3VecEnv(env)
        policy = default_policy(vec_env.observation_space) if policy is None else policy
        try:
            model = cls(policy, vec_env, seed=seed, device=device, **algo_kwargs)
        except AssertionError as exc:  # SB3 asserts the spaces it supports
            raise ValueError(f"{cls.__name__} cannot train on this env (observations {vec_env.observation_space}, "
                             f"actions {vec_env.action_space}): {exc}") from None
        self.model = model
        self.env: SB3VecEnv | None = vec_env
        self._source = env
        self._run_end: int | None = None  # the step the current learn() run ends at
        self._config = {"algo": _algorithm_name(cls), "policy": policy if isinstance(policy, str) else
                        f"{policy.__module__}:{policy.__qualname__}", "seed": seed, "device": device,
                        "kwargs": _json_ready(recorded_kwargs)}

    @property
    def global_step(self) -> int:
        """Env steps trained so far, over every ``learn`` call."""
        return self.model.num_timesteps

    @property
    def unfinished_steps(self) -> int:
        """Env steps left in a run interrupted by a checkpoint or Ctrl-C (0 when there is none)."""
        return 0 if self._run_end is None else max(0, self._run_end - self.global_step)

    def config(self) -> dict[str, Any]:
        """What agent.json records: the algorithm, policy, seed, device and the JSON-ready constructor kwargs."""
        return dict(self._config)

    # -- the Agent protocol -----------------------------------------------------------------
    def learn(self, env, total_steps: int | None, *, callbacks: Iterable[Callback] = (),
              progress: bool = True) -> SB3Agent:
        """Train for ``total_steps`` more env steps on ``env`` (None: the env the agent was made with).

        ``total_steps=None`` finishes the run an interrupted checkpoint was saved from. Every
        callback gets a metrics dict about 100 times over the run (``step``, ``episodes``,
        ``reward_per_step``, ``mean_return`` and ``success_rate`` once episodes ended, SB3's
        ``train/`` values such as ``value_loss``, ``steps_per_s``); one that returns False
        stops training.
        """
        if total_steps is None:
            total_steps = self.unfinished_steps
            if not total_steps:
                raise ValueError("nothing to resume: give total_steps (this agent holds no unfinished run)")
        elif total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        self._use_env(env)
        n = self.model.n_envs
        bar_total = total_steps
        if isinstance(self.model, OnPolicyAlgorithm):
            rollout = self.model.n_steps * n
            bar_total = math.ceil(total_steps / rollout) * rollout
        self._run_end = self.global_step + total_steps
        hook = _MetricsCallback(list(callbacks), log_every=max(n, total_steps // 100), bar_total=bar_total,
                                progress=progress)
        try:
            self.model.learn(total_timesteps=total_steps, callback=hook, reset_num_timesteps=False,
                             progress_bar=False)
        finally:
            hook.close()
        self._run_end = None  # finished, or stopped on purpose by a callback
        return self

    def act(self, obs, *, deterministic: bool = False, info: dict | None = None) -> np.ndarray:
        actions, _ = self.model.predict(obs, deterministic=deterministic)
        return actions

    def evaluate(self, env, episodes: int, *, seed: int | None = None, deterministic: bool = True) -> dict:
        """Mean return, length and success over ``episodes`` episodes; deterministic, as SB3's evaluate_policy."""
        return evaluate_agent(self, env, episodes, deterministic=deterministic, seed=seed)

    def save(self, path) -> None:
        path = write_agent_file(path, self.name, self._config, global_step=self.global_step,
                                unfinished_steps=self.unfinished_steps)
        self.model.save(path / MODEL_FILE)

    @classmethod
    def load(cls, path, env=None) -> SB3Agent:
        """Reload a saved agent; with ``env`` it is ready to learn on it (any number of envs), else to act."""
        path = Path(path)
        data = read_agent_file(path, cls.name)
        config = data["config"]
        if "algo" not in config:
            raise ValueError(f"{path / AGENT_FILE} is corrupt: its config has no 'algo'")
        algo = algorithm_class(config["algo"])
        file = path / MODEL_FILE
        if not file.is_file():
            raise FileNotFoundError(f"{path} is not a saved SB3 agent (no {MODEL_FILE})")
        vec_env = None if env is None else env if isinstance(env, SB3VecEnv) else SB3VecEnv(env)
        try:
            model = algo.load(file, env=vec_env, device=config.get("device", "auto"))
        except _BAD_FILE as exc:
            raise ValueError(f"cannot load {file} as a {algo.__name__} model: {type(exc).__name__}: {exc}") from None
        agent = cls.__new__(cls)
        agent.model, agent.env, agent._source, agent._config = model, vec_env, env, config
        unfinished = data.get("unfinished_steps", 0)
        if not isinstance(unfinished, int) or unfinished < 0:
            raise ValueError(f"{path / AGENT_FILE} is corrupt: 'unfinished_steps' is {unfinished!r}")
        agent._run_end = model.num_timesteps + unfinished if unfinished else None
        return agent

    # -- helpers ----------------------------------------------------------------------------
    def _use_env(self, env) -> None:
        """Point the model at ``env`` unless it already trains on it."""
        if env is None or env is self._source or env is self.env:
            if self.model.get_env() is None:
                raise ValueError("this agent was loaded without an env: pass one to learn()")
            return
        vec_env = env if isinstance(env, SB3VecEnv) else SB3VecEnv(env)
        if vec_env.num_envs == self.model.n_envs:
            self.model.set_env(vec_env)
            if isinstance(getattr(self.model, "replay_buffer", None), HerReplayBuffer):
                self.model.replay_buffer.env = vec_env  # relabelled rewards come from the env trained on
        elif isinstance(self.model, OnPolicyAlgorithm):
            # SB3 sizes the rollout buffer by num_envs; a round trip through load() resizes it,
            # and an on-policy model keeps nothing else that depends on the env.
            buffer = io.BytesIO()
            self.model.save(buffer)
            buffer.seek(0)
            self.model = type(self.model).load(buffer, env=vec_env, device=self.model.device)
        else:
            raise ValueError(f"this {type(self.model).__name__} agent trains on {self.model.n_envs} envs and keeps a "
                             f"replay buffer for them; got an env with {vec_env.num_envs}")
        self.env, self._source = vec_env, env


class _MetricsCallback(BaseCallback):
    """SB3's callback hooks in rewardgym's terms: metrics about 100 times a run, a tqdm bar, early stop."""

    def __init__(self, callbacks: list[Callback], log_every: int, bar_total: int, progress: bool,
                 window: int = 100):
        super().__init__()
        self.callbacks, self.log_every = callbacks, log_every
        self.bar = Progress(bar_total, progress)
        self.window = MetricsWindow(window)
        self._stopped = False

    def _on_training_start(self) -> None:
        self._start_time = time.perf_counter()
        self._start_steps = self._last_log = self.num_timesteps

    def _on_step(self) -> bool:
        infos, dones = self.locals["infos"], self.locals["dones"]
        rewards = np.asarray(self.locals["rewards"], dtype=np.float64)
        sums = {"reward": float(rewards.sum())}
        if any("regret" in info for info in infos):
            sums["regret"] = float(sum(info.get("regret", 0.0) for info in infos))
        self.window.add_steps(len(rewards), sums)
        for info, done in zip(infos, dones):
            if done and "episode" in info:
                episode = {"return": float(info["episode"]["r"]), "length": float(info["episode"]["l"])}
                if "success" in info:
                    episode["success"] = float(info["success"])
                self.window.add_episode(episode)
        self.bar.update(len(rewards))
        if self.num_timesteps - self._last_log >= self.log_every:
            return self._log()
        return True

    def _on_training_end(self) -> None:
        if not self._stopped and self.num_timesteps > self._last_log:
            self._log()

    def close(self) -> None:
        self.bar.close()

    def _log(self) -> bool:
        metrics: dict[str, float] = {"step": float(self.num_timesteps), **self.window.summary()}
        for key, value in self.model.logger.name_to_value.items():
            if key.startswith("train/") and isinstance(value, (int, float, np.number)):
                metrics[key.removeprefix("train/")] = float(value)
        elapsed = max(time.perf_counter() - self._start_time, 1e-9)
        metrics["steps_per_s"] = (self.num_timesteps - self._start_steps) / elapsed
        self._last_log = self.num_timesteps
        self.bar.update(0, metrics)
        if any(callback(metrics) is False for callback in self.callbacks):
            self._stopped = True
            return False
        return True
