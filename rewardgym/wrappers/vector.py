"""Reward wrappers for a :class:`gymnasium.vector.VectorEnv`.

The same five wrappers as :mod:`rewardgym.wrappers.env`, under the same names (as
Gymnasium pairs ``gymnasium.wrappers.NormalizeReward`` with
``gymnasium.wrappers.vector.NormalizeReward``), running the maths of
:mod:`rewardgym.rewards.transforms` over all ``num_envs`` at once.

:class:`LearnedReward` is how every agent in rewardgym receives a learned reward: scored at
each step, or (``defer=True``) recorded and scored once per rollout when the agent calls
:meth:`LearnedReward.flush` (the VLM-RM pattern; PPO and the LLM trainer do).

Which envs made a real transition depends on ``env.metadata["autoreset_mode"]``:

* ``NEXT_STEP`` (Gymnasium's default): the step after an env reported terminated or
  truncated resets it, ignores its action and returns the reset observation with reward 0.
  That is not a transition: the learned reward is 0 (the model does not see it), no shaping
  term is added, the reward passes through unchanged, statistics are not updated, and the
  env's per-episode state (potential, counts) restarts from the reset observation.
* ``SAME_STEP``: the terminating step already returns the reset observation, with the real
  ``s′`` in ``info["final_obs"]`` and its info in ``info["final_info"]``. Every step is a
  transition; the wrappers score ``final_obs``/``final_info`` for the envs that finished and
  restart their per-episode state from the returned observation. Models and potentials that
  need frames are refused in this mode: ``render()`` after the step shows the reset state,
  and the frame of ``s′`` is gone.
* ``DISABLED``: every step is a transition; envs reset through
  ``reset(options={"reset_mask": mask})`` restart their per-episode state.

A step whose info says ``invalid_action`` (text the :class:`~rewardgym.wrappers.TextInterface`
parser did not understand) left the env where it was, so it is no transition either.

Info keys follow the vector convention: an array with one entry per env plus a ``_key``
boolean mask, true where the env made a real transition.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorRewardWrapper, VectorWrapper
from gymnasium.vector.utils import iterate

from rewardgym._batch import RowInfos, VectorInfos, copy_batch, scatter, stack_items, take
from rewardgym.rewards.spec import make_reward
from rewardgym.rewards.transforms import (
    BoundedTransform,
    EpisodeCounts,
    PotentialShaper,
    RewardMix,
    RewardStandardizer,
    default_count_key,
    evaluate_potential,
    score_transitions,
    team_mean,
)
from rewardgym.rewards.transitions import Potential, RewardModel, Transitions, close_model
from rewardgym.wrappers.env import check_render_mode

__all__ = ["LearnedReward", "PotentialShaping", "NormalizeReward", "BoundedReward", "CountDiscount",
           "DeferredRewards", "RecordedStep", "deferred_reward", "refuse_deferred", "score_recorded", "join_recorded"]


class _TransitionTracking(VectorWrapper):
    """Tracks, per env, whether a vector step is a real transition and who restarts."""

    def __init__(self, env: VectorEnv) -> None:
        VectorWrapper.__init__(self, env)
        self.autoreset_mode = AutoresetMode(
            self.env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        )
        # True where the previous step ended an episode: under NEXT_STEP the next step of
        # that env is its reset, not a transition.
        self._autoreset = np.zeros(self.num_envs, dtype=bool)

    def _refuse_frames_on_same_step(self, what: str) -> None:
        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            raise ValueError(
                f"{what} needs frames, which SAME_STEP autoreset cannot give for the last step"
                " of an episode (render() shows the reset state); use"
                " autoreset_mode=AutoresetMode.NEXT_STEP"
            )

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        # Read the mask first: Gymnasium's vector envs pop it from ``options``.
        reset_mask = None if options is None else options.get("reset_mask")
        obs, info = self.env.reset(seed=seed, options=options)
        if reset_mask is None:
            restarted = np.ones(self.num_envs, dtype=bool)
        else:
            restarted = np.asarray(reset_mask, dtype=bool)
        self._autoreset[restarted] = False
        self._on_reset(restarted, obs, info)
        return obs, info

    def _on_reset(self, restarted: np.ndarray, obs: Any, info: dict[str, Any]) -> None:
        """Restart the per-episode state of the envs in ``restarted`` (override)."""

    def _classify(
        self, terminated: np.ndarray, truncated: np.ndarray, info: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(scored, restarted)`` for a step and remember its done mask.

        ``scored``: the env made a real transition. ``restarted``: the observation returned
        for the env is the first of a new episode.
        """
        done = np.logical_or(terminated, truncated)
        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            scored, restarted = np.ones(self.num_envs, dtype=bool), done
        else:
            restarted = self._autoreset.copy()
            self._autoreset = done
            scored = ~restarted
        invalid = info.get("invalid_action")
        if invalid is not None:  # unparsed text: the env did not step
            scored &= ~(np.asarray(invalid, dtype=bool) & np.asarray(info.get("_invalid_action", True), dtype=bool))
        return scored, restarted

    def _transition(
        self, obs: Any, info: dict[str, Any], restarted: np.ndarray
    ) -> tuple[Any, Sequence[dict]]:
        """``(s′, infos)`` of each env's transition: under SAME_STEP the envs that finished
        report theirs in ``final_obs`` / ``final_info``; otherwise they are ``obs`` / ``info``."""
        infos = VectorInfos(info, self.num_envs)
        if self.autoreset_mode != AutoresetMode.SAME_STEP or not restarted.any():
            return obs, infos
        if "final_obs" not in info:
            raise RuntimeError(
                "a SAME_STEP vector env must report the last observation of an episode in"
                " info['final_obs'], as Gymnasium's vector envs do"
            )
        rows = np.flatnonzero(restarted)
        final_obs = stack_items(self.single_observation_space, [info["final_obs"][i] for i in rows])
        next_obs = scatter(obs, rows, final_obs, space=self.single_observation_space)
        final_infos = VectorInfos(info.get("final_info", {}), self.num_envs)
        return next_obs, _FinalInfos(infos, final_infos, restarted)

    def _render_frames(self) -> np.ndarray:
        frames = self.env.render()
        return frames if isinstance(frames, np.ndarray) else np.stack(frames)

    # -- what a checkpoint needs to continue a run exactly --------------------------------
    def get_wrapper_state(self) -> dict[str, Any]:
        """This wrapper's own state (arrays and plain values), for :meth:`set_wrapper_state`."""
        return {"autoreset": self._autoreset.copy()}

    def set_wrapper_state(self, state: dict[str, Any]) -> None:
        self._autoreset = np.array(state["autoreset"], dtype=bool)


