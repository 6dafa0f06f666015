"""What every agent shares: the Agent protocol and its spec, episode bookkeeping, evaluation, the progress bar.

Agents act on *batches* (a ``VectorEnv``'s observations) and learn from a ``VectorEnv``; a
single ``Env`` handed to them is wrapped in a one-env ``SyncVectorEnv``. Vector envs are
expected in Gymnasium's default NEXT_STEP autoreset mode: the step after an episode ends is
a reset step whose reward is not part of any episode.

Learned rewards reach every agent the same way, through
:class:`rewardgym.wrappers.vector.LearnedReward` on the env it learns from: scored at each
step for agents that learn step by step, or deferred to the end of a rollout for agents
whose spec says ``deferred_rewards`` (they call ``flush()`` on the wrapper).
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

from rewardgym._batch import end_values
from rewardgym._files import read_json
from rewardgym.wrappers.vector import refuse_deferred

Callback = Callable[[dict[str, float]], Any]
"""Called with a metrics dict at every log point of ``learn``; returning ``False`` stops training."""

AGENT_FILE = "agent.json"


@dataclass(frozen=True)
class AgentSpec:
    """What an agent class declares about itself, so that ``rewardgym train`` needs no guessing.

    Attributes:
        name: the agent's name (``--agent``), also written into its saved ``agent.json``.
        settings: the keyword settings the constructor takes (``--config KEY=VALUE``); None for
            an agent that passes unknown settings on (SB3's algorithm arguments).
        default_num_envs: envs to train on when ``--num-envs`` is not given.
        env_interface: ``"vector"``: any vector env (natively batched where the id allows);
            ``"text"``: a ``SyncVectorEnv`` of :class:`~rewardgym.wrappers.TextInterface` envs.
        deferred_rewards: learned rewards are scored once per rollout
            (``LearnedReward(defer=True)``, the agent calls ``flush()``) rather than at each step.
        takes_device: the constructor takes ``device=`` (``--device``).
        takes_model: the constructor needs ``model=`` (``--model``), a transformers causal LM.
        global_state: on a multi-agent env, each agent's observation also carries the game's
            ``state()`` under the key ``state`` (a centralised critic's input: MAPPO).
        rollout_workers: with ``--ray`` the agent's rollouts are played by Ray workers holding
            copies of its policy (PPO: :class:`~rewardgym.agents.ppo_ray.RolloutWorkers`), rather
            than its envs stepped by Ray workers for it to act on (``RayVectorEnv``).
    """

    name: str
    settings: frozenset[str] | None
    default_num_envs: int = 8
    env_interface: Literal["vector", "text"] = "vector"
    deferred_rewards: bool = False
    takes_device: bool = False
    takes_model: bool = False
    global_state: bool = False
    rollout_workers: bool = False


@runtime_checkable
class Agent(Protocol):
    """The interface of every rewardgym agent (PPO, bandit baselines, the SB3 bridge, the LLM trainer)."""

    spec: ClassVar[AgentSpec]

    @property
    def global_step(self) -> int:
        """Env steps trained so far, over every ``learn`` call."""

    @property
    def unfinished_steps(self) -> int:
        """Env steps left of a run a checkpoint was saved in the middle of (0 when none)."""

    def learn(self, env, total_steps: int | None, *, callbacks: Iterable[Callback] = (),
              progress: bool = True) -> Agent:
        """Train ``total_steps`` more env steps; ``None`` finishes the run a checkpoint was saved from."""

    def act(self, obs, *, deterministic: bool = False, info: dict | None = None):
        """Actions for a batch of observations; ``info`` is the vector env's last info (action masks)."""

    def evaluate(self, env, episodes: int, *, seed: int | None = None) -> dict:
        """Means over ``episodes`` episodes: return, length, success rate and the env's end-of-episode values."""

    def save(self, path) -> None: ...

    @classmethod
    def load(cls, path, env=None) -> Agent: ...


def check_field_types(config: Any) -> None:
    """``ValueError`` naming the first field of a config dataclass whose value has the wrong type.

    Settings arrive from the command line and from JSON as ints, floats, bools, strings and
    lists; a float field takes an int, a tuple field a list. A wrong type fails here, at the
    start, with the setting's name — not halfway through training inside torch.
    """
    import dataclasses
    import typing

    hints = typing.get_type_hints(type(config))
    for field in dataclasses.fields(config):
        value, hint = getattr(config, field.name), hints.get(field.name, Any)
        if not _matches(value, hint):
            raise ValueError(f"{field.name} must be {_describe(hint)}, got {value!r}")


def _matches(value: Any, hint: Any) -> bool:
    import types
    import typing

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, (bool, np.bool_))
    if hint is int:
        return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if hint is float:
        return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if hint is str:
        return isinstance(value, str)
    if origin in (tuple, list):
        if not isinstance(value, (tuple, list)):
            return False
        item = args[0] if args else Any
        return all(_matches(v, item) for v in value)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True  # a type this check does not know: left to the code that uses it


def _describe(hint: Any) -> str:
    import types
    import typing

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in args)
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string", type(None): "none"}
    if hint in names:
        return names[hint]
    if origin in (tuple, list):
        return f"a list of {_describe(args[0]) if args else 'values'} (A,B,...)"
    return getattr(hint, "__name__", str(hint))


