"""Reward wrappers for a :class:`gymnasium.vector.VectorEnv`.

The same five wrappers as :mod:`rewardgym.wrappers.env`, under the same names (as
Gymnasium pairs ``gymnasium.wrappers.NormalizeReward`` with
``gymnasium.wrappers.vector.NormalizeReward``), running the maths of
:mod:`rewardgym.wrappers.reward` over all ``num_envs`` at once.

Autoreset. Which envs made a real transition depends on ``env.metadata["autoreset_mode"]``:

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

Info keys follow the vector convention: an array with one entry per env plus a ``_key``
boolean mask, true where the env made a real transition.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from gymnasium.vector.utils import iterate

from rewardgym._batch import copy_batch
from rewardgym.reward_models.base import Potential, RewardModel, Transitions, VectorInfos
from rewardgym.reward_models.spec import make_reward
from rewardgym.wrappers.env import check_render_mode
from rewardgym.wrappers.reward import (
    BoundedTransform,
    EpisodeCounts,
    PotentialShaper,
    RewardMix,
    RewardStandardizer,
    default_count_key,
    evaluate_potential,
    score_transitions,
)

__all__ = ["LearnedReward", "PotentialShaping", "NormalizeReward", "BoundedReward", "CountDiscount"]


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
        self, terminated: np.ndarray, truncated: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(scored, restarted)`` for a step and remember its done mask.

        ``scored``: the env made a real transition. ``restarted``: the observation returned
        for the env is the first of a new episode.
        """
        done = np.logical_or(terminated, truncated)
        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            return np.ones(self.num_envs, dtype=bool), done
        restarted = self._autoreset.copy()
        self._autoreset = done
        return ~restarted, restarted

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
        final_obs = [info["final_obs"][i] for i in rows]
        next_obs = _replace_rows(self.single_observation_space, obs, rows, final_obs)
        final_infos = VectorInfos(info.get("final_info", {}), self.num_envs)
        return next_obs, _FinalInfos(infos, final_infos, restarted)

    def _render_frames(self) -> np.ndarray:
        frames = self.env.render()
        return frames if isinstance(frames, np.ndarray) else np.stack(frames)


def _reward_dtype(reward: np.ndarray) -> np.dtype:
    """Keep the wrapped env's float dtype; integer rewards become float64."""
    return reward.dtype if np.issubdtype(reward.dtype, np.floating) else np.dtype(np.float64)


def _passthrough(reward: np.ndarray) -> np.ndarray:
    return np.array(reward, dtype=np.float64)


def _select(space: gym.Space, batched: Any, rows: np.ndarray) -> Any:
    """The rows ``rows`` of a batch laid out for ``space`` (the single-env space)."""
    if isinstance(batched, np.ndarray):
        return batched[rows]
    if isinstance(space, gym.spaces.Dict):
        return {key: _select(space[key], batched[key], rows) for key in space.spaces}
    if isinstance(space, gym.spaces.Tuple):
        return tuple(_select(sub, part, rows) for sub, part in zip(space, batched, strict=True))
    picked = [batched[i] for i in rows]  # Text, Sequence, Graph...: a sequence of items
    return tuple(picked) if isinstance(batched, tuple) else picked


def _replace_rows(space: gym.Space, batched: Any, rows: np.ndarray, items: list[Any]) -> Any:
    """A copy of a batch with row ``rows[j]`` replaced by the single item ``items[j]``."""
    if isinstance(batched, np.ndarray):
        out = batched.copy()
        for row, item in zip(rows, items, strict=True):
            out[row] = item
        return out
    if isinstance(space, gym.spaces.Dict):
        return {
            key: _replace_rows(space[key], batched[key], rows, [item[key] for item in items])
            for key in space.spaces
        }
    if isinstance(space, gym.spaces.Tuple):
        return tuple(
            _replace_rows(sub, part, rows, [item[j] for item in items])
            for j, (sub, part) in enumerate(zip(space, batched, strict=True))
        )
    out_list = list(batched)
    for row, item in zip(rows, items, strict=True):
        out_list[row] = item
    return tuple(out_list) if isinstance(batched, tuple) else out_list


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


class _RowInfos(Sequence[dict]):
    """The infos of the envs ``rows``, built only when read."""

    def __init__(self, infos: Sequence[dict], rows: np.ndarray) -> None:
        self._infos, self._rows = infos, rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> dict:  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self._infos[int(self._rows[index])]


