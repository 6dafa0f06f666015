"""Proximal Policy Optimization (Schulman et al. 2017), the whole algorithm in one file.

The maths follows CleanRL's ``ppo.py``; every trick is named where it happens:

1. GAE(λ) advantages; returns = advantages + values.
2. Per-minibatch advantage normalisation (``norm_adv``).
3. Clipped surrogate objective (``clip_coef``).
4. Clipped value loss (``clip_vloss``; SB3 does not clip by default).
5. Entropy bonus (``ent_coef``).
6. Global gradient-norm clipping (``max_grad_norm``).
7. Linear learning-rate annealing to 0 over the run (``anneal_lr``).
8. Optional early stop of the update epochs when the approximate KL passes ``target_kl``.
9. Adam with eps 1e-5; orthogonal init (gain √2 hidden, 0.01 policy head, 1 value head).
10. Opt-in observation normalisation (``norm_obs``, ``clip_obs``) and reward scaling
    (``norm_reward``, ``clip_reward``): what CleanRL's continuous-action PPO gets from Gymnasium's
    ``NormalizeObservation`` and ``NormalizeReward`` wrappers. Built in rather than wrapped, so the
    running statistics are saved in checkpoints, a resumed run continues them exactly, and
    ``act`` normalises with them (frozen) outside training.

Plus what CleanRL omits and SB3 does: a *truncated* episode bootstraps from the value of its
final observation, a *terminated* one does not. Gymnasium's NEXT_STEP autoreset makes this
free: the observation returned when an episode ends is its final observation, the agent
computes its value on the next step anyway (that step is the reset step, whose action the
env ignores), and the reset step itself is masked out of the loss (``valid``).

Spaces: Discrete and MultiDiscrete actions (categorical, with invalid-action masks from
``obs["action_mask"]`` or ``info["action_mask"]``), Box actions (Gaussian with a
state-independent log-std, clipped to the bounds when sent to the env); Box, Discrete,
MultiDiscrete, MultiBinary and Dict observations (uint8 image boxes through a Nature-CNN,
the rest through MLPs).

Device: observations are preprocessed (flattened, one-hot) in NumPy once per step. On CPU
the rollout acts in NumPy on a snapshot of the weights (torch's per-op dispatch dominates at
rollout sizes); elsewhere the rollout lives on the agent's device, each step copying the
observation to it once and the action back once. Rewards and done flags stay on the host
until the rollout ends. A reward model given as ``reward_model`` scores the whole rollout in
one batch before GAE (deferred scoring, the VLM-RM pattern).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import VectorEnv
from torch import nn

from rewardgym._batch import copy_batch
from rewardgym.agents.base import (
    Callback,
    EpisodeTracker,
    Progress,
    as_vector_env,
    evaluate_agent,
    read_agent_file,
    write_agent_file,
)
from rewardgym.agents.spaces import describe_space, space_from_description
from rewardgym.reward_models.base import Transitions, VectorInfos

CHECKPOINT_FILE = "checkpoint.pt"
CHECKPOINT_FORMAT = 1
MASK_KEY = "action_mask"
_MASKED_LOGIT = -1e9  # exp() underflows to exactly 0, yet 0 * logit stays finite in the entropy


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
    reward_model: Any = None        # a RewardModel or a spec string: deferred scoring of each rollout
    reward_mode: str = "add"        # "add": env reward + coef * learned; "replace": coef * learned
    reward_coef: float = 1.0
    norm_obs: bool = False          # normalise the (flattened, non-image) observation by running mean and std
    clip_obs: float = 10.0          # ... then clip it to [-clip_obs, clip_obs]
    norm_reward: bool = False       # divide rewards by the running std of the discounted return
    clip_reward: float = 10.0       # ... then clip them to [-clip_reward, clip_reward]

    def __post_init__(self) -> None:
        for name in ("num_steps", "num_minibatches", "update_epochs"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {self.activation!r}")
        if self.reward_mode not in ("add", "replace"):
            raise ValueError(f"reward_mode must be 'add' or 'replace', got {self.reward_mode!r}")
        if self.hidden_sizes is not None:
            self.hidden_sizes = tuple(int(h) for h in self.hidden_sizes)
        for name in ("clip_obs", "clip_reward"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["hidden_sizes"] = None if self.hidden_sizes is None else list(self.hidden_sizes)
        if not isinstance(self.reward_model, (str, type(None))):
            out["reward_model"] = None  # an object cannot be saved; pass it again to load()
        return out


_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}
_ACTIVATION_FUNCTIONS = {"tanh": torch.tanh, "relu": torch.relu}


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` is CUDA when available, else CPU; anything else as torch reads it."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"bad device {device!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device} asked for, but torch sees no CUDA device")
    return device


# -- GAE ------------------------------------------------------------------------------------
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
    num_steps = rewards.shape[0]
    advantages = np.zeros_like(values)
    last = np.zeros_like(next_value)
    not_terminated = 1.0 - np.asarray(terminated, dtype=values.dtype)
    not_done = 1.0 - np.asarray(np.logical_or(terminated, truncated), dtype=values.dtype)
    valid = np.asarray(valid, dtype=values.dtype)
    for t in reversed(range(num_steps)):
        following = next_value if t == num_steps - 1 else values[t + 1]
        delta = rewards[t] + gamma * following * not_terminated[t] - values[t]
        last = (delta + gamma * gae_lambda * not_done[t] * last) * valid[t]
        advantages[t] = last
    return advantages, advantages + values


# -- normalisation --------------------------------------------------------------------------
class RunningMeanStd:
    """Running mean and variance of a stream of batches (Chan et al.'s parallel update), in float64.

    The statistics behind Gymnasium's ``NormalizeObservation`` / ``NormalizeReward`` (which
    CleanRL's continuous-action PPO uses) and SB3's ``VecNormalize``: the count starts at 1e-4,
    the mean at 0 and the variance at 1, so the first batch all but replaces them.
    """

    def __init__(self, shape: tuple[int, ...] = (), epsilon: float = 1e-4):
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = float(epsilon)

    def update(self, batch: np.ndarray) -> None:
        """Fold in a batch of rows (shape (B, *shape))."""
        batch = np.asarray(batch, dtype=np.float64)
        batch_mean, batch_var, batch_count = batch.mean(axis=0), batch.var(axis=0), batch.shape[0]
        delta = batch_mean - self.mean
        total = self.count + batch_count
        # np.asarray: keep 0-d arrays (NumPy makes scalars of 0-d arithmetic)
        self.mean = np.asarray(self.mean + delta * (batch_count / total))
        self.var = np.asarray((self.var * self.count + batch_var * batch_count
                               + delta * delta * (self.count * batch_count / total)) / total)
        self.count = total

    def normalize(self, x: np.ndarray, clip: float) -> np.ndarray:
        """``(x - mean) / sqrt(var + 1e-8)`` clipped to [-clip, clip], as float32."""
        out = np.clip((x - self.mean) / np.sqrt(self.var + 1e-8), -clip, clip)
        return out.astype(np.float32)

    def state(self) -> dict[str, Any]:
        return {"mean": torch.from_numpy(self.mean.copy()), "var": torch.from_numpy(self.var.copy()),
                "count": self.count}

    def load_state(self, state: dict[str, Any]) -> None:
        mean, var = state["mean"].numpy().astype(np.float64), state["var"].numpy().astype(np.float64)
        if mean.shape != self.mean.shape or var.shape != self.var.shape:
            raise ValueError(f"running statistics of shape {tuple(mean.shape)}, the agent needs {self.mean.shape}")
        self.mean, self.var, self.count = mean, var, float(state["count"])


# -- networks -------------------------------------------------------------------------------
def layer_init(layer: nn.Module, gain: float, generator: torch.Generator) -> nn.Module:
    """Orthogonal weights with ``gain``, zero bias (CleanRL's ``layer_init``)."""
    nn.init.orthogonal_(layer.weight, gain, generator=generator)
    nn.init.zeros_(layer.bias)
    return layer


def mlp(sizes: Sequence[int], activation: type[nn.Module], generator: torch.Generator) -> nn.Sequential:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [layer_init(nn.Linear(fan_in, fan_out), math.sqrt(2), generator), activation()]
    return nn.Sequential(*layers)


def is_image_space(space: spaces.Space) -> bool:
    """A uint8 box (H, W, C) or (C, H, W) with C in 1, 3, 4 and sides of at least 36 pixels."""
    if not isinstance(space, spaces.Box) or space.dtype != np.uint8 or len(space.shape) != 3:
        return False
    shape = space.shape
    return (shape[-1] in (1, 3, 4) and min(shape[:2]) >= 36) or (shape[0] in (1, 3, 4) and min(shape[1:]) >= 36)


class NatureCNN(nn.Module):
    """The DQN-Nature encoder (32-64-64 convolutions, 512 features) over uint8 images scaled to [0, 1]."""

    def __init__(self, space: spaces.Box, generator: torch.Generator, features: int = 512):
        super().__init__()
        self.channels_last = space.shape[-1] in (1, 3, 4) and min(space.shape[:2]) >= 36  # as is_image_space
        channels = space.shape[-1] if self.channels_last else space.shape[0]
        self.conv = nn.Sequential(
            layer_init(nn.Conv2d(channels, 32, 8, stride=4), math.sqrt(2), generator), nn.ReLU(),
            layer_init(nn.Conv2d(32, 64, 4, stride=2), math.sqrt(2), generator), nn.ReLU(),
            layer_init(nn.Conv2d(64, 64, 3, stride=1), math.sqrt(2), generator), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.conv(torch.zeros(1, *self._chw(space.shape))).shape[1]
        self.head = nn.Sequential(layer_init(nn.Linear(flat, features), math.sqrt(2), generator), nn.ReLU())
        self.out_features = features

    def _chw(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (shape[2], shape[0], shape[1]) if self.channels_last else tuple(shape)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = image.float() / 255.0
        if self.channels_last:
            x = x.permute(0, 3, 1, 2)
        return self.head(self.conv(x))


def observation_leaves(space: spaces.Space) -> dict[str | None, spaces.Space]:
    """The observation parts a policy reads: the Dict's keys (less ``action_mask``), or {None: space}."""
    if isinstance(space, spaces.Dict):
        return {key: sub for key, sub in space.spaces.items() if key != MASK_KEY}
    return {None: space}


def flat_size(space: spaces.Space) -> int:
    """Width of a non-image part once flattened (one-hot for discrete parts)."""
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.MultiDiscrete):
        return int(space.nvec.sum())
    if isinstance(space, (spaces.Box, spaces.MultiBinary)):
        return int(np.prod(space.shape))
    raise ValueError(f"PPO cannot read {type(space).__name__} observations")


VECTOR = "vector"
IMAGE_PREFIX = "image/"


class ObservationPreprocessor:
    """Batched observations (arrays, or a Dict's arrays) -> the parts the network reads, in NumPy.

    ``{"vector": (B, F) float32}`` holds every non-image part flattened (discrete parts one-hot)
    and concatenated; ``{"image/<key>": (B, H, W, C) uint8}`` holds each image part. The arrays
    are always fresh copies, since envs may reuse their observation buffers. Preprocessing has
    no weights, so it runs once per step on the host for the rollout and the update alike.
    """

    def __init__(self, space: spaces.Space):
        self.leaves = observation_leaves(space)
        self.image_keys = [key for key, sub in self.leaves.items() if is_image_space(sub)]
        self.vector_keys = [key for key in self.leaves if key not in self.image_keys]
        self.vector_width = sum(flat_size(self.leaves[key]) for key in self.vector_keys)

    def __call__(self, obs) -> dict[str, np.ndarray]:
        try:
            parts = {key: np.asarray(obs if key is None else obs[key]) for key in self.leaves}
        except (KeyError, TypeError, IndexError):
            raise ValueError(f"observation lacks the parts the agent was built for: {list(self.leaves)}") from None
        out = {f"{IMAGE_PREFIX}{key}": np.array(parts[key], dtype=np.uint8) for key in self.image_keys}
        if self.vector_keys:
            flat = [self._flatten(self.leaves[key], parts[key]) for key in self.vector_keys]
            out[VECTOR] = flat[0] if len(flat) == 1 else np.concatenate(flat, axis=1)
        return out

    @staticmethod
    def _flatten(space: spaces.Space, x: np.ndarray) -> np.ndarray:
        if isinstance(space, spaces.Discrete):
            return np.eye(int(space.n), dtype=np.float32)[x.astype(np.int64) - int(space.start)]
        if isinstance(space, spaces.MultiDiscrete):
            x = (x - space.start).reshape(len(x), -1).astype(np.int64)
            return np.concatenate([np.eye(int(n), dtype=np.float32)[x[:, i]]
                                   for i, n in enumerate(space.nvec.ravel())], axis=1)
        return x.reshape(len(x), -1).astype(np.float32)

    def is_batched(self, obs) -> bool:
        key, sub = next(iter(self.leaves.items()))
        return np.ndim(obs if key is None else obs[key]) == len(sub.shape) + 1


class ObservationEncoder(nn.Module):
    """Preprocessed parts (tensors on the device) -> one float feature vector per row.

    Without images this is the identity on ``parts["vector"]`` and holds no weights: the actor
    and the critic each read it through their own MLP, as CleanRL's classic-control PPO. With
    images, each goes through a :class:`NatureCNN`, the vector part through one MLP, and the
    trunk is shared, as CleanRL's Atari PPO.
    """

    def __init__(self, space: spaces.Space, activation: type[nn.Module], generator: torch.Generator):
        super().__init__()
        pre = ObservationPreprocessor(space)
        self.images = nn.ModuleDict({f"{IMAGE_PREFIX}{key}": NatureCNN(pre.leaves[key], generator)
                                     for key in pre.image_keys})
        width = pre.vector_width
        self.has_vector = bool(pre.vector_keys)
        self.vector_mlp: nn.Module = nn.Identity()
        self.out_features = width
        if self.images:
            if width:
                self.vector_mlp = mlp([width, 64, 64], activation, generator)
            self.out_features = sum(cnn.out_features for cnn in self.images.values()) + (64 if width else 0)

    @property
    def shared(self) -> bool:
        return bool(self.images)

    def forward(self, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        if not self.images:
            return parts[VECTOR]
        features = [cnn(parts[key]) for key, cnn in self.images.items()]
        if self.has_vector:
            features.append(self.vector_mlp(parts[VECTOR]))
        return features[0] if len(features) == 1 else torch.cat(features, dim=1)


class CategoricalActions:
    """Discrete or MultiDiscrete actions: one categorical per dimension, padded to (B, D, max n).

    Invalid actions (mask False) and padding get a logit of -1e9, so they have probability 0
    and are never sampled (Gumbel-max sampling). A mask is (B, n) for Discrete, (B, Σ nvec)
    for MultiDiscrete (dimensions concatenated, as sb3-contrib's MaskablePPO).
    """

    def __init__(self, space: spaces.Discrete | spaces.MultiDiscrete, device: torch.device):
        if isinstance(space, spaces.Discrete):
            nvec, start, self.shape = np.array([space.n]), np.array([space.start]), ()
        else:
            nvec, start, self.shape = space.nvec.ravel(), space.start.ravel(), space.nvec.shape
        self.dims, self.width = len(nvec), int(nvec.max())
        self.num_outputs = int(nvec.sum())
        self.start = start.astype(np.int64)
        self.padded = bool((nvec != self.width).any())
        self._dims_np = np.arange(self.dims)[None, :]
        if self.padded:  # where each padded slot reads from the flat logits; the extra last column is padding
            offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]])
            slots = np.full((self.dims, self.width), self.num_outputs)
            for d, (offset, n) in enumerate(zip(offsets, nvec)):
                slots[d, :n] = offset + np.arange(n)
            self.slots_np = slots.ravel()
            self.slots = torch.as_tensor(self.slots_np, device=device)

    def _log_probs(self, flat: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        batch = flat.shape[0]
        if mask is not None:
            flat = torch.where(mask, flat, _MASKED_LOGIT)
        if self.padded:
            flat = torch.cat([flat, flat.new_full((batch, 1), _MASKED_LOGIT)], dim=1)[:, self.slots]
        return torch.log_softmax(flat.view(batch, self.dims, self.width), dim=-1)

    def sample(self, params: torch.Tensor, mask, generator, deterministic: bool):
        log_probs = self._log_probs(params, mask)
        if deterministic:
            action = log_probs.argmax(dim=-1)
        else:
            # Gumbel-max: argmax(log p + G), G = -log(-log U). U = 0 gives G = -inf, never a pick.
            gumbel = torch.rand(log_probs.shape, generator=generator, device=log_probs.device).log_().neg_().log_()
            action = (log_probs - gumbel).argmax(dim=-1)
        return action, log_probs.gather(-1, action.unsqueeze(-1)).squeeze(-1).sum(-1)

    def sample_numpy(self, flat: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator,
                     deterministic: bool):
        """:meth:`sample` in NumPy, for the CPU rollout (the normalisation does not move the argmax)."""
        batch = len(flat)
        if mask is not None:
            flat = np.where(mask, flat, np.float32(_MASKED_LOGIT))
        if self.padded:
            flat = np.concatenate([flat, np.full((batch, 1), _MASKED_LOGIT, flat.dtype)], axis=1)[:, self.slots_np]
        logits = flat.reshape(batch, self.dims, self.width)
        if deterministic:
            action = logits.argmax(axis=-1)
        else:
            with np.errstate(divide="ignore"):  # U = 0 gives G = -inf: never a pick
                gumbel = -np.log(-np.log(rng.random(logits.shape, dtype=np.float32)))
            action = (logits + gumbel).argmax(axis=-1)
        peak = logits.max(axis=-1)
        log_norm = peak + np.log(np.exp(logits - peak[..., None]).sum(axis=-1))
        picked = logits[np.arange(batch)[:, None], self._dims_np, action]
        return action, (picked - log_norm).sum(axis=-1)

    def log_prob_entropy(self, params: torch.Tensor, action: torch.Tensor, mask):
        log_probs = self._log_probs(params, mask)
        log_prob = log_probs.gather(-1, action.long().unsqueeze(-1)).squeeze(-1).sum(-1)
        entropy = -(log_probs.exp() * log_probs).sum((-2, -1))
        return log_prob, entropy

    def to_env(self, action: torch.Tensor | np.ndarray) -> np.ndarray:
        """(B, D) indices -> the env's action batch, ``start`` added."""
        out = (action.cpu().numpy() if isinstance(action, torch.Tensor) else action) + self.start
        return out[:, 0] if self.shape == () else out.reshape(-1, *self.shape)


class GaussianActions:
    """Box actions: a diagonal Gaussian with a state-independent log-std; clipped to the bounds for the env."""

    def __init__(self, space: spaces.Box, device: torch.device):
        self.shape, self.dtype = space.shape, space.dtype
        self.num_outputs = int(np.prod(space.shape))
        self.low, self.high = space.low.ravel(), space.high.ravel()

    def sample(self, params: tuple[torch.Tensor, torch.Tensor], mask, generator, deterministic: bool):
        mean, log_std = params
        if deterministic:
            action = mean
        else:
            noise = torch.randn(mean.shape, generator=generator, device=mean.device)
            action = mean + log_std.exp() * noise
        return action, self._log_prob(mean, log_std, action)

    @staticmethod
    def _log_prob(mean, log_std, action):
        z = (action - mean) / log_std.exp()
        return (-0.5 * z.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)

    def sample_numpy(self, params: tuple[np.ndarray, np.ndarray], mask, rng: np.random.Generator,
                     deterministic: bool):
        """:meth:`sample` in NumPy, for the CPU rollout."""
        mean, log_std = params
        std = np.exp(log_std)
        action = mean if deterministic else mean + std * rng.standard_normal(mean.shape, dtype=np.float32)
        z = (action - mean) / std
        return action, (-0.5 * z * z - log_std - np.float32(0.5 * math.log(2 * math.pi))).sum(axis=-1)

    def log_prob_entropy(self, params, action, mask):
        mean, log_std = params
        entropy = (0.5 + 0.5 * math.log(2 * math.pi) + log_std).sum(-1).expand(mean.shape[0])
        return self._log_prob(mean, log_std, action), entropy

    def to_env(self, action: torch.Tensor | np.ndarray) -> np.ndarray:
        out = np.clip(action.cpu().numpy() if isinstance(action, torch.Tensor) else action, self.low, self.high)
        return out.astype(self.dtype, copy=False).reshape(-1, *self.shape)


def action_distribution(space: spaces.Space, device: torch.device):
    if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete)):
        return CategoricalActions(space, device)
    if isinstance(space, spaces.Box):
        return GaussianActions(space, device)
    raise ValueError(f"PPO supports Discrete, MultiDiscrete and Box actions, not {type(space).__name__}")


