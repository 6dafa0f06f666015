"""The networks PPO trains: observation preprocessing, encoders, action distributions, actor and critic.

CleanRL's layouts and initialisation: orthogonal weights (gain √2 in hidden layers, 0.01 on the
policy head, 1 on the value head), zero biases; separate 64-64 tanh MLPs for actor and critic
on vector observations (classic control), a Nature-CNN trunk shared by both on images (Atari).

* :class:`ObservationPreprocessor` turns a batch of observations into the parts the network
  reads, in NumPy and without weights, so it runs once per step on the host: ``"vector"``
  (every non-image part flattened, discrete parts one-hot, text parts as hashed bags of
  words) and ``"image/<key>"`` (uint8).
* :class:`CategoricalActions` (Discrete, MultiDiscrete; invalid-action masks) and
  :class:`GaussianActions` (Box; a state-independent log-std) sample, score and convert actions.
* :class:`ActorCritic` is the torch module; :class:`NumpyActorCritic` a snapshot of its weights
  that acts in NumPy, which is what CPU rollouts use (at rollout sizes a torch operation costs
  tens of microseconds of dispatch, a NumPy one a few).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from rewardgym._text import word_bag
from rewardgym.agents.base import MASK_KEY

__all__ = ["ActorCritic", "NumpyActorCritic", "ObservationPreprocessor", "CategoricalActions", "GaussianActions",
           "MASK_KEY", "VECTOR", "IMAGE_PREFIX", "is_image_space"]

_MASKED_LOGIT = -1e9  # exp() underflows to exactly 0, yet 0 * logit stays finite in the entropy
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


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
    hint = (": give the env numeric observations (the text worlds: action_mode=choice observation=vector; the "
            "llm-* agents read text)" if isinstance(space, spaces.Text) else "")
    raise ValueError(f"PPO cannot read {type(space).__name__} observations{hint}")


VECTOR = "vector"
IMAGE_PREFIX = "image/"


class ObservationPreprocessor:
    """Batched observations (arrays, or a Dict's arrays) -> the parts the network reads, in NumPy.

    ``{"vector": (B, F) float32}`` holds every non-image part flattened (discrete parts one-hot)
    and concatenated, the ``critic_only`` keys last (the actor reads the first ``actor_width``
    columns, the critic all of them: MAPPO's centralised critic); ``{"image/<key>": (B, H, W, C)
    uint8}`` holds each image part. The arrays are always fresh copies, since envs may reuse
    their observation buffers. Preprocessing has no weights, so it runs once per step on the
    host for the rollout and the update alike.

    ``text_keys`` name uint8 parts that hold UTF-8 text, one zero-padded text per row (the GUI's
    ``element_text`` and ``instruction``): each row is read as a bag of its words hashed into
    ``text_buckets`` buckets (:func:`rewardgym._text.word_bag`, the text worlds' tokenizer),
    so ``(..., L)`` bytes become ``(..., text_buckets)`` zeros and ones. A word is then one
    feature wherever it appears, which is what lets a policy match an instruction's words to an
    element's (bytes at fixed positions would make "OK" and "Cancel" differ in every column).
    """

    def __init__(self, space: spaces.Space, critic_only: Sequence[str] = (), text_keys: Sequence[str] = (),
                 text_buckets: int = 64):
        self.leaves = observation_leaves(space)
        self.text_keys, self.text_buckets = tuple(text_keys), int(text_buckets)
        for key in self.text_keys:
            sub = self.leaves.get(key)
            if sub is None or None in self.leaves:
                raise ValueError(f"text_keys: the observation has no key {key!r} "
                                 f"(its keys: {', '.join(str(k) for k in self.leaves)})")
            if not (isinstance(sub, spaces.Box) and sub.dtype == np.uint8 and len(sub.shape) in (1, 2)):
                raise ValueError(f"text_keys: {key!r} is {sub}, not uint8 bytes (one text, or one per row)")
        if self.text_buckets < 1:
            raise ValueError(f"text_buckets must be >= 1, got {text_buckets}")
        self.image_keys = [key for key, sub in self.leaves.items() if is_image_space(sub) and key not in self.text_keys]
        critic_only = tuple(critic_only)
        missing = [key for key in critic_only if key not in self.leaves]
        if critic_only and None in self.leaves:
            raise ValueError(f"critic_only_keys {list(critic_only)} name keys of a Dict observation, and this one is "
                             f"a {type(space).__name__} (MAPPO trains on multi-agent envs, whose rows carry 'state')")
        if missing:
            raise ValueError(f"critic_only_keys: the observation has no key {missing[0]!r} "
                             f"(its keys: {', '.join(str(k) for k in self.leaves)})")
        if critic_only and self.image_keys:
            raise ValueError("critic_only_keys needs observations without images (the image trunk is shared)")
        # the critic-only parts go last, so that the actor reads a prefix of the vector
        self.vector_keys = ([key for key in self.leaves if key not in self.image_keys and key not in critic_only]
                            + list(critic_only))
        widths = [self.width(key) for key in self.vector_keys]
        self.vector_width = sum(widths)
        self.actor_width = self.vector_width - sum(self.width(key) for key in critic_only)
        ends = np.cumsum(widths).tolist()
        self.columns = {key: slice(end - w, end) for key, w, end in zip(self.vector_keys, widths, ends)}
        self.text_columns = np.concatenate([np.arange(self.vector_width)[self.columns[key]]
                                            for key in self.text_keys] or [np.zeros(0, np.int64)])

    def width(self, key: str | None) -> int:
        """Columns of ``key`` in the vector."""
        if key in self.text_keys:
            shape = self.leaves[key].shape
            return self.text_buckets * (shape[0] if len(shape) == 2 else 1)
        return flat_size(self.leaves[key])

    def rows(self, key: str | None) -> tuple[int, int] | None:
        """``(rows, features per row)`` of a two-dimensional part as it sits in the vector; None otherwise."""
        sub = self.leaves[key]
        if not isinstance(sub, spaces.Box) or len(sub.shape) != 2:
            return None
        return int(sub.shape[0]), self.text_buckets if key in self.text_keys else int(sub.shape[1])

    def __call__(self, obs) -> dict[str, np.ndarray]:
        try:
            parts = {key: np.asarray(obs if key is None else obs[key]) for key in self.leaves}
        except (KeyError, TypeError, IndexError):
            raise ValueError(f"observation lacks the parts the agent was built for: {list(self.leaves)}") from None
        out = {f"{IMAGE_PREFIX}{key}": np.array(parts[key], dtype=np.uint8) for key in self.image_keys}
        if self.vector_keys:
            flat = [self._bags(parts[key]) if key in self.text_keys else self._flatten(self.leaves[key], parts[key])
                    for key in self.vector_keys]
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

    def _bags(self, x: np.ndarray) -> np.ndarray:
        """``(B, ..., L)`` UTF-8 bytes -> ``(B, ... * text_buckets)`` bags of hashed words; empty rows stay zero."""
        texts = x.reshape(-1, x.shape[-1])
        out = np.zeros((len(texts), self.text_buckets), np.float32)
        for i in np.flatnonzero(texts.any(axis=1)):
            out[i] = word_bag(texts[i].tobytes().rstrip(b"\0").decode("utf-8", errors="replace"), self.text_buckets)
        return out.reshape(len(x), -1)

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

    def __init__(self, space: spaces.Space, activation: type[nn.Module], generator: torch.Generator,
                 critic_only: Sequence[str] = (), text_keys: Sequence[str] = (), text_buckets: int = 64):
        super().__init__()
        pre = self.preprocessor = ObservationPreprocessor(space, critic_only, text_keys, text_buckets)
        self.actor_width = pre.actor_width if critic_only else None  # None: the actor reads every feature
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
        if self.padded:  # where each padded slot reads from the flat logits; the extra last column is padding
            offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]])
            slots = np.full((self.dims, self.width), self.num_outputs)
            for d, (offset, n) in enumerate(zip(offsets, nvec)):
                slots[d, :n] = offset + np.arange(n)
            self.slots_np = slots.ravel()
            self.slots = torch.as_tensor(self.slots_np, device=device)

    def log_probs(self, flat: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Log-probabilities of every action of every dimension, ``(B, D, W)`` (masked and padded: -inf-like)."""
        batch = flat.shape[0]
        if mask is not None:
            flat = torch.where(mask, flat, _MASKED_LOGIT)
        if self.padded:
            flat = torch.cat([flat, flat.new_full((batch, 1), _MASKED_LOGIT)], dim=1)[:, self.slots]
        return torch.log_softmax(flat.view(batch, self.dims, self.width), dim=-1)

    def sample(self, params: torch.Tensor, mask, generator, deterministic: bool):
        log_probs = self.log_probs(params, mask)
        if deterministic:
            action = log_probs.argmax(dim=-1)
        else:
            # Gumbel-max: argmax(log p + G), G = -log(-log U). U = 0 gives G = -inf, never a pick.
            gumbel = torch.rand(log_probs.shape, generator=generator, device=log_probs.device).log_().neg_().log_()
            action = (log_probs - gumbel).argmax(dim=-1)
        return action, log_probs.gather(-1, action.unsqueeze(-1)).squeeze(-1).sum(-1)

    def _logits_numpy(self, flat: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """(..., n) flat logits -> (..., D, W), masked and padded, for any leading shape."""
        if mask is not None:
            flat = np.where(mask, flat, np.float32(_MASKED_LOGIT))
        if self.padded:
            padding = np.full((*flat.shape[:-1], 1), _MASKED_LOGIT, flat.dtype)
            flat = np.concatenate([flat, padding], axis=-1)[..., self.slots_np]
        return flat.reshape(*flat.shape[:-1], self.dims, self.width)

    def draw_numpy(self, flat: np.ndarray, mask: np.ndarray | None, rng: np.random.Generator,
                   deterministic: bool) -> np.ndarray:
        """:meth:`sample`'s actions in NumPy, for the CPU rollout (the normalisation does not move the argmax)."""
        logits = self._logits_numpy(flat, mask)
        if deterministic:
            return logits.argmax(axis=-1)
        with np.errstate(divide="ignore"):  # U = 0 gives G = -inf: never a pick
            minus_gumbel = np.log(-np.log(rng.random(logits.shape, dtype=np.float32)))
        return (logits - minus_gumbel).argmax(axis=-1)  # argmax(logits + G), bit for bit

    def log_prob_numpy(self, flat: np.ndarray, action: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """:meth:`sample`'s log-probs in NumPy, for any leading shape (one step's batch or a whole rollout)."""
        logits = self._logits_numpy(flat, mask)
        peak = logits.max(axis=-1)
        log_norm = peak + np.log(np.exp(logits - peak[..., None]).sum(axis=-1))
        picked = np.take_along_axis(logits, action[..., None], axis=-1)[..., 0]
        return (picked - log_norm).sum(axis=-1)

    def log_prob_entropy(self, params: torch.Tensor, action: torch.Tensor, mask):
        log_probs = self.log_probs(params, mask)
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

    def draw_numpy(self, params: tuple[np.ndarray, np.ndarray], mask, rng: np.random.Generator,
                   deterministic: bool) -> np.ndarray:
        """:meth:`sample`'s actions in NumPy, for the CPU rollout."""
        mean, log_std = params
        return mean if deterministic else mean + np.exp(log_std) * rng.standard_normal(mean.shape, dtype=np.float32)

    def log_prob_numpy(self, params: tuple[np.ndarray, np.ndarray], action: np.ndarray, mask) -> np.ndarray:
        """:meth:`sample`'s log-probs in NumPy, for any leading shape (one step's batch or a whole rollout)."""
        mean, log_std = params
        z = (action - mean) / np.exp(log_std)
        return (-0.5 * z * z - log_std - np.float32(0.5 * math.log(2 * math.pi))).sum(axis=-1)

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


CHOICE_KEYS = ("choices",)  # the text worlds' choice mode: one row per command on offer
CHOICE_WIDTH = 64  # the query's and each row embedding's width
CHOICE_BODIES = ("mean", "all")


@dataclass(frozen=True)
class ChoiceLayout:
    """How a ``Discrete`` action points at rows of the observation: action ``row * verbs + verb``
    for the ``rows`` rows, then ``extras`` actions of their own (the GUI's key presses).

    A row's features are its columns in every choice key, side by side (``columns[i]`` and
    ``widths[i]``: key i's slice of the vector, row-major, and its features per row).
    """

    columns: tuple[slice, ...]
    widths: tuple[int, ...]
    rows: int
    verbs: int
    extras: int

    @property
    def width(self) -> int:
        return sum(self.widths)

    def gather(self, vector):
        """``(..., F)`` vector -> ``(..., rows, width)``; torch tensors and NumPy arrays alike."""
        parts = [vector[..., c].reshape(*vector.shape[:-1], self.rows, w) for c, w in zip(self.columns, self.widths)]
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts, -1) if isinstance(vector, np.ndarray) else torch.cat(parts, -1)

    def logits(self, head, embedded):
        """The actor head's ``(..., verbs * H + extras)`` output and the rows' ``(..., rows, H)``
        embeddings -> ``(..., rows * verbs + extras)`` logits: row r's logit for verb v is the
        dot product of its embedding with verb v's query; the extras' logits are the head's last
        outputs. Torch and NumPy alike, so the NumPy rollout scores as the update does."""
        numpy = isinstance(head, np.ndarray)
        lead = head.shape[:-1]
        query = head[..., : self.verbs * CHOICE_WIDTH].reshape(*lead, self.verbs, CHOICE_WIDTH)
        scores = embedded @ (np.swapaxes if numpy else torch.transpose)(query, -1, -2)  # (..., rows, verbs)
        scores = scores.reshape(*lead, self.rows * self.verbs)
        if not self.extras:
            return scores
        extras = head[..., self.verbs * CHOICE_WIDTH:]
        return np.concatenate([scores, extras], -1) if numpy else torch.cat([scores, extras], -1)


def choice_layout(pre: ObservationPreprocessor, action_space: spaces.Space, critic_only: Sequence[str] = (),
                  keys: Sequence[str] = CHOICE_KEYS, verbs: int = 1) -> ChoiceLayout | None:
    """The :class:`ChoiceLayout` of ``keys`` (two-dimensional parts with the same number of rows R,
    read by the actor, no image in the observation) for a ``Discrete(R * verbs + extras)`` action.

    With the default keys and one verb (the text worlds' ``choices``) an observation or action
    that does not fit gives None (the policy has one logit per action); settings given otherwise
    must fit, or a ``ValueError`` says why not.
    """
    keys = tuple(keys)
    explicit = keys != CHOICE_KEYS or verbs != 1  # settings a user gave must fit, not be dropped in silence

    def unfit(problem: str) -> None:
        if explicit:
            raise ValueError(f"choice_keys {list(keys)}: {problem}")
        return None

    missing = [key for key in keys if key not in pre.leaves]
    if missing:
        return unfit(f"the observation has no key {missing[0]!r} (its keys: {', '.join(str(k) for k in pre.leaves)})")
    if pre.image_keys:
        return unfit("scoring rows needs observations without images")
    if any(key in critic_only for key in keys):
        return unfit("a choice key is critic-only, and the actor scores the rows")
    shapes = [pre.rows(key) for key in keys]
    if None in shapes or len({rows for rows, _ in shapes}) != 1:
        return unfit(f"each must be a Box of shape (rows, features) with the same rows; they are "
                     f"{[str(pre.leaves[key]) for key in keys]}")
    rows = shapes[0][0]
    if verbs < 1:
        return unfit(f"choice_verbs must be >= 1, got {verbs}")
    if not isinstance(action_space, spaces.Discrete) or int(action_space.n) < rows * verbs:
        return unfit(f"the action must be Discrete with at least rows x verbs = {rows} x {verbs} actions, "
                     f"and it is {action_space}")
    return ChoiceLayout(tuple(pre.columns[key] for key in keys), tuple(w for _, w in shapes), rows, int(verbs),
                        int(action_space.n) - rows * verbs)


class ActorCritic(nn.Module):
    """Encoder, then an actor (logits or Gaussian mean) and a critic; CleanRL's layout and init.

    ``hidden_sizes`` of the actor's and the critic's MLPs; None: (64, 64) on vector observations,
    none (linear heads on the shared trunk) with an image encoder. The weights are drawn from a
    generator seeded with ``seed``, so the same seed gives the same network.

    **Choice scoring** (``choice_scoring``, on where :func:`choice_layout` finds the layout; DRRN,
    He et al. 2016, "Deep Reinforcement Learning with a Natural Language Action Space"; a pointer
    head, Vinyals et al. 2015): when the action picks one of the observation's rows (a command
    on offer in the text worlds' ``choices``; an element of the GUI's table, with a verb), the
    actor's head gives one query vector per verb instead of one logit per action, one shared
    layer embeds every row, and a row's logit for a verb is that query's dot product with the
    row's embedding. The same weights score a row in any slot, so what is learned about "take
    the coin" in slot 3 holds in slot 7 (a head with a logit per slot must learn each slot
    apart), and a query made from an instruction's words can pick the row with the same words.
    The actor's body reads the rest of the observation and, with ``choice_body="mean"``, the
    mean row (what is on offer, in no order: the text worlds' commands), with ``"all"`` every
    row where it is (a page whose layout means something).
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space,
                 hidden_sizes: Sequence[int] | None, activation: str, seed: int, device: torch.device,
                 critic_only: Sequence[str] = (), choice_scoring: bool = False,
                 choice_keys: Sequence[str] = CHOICE_KEYS, choice_verbs: int = 1, choice_body: str = "mean",
                 text_keys: Sequence[str] = (), text_buckets: int = 64):
        super().__init__()
        if choice_body not in CHOICE_BODIES:
            raise ValueError(f"choice_body must be one of {CHOICE_BODIES}, got {choice_body!r}")
        generator = torch.Generator().manual_seed(seed)
        self.activation = activation
        layer = ACTIVATIONS[activation]
        self.encoder = ObservationEncoder(observation_space, layer, generator, critic_only, text_keys, text_buckets)
        self.dist = action_distribution(action_space, device)
        hidden = hidden_sizes if hidden_sizes is not None else (() if self.encoder.shared else (64, 64))
        sizes = [self.encoder.out_features, *hidden]
        self.actor_width = self.encoder.actor_width  # None, or the features the actor may read (MAPPO)
        self.choices = choices = (choice_layout(self.encoder.preprocessor, action_space, critic_only, choice_keys,
                                                choice_verbs) if choice_scoring else None)
        self.mean_row = bool(choices) and choice_body == "mean"
        # the columns the actor's body reads: not the critic-only ones; with choice_body="mean", the
        # choice rows only as their mean row (which commands are on offer, whatever their order)
        readable = np.arange(self.actor_width or sizes[0])
        if self.mean_row:
            readable = np.setdiff1d(readable, np.concatenate([np.arange(sizes[0])[c] for c in choices.columns]))
        self.actor_columns = None if len(readable) == sizes[0] else torch.as_tensor(readable, device=device)
        actor_sizes = [len(readable) + (choices.width if self.mean_row else 0), *sizes[1:]]
        self.actor_body = mlp(actor_sizes, layer, generator)
        self.critic_body = mlp(sizes, layer, generator)
        head = choices.verbs * CHOICE_WIDTH + choices.extras if choices else self.dist.num_outputs
        self.actor_head = layer_init(nn.Linear(actor_sizes[-1], head), 0.01, generator)
        self.critic_head = layer_init(nn.Linear(sizes[-1], 1), 1.0, generator)
        self.log_std = nn.Parameter(torch.zeros(self.dist.num_outputs)) if isinstance(
            self.dist, GaussianActions) else None
        if choices:
            self.choice_embedding = mlp([choices.width, CHOICE_WIDTH], layer, generator)
        self.to(device)

    def _params(self, features: torch.Tensor):
        actor_features = features if self.actor_columns is None else features.index_select(-1, self.actor_columns)
        if self.choices:
            rows = self.choices.gather(features)
            if self.mean_row:
                actor_features = torch.cat([actor_features, rows.mean(-2)], -1)
            out = self.choices.logits(self.actor_head(self.actor_body(actor_features)), self.choice_embedding(rows))
        else:
            out = self.actor_head(self.actor_body(actor_features))
        return out if self.log_std is None else (out, self.log_std)

    def value(self, obs) -> torch.Tensor:
        return self.critic_head(self.critic_body(self.encoder(obs))).squeeze(-1)

    def act(self, obs, mask, generator, deterministic: bool = False):
        features = self.encoder(obs)
        action, log_prob = self.dist.sample(self._params(features), mask, generator, deterministic)
        return action, log_prob, self.critic_head(self.critic_body(features)).squeeze(-1)

    def action_log_probs(self, obs, mask) -> torch.Tensor:
        """The actor's log-probabilities of every action, ``(B, D, W)`` (discrete actions only)."""
        if not isinstance(self.dist, CategoricalActions):
            raise TypeError("action_log_probs is for discrete actions; a Gaussian policy has densities")
        return self.dist.log_probs(self._params(self.encoder(obs)), mask)

    def evaluate_actions(self, obs, action, mask):
        features = self.encoder(obs)
        log_prob, entropy = self.dist.log_prob_entropy(self._params(features), action, mask)
        return log_prob, entropy, self.critic_head(self.critic_body(features)).squeeze(-1)


class NumpyActorCritic:
    """A snapshot of an MLP :class:`ActorCritic` that acts in NumPy, for CPU rollouts.

    At rollout sizes (a few envs, 64-wide layers) each torch operation costs tens of
    microseconds of dispatch and each NumPy one a few, so acting in NumPy more than halves the
    policy's share of a step. Actor and critic run as one network: the first layers stacked
    (they read the same features), every later layer and the heads ``block_diag(actor,
    critic)``, so one matrix product per layer gives ``[actor output | value]``. Same weights,
    same sampling rule (Gumbel-max, masks, Gaussian); the update runs in torch. The rollout
    draws each step's actions (:meth:`draw`) and scores them after it, all steps in one go
    (:meth:`log_prob`): NumPy's cost is per call, so 128 calls on 4 rows cost far more than one
    on 512. :meth:`act` does both for one batch.
    """

    def __init__(self, policy: ActorCritic):
        if policy.encoder.shared:
            raise ValueError("NumpyActorCritic runs MLP policies; an image encoder runs in torch")
        actor = [m for m in policy.actor_body if isinstance(m, nn.Linear)] + [policy.actor_head]
        critic = [m for m in policy.critic_body if isinstance(m, nn.Linear)] + [policy.critic_head]
        with torch.no_grad():
            first = actor[0].weight
            if policy.actor_columns is not None:  # zeros on the columns the actor does not read
                read = len(policy.actor_columns)
                full = first.new_zeros(first.shape[0], critic[0].weight.shape[1]).index_copy(
                    1, policy.actor_columns, first[:, :read])
                if policy.mean_row:  # the mean row is linear in the rows: W_mean / R on each row's columns
                    layout, at = policy.choices, read
                    for columns, width in zip(layout.columns, layout.widths):
                        full[:, columns] = (first[:, at:at + width] / layout.rows).repeat(1, layout.rows)
                        at += width
                first = full
            self.layers = [((torch.cat([first, c.weight]) if i == 0 else torch.block_diag(a.weight, c.weight))
                            .T.numpy().copy(), torch.cat([a.bias, c.bias]).numpy().copy())
                           for i, (a, c) in enumerate(zip(actor, critic))]
        self.activation = np.tanh if policy.activation == "tanh" else (lambda x: np.maximum(x, 0))
        self.log_std = None if policy.log_std is None else policy.log_std.detach().numpy().copy()
        self.dist = policy.dist
        self.choices = policy.choices
        if self.choices:
            (embed,) = [m for m in policy.choice_embedding if isinstance(m, nn.Linear)]
            self.choice_weight = embed.weight.detach().T.numpy().copy()
            self.choice_bias = embed.bias.detach().numpy().copy()

    def draw(self, parts: dict[str, np.ndarray], mask: np.ndarray | None, rng: np.random.Generator,
             deterministic: bool = False):
        """Actions, the actor's output (what :meth:`log_prob` scores them from) and values."""
        x = parts[VECTOR]
        last = len(self.layers) - 1
        for i, (weight, bias) in enumerate(self.layers):
            x = x @ weight + bias
            if i < last:
                x = self.activation(x)
        out, value = x[:, :-1], x[:, -1].copy()
        if self.choices:
            rows = self.choices.gather(parts[VECTOR])
            out = self.choices.logits(out, self.activation(rows @ self.choice_weight + self.choice_bias))
        return self.dist.draw_numpy(self._params(out), mask, rng, deterministic), out, value

    def log_prob(self, out: np.ndarray, action: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """log π(action) from the actor's output, for any leading shape: the rollout scores all its steps at once."""
        return self.dist.log_prob_numpy(self._params(out), action, mask).astype(np.float32, copy=False)

    def act(self, parts: dict[str, np.ndarray], mask: np.ndarray | None, rng: np.random.Generator,
            deterministic: bool = False):
        action, out, value = self.draw(parts, mask, rng, deterministic)
        return action, self.log_prob(out, action, mask), value

    def _params(self, out: np.ndarray):
        return out if self.log_std is None else (out, self.log_std)
