r"""Zero-shot vision-language rewards: the VLM-RM reward of a CLIP or SigLIP model.

Rocamonde et al. (2024), "Vision-Language Models are Zero-Shot Reward Models for
Reinforcement Learning" (VLM-RM, ICLR 2024, arXiv:2310.12921), score each rendered frame
against a text description of the goal. With unit-normalised embeddings

* ``x``: the image embedding of the frame,
* ``g``: the mean of the unit embeddings of the goal prompts, renormalised,
* ``b``: the same for the baseline prompts ("a humanoid robot" for the goal "a humanoid
  robot kneeling"), and ``d = g − b``,

the reward is

.. math::

    R(x) = 1 - \tfrac{1}{2} \lVert (x - g) P \rVert^2, \qquad
    P = \alpha \frac{d d^\top}{\lVert d \rVert^2} + (1 - \alpha) I .

``P`` projects onto the baseline→goal direction: α = 1 keeps only the component of
``x − g`` along ``d`` (progress from the baseline towards the goal, ignoring whatever else
is in the picture), α = 0 keeps everything. Since ``‖x‖ = ‖g‖ = 1``, α = 0 is exactly
cosine similarity: ``1 − ½‖x − g‖² = x·g``. VLM-RM used α = 0.5.

:class:`CLIPReward` is that reward for any transformers CLIP or SigLIP checkpoint. It
scores frames in chunks of ``batch_size`` under ``torch.inference_mode`` (and autocast on
CUDA), so deferred scoring of a whole rollout (:func:`rewardgym.agents.ppo.score_rollout`)
runs as a few large forward passes, as VLM-RM did with episodes of 1600 frames.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch

from rewardgym.rewards.transitions import Transitions
from rewardgym._torch import load_pretrained, resolve_device

__all__ = ["CLIPReward", "DEFAULT_CLIP_MODEL", "VLM_RM_CLIP_MODEL", "vlm_rm_reward", "mean_embedding"]

DEFAULT_CLIP_MODEL = "openai/clip-vit-base-patch32"
"""Default checkpoint: OpenAI's CLIP ViT-B/32 (151M parameters), quick enough for CPU runs."""

VLM_RM_CLIP_MODEL = "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k"
"""The largest CLIP of VLM-RM (OpenCLIP ViT-bigG/14, 2.5B parameters): the only one that
learnt the humanoid's kneeling pose in the paper; needs a GPU."""

_DOWNLOAD_HINT = (
    "CLIPReward needs a transformers CLIP or SigLIP checkpoint (config, weights, tokenizer and"
    " preprocessor config). On a machine with network access run"
    " `hf download openai/clip-vit-base-patch32 --local-dir clip-vit-base-patch32`"
    " (older huggingface_hub: `huggingface-cli download ...`), copy the folder here and pass"
    " model='path/to/clip-vit-base-patch32' (in a spec: clip:goal=...;model=path/to/clip-vit-base-patch32)."
)

# PIL resampling codes, as image processor configs store them, -> torch interpolation modes.
# torch has no Lanczos; bicubic is the closest.
_RESAMPLE = {0: "nearest", 1: "bicubic", 2: "bilinear", 3: "bicubic", 4: "bilinear", 5: "bilinear"}


def mean_embedding(embeddings: np.ndarray) -> np.ndarray:
    """Unit-normalise each row, average them, renormalise: the embedding of a prompt set."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    embeddings = embeddings / np.linalg.norm(embeddings, axis=-1, keepdims=True)
    mean = embeddings.mean(axis=0)
    return mean / np.linalg.norm(mean)


def vlm_rm_reward(x: np.ndarray, goal: np.ndarray, direction: np.ndarray | None, alpha: float) -> np.ndarray:
    r"""``R(x) = 1 − ½‖(x − g)P‖²`` for unit embeddings ``x`` ``(B, D)`` and goal ``g`` ``(D,)``.

    ``direction`` is ``d / ‖d‖`` with ``d = g − b`` (``None`` is allowed when α = 0), so
    ``(x − g)P = α((x − g)·u)u + (1 − α)(x − g)``: the formula without forming the
    ``D × D`` matrix.
    """
    diff = np.asarray(x, dtype=np.float32) - goal
    projected = (1.0 - alpha) * diff
    if alpha:
        if direction is None:
            raise ValueError("alpha > 0 needs a baseline direction")
        projected = projected + alpha * (diff @ direction)[:, None] * direction
    return (1.0 - 0.5 * np.square(projected).sum(axis=-1)).astype(np.float32)


def goal_direction(goal: np.ndarray, baseline: np.ndarray | None, alpha: float) -> np.ndarray | None:
    """``u = (g − b)/‖g − b‖``, after checking that α fits the prompts given."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if baseline is None:
        if alpha != 0.0:
            raise ValueError(
                f"alpha={alpha} projects onto the baseline->goal direction, so it needs a baseline"
                " prompt; give baseline=... or use alpha=0 (cosine similarity to the goal)"
            )
        return None
    d = goal - baseline
    norm = float(np.linalg.norm(d))
    if norm < 1e-6:
        raise ValueError("goal and baseline prompts have the same embedding; the direction g - b is undefined")
    return (d / norm).astype(np.float32)