class ActorCritic(nn.Module):
    """Encoder, then an actor (logits or Gaussian mean) and a critic; CleanRL's layout and init."""

    def __init__(self, observation_space, action_space, config: PPOConfig, device: torch.device):
        super().__init__()
        generator = torch.Generator().manual_seed(config.seed)
        self.activation = config.activation
        activation = _ACTIVATIONS[config.activation]
        self.encoder = ObservationEncoder(observation_space, activation, generator)
        self.dist = action_distribution(action_space, device)
        hidden = config.hidden_sizes if config.hidden_sizes is not None else (() if self.encoder.shared else (64, 64))
        sizes = [self.encoder.out_features, *hidden]
        self.actor_body = mlp(sizes, activation, generator)
        self.critic_body = mlp(sizes, activation, generator)
        self.actor_head = layer_init(nn.Linear(sizes[-1], self.dist.num_outputs), 0.01, generator)
        self.critic_head = layer_init(nn.Linear(sizes[-1], 1), 1.0, generator)
        self.log_std = nn.Parameter(torch.zeros(self.dist.num_outputs)) if isinstance(
            self.dist, GaussianActions) else None
        self.to(device)

    def _params(self, features: torch.Tensor):
        out = self.actor_head(self.actor_body(features))
        return out if self.log_std is None else (out, self.log_std)

    def value(self, obs) -> torch.Tensor:
        return self.critic_head(self.critic_body(self.encoder(obs))).squeeze(-1)

    def act(self, obs, mask, generator, deterministic: bool = False):
        features = self.encoder(obs)
        action, log_prob = self.dist.sample(self._params(features), mask, generator, deterministic)
        return action, log_prob, self.critic_head(self.critic_body(features)).squeeze(-1)

    def evaluate_actions(self, obs, action, mask):
        features = self.encoder(obs)
        log_prob, entropy = self.dist.log_prob_entropy(self._params(features), action, mask)
        return log_prob, entropy, self.critic_head(self.critic_body(features)).squeeze(-1)

    def fused(self) -> FusedActorCritic:
        """A no-grad snapshot of the current weights that runs actor and critic as one network."""
        return FusedActorCritic(self)


