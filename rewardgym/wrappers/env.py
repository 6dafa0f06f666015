"""Reward wrappers for a single :class:`gymnasium.Env`.

Each wrapper is a thin adapter: it batches the one transition (``B = 1``) and hands it to
the maths in :mod:`rewardgym.wrappers.reward`. The :class:`gymnasium.vector.VectorEnv`
versions with the same names live in :mod:`rewardgym.wrappers.vector`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Literal, SupportsFloat

import gymnasium as gym
import numpy as np

from rewardgym._batch import stack_items
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
)
from rewardgym.rewards.transitions import Potential, RewardModel, Transitions, close_model

__all__ = ["LearnedReward", "PotentialShaping", "NormalizeReward", "BoundedReward", "CountDiscount"]

_ALL = np.ones(1, dtype=bool)


def _init_wrapper(wrapper: gym.Wrapper, env: gym.Env) -> None:
    """``gym.Wrapper.__init__``, with a pointer to the vector wrappers when handed a vector env."""
    if isinstance(env, gym.vector.VectorEnv):
        raise TypeError(f"{type(wrapper).__name__} wraps a single Env; for a VectorEnv use "
                        f"rewardgym.wrappers.vector.{type(wrapper).__name__}")
    gym.Wrapper.__init__(wrapper, env)


def check_render_mode(env: gym.Env | gym.vector.VectorEnv, what: str) -> None:
    """Frames come from ``env.render()``, which returns arrays only in ``rgb_array`` mode."""
    render_mode = getattr(env, "render_mode", None)
    if render_mode != "rgb_array":
        raise ValueError(
            f"{what} needs frames, so the env must be made with render_mode='rgb_array'"
            f" (it has render_mode={render_mode!r})"
        )


class LearnedReward(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Adds (or substitutes) a learned reward model's score to the environment reward.

    After each step the transition ``(s, a, s′)`` is scored by ``model`` as a batch of one;
    the reward becomes

    * ``mode="add"``: ``env_coef · r_env + coef · r_learned``
    * ``mode="replace"``: ``coef · r_learned``

    as in VLM-RM ("Vision-Language Models are Zero-Shot Reward Models for RL"), where a
    CLIP score of the rendered frame replaces the task reward, and Motif, where an LLM-derived
    intrinsic reward is added to it. ``info["reward_env"]`` and ``info["reward_learned"]``
    record both terms. A model with ``needs_frames`` receives ``env.render()`` of ``s′`` as
    ``(1, H, W, 3)`` frames; the env must then have ``render_mode="rgb_array"``. A model given
    as a spec string is built here and closed by :meth:`close`; a model object belongs to the
    caller. For a vector env (and for every agent rewardgym trains) use
    :class:`rewardgym.wrappers.vector.LearnedReward`, which scores all envs in one batch.

    Example:
        >>> import gymnasium as gym
        >>> from rewardgym.wrappers import LearnedReward
        >>> env = LearnedReward(gym.make("CartPole-v1"), "constant:value=0.5", coef=2.0)
        >>> _ = env.reset(seed=0)
        >>> _, reward, _, _, info = env.step(0)
        >>> reward, info["reward_env"], info["reward_learned"]
        (2.0, 1.0, 0.5)
    """

    def __init__(
        self,
        env: gym.Env,
        model: RewardModel | str,
        mode: Literal["add", "replace"] = "add",
        coef: float = 1.0,
        env_coef: float = 1.0,
    ) -> None:
        """Args:
        env: the environment to wrap.
        model: a reward model, or a spec string for :func:`rewardgym.make_reward`.
        mode: ``"add"`` the learned reward to the env reward, or ``"replace"`` it.
        coef: weight of the learned reward.
        env_coef: weight of the env reward (``mode="add"`` only).
        """
        # Recorded, not deep-copied: a model may hold gigabytes of weights.
        gym.utils.RecordConstructorArgs.__init__(
            self, model=model, mode=mode, coef=coef, env_coef=env_coef, _disable_deepcopy=True
        )
        _init_wrapper(self, env)
        self.mix = RewardMix(mode, coef, env_coef)
        self.model = make_reward(model)
        self.owns_model = isinstance(model, str)
        self.needs_frames = bool(getattr(self.model, "needs_frames", False))
        if self.needs_frames:
            check_render_mode(env, f"reward model {type(self.model).__name__}")
        self._obs: Any = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._obs = stack_items(self.env.observation_space, [obs])
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        if self._obs is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        obs, reward, terminated, truncated, info = self.env.step(action)
        next_obs = stack_items(self.env.observation_space, [obs])
        frames = np.asarray(self.env.render())[None] if self.needs_frames else None
        batch = Transitions(
            obs=self._obs,
            action=stack_items(self.env.action_space, [action]),
            next_obs=next_obs,
            terminated=np.array([terminated]),
            truncated=np.array([truncated]),
            infos=[info],
            frames=frames,
        )
        learned = score_transitions(self.model, batch)
        total = self.mix(np.array([reward], dtype=np.float64), learned)
        info["reward_env"] = float(reward)
        info["reward_learned"] = float(learned[0])
        self._obs = next_obs
        return obs, float(total[0]), terminated, truncated, info

    def close(self) -> None:
        super().close()
        if self.owns_model:
            close_model(self.model)


