"""A training run: the envs an agent trains on, the learned reward on them, the run folder, and cleaning up.

This is what ``rewardgym train`` runs, in three steps anyone can call from Python:

1. :func:`make_envs` builds the vector env the agent class asks for in its
   :class:`~rewardgym.agents.AgentSpec` (natively batched where the id allows; a
   ``SyncVectorEnv`` of :class:`~rewardgym.wrappers.TextInterface` envs for language agents);
2. :func:`with_learned_reward` wraps it in :class:`~rewardgym.wrappers.vector.LearnedReward`,
   deferred to the end of each rollout for agents that collect rollouts, step by step for the
   rest: every agent gets its learned reward the same way;
3. :func:`train` runs ``agent.learn`` with the run folder's logger and checkpoints, saves the
   final checkpoint even when interrupted, and closes the env and the reward model once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from rewardgym._ray import PlacementError
from rewardgym.agents.base import AgentSpec
from rewardgym.rewards.transitions import RewardModel, close_model
from rewardgym.workflows.runs import FINAL_CHECKPOINT, PeriodicCheckpoint, RunLogger
from rewardgym.wrappers.vector import LearnedReward

__all__ = ["make_envs", "with_learned_reward", "train"]


def make_envs(spec: AgentSpec, env_id: str, num_envs: int, env_kwargs: dict[str, Any] | None = None, *,
              workers: int = 0, ray_address: str | None = None, team_reward: bool = False,
              placement: str = "spread"):
    """The vector env ``num_envs`` copies of ``env_id`` for an agent of ``spec``; ValueError in one line.

    ``spec.env_interface == "text"`` gives a ``SyncVectorEnv`` of ``TextInterface`` envs (text in,
    text out); otherwise the id's native vector env when it has one, else a ``SyncVectorEnv``.
    A multi-agent name (``bandit_market_v0``) gives ``num_envs`` games with every seat a row
    (``wrappers.multiagent.AgentsAsEnvs``): independent learners sharing one policy. ``workers``
    > 0: that many Ray actors play the rollouts with copies of the policy, for an agent that can
    (``spec.rollout_workers``: PPO, ``agents.ppo_ray.RolloutWorkers``), or step the envs for the
    agent to act on (``envs.ray_vector.RayVectorEnv``); a local Ray on 127.0.0.1 unless
    ``ray_address`` names a cluster; ``placement`` lays the workers over its nodes (``"spread"``,
    ``"pack"``, ``"strict-spread"``: ``rewardgym._ray.Placement``). ``team_reward``: a multi-agent game's
    seats each get the game's mean reward (``AgentsAsEnvs(team_reward=True)``).
    """
    import gymnasium as gym

    from rewardgym.envs.multiagent import ENVS as MULTIAGENT
    from rewardgym.wrappers.text import TextInterface

    if env_id.removeprefix("rewardgym/") in MULTIAGENT:
        if workers:
            raise ValueError(f"{env_id}: Ray env workers step single-agent envs; a multi-agent game runs in one "
                             f"process (its batch is already one NumPy call)")
        return _multiagent_envs(spec, env_id, num_envs, env_kwargs or {}, team_reward)
    if team_reward:
        raise ValueError(f"{env_id} has one agent: a team reward is for multi-agent games")
    if workers and spec.env_interface == "text":
        raise ValueError(f"agent {spec.name!r} plays through the language interface, which Ray env workers do "
                         f"not serve yet")
    options: dict[str, Any] = {}
    if spec.env_interface == "text":
        options = {"vectorization_mode": "sync", "wrappers": [TextInterface]}
    try:
        gym.spec(env_id)
    except gym.error.Error as exc:
        raise ValueError(f"{str(exc).splitlines()[0]} (rewardgym list shows the ids)") from None
    try:
        if workers and spec.rollout_workers:
            from rewardgym.agents.ppo_ray import RolloutWorkers

            return RolloutWorkers(env_id, num_envs, workers, env_kwargs, address=ray_address, placement=placement)
        if workers:
            from rewardgym.envs.ray_vector import RayVectorEnv

            return RayVectorEnv(env_id, num_envs, workers, env_kwargs, address=ray_address, placement=placement)
        return gym.make_vec(env_id, num_envs=num_envs, **options, **(env_kwargs or {}))
    except gym.error.Error as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    except PlacementError:  # the cluster, not the env's arguments
        raise
    except (TypeError, ValueError) as exc:
        if spec.env_interface == "text" and "language interface" in str(exc):
            raise ValueError(f"{env_id} has no language interface, so agent {spec.name!r} cannot play it") from None
        raise ValueError(f"bad --env-kwargs for {env_id}: {str(exc).splitlines()[0]}") from None


def _multiagent_envs(spec: AgentSpec, env_id: str, num_games: int, env_kwargs: dict[str, Any],
                     team_reward: bool = False):
    """``num_games`` games of a multi-agent env, every seat a row (one policy shared by every seat); with
    the game's state in each row for an agent with a centralised critic (``spec.global_state``: MAPPO);
    in the game's free-text form (its module's ``TEXT_KWARGS``) for an LLM agent."""
    from rewardgym.envs.multiagent import make_vec, text_kwargs
    from rewardgym.wrappers.multiagent import AgentsAsEnvs

    env_kwargs = dict(env_kwargs)
    free_text = spec.env_interface == "text"  # an LLM plays the game's free-text form, every seat (self-play)
    if free_text:
        try:
            text_kwargs(env_id)
        except ValueError as exc:
            raise ValueError(f"{exc}, so agent {spec.name!r} cannot play it") from None
    render_mode = env_kwargs.pop("render_mode", None)  # the rows' wrapper renders; the games are built without
    try:
        games = make_vec(env_id.removeprefix("rewardgym/"), num_games, free_text=free_text, **env_kwargs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad --env-kwargs for {env_id}: {str(exc).splitlines()[0]}") from None
    return AgentsAsEnvs(games, state_key="state" if spec.global_state else None, render_mode=render_mode,
                        team_reward=team_reward)


def with_learned_reward(env, spec: AgentSpec, model: RewardModel, mode: str = "add", coef: float = 1.0,
                        env_coef: float = 1.0):
    """``env`` with ``model``'s reward, scored the way an agent of ``spec`` learns (deferred or per step).

    The wrapper does not own ``model``: whoever built it closes it (:func:`train` does). PPO's Ray
    rollout workers record the transitions and the learner scores them with ``model``.
    """
    from rewardgym.agents.ppo_ray import RolloutWorkers

    if isinstance(env, RolloutWorkers):
        return env.score_with(model, mode, coef, env_coef)
    team = env.unwrapped.n_agents if getattr(env.unwrapped, "team_reward", False) else None  # shared like the env's
    return LearnedReward(env, model, mode=mode, coef=coef, env_coef=env_coef, defer=spec.deferred_rewards,
                         team_size=team)


def train(agent, env, run_dir: str | Path, steps: int | None, *, checkpoint_every: int = 0, progress: bool = True,
          resume_step: int | None = None, reward_model: RewardModel | None = None,
          callbacks: list | None = None) -> tuple[dict[str, float], bool]:
    """``agent.learn(env, steps)`` with ``run_dir``'s logger and periodic checkpoints.

    The final checkpoint (``checkpoints/final``) is saved at the end, on Ctrl-C too; then the
    env and ``reward_model`` are closed. ``steps=None`` finishes the run a mid-run checkpoint
    was saved from, from ``resume_step`` on; ``callbacks`` are called with each log's metrics after
    the logger and the checkpoints. Returns the last logged metrics and whether training was
    interrupted.
    """
    run_dir = Path(run_dir)
    logger = RunLogger(run_dir, resume_step=resume_step)
    callbacks = ([logger] + ([PeriodicCheckpoint(agent, run_dir, checkpoint_every)] if checkpoint_every else [])
                 + list(callbacks or []))
    interrupted = False
    try:
        try:
            agent.learn(env, steps, callbacks=callbacks, progress=progress)
        except KeyboardInterrupt:
            interrupted = True
            print("interrupted: saving the final checkpoint (finish the run with --resume)", file=sys.stderr)
        finally:
            agent.save(run_dir / FINAL_CHECKPOINT)
            logger.close()
    finally:
        try:
            env.close()
        finally:
            if reward_model is not None:
                close_model(reward_model)
    return (logger.rows[-1] if logger.rows else {}), interrupted