class FusedActorCritic:
    """Actor and critic MLPs as one block-diagonal MLP: half the matrix products per rollout step.

    Layer 1 stacks both first layers (they read the same features); each later layer and the
    heads are ``block_diag(actor, critic)``, so the output row is ``[actor output | value]`` and
    equals the two networks' outputs. Built from a snapshot of the weights at the start of
    each rollout, when they stop changing until the next update.
    """

    def __init__(self, policy: ActorCritic):
        actor = [m for m in policy.actor_body if isinstance(m, nn.Linear)] + [policy.actor_head]
        critic = [m for m in policy.critic_body if isinstance(m, nn.Linear)] + [policy.critic_head]
        with torch.no_grad():
            self.layers = [(torch.cat([a.weight, c.weight]) if i == 0 else torch.block_diag(a.weight, c.weight),
                            torch.cat([a.bias, c.bias])) for i, (a, c) in enumerate(zip(actor, critic))]
        self.activation = _ACTIVATION_FUNCTIONS[policy.activation]
        self.policy = policy

    def act(self, obs, mask, generator, deterministic: bool = False):
        """As :meth:`ActorCritic.act`; call it under ``torch.no_grad()``."""
        x = self.policy.encoder(obs)
        last = len(self.layers) - 1
        for i, (weight, bias) in enumerate(self.layers):
            x = nn.functional.linear(x, weight, bias)
            if i < last:
                x = self.activation(x)
        out, value = x[:, :-1], x[:, -1]
        params = out if self.policy.log_std is None else (out, self.policy.log_std)
        action, log_prob = self.policy.dist.sample(params, mask, generator, deterministic)
        return action, log_prob, value


