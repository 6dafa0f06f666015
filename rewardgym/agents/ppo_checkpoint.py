"""PPO's checkpoints: a folder that round-trips the agent, and mid-run, what finishing the run exactly needs.

``agent.json`` holds the config, both spaces (as JSON, :mod:`rewardgym.agents.spaces`), the
global step and the steps left; ``checkpoint.pt`` the weights, Adam's state, the torch and
NumPy generators, the running statistics and, mid-run, the run: iteration and schedule, the
current (preprocessed) observation and mask, the episodes in progress
(:meth:`EpisodeTracker.state`), ``get_state()`` of each env when the env offers it, and the
state of rewardgym's reward wrappers on the env (a deferred ``LearnedReward`` keeps the last
observation). Everything in it is a tensor or a plain Python value, so it loads with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium.vector import VectorWrapper

from rewardgym.agents.base import read_agent_file, write_agent_file
from rewardgym.agents.spaces import describe_space, space_from_description

__all__ = ["CHECKPOINT_FILE", "save", "read", "restore", "run_state", "restore_env"]

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_FORMAT = 1
_RETIRED_SETTINGS = ("reward_model", "reward_mode", "reward_coef")  # learned rewards now come from the env's wrapper


def save(agent, path) -> None:
    """Write ``agent`` (a PPO) to the folder ``path``."""
    path = write_agent_file(path, agent.name, agent.config.to_json(), global_step=agent.global_step,
                            unfinished_steps=agent.unfinished_steps,
                            observation_space=describe_space(agent.observation_space),
                            action_space=describe_space(agent.action_space))
    state = {
        "format": CHECKPOINT_FORMAT,
        "policy": agent.policy.state_dict(),
        "optimizer": agent.optimizer.state_dict(),
        "generator": agent.generator.get_state(),
        "np_random": agent.np_random.bit_generator.state,
        "generator_device": str(agent.device),
        "global_step": agent.global_step,
        "obs_rms": None if agent.obs_rms is None else to_tensors(agent.obs_rms.state()),
        "return_rms": None if agent.return_rms is None else to_tensors(agent.return_rms.state()),
        "run": None if agent._run is None else run_state(agent._run),
    }
    torch.save(state, path / CHECKPOINT_FILE)


def read(path: str | Path, name: str) -> tuple[dict[str, Any], dict[str, Any], Any, Any]:
    """``(agent.json, checkpoint, observation space, action space)`` of a saved PPO; clear errors otherwise."""
    path = Path(path)
    meta = read_agent_file(path, name)
    try:
        observation_space = space_from_description(meta["observation_space"])
        action_space = space_from_description(meta["action_space"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path / 'agent.json'} is corrupt: bad spaces ({exc})") from None
    for key in _RETIRED_SETTINGS:
        meta["config"].pop(key, None)
    meta["config"].setdefault("choice_scoring", False)  # saved before it existed: a network without it
    file = path / CHECKPOINT_FILE
    if not file.is_file():
        raise FileNotFoundError(f"{path} has no {CHECKPOINT_FILE}")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged or foreign file
        raise ValueError(f"{file} is corrupt or not a rewardgym checkpoint: {str(exc).splitlines()[0]}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{file} is not a rewardgym PPO checkpoint (format {CHECKPOINT_FORMAT})")
    return meta, state, observation_space, action_space


def restore(agent, state: dict[str, Any], path: str | Path) -> None:
    """Load a checkpoint's weights, optimiser, statistics, generators and step into a freshly built ``agent``."""
    file = Path(path) / CHECKPOINT_FILE
    try:
        agent.policy.load_state_dict(state["policy"])
        agent.optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise ValueError(f"{file} does not match agent.json: {str(exc).splitlines()[0]}") from None
    for value in agent.optimizer.state.values():  # Adam's moments onto the agent's device
        for key, tensor in value.items():
            if isinstance(tensor, torch.Tensor) and key != "step":
                value[key] = tensor.to(agent.device)
    for name in ("obs_rms", "return_rms"):
        stats, saved = getattr(agent, name), state.get(name)
        if (stats is None) != (saved is None):
            problem = "missing" if saved is None else "unexpected"
            raise ValueError(f"{file} does not match agent.json: {name} is {problem}")
        if stats is not None:
            try:
                stats.load_state(to_numpy(saved))
            except (KeyError, AttributeError, ValueError) as exc:
                raise ValueError(f"{file} does not match agent.json: {name}: {exc}") from None
    if state.get("generator_device") == str(agent.device):
        agent.generator.set_state(state["generator"])
    else:  # a generator's state belongs to its device; reseed deterministically instead
        agent.generator.manual_seed(agent.config.seed + int(state["global_step"]))
    agent.np_random.bit_generator.state = state["np_random"]
    agent.global_step = int(state["global_step"])