def _reward_dtype(reward: np.ndarray) -> np.dtype:
    """Keep the wrapped env's float dtype; integer rewards become float64."""
    return reward.dtype if np.issubdtype(reward.dtype, np.floating) else np.dtype(np.float64)


def _passthrough(reward: np.ndarray) -> np.ndarray:
    return np.array(reward, dtype=np.float64)


class _FinalInfos(Sequence[dict]):
    """Per-env infos where the envs in ``finished`` read ``final_info`` instead."""

    def __init__(
        self, infos: Sequence[dict], final_infos: Sequence[dict], finished: np.ndarray
    ) -> None:
        self._infos, self._final_infos, self._finished = infos, final_infos, finished

    def __len__(self) -> int:
        return len(self._infos)

    def __getitem__(self, index: int) -> dict:  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self._final_infos[index] if self._finished[index] else self._infos[index]


@dataclass
class DeferredRewards:
    """What :meth:`LearnedReward.flush` returns: ``(T, N)`` arrays over the T steps since the last flush.

    ``env``: the env's rewards; ``learned``: the model's scores (0 where ``scored`` is false:
    autoreset steps and unparsed text); ``total``: the two mixed as the wrapper's ``mode``,
    ``coef`` and ``env_coef`` say, the reward to train on.
    """

    env: np.ndarray
    learned: np.ndarray
    total: np.ndarray
    scored: np.ndarray


@dataclass
class RecordedStep:
    """One step a deferred :class:`LearnedReward` recorded: the env's rewards, the rows that made a real
    transition, and those transitions (None when no row did), kept until they are scored."""

    env_reward: np.ndarray
    rows: np.ndarray
    batch: Transitions | None