MASK_KEY = "action_mask"  # where envs mark the valid actions: an observation key, or an info key


def read_action_mask(obs: Any, info: dict | None) -> np.ndarray | None:
    """``(B, n)`` bool: the valid actions from ``obs["action_mask"]`` or a vector env's ``info["action_mask"]``
    (rows the info gives no mask for allow every action); None when there is no mask."""
    if isinstance(obs, dict) and MASK_KEY in obs:
        raw = np.asarray(obs[MASK_KEY])
    elif info and MASK_KEY in info:
        raw = np.asarray(info[MASK_KEY])
        present = info.get("_" + MASK_KEY)
        if present is not None and not np.all(present):
            raw = np.where(np.asarray(present)[:, None], raw, True)
    else:
        return None
    if raw.ndim == 1:  # one env's mask
        raw = raw[None]
    return raw.reshape(raw.shape[0], -1).astype(bool)


def as_vector_env(env: gym.Env | VectorEnv) -> VectorEnv:
    """``env`` itself if it is a VectorEnv, else a one-env SyncVectorEnv around it."""
    if isinstance(env, VectorEnv):
        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        if mode != AutoresetMode.NEXT_STEP:
            raise ValueError(f"rewardgym agents need a NEXT_STEP autoreset vector env, got {mode}")
        return env
    if isinstance(env, gym.Env):
        return gym.vector.SyncVectorEnv([lambda: env])
    raise TypeError(f"expected a gymnasium Env or VectorEnv, got {type(env).__name__}")


class MetricsWindow:
    """What a training log shows: per-step means since the last summary, and the last ``window`` episodes.

    ``add_steps(count, sums)`` adds ``count`` steps whose values of each key sum to ``sums[key]``;
    ``add_episode(episode)`` one finished episode (``return``, ``length``, maybe ``success``);
    ``summary()`` gives ``episodes``, ``<key>_per_step``, ``mean_return``, ``mean_length`` and
    ``success_rate`` (when every recent episode reports success), and restarts the step sums.
    """

    def __init__(self, window: int = 100):
        self.recent: deque[dict[str, float]] = deque(maxlen=window)
        self.episodes = 0
        self._sums: dict[str, float] = {}
        self._count = 0

    def add_steps(self, count: int, sums: dict[str, float]) -> None:
        self._count += count
        for key, total in sums.items():
            self._sums[key] = self._sums.get(key, 0.0) + total

    def add_episode(self, episode: dict[str, float]) -> None:
        self.recent.append(episode)
        self.episodes += 1

    def absorb(self, other: MetricsWindow) -> None:
        """Add the steps and episodes another window saw (a Ray rollout worker's, since its last rollout)."""
        self.add_steps(other._count, other._sums)
        self.recent.extend(other.recent)
        self.episodes += other.episodes

    def summary(self) -> dict[str, float]:
        out: dict[str, float] = {"episodes": float(self.episodes)}
        if self._count:
            for key, total in self._sums.items():
                out[f"{key}_per_step"] = total / self._count
        self._sums, self._count = {}, 0
        if self.recent:
            out["mean_return"] = float(np.mean([e["return"] for e in self.recent]))
            out["mean_length"] = float(np.mean([e["length"] for e in self.recent]))
            if all("success" in e for e in self.recent):
                out["success_rate"] = float(np.mean([e["success"] for e in self.recent]))
        return out


STEP_KEYS = ("regret", "reward_env", "reward_learned")


