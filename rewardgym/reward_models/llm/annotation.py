"""Labelling the messages an agent sees: prompts, answer parsing, annotators and a background service.

Two kinds of feedback, after the two papers this module follows:

* **pairs** (Motif, Klissarov et al. 2023, "Motif: Intrinsic Motivation from Artificial
  Intelligence Feedback"): the prompt states the game's goal, shows two messages and asks
  which one shows more progress; the answer ``1``, ``2`` or ``None`` becomes the label
  ``P(first preferred)`` = 1, 0 or ½.
* **messages** (ONI, Zheng et al. 2024, "Online Intrinsic Rewards for Decision Making
  Agents from Large Language Model Feedback"): the prompt shows one message and asks whether
  it is helpful for the goal; ``yes``/``no`` becomes the label 1 / 0.

An annotator returns ``None`` for an answer it cannot parse: malformed answers are counted
(``stats.invalid``) and logged, never raised. Every annotator caches its labels (by message,
or by *ordered* pair), so nothing is sent twice. :class:`EmbeddingAnnotator` is the offline
default with the same interface: ONI's ELLM-style baseline, the cosine similarity of the
message with the goal under a sentence encoder, thresholded.

:class:`AnnotationService` runs an annotator in a background thread: the agent submits
messages (O(1), never blocks) and reads the labels whenever they are ready, as ONI's
asynchronous LLM server does. :class:`~rewardgym.reward_models.llm.ray_service.RayAnnotationService`
does the same with the annotator in a Ray actor, built there from an :class:`AnnotatorFactory`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from rewardgym.reward_models.llm.base import LLM

__all__ = [
    "AnnotationStats",
    "Annotator",
    "LLMAnnotator",
    "EmbeddingAnnotator",
    "AnnotatorFactory",
    "AnnotationService",
    "label_batch",
    "motif_pair_prompt",
    "oni_message_prompt",
    "parse_preference",
    "parse_yes_no",
]

logger = logging.getLogger(__name__)

Pair = tuple[str, str]
Kind = Literal["messages", "pairs"]

SYSTEM_PROMPT = (
    "You are a helpful and honest judge of good gameplaying and progress in the game. Always try to"
    " answer with your best guess."
)


def motif_pair_prompt(goal: str, first: str, second: str) -> list[dict]:
    """Motif's pairwise prompt: the goal, two captions, "answer 1, 2 or None"."""
    user = (
        f"The goal of the player is: {goal}\n"
        "I will present you with two short gameplay descriptions (messages shown by the game).\n"
        f"Message 1: {first!r}\n"
        f"Message 2: {second!r}\n"
        "Which message shows more progress towards the goal? If both are equally good or"
        " neither is relevant, answer None. Reply with <answer>1</answer>, <answer>2</answer>"
        " or <answer>None</answer>."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def oni_message_prompt(goal: str, message: str) -> list[dict]:
    """ONI's single-message prompt: is this message helpful for the goal? yes or no."""
    user = (
        f"The goal of the player is: {goal}\n"
        f"The game shows the message: {message!r}\n"
        "Is this message a sign of progress that is helpful for reaching the goal?"
        " Reply with <answer>yes</answer> or <answer>no</answer>."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)
_ANSWER_PREFIX = re.compile(r"\b(?:final\s+)?answer\s*(?:is)?\s*[:=]?\s*(.*)", re.IGNORECASE | re.DOTALL)
_PREFERENCE_WORDS = {
    "1": 1.0, "one": 1.0, "first": 1.0,
    "2": 0.0, "two": 0.0, "second": 0.0,
    "none": 0.5, "neither": 0.5, "tie": 0.5, "equal": 0.5, "both": 0.5, "same": 0.5,
}  # fmt: skip
_YES_NO_WORDS = {"yes": 1.0, "y": 1.0, "true": 1.0, "no": 0.0, "n": 0.0, "false": 0.0}
_YES_NO_OPTIONS = {"yes": 1.0, "no": 0.0}  # constrained answers (LLMAnnotator with an LLM that can choose)
_PREFERENCE_OPTIONS = {"1": 1.0, "2": 0.0, "None": 0.5}


def _answer_span(text: str) -> str:
    """The part of a reply that holds the answer: inside ``<answer>`` tags, after "Answer:", or all."""
    tagged = _ANSWER_TAG.findall(text)
    if tagged:
        return tagged[-1]
    prefixed = _ANSWER_PREFIX.findall(text)
    return prefixed[-1] if prefixed else text


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _parse(text: str, vocabulary: dict[str, float]) -> float | None:
    """The one label the answer span names, or ``None`` when it names none or several."""
    words = _words(_answer_span(text))
    if not words:
        return None
    if words[0] in vocabulary:  # an answer usually leads: "2.", "None of them", "No, it is not"
        return vocabulary[words[0]]
    labels = {vocabulary[word] for word in words if word in vocabulary}
    return labels.pop() if len(labels) == 1 else None


def parse_preference(text: str) -> float | None:
    """Parse a pairwise answer into ``P(message 1 preferred)``: 1.0, 0.0, 0.5 (None/tie) or ``None``.

    Case and punctuation are ignored; ``<answer>…</answer>`` tags or an "Answer:" prefix
    narrow the reply to the answer; "Message 1", "1.", "(2)", "None" all parse. The first
    word decides when it is an answer; otherwise the reply must name exactly one answer
    ("I prefer message 2"): naming both, or none, is invalid (``None``).
    """
    return _parse(text, _PREFERENCE_WORDS)


def parse_yes_no(text: str) -> float | None:
    """Parse a yes/no answer into 1.0 / 0.0, or ``None`` when it is neither or both."""
    return _parse(text, _YES_NO_WORDS)


@dataclass
class AnnotationStats:
    """Counters of an annotator: queries sent, answers that parsed, malformed answers, cache hits."""

    queries: int = 0
    valid: int = 0
    invalid: int = 0
    cache_hits: int = 0


class Annotator(Protocol):
    """Labels messages (ONI) or ordered message pairs (Motif); ``None`` marks a malformed answer."""

    stats: AnnotationStats

    def label_messages(self, messages: Sequence[str]) -> list[float | None]: ...

    def label_pairs(self, pairs: Sequence[Pair]) -> list[float | None]: ...


class _CachedAnnotator:
    """The cache and counters every annotator shares; subclasses label what is not cached."""

    def __init__(self) -> None:
        self.stats = AnnotationStats()
        self.cache: dict[Hashable, float | None] = {}
        self._lock = threading.Lock()

    def label_messages(self, messages: Sequence[str]) -> list[float | None]:
        """Labels of ``messages``: 1 helpful, 0 not, ``None`` malformed answer."""
        return self._cached([("message", m) for m in messages], lambda keys: self._label_messages([k[1] for k in keys]))

    def label_pairs(self, pairs: Sequence[Pair]) -> list[float | None]:
        """Labels of ordered ``pairs``: ``P(first preferred)`` in {1, ½, 0}, ``None`` malformed."""
        keys = [("pair", str(a), str(b)) for a, b in pairs]
        return self._cached(keys, lambda missing: self._label_pairs([(k[1], k[2]) for k in missing]))

    def _cached(self, keys: list[tuple], label) -> list[float | None]:
        with self._lock:
            missing = list(dict.fromkeys(key for key in keys if key not in self.cache))
            self.stats.cache_hits += len(keys) - len(missing)
        if missing:
            labels = label(missing)
            with self._lock:
                self.cache.update(zip(missing, labels, strict=True))
        return [self.cache[key] for key in keys]

    def _label_messages(self, messages: list[str]) -> list[float | None]:
        raise NotImplementedError

    def _label_pairs(self, pairs: list[Pair]) -> list[float | None]:
        raise NotImplementedError


class LLMAnnotator(_CachedAnnotator):
    """Labels with an LLM: Motif's pairwise prompt, ONI's single-message prompt.

    Args:
        llm: any :class:`~rewardgym.reward_models.llm.base.LLM`.
        goal: the game's goal in words, stated in every prompt.
        max_new_tokens: answer length (short: the prompts ask for a tagged one-word answer).
        temperature: 0.1 as in Motif.
        constrained: ``"auto"`` (default): when the LLM can score given answers
            (``choose``, a local transformers model), the label is the likeliest allowed answer
            after ``<answer>`` — yes/no, or 1/2/None — so a small model that writes prose
            instead of the tag still gives a label; other LLMs (servers) generate a reply
            that is parsed, and an unreadable one is counted invalid. ``False`` always parses.
    """

    def __init__(self, llm: LLM, goal: str, max_new_tokens: int = 32, temperature: float = 0.1,
                 constrained: bool | str = "auto") -> None:
        super().__init__()
        self.llm = llm
        self.goal = str(goal)
        self.max_new_tokens = int(max_new_tokens)
        self.temperature = float(temperature)
        if constrained not in (True, False, "auto"):
            raise ValueError(f"constrained must be True, False or 'auto', got {constrained!r}")
        can_choose = callable(getattr(llm, "choose", None))
        if constrained is True and not can_choose:
            raise ValueError(f"constrained=True needs an LLM with choose() (a local transformers model), "
                             f"not {type(llm).__name__}")
        self.constrained = can_choose if constrained == "auto" else bool(constrained)

    def _label_messages(self, messages: list[str]) -> list[float | None]:
        prompts = [oni_message_prompt(self.goal, message) for message in messages]
        if self.constrained:
            return self._choose(prompts, _YES_NO_OPTIONS)
        return self._ask(prompts, parse_yes_no)

    def _label_pairs(self, pairs: list[Pair]) -> list[float | None]:
        prompts = [motif_pair_prompt(self.goal, first, second) for first, second in pairs]
        if self.constrained:
            return self._choose(prompts, _PREFERENCE_OPTIONS)
        return self._ask(prompts, parse_preference)

    def _choose(self, prompts: list[list[dict]], options: dict[str, float]) -> list[float | None]:
        """The label of the answer the model finds likeliest among ``options`` (never malformed)."""
        scores = self.llm.choose(prompts, list(options), prefix="<answer>")
        labels = list(options.values())
        with self._lock:
            self.stats.queries += len(prompts)
            self.stats.valid += len(prompts)
        return [labels[int(k)] for k in np.argmax(scores, axis=1)]

    def _ask(self, prompts: list[list[dict]], parse) -> list[float | None]:
        answers = self.llm.generate(prompts, max_new_tokens=self.max_new_tokens, temperature=self.temperature)
        if len(answers) != len(prompts):
            raise RuntimeError(f"the LLM returned {len(answers)} answers for {len(prompts)} prompts")
        labels = [parse(answer) for answer in answers]
        invalid = [answer for answer, label in zip(answers, labels) if label is None]
        with self._lock:
            self.stats.queries += len(prompts)
            self.stats.invalid += len(invalid)
            self.stats.valid += len(prompts) - len(invalid)
        if invalid:
            logger.warning(
                "%d of %d LLM answers were malformed (total %d); first: %r",
                len(invalid), len(prompts), self.stats.invalid, invalid[0][:200],
            )
        return labels


#: What a step that changed nothing says, in any game: messages closer to these than to the goal
#: are not progress ("You can't move diagonally into an intact doorway." is near a goal about doors).
FAILURE_TEXTS = ("You can't do that.", "Nothing happens.", "There is nothing here.", "That is not possible.",
                 "I don't understand that.")


class EmbeddingAnnotator(_CachedAnnotator):
    """The offline annotator: ELLM-style cosine similarity of a message with the goal (ONI's baseline),
    made contrastive.

    A message's score is ``cos(e(m), e(goal)) − max_a cos(e(m), e(a))`` over the ``avoid``
    texts (generic failure messages, plus whatever the task's near misses are, e.g. "There is
    a staircase up here." for a goal about the staircase down). A message is helpful (label 1)
    when its similarity with the goal is above ``threshold`` *and* its score above
    ``contrast``; of a pair, the message with the higher score is preferred, a tie (within
    ``margin``) is ½. Similarity alone cannot tell "up" from "down", and it rewards failure
    messages that share the goal's words; the contrast is what removes them.

    Args:
        goal: the goal in words.
        encoder: anything with ``encode(list[str]) -> (N, D)`` unit vectors, e.g. a
            :class:`~rewardgym.reward_models.embeddings.TextEncoder`; ``None`` builds the
            default all-MiniLM-L6-v2 one.
        threshold: similarity with the goal above which a message can be helpful.
        margin: score difference below which a pair is a tie.
        avoid: texts that are not progress (default :data:`FAILURE_TEXTS`); task-specific
            ones are added to these with ``avoid=FAILURE_TEXTS + (...)``. ``()`` turns the
            contrast off (plain similarity, the old behaviour).
        contrast: how much closer to the goal than to every ``avoid`` text a helpful message is.
    """

    def __init__(self, goal: str, encoder: Any = None, threshold: float = 0.3, margin: float = 0.02,
                 avoid: Sequence[str] = FAILURE_TEXTS, contrast: float = 0.1) -> None:
        super().__init__()
        if encoder is None:
            from rewardgym.reward_models.embeddings import TextEncoder

            encoder = TextEncoder()
        self.goal = str(goal)
        self.encoder = encoder
        self.threshold = float(threshold)
        self.margin = float(margin)
        self.avoid = tuple(str(a) for a in avoid)
        self.contrast = float(contrast)
        self.goal_embedding = np.asarray(encoder.encode([self.goal]), dtype=np.float32)[0]
        self.avoid_embeddings = (np.asarray(encoder.encode(list(self.avoid)), dtype=np.float32) if self.avoid
                                 else np.zeros((0, len(self.goal_embedding)), dtype=np.float32))

    def similarity(self, messages: Sequence[str]) -> np.ndarray:
        """``cos(e(message), e(goal))`` of each message, ``(N,)``."""
        return self.similarities(messages)[0]

    def similarities(self, messages: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(similarity with the goal, score)`` of each message, each ``(N,)`` (see the class)."""
        if not messages:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.float32)
        embeddings = np.asarray(self.encoder.encode(list(messages)), dtype=np.float32)
        goal = embeddings @ self.goal_embedding
        if not len(self.avoid_embeddings):
            return goal, goal
        return goal, goal - (embeddings @ self.avoid_embeddings.T).max(axis=1)

    def score(self, messages: Sequence[str]) -> np.ndarray:
        """The contrastive score of each message, ``(N,)``."""
        return self.similarities(messages)[1]

    def _label_messages(self, messages: list[str]) -> list[float | None]:
        goal, score = self.similarities(messages)
        labels = ((goal > self.threshold) & (score > (self.contrast if len(self.avoid) else -np.inf)))
        self._count(len(messages))
        return labels.astype(float).tolist()

    def _label_pairs(self, pairs: list[Pair]) -> list[float | None]:
        difference = self.score([a for a, _ in pairs]) - self.score([b for _, b in pairs])
        labels = np.where(np.abs(difference) <= self.margin, 0.5, (difference > 0).astype(float))
        self._count(len(pairs))
        return labels.tolist()

    def _count(self, n: int) -> None:
        with self._lock:
            self.stats.queries += n
            self.stats.valid += n


def label_batch(annotator: Annotator, kind: Kind, batch: list[Any]) -> list[float | None]:
    """The annotator's labels of a batch of messages (``kind="messages"``) or ordered pairs."""
    if kind == "messages":
        return annotator.label_messages(batch)
    return annotator.label_pairs(batch)


def _is_annotator(obj: Any) -> bool:
    return hasattr(obj, "label_messages") and hasattr(obj, "label_pairs")


_ANNOTATOR_FORMS = "'embedding', 'transformers:PATH_OR_HUB_ID' or 'openai:URL#MODEL'"


@dataclass
class AnnotatorFactory:
    """A picklable recipe for an annotator, built where it will run.

    The Ray service sends this recipe to its actor rather than a built annotator, so that a
    local LLM's or a sentence encoder's weights load in the actor's process (or on the
    actor's machine), never in the training process. Calling it builds the annotator.

    Args:
        goal: the game's goal in words.
        annotator: ``"embedding"`` (an :class:`EmbeddingAnnotator`), an LLM spec
            (``transformers:PATH_OR_HUB_ID`` or ``openai:URL#MODEL``, see
            :func:`~rewardgym.reward_models.llm.make_llm`), an LLM object (wrapped in an
            :class:`LLMAnnotator`) or an annotator object (used as is). Objects travel
            pickled with the recipe; specs are only read where the annotator is built.
        encoder: the embedding annotator's sentence encoder; ``None`` builds the default one
            where the annotator is built.
        device: device of a ``transformers:`` LLM.
        api_key_env: the environment variable holding an ``openai:`` server's API key, read
            where the annotator is built.
        avoid: task-specific texts that are not progress, added to the embedding annotator's
            :data:`FAILURE_TEXTS` (its contrast; see :class:`EmbeddingAnnotator`).
    """

    goal: str
    annotator: Any = "embedding"
    encoder: Any = None
    device: str = "auto"
    api_key_env: str = "OPENAI_API_KEY"
    avoid: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.goal = str(self.goal)
        if isinstance(self.annotator, str):
            if self.annotator != "embedding":
                from rewardgym.reward_models.llm import parse_llm_spec

                try:
                    parse_llm_spec(self.annotator)
                except ValueError:
                    raise ValueError(f"annotator {self.annotator!r}: expected {_ANNOTATOR_FORMS}") from None
        elif not _is_annotator(self.annotator) and not hasattr(self.annotator, "generate"):
            raise TypeError(f"annotator must be {_ANNOTATOR_FORMS}, an LLM or an annotator,"
                            f" got {type(self.annotator).__name__}")

    def __call__(self) -> Annotator:
        """Build the annotator (loading its weights, if any)."""
        if isinstance(self.annotator, str):
            if self.annotator == "embedding":
                return EmbeddingAnnotator(self.goal, self.encoder, avoid=FAILURE_TEXTS + tuple(self.avoid))
            from rewardgym.reward_models.llm import make_llm

            return LLMAnnotator(make_llm(self.annotator, device=self.device, api_key_env=self.api_key_env), self.goal)
        if _is_annotator(self.annotator):
            return self.annotator
        return LLMAnnotator(self.annotator, self.goal)


class _AnnotationQueue:
    """What every annotation service shares: the queue of items, the results, the counters.

    Each distinct item is queued once (``_seen``). Batches are taken *newest* first; when the
    queue holds more than ``max_pending`` items the oldest are dropped (and may be submitted
    again later). Labelled items wait in ``_ready`` until :meth:`collect`; malformed answers
    (label ``None``) are left out; a failed batch counts in ``errors`` and its items are
    forgotten so that they can be submitted again. A subclass moves batches to its worker
    (:meth:`_take_batch`) and hands their labels back (:meth:`_finish`); :meth:`_advance`
    is its non-blocking hook, called by ``submit``, ``collect`` and ``pending``.
    """

    def __init__(self, kind: Kind, batch_size: int, max_pending: int) -> None:
        if kind not in ("messages", "pairs"):
            raise ValueError(f"kind must be 'messages' or 'pairs', got {kind!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending}")
        self.kind = kind
        self.batch_size = int(batch_size)
        self.max_pending = int(max_pending)
        self.errors = 0
        self._pending: deque[Any] = deque()
        self._seen: set[Any] = set()
        self._ready: deque[tuple[Any, float]] = deque()
        self._busy = 0  # items handed to the worker and not answered yet
        self._condition = threading.Condition()
        self._closed = False

    def submit(self, items: Sequence[Any]) -> int:
        """Queue the items not submitted before; return how many were queued. O(1) per item."""
        queued = 0
        with self._condition:
            for item in items:
                if item not in self._seen:
                    if len(self._pending) >= self.max_pending:
                        self._seen.discard(self._pending.popleft())  # the oldest; it may come back
                    self._seen.add(item)
                    self._pending.append(item)
                    queued += 1
            if queued:
                self._condition.notify()
        self._advance()
        return queued

    def collect(self) -> list[tuple[Any, float]]:
        """The ``(item, label)`` pairs labelled since the last call (possibly none); never blocks."""
        self._advance()
        out = []
        while self._ready:
            out.append(self._ready.popleft())
        return out

    @property
    def pending(self) -> int:
        """Items queued or being labelled."""
        self._advance()
        with self._condition:
            return len(self._pending) + self._busy

    @property
    def stats(self) -> AnnotationStats:
        """The annotator's counters: queries, valid and malformed answers, cache hits."""
        raise NotImplementedError

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted item is labelled; ``False`` on timeout."""
        raise NotImplementedError

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop the worker (after the batches it holds, waiting at most ``timeout`` seconds)."""
        raise NotImplementedError

    def _advance(self) -> None:
        """Move work along without blocking (nothing to do when a thread does it)."""

    def _take_batch(self) -> list[Any]:
        """Take up to ``batch_size`` of the newest queued items for the worker (lock held)."""
        batch = [self._pending.pop() for _ in range(min(self.batch_size, len(self._pending)))]
        self._busy += len(batch)
        return batch

    def _finish(self, batch: list[Any], labels: Sequence[float | None] | None) -> None:
        """Record the labels of a batch, or (``labels=None``) that the annotator failed on it."""
        with self._condition:
            if labels is None:
                self.errors += 1
                self._seen.difference_update(batch)
            else:
                self._ready.extend((item, label) for item, label in zip(batch, labels) if label is not None)
            self._busy -= len(batch)
            self._condition.notify_all()


class AnnotationService(_AnnotationQueue):
    """Labels items in a background thread; ``submit`` never blocks, ``collect`` returns what is ready.

    Items are messages (``kind="messages"``) or ordered pairs (``kind="pairs"``). Each
    distinct item is queued once. The worker takes the *newest* items first, up to
    ``batch_size`` at a time (ONI labels the most recent messages in batches of about 100);
    when the queue holds more than ``max_pending`` items the oldest are dropped (and may be
    submitted again later). The worker is a daemon thread; :meth:`close` stops it. An
    annotator error is logged and counted in ``errors``; the batch's items are forgotten
    so that they can be submitted again. Malformed answers
    (label ``None``) are kept out of ``collect``'s results and counted by the annotator.
    :class:`~rewardgym.reward_models.llm.ray_service.RayAnnotationService` has the same
    interface and runs the annotator in a Ray actor instead.

    Args:
        annotator: an :class:`Annotator`.
        kind: ``"messages"`` or ``"pairs"``.
        batch_size: items per annotator call.
        max_pending: queue capacity.
    """

    def __init__(self, annotator: Annotator, kind: Kind = "messages", batch_size: int = 100,
                 max_pending: int = 100_000) -> None:
        super().__init__(kind, batch_size, max_pending)
        self.annotator = annotator
        self._thread = threading.Thread(target=self._run, name="annotation-service", daemon=True)
        self._thread.start()

    @property
    def stats(self) -> AnnotationStats:
        """The annotator's counters (live; zeros for an annotator that keeps none)."""
        stats = getattr(self.annotator, "stats", None)
        return stats if isinstance(stats, AnnotationStats) else AnnotationStats()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted item is labelled; ``False`` on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while self._pending or self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._condition.wait(remaining)
        return True

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop the worker (after its current batch)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._thread.join(timeout)

    def _next_batch(self) -> list[Any] | None:
        with self._condition:
            while not self._pending and not self._closed:
                self._condition.wait()
            if self._closed:
                return None
            return self._take_batch()

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                labels = label_batch(self.annotator, self.kind, batch)
            except Exception:  # never fatal: the agent keeps training on what it has
                logger.exception("annotation of %d items failed", len(batch))
                labels = None
            self._finish(batch, labels)