def score_recorded(model: RewardModel, mix: Callable[[np.ndarray, np.ndarray], np.ndarray],
                   steps: Sequence[RecordedStep], num_envs: int) -> DeferredRewards:
    """Score recorded steps' transitions in one model call and mix the scores with the env's rewards."""
    shape = (len(steps), num_envs)
    env = np.stack([s.env_reward for s in steps]) if steps else np.zeros(shape)
    learned = np.zeros(shape, dtype=np.float64)
    scored = np.zeros(shape, dtype=bool)
    batches = [s.batch for s in steps if s.batch is not None]
    if batches:
        scores = score_transitions(model, Transitions.concat(batches))
        start = 0
        for t, s in enumerate(steps):
            if s.batch is not None:
                learned[t, s.rows] = scores[start:start + len(s.rows)]
                scored[t, s.rows] = True
                start += len(s.rows)
    return DeferredRewards(env=env, learned=learned, total=mix(env, learned), scored=scored)


def join_recorded(parts: Sequence[Sequence[RecordedStep]], sizes: Sequence[int]) -> list[RecordedStep]:
    """The steps that several vector envs of ``sizes`` rows recorded side by side, as the steps of one
    vector env of ``sum(sizes)`` rows (each part's rows after the previous parts'; ``env_ids`` shifted)."""
    if len({len(p) for p in parts}) > 1:
        raise ValueError(f"the parts recorded different numbers of steps: {[len(p) for p in parts]}")
    offsets = np.cumsum([0, *sizes[:-1]])
    joined = []
    for steps in zip(*parts):
        batches = [dataclasses.replace(s.batch, env_ids=(np.arange(len(s.batch)) if s.batch.env_ids is None
                                                         else np.asarray(s.batch.env_ids)) + offset)
                   for s, offset in zip(steps, offsets) if s.batch is not None]
        joined.append(RecordedStep(
            env_reward=np.concatenate([s.env_reward for s in steps]),
            rows=np.concatenate([s.rows + offset for s, offset in zip(steps, offsets)]).astype(np.int64),
            batch=Transitions.concat(batches) if batches else None))
    return joined


