r"""Progress models: a potential Φ(observation, task) ∈ [0, 1] learned from demonstrations.

A progress model says how far along the task an observation is: 0 at the start of a
demonstration, 1 once the task is done. It is learned from the scripted experts' episodes
(:func:`rewardgym.collect_demos`) and used in three ways:

* as a **potential** for :class:`rewardgym.wrappers.PotentialShaping`:
  ``model(obs, infos) -> (B,)`` Φ values;
* as a **reward model** through :class:`ProgressShaping` (what the spec
  ``progress:PATH;gamma=0.99`` builds): ``γ(1 − terminated)Φ(s′) − Φ(s)``, the shaping term
  itself, so ``LearnedReward(env, "progress:PATH")`` in mode ``"add"`` (and PPO's deferred
  scoring) gives the env reward plus potential-based shaping;
* as a **process reward** for multi-turn text tasks: :meth:`ProgressModel.process_rewards`
  turns the turns of a dialogue into per-turn deltas Φ_t − Φ_{t−1}.

Two call signatures, two objects: a :class:`ProgressModel` is a ``Potential`` (a function of
states), :class:`ProgressShaping` is a ``RewardModel`` (a function of transitions) holding a
progress model and γ. Keeping them apart means a potential never has to guess whether it was
handed a batch of states or a batch of transitions.

The maths, top to bottom
------------------------
**Targets.** An episode of T steps has T+1 observations o_0..o_T and ``success[i]`` after step
i+1. A scripted expert reaches the goal and then holds it (Reach is done in about 5 of its 50
steps), so time alone would label the same resting state 0.1 and 1.0. The progress target is
time normalised by the step ``k`` from which the episode stays successful::

    y_t = min(t / k, 1)        k = the observation after the last unsuccessful step (1 if none)

which is the plain t/T when success comes at the last step (the text worlds). Failed episodes
are left out, or with ``negatives=True`` enter with y_t = 0 for every state (VLAC's negatives:
states that lead nowhere get no progress).

**Network.** Φ(o, task) = σ(f_θ(x)) with x the encoder's features:

* ``state``: the flattened observation (Dict keys in sorted order, plus ``goal_delta`` =
  achieved_goal − desired_goal for goal-conditioned observations, so Φ is goal-aware; ``keys``
  chooses), standardised with the training set's mean and std and clipped to ±5, then an MLP;
* ``pixels``: uint8 images (pixel observations, or rendered ``frames`` when the demos hold
  them) through a small CNN, then an MLP; random shifts of ±``shift`` pixels while training
  (DrQ, Kostrikov et al. 2020) because a few demos are few images;
* ``text``: sentence embeddings e(·) from :class:`rewardgym.reward_models.embeddings.TextEncoder`
  (frozen), x = [e(o_t), mean_{i≤t} e(o_i), e(task)] (the running mean is the "text so far":
  which rooms and messages the episode has seen), then an MLP.

**Loss.** Regression to the targets with the cross-entropy of soft labels, plus a pairwise
ranking term (Bradley–Terry / logistic, as in T-REX, Brown et al. 2019) on random pairs
t_i < t_j ≤ k of the same successful episode::

    L = BCE(σ(f(x_t)), y_t) + λ · softplus(−(Φ(x_{t_j}) − Φ(x_{t_i})) / τ)

The ranking term asks for the *order* the regression term only implies; it acts on Φ, not on
the logits, so it saturates once a pair is ordered by a margin of a few τ instead of pushing
logits to infinity against the regression targets.

**Quality check: VOC** (value-order correlation, from GVL / VLAC): the Spearman rank
correlation between Φ(o_t) and t over an expert episode, averaged over episodes. It is
computed on o_0..o_k: after the goal is reached the expert rests and there is no order left
to recover. 1 means Φ rises monotonically along every demonstration.

**Shaping.** Ng, Harada & Russell (1999): r′ = r + γ(1 − terminated)Φ(s′) − Φ(s) keeps the
optimal policy (Φ(terminal) = 0). With γ = 1 this is VIP/LIV's progress reward
S(o_{t+1}, g) − S(o_t, g) (Ma et al. 2022, 2023).

**Process rewards.** For a multi-turn text episode o_0..o_n, turn t earns Φ_t − Φ_{t−1}
("Delta"): the sum over turns telescopes to Φ_n − Φ_0 ≤ 1, so repeating turns cannot farm
reward, and ``cap`` additionally clips each delta. ``mode="clip"`` gives Gao et al.'s "Clip"
(2024, "On Designing Effective RL Reward at Training Time for LLM Reasoning"):
r_t = min(Φ_t − η, 0), never positive, so extra turns never add reward.

Saved form: a folder with ``config.json`` (everything needed to rebuild the network) and
``weights.pt`` (a state dict, read with ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rewardgym._files import read_index

__all__ = [
    "ProgressModel",
    "ProgressShaping",
    "make_progress_reward",
    "progress_targets",
    "spearman",
    "value_order_correlation",
]

FORMAT = "rewardgym-progress"
VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.pt"
ENCODERS = ("state", "pixels", "text")

# Epochs (passes over every demo state) by encoder: where the held-out VOC levels off on the
# scripted experts' demos (Reach states and 32x32 pixels, Cooking walkthroughs), with margin.
DEFAULT_EPOCHS = {"state": 60, "pixels": 40, "text": 100}


# -- targets and the VOC metric ------------------------------------------------------------
def progress_targets(success: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Progress targets ``(T+1,)`` of an episode and the step ``k`` from which it stays successful.

    ``success[i]`` is ``info["success"]`` after step ``i + 1``. ``y_t = min(t / k, 1)``, the
    time normalised by ``k``. A failed episode (``success[-1]`` false) gives ``(zeros, None)``.
    """
    success = np.asarray(success, dtype=bool)
    length = len(success)
    if length == 0 or not success[-1]:
        return np.zeros(length + 1, dtype=np.float32), None
    failures = np.flatnonzero(~success)
    done = int(failures[-1]) + 2 if len(failures) else 1  # obs index after the last failed step
    steps = np.arange(length + 1, dtype=np.float32)
    return np.minimum(steps / done, 1.0).astype(np.float32), done


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 with ties given their average rank (what Spearman's rho needs)."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(len(x), dtype=np.float64)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation; 0 when either side is constant (no order to compare)."""
    rx, ry = _ranks(np.asarray(x, dtype=np.float64)), _ranks(np.asarray(y, dtype=np.float64))
    rx, ry = rx - rx.mean(), ry - ry.mean()
    norm = math.sqrt(float((rx * rx).sum() * (ry * ry).sum()))
    return float((rx * ry).sum() / norm) if norm > 0 else 0.0


def value_order_correlation(values: np.ndarray) -> float:
    """VOC of one episode's values in time order: Spearman(Φ_t, t)."""
    return spearman(np.asarray(values), np.arange(len(values)))


# -- observations -> features (NumPy, no weights) -------------------------------------------
def _is_image(array: np.ndarray, batched: bool = True) -> bool:
    shape = array.shape[1:] if batched else array.shape
    return array.dtype == np.uint8 and len(shape) == 3 and shape[-1] == 3


def _leaves(obs: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """A (batched) observation as ``{"a/b": array}``; a plain array is the leaf ``""``."""
    if isinstance(obs, dict):
        out: dict[str, np.ndarray] = {}
        for key in sorted(obs):
            out.update(_leaves(obs[key], f"{prefix}{key}/"))
        return out
    return {prefix.rstrip("/"): np.asarray(obs)}


def _state_leaves(obs: Any) -> dict[str, np.ndarray]:
    """The numeric, non-image leaves of a batched observation, plus ``goal_delta`` for goal-conditioned ones.

    ``goal_delta`` = achieved_goal − desired_goal (Gymnasium-Robotics' Dict convention): the
    quantity the task reward thresholds. Φ read from it alone is the same function of the
    gripper-to-goal offset wherever the episode started, which is what shaping needs.
    """
    leaves = {k: v for k, v in _leaves(obs).items() if not _is_image(v)}
    if "achieved_goal" in leaves and "desired_goal" in leaves:
        leaves["goal_delta"] = np.subtract(leaves["achieved_goal"], leaves["desired_goal"], dtype=np.float64)
    return leaves


def _is_text(obs: Any) -> bool:
    if isinstance(obs, np.ndarray):
        return obs.dtype.kind in "USO" and (obs.size == 0 or isinstance(obs.flat[0], str))
    return isinstance(obs, (list, tuple)) and len(obs) > 0 and isinstance(obs[0], str)


def _task_of(infos: Sequence[dict], i: int, default: str) -> str:
    if infos is not None and i < len(infos):
        task = infos[i].get("task")
        if task is not None:
            return str(task)
    return default


# -- the network --------------------------------------------------------------------------
def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class _PixelTrunk(nn.Module):
    """uint8 (B, H, W, 3) -> features: three strided convolutions (a narrow Nature-CNN)."""

    def __init__(self, image_shape: Sequence[int], channels: int = 32):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(3, channels, 4, stride=2), nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 4, stride=2), nn.ReLU(),
            nn.Conv2d(2 * channels, 2 * channels, 3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            self.size = int(self.convs(torch.zeros(1, 3, image_shape[0], image_shape[1])).shape[1])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.convs(images.permute(0, 3, 1, 2).float() / 255.0)


class ProgressNet(nn.Module):
    """x -> logit f(x); Φ = σ(f(x)). Vector inputs are standardised with stored statistics, then clipped."""

    def __init__(self, encoder: str, input_shape: Sequence[int], hidden_sizes: Sequence[int], clip: float = 5.0):
        super().__init__()
        self.encoder, self.clip = encoder, clip
        if encoder == "pixels":
            self.trunk: nn.Module = _PixelTrunk(input_shape)
            width = self.trunk.size
        else:
            self.trunk = nn.Identity()
            width = int(input_shape[0])
            # set from the training data by fit(); part of the state dict, so saved with the weights
            self.register_buffer("mean", torch.zeros(width))
            self.register_buffer("std", torch.ones(width))
        self.head = _mlp([width, *hidden_sizes, 1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.encoder != "pixels":
            # clipped, so a feature the demos never varied (the expert's fingers) cannot push an
            # unseen state thousands of standard deviations out (SB3's VecNormalize clips too)
            x = ((x - self.mean) / self.std).clamp(-self.clip, self.clip)
        return self.head(self.trunk(x)).squeeze(-1)


def _random_shift(images: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """DrQ's augmentation: pad by replicating edges, crop back at a random offset per image."""
    if pad <= 0:
        return images
    b, h, w, _ = images.shape
    padded = F.pad(images.permute(0, 3, 1, 2).float(), (pad, pad, pad, pad), mode="replicate")
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    dx, dy = dx.to(images.device), dy.to(images.device)
    rows = (dy[:, None] + torch.arange(h, device=images.device)[None])[:, :, None].expand(b, h, w)
    cols = (dx[:, None] + torch.arange(w, device=images.device)[None])[:, None, :].expand(b, h, w)
    batch = torch.arange(b, device=images.device)[:, None, None].expand(b, h, w)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols]


# -- the model ----------------------------------------------------------------------------
class ProgressModel:
    r"""Φ(observation, task) ∈ [0, 1], learned from demonstrations; a ``Potential``.

    ``model(obs, infos, frames=None) -> (B,) float32``: ``obs`` a batched observation (an
    array, a dict of arrays, or a sequence of str), ``infos`` the matching info dicts (the
    text encoder reads ``info["task"]``), ``frames`` ``(B, H, W, 3)`` uint8 renders when the
    model was fitted on demo frames (then ``needs_frames`` is true and
    :class:`~rewardgym.wrappers.PotentialShaping` renders them).

    Args:
        encoder: ``"state"``, ``"pixels"``, ``"text"`` or ``"auto"`` (chosen from the demos:
            strings -> text, uint8 images -> pixels, else state).
        hidden_sizes: the MLP head's hidden layers.
        rank_coef: λ, the weight of the pairwise ranking loss.
        temperature: τ of the ranking loss, in units of Φ.
        learning_rate, batch_size, weight_decay: Adam's settings and the minibatch size.
        shift: the pixel encoder's random-shift augmentation, in pixels (0 disables it).
        keys: state only; what Φ reads: observation keys (``"a/b"`` for nested Dicts) and,
            for goal-conditioned observations, ``"goal_delta"`` (achieved_goal − desired_goal);
            None reads them all. Expert demos start in a narrow set of states and correlate
            progress with anything that changes along them (the distance from the start
            position, velocities, the fingers); Φ then rewards a learning policy for those, not
            for the task. Naming the task-relevant keys, e.g. ``("goal_delta",)`` for Reach, is
            what makes Φ useful for shaping.
        history: text only; include the running mean of the episode's observation embeddings
            (the "text so far"). A potential called on single observations treats each as its
            own history; fit with ``history=False`` for shaping a text env step by step.
        text_model: text only; the :class:`TextEncoder` checkpoint (None: its default).
        text_encoder: text only; an already built :class:`TextEncoder` to share (it is not
            saved: ``text_model`` names the checkpoint a loaded model builds).
        device: where the network runs (``"auto"``: CUDA when available).

    The network is built by :meth:`fit` (the demos give the input shapes) or :meth:`load`.
    """

    def __init__(self, encoder: str = "auto", *, hidden_sizes: Sequence[int] = (256, 256), rank_coef: float = 1.0,
                 temperature: float = 0.05, learning_rate: float = 1e-3, batch_size: int = 256,
                 weight_decay: float = 1e-5, shift: int = 2, keys: Sequence[str] | None = None,
                 history: bool = True, text_model: str | None = None, text_encoder: Any = None, device: str = "cpu"):
        if encoder not in (*ENCODERS, "auto"):
            raise ValueError(f"encoder must be one of {ENCODERS} or 'auto', got {encoder!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.config: dict[str, Any] = {
            "encoder": encoder, "hidden_sizes": [int(h) for h in hidden_sizes], "rank_coef": float(rank_coef),
            "temperature": float(temperature), "learning_rate": float(learning_rate), "batch_size": int(batch_size),
            "weight_decay": float(weight_decay), "shift": int(shift), "history": bool(history),
            "text_model": text_model, "keys": None if keys is None else [str(k) for k in keys],
            # filled in by fit(): what the network reads
            "source": None, "input_shape": None, "default_task": "", "metrics": {},
        }
        from rewardgym._torch import resolve_device

        self.device = resolve_device(device)
        self.net: ProgressNet | None = None
        self._text = text_encoder  # the TextEncoder, built on first use when not given

    # -- properties -----------------------------------------------------------------------
    @property
    def encoder(self) -> str:
        return self.config["encoder"]

    @property
    def needs_frames(self) -> bool:
        """True when Φ reads rendered frames rather than the observation."""
        return self.config["source"] == "frames"

    def __repr__(self) -> str:
        built = "unfitted" if self.net is None else f"source={self.config['source']!r}"
        return f"ProgressModel(encoder={self.encoder!r}, {built}, device={str(self.device)!r})"

    # -- features -------------------------------------------------------------------------
    def _text_encoder(self):
        if self._text is None:
            from rewardgym.reward_models.embeddings import TextEncoder

            self._text = TextEncoder(self.config["text_model"], device=self.device)
        return self._text

    def _choose_inputs(self, episode) -> None:
        """Pick the encoder (for "auto"), the source and the input shape from one episode."""
        obs, c = episode.observations, self.config
        if c["encoder"] == "auto":
            if _is_text(obs):
                c["encoder"] = "text"
            elif any(_is_image(v) for v in _leaves(obs).values()):
                c["encoder"] = "pixels"
            else:
                c["encoder"] = "state"
        if c["encoder"] == "text":
            if not _is_text(obs):
                raise ValueError("the text encoder needs text observations (demos of a text env)")
            c["source"], c["keys"] = "obs", None
            c["input_shape"] = [(3 if c["history"] else 2) * self._text_encoder().dim]
        elif c["encoder"] == "pixels":
            images = [k for k, v in _leaves(obs).items() if _is_image(v)]
            if images:
                c["source"], c["keys"] = "obs", images[:1]
                c["input_shape"] = list(_leaves(obs)[images[0]].shape[1:])
            elif episode.frames is not None:
                c["source"], c["keys"] = "frames", None
                c["input_shape"] = list(episode.frames.shape[1:])
            else:
                raise ValueError("the pixel encoder needs image observations or demos collected with frames=True")
        else:
            leaves = _state_leaves(obs)
            if c["keys"] is not None:
                missing = [k for k in c["keys"] if k not in leaves]
                if missing:
                    raise ValueError(f"keys {missing} are not numeric keys of the observation ({sorted(leaves)})")
                leaves = {k: leaves[k] for k in c["keys"]}
            if not leaves or any(v.dtype.kind not in "biuf" for v in leaves.values()):
                raise ValueError("the state encoder needs numeric observations")
            c["source"], c["keys"] = "obs", sorted(leaves)
            c["input_shape"] = [sum(int(np.prod(v.shape[1:], dtype=int)) for v in leaves.values())]

    def _inputs(self, obs: Any, infos: Sequence[dict] | None, frames: np.ndarray | None) -> np.ndarray:
        """A batch of observations -> the network's input (B, ...) as a NumPy array."""
        c = self.config
        if c["source"] == "frames":
            if frames is None:
                raise ValueError("this progress model reads rendered frames: call it with frames (needs_frames)")
            return np.asarray(frames, dtype=np.uint8)
        if c["encoder"] == "text":
            texts = [str(t) for t in (obs.tolist() if isinstance(obs, np.ndarray) else obs)]
            tasks = [_task_of(infos, i, c["default_task"]) for i in range(len(texts))]
            return self._text_features(texts, tasks, None)
        leaves = _leaves(obs) if c["encoder"] == "pixels" else _state_leaves(obs)
        missing = [k for k in c["keys"] if k not in leaves]
        if missing:
            raise ValueError(f"observation lacks {missing}; this progress model reads {c['keys']}")
        if c["encoder"] == "pixels":
            return np.asarray(leaves[c["keys"][0]], dtype=np.uint8)
        batch = len(leaves[c["keys"][0]])
        return np.concatenate([np.asarray(leaves[k], dtype=np.float32).reshape(batch, -1) for k in c["keys"]], axis=1)

    def _text_features(self, texts: list[str], tasks: list[str], history: np.ndarray | None) -> np.ndarray:
        """[e(o_t), history_t, e(task)] per row; ``history`` None: each text is its own history."""
        encode = self._text_encoder().encode
        latest, task = encode(texts), encode(tasks)
        if not self.config["history"]:
            return np.concatenate([latest, task], axis=1)
        return np.concatenate([latest, latest if history is None else history, task], axis=1)

    def _episode_inputs(self, episode) -> np.ndarray:
        """All T+1 inputs of a demo episode."""
        if self.config["encoder"] == "text":
            return self._text_sequence(episode.observations.tolist(), episode.task or self.config["default_task"])
        infos = [{"task": episode.task}] if episode.task else None
        return self._inputs(episode.observations, infos, episode.frames)

    def _text_sequence(self, texts: Sequence[str], task: str) -> np.ndarray:
        """Inputs for o_0..o_n of one text episode; the history is the running mean of their embeddings."""
        texts = [str(t) for t in texts]
        embedded = self._text_encoder().encode(texts)
        history = np.cumsum(embedded, axis=0) / np.arange(1, len(texts) + 1, dtype=np.float32)[:, None]
        return self._text_features(texts, [task] * len(texts), history)

    def turn_progress(self, turn_texts: Sequence[str], task: str) -> np.ndarray:
        """Φ after each turn of a text episode: Φ(o_0..o_t, task) for t = 0..n, as ``(n+1,)`` float32."""
        if self.config["encoder"] != "text":
            raise ValueError(f"turn_progress needs a text progress model, this one is {self.encoder!r}")
        self._require_net()
        return self._predict(self._text_sequence(turn_texts, task))

    # -- Φ ----------------------------------------------------------------------------------
    def _require_net(self) -> ProgressNet:
        if self.net is None:
            raise RuntimeError("this ProgressModel has no network yet: fit() it on demos or ProgressModel.load() one")
        return self.net

    def _predict(self, inputs: np.ndarray, chunk: int = 4096) -> np.ndarray:
        net = self._require_net()
        net.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(inputs), chunk):
                x = torch.as_tensor(inputs[start:start + chunk], device=self.device)
                out.append(torch.sigmoid(net(x)).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def __call__(self, obs: Any, infos: Sequence[dict] | None = None, frames: np.ndarray | None = None) -> np.ndarray:
        """Φ of a batch of observations, ``(B,)`` float32 in [0, 1]."""
        self._require_net()
        return self._predict(self._inputs(obs, infos, frames))

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, demos: Any, epochs: int | None = None, *, val_fraction: float = 0.2, seed: int = 0,
            negatives: bool = False, progress: bool = True) -> list[dict[str, float]]:
        r"""Fit Φ to the demonstrations; returns the history, one dict per epoch.

        ``demos``: a :class:`~rewardgym.workflows.demos.DemoSet` (``rewardgym.load_demos(folder)``)
        or a list of episodes.
        A fraction ``val_fraction`` of the episodes (at least one when there are two or more)
        is held out: each epoch reports its VOC (``val_voc``), and ``self.config["metrics"]``
        keeps the held-out :meth:`evaluate` figures after the last epoch. ``negatives`` adds
        the failed episodes with target 0. ``epochs=0`` builds the network without training
        (an untrained baseline); ``None`` takes the encoder's default. Fitting again continues
        with the same network (the input statistics are recomputed from the new demos).
        """
        from tqdm.auto import tqdm

        episodes = _episodes(demos)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(episodes))
        n_val = int(round(val_fraction * len(episodes))) if len(episodes) > 1 else 0
        if val_fraction > 0 and len(episodes) > 1:
            n_val = min(max(n_val, 1), len(episodes) - 1)
        val = [episodes[i] for i in order[:n_val]]
        train = [episodes[i] for i in order[n_val:]]
        if not any(progress_targets(e.success)[1] is not None for e in train):
            raise ValueError("no successful episode among the training demos: progress targets need successes")

        if self.net is None:
            self._choose_inputs(train[0])
            tasks = [e.task for e in train if e.task]
            self.config["default_task"] = max(set(tasks), key=tasks.count) if tasks else ""
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                self.net = ProgressNet(self.encoder, self.config["input_shape"], self.config["hidden_sizes"])
            self.net.to(self.device)
        data = self._dataset(train, negatives)
        if self.encoder != "pixels":  # standardise vector inputs with the training set's statistics
            x = data["x"].astype(np.float64)
            self.net.mean.copy_(torch.as_tensor(x.mean(0), dtype=torch.float32))
            self.net.std.copy_(torch.as_tensor(np.maximum(x.std(0), 1e-6), dtype=torch.float32))

        epochs = DEFAULT_EPOCHS[self.encoder] if epochs is None else int(epochs)
        generator = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.Adam(self.net.parameters(), lr=self.config["learning_rate"],
                                     weight_decay=self.config["weight_decay"])
        x_all = torch.as_tensor(data["x"], device=self.device)
        y_all = torch.as_tensor(data["y"], device=self.device)
        n, batch = len(data["y"]), self.config["batch_size"]
        history: list[dict[str, float]] = []
        with tqdm(range(epochs), disable=not progress, unit="epoch", desc="progress model", dynamic_ncols=True) as bar:
            for epoch in bar:
                self.net.train()
                sums = np.zeros(3)
                steps = max(1, math.ceil(n / batch))
                perm = torch.randperm(n, generator=generator)
                for step in range(steps):
                    rows = perm[step * batch:(step + 1) * batch]
                    earlier, later = _sample_pairs(data, len(rows), rng)
                    loss, regression, ranking = self._loss(x_all, y_all, rows, earlier, later, generator)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    sums += (loss.item(), regression.item(), ranking.item())
                record = dict(zip(("loss", "regression", "ranking"), (sums / steps).tolist()))
                record["epoch"] = epoch + 1
                if val:
                    record["val_voc"] = self.evaluate(val)["voc"]
                history.append(record)
                bar.set_postfix({k: f"{v:.3f}" for k, v in record.items() if k != "epoch"}, refresh=False)
        self.config["metrics"] = {"train_episodes": len(train), "val_episodes": len(val), "epochs": epochs,
                                  **({f"val_{k}": v for k, v in self.evaluate(val).items()} if val else {})}
        return history

    def _dataset(self, episodes: list, negatives: bool) -> dict[str, np.ndarray]:
        """Inputs, targets, and for ranking: each state's episode offset, time t and done step k."""
        xs, ys, offsets, times, dones = [], [], [], [], []
        start = 0
        for episode in episodes:
            targets, done = progress_targets(episode.success)
            if done is None and not negatives:
                continue
            xs.append(self._episode_inputs(episode))
            ys.append(targets)
            steps = len(targets)
            offsets.append(np.full(steps, start))
            times.append(np.arange(steps))
            dones.append(np.full(steps, -1 if done is None else done))  # -1: no pairs from a failed episode
            start += steps
        data = {"x": np.concatenate(xs), "y": np.concatenate(ys), "offset": np.concatenate(offsets),
                "t": np.concatenate(times), "done": np.concatenate(dones)}
        data["pair_starts"] = np.flatnonzero(data["t"] < data["done"])  # states with a later one to rank against
        return data

    def _loss(self, x_all, y_all, rows, earlier, later, generator):
        c = self.config
        x = x_all[rows.to(x_all.device)]
        pairs = torch.as_tensor(np.concatenate([earlier, later]), device=x_all.device)
        inputs = torch.cat([x, x_all[pairs]])
        if self.encoder == "pixels":
            inputs = _random_shift(inputs, c["shift"], generator)
        logits = self.net(inputs)
        n = len(rows)
        regression = F.binary_cross_entropy_with_logits(logits[:n], y_all[rows.to(y_all.device)])
        phi = torch.sigmoid(logits[n:])
        half = len(earlier)
        if half:
            ranking = F.softplus(-(phi[half:] - phi[:half]) / c["temperature"]).mean()
        else:
            ranking = torch.zeros((), device=logits.device)
        return regression + c["rank_coef"] * ranking, regression, ranking

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self, demos: Any) -> dict[str, float]:
        """Quality on demonstrations: VOC and how Φ sits at the ends.

        ``voc``: the mean over successful episodes of Spearman(Φ(o_t), t) for t = 0..k (see the
        module docstring), ``voc_std`` its spread; ``start`` and ``end``: mean Φ(o_0) and Φ(o_T);
        ``mae``: mean |Φ − y| over every state; ``failed_end``: mean Φ(o_T) of failed episodes
        (nan without any); ``episodes``: how many were scored.
        """
        vocs, starts, ends, errors, failed_ends = [], [], [], [], []
        for episode in _episodes(demos):
            phi = self._predict(self._episode_inputs(episode))
            targets, done = progress_targets(episode.success)
            if done is None:
                failed_ends.append(phi[-1])
                continue
            vocs.append(value_order_correlation(phi[:done + 1]))
            starts.append(phi[0])
            ends.append(phi[-1])
            errors.append(np.abs(phi - targets).mean())
        return {"voc": _mean(vocs), "voc_std": float(np.std(vocs)) if vocs else float("nan"), "start": _mean(starts),
                "end": _mean(ends), "mae": _mean(errors), "failed_end": _mean(failed_ends), "episodes": len(vocs)}

    # -- process rewards (text) -------------------------------------------------------------
    def process_rewards(self, turn_texts: Sequence[str], task: str, *, mode: str = "delta", cap: float | None = None,
                        eta: float = 1.0) -> np.ndarray:
        r"""Per-turn process rewards for a multi-turn text episode, ``(n,)`` float32.

        ``turn_texts``: the observations o_0 (before the first turn) .. o_n (after turn n);
        ``task``: the instruction. With Φ_t = Φ(o_0..o_t, task):

        * ``mode="delta"``: r_t = Φ_t − Φ_{t−1}, clipped to [−cap, cap] when ``cap`` is given.
          Their sum telescopes to Φ_n − Φ_0, so going round in circles earns nothing.
        * ``mode="clip"``: r_t = min(Φ_t − η, 0) (Gao et al. 2024's "Clip"): no turn earns a
          positive reward, so extra turns can only cost.
        """
        if len(turn_texts) < 1:
            raise ValueError("turn_texts needs at least the first observation")
        phi = self.turn_progress(turn_texts, task)
        if mode == "delta":
            rewards = phi[1:] - phi[:-1]
            if cap is not None:
                if not cap > 0:
                    raise ValueError(f"cap must be > 0, got {cap}")
                rewards = np.clip(rewards, -cap, cap)
        elif mode == "clip":
            rewards = np.minimum(phi[1:] - eta, 0.0)
        else:
            raise ValueError(f"mode must be 'delta' or 'clip', got {mode!r}")
        return rewards.astype(np.float32)

    # -- saving -------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write ``config.json`` and ``weights.pt`` into the folder ``path`` (made if needed)."""
        net = self._require_net()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        config = {"format": FORMAT, "version": VERSION, **self.config}
        (folder / CONFIG_FILE).write_text(json.dumps(_json_safe(config), indent=2, allow_nan=False))
        torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, folder / WEIGHTS_FILE)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> ProgressModel:
        """Rebuild a saved model; FileNotFoundError or ValueError naming the file that is missing or corrupt."""
        folder = Path(path)
        config_file, weights_file = folder / CONFIG_FILE, folder / WEIGHTS_FILE
        if not folder.is_dir():
            raise FileNotFoundError(f"progress model folder {folder} does not exist")
        for file in (config_file, weights_file):
            if not file.is_file():
                raise FileNotFoundError(f"{file} is missing: {folder} is not a saved progress model")
        config = read_index(config_file, f"{config_file} is missing", FORMAT, VERSION, "a rewardgym progress model")
        try:
            model = cls(config["encoder"], hidden_sizes=config["hidden_sizes"], rank_coef=config["rank_coef"],
                        temperature=config["temperature"], learning_rate=config["learning_rate"],
                        batch_size=config["batch_size"], weight_decay=config["weight_decay"], shift=config["shift"],
                        keys=config["keys"], history=config["history"], text_model=config["text_model"],
                        device=device)
            for key in ("source", "input_shape", "default_task", "metrics"):
                model.config[key] = config[key]
            net = ProgressNet(config["encoder"], config["input_shape"], config["hidden_sizes"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{config_file} is corrupt: {type(exc).__name__}: {exc}") from None
        try:
            state = torch.load(weights_file, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises several types for a damaged or foreign file
            raise ValueError(f"{weights_file} is corrupt or not progress-model weights: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        try:
            net.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise ValueError(f"{weights_file} does not fit {config_file}: {str(exc).splitlines()[0]}") from None
        model.net = net.to(model.device)
        return model


def _episodes(demos: Any) -> list:
    """A DemoSet or sequence of episodes -> a list of episodes (read once)."""
    if isinstance(demos, (str, Path)):
        raise TypeError(f"give the demonstrations, not a folder name: rewardgym.load_demos({str(demos)!r}) reads them")
    episodes = list(demos)
    if not episodes:
        raise ValueError("no demonstrations given")
    return episodes


def _json_safe(value: Any) -> Any:
    """Plain JSON: NumPy numbers as Python ones, nan (a figure without data) as null."""
    if isinstance(value, dict):
        return {key: _json_safe(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _mean(values: list) -> float:
    return float(np.mean(values)) if values else float("nan")


def _sample_pairs(data: dict[str, np.ndarray], n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` pairs (i, j) of state indices in one successful episode with t_i < t_j <= k."""
    starts = data["pair_starts"]
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    earlier = starts[rng.integers(0, len(starts), n)]
    t, done = data["t"][earlier], data["done"][earlier]
    later_t = t + 1 + (rng.random(n) * (done - t)).astype(np.int64)  # uniform on t+1..k
    return earlier.astype(np.int64), (data["offset"][earlier] + np.minimum(later_t, done)).astype(np.int64)


# -- the reward-model form ------------------------------------------------------------------
class ProgressShaping:
    r"""A progress model as a ``RewardModel``: the potential-based shaping term of each transition.

    .. math:: F(s, a, s') = \text{scale} \cdot \big(\gamma (1 - \text{terminated}) \Phi(s') - \Phi(s)\big)

    ``LearnedReward(env, ProgressShaping(model, gamma))`` in mode ``"add"`` is then
    ``r + F``: the same reward as ``PotentialShaping(env, model, gamma)`` (Ng et al. 1999),
    and it also serves PPO's deferred scoring of a whole rollout. Use γ equal to the agent's
    discount (PPO's default 0.99) for the optimal policy to stay the same; γ = 1 is VIP/LIV's
    progress reward. A model fitted on rendered frames cannot be used here (a transition
    carries only the frame of s′): use :class:`~rewardgym.wrappers.PotentialShaping` with it,
    or fit on pixel observations.
    """

    needs_frames = False

    def __init__(self, model: ProgressModel, gamma: float = 0.99, scale: float = 1.0):
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}")
        if model.needs_frames:
            raise ValueError("this progress model reads rendered frames, and a transition holds only the frame of "
                             "s′: shape with rewardgym.wrappers.PotentialShaping(env, model) instead")
        self.model, self.gamma, self.scale = model, float(gamma), float(scale)

    def __call__(self, batch) -> np.ndarray:
        phi = self.model(batch.obs, batch.infos).astype(np.float64)
        phi_next = self.model(batch.next_obs, batch.infos).astype(np.float64)
        alive = 1.0 - np.asarray(batch.terminated, dtype=np.float64)
        return (self.scale * (self.gamma * alive * phi_next - phi)).astype(np.float32)

    def __repr__(self) -> str:
        return f"ProgressShaping({self.model!r}, gamma={self.gamma}, scale={self.scale})"


def make_progress_reward(path: str, gamma: float = 0.99, scale: float = 1.0, device: str = "auto") -> ProgressShaping:
    """The ``progress`` spec: ``progress:PATH;gamma=0.99;scale=1;device=auto`` -> :class:`ProgressShaping`."""
    try:
        model = ProgressModel.load(str(path), device=device)
    except FileNotFoundError as exc:
        raise ValueError(str(exc)) from None  # make_reward reports ValueErrors as one line
    return ProgressShaping(model, gamma=gamma, scale=scale)
