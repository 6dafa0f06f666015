"""Proximal Policy Optimization (Schulman et al. 2017), the whole algorithm in one file.

The maths follows CleanRL's ``ppo.py``; every trick is named where it happens:

1. GAE(λ) advantages; returns = advantages + values (:func:`compute_gae`).
2. Per-minibatch advantage normalisation (``norm_adv``, :func:`normalize_advantages`).
3. Clipped surrogate objective (``clip_coef``, :func:`policy_loss`).
4. Clipped value loss (``clip_vloss``, :func:`value_loss`; SB3 does not clip by default).
5. Entropy bonus (``ent_coef``, :func:`total_loss`).
6. Global gradient-norm clipping (``max_grad_norm``).
7. Linear learning-rate annealing to 0 over the run (``anneal_lr``).
8. Optional early stop of the update epochs when the approximate KL passes ``target_kl``.
9. Adam with eps 1e-5; orthogonal init (gain √2 hidden, 0.01 policy head, 1 value head).
10. Opt-in observation normalisation (``norm_obs``, ``clip_obs``) and reward scaling
    (``norm_reward``, ``clip_reward``): what CleanRL's continuous-action PPO gets from Gymnasium's
    ``NormalizeObservation`` and ``NormalizeReward`` wrappers. Built in rather than wrapped, so the
    running statistics are saved in checkpoints, a resumed run continues them exactly, and
    ``act`` normalises with them (frozen) outside training.
11. Choice scoring (``choice_scoring``, DRRN; a pointer head): when the action picks one of the
    observation's rows (the text worlds' ``choices``; the GUI's element table with
    ``choice_keys``/``choice_verbs``), each row is embedded by one shared layer and its logit is
    its dot product with a query from the rest of the observation, so a command or an element
    is scored alike in whichever slot it appears (:class:`~rewardgym.agents.policies.ActorCritic`).
12. Text parts read as words (``text_keys``): uint8 keys holding UTF-8 text become hashed bags
    of words per row, so an instruction's words and an element's label meet in the same features.
13. Positive listening (``listen_key``, ``listen_coef``; Eccles et al. 2019, "Biases for Emergent
    Communication in Multi-agent Reinforcement Learning"): a bonus for how much the policy's
    action distribution changes when the message it heard (the ``listen_key`` part of the
    observation) is silenced — ``listen_coef · E[‖π(·|o, m) − π(·|o, ∅)‖₁]`` over the rows that
    heard something — so a listener starts to react to messages before they carry meaning,
    which is what makes saying the right thing pay (:meth:`PPO.listening`).
14. Positive signalling (``signal_coef``, ``signal_entropy``; the other half of Eccles et al.):
    a bonus for actions that differ with what the actor sees, ``signal_coef · [H(π̄) −
    (H(π|o) − signal_entropy)²]`` over a minibatch (π̄ its mean action distribution): the mutual
    information between observation and action, with each row's entropy held near a target
    rather than driven to zero (:meth:`PPO.signalling`).

Plus what CleanRL omits and SB3 does: a *truncated* episode bootstraps from the value of its
final observation, a *terminated* one does not. Gymnasium's NEXT_STEP autoreset makes this
free: the observation returned when an episode ends is its final observation, the agent
computes its value on the next step anyway (that step is the reset step, whose action the
env ignores), and the reset step itself is masked out of the loss (``valid``).

Learned rewards come from a :class:`~rewardgym.wrappers.vector.LearnedReward` on the env.
With ``defer=True`` (what ``rewardgym train --reward`` builds) the wrapper keeps the rollout's
transitions and PPO has them scored in one batch before GAE (the VLM-RM pattern).

Past one process, ``learn`` takes a :class:`RolloutCollector` in place of the env: Ray workers
that play the rollouts with copies of the policy (:mod:`rewardgym.agents.ppo_ray`), joined
into one :class:`Rollout` for the same update.

Device: observations are preprocessed (flattened, one-hot) in NumPy once per step. On CPU an
MLP policy acts in NumPy on a snapshot of the weights (torch's per-op dispatch dominates at
rollout sizes) and scores the rollout's log-probs in one batch after it; elsewhere the rollout
runs on the agent's device, each step copying the observation there once and the action back
once. Rewards and flags stay on the host.
The networks are in :mod:`rewardgym.agents.policies`, checkpoints in
:mod:`rewardgym.agents.ppo_checkpoint`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import VectorEnv
from torch import nn

from rewardgym._batch import add_batch_axis
from rewardgym._torch import resolve_device
from rewardgym.agents import ppo_checkpoint as checkpoint
from rewardgym.agents.base import (
    AgentSpec,
    Callback,
    EpisodeTracker,
    Progress,
    as_vector_env,
    check_field_types,
    evaluate_agent,
    read_action_mask,
)
from rewardgym.agents.policies import (
    ACTIVATIONS,
    MASK_KEY,
    VECTOR,
    ActorCritic,
    CHOICE_BODIES,
    CategoricalActions,
    NumpyActorCritic,
)
from rewardgym.agents.spaces import describe_space
from rewardgym.rewards.transforms import RunningMeanStd
from rewardgym.wrappers.vector import DeferredRewards, LearnedReward, deferred_reward

__all__ = ["PPO", "PPOConfig", "RolloutCollector", "compute_gae", "normalize_advantages", "policy_loss",
           "value_loss", "total_loss", "kl_stats"]


@dataclass
class PPOConfig:
    """PPO settings; names and defaults are CleanRL's (its CartPole set).

    CleanRL's continuous-action PPO normalises observations and scales rewards with env wrappers;
    here they are the opt-in ``norm_obs`` / ``norm_reward`` with their clips, named as in SB3's
    ``VecNormalize``. Settings that reach 100% on ``rewardgym/Manip-Reach-v0`` (trained on
    ``Manip-ReachDense-v0``, 8 envs, 100k steps): ``num_steps=64, num_minibatches=8,
    update_epochs=10, learning_rate=3e-4, ent_coef=0.0, norm_obs=True`` (see
    ``benchmarks/manipulation_learning.py``).
    """

    num_steps: int = 128            # steps per env per rollout
    num_minibatches: int = 4
    update_epochs: int = 4
    learning_rate: float = 2.5e-4
    anneal_lr: bool = True
    gamma: float = 0.99
    gae_lambda: float = 0.95
    norm_adv: bool = True
    clip_coef: float = 0.2
    clip_vloss: bool = True
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    target_kl: float | None = None
    hidden_sizes: tuple[int, ...] | None = None  # None: (64, 64) for vector obs, () heads on a CNN trunk
    activation: str = "tanh"
    seed: int = 0
    device: str = "auto"
    norm_obs: bool = False          # normalise the (flattened, non-image) observation by running mean and std
    clip_obs: float = 10.0          # ... then clip it to [-clip_obs, clip_obs]
    norm_reward: bool = False       # divide rewards by the running std of the discounted return
    clip_reward: float = 10.0       # ... then clip them to [-clip_reward, clip_reward]
    critic_only_keys: tuple[str, ...] = ()  # observation keys the critic reads and the actor does not (MAPPO)
    choice_scoring: bool = True     # pick among the observation's rows by scoring each (DRRN; a pointer head)
    choice_keys: tuple[str, ...] = ("choices",)  # the keys whose rows the action points at (row * verbs + verb)
    choice_verbs: int = 1           # actions per row; the actions after rows x verbs get logits of their own
    choice_body: str = "mean"       # the actor's body reads the rows' "mean" (a set of commands) or "all" (a page)
    text_keys: tuple[str, ...] = ()  # uint8 keys holding UTF-8 text, read as hashed bags of words per row
    text_buckets: int = 64          # ... with this many buckets
    listen_key: str | None = None   # positive listening: the observation key holding what was heard ...
    listen_coef: float = 0.0        # ... and the weight of the bonus for reacting to it (trick 13)
    signal_coef: float = 0.0        # positive signalling: the weight of the bonus for acting by what is seen ...
    signal_entropy: float = 0.0     # ... with each row's entropy held near this (trick 14)

    def __post_init__(self) -> None:
        for name in ("critic_only_keys", "choice_keys", "text_keys"):
            if isinstance(getattr(self, name), str):  # one key given alone
                setattr(self, name, (getattr(self, name),))
        for name in ("hidden_sizes", "critic_only_keys", "choice_keys", "text_keys"):  # JSON and the CLI give lists
            if isinstance(getattr(self, name), list):
                setattr(self, name, tuple(getattr(self, name)))
        check_field_types(self)
        for name in ("num_steps", "num_minibatches", "update_epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.choice_body not in CHOICE_BODIES:
            raise ValueError(f"choice_body must be one of {CHOICE_BODIES}, got {self.choice_body!r}")
        for name in ("choice_verbs", "text_buckets"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.hidden_sizes is not None:  # plain ints (NumPy ones would not go into agent.json)
            self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        for name in ("clip_obs", "clip_reward"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["hidden_sizes"] = None if self.hidden_sizes is None else list(self.hidden_sizes)
        for name in ("critic_only_keys", "choice_keys", "text_keys"):
            out[name] = list(getattr(self, name))
        return out


# -- the maths, as plain functions ------------------------------------------------------------
def compute_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    valid: np.ndarray,
    next_value: np.ndarray,
    gamma: float,
    gae_lambda: float,
) -> tuple[np.ndarray, np.ndarray]:
    """GAE(λ) advantages and returns of a NEXT_STEP rollout; all inputs (T, N) but ``next_value`` (N,).

    ``values[t]`` is V(obs_t) and ``next_value`` V(obs_T), the observation after the last step.
    Step t's flags are those ``env.step`` returned at step t. When step t ends an episode, the
    observation at t + 1 is that episode's final observation, so ``values[t + 1]`` is the value
    a truncated episode bootstraps from; a terminated one uses 0. Neither carries advantage
    across the boundary. Step t + 1 is then the reset step: ``valid`` is False there and its
    advantage is 0 (it is left out of the loss).

        δ_t = r_t + γ V(obs_{t+1}) (1 − terminated_t) − V(obs_t)
        Â_t = δ_t + γλ (1 − done_t) Â_{t+1}
    """
    advantages = np.zeros_like(values)
    last = np.zeros_like(next_value)
    not_terminated = 1.0 - np.asarray(terminated, dtype=values.dtype)
    not_done = 1.0 - np.asarray(np.logical_or(terminated, truncated), dtype=values.dtype)
    valid = np.asarray(valid, dtype=values.dtype)
    following = np.concatenate([values[1:], next_value[None]])  # V(obs_{t+1})
    # only the recursion is sequential: δ and the carry factor of every step in one go
    deltas = rewards + gamma * following * not_terminated - values
    carry = gamma * gae_lambda * not_done
    for t in reversed(range(len(deltas))):
        last = (deltas[t] + carry[t] * last) * valid[t]
        advantages[t] = last
    return advantages, advantages + values


def normalize_advantages(advantages: torch.Tensor) -> torch.Tensor:
    """A minibatch's advantages with mean 0 and (sample) standard deviation 1, as CleanRL's."""
    return (advantages - advantages.mean()) / (advantages.std() + 1e-8)


def policy_loss(ratio: torch.Tensor, advantages: torch.Tensor, clip_coef: float) -> torch.Tensor:
    """The clipped surrogate, as a loss: mean of max(−Â·ρ, −Â·clip(ρ, 1 − ε, 1 + ε)).

    The max of the negatives is the min of the objectives: a ratio that moved past the clip in
    the direction the advantage favours earns nothing more (and has no gradient).
    """
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef)
    return torch.max(unclipped, clipped).mean()


def value_loss(new_value: torch.Tensor, old_value: torch.Tensor, returns: torch.Tensor,
               clip_coef: float | None) -> torch.Tensor:
    """½·mean((V − R)²); with ``clip_coef`` the max of that and of V clipped to old ± ε (CleanRL's clip_vloss)."""
    unclipped = (new_value - returns) ** 2
    if clip_coef is None:
        return 0.5 * unclipped.mean()
    clipped = old_value + torch.clamp(new_value - old_value, -clip_coef, clip_coef)
    return 0.5 * torch.max(unclipped, (clipped - returns) ** 2).mean()


def total_loss(pg_loss: torch.Tensor, v_loss: torch.Tensor, entropy: torch.Tensor, ent_coef: float,
               vf_coef: float) -> torch.Tensor:
    """pg − c_ent·H + c_vf·L_V: the entropy is a bonus (minimising the loss raises it)."""
    return pg_loss - ent_coef * entropy + vf_coef * v_loss


def kl_stats(log_ratio: torch.Tensor, ratio: torch.Tensor, clip_coef: float) -> torch.Tensor:
    """[old approx KL, approx KL, clip fraction] of a minibatch (CleanRL's diagnostics).

    The approximate KL is Schulman's unbiased, never negative k3 estimator (ρ − 1) − log ρ;
    the clip fraction is the share of ratios outside [1 − ε, 1 + ε].
    """
    with torch.no_grad():
        return torch.stack([(-log_ratio).mean(), ((ratio - 1) - log_ratio).mean(),
                            ((ratio - 1.0).abs() > clip_coef).float().mean()])


# -- the rollout ----------------------------------------------------------------------------
@dataclass
class Run:
    """What a ``learn`` call carries from one iteration to the next (and what a mid-run checkpoint holds)."""

    env: VectorEnv
    obs: dict[str, np.ndarray]            # the current observation, preprocessed (on the host)
    mask: np.ndarray | None               # the action mask that goes with it
    valid: np.ndarray                     # False where the next step is a reset step
    tracker: EpisodeTracker
    iteration: int                        # iterations done in this run
    num_iterations: int
    start_step: int                       # global step when the run began
    discounted_return: np.ndarray | None  # per env, what norm_reward's statistics follow
    reward: LearnedReward | None = None   # the deferred learned reward on the env, flushed after each rollout
    started: float = field(default_factory=time.perf_counter)
    steps_at_start: int = 0               # global step when this process took the run over


class Rollout:
    """One rollout: per-step observations, actions, log-probs and values (NumPy arrays on CPU,
    tensors on an accelerator), and (T, N) host arrays of rewards and flags."""

    def __init__(self, num_steps: int, num_envs: int):
        self.obs: list[dict[str, Any]] = []
        self.masks: list[np.ndarray | None] = []
        self.actions: list[Any] = []
        self.log_probs: list[Any] = []
        self.outputs: list[np.ndarray] = []  # a NumPy actor's, for the log-probs it scores after the rollout
        self.values: list[Any] = []
        self.rewards = np.zeros((num_steps, num_envs), dtype=np.float32)
        self.terminated = np.zeros((num_steps, num_envs), dtype=bool)
        self.truncated = np.zeros((num_steps, num_envs), dtype=bool)
        self.valid = np.zeros((num_steps, num_envs), dtype=bool)
        self.next_value: torch.Tensor | None = None
        self.reward_stats: dict[str, float] = {}

    def take_rewards(self, scores: DeferredRewards) -> None:
        """Train on a deferred learned reward's mixed rewards; log its two terms' means over the real steps."""
        self.rewards = scores.total.astype(np.float32)
        real = self.valid
        self.reward_stats = {"reward_env_per_step": float(scores.env[real].mean()),
                             "reward_learned_per_step": float(scores.learned[real].mean())}

    def stacked_masks(self) -> np.ndarray | None:
        """(T, N, n) masks, all-True for steps that had none; None when no step had one."""
        present = [m for m in self.masks if m is not None]
        if not present:
            return None
        allow_all = np.ones_like(present[0])
        return np.stack([allow_all if m is None else m for m in self.masks])


@runtime_checkable
class RolloutCollector(Protocol):
    """What PPO's ``learn`` takes in place of a vector env when rollouts are played elsewhere, by workers
    holding copies of the policy (:class:`rewardgym.agents.ppo_ray.RolloutWorkers`, on Ray).

    ``start(agent, seed)`` resets the envs (row ``j`` with ``seed + j``) and keeps their episodes;
    ``collect(agent, tracker)`` plays one rollout of ``agent.config.num_steps`` steps with the agent's
    current weights and returns it as a :class:`Rollout` on the host, rewards scored, its episodes
    counted into ``tracker``.
    """

    num_envs: int
    single_observation_space: spaces.Space
    single_action_space: spaces.Space

    def start(self, agent: PPO, seed: int) -> None: ...

    def collect(self, agent: PPO, tracker: EpisodeTracker) -> Rollout: ...

    def close(self) -> None: ...


@dataclass
class Batch:
    """A rollout flattened to its real transitions (reset steps left out), on the agent's device."""

    obs: dict[str, torch.Tensor]
    actions: torch.Tensor
    masks: torch.Tensor | None
    numbers: torch.Tensor  # (size, 4): old log-prob, old value, advantage, return; one gather for all four

    def __len__(self) -> int:
        return len(self.numbers)

    def __getitem__(self, index: torch.Tensor | slice) -> Batch:
        """The rows ``index`` picks: a gather for an index tensor, views for a slice."""
        return Batch(obs={key: value[index] for key, value in self.obs.items()}, actions=self.actions[index],
                     masks=None if self.masks is None else self.masks[index], numbers=self.numbers[index])


class PPO:
    """PPO for any Gymnasium VectorEnv (NEXT_STEP autoreset) with Discrete, MultiDiscrete or Box actions.

    ``PPO(env, **config)`` with :class:`PPOConfig`'s settings; ``learn(env, total_steps)`` trains,
    ``act(obs)`` acts on a batch, ``save(path)``/``PPO.load(path, env)`` round-trip everything
    including, mid-run, the state needed to finish the run exactly (``learn(env)`` with no
    step count after loading).
    """

    spec: ClassVar[AgentSpec] = AgentSpec("ppo", settings=frozenset(f.name for f in dataclasses.fields(PPOConfig)),
                                          default_num_envs=4, deferred_rewards=True, takes_device=True,
                                          rollout_workers=True)
    name: ClassVar[str] = spec.name

    def __init__(self, env=None, *, observation_space=None, action_space=None, **config: Any):
        self.config = c = PPOConfig(**config)
        if env is not None:
            env = _as_envs(env)
            observation_space, action_space = env.single_observation_space, env.single_action_space
        if observation_space is None or action_space is None:
            raise ValueError("give an env, or observation_space and action_space")
        self.observation_space, self.action_space = observation_space, action_space
        self.device = resolve_device(c.device)
        self.policy = ActorCritic(observation_space, action_space, c.hidden_sizes, c.activation, c.seed, self.device,
                                  critic_only=c.critic_only_keys, choice_scoring=c.choice_scoring,
                                  choice_keys=c.choice_keys, choice_verbs=c.choice_verbs, choice_body=c.choice_body,
                                  text_keys=c.text_keys, text_buckets=c.text_buckets)
        self._parameters = list(self.policy.parameters())
        self.optimizer = torch.optim.Adam(self._parameters, lr=c.learning_rate, eps=1e-5, fused=True)
        self.generator = torch.Generator(self.device).manual_seed(c.seed)
        self.np_random = np.random.default_rng(c.seed)  # CPU rollouts sample in NumPy
        self.global_step = 0
        self._run: Run | None = None
        self._saved_run: dict[str, Any] | None = None  # a mid-run checkpoint's run, until learn() resumes it
        self.preprocess = self.policy.encoder.preprocessor
        if c.norm_obs and not self.preprocess.vector_keys:
            raise ValueError("norm_obs normalises the non-image part of observations, and this space has none")
        self.obs_rms = RunningMeanStd((self.preprocess.vector_width,), epsilon=1e-4) if c.norm_obs else None
        self.return_rms = RunningMeanStd(epsilon=1e-4) if c.norm_reward else None
        self._listen_columns = None
        if c.listen_coef or c.listen_key is not None:
            if c.listen_key not in self.preprocess.columns or not isinstance(self.policy.dist, CategoricalActions):
                raise ValueError(f"listen_key must name a non-image part of the observation read by a policy with "
                                 f"discrete actions (its parts: {', '.join(map(str, self.preprocess.columns))}); got "
                                 f"{c.listen_key!r}")
            self._listen_columns = self.preprocess.columns[c.listen_key]  # a slice: NumPy and torch index alike
        if c.signal_coef and not isinstance(self.policy.dist, CategoricalActions):
            raise ValueError("signal_coef (positive signalling) needs discrete actions: it compares action "
                             "distributions' entropies")
        self._has_obs_mask = isinstance(observation_space, spaces.Dict) and MASK_KEY in observation_space.spaces

    # -- acting -------------------------------------------------------------------------
    def _to_device(self, parts: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        """The one host-to-device copy of a step's (preprocessed, freshly allocated) observation."""
        return {key: torch.from_numpy(value).to(self.device) for key, value in parts.items()}

    def _mask_to_device(self, mask: np.ndarray | None) -> torch.Tensor | None:
        return None if mask is None else torch.from_numpy(mask).to(self.device)

    def observe(self, obs, *, update: bool = False) -> dict[str, np.ndarray]:
        """Preprocess a batch of observations; with ``norm_obs``, normalise its vector part (less the text keys' words).

        ``update`` folds the batch into the running statistics first (the rollout does, once per
        step, as ``NormalizeObservation`` does on every observation it passes on); acting and
        evaluating use the statistics as they are.
        """
        parts = self.preprocess(obs)
        if self.obs_rms is not None:
            if update:
                self.obs_rms.update(parts[VECTOR])
            parts[VECTOR] = self.normalize(parts[VECTOR])
        return parts

    def normalize(self, vector: np.ndarray) -> np.ndarray:
        """``norm_obs``'s transform of preprocessed vectors, with the running statistics as they are."""
        words = self.preprocess.text_columns
        raw = vector[:, words] if len(words) else None
        out = self.obs_rms.normalize(vector, self.config.clip_obs)
        if raw is not None:
            # words are scaled, not centred: x / sqrt(E[x^2]), so an absent word stays 0 and a word on
            # every page stays 1 (centred, a label that never changes would read 0, like an empty row)
            rms = self.obs_rms
            scale = np.sqrt(rms.var[words] + rms.mean[words] ** 2 + 1e-8)
            out[:, words] = np.minimum(raw / scale, self.config.clip_obs)
        return out

    def action_mask(self, obs, info: dict | None) -> np.ndarray | None:
        """The action mask from ``obs["action_mask"]`` or ``info["action_mask"]`` (rows without one allow all)."""
        mask = read_action_mask(obs if self._has_obs_mask else None, info)
        if mask is None:
            return None
        if not isinstance(self.policy.dist, CategoricalActions):
            raise ValueError("action masks need Discrete or MultiDiscrete actions")
        if mask.shape[1] != self.policy.dist.num_outputs:
            raise ValueError(f"action_mask has {mask.shape[1]} entries per row, the action space needs "
                             f"{self.policy.dist.num_outputs}")
        return mask

    def act(self, obs, *, deterministic: bool = False, info: dict | None = None) -> np.ndarray:
        """Actions for a batch of observations (a vector env's), as the env takes them.

        ``info`` (the vector env's last info) supplies the action mask when it is not in ``obs``.
        """
        single = not self.preprocess.is_batched(obs)
        if single:
            obs = add_batch_axis(obs)
        with torch.no_grad():
            action, _, _ = self.policy.act(self._to_device(self.observe(obs)),
                                           self._mask_to_device(self.action_mask(obs, info)), self.generator,
                                           deterministic)
        out = self.policy.dist.to_env(action)
        return out[0] if single else out

    def evaluate(self, env, episodes: int, *, deterministic: bool = False, seed: int | None = None) -> dict:
        return evaluate_agent(self, env, episodes, deterministic=deterministic, seed=seed)

    # -- learning -----------------------------------------------------------------------
    @property
    def unfinished_steps(self) -> int:
        """Env steps left in a run interrupted by a checkpoint (0 when there is none)."""
        run = self._run
        if run is None:
            return 0
        return (run.num_iterations - run.iteration) * self.config.num_steps * len(run.valid)

    def learn(self, env, total_steps: int | None = None, *, callbacks: Iterable[Callback] = (),
              progress: bool = True) -> PPO:
        """Train for ``total_steps`` more env steps (rounded up to whole rollouts).

        With ``total_steps=None``, finish the run a mid-run checkpoint was saved from: the
        learning-rate schedule, the env's state (when the env has ``get_state``), the current
        observations and the random state continue where they were, so on CPU the result equals
        the uninterrupted run's.
        """
        callbacks = list(callbacks)
        if total_steps is None:
            if self._run is None or self._run.iteration >= self._run.num_iterations:
                raise ValueError("nothing to resume: give total_steps (this agent holds no unfinished run)")
            run = self._resume_run(env)
        else:
            if total_steps < 1:
                raise ValueError(f"total_steps must be >= 1, got {total_steps}")
            run = self._start_run(env, total_steps)
        batch_size = self.config.num_steps * run.env.num_envs
        log_every = max(1, run.num_iterations // 200)
        try:
            with Progress(run.num_iterations * batch_size, progress) as bar:
                bar.update(run.iteration * batch_size)
                while run.iteration < run.num_iterations:
                    rollout = self._collect(run)
                    stats = self._update(rollout, run)
                    run.iteration += 1
                    if run.iteration % log_every and run.iteration != run.num_iterations:
                        bar.update(batch_size)
                        continue
                    elapsed = time.perf_counter() - run.started
                    metrics = {"step": float(self.global_step), **run.tracker.summary(), **rollout.reward_stats,
                               **stats, "steps_per_s": (self.global_step - run.steps_at_start) / max(elapsed, 1e-9)}
                    bar.update(batch_size, metrics)
                    if any(callback(metrics) is False for callback in callbacks):
                        break
        finally:
            if self._run is not None and self._run.iteration >= self._run.num_iterations:
                self._run = None
        return self

    def check_env(self, env: VectorEnv) -> None:
        """ValueError unless ``env``'s spaces are the ones the agent was built for."""
        for what, ours, theirs in (("observation", self.observation_space, env.single_observation_space),
                                   ("action", self.action_space, env.single_action_space)):
            if describe_space(ours) != describe_space(theirs):
                raise ValueError(f"the env's {what} space {theirs} differs from the agent's {ours}")

    def _start_run(self, env, total_steps: int) -> Run:
        env = _as_envs(env)
        self.check_env(env)
        num_iterations = max(1, math.ceil(total_steps / (self.config.num_steps * env.num_envs)))
        reward = _deferred_reward(env)
        obs, mask = self._first_step(*self._reset(env))
        self._run = Run(env=env, obs=obs, mask=mask, valid=np.ones(env.num_envs, dtype=bool),
                        tracker=EpisodeTracker(env.num_envs), iteration=0, num_iterations=num_iterations,
                        start_step=self.global_step, discounted_return=self.fresh_returns(env.num_envs),
                        reward=reward, steps_at_start=self.global_step)
        return self._run

    def _reset(self, env) -> tuple[Any, dict]:
        """Reset the envs for a run, row ``j`` with ``seed + global_step + j``: the first observation and info.
        Rollout workers reset their own envs and keep the episodes: ``(None, {})``."""
        seed = self.config.seed + self.global_step
        if isinstance(env, RolloutCollector):
            env.start(self, seed)
            return None, {}
        return env.reset(seed=seed)

    def _first_step(self, obs, info: dict) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """A run's first observation, preprocessed (and folded into ``norm_obs``), and its action mask."""
        if obs is None:  # held by the rollout workers
            return {}, None
        return self.observe(obs, update=True), self.action_mask(obs, info)

    def _resume_run(self, env) -> Run:
        """Take over the run a loaded mid-run checkpoint was saved from (:meth:`learn` with no step count)."""
        saved, run = self._saved_run, self._run
        env = _as_envs(env)
        self.check_env(env)
        if env.num_envs != int(saved["num_envs"]):
            raise ValueError(f"the checkpoint's run used {int(saved['num_envs'])} envs, this env has {env.num_envs}")
        run.env, run.reward = env, _deferred_reward(env)
        obs, info = self._reset(env)
        # rollout workers, or an env that cannot restore its state: continue from fresh episodes
        if obs is None or not checkpoint.restore_env(run, saved):
            run.obs, run.mask = self._first_step(obs, info)
            run.valid = np.ones(env.num_envs, dtype=bool)
            run.discounted_return = self.fresh_returns(env.num_envs)
        run.steps_at_start, run.started = self.global_step, time.perf_counter()
        self._saved_run = None
        return run

    def fresh_returns(self, num_envs: int) -> np.ndarray | None:
        """``norm_reward``'s per-env discounted returns at the start of a run (None without it)."""
        return np.zeros(num_envs) if self.return_rms is not None else None

    def _collect(self, run: Run) -> Rollout:
        """One rollout of ``num_steps`` steps of every env: played here, or by the rollout workers."""
        if isinstance(run.env, RolloutCollector):
            rollout = run.env.collect(self, run.tracker)
        else:
            rollout = self.play_rollout(run)
        self.global_step += self.config.num_steps * run.env.num_envs
        return rollout

    def play_rollout(self, run: Run) -> Rollout:
        """Step the envs ``num_steps`` times; then the deferred learned reward scores the whole rollout."""
        num_steps, num_envs = self.config.num_steps, run.env.num_envs
        rollout = Rollout(num_steps, num_envs)
        numpy_rollout = self.device.type == "cpu" and not self.policy.encoder.shared
        with torch.no_grad():
            if numpy_rollout:  # on CPU an MLP acts in NumPy: one matrix product per layer, no torch dispatch
                policy = NumpyActorCritic(self.policy)
                self._rollout_steps(run, rollout, policy, self.np_random, on_device=False)
                # every step's log-prob in one go: a NumPy call costs about as much for 4 rows as for 512
                rollout.log_probs = list(policy.log_prob(np.stack(rollout.outputs), np.stack(rollout.actions),
                                                         rollout.stacked_masks()))
            else:
                self._rollout_steps(run, rollout, self.policy, self.generator, on_device=True)
            rollout.next_value = self.policy.value(self._to_device(run.obs))
        if run.reward is not None:
            rollout.take_rewards(run.reward.flush())
        return rollout

    def _rollout_steps(self, run: Run, rollout: Rollout, policy, rng, on_device: bool) -> None:
        """The hot loop. ``on_device``: act in torch on the agent's device; else act in NumPy on the host."""
        env, dist = run.env, self.policy.dist
        for t in range(self.config.num_steps):
            if on_device:
                obs = self._to_device(run.obs)  # the step's one host-to-device copy
                action, log_prob, value = policy.act(obs, self._mask_to_device(run.mask), rng)
                rollout.log_probs.append(log_prob)
            else:
                obs = run.obs
                action, out, value = policy.draw(obs, run.mask, rng)
                rollout.outputs.append(out)  # scored into log-probs after the rollout (_collect)
            rollout.obs.append(obs)
            rollout.masks.append(run.mask)
            rollout.valid[t] = run.valid
            rollout.actions.append(action)
            rollout.values.append(value)
            next_obs, reward, terminated, truncated, info = env.step(dist.to_env(action))  # one device-to-host copy
            rollout.rewards[t], rollout.terminated[t], rollout.truncated[t] = reward, terminated, truncated
            run.tracker.update(reward, terminated, truncated, info)
            run.valid = ~(rollout.terminated[t] | rollout.truncated[t])
            run.obs, run.mask = self.observe(next_obs, update=True), self.action_mask(next_obs, info)

    def _update(self, rollout: Rollout, run: Run) -> dict[str, float]:
        """GAE, then ``update_epochs`` passes of clipped PPO over shuffled minibatches."""
        c = self.config
        if c.anneal_lr:  # trick 7
            frac = 1.0 - run.iteration / run.num_iterations
            self.optimizer.param_groups[0]["lr"] = frac * c.learning_rate
        rewards = rollout.rewards
        if self.return_rms is not None:  # trick 10
            rewards = self.scale_rewards(rewards, rollout, run)
        batch = self.flatten(rollout, rewards)
        size = len(batch)
        if size == 0:  # every step of the rollout was a reset step (num_steps 1): nothing to learn from
            return {"learning_rate": self.optimizer.param_groups[0]["lr"], "update_epochs_run": 0}
        num_minibatches = min(c.num_minibatches, size)
        losses = torch.zeros(3, device=self.device)  # policy loss, value loss, entropy: sums over minibatches
        kl_sums = torch.zeros(3, device=self.device)  # old approx KL, approx KL, clip fraction: sums over epochs
        count = epochs = 0
        # tensor_split's sections: the first size % num_minibatches ones a row longer
        share, extra = divmod(size, num_minibatches)
        edges = [i * share + min(i, extra) for i in range(num_minibatches + 1)]
        minibatches = [slice(start, stop) for start, stop in zip(edges[:-1], edges[1:])]
        for _ in range(c.update_epochs):
            # shuffle the whole batch once (one gather per tensor), so each minibatch is a slice of views
            shuffled = batch[torch.randperm(size, generator=self.generator, device=self.device)]
            for minibatch in minibatches:
                # only the epoch's last minibatch's KL is logged (and stopped on): the others skip computing it
                loss, parts, kl = self.minibatch_loss(shuffled, minibatch, with_kl=minibatch is minibatches[-1])
                for parameter in self._parameters:  # optimizer.zero_grad(), without its per-call overhead
                    parameter.grad = None
                loss.backward()
                nn.utils.clip_grad_norm_(self._parameters, c.max_grad_norm, foreach=True)  # trick 6
                self.optimizer.step()
                losses += parts
                count += 1
            kl_sums += kl  # the epoch's last minibatch, as CleanRL logs approx_kl (and stops on it)
            epochs += 1
            if c.target_kl is not None and kl[1].item() > c.target_kl:  # trick 8
                break  # early stop: the policy moved too far from the one that collected the data

        loss_means, kl_means = (losses / max(count, 1)).tolist(), (kl_sums / epochs).tolist()
        b_values, b_returns = batch.numbers[:, 1], batch.numbers[:, 3]
        var_returns = b_returns.var().item() if size > 1 else 0.0
        explained = float("nan") if var_returns == 0 else 1 - (b_returns - b_values).var().item() / var_returns
        return {"policy_loss": loss_means[0], "value_loss": loss_means[1], "entropy": loss_means[2],
                "old_approx_kl": kl_means[0], "approx_kl": kl_means[1], "clipfrac": kl_means[2],
                "explained_variance": explained, "learning_rate": self.optimizer.param_groups[0]["lr"],
                "update_epochs_run": epochs}

    def flatten(self, rollout: Rollout, rewards: np.ndarray) -> Batch:
        """GAE over the rollout (trick 1, on the host: a short sequential loop of tiny operations), then
        the (T, N) steps flattened to the real transitions, on the device."""
        c, device = self.config, self.device
        values = stack_steps(rollout.values, device)
        advantages, returns = compute_gae(rewards, values.cpu().numpy(), rollout.terminated, rollout.truncated,
                                          rollout.valid, rollout.next_value.cpu().numpy(), c.gamma, c.gae_lambda)
        keep = torch.as_tensor(np.flatnonzero(rollout.valid), device=device)  # reset steps are no transitions
        masks = rollout.stacked_masks()
        return Batch(
            obs={key: stack_steps([step[key] for step in rollout.obs], device).flatten(0, 1)[keep]
                 for key in rollout.obs[0]},
            actions=stack_steps(rollout.actions, device).flatten(0, 1)[keep],
            masks=None if masks is None else torch.from_numpy(masks).to(device).flatten(0, 1)[keep],
            numbers=torch.stack([stack_steps(rollout.log_probs, device).reshape(-1), values.reshape(-1),
                                 torch.from_numpy(advantages.reshape(-1)).to(device),
                                 torch.from_numpy(returns.reshape(-1)).to(device)], dim=1)[keep],
        )

    def minibatch_loss(self, batch: Batch, minibatch: torch.Tensor | slice, with_kl: bool = True):
        """The loss of one minibatch, ``[policy loss, value loss, entropy]`` (detached) and :func:`kl_stats`
        (None without ``with_kl``: only each epoch's last minibatch's is logged)."""
        c, rows = self.config, batch[minibatch]
        new_log_prob, entropy, new_value = self.policy.evaluate_actions(rows.obs, rows.actions, rows.masks)
        old_log_prob, old_value, advantages, returns = rows.numbers.unbind(1)
        log_ratio = new_log_prob - old_log_prob
        ratio = log_ratio.exp()
        if c.norm_adv and len(rows) > 1:  # trick 2
            advantages = normalize_advantages(advantages)
        pg_loss = policy_loss(ratio, advantages, c.clip_coef)  # trick 3
        v_loss = value_loss(new_value, old_value, returns, c.clip_coef if c.clip_vloss else None)  # trick 4
        entropy_mean = entropy.mean()
        loss = total_loss(pg_loss, v_loss, entropy_mean, c.ent_coef, c.vf_coef)  # trick 5
        if c.listen_coef:  # trick 13
            loss = loss - c.listen_coef * self.listening(rows.obs, rows.masks)
        if c.signal_coef:  # trick 14
            loss = loss - c.signal_coef * self.signalling(rows.obs, rows.masks)
        parts = torch.stack([pg_loss.detach(), v_loss.detach(), entropy_mean.detach()])
        return loss, parts, kl_stats(log_ratio, ratio, c.clip_coef) if with_kl else None

    def listening(self, obs: dict[str, torch.Tensor], mask: torch.Tensor | None) -> torch.Tensor:
        """Mean L1 distance between the policy's action distribution and the one it would have with the
        ``listen_key`` part silenced (all zeros, as normalised now), over the rows that heard something."""
        features = obs[VECTOR]
        silent = features.clone()
        silent[:, self._listen_columns] = torch.as_tensor(self._silence(), device=features.device)
        heard = (features[:, self._listen_columns] != silent[:, self._listen_columns]).any(dim=1)
        if not heard.any():
            return features.new_zeros(())
        rows = {**obs, VECTOR: torch.cat([features[heard], silent[heard]])}
        mask = None if mask is None else torch.cat([mask[heard], mask[heard]])
        probs = self.policy.action_log_probs(rows, mask).exp()
        spoken, silenced = probs.chunk(2)
        return (spoken - silenced).abs().sum((-2, -1)).mean()

    def signalling(self, obs: dict[str, torch.Tensor], mask: torch.Tensor | None) -> torch.Tensor:
        """H(mean action distribution) − (mean H(π|o) − signal_entropy)² over the rows of ``obs``."""
        log_probs = self.policy.action_log_probs(obs, mask)
        probs = log_probs.exp()
        mean = probs.mean(0)
        marginal = -(mean * mean.clamp_min(1e-12).log()).sum()
        conditional = -(probs * log_probs).sum((-2, -1)).mean()
        return marginal - (conditional - self.config.signal_entropy) ** 2

    def _silence(self) -> np.ndarray:
        """The ``listen_key`` columns of an all-zero observation, normalised as the rollout normalises."""
        zero = np.zeros((1, self.preprocess.vector_width), np.float32)
        return (zero if self.obs_rms is None else self.normalize(zero))[0, self._listen_columns]

    def scale_rewards(self, rewards: np.ndarray, rollout: Rollout, run: Run) -> np.ndarray:
        """``norm_reward``: each step's rewards over the running std of the discounted return, clipped.

        As Gymnasium's ``NormalizeReward``, step by step: each env's return ``G ← γ G + r``
        (restarting with each episode; reset steps are no part of one) updates the statistics,
        then the step's rewards are divided by their std. The return carries across rollouts.
        """
        c, returns, rms = self.config, run.discounted_return, self.return_rms
        done = rollout.terminated | rollout.truncated
        out = np.zeros_like(rewards)
        for t in range(len(rewards)):
            live = rollout.valid[t]
            if live.any():
                returns[live] = returns[live] * c.gamma + rewards[t][live]
                rms.update(returns[live])
            out[t] = np.clip(rewards[t] / np.sqrt(rms.var + 1e-8), -c.clip_reward, c.clip_reward)
            returns[done[t]] = 0.0
        return out

    # -- saving and loading (rewardgym.agents.ppo_checkpoint) -------------------------------
    def save(self, path) -> None:
        """A folder: ``agent.json`` (config, spaces) and ``checkpoint.pt`` (weights, optimiser, RNG, step, run)."""
        checkpoint.save(self, path)

    @classmethod
    def load(cls, path, env=None, **overrides: Any) -> PPO:
        """Rebuild a saved agent; ``overrides`` replace config entries (``device``, ...)."""
        meta, state, observation_space, action_space = checkpoint.read(path, cls.name)
        try:
            agent = cls(observation_space=observation_space, action_space=action_space,
                        **{**meta["config"], **overrides})
        except TypeError as exc:
            raise ValueError(f"{Path(path) / 'agent.json'} has a bad config: {exc}") from None
        if env is not None:
            agent.check_env(_as_envs(env))
        checkpoint.restore(agent, state, path)
        saved = agent._saved_run = state.get("run")
        if saved is not None:  # a mid-run checkpoint: learn(env) with no step count finishes the run
            agent._run = Run(env=None, obs={}, mask=None, valid=saved["valid"].numpy(),
                             tracker=EpisodeTracker(int(saved["num_envs"])), iteration=int(saved["iteration"]),
                             num_iterations=int(saved["num_iterations"]), start_step=int(saved["start_step"]),
                             discounted_return=None)
        return agent


def _as_envs(env) -> VectorEnv | RolloutCollector:
    """A vector env (a single env becomes one), or rollout workers as they are."""
    return env if isinstance(env, RolloutCollector) else as_vector_env(env)


def _deferred_reward(env) -> LearnedReward | None:
    """The env's deferred learned reward; rollout workers score their own (they hold none here)."""
    return None if isinstance(env, RolloutCollector) else deferred_reward(env)


def stack_steps(items: list, device: torch.device) -> torch.Tensor:
    """Per-step arrays or tensors -> one (T, ...) tensor on ``device`` (a rollout's steps, for the update or,
    on a Ray rollout worker, for the trip to the learner)."""
    if isinstance(items[0], torch.Tensor):
        return torch.stack(items)
    return torch.from_numpy(np.stack(items)).to(device)