def seats_of(env: Any) -> int:
    """Seats per game of a vector env whose rows are a multi-agent game's seats (``AgentsAsEnvs``, maybe
    under wrappers: its ``n_agents``); 1 for anything else."""
    return int(getattr(getattr(env, "unwrapped", env), "n_agents", None) or 1)


class EpisodeTracker:
    """Accumulates per-env returns and lengths over a NEXT_STEP-autoreset vector env.

    ``update`` returns the episodes that ended on this step as (env index, episode), the
    episode a dict with ``return``, ``length`` and the numeric info values of its last step
    (``success``, regret, ...): the rewards summed are those the env (with its wrappers)
    returned. It also keeps window means of the per-step reward and of a few step-info keys
    (a :class:`~rewardgym.wrappers.vector.LearnedReward`'s two terms among them), so that
    training curves exist before the first episode ends (bandits run 1000-pull episodes).
    """

    def __init__(self, num_envs: int, window: int = 100, step_keys: tuple[str, ...] = STEP_KEYS):
        self.returns = np.zeros(num_envs)
        self.lengths = np.zeros(num_envs, dtype=np.int64)
        self.restarting = np.zeros(num_envs, dtype=bool)
        self.step_keys = step_keys
        self.window = MetricsWindow(window)

    def update(self, reward, terminated, truncated, info: dict) -> list[tuple[int, dict[str, float]]]:
        # this runs at every env step: np.add.reduce and np.count_nonzero are what .sum() computes, without
        # its Python layer
        live = ~self.restarting
        live_reward = np.asarray(reward, dtype=np.float64) * live
        self.returns += live_reward
        self.lengths += live
        sums = {"reward": float(np.add.reduce(live_reward))}
        for key in self.step_keys:
            if key in info:
                sums[key] = float(np.asarray(info[key], dtype=np.float64) @ live)
        self.window.add_steps(np.count_nonzero(live), sums)
        ended = (np.asarray(terminated) | np.asarray(truncated)) & live
        finished = []
        if np.count_nonzero(ended):
            for i in np.flatnonzero(ended):
                episode = {"return": float(self.returns[i]), "length": int(self.lengths[i])}
                episode.update(end_values(info, len(self.returns), int(i)))
                finished.append((int(i), episode))
            self.returns[ended] = 0.0
            self.lengths[ended] = 0
        # the next step is a reset step for every row that reported an end, live or not: a row that keeps
        # reporting one (a multi-agent row waiting for its game to restart) counts no further episodes
        self.restarting = np.asarray(terminated) | np.asarray(truncated)
        for _, episode in finished:
            self.window.add_episode(episode)
        return finished

    def restart(self, mask: np.ndarray) -> None:
        """The envs in ``mask`` were reset outside a step (a masked ``reset``): their next step counts."""
        self.restarting[np.asarray(mask, dtype=bool)] = False

    def summary(self) -> dict[str, float]:
        """Means over the recent episodes and over the steps since the last summary."""
        return self.window.summary()

    def state(self) -> dict[str, Any]:
        """The running episodes and the episode count, for a checkpoint (arrays and an int)."""
        return {"returns": self.returns.copy(), "lengths": self.lengths.copy(), "restarting": self.restarting.copy(),
                "episodes": self.window.episodes}

    def load_state(self, state: dict[str, Any]) -> None:
        returns = np.asarray(state["returns"], dtype=np.float64)
        if returns.shape != self.returns.shape:
            raise ValueError(f"episode state of {len(returns)} envs, the tracker has {len(self.returns)}")
        self.returns = returns.copy()
        self.lengths = np.asarray(state["lengths"], dtype=np.int64).copy()
        self.restarting = np.asarray(state["restarting"], dtype=bool).copy()
        self.window.episodes = int(state["episodes"])


