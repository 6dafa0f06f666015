"""Gymnasium faces of the bandit core: ``BanditEnv`` (one bandit) and ``BanditVectorEnv`` (N at once).

Observation (``Dict``):
    ``last_arm``      one-hot of the arm pulled last (all zeros right after reset), float32 (k,)
    ``last_reward``   the reward it paid, float32 (1,)
    ``context``       contextual bandits: the context of the next pull, float32 (d,)
    ``counts``, ``mean_reward``, ``steps_left``   meta-bandits (``history=True``): what the
                      agent has seen so far, per arm, and the pulls it has left
Action: ``Discrete(k)``, the arm to pull.
Reward: the arm's payoff (Bernoulli {0, 1} or Gaussian).
Episode: ``horizon`` pulls; truncated at the horizon, or terminated when the observation
    shows the pulls left (``history=True``), since then the horizon is part of the problem.
Info on every step: ``success`` and ``best_arm_pulled`` (the last pull was of a best arm),
    ``regret`` (expected regret of the last pull), ``cumulative_regret``, ``task``.
    At an episode's end also ``best_arm_fraction`` and ``suffix_failure`` (no pull of a best
    arm in the episode's second half), the metrics of Krishnamurthy et al. and "When Greedy Wins".
"""

from __future__ import annotations

from rewardgym.envs.bandits.core import BanditCore
from rewardgym.envs.bandits.text import BanditText
from rewardgym.envs.batched import CoreEnv, CoreVectorEnv


class BanditEnv(CoreEnv):
    __doc__ = __doc__

    def __init__(self, n_arms: int = 10, horizon: int = 1000, distribution: str = "bernoulli",
                 drift: float = 0.0, context_dim: int = 0, history: bool = False,
                 instance_seed: int | None = None, noise_std: float = 1.0, render_mode: str | None = None):
        core = BanditCore(1, n_arms, horizon, distribution, drift, context_dim, history, instance_seed, noise_std)
        super().__init__(core, render_mode=render_mode)

    @property
    def text_adapter(self) -> BanditText:
        """The language interface (see :class:`rewardgym.wrappers.TextInterface`)."""
        return BanditText(self.core)


class BanditVectorEnv(CoreVectorEnv):
    __doc__ = __doc__

    def __init__(self, num_envs: int = 1, n_arms: int = 10, horizon: int = 1000, distribution: str = "bernoulli",
                 drift: float = 0.0, context_dim: int = 0, history: bool = False,
                 instance_seed: int | None = None, noise_std: float = 1.0, render_mode: str | None = None,
                 max_episode_steps: int | None = None):
        core = BanditCore(num_envs, n_arms, horizon, distribution, drift, context_dim, history, instance_seed,
                          noise_std)
        super().__init__(core, max_episode_steps=max_episode_steps, render_mode=render_mode)