# -- the run in progress ----------------------------------------------------------------------
def _wrappers(env) -> list[Any]:
    """The wrappers between ``env`` and its base, outermost first."""
    out = []
    while isinstance(env, VectorWrapper):
        out.append(env)
        env = env.env
    return out


def run_state(run) -> dict[str, Any]:
    """What a mid-run checkpoint holds of ``run`` (a PPO ``Run``)."""
    env_state, wrappers = None, None
    base = getattr(run.env, "unwrapped", None)  # rollout workers (agents.ppo_ray) keep their envs' state
    if hasattr(base, "get_state") and hasattr(base, "set_state"):
        try:
            wrappers = [to_tensors(w.get_wrapper_state()) for w in _wrappers(run.env)]
        except (AttributeError, NotImplementedError):
            wrappers = None  # a wrapper whose state cannot be saved: the run resumes from fresh episodes
        else:
            env_state = [to_tensors(base.get_state(i)) for i in range(run.env.num_envs)]
    return {
        "iteration": run.iteration, "num_iterations": run.num_iterations, "start_step": run.start_step,
        "num_envs": run.env.num_envs,
        "obs": to_tensors(run.obs),
        "mask": None if run.mask is None else torch.from_numpy(run.mask.copy()),
        "valid": torch.from_numpy(run.valid.copy()),
        "tracker": to_tensors(run.tracker.state()),
        "env_state": env_state,
        "wrappers": wrappers,
        "discounted_return": to_tensors(run.discounted_return),
    }


def restore_env(run, saved: dict[str, Any]) -> bool:
    """Put ``run.env`` (just reset) back where the checkpoint left it; False when it cannot be.

    It can when the env has ``set_state`` and the checkpoint holds the state of the env and of
    the same wrappers; then the run's observation, mask, episodes and returns are restored too.
    """
    env = run.env
    wrappers = _wrappers(env)
    saved_wrappers = saved.get("wrappers") or []
    if saved["env_state"] is None or not hasattr(env.unwrapped, "set_state") or len(saved_wrappers) != len(wrappers):
        return False
    for i, env_state in enumerate(saved["env_state"]):
        env.unwrapped.set_state(i, to_numpy(env_state))
    for wrapper, state in zip(wrappers, saved_wrappers):
        wrapper.set_wrapper_state(to_numpy(state))
    run.obs = to_numpy(saved["obs"])
    run.mask = None if saved["mask"] is None else saved["mask"].numpy()
    run.valid = saved["valid"].numpy().copy()
    run.tracker.load_state(to_numpy(saved["tracker"]))
    if saved.get("discounted_return") is not None:
        run.discounted_return = saved["discounted_return"].numpy().copy()
    return True


def to_tensors(value: Any) -> Any:
    """NumPy arrays and scalars inside dicts, lists and tuples -> tensors and Python values (weights_only-safe)."""
    if isinstance(value, dict):
        return {key: to_tensors(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_tensors(v) for v in value]
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, np.generic):
        return value.item()
    return value


def to_numpy(value: Any) -> Any:
    """The inverse of :func:`to_tensors` (lists stay lists)."""
    if isinstance(value, dict):
        return {key: to_numpy(v) for key, v in value.items()}
    if isinstance(value, list):
        return [to_numpy(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.numpy()
    return value