class PotentialShaping(gym.Wrapper, gym.utils.RecordConstructorArgs):
    r"""Adds potential-based shaping (Ng, Harada & Russell 1999) to the reward.

    .. math:: r' = r + \gamma (1 - \text{terminated}) \Phi(s') - \Phi(s)

    The terminal potential is zero and a truncated step keeps ``γΦ(s′)``, so the optimal
    policy of the shaped task is the one of the original task. ``potential(obs, infos)`` is
    called on a batch of one (``(1, ...)`` observations, a one-element list of infos) and
    returns ``(1,)``; a potential with ``needs_frames = True`` also gets ``(1, H, W, 3)``
    frames. ``info["shaping"]`` records the added term ``γ(1−terminated)Φ(s′) − Φ(s)``.

    With ``gamma=1`` and a progress estimate as Φ this is the VIP/LIV progress reward
    ``S(o_{t+1}, g) − S(o_t, g)``.
    """

    def __init__(self, env: gym.Env, potential: Potential, gamma: float = 0.99) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, potential=potential, gamma=gamma, _disable_deepcopy=True)
        _init_wrapper(self, env)
        self.potential = potential
        self.needs_frames = bool(getattr(potential, "needs_frames", False))
        if self.needs_frames:
            check_render_mode(env, f"potential {type(potential).__name__}")
        self.shaper = PotentialShaper(1, gamma)

    def _potential(self, obs: Any, info: dict[str, Any]) -> np.ndarray:
        frames = np.asarray(self.env.render())[None] if self.needs_frames else None
        return evaluate_potential(
            self.potential, stack_items(self.env.observation_space, [obs]), [info], frames
        )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self.shaper.reset_envs(_ALL, self._potential(obs, info))
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        shaped, bonus = self.shaper.step(
            np.array([reward], dtype=np.float64),
            self._potential(obs, info),
            np.array([terminated]),
        )
        info["shaping"] = float(bonus[0])
        return obs, float(shaped[0]), terminated, truncated, info


class NormalizeReward(gym.Wrapper, gym.utils.RecordConstructorArgs):
    r"""Standardises the reward with its running mean and standard deviation.

    .. math:: r' = (r - \mu) / \sqrt{\sigma^2 + \epsilon}
              \quad(\text{or } r / \sqrt{\sigma^2 + \epsilon} \text{ with } center=False)

    μ and σ² are running statistics of the rewards themselves (current one included), as
    Motif and ONI normalise their learned intrinsic reward. Unlike
    :class:`gymnasium.wrappers.NormalizeReward`, which scales by the std of the discounted
    return and does not centre, the output has zero mean and unit variance. Set
    ``update_running_mean = False`` to freeze the statistics.
    """

    def __init__(self, env: gym.Env, epsilon: float = 1e-8, center: bool = True) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, epsilon=epsilon, center=center)
        _init_wrapper(self, env)
        self.standardizer = RewardStandardizer(epsilon, center)

    @property
    def update_running_mean(self) -> bool:
        return self.standardizer.update

    @update_running_mean.setter
    def update_running_mean(self, setting: bool) -> None:
        self.standardizer.update = setting

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        normalized = self.standardizer(np.array([reward], dtype=np.float64))
        return obs, float(normalized[0]), terminated, truncated, info


class BoundedReward(gym.Wrapper, gym.utils.RecordConstructorArgs):
    r"""Bounds the reward with a sigmoid centred on a reference (PAR).

    .. math:: r' = \sigma\big((r - r_{ref}) / scale\big) \in (0, 1)

    From "Reward Shaping to Mitigate Reward Hacking in RLHF": the reward rises fast near the
    reference and saturates above it, which caps what exploiting a learned reward can earn.
    ``reference`` is a constant or ``"running"`` (the running mean of the rewards, current
    one included); ``scale`` is the sigmoid's temperature in reward units.
    """

    def __init__(
        self,
        env: gym.Env,
        reference: float | Literal["running"] = 0.0,
        scale: float = 1.0,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, reference=reference, scale=scale)
        _init_wrapper(self, env)
        self.transform = BoundedTransform(reference, scale)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        bounded = self.transform(np.array([reward], dtype=np.float64))
        return obs, float(bounded[0]), terminated, truncated, info


class CountDiscount(gym.Wrapper, gym.utils.RecordConstructorArgs):
    r"""Divides the reward by how often the step's key was seen this episode (Motif).

    .. math:: r' = r / N(\text{key})^\beta

    ``N`` counts this episode's steps with the same key, this one included, so a key's
    first occurrence keeps its full reward and the reset observation is not counted.
    ``key_fn(obs, info)`` computes the key of a step from its next observation and info; by
    default it is ``info["message"]`` when present (Motif's NetHack message) and the
    observation's bytes otherwise. ``β = 3`` is Motif's default. ``info["visit_count"]``
    records ``N``.
    """

    def __init__(
        self,
        env: gym.Env,
        key_fn: Callable[[Any, dict], Hashable] | None = None,
        beta: float = 3.0,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, key_fn=key_fn, beta=beta)
        _init_wrapper(self, env)
        self.key_fn = default_count_key if key_fn is None else key_fn
        self.counts = EpisodeCounts(1, beta)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        self.counts.reset_envs(_ALL)
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        discounted, counts = self.counts(
            np.array([reward], dtype=np.float64), [self.key_fn(obs, info)]
        )
        info["visit_count"] = int(counts[0])
        return obs, float(discounted[0]), terminated, truncated, info
