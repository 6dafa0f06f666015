"""Words of a text, and words hashed into buckets: the one tokenizer the text worlds' vector
observations and the policies' text encoder share.

Hashing is CRC32 of the lower-cased word, so a word lands in the same bucket in every process
(Python's ``hash()`` is salted per process) and needs no vocabulary.
"""

from __future__ import annotations

import string
import zlib

ARTICLES = frozenset({"the", "a", "an", "some", "my", "this", "that"})
_PUNCTUATION = str.maketrans({c: " " for c in string.punctuation + "\t\r\n\x0b\x0c"})
_WORD_INDEX: dict[tuple[str, int], int] = {}


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
