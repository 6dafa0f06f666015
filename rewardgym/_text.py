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
_MAX_WORDS = 1 << 20  # free text can bring any number of distinct words: start over rather than grow
_BAGS: dict[tuple[str, int], np.ndarray] = {}
_MAX_BAG_FLOATS = 1 << 22  # 16 MiB of bags: texts are unbounded (free text, every room's view), so the cache
_bag_floats = 0  # starts over rather than grow; counted in floats, as a 512-wide view costs 8 64-wide commands


def words_of(text: str) -> list[str]:
    """Lowercased words, punctuation and articles dropped."""
    return [w for w in text.lower().translate(_PUNCTUATION).split() if w not in ARTICLES]


def hashed_words(text: str, dim: int) -> list[int]:
    """Bucket indices (in ``[0, dim)``) of the words of ``text``, one per word, repeats kept."""
    out = []
    for word in words_of(text):
        index = _WORD_INDEX.get((word, dim))
        if index is None:
            if len(_WORD_INDEX) >= _MAX_WORDS:
                _WORD_INDEX.clear()
            index = _WORD_INDEX[(word, dim)] = zlib.crc32(word.encode()) % dim
        out.append(index)
    return out


def word_bag(text: str, dim: int) -> np.ndarray:
    """``text`` as a bag of its hashed words: ``(dim,)`` float32, 1 in each word's bucket, else 0.

    Cached (an observation's texts repeat from step to step) and read-only: copy it to change it.
    """
    global _bag_floats
    bag = _BAGS.get((text, dim))
    if bag is None:
        if _bag_floats + dim > _MAX_BAG_FLOATS:
            _BAGS.clear()
            _bag_floats = 0
        _bag_floats += dim
        bag = np.zeros(dim, np.float32)
        bag[hashed_words(text, dim)] = 1.0
        bag.flags.writeable = False
        _BAGS[(text, dim)] = bag
    return bag