def as_prompts(prompts: str | Sequence[str], what: str) -> list[str]:
    """A prompt or a list of prompts -> a non-empty list of str (spec values may be numbers)."""
    if isinstance(prompts, (str, int, float)):
        prompts = [prompts]
    prompts = [str(p).strip() for p in prompts]
    if not prompts or not all(prompts):
        raise ValueError(f"{what} needs at least one non-empty prompt, got {prompts!r}")
    return prompts


def _size_field(size: Any, key: str) -> int | None:
    """Read ``size["key"]`` from a dict (transformers 4) or a SizeDict (transformers 5)."""
    if size is None:
        return None
    value = size.get(key) if isinstance(size, Mapping) else getattr(size, key, None)
    return None if value is None else int(value)


class CLIPReward:
    r"""VLM-RM reward of rendered frames (or pixel observations) under a CLIP/SigLIP model.

    ``R = 1 − ½‖(x − g)P‖²``, ``P = α·ddᵀ/‖d‖² + (1 − α)I``, ``d = g − b`` on unit
    embeddings (see the module docstring; Rocamonde et al. 2024, arXiv:2310.12921). The
    reward lies in ``[−1, 1]``; with α = 0 it equals the cosine similarity ``x·g``.

    Args:
        goal: the goal prompt, or a list of prompts (their unit embeddings are averaged,
            then renormalised).
        baseline: the baseline prompt(s); ``None`` allows only α = 0.
        model: a transformers CLIP or SigLIP checkpoint: a hub id (default
            :data:`DEFAULT_CLIP_MODEL`, ``openai/clip-vit-base-patch32``; VLM-RM's largest is
            :data:`VLM_RM_CLIP_MODEL`) or a local folder made with ``save_pretrained``.
            A missing checkpoint raises ``OSError``/``FileNotFoundError`` saying what to
            download; a local path never triggers a download.
        alpha: projection strength α in ``[0, 1]`` (VLM-RM: 0.5).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ...
        batch_size: frames per forward pass.
        pixel_key: ``None`` scores ``batch.frames`` (the wrappers render the env:
            ``needs_frames`` is true). Otherwise the frames come from the observation
            ``batch.next_obs``: a key of a ``Dict`` observation (``"pixels"``), a list of
            keys (one per camera, e.g. ``["pixels_front", "pixels_wrist"]``), or ``"obs"``
            when the observation itself is the ``(B, H, W, 3)`` image.
        fuse: how the rewards of several cameras (frames ``(B, V, H, W, 3)`` or several
            ``pixel_key``) become one: ``"mean"``, or ``"min"`` (every view must look like
            the goal).

    Frames are uint8 RGB ``(B, H, W, 3)``. They are resized, cropped and normalised on the
    model's device with the checkpoint's own preprocessing settings (torch's antialiased
    interpolation stands in for PIL's, a difference of a few grey levels), so no image
    leaves the device and a batch is one tensor operation.

    Example:
        >>> reward = CLIPReward("a humanoid robot kneeling", "a humanoid robot", alpha=0.5)  # doctest: +SKIP
        >>> env = LearnedReward(gym.make("rewardgym/Manip-HumanoidPose-v0",
        ...                              render_mode="rgb_array"), reward, mode="replace")  # doctest: +SKIP
    """

    def __init__(
        self,
        goal: str | Sequence[str],
        baseline: str | Sequence[str] | None = None,
        model: str | os.PathLike = DEFAULT_CLIP_MODEL,
        alpha: float = 0.5,
        device: str | torch.device = "auto",
        batch_size: int = 64,
        pixel_key: str | Sequence[str] | None = None,
        fuse: Literal["mean", "min"] = "mean",
    ) -> None:
        import transformers
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        if fuse not in ("mean", "min"):
            raise ValueError(f"fuse must be 'mean' or 'min', got {fuse!r}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.goal_prompts = as_prompts(goal, "goal")
        self.baseline_prompts = None if baseline is None else as_prompts(baseline, "baseline")
        self.alpha = float(alpha)
        if self.baseline_prompts is None:
            goal_direction(np.zeros(1), None, self.alpha)  # fail on a bad alpha before loading a model
        self.model_name = os.fspath(model)
        self.device = resolve_device(device)
        self.batch_size = int(batch_size)
        self.pixel_key = pixel_key if pixel_key is None or isinstance(pixel_key, str) else list(pixel_key)
        self.fuse = fuse
        self.needs_frames = pixel_key is None

        self.model = load_pretrained(AutoModel.from_pretrained, self.model_name, "CLIP", _DOWNLOAD_HINT)
        if not (hasattr(self.model, "get_image_features") and hasattr(self.model, "get_text_features")):
            raise ValueError(
                f"{self.model_name!r} is a {type(self.model).__name__}, not a CLIP-like model with"
                " get_image_features/get_text_features (CLIP, SigLIP, ...)"
            )
        self.model.eval().to(self.device)
        self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, self.model_name, "CLIP", _DOWNLOAD_HINT)
        # Only the processor's settings are used (frames are preprocessed here, on the device);
        # transformers 5 asks for torchvision unless told that the PIL backend will do.
        backend = {"backend": "pil"} if int(transformers.__version__.split(".")[0]) >= 5 else {}
        load_processor = functools.partial(AutoImageProcessor.from_pretrained, **backend)
        processor = load_pretrained(load_processor, self.model_name, "CLIP", _DOWNLOAD_HINT)
        self._read_preprocessing(processor)

        # The prompts never change: embed them once.
        self.goal_embedding = mean_embedding(self.embed_text(self.goal_prompts))
        self.baseline_embedding = (
            None if self.baseline_prompts is None else mean_embedding(self.embed_text(self.baseline_prompts))
        )
        self.direction = goal_direction(self.goal_embedding, self.baseline_embedding, self.alpha)

    # -- preprocessing ----------------------------------------------------------------------
    def _read_preprocessing(self, processor: Any) -> None:
        """Take the resize/crop/normalise settings of the checkpoint's image processor."""
        size = getattr(processor, "size", None)
        self._shortest_edge = _size_field(size, "shortest_edge")
        self._resize_hw = (_size_field(size, "height"), _size_field(size, "width"))
        self._do_resize = bool(getattr(processor, "do_resize", True)) and size is not None
        crop = getattr(processor, "crop_size", None)
        self._crop_hw = (
            (_size_field(crop, "height"), _size_field(crop, "width"))
            if getattr(processor, "do_center_crop", False) and crop is not None
            else None
        )
        resample = getattr(processor, "resample", 3)
        self._interpolation = _RESAMPLE.get(int(getattr(resample, "value", resample)), "bicubic")
        scale = float(getattr(processor, "rescale_factor", 1 / 255)) if getattr(processor, "do_rescale", True) else 1.0
        mean = getattr(processor, "image_mean", None) or (0.0, 0.0, 0.0)
        std = getattr(processor, "image_std", None) or (1.0, 1.0, 1.0)
        if not getattr(processor, "do_normalize", True):
            mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
        # (x·scale − mean)/std as one multiply-add per channel
        std_t = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1)
        self._pixel_mul = scale / std_t
        self._pixel_add = -torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1) / std_t

    def preprocess(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 ``(N, H, W, 3)`` frames -> the model's ``pixel_values`` ``(N, 3, S, S)`` on its device.

        Resize (shortest edge, or to a fixed height × width), centre crop, rescale and
        normalise, as the checkpoint's image processor would; the resized image is rounded
        to whole grey levels like the processor's uint8 PIL image.
        """
        if isinstance(frames, np.ndarray):
            frames = np.ascontiguousarray(frames)  # renders may be flipped views (negative strides)
        images = torch.as_tensor(frames, device=self.device)
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(
                f"frames must be uint8 RGB of shape (N, H, W, 3), got {tuple(images.shape)} {images.dtype}"
            )
        images = images.permute(0, 3, 1, 2).float()
        height, width = images.shape[-2:]
        if self._do_resize:
            if self._shortest_edge is not None:
                short, long = sorted((height, width))
                new_short, new_long = self._shortest_edge, int(self._shortest_edge * long / short)
                target = (new_short, new_long) if height <= width else (new_long, new_short)
            else:
                target = self._resize_hw
            if tuple(target) != (height, width):
                antialias = self._interpolation in ("bilinear", "bicubic")
                images = torch.nn.functional.interpolate(
                    images, size=target, mode=self._interpolation, antialias=antialias,
                    **({} if self._interpolation == "nearest" else {"align_corners": False}),
                )
                images = images.round().clamp(0, 255)
        if self._crop_hw is not None:
            crop_h, crop_w = self._crop_hw
            height, width = images.shape[-2:]
            if crop_h > height or crop_w > width:  # the processor zero-pads a too small image
                pad_h, pad_w = max(crop_h - height, 0), max(crop_w - width, 0)
                padding = (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
                images = torch.nn.functional.pad(images, padding)
                height, width = images.shape[-2:]
            top, left = (height - crop_h) // 2, (width - crop_w) // 2
            images = images[..., top : top + crop_h, left : left + crop_w]
        return images * self._pixel_mul + self._pixel_add

    # -- embeddings ---------------------------------------------------------------------------
    def _autocast(self) -> Any:
        if self.device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            return torch.autocast("cuda", dtype=dtype)
        return torch.autocast("cpu", enabled=False)

    @staticmethod
    def _features(output: Any) -> torch.Tensor:
        # transformers 4 returns the projected embeddings; 5 returns an output whose
        # pooler_output holds them.
        return output if isinstance(output, torch.Tensor) else output.pooler_output

    def embed_text(self, prompts: Sequence[str]) -> np.ndarray:
        """Unit text embeddings ``(N, D)`` float32 of ``prompts``."""
        # SigLIP was trained on texts padded to the full length; CLIP pools at the EOS token.
        siglip = "siglip" in str(getattr(self.model.config, "model_type", ""))
        max_length = getattr(getattr(self.model.config, "text_config", None), "max_position_embeddings", 77)
        tokens = self.tokenizer(
            list(prompts),
            padding="max_length" if siglip else True,
            truncation=True,
            max_length=max_length,
            return_tensors="pt",
        ).to(self.device)
        if siglip:
            tokens.pop("attention_mask", None)  # SigLIP attends to the padding, as in training
        with torch.inference_mode(), self._autocast():
            features = self._features(self.model.get_text_features(**tokens)).float()
        return torch.nn.functional.normalize(features, dim=-1).cpu().numpy()

    def embed_images(self, frames: np.ndarray) -> np.ndarray:
        """Unit image embeddings ``(N, D)`` float32 of uint8 frames ``(N, H, W, 3)``, in chunks."""
        chunks = []
        with torch.inference_mode(), self._autocast():
            for start in range(0, len(frames), self.batch_size):
                pixels = self.preprocess(frames[start : start + self.batch_size])
                features = self._features(self.model.get_image_features(pixel_values=pixels)).float()
                chunks.append(torch.nn.functional.normalize(features, dim=-1).cpu().numpy())
        if not chunks:
            return np.zeros((0, len(self.goal_embedding)), dtype=np.float32)
        return np.concatenate(chunks)

    def score_embeddings(self, image_embeddings: np.ndarray) -> np.ndarray:
        """The VLM-RM reward of unit image embeddings ``(N, D)`` -> ``(N,)`` float32."""
        return vlm_rm_reward(image_embeddings, self.goal_embedding, self.direction, self.alpha)

    def score_frames(self, frames: np.ndarray) -> np.ndarray:
        """Rewards of frames ``(B, H, W, 3)`` -> ``(B,)``, or ``(B, V, H, W, 3)`` fused over views."""
        frames = np.asarray(frames)
        if frames.ndim == 4:
            frames = frames[:, None]
        if frames.ndim != 5 or frames.shape[-1] != 3:
            raise ValueError(f"frames must be (B, H, W, 3) or (B, V, H, W, 3) RGB, got shape {frames.shape}")
        batch, views = frames.shape[:2]
        rewards = self.score_embeddings(self.embed_images(frames.reshape(batch * views, *frames.shape[2:])))
        rewards = rewards.reshape(batch, views)
        fused = rewards.mean(axis=1) if self.fuse == "mean" else rewards.min(axis=1)
        return fused.astype(np.float32)

    # -- the reward model -----------------------------------------------------------------------
    def _frames(self, batch: Transitions) -> np.ndarray:
        if self.pixel_key is None:
            if batch.frames is None:
                raise ValueError(
                    "CLIPReward scores batch.frames, which is None: wrap the env with LearnedReward"
                    " (render_mode='rgb_array'), or pass pixel_key= to read pixel observations"
                )
            return np.asarray(batch.frames)
        keys = [self.pixel_key] if isinstance(self.pixel_key, str) else self.pixel_key
        obs = batch.next_obs
        views = []
        for key in keys:
            if isinstance(obs, Mapping):
                if key not in obs:
                    raise KeyError(f"pixel_key {key!r} is not in the observation; it has {sorted(obs)}")
                views.append(np.asarray(obs[key]))
            elif key == "obs":
                views.append(np.asarray(obs))
            else:
                raise ValueError(
                    f"pixel_key={key!r} names a Dict observation key, but the observation is a"
                    f" {type(obs).__name__}; use pixel_key='obs' for an image observation"
                )
        return views[0] if len(views) == 1 else np.stack(views, axis=1)

    def __call__(self, batch: Transitions) -> np.ndarray:
        """``(B,)`` float32 rewards of the frames of ``s′`` in ``batch``."""
        return self.score_frames(self._frames(batch))


    def __repr__(self) -> str:
        return (
            f"CLIPReward(goal={self.goal_prompts!r}, baseline={self.baseline_prompts!r}, alpha={self.alpha},"
            f" model={self.model_name!r}, device={str(self.device)!r})"
        )
