"""Words of a text, words hashed into buckets, and bags of them: the one tokenizer the text
worlds' and the kitchen's vector observations and the policies' text encoder share.

Hashing is CRC32 of the lower-cased word, so a word lands in the same bucket in every process
(Python's ``hash()`` is salted per process) and needs no vocabulary.
"""

from __future__ import annotations

import string
import zlib

import numpy as np

ARTICLES = frozenset({"the", "a", "an", "some", "my", "this", "that"})
_PUNCTUATION = str.maketrans({c: " " for c in string.punctuation + "\t\r\n\x0b\x0c"})
_WORD_INDEX: dict[tuple[str, int], int] = {}
_BAGS: dict[tuple[str, int], np.ndarray] = {}
_MAX_BAGS = 100_000  # free text is unbounded: the cache starts over rather than grow


def words_of(text: str) -> list[str]:
    """Lowercased words, punctuation and articles dropped."""
    return [w for w in text.lower().translate(_PUNCTUATION).split() if w not in ARTICLES]


def hashed_words(text: str, dim: int) -> list[int]:
    """Bucket indices (in ``[0, dim)``) of the words of ``text``, one per word, repeats kept."""
    out = []
    for word in words_of(text):
        index = _WORD_INDEX.get((word, dim))
        if index is None:
            index = _WORD_INDEX[(word, dim)] = zlib.crc32(word.encode()) % dim
        out.append(index)
    return out


def word_bag(text: str, dim: int) -> np.ndarray:
    """``text`` as a bag of its hashed words: ``(dim,)`` float32, 1 in each word's bucket, else 0.

    Cached (an observation's texts repeat from step to step) and read-only: copy it to change it.
    """
    bag = _BAGS.get((text, dim))
    if bag is None:
        if len(_BAGS) >= _MAX_BAGS:
            _BAGS.clear()
        bag = np.zeros(dim, np.float32)
        bag[hashed_words(text, dim)] = 1.0
        bag.flags.writeable = False
        _BAGS[(text, dim)] = bag
    return bag