class Progress:
    """A tqdm bar over environment steps showing steps/s, mean return and success rate."""

    def __init__(self, total: int, enabled: bool = True, desc: str = "train"):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, disable=not enabled, unit="step", unit_scale=True, desc=desc,
                        dynamic_ncols=True, smoothing=0.1)

    def update(self, steps: int, metrics: dict[str, float] | None = None) -> None:
        if metrics:
            shown = {k: f"{metrics[k]:.3g}" for k in ("mean_return", "success_rate", "regret_per_step")
                     if k in metrics}
            self.bar.set_postfix(shown, refresh=False)
        self.bar.update(steps)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def evaluate_agent(agent, env, episodes: int, *, deterministic: bool = False, seed: int | None = None) -> dict:
    """Run ``agent`` until ``episodes`` episodes end and report means over them.

    Each of the N envs contributes about ``episodes / N`` episodes (so short episodes are not
    over-counted, as in SB3's ``evaluate_policy``). Returns ``episodes``, ``mean_return``,
    ``std_return``, ``mean_length``, ``success_rate`` when the env reports success, and the mean
    of every other numeric info value of the episodes' last steps (e.g. ``cumulative_regret``).
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    env = as_vector_env(env)
    n = env.num_envs
    targets = np.array([(episodes + i) // n for i in range(n)])
    done_counts = np.zeros(n, dtype=np.int64)
    tracker = EpisodeTracker(n)
    collected: list[dict[str, float]] = []
    obs, info = env.reset(seed=seed)
    while (done_counts < targets).any():
        # the last step's info goes along: agents read action masks there (PPO)
        obs, reward, terminated, truncated, info = env.step(agent.act(obs, deterministic=deterministic, info=info))
        for i, episode in tracker.update(reward, terminated, truncated, info):
            if done_counts[i] < targets[i]:
                collected.append(episode)
            done_counts[i] += 1
    returns = np.array([e["return"] for e in collected])
    result: dict[str, float] = {"episodes": len(collected), "mean_return": float(returns.mean()),
                                "std_return": float(returns.std()),
                                "mean_length": float(np.mean([e["length"] for e in collected]))}
    keys = set.intersection(*(set(e) for e in collected)) - {"return", "length"}
    for key in sorted(keys):
        result["success_rate" if key == "success" else key] = float(np.mean([e[key] for e in collected]))
    return result


def learn_loop(agent, env: VectorEnv, total_steps: int, *, callbacks: Iterable[Callback] = (), progress: bool = True,
               seed: int | None = None, log_interval: int | None = None) -> dict[str, float]:
    """The rollout loop of agents that learn online, one batched ``act`` per step (bandit baselines).

    Logs about 100 times over the run; returns the last metrics.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    refuse_deferred(env, f"agent {agent.spec.name!r}")
    n = env.num_envs
    iterations = math.ceil(total_steps / n)
    log_interval = log_interval or max(1, iterations // 100)
    callbacks = list(callbacks)
    tracker = EpisodeTracker(n)
    obs, info = env.reset(seed=seed)
    start, metrics = time.perf_counter(), {}
    with Progress(iterations * n, progress) as bar:
        for it in range(1, iterations + 1):
            obs, reward, terminated, truncated, info = env.step(agent.act(obs, info=info))
            tracker.update(reward, terminated, truncated, info)
            if it % log_interval and it != iterations:
                bar.update(n)
                continue
            metrics = {"step": float(it * n), **tracker.summary(),
                       "steps_per_s": it * n / (time.perf_counter() - start)}
            bar.update(n, metrics)
            if any(callback(metrics) is False for callback in callbacks):
                break
    return metrics


def load_config_agent(cls, path: str | Path, env=None):
    """Rebuild an agent whose whole saved state is its config and step count (bandit baselines, random)."""
    data = read_agent_file(path, cls.name)
    agent = cls(env, **data["config"])
    agent.num_timesteps = int(data.get("global_step", 0))
    return agent


def write_agent_file(path: str | Path, name: str, config: dict[str, Any], **extra: Any) -> Path:
    """Write ``agent.json`` (``{"agent": name, "config": config, **extra}``) into the folder ``path``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / AGENT_FILE).write_text(json.dumps({"agent": name, "config": config, **extra}, indent=2))
    return path


def read_agent_file(path: str | Path, agent: str | None = None) -> dict[str, Any]:
    """Read ``agent.json`` from a saved agent folder, with a clear error when it is missing or corrupt, or when
    it holds another agent than ``agent`` (when given)."""
    file = Path(path) / AGENT_FILE
    data = read_json(file, f"{path} is not a saved agent (no {AGENT_FILE})", required=("agent", "config"))
    if not isinstance(data["config"], dict):
        raise ValueError(f"{file} is corrupt: 'config' is not an object")
    if agent is not None and data["agent"] != agent:
        raise ValueError(f"{path} holds a {data['agent']!r} agent, not {agent!r}")
    return data