class NumpyActorCritic:
    """The fused rollout network in NumPy, for CPU rollouts of MLP policies.

    At rollout sizes (a few envs, 64-wide layers) each torch operation costs tens of
    microseconds of dispatch and each NumPy one a few, so acting in NumPy more than halves the
    policy's share of a step. Same weights (a snapshot), same sampling rule (Gumbel-max,
    masks, Gaussian); the update still runs in torch.
    """

    def __init__(self, policy: ActorCritic):
        fused = FusedActorCritic(policy)
        self.layers = [(weight.T.numpy().copy(), bias.numpy().copy()) for weight, bias in fused.layers]
        self.activation = np.tanh if policy.activation == "tanh" else (lambda x: np.maximum(x, 0))
        self.log_std = None if policy.log_std is None else policy.log_std.detach().numpy().copy()
        self.dist = policy.dist

    def act(self, parts: dict[str, np.ndarray], mask: np.ndarray | None, rng: np.random.Generator,
            deterministic: bool = False):
        x = parts[VECTOR]
        last = len(self.layers) - 1
        for i, (weight, bias) in enumerate(self.layers):
            x = x @ weight + bias
            if i < last:
                x = self.activation(x)
        out, value = x[:, :-1], x[:, -1].copy()
        params = out if self.log_std is None else (out, self.log_std)
        action, log_prob = self.dist.sample_numpy(params, mask, rng, deterministic)
        return action, log_prob.astype(np.float32), value


# -- the rollout ----------------------------------------------------------------------------
@dataclass
class _Run:
    """What a ``learn`` call carries from one iteration to the next (and what a mid-run checkpoint holds)."""

    env: VectorEnv
    obs: dict[str, np.ndarray]            # the current observation, preprocessed (on the host)
    mask: np.ndarray | None               # the action mask that goes with it
    valid: np.ndarray                     # False where the next step is a reset step
    tracker: EpisodeTracker
    iteration: int                        # iterations done in this run
    num_iterations: int
    start_step: int                       # global step when the run began
    host_obs: Any = None                  # the current observation as the env gave it (deferred scoring)
    discounted_return: np.ndarray | None = None  # per env, what norm_reward's statistics follow
    started: float = field(default_factory=time.perf_counter)
    steps_at_start: int = 0               # global step when this process took the run over