class LearnedReward(_TransitionTracking, gym.utils.RecordConstructorArgs):
    """Adds (or substitutes) a learned reward model's score to the rewards of a vector env.

    The real transitions of a step are scored in one batch; the reward becomes
    ``env_coef · r_env + coef · r_learned`` (``mode="add"``) or ``coef · r_learned``
    (``mode="replace"``), see :class:`rewardgym.wrappers.LearnedReward`. Autoreset steps
    get ``r_learned = 0`` and are not shown to the model. ``info["reward_env"]`` and
    ``info["reward_learned"]`` hold both terms, masked by ``info["_reward_env"]`` /
    ``info["_reward_learned"]`` (true on real transitions). A model with ``needs_frames``
    gets ``(B, H, W, 3)`` frames from ``env.render()`` (``render_mode="rgb_array"``).

    ``team_size=A`` (a multi-agent game's seats as consecutive rows, ``AgentsAsEnvs``): every row
    gets the mean of its team's mixed rewards, a shared team reward.

    ``defer=True`` scores nothing during the steps: they return the env's reward, and the
    real transitions are kept until :meth:`flush` scores all of them in one model call
    (the VLM-RM pattern: a CLIP forward pass over a whole rollout's frames) and returns the
    rewards to train on. Agents that collect rollouts (PPO, the LLM trainer) use it; it must
    then be the outermost reward wrapper, since wrappers above it would see env rewards only.

    A model given as a spec string is built here and closed by :meth:`close`; a model object
    belongs to the caller, who closes it.
    """

    def __init__(
        self,
        env: VectorEnv,
        model: RewardModel | str,
        mode: Literal["add", "replace"] = "add",
        coef: float = 1.0,
        env_coef: float = 1.0,
        defer: bool = False,
        team_size: int | None = None,
    ) -> None:
        # Recorded, not deep-copied: a model may hold gigabytes of weights.
        gym.utils.RecordConstructorArgs.__init__(
            self, model=model, mode=mode, coef=coef, env_coef=env_coef, defer=defer, team_size=team_size,
            _disable_deepcopy=True
        )
        _TransitionTracking.__init__(self, env)
        mix = RewardMix(mode, coef, env_coef)
        if team_size is not None and (team_size < 1 or self.num_envs % team_size):
            raise ValueError(f"team_size={team_size} does not split {self.num_envs} rows into teams")
        # a team reward: every row gets its team's mean of the mixed rewards (each agent's own learned reward
        # shared with its game's other seats)
        self.mix = mix if team_size is None else (lambda env_r, learned: team_mean(mix(env_r, learned), team_size))
        self.model = make_reward(model)
        self.owns_model = isinstance(model, str)
        self.defer = bool(defer)
        self.needs_frames = bool(getattr(self.model, "needs_frames", False))
        if self.needs_frames:
            what = f"reward model {type(self.model).__name__}"
            check_render_mode(env, what)
            self._refuse_frames_on_same_step(what)
        self._obs: Any = None
        self._steps: list[RecordedStep] = []  # defer: the steps since the last flush

    def _on_reset(self, restarted: np.ndarray, obs: Any, info: dict[str, Any]) -> None:
        self._obs = copy_batch(obs)

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        obs, reward, terminated, truncated, info = self.env.step(actions)
        scored, restarted = self._classify(terminated, truncated, info)
        rows = np.flatnonzero(scored)
        obs_copy = copy_batch(obs)
        batch = self._transitions(rows, actions, obs_copy, terminated, truncated, info, restarted) \
            if rows.size else None
        info["reward_env"], info["_reward_env"] = np.array(reward), scored.copy()
        self._obs = obs_copy
        if self.defer:
            self._steps.append(RecordedStep(np.array(reward, dtype=np.float64), rows, batch))
            return obs, reward, terminated, truncated, info
        learned = np.zeros(self.num_envs, dtype=np.float64)
        if batch is not None:
            learned[rows] = score_transitions(self.model, batch)
        info["reward_learned"], info["_reward_learned"] = learned, scored.copy()
        return obs, self.mix(reward, learned).astype(_reward_dtype(reward)), terminated, truncated, info

    def _transitions(self, rows: np.ndarray, actions: Any, obs: Any, terminated: np.ndarray,
                     truncated: np.ndarray, info: dict[str, Any], restarted: np.ndarray) -> Transitions:
        """The step's real transitions, the rows ``rows`` (the autoreset envs are left out)."""
        next_obs, infos = self._transition(obs, info, restarted)
        frames = self._render_frames() if self.needs_frames else None
        if self.defer:  # kept until flush(): the env and the agent may reuse these buffers
            actions, terminated, truncated = copy_batch(actions), np.array(terminated), np.array(truncated)
        if rows.size == self.num_envs:
            return Transitions(self._obs, actions, next_obs, terminated, truncated, infos, frames)
        space, action_space = self.single_observation_space, self.single_action_space
        return Transitions(
            obs=take(self._obs, rows, space), action=take(actions, rows, action_space),
            next_obs=take(next_obs, rows, space), terminated=terminated[rows], truncated=truncated[rows],
            infos=RowInfos(infos, rows), frames=None if frames is None else frames[rows], env_ids=rows,
        )

    def flush(self) -> DeferredRewards:
        """Score every real transition since the last flush in one model call (``defer=True``).

        Returns :class:`DeferredRewards` over the steps taken since then, in order.
        """
        return score_recorded(self.model, self.mix, self.take(), self.num_envs)

    def take(self) -> list[RecordedStep]:
        """The steps recorded since the last flush, unscored (``defer=True``), and forget them: for scoring
        elsewhere (:func:`score_recorded`; PPO's Ray rollout workers send them to the learner)."""
        if not self.defer:
            raise RuntimeError("flush() is for LearnedReward(defer=True); this wrapper scores at each step")
        steps, self._steps = self._steps, []
        return steps

    def get_wrapper_state(self) -> dict[str, Any]:
        if self._steps:
            raise RuntimeError("a deferred LearnedReward holds unscored steps: flush() before saving its state")
        return {**super().get_wrapper_state(), "obs": copy_batch(self._obs)}

    def set_wrapper_state(self, state: dict[str, Any]) -> None:
        super().set_wrapper_state(state)
        self._obs = copy_batch(state["obs"])
        self._steps = []

    def close(self, **kwargs: Any) -> None:
        super().close(**kwargs)
        if self.owns_model:
            close_model(self.model)