class LearnedReward(_TransitionTracking, gym.utils.RecordConstructorArgs):
    """Adds (or substitutes) a learned reward model's score to the rewards of a vector env.

    The real transitions of a step are scored in one batch; the reward becomes
    ``env_coef · r_env + coef · r_learned`` (``mode="add"``) or ``coef · r_learned``
    (``mode="replace"``), see :class:`rewardgym.wrappers.LearnedReward`. Autoreset steps
    get ``r_learned = 0`` and are not shown to the model. ``info["reward_env"]`` and
    ``info["reward_learned"]`` hold both terms, masked by ``info["_reward_env"]`` /
    ``info["_reward_learned"]`` (true on real transitions). A model with ``needs_frames``
    gets ``(B, H, W, 3)`` frames from ``env.render()`` (``render_mode="rgb_array"``).
    """

    def __init__(
        self,
        env: VectorEnv,
        model: RewardModel | str,
        mode: Literal["add", "replace"] = "add",
        coef: float = 1.0,
        env_coef: float = 1.0,
    ) -> None:
        # Recorded, not deep-copied: a model may hold gigabytes of weights.
        gym.utils.RecordConstructorArgs.__init__(
            self, model=model, mode=mode, coef=coef, env_coef=env_coef, _disable_deepcopy=True
        )
        _TransitionTracking.__init__(self, env)
        self.model = make_reward(model)
        self.mix = RewardMix(mode, coef, env_coef)
        self.needs_frames = bool(getattr(self.model, "needs_frames", False))
        if self.needs_frames:
            what = f"reward model {type(self.model).__name__}"
            check_render_mode(env, what)
            self._refuse_frames_on_same_step(what)
        self._obs: Any = None

    def _on_reset(self, restarted: np.ndarray, obs: Any, info: dict[str, Any]) -> None:
        self._obs = copy_batch(obs)

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        obs, reward, terminated, truncated, info = self.env.step(actions)
        scored, restarted = self._classify(terminated, truncated)
        learned = np.zeros(self.num_envs, dtype=np.float64)
        rows = np.flatnonzero(scored)
        if rows.size:
            next_obs, infos = self._transition(obs, info, restarted)
            frames = self._render_frames() if self.needs_frames else None
            if rows.size < self.num_envs:  # leave the autoreset envs out of the batch
                batch = Transitions(
                    obs=_select(self.single_observation_space, self._obs, rows),
                    action=_select(self.single_action_space, actions, rows),
                    next_obs=_select(self.single_observation_space, next_obs, rows),
                    terminated=terminated[rows],
                    truncated=truncated[rows],
                    infos=_RowInfos(infos, rows),
                    frames=None if frames is None else frames[rows],
                    env_ids=rows,
                )
            else:
                batch = Transitions(
                    self._obs, actions, next_obs, terminated, truncated, infos, frames
                )
            learned[rows] = score_transitions(self.model, batch)
        total = self.mix(reward, learned)
        info["reward_env"], info["_reward_env"] = np.array(reward), scored.copy()
        info["reward_learned"], info["_reward_learned"] = learned, scored.copy()
        self._obs = copy_batch(obs)
        return obs, total.astype(_reward_dtype(reward)), terminated, truncated, info


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
        scored, restarted = self._classify(terminated, truncated)
        next_obs, infos = self._transition(obs, info, restarted)
        next_potential = self._potential(next_obs, infos)
        shaped, bonus = self.shaper.step(reward, next_potential, terminated, scored)
        if self.autoreset_mode == AutoresetMode.SAME_STEP and restarted.any():
            # s′ of the finished envs was final_obs; their new Φ(s) is the reset observation's.
            rows = np.flatnonzero(restarted)
            reset_potential = self.shaper.potential.copy()
            reset_potential[rows] = evaluate_potential(
                self.potential,
                _select(self.single_observation_space, obs, rows),
                _RowInfos(VectorInfos(info, self.num_envs), rows),
            )
            self.shaper.reset_envs(restarted, reset_potential)
        info["shaping"], info["_shaping"] = bonus, scored
        return obs, shaped.astype(_reward_dtype(reward)), terminated, truncated, info


class _RewardTransform(_TransitionTracking):
    """Applies ``self.transform`` to the rewards of real transitions; autoreset steps pass through."""

    transform: Callable[[np.ndarray], np.ndarray]

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        scored, _ = self._classify(terminated, truncated)
        out = _passthrough(reward)
        if scored.any():
            out[scored] = self.transform(out[scored])
        return obs, out.astype(_reward_dtype(reward)), terminated, truncated, info


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
        scored, restarted = self._classify(terminated, truncated)
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