class PPO:
    """PPO for any Gymnasium VectorEnv (NEXT_STEP autoreset) with Discrete, MultiDiscrete or Box actions.

    ``PPO(env, **config)`` with :class:`PPOConfig`'s settings; ``learn(env, total_steps)`` trains,
    ``act(obs)`` acts on a batch, ``save(path)``/``PPO.load(path, env)`` round-trip everything
    including, mid-run, the state needed to finish the run exactly (``learn(env)`` with no
    step count after loading).
    """

    name = "ppo"
    default_num_envs = 4
    config_keys = frozenset(f.name for f in dataclasses.fields(PPOConfig))

    def __init__(self, env=None, *, observation_space=None, action_space=None, **config: Any):
        self.config = PPOConfig(**config)
        if env is not None:
            env = as_vector_env(env)
            observation_space, action_space = env.single_observation_space, env.single_action_space
        if observation_space is None or action_space is None:
            raise ValueError("give an env, or observation_space and action_space")
        self.observation_space, self.action_space = observation_space, action_space
        self.device = resolve_device(self.config.device)
        self.policy = ActorCritic(observation_space, action_space, self.config, self.device)
        self._parameters = list(self.policy.parameters())
        self.optimizer = torch.optim.Adam(self._parameters, lr=self.config.learning_rate, eps=1e-5, fused=True)
        self.generator = torch.Generator(self.device).manual_seed(self.config.seed)
        self.np_random = np.random.default_rng(self.config.seed)  # CPU rollouts sample in NumPy
        self.reward_model = self._build_reward_model(self.config.reward_model)
        self.global_step = 0
        self._run: _Run | None = None
        self._saved_run: dict[str, Any] | None = None  # a mid-run checkpoint's run, until learn() resumes it
        self.preprocess = ObservationPreprocessor(observation_space)
        if self.config.norm_obs and not self.preprocess.vector_keys:
            raise ValueError("norm_obs normalises the non-image part of observations, and this space has none")
        self.obs_rms = RunningMeanStd((self.preprocess.vector_width,)) if self.config.norm_obs else None
        self.return_rms = RunningMeanStd() if self.config.norm_reward else None
        self._has_obs_mask = isinstance(observation_space, spaces.Dict) and MASK_KEY in observation_space.spaces

    @staticmethod
    def _build_reward_model(model):
        if isinstance(model, str):
            from rewardgym.reward_models import make_reward

            return make_reward(model)
        return model

    # -- acting -------------------------------------------------------------------------
    def _to_device(self, parts: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        """The one host-to-device copy of a step's (preprocessed, freshly allocated) observation."""
        return {key: torch.from_numpy(value).to(self.device) for key, value in parts.items()}

    def observe(self, obs, *, update: bool = False) -> dict[str, np.ndarray]:
        """Preprocess a batch of observations; with ``norm_obs``, normalise its vector part.

        ``update`` folds the batch into the running statistics first (the rollout does, once per
        step, as ``NormalizeObservation`` does on every observation it passes on); acting and
        evaluating use the statistics as they are.
        """
        parts = self.preprocess(obs)
        if self.obs_rms is not None:
            if update:
                self.obs_rms.update(parts[VECTOR])
            parts[VECTOR] = self.obs_rms.normalize(parts[VECTOR], self.config.clip_obs)
        return parts

    def _mask_to_device(self, mask: np.ndarray | None) -> torch.Tensor | None:
        return None if mask is None else torch.from_numpy(mask).to(self.device)

    def _numpy_rollouts(self) -> bool:
        """Whether rollouts act in NumPy: on CPU, for MLP policies (no image encoder)."""
        return self.device.type == "cpu" and not self.policy.encoder.shared

    def _action_mask(self, obs, info: dict | None) -> np.ndarray | None:
        """The action mask from ``obs["action_mask"]`` or ``info["action_mask"]`` (rows without one allow all)."""
        if self._has_obs_mask:
            raw = np.asarray(obs[MASK_KEY])
        elif info and MASK_KEY in info:
            raw = np.asarray(info[MASK_KEY])
            present = info.get("_" + MASK_KEY)
            if present is not None and not np.all(present):
                raw = np.where(np.asarray(present)[:, None], raw, True)
        else:
            return None
        if not isinstance(self.policy.dist, CategoricalActions):
            raise ValueError("action masks need Discrete or MultiDiscrete actions")
        if raw.ndim == 1:  # one env's mask
            raw = raw[None]
        mask = raw.reshape(raw.shape[0], -1).astype(bool)
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
            obs = _add_batch_axis(obs)
        with torch.no_grad():
            action, _, _ = self.policy.act(self._to_device(self.observe(obs)),
                                           self._mask_to_device(self._action_mask(obs, info)), self.generator,
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
        num_envs = run.env.num_envs
        batch = self.config.num_steps * num_envs
        metrics: dict[str, float] = {}
        log_every = max(1, run.num_iterations // 200)
        try:
            with Progress(run.num_iterations * batch, progress) as bar:
                bar.update(run.iteration * batch)
                while run.iteration < run.num_iterations:
                    rollout = self._collect(run)
                    stats = self._update(rollout, run)
                    run.iteration += 1
                    if run.iteration % log_every and run.iteration != run.num_iterations:
                        bar.update(batch)
                        continue
                    elapsed = time.perf_counter() - run.started
                    metrics = {"step": float(self.global_step), **run.tracker.summary(), **rollout.reward_stats,
                               **stats, "steps_per_s": (self.global_step - run.steps_at_start) / max(elapsed, 1e-9)}
                    bar.update(batch, metrics)
                    if any(callback(metrics) is False for callback in callbacks):
                        break
        finally:
            if self._run is not None and self._run.iteration >= self._run.num_iterations:
                self._run = None
        return self

    def _start_run(self, env, total_steps: int) -> _Run:
        env = as_vector_env(env)
        self._check_spaces(env)
        num_iterations = max(1, math.ceil(total_steps / (self.config.num_steps * env.num_envs)))
        obs, info = env.reset(seed=self.config.seed + self.global_step)
        self._run = _Run(env=env, obs=self.observe(obs, update=True), mask=self._action_mask(obs, info),
                         valid=np.ones(env.num_envs, dtype=bool), tracker=self._tracker(env.num_envs), iteration=0,
                         num_iterations=num_iterations, start_step=self.global_step,
                         steps_at_start=self.global_step, host_obs=self._host_copy(obs),
                         discounted_return=self._fresh_returns(env.num_envs))
        return self._run

    def _fresh_returns(self, num_envs: int) -> np.ndarray | None:
        return np.zeros(num_envs) if self.return_rms is not None else None

    def _host_copy(self, obs):
        return copy_batch(obs) if self.reward_model is not None else None

    def _tracker(self, num_envs: int) -> EpisodeTracker:
        return EpisodeTracker(num_envs, step_keys=("regret", "reward_env", "reward_learned"))

    def _check_spaces(self, env: VectorEnv) -> None:
        for what, ours, theirs in (("observation", self.observation_space, env.single_observation_space),
                                   ("action", self.action_space, env.single_action_space)):
            if describe_space(ours) != describe_space(theirs):
                raise ValueError(f"the env's {what} space {theirs} differs from the agent's {ours}")

    def _collect(self, run: _Run) -> _Rollout:
        """Step the envs ``num_steps`` times, acting in NumPy on CPU and in torch on an accelerator."""
        num_steps, num_envs = self.config.num_steps, run.env.num_envs
        rollout = _Rollout(num_steps, num_envs)
        if self.reward_model is not None:
            rollout.host = _HostRecord(run.host_obs, bool(getattr(self.reward_model, "needs_frames", False)))
        with torch.no_grad():
            if self._numpy_rollouts():
                self._rollout_steps(run, rollout, NumpyActorCritic(self.policy), self.np_random, on_device=False)
            else:
                self._rollout_steps(run, rollout, self.policy.fused(), self.generator, on_device=True)
            rollout.next_value = self.policy.value(self._to_device(run.obs))
        self.global_step += num_steps * num_envs
        return rollout

    def _rollout_steps(self, run: _Run, rollout: _Rollout, policy, rng, on_device: bool) -> None:
        """The hot loop. ``on_device``: act in torch on the agent's device; else act in NumPy on the host."""
        env, dist = run.env, self.policy.dist
        for t in range(self.config.num_steps):
            if on_device:
                obs = self._to_device(run.obs)  # the step's one host-to-device copy
                action, log_prob, value = policy.act(obs, self._mask_to_device(run.mask), rng)
            else:
                obs = run.obs
                action, log_prob, value = policy.act(obs, run.mask, rng)
            rollout.obs.append(obs)
            rollout.masks.append(run.mask)
            rollout.valid[t] = run.valid
            rollout.actions.append(action)
            rollout.log_probs.append(log_prob)
            rollout.values.append(value)
            env_action = dist.to_env(action)  # the step's one device-to-host copy
            obs, reward, terminated, truncated, info = env.step(env_action)
            rollout.rewards[t], rollout.terminated[t], rollout.truncated[t] = reward, terminated, truncated
            if rollout.host is not None:
                rollout.host.record(env, env_action, obs, info)
                run.host_obs = rollout.host.obs[-1]
            run.tracker.update(reward, terminated, truncated, info)
            run.valid = ~(rollout.terminated[t] | rollout.truncated[t])
            run.obs, run.mask = self.observe(obs, update=True), self._action_mask(obs, info)

    def _update(self, rollout: _Rollout, run: _Run) -> dict[str, float]:
        """Score the rollout (deferred reward), GAE, then ``update_epochs`` passes of clipped PPO."""
        c = self.config
        if c.anneal_lr:
            frac = 1.0 - run.iteration / run.num_iterations
            self.optimizer.param_groups[0]["lr"] = frac * c.learning_rate
        device = self.device
        values = _stack_steps(rollout.values, device)
        # GAE runs on the host: a short sequential loop of tiny operations, which the CPU does best.
        rewards = rollout.training_rewards(self)
        if self.return_rms is not None:
            rewards = self._scale_rewards(rewards, rollout, run)
        advantages, returns = compute_gae(rewards, values.cpu().numpy(),
                                          rollout.terminated, rollout.truncated, rollout.valid,
                                          rollout.next_value.cpu().numpy(), c.gamma, c.gae_lambda)

        # Flatten (T, N) -> (T*N) and keep the real transitions only (reset steps are not).
        keep = torch.as_tensor(np.flatnonzero(rollout.valid), device=device)
        b_obs = {key: _stack_steps([step[key] for step in rollout.obs], device).flatten(0, 1)[keep]
                 for key in rollout.obs[0]}
        b_actions = _stack_steps(rollout.actions, device).flatten(0, 1)[keep]
        masks = rollout.stacked_masks()
        b_masks = None if masks is None else torch.from_numpy(masks).to(device).flatten(0, 1)[keep]
        # one (size, 4) tensor of the per-sample numbers: one indexing op per minibatch, not four
        b_numbers = torch.stack([_stack_steps(rollout.log_probs, device).reshape(-1), values.reshape(-1),
                                 torch.from_numpy(advantages.reshape(-1)).to(device),
                                 torch.from_numpy(returns.reshape(-1)).to(device)], dim=1)[keep]
        b_values, b_returns = b_numbers[:, 1], b_numbers[:, 3]
        size = len(keep)
        num_minibatches = min(c.num_minibatches, size)

        losses = torch.zeros(3, device=device)  # policy loss, value loss, entropy: sums over minibatches
        kl_stats = torch.zeros(3, device=device)  # old approx KL, approx KL, clip fraction: sums over epochs
        count = epochs = 0
        for _ in range(c.update_epochs):
            order = torch.randperm(size, generator=self.generator, device=device)
            minibatches = order.tensor_split(num_minibatches)
            for mb in minibatches:
                new_log_prob, entropy, new_value = self.policy.evaluate_actions(
                    {key: value[mb] for key, value in b_obs.items()}, b_actions[mb],
                    None if b_masks is None else b_masks[mb])
                old_log_prob, old_value, mb_advantages, mb_returns = b_numbers[mb].unbind(1)
                log_ratio = new_log_prob - old_log_prob
                ratio = log_ratio.exp()

                if c.norm_adv and len(mb) > 1:
                    mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)

                # Clipped surrogate objective.
                pg_loss = torch.max(-mb_advantages * ratio,
                                    -mb_advantages * torch.clamp(ratio, 1 - c.clip_coef, 1 + c.clip_coef)).mean()

                # Value loss, clipped around the rollout's values when clip_vloss.
                v_loss_unclipped = (new_value - mb_returns) ** 2
                if c.clip_vloss:
                    v_clipped = old_value + torch.clamp(new_value - old_value, -c.clip_coef, c.clip_coef)
                    v_loss = 0.5 * torch.max(v_loss_unclipped, (v_clipped - mb_returns) ** 2).mean()
                else:
                    v_loss = 0.5 * v_loss_unclipped.mean()

                entropy_loss = entropy.mean()
                loss = pg_loss - c.ent_coef * entropy_loss + c.vf_coef * v_loss

                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self._parameters, c.max_grad_norm, foreach=True)
                self.optimizer.step()
                losses += torch.stack([pg_loss.detach(), v_loss.detach(), entropy_loss.detach()])
                count += 1
            # KL diagnostics of the epoch's last minibatch, as CleanRL logs approx_kl (and stops on it)
            with torch.no_grad():
                old_approx_kl = (-log_ratio).mean()
                approx_kl = ((ratio - 1) - log_ratio).mean()
                clipfrac = ((ratio - 1.0).abs() > c.clip_coef).float().mean()
                kl_stats += torch.stack([old_approx_kl, approx_kl, clipfrac])
            epochs += 1
            if c.target_kl is not None and approx_kl.item() > c.target_kl:
                break  # early stop: the policy moved too far from the one that collected the data

        loss_means, kl_means = (losses / max(count, 1)).tolist(), (kl_stats / epochs).tolist()
        var_returns = b_returns.var().item() if size > 1 else 0.0
        explained = float("nan") if var_returns == 0 else 1 - (b_returns - b_values).var().item() / var_returns
        return {"policy_loss": loss_means[0], "value_loss": loss_means[1], "entropy": loss_means[2],
                "old_approx_kl": kl_means[0], "approx_kl": kl_means[1], "clipfrac": kl_means[2],
                "explained_variance": explained, "learning_rate": self.optimizer.param_groups[0]["lr"],
                "update_epochs_run": epochs}

    def _scale_rewards(self, rewards: np.ndarray, rollout: _Rollout, run: _Run) -> np.ndarray:
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

    # -- saving and loading -------------------------------------------------------------
    def save(self, path) -> None:
        """A folder: ``agent.json`` (config, spaces) and ``checkpoint.pt`` (weights, optimiser, RNG, step, run)."""
        path = write_agent_file(path, self.name, self.config.to_json(), global_step=self.global_step,
                                unfinished_steps=self.unfinished_steps,
                                observation_space=describe_space(self.observation_space),
                                action_space=describe_space(self.action_space))
        state = {
            "format": CHECKPOINT_FORMAT,
            "policy": self.policy.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "np_random": self.np_random.bit_generator.state,
            "generator_device": str(self.device),
            "global_step": self.global_step,
            "obs_rms": None if self.obs_rms is None else self.obs_rms.state(),
            "return_rms": None if self.return_rms is None else self.return_rms.state(),
            "run": None if self._run is None else self._run_state(self._run),
        }
        torch.save(state, path / CHECKPOINT_FILE)

    def _run_state(self, run: _Run) -> dict[str, Any]:
        env_state = None
        base = run.env.unwrapped
        if base is run.env and hasattr(base, "get_state") and hasattr(base, "set_state"):
            env_state = [_to_tensors(base.get_state(i)) for i in range(run.env.num_envs)]
        return {
            "iteration": run.iteration, "num_iterations": run.num_iterations, "start_step": run.start_step,
            "num_envs": run.env.num_envs,
            "obs": _to_tensors(run.obs),
            "mask": None if run.mask is None else torch.from_numpy(run.mask.copy()),
            "valid": torch.from_numpy(run.valid.copy()),
            "tracker": {"returns": torch.from_numpy(run.tracker.returns.copy()),
                        "lengths": torch.from_numpy(run.tracker.lengths.copy()),
                        "restarting": torch.from_numpy(run.tracker.restarting.copy()),
                        "episodes": run.tracker.window.episodes},
            "env_state": env_state,
            "host_obs": _to_tensors(run.host_obs),
            "discounted_return": _to_tensors(run.discounted_return),
        }

    @classmethod
    def load(cls, path, env=None, **overrides: Any) -> PPO:
        """Rebuild a saved agent; ``overrides`` replace config entries (``device``, ``reward_model``)."""
        path = Path(path)
        meta = read_agent_file(path, cls.name)
        try:
            observation_space = space_from_description(meta["observation_space"])
            action_space = space_from_description(meta["action_space"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path / 'agent.json'} is corrupt: bad spaces ({exc})") from None
        state = _load_checkpoint(path / CHECKPOINT_FILE)
        config = {**meta["config"], **overrides}
        try:
            agent = cls(observation_space=observation_space, action_space=action_space, **config)
        except TypeError as exc:
            raise ValueError(f"{path / 'agent.json'} has a bad config: {exc}") from None
        if env is not None:
            agent._check_spaces(as_vector_env(env))
        try:
            agent.policy.load_state_dict(state["policy"])
            agent.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as exc:
            first_line = str(exc).splitlines()[0]
            raise ValueError(f"{path / CHECKPOINT_FILE} does not match agent.json: {first_line}") from None
        agent._move_optimizer_state()
        for name in ("obs_rms", "return_rms"):
            stats, saved = getattr(agent, name), state.get(name)
            if (stats is None) != (saved is None):
                raise ValueError(f"{path / CHECKPOINT_FILE} does not match agent.json: "
                                 f"{name} is {'missing' if saved is None else 'unexpected'}")
            if stats is not None:
                try:
                    stats.load_state(saved)
                except (KeyError, AttributeError, ValueError) as exc:
                    raise ValueError(f"{path / CHECKPOINT_FILE} does not match agent.json: {name}: {exc}") from None
        if state.get("generator_device") == str(agent.device):
            agent.generator.set_state(state["generator"])
        else:  # a generator's state belongs to its device; reseed deterministically instead
            agent.generator.manual_seed(agent.config.seed + int(state["global_step"]))
        agent.np_random.bit_generator.state = state["np_random"]
        agent.global_step = int(state["global_step"])
        agent._saved_run = state.get("run")
        if agent._saved_run is not None:
            agent._run = _Run(env=None, obs={}, mask=None, valid=agent._saved_run["valid"].numpy(),
                              tracker=agent._tracker(int(agent._saved_run["num_envs"])),
                              iteration=int(agent._saved_run["iteration"]),
                              num_iterations=int(agent._saved_run["num_iterations"]),
                              start_step=int(agent._saved_run["start_step"]))
        return agent

    def _move_optimizer_state(self) -> None:
        for state in self.optimizer.state.values():
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and key != "step":
                    state[key] = value.to(self.device)

    def _resume_run(self, env) -> _Run:
        saved, run = self._saved_run, self._run
        env = as_vector_env(env)
        self._check_spaces(env)
        if env.num_envs != int(saved["num_envs"]):
            raise ValueError(f"the checkpoint's run used {int(saved['num_envs'])} envs, this env has {env.num_envs}")
        env.reset(seed=self.config.seed + self.global_step)
        if saved["env_state"] is not None and hasattr(env, "set_state"):
            for i, env_state in enumerate(saved["env_state"]):
                env.set_state(i, _to_numpy(env_state))
            run.obs = _to_numpy(saved["obs"])
            run.mask = None if saved["mask"] is None else saved["mask"].numpy()
            tracker = saved["tracker"]
            run.tracker.returns[:] = tracker["returns"].numpy()
            run.tracker.lengths[:] = tracker["lengths"].numpy()
            run.tracker.restarting[:] = tracker["restarting"].numpy()
            run.tracker.window.episodes = int(tracker["episodes"])
            run.host_obs = self._host_copy(_to_numpy(saved["host_obs"]))
            saved_returns = saved.get("discounted_return")
            run.discounted_return = (self._fresh_returns(env.num_envs) if saved_returns is None
                                     else saved_returns.numpy().copy())
        else:  # the env cannot restore its state: continue from fresh episodes
            obs, info = env.reset(seed=self.config.seed + self.global_step)
            run.obs, run.mask = self.observe(obs, update=True), self._action_mask(obs, info)
            run.valid = np.ones(env.num_envs, dtype=bool)
            run.discounted_return = self._fresh_returns(env.num_envs)
            run.host_obs = self._host_copy(obs)
        run.env, run.steps_at_start, run.started = env, self.global_step, time.perf_counter()
        self._saved_run = None
        return run


class _HostRecord:
    """Host copies of a rollout for deferred reward scoring: observations, actions, infos, frames."""

    def __init__(self, first_obs, needs_frames: bool):
        self.obs: list[Any] = [first_obs]
        self.actions: list[np.ndarray] = []
        self.infos: list[dict] = []
        self.frames: list[np.ndarray] | None = [] if needs_frames else None

    def record(self, env: VectorEnv, action: np.ndarray, obs, info: dict) -> None:
        self.actions.append(np.array(action))
        self.obs.append(copy_batch(obs))
        self.infos.append(info)
        if self.frames is not None:
            frames = env.render()
            self.frames.append(frames if isinstance(frames, np.ndarray) else np.stack(frames))


class _Rollout:
    """One rollout: per-step device tensors (stacked by ``flat``) and host arrays of rewards and flags."""

    def __init__(self, num_steps: int, num_envs: int):
        # per step: NumPy arrays (CPU rollouts) or tensors on the device; stacked once in the update
        self.obs: list[dict[str, Any]] = []
        self.masks: list[np.ndarray | None] = []
        self.actions: list[Any] = []
        self.log_probs: list[Any] = []
        self.values: list[Any] = []
        self.rewards = np.zeros((num_steps, num_envs), dtype=np.float32)
        self.terminated = np.zeros((num_steps, num_envs), dtype=bool)
        self.truncated = np.zeros((num_steps, num_envs), dtype=bool)
        self.valid = np.zeros((num_steps, num_envs), dtype=bool)
        self.host: _HostRecord | None = None
        self.next_value: torch.Tensor | None = None
        self.reward_stats: dict[str, float] = {}

    def stacked_masks(self) -> np.ndarray | None:
        """(T, N, n) masks, all-True for steps that had none; None when no step had one."""
        present = [m for m in self.masks if m is not None]
        if not present:
            return None
        allow_all = np.ones_like(present[0])
        return np.stack([allow_all if m is None else m for m in self.masks])

    def training_rewards(self, agent: PPO) -> np.ndarray:
        """The rewards GAE sees: the env's, or mixed with the reward model's score of the whole rollout."""
        env_rewards = self.rewards
        if self.host is None:
            return env_rewards
        learned = score_rollout(agent.reward_model, self.host, self.terminated, self.truncated, self.valid)
        c = agent.config
        mixed = c.reward_coef * learned + (env_rewards if c.reward_mode == "add" else 0.0)
        real = self.valid
        self.reward_stats = {"reward_env_per_step": float(env_rewards[real].mean()),
                             "reward_learned_per_step": float(learned[real].mean())}
        return mixed.astype(np.float32)


def score_rollout(model, host: _HostRecord, terminated: np.ndarray, truncated: np.ndarray,
                  valid: np.ndarray) -> np.ndarray:
    """(T, N) learned rewards: ``model`` scores every real transition of the rollout in one batch."""
    num_steps, num_envs = terminated.shape
    rows = np.flatnonzero(valid.reshape(-1))  # flat index t * N + i of each real transition
    steps, envs = np.divmod(rows, num_envs)
    obs, next_obs = _stack(host.obs[:-1]), _stack(host.obs[1:])
    batch = Transitions(
        obs=_take(obs, rows), action=np.stack(host.actions).reshape(num_steps * num_envs, -1)[rows].reshape(
            (len(rows), *host.actions[0].shape[1:])),
        next_obs=_take(next_obs, rows), terminated=terminated.reshape(-1)[rows],
        truncated=truncated.reshape(-1)[rows],
        infos=_RolloutInfos(host.infos, num_envs, steps, envs),
        frames=None if host.frames is None else np.stack(host.frames).reshape(
            -1, *host.frames[0].shape[1:])[rows])
    scores = np.asarray(model(batch), dtype=np.float32).reshape(-1)
    if scores.shape != (len(rows),):
        raise ValueError(f"reward model returned {scores.shape[0]} scores for {len(rows)} transitions")
    out = np.zeros(num_steps * num_envs, dtype=np.float32)
    out[rows] = scores
    return out.reshape(num_steps, num_envs)


class _RolloutInfos(Sequence[dict]):
    """Per-transition infos of a rollout, built lazily from the vector infos of each step."""

    def __init__(self, infos: list[dict], num_envs: int, steps: np.ndarray, envs: np.ndarray):
        self._views = [VectorInfos(info, num_envs) for info in infos]
        self._steps, self._envs = steps, envs

    def __len__(self) -> int:
        return len(self._steps)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self._views[int(self._steps[index])][int(self._envs[index])]


# -- small helpers --------------------------------------------------------------------------
def _stack_steps(items: list, device: torch.device) -> torch.Tensor:
    """Per-step arrays or tensors -> one (T, ...) tensor on ``device``."""
    if isinstance(items[0], torch.Tensor):
        return torch.stack(items)
    return torch.from_numpy(np.stack(items)).to(device)


def _add_batch_axis(obs):
    if isinstance(obs, dict):
        return {key: np.asarray(value)[None] for key, value in obs.items()}
    return np.asarray(obs)[None]


def _stack(batches: list[Any]):
    """T batched observations (arrays, dicts of arrays, or sequences of text) -> one (T*N) batch."""
    first = batches[0]
    if isinstance(first, dict):
        return {key: np.concatenate([b[key] for b in batches]) for key in first}
    if isinstance(first, np.ndarray):
        return np.concatenate(batches)
    return [item for b in batches for item in b]


def _take(batched, rows: np.ndarray):
    if isinstance(batched, dict):
        return {key: value[rows] for key, value in batched.items()}
    if isinstance(batched, np.ndarray):
        return batched[rows]
    return [batched[i] for i in rows]


def _to_tensors(value):
    """numpy arrays and scalars inside dicts and lists -> tensors and Python numbers (weights_only-safe)."""
    if isinstance(value, dict):
        return {key: _to_tensors(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_tensors(v) for v in value]
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, np.generic):
        return value.item()
    return value


def _to_numpy(value):
    if isinstance(value, dict):
        return {key: _to_numpy(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_to_numpy(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.numpy()
    return value


def _load_checkpoint(file: Path) -> dict[str, Any]:
    if not file.is_file():
        raise FileNotFoundError(f"{file.parent} has no {file.name}")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a damaged or foreign file
        raise ValueError(f"{file} is corrupt or not a rewardgym checkpoint: {str(exc).splitlines()[0]}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{file} is not a rewardgym PPO checkpoint (format {CHECKPOINT_FORMAT})")
    return state


__all__ = ["PPO", "PPOConfig", "ActorCritic", "RunningMeanStd", "compute_gae", "resolve_device", "score_rollout"]