def deferred_reward(env: VectorEnv) -> LearnedReward | None:
    """The ``LearnedReward(defer=True)`` in ``env``'s wrapper chain, or None.

    ValueError when a wrapper that changes rewards sits above it (it would act on the env's
    reward alone, and the learned reward would be added after it).
    """
    above: list[VectorWrapper] = []
    while isinstance(env, VectorWrapper):
        if isinstance(env, LearnedReward) and env.defer:
            changing = [type(w).__name__ for w in above if isinstance(w, (_TransitionTracking, VectorRewardWrapper))]
            if changing:
                raise ValueError(f"a deferred LearnedReward must be the outermost reward wrapper; "
                                 f"{', '.join(changing)} wraps it")
            return env
        above.append(env)
        env = env.env
    return None


def refuse_deferred(env: VectorEnv, agent: str) -> None:
    """ValueError when ``env`` defers its learned reward: ``agent`` learns from each step's reward."""
    if deferred_reward(env) is not None:
        raise ValueError(f"{agent} learns from each step's reward: wrap the env in LearnedReward(defer=False)")


class PotentialShaping(_TransitionTracking, gym.utils.RecordConstructorArgs):
    r"""Potential-based shaping (Ng et al. 1999) for a vector env.

    .. math:: r' = r + \gamma (1 - \text{terminated}) \Phi(s') - \Phi(s)

    ``potential(obs, infos)`` is called once per step on the whole batch; see
    :class:`rewardgym.wrappers.PotentialShaping`. Autoreset steps add no shaping term and
    set the env's ``Φ(s)`` to the potential of its reset observation. ``info["shaping"]``
    holds the added term.
    """

    def __init__(self, env: VectorEnv, potential: Potential, gamma: float = 0.99) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, potential=potential, gamma=gamma, _disable_deepcopy=True)
        _TransitionTracking.__init__(self, env)
        self.potential = potential
        self.needs_frames = bool(getattr(potential, "needs_frames", False))
        if self.needs_frames:
            what = f"potential {type(potential).__name__}"
            check_render_mode(env, what)
            self._refuse_frames_on_same_step(what)
        self.shaper = PotentialShaper(self.num_envs, gamma)

    def _potential(self, obs: Any, infos: Sequence[dict]) -> np.ndarray:
        frames = self._render_frames() if self.needs_frames else None
        return evaluate_potential(self.potential, obs, infos, frames)

    def _on_reset(self, restarted: np.ndarray, obs: Any, info: dict[str, Any]) -> None:
        self.shaper.reset_envs(restarted, self._potential(obs, VectorInfos(info, self.num_envs)))

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        scored, restarted = self._classify(terminated, truncated, info)
        next_obs, infos = self._transition(obs, info, restarted)
        next_potential = self._potential(next_obs, infos)
        shaped, bonus = self.shaper.step(reward, next_potential, terminated, scored)
        if self.autoreset_mode == AutoresetMode.SAME_STEP and restarted.any():
            # s′ of the finished envs was final_obs; their new Φ(s) is the reset observation's.
            rows = np.flatnonzero(restarted)
            reset_potential = self.shaper.potential.copy()
            reset_potential[rows] = evaluate_potential(
                self.potential,
                take(obs, rows, self.single_observation_space),
                RowInfos(VectorInfos(info, self.num_envs), rows),
            )
            self.shaper.reset_envs(restarted, reset_potential)
        info["shaping"], info["_shaping"] = bonus, scored
        return obs, shaped.astype(_reward_dtype(reward)), terminated, truncated, info

    def get_wrapper_state(self) -> dict[str, Any]:
        return {**super().get_wrapper_state(), "potential": self.shaper.potential.copy()}

    def set_wrapper_state(self, state: dict[str, Any]) -> None:
        super().set_wrapper_state(state)
        self.shaper.potential = np.array(state["potential"], dtype=np.float64)


