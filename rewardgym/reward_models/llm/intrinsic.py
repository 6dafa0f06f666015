r"""Intrinsic rewards learned online from LLM (or embedding) feedback on the agent's messages.

Three reward models map a message to a raw score ``r_φ(m)``, each trained on the labels
that have arrived so far:

* :class:`LookupReward`: the label of the message itself, 0 until it is labelled (ONI's
  default, Zheng et al. 2024).
* :class:`ClassifierReward`: a logistic regression on sentence embeddings, refit as labels
  arrive, so unseen messages get a reward too (ONI's classifier variant, with a frozen
  sentence encoder in place of the char-CNN).
* :class:`BradleyTerryReward`: a scalar score per message embedding trained on pairwise
  preferences with the Bradley-Terry loss (Motif, Klissarov et al. 2023):
  ``L = −[y log σ(r₁ − r₂) + (1 − y) log σ(r₂ − r₁)]``, ties ``y = ½``.

:class:`LLMFeedbackReward` turns the raw score into Motif's intrinsic reward

.. math::

    \hat r = (r_φ - μ) / σ, \qquad
    r_{int} = \mathbb 1[\hat r > ε]\,\hat r \,/\, N(m)^β

with μ, σ running statistics, ε the ε-quantile of recent ``r̂`` and ``N(m)`` the count of
message ``m`` in the current episode. The agent's reward is ``α_ext·r_ext + α_int·r_int``:
wrap the env with ``LearnedReward(env, reward, mode="add", coef=α_int, env_coef=α_ext)``.
Motif's defaults: β = 3, ε = the median (0.5), α_int = 0.1 (α_ext = 0.1 on Score, 10 elsewhere).
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections import deque
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from rewardgym.rewards.transitions import Transitions
from rewardgym.reward_models.llm.annotation import AnnotationService, AnnotatorFactory
from rewardgym.reward_models.text import Source, transition_texts
from rewardgym.rewards.transforms import EpisodeCounts, RewardStandardizer, quantile_threshold

__all__ = [
    "LookupReward",
    "ClassifierReward",
    "BradleyTerryReward",
    "LLMFeedbackReward",
    "fit_preferences",
    "make_annotator_llm",
    "make_llm_feedback",
]

logger = logging.getLogger(__name__)


class LookupReward:
    """The label of each message (by hash), ``default`` until it is labelled (ONI's lookup)."""

    kind = "messages"

    def __init__(self, default: float = 0.0) -> None:
        self.default = float(default)
        self.labels: dict[str, float] = {}

    def update(self, items: Sequence[str], labels: Sequence[float]) -> None:
        self.labels.update(zip(items, map(float, labels), strict=True))

    def score(self, messages: Sequence[str]) -> np.ndarray:
        return np.array([self.labels.get(m, self.default) for m in messages], dtype=np.float64)


class _EmbeddingModel:
    """A linear score ``w·e(m) + b`` on sentence embeddings ``e`` (``encoder.encode``)."""

    def __init__(self, encoder: Any, l2: float) -> None:
        self.encoder = encoder
        self.l2 = float(l2)
        self.weights: np.ndarray | None = None  # (D + 1,), the bias last

    def features(self, messages: Sequence[str]) -> np.ndarray:
        embeddings = np.asarray(self.encoder.encode(list(messages)), dtype=np.float64)
        return np.concatenate([embeddings, np.ones((len(embeddings), 1))], axis=1)

    def logits(self, messages: Sequence[str]) -> np.ndarray:
        if self.weights is None or not messages:
            return np.zeros(len(messages))
        return self.features(messages) @ self.weights


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class ClassifierReward(_EmbeddingModel):
    """Logistic regression ``p(helpful | m) = σ(w·e(m) + b)`` refit on every label so far.

    Fitted by Newton's method (IRLS) with an L2 penalty ``l2·‖w‖²/2`` (the embeddings are unit
    vectors, so ``l2 = 1`` is a mild prior); the bias is not penalised. The loss is strictly
    convex, so its one minimum is found from anywhere: each refit starts from the last weights
    and stops once a Newton step moves no weight by more than ``tol`` (one or two steps when a
    few labels were added to thousands), and the labelled messages' embeddings are kept in
    the model rather than asked of the encoder again. The reward is ``1[p > ½]`` (ONI) or,
    with ``binary=False``, ``p``. Before any label, and while only one class has been seen,
    the reward is that class (0 when none).
    """

    kind = "messages"

    def __init__(self, encoder: Any, l2: float = 1.0, binary: bool = True, newton_steps: int = 10,
                 tol: float = 1e-6) -> None:
        super().__init__(encoder, l2)
        self.binary = bool(binary)
        self.newton_steps = int(newton_steps)
        self.tol = float(tol)
        self.labels: dict[str, float] = {}
        self._rows: dict[str, int] = {}  # message -> its row of the buffers
        self._x = np.zeros((0, 0))  # features of the labelled messages (capacity doubles), the bias column last
        self._y = np.zeros(0)  # their latest labels
        self._classes: set[float] = set()  # the labels present now

    def update(self, items: Sequence[str], labels: Sequence[float]) -> None:
        labels = [float(label) for label in labels]
        self.labels.update(zip(items, labels, strict=True))
        fresh = [m for m in dict.fromkeys(items) if m not in self._rows]
        if fresh:
            x = self.features(fresh)
            n = len(self._rows)
            if n + len(fresh) > len(self._x):
                size = max(2 * len(self._x), n + len(fresh), 64)
                self._x = np.concatenate([self._x[:n].reshape(n, x.shape[1]), np.zeros((size - n, x.shape[1]))])
                self._y = np.concatenate([self._y[:n], np.zeros(size - n)])
            self._x[n:n + len(fresh)] = x
            self._rows.update((m, n + k) for k, m in enumerate(fresh))
        for message, label in zip(items, labels):
            self._y[self._rows[message]] = label  # the latest label of a message counts
        if items:
            self._classes = set(np.unique(self._y[:len(self._rows)]).tolist())
            self.fit()

    def fit(self) -> None:
        if len(self._classes) < 2:  # one class has no finite fit (the bias runs off); score says the class
            self.weights = None
            return
        n = len(self._rows)
        x, y = self._x[:n], self._y[:n]
        w = np.zeros(x.shape[1]) if self.weights is None else self.weights
        penalty = self.l2 * np.eye(x.shape[1])
        penalty[-1, -1] = 0.0  # the bias is not penalised
        for _ in range(self.newton_steps):
            p = _sigmoid(x @ w)
            gradient = x.T @ (p - y) + penalty @ w
            hessian = (x * (p * (1 - p))[:, None]).T @ x + penalty + 1e-9 * np.eye(x.shape[1])
            step = np.linalg.solve(hessian, gradient)
            w = w - step
            if np.abs(step).max() <= self.tol:
                break
        self.weights = w

    def score(self, messages: Sequence[str]) -> np.ndarray:
        if len(self._classes) < 2:
            return np.full(len(messages), next(iter(self._classes)) if self._classes else 0.0)
        p = _sigmoid(self.logits(messages))
        return (p > 0.5).astype(np.float64) if self.binary else p


class BradleyTerryReward(_EmbeddingModel):
    """Motif's reward model: a score ``r(m) = w·e(m)`` trained on pairwise preferences.

    The label of an ordered pair ``(m₁, m₂)`` is ``y = P(m₁ preferred)`` (½ for a tie);
    the loss is the cross-entropy between ``softmax(r(m₁), r(m₂))`` and ``(y, 1 − y)``,
    i.e. ``−[y log σ(r₁ − r₂) + (1 − y) log σ(r₂ − r₁)]`` plus ``l2·‖w‖²/2``, minimised by
    full-batch gradient descent (``steps`` Adam steps over every pair so far, warm-started)
    each time labels arrive. Motif trains a network on the whole message; this is a linear
    head on frozen sentence embeddings, cheap enough to refit online.
    """

    kind = "pairs"

    def __init__(self, encoder: Any, l2: float = 1e-3, lr: float = 0.05, steps: int = 100) -> None:
        super().__init__(encoder, l2)
        self.lr = float(lr)
        self.steps = int(steps)
        self.pairs: dict[tuple[str, str], float] = {}
        self._adam: tuple[np.ndarray, np.ndarray, int] | None = None

    def update(self, items: Sequence[tuple[str, str]], labels: Sequence[float]) -> None:
        self.pairs.update(zip(map(tuple, items), map(float, labels), strict=True))
        if items:
            self.fit()

    def loss_and_gradient(self, difference: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
        """Bradley-Terry loss (mean over pairs) and its gradient; ``difference = e(m₁) − e(m₂)``."""
        margin = difference @ w
        p = _sigmoid(margin)
        loss = np.mean(np.logaddexp(0.0, -margin) * y + np.logaddexp(0.0, margin) * (1 - y))
        gradient = difference.T @ (p - y) / len(y) + self.l2 * w
        return float(loss + 0.5 * self.l2 * w @ w), gradient

    def fit(self) -> float:
        """Refit on every pair so far; return the final loss."""
        pairs = list(self.pairs)
        first = self.features([a for a, _ in pairs])[:, :-1]  # no bias: it cancels in r₁ − r₂
        second = self.features([b for _, b in pairs])[:, :-1]
        difference, y = first - second, np.fromiter(self.pairs.values(), dtype=np.float64)
        w = np.zeros(difference.shape[1]) if self.weights is None else self.weights[:-1]
        m, v, t = self._adam or (np.zeros_like(w), np.zeros_like(w), 0)
        for _ in range(self.steps):
            loss, gradient = self.loss_and_gradient(difference, y, w)
            t += 1
            m = 0.9 * m + 0.1 * gradient
            v = 0.999 * v + 0.001 * gradient**2
            w = w - self.lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        self._adam = (m, v, t)
        self.weights = np.append(w, 0.0)
        return loss

    def score(self, messages: Sequence[str]) -> np.ndarray:
        return self.logits(messages)


ModelName = Literal["lookup", "classifier", "bradley-terry"]
ServiceName = Literal["thread", "ray"]


class LLMFeedbackReward:
    r"""Intrinsic reward from LLM feedback on the messages the agent sees, learned online.

    Each call takes the text of every ``s′`` (:func:`~rewardgym.reward_models.text.transition_texts`),
    submits the new messages (or new pairs) to a background annotation service (a thread,
    :class:`AnnotationService`, or a Ray actor,
    :class:`~rewardgym.reward_models.llm.ray_service.RayAnnotationService`), trains the
    reward model on the labels that have arrived, and returns

    ``r_int = 1[r̂ > ε]·r̂ / N(m)^β``, ``r̂ = (r_φ(m) − μ)/σ`` (normalisation optional)

    (Motif, Klissarov et al. 2023; ONI, Zheng et al. 2024). Empty messages get 0, are not
    annotated and do not enter the statistics. The call never waits for the annotator unless
    ``wait`` says so.

    Args:
        goal: the game's goal in words, shown to the annotator.
        annotator: ``"embedding"`` (offline: cosine similarity with the goal), an LLM spec
            (``transformers:PATH_OR_HUB_ID``, ``openai:URL#MODEL``), an
            :class:`~rewardgym.reward_models.llm.base.LLM`, any annotator object
            (``label_messages``/``label_pairs``), or an
            :class:`~rewardgym.reward_models.llm.annotation.AnnotatorFactory`; ``None``: no
            labels are asked for and ``model`` is used as given (Motif's offline phase, see
            :func:`fit_preferences`).
        model: ``"lookup"``, ``"classifier"`` (labels of single messages, ONI) or
            ``"bradley-terry"`` (pairwise preferences, Motif), or a built model.
        beta: count-discount exponent β (Motif: 3; 0 disables the discount).
        epsilon: ε as a quantile in ``[0, 1]`` of recent normalised rewards; ``None`` uses
            0.5 (Motif's median) for Bradley-Terry and no threshold for the 0/1 models.
        normalize: standardise with running mean/variance; ``None`` means on for
            Bradley-Terry (Motif), off for the 0/1 models (ONI uses the label as is).
        source: where the message comes from (see ``transition_texts``).
        encoder: a sentence encoder (``encode(list[str]) -> (N, D)``) shared by the embedding
            annotator and the classifier / Bradley-Terry model; ``None`` builds the default
            :class:`~rewardgym.reward_models.embeddings.TextEncoder` when one is needed.
        batch_size: items per annotator call (ONI: about 100).
        pairs_per_message: for Bradley-Terry, how many random earlier messages each new
            message is paired with.
        window: recent rewards kept for the ε-quantile.
        seed: seed of the pair sampler.
        service: ``"thread"`` (the annotator runs in a background thread of this process) or
            ``"ray"`` (in a Ray actor, built there: needs ``rewardgym[distributed]``; Ray is
            started locally unless ``ray.init`` was called first, e.g. to join a cluster).
        service_options: keyword arguments of the service, e.g. ``{"max_pending": 10_000}``,
            or for Ray ``{"num_gpus": 1, "max_in_flight": 2}``.
        avoid: for the embedding annotator, texts that are not progress, added to its generic
            failure messages (see :class:`~rewardgym.reward_models.llm.annotation.EmbeddingAnnotator`).
        wait: seconds a call waits for the labels of the messages it submitted before scoring
            them; ``None`` (default) never waits (ONI's asynchronous server: a message is scored
            by what is known when it is seen, 0 for the lookup until its label is back). For an
            annotator that labels in milliseconds (the embedding one), waiting costs nothing and
            a message pays from the first time it is seen, which matters where messages are
            many and each is rare (a text world's "You unlock the iron chest with the iron key.").

    Episode counts: row ``i`` of the batch is taken to be env ``i``; a row's counts restart
    after a transition that terminated or truncated it. Call :meth:`close` to stop the
    annotation service. With ``service="ray"``, :attr:`annotator` is the
    :class:`~rewardgym.reward_models.llm.annotation.AnnotatorFactory` the actor builds the
    annotator from; the annotator's counters are ``reward.service.stats`` either way.
    """

    needs_frames = False

    def __init__(self, goal: str, annotator: Any = "embedding", model: ModelName | Any = "lookup",
                 beta: float = 3.0, epsilon: float | None = None, normalize: bool | None = None,
                 source: Source = "auto", encoder: Any = None, batch_size: int = 100,
                 pairs_per_message: int = 2, window: int = 10_000, seed: int = 0, service: ServiceName = "thread",
                 service_options: dict[str, Any] | None = None, avoid: Sequence[str] = (),
                 wait: float | None = None) -> None:
        if wait is not None and wait < 0:
            raise ValueError(f"wait is a number of seconds >= 0 (or None: never wait), got {wait}")
        if epsilon is not None and not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon is a quantile in [0, 1], got {epsilon}")
        if beta < 0:
            raise ValueError(f"beta must be non-negative, got {beta}")
        if service not in ("thread", "ray"):
            raise ValueError(f"service must be 'thread' or 'ray', got {service!r}")
        if service == "ray":  # before anything is built: a missing ray fails at once
            from rewardgym.reward_models.llm.ray_service import import_ray

            import_ray()
        self.goal = str(goal)
        self._encoder = encoder
        self.model = self._build_model(model)
        self.avoid = tuple(avoid)
        if annotator is None:  # offline: the model was trained beforehand (Motif), nothing is labelled here
            self.annotator = None
        else:
            recipe = annotator
            if not isinstance(recipe, AnnotatorFactory):
                recipe = AnnotatorFactory(self.goal, annotator, encoder, avoid=self.avoid)
            self.annotator = recipe if service == "ray" else self._build_annotator(recipe)
        pairwise = self.model.kind == "pairs"
        self.beta = float(beta)
        self.epsilon = (0.5 if pairwise else None) if epsilon is None else float(epsilon)
        self.normalize = pairwise if normalize is None else bool(normalize)
        self.source = source
        self.wait = None if wait is None else float(wait)
        self.pairs_per_message = int(pairs_per_message)
        self.service = (None if self.annotator is None else
                        self._build_service(service, batch_size, service_options or {}))
        self.standardizer = RewardStandardizer()
        self.recent: deque[float] = deque(maxlen=int(window))
        self.counts: EpisodeCounts | None = None
        self._messages: list[str] = []
        self._known: set[str] = set()
        self._random = random.Random(seed)

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            from rewardgym.reward_models.embeddings import TextEncoder

            self._encoder = TextEncoder()
        return self._encoder

    def _build_model(self, model: Any) -> Any:
        if not isinstance(model, str):
            return model
        if model == "lookup":
            return LookupReward()
        if model == "classifier":
            return ClassifierReward(self.encoder)
        if model in ("bradley-terry", "bt"):
            return BradleyTerryReward(self.encoder)
        raise ValueError(f"model must be 'lookup', 'classifier' or 'bradley-terry', got {model!r}")

    def _build_annotator(self, recipe: AnnotatorFactory) -> Any:
        """The annotator, built here; the embedding annotator shares the model's encoder."""
        if isinstance(recipe.annotator, str) and recipe.annotator == "embedding" and recipe.encoder is None:
            recipe = dataclasses.replace(recipe, encoder=self.encoder)
        return recipe()

    def _build_service(self, service: ServiceName, batch_size: int, options: dict[str, Any]) -> Any:
        if service == "thread":
            return AnnotationService(self.annotator, self.model.kind, batch_size=batch_size, **options)
        from rewardgym.reward_models.llm.ray_service import RayAnnotationService

        return RayAnnotationService(self.annotator, self.model.kind, batch_size=batch_size, **options)

    def __call__(self, batch: Transitions) -> np.ndarray:
        texts = transition_texts(batch, self.source)
        self.submit(texts)
        if self.wait is not None and self.service is not None:
            self.service.wait(self.wait)  # on timeout, the labels not back yet count as unknown
        self.learn()
        done = np.asarray(batch.terminated) | np.asarray(batch.truncated)
        return self.reward(texts, done, batch.env_ids).astype(np.float32)

    def submit(self, texts: Sequence[str]) -> None:
        """Queue the new non-empty messages (or, for Bradley-Terry, pairs with earlier ones)."""
        new = [t for t in dict.fromkeys(texts) if t and t not in self._known]
        if not new or self.service is None:
            return
        if self.model.kind == "messages":
            self.service.submit(new)
        else:
            self.service.submit([pair for message in new for pair in self._pairs_for(message)])
        self._known.update(new)
        self._messages.extend(new)

    def _pairs_for(self, message: str) -> list[tuple[str, str]]:
        earlier = self._random.sample(self._messages, min(self.pairs_per_message, len(self._messages)))
        # random order within a pair, so a position bias of the annotator averages out
        return [(message, other) if self._random.random() < 0.5 else (other, message) for other in earlier]

    def learn(self) -> int:
        """Train on the labels that have arrived; return how many."""
        labelled = self.service.collect() if self.service is not None else []
        if labelled:
            items, labels = zip(*labelled)
            self.model.update(list(items), list(labels))
        return len(labelled)

    def reward(self, texts: Sequence[str], done: np.ndarray, env_ids: Sequence[int] | None = None) -> np.ndarray:
        """Intrinsic rewards of ``texts``, updating statistics and the episode counts of envs ``env_ids``
        (default: row ``j`` is env ``j``)."""
        present = np.array([bool(t) for t in texts])
        rewards = np.zeros(len(texts))
        if present.any():
            raw = self.model.score([t for t in texts if t])
            rewards[present] = self._transform(raw)
        ids = np.arange(len(texts)) if env_ids is None else np.asarray(env_ids, dtype=np.int64)
        if self.beta == 0:
            return rewards
        if self.counts is None:
            self.counts = EpisodeCounts(0, self.beta)
        discounted, _ = self.counts(rewards, list(texts), rows=ids, done=np.asarray(done, dtype=bool))
        return discounted

    def _transform(self, raw: np.ndarray) -> np.ndarray:
        if self.normalize:
            raw = self.standardizer(raw)
        if self.epsilon is None:
            return raw
        self.recent.extend(raw.tolist())
        return quantile_threshold(raw, float(np.quantile(np.fromiter(self.recent, float), self.epsilon)))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait for the pending labels and train on them (for evaluation and tests)."""
        if self.service is None:
            return True
        done = self.service.wait(timeout)
        self.learn()
        return done

    def close(self) -> None:
        """Stop the annotation service (its thread, or its Ray actor)."""
        if self.service is not None:
            self.service.close()

    def __repr__(self) -> str:
        return (
            f"LLMFeedbackReward(goal={self.goal!r}, model={type(self.model).__name__},"
            f" annotator={type(self.annotator).__name__}, service={type(self.service).__name__},"
            f" beta={self.beta}, epsilon={self.epsilon})"
        )


def fit_preferences(messages: Sequence[str], annotator: Any, pairs: int = 1000, seed: int = 0,
                    encoder: Any = None, model: BradleyTerryReward | None = None) -> BradleyTerryReward:
    """Motif's offline phase: a Bradley-Terry reward distilled from preferences over a message dataset.

    ``pairs`` random pairs of distinct messages (from the unique non-empty ``messages``, e.g.
    those a random or exploring policy saw) are each labelled once by ``annotator``
    (``label_pairs``; unanswered pairs are dropped) and the model is fitted on them. Use it
    online without further labels: ``LLMFeedbackReward(goal, annotator=None, model=fitted)``.
    """
    unique = sorted({m for m in messages if m})
    if len(unique) < 2:
        raise ValueError(f"fit_preferences needs at least two distinct messages, got {len(unique)}")
    rng = random.Random(seed)
    sampled = [tuple(rng.sample(unique, 2)) for _ in range(int(pairs))]
    labels = annotator.label_pairs(sampled)
    kept = [(pair, label) for pair, label in zip(sampled, labels) if label is not None]
    if not kept:
        raise ValueError("the annotator answered none of the pairs")
    if model is None:
        if encoder is None:
            from rewardgym.reward_models.embeddings import TextEncoder

            encoder = TextEncoder()
        model = BradleyTerryReward(encoder)
    model.update([pair for pair, _ in kept], [label for _, label in kept])
    return model


def make_annotator_llm(annotator: str, device: str = "auto", api_key_env: str = "OPENAI_API_KEY") -> Any:
    """The annotator a spec names: ``"embedding"`` as is, an LLM for the other forms.

    * ``transformers:PATH_OR_HUB_ID``: a local causal LM (:class:`TransformersLLM`) on ``device``;
    * ``openai:URL#MODEL``: an OpenAI-compatible server (:class:`OpenAIChatLLM`) at ``URL``
      serving ``MODEL``, the API key read from the environment variable ``api_key_env``.
    """
    if annotator == "embedding":
        return "embedding"
    from rewardgym.reward_models.llm import make_llm

    try:
        return make_llm(annotator, device=device, api_key_env=api_key_env)
    except ValueError:
        raise ValueError(f"annotator {annotator!r}: expected 'embedding', 'transformers:PATH_OR_HUB_ID' or "
                         "'openai:URL#MODEL'") from None


def make_llm_feedback(goal: str, annotator: str = "embedding", model: str = "lookup", beta: float = 3.0,
                      epsilon: float | None = None, normalize: bool | None = None, source: Source = "auto",
                      device: str = "auto", api_key_env: str = "OPENAI_API_KEY",
                      batch_size: int = 100, service: ServiceName = "thread",
                      annotator_gpus: float = 0, avoid: str = "", wait: float | None = None) -> LLMFeedbackReward:
    """The ``llm-feedback`` spec: ``llm-feedback:goal=...;annotator=...;model=...;beta=3;epsilon=0.5``.

    ``service=ray`` runs the annotator in a Ray actor, which builds it (an LLM spec is read
    there, so its weights load in the actor); ``annotator_gpus`` is the actor's GPU share.
    ``avoid=TEXT|TEXT``: near misses the embedding annotator must not reward (its contrast).
    ``wait=SECONDS``: score each message after its label is back (see :class:`LLMFeedbackReward`).
    """
    avoid_texts = tuple(a.strip() for a in str(avoid).split("|") if a.strip())
    if service == "ray":
        recipe = AnnotatorFactory(goal, annotator, device=device, api_key_env=api_key_env, avoid=avoid_texts)
        return LLMFeedbackReward(goal, recipe, model, beta=beta, epsilon=epsilon, normalize=normalize,
                                 source=source, batch_size=batch_size, service="ray",
                                 service_options={"num_gpus": annotator_gpus}, wait=wait)
    if annotator_gpus:
        raise ValueError("annotator_gpus is the Ray actor's GPU share: it needs service=ray")
    llm = make_annotator_llm(annotator, device=device, api_key_env=api_key_env)
    return LLMFeedbackReward(goal, llm, model, beta=beta, epsilon=epsilon, normalize=normalize, source=source,
                             batch_size=batch_size, service=service, avoid=avoid_texts, wait=wait)