class _RewardTransform(_TransitionTracking):
    """Applies ``self.transform`` to the rewards of real transitions; autoreset steps pass through."""

    transform: Callable[[np.ndarray], np.ndarray]

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        scored, _ = self._classify(terminated, truncated, info)
        out = _passthrough(reward)
        if scored.any():
            out[scored] = self.transform(out[scored])
        return obs, out.astype(_reward_dtype(reward)), terminated, truncated, info

    def get_wrapper_state(self) -> dict[str, Any]:
        stats = getattr(self.transform, "stats", None)
        return {**super().get_wrapper_state(), **({} if stats is None else {"stats": stats.state()})}

    def set_wrapper_state(self, state: dict[str, Any]) -> None:
        super().set_wrapper_state(state)
        if "stats" in state:
            self.transform.stats.load_state(state["stats"])


class NormalizeReward(_RewardTransform, gym.utils.RecordConstructorArgs):
    r"""Standardises the rewards of a vector env with their running mean and std.

    .. math:: r' = (r - \mu) / \sqrt{\sigma^2 + \epsilon}

    One set of statistics, updated with the real transitions of every env at each step;
    see :class:`rewardgym.wrappers.NormalizeReward` (centred by default, unlike
    :class:`gymnasium.wrappers.vector.NormalizeReward`). Autoreset steps pass through.
    """

    def __init__(self, env: VectorEnv, epsilon: float = 1e-8, center: bool = True) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, epsilon=epsilon, center=center)
        _TransitionTracking.__init__(self, env)
        self.standardizer = self.transform = RewardStandardizer(epsilon, center)

    @property
    def update_running_mean(self) -> bool:
        return self.standardizer.update

    @update_running_mean.setter
    def update_running_mean(self, setting: bool) -> None:
        self.standardizer.update = setting


class BoundedReward(_RewardTransform, gym.utils.RecordConstructorArgs):
    r"""PAR's bounded reward ``σ((r − r_ref) / scale)`` for a vector env.

    See :class:`rewardgym.wrappers.BoundedReward`; with ``reference="running"`` one running
    mean is kept over the real transitions of all envs. Autoreset steps pass through.
    """

    def __init__(
        self,
        env: VectorEnv,
        reference: float | Literal["running"] = 0.0,
        scale: float = 1.0,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, reference=reference, scale=scale)
        _TransitionTracking.__init__(self, env)
        self.transform = BoundedTransform(reference, scale)


class CountDiscount(_TransitionTracking, gym.utils.RecordConstructorArgs):
    r"""Motif's count discount ``r / N(key)^β`` for a vector env, counted per env and episode.

    See :class:`rewardgym.wrappers.CountDiscount`. ``key_fn(obs_i, info_i)`` is called for
    each env with a real transition; autoreset steps pass through and restart the env's
    counts. ``info["visit_count"]`` holds ``N``.
    """

    def __init__(
        self,
        env: VectorEnv,
        key_fn: Callable[[Any, dict], Hashable] | None = None,
        beta: float = 3.0,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, key_fn=key_fn, beta=beta)
        _TransitionTracking.__init__(self, env)
        self.key_fn = default_count_key if key_fn is None else key_fn
        self.counts = EpisodeCounts(self.num_envs, beta)

    def _on_reset(self, restarted: np.ndarray, obs: Any, info: dict[str, Any]) -> None:
        self.counts.reset_envs(restarted)

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        scored, restarted = self._classify(terminated, truncated, info)
        out = _passthrough(reward)
        visit_count = np.zeros(self.num_envs, dtype=np.int64)
        rows = np.flatnonzero(scored)
        if rows.size:
            next_obs, infos = self._transition(obs, info, restarted)
            env_obs = list(iterate(self.observation_space, next_obs))
            keys = [self.key_fn(env_obs[i], infos[i]) for i in rows]
            out[rows], visit_count[rows] = self.counts(out[rows], keys, rows)
        # Counting first is right for both modes: NEXT_STEP restarts are not scored, and
        # SAME_STEP restarts scored their last step above.
        self.counts.reset_envs(restarted)
        info["visit_count"], info["_visit_count"] = visit_count, scored
        return obs, out.astype(_reward_dtype(reward)), terminated, truncated, info

    def get_wrapper_state(self) -> dict[str, Any]:
        raise NotImplementedError("CountDiscount keeps per-episode counts of arbitrary keys; it cannot be saved")
