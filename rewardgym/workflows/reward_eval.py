"""Judge a reward model before training on it: ``rewardgym reward-eval ENV --reward SPEC``.

:func:`evaluate_reward` rolls out the env family's scripted expert and a uniform random
policy, scores every transition with the reward model (one batch per episode, exactly the
:class:`~rewardgym.rewards.Transitions` a wrapper would pass), and measures how
well the learned reward agrees with what the environment knows:

* **VOC** (value-order correlation, from GVL — "Vision Language Models are In-Context
  Value Learners" — and VLAC): along an expert episode, progress should rise with time, so
  the Spearman correlation between the model's per-step reward and the step index should be
  near +1. Averaged over the expert episodes.
* **Return correlation**: Pearson and Spearman correlation between each episode's learned
  return and its true (environment) return, over expert and random episodes together.
* **Success separation**: the AUROC of the episode learned return as a score for
  ``info["success"]`` at the episode's end — the probability that a successful episode gets
  a higher learned return than a failed one.

The statistics (:func:`rankdata`, :func:`pearson`, :func:`spearman`, :func:`auroc`) are
plain NumPy, so rewardgym needs no SciPy. ``docs/reward_eval.md`` explains how to read them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rewardgym._batch import stack_items
from rewardgym.rewards.spec import make_reward
from rewardgym.rewards.transforms import score_transitions
from rewardgym.rewards.transitions import RewardModel, Transitions, close_model
from rewardgym.workflows.demos import check_renders_images
from rewardgym.workflows.experts import expert_for
from rewardgym.workflows.rollout import EpisodeRecord, run_episode

__all__ = ["evaluate_reward", "report_from_episodes", "RewardReport", "EpisodeScore",
           "rankdata", "pearson", "spearman", "auroc"]

POLICIES = ("expert", "random")


# -- statistics ---------------------------------------------------------------------------
# Thresholds of RewardReport.verdict.
VERDICT = {"inverted_pearson": -0.3, "inverted_auroc": 0.3, "good_pearson": 0.5, "good_auroc": 0.7}


def rankdata(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values``; tied values share the mean of the ranks they span.

    ``rankdata([10, 20, 20, 30]) -> [1, 2.5, 2.5, 4]`` (SciPy's ``method="average"``), the
    ranking Spearman's correlation and the Mann-Whitney AUROC both assume.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(x, kind="stable")
    ordered = x[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # first index of each run of equal values
    ends = np.r_[starts[1:], len(x)]
    mean_rank = (starts + 1 + ends) / 2.0  # the run covers ranks starts+1 .. ends
    ranks = np.empty(len(x))
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def pearson(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Pearson's linear correlation coefficient of ``x`` and ``y``, in [-1, 1].

    NaN when it is undefined: fewer than two points, a constant ``x`` or ``y``, or a
    non-finite value.
    """
    x, y = _pair(x, y)
    if len(x) < 2 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return math.nan
    # Test constancy before centring: the mean of identical floats can differ from them by an
    # ulp, which would turn a constant into tiny noise with a spurious correlation.
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    dx, dy = x - x.mean(), y - y.mean()
    r = float(dx @ dy / math.sqrt(float(dx @ dx) * float(dy @ dy)))
    return min(1.0, max(-1.0, r))


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Spearman's rank correlation: Pearson's correlation of the average-tie ranks, in [-1, 1].

    It measures whether ``y`` rises with ``x`` at all, not whether it does so linearly, which is
    what an ordering metric such as VOC needs. NaN in the cases :func:`pearson` lists.
    """
    x, y = _pair(x, y)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return math.nan
    return pearson(rankdata(x), rankdata(y))


def auroc(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for the binary ``labels``, in [0, 1].

    The probability that a random positive scores higher than a random negative, a tie
    counting one half: the Mann-Whitney U statistic over ``n_pos · n_neg`` (Hanley & McNeil,
    1982), computed from average-tie ranks. 0.5 is chance, 1 a perfect separation, 0 a perfect
    separation the wrong way round. NaN when only one class is present or a score is not finite.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels, dtype=bool).ravel()
    if scores.shape != labels.shape:
        raise ValueError(f"scores and labels differ in length: {scores.shape} and {labels.shape}")
    positives = int(labels.sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0 or not np.isfinite(scores).all():
        return math.nan
    rank_sum = rankdata(scores)[labels].sum()
    u = rank_sum - positives * (positives + 1) / 2.0
    return float(u / (positives * negatives))


def _pair(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y differ in length: {x.shape} and {y.shape}")
    return x, y


# -- the report ---------------------------------------------------------------------------
@dataclass
class EpisodeScore:
    """One scored episode.

    ``learned`` and ``true`` hold the per-step learned and environment rewards (T,);
    ``first_success`` is the index of the first step whose info says ``success``, or None.
    """

    policy: str
    seed: int
    learned: np.ndarray
    true: np.ndarray
    success: bool
    first_success: int | None

    @property
    def length(self) -> int:
        return len(self.true)

    @property
    def learned_return(self) -> float:
        return float(self.learned.sum())

    @property
    def true_return(self) -> float:
        return float(self.true.sum())

    def summary(self) -> dict[str, Any]:
        """The episode without its per-step rewards, as plain Python values."""
        return {"policy": self.policy, "seed": self.seed, "length": self.length,
                "learned_return": self.learned_return, "true_return": self.true_return,
                "success": self.success, "first_success": self.first_success}


@dataclass
class RewardReport:
    """What :func:`evaluate_reward` measured; see the module docstring for each metric.

    Attributes:
        env_id, reward, seed: what was evaluated (``reward`` is the spec, or the model's repr).
        episodes: every scored episode, policy by policy in the order asked for.
        voc: mean over expert episodes of Spearman(per-step learned reward, step index), each
            episode cut at its first success step (GVL's demonstrations end when the task is done).
        voc_cumulative: the same with the cumulative learned reward, for rewards that pay
            progress *increments*; a positive constant scores +1 here, so read it with ``voc``.
        voc_episodes: how many expert episodes VOC is averaged over.
        pearson, spearman: correlation of episode learned return with true return, all episodes.
        auroc: AUROC of the episode learned return for success at the episode's end.
        length_baseline: ``pearson``, ``spearman`` and ``auroc`` of a reward of -1 per step, whose
            return is minus the episode length: what episode length alone explains. Where success
            ends an episode, short episodes are the successful ones, and a learned reward that
            does not beat this baseline has learnt little more than "be quick".
        notes: why a metric is NaN, or what was left out.
    """

    env_id: str
    reward: str
    seed: int
    episodes: list[EpisodeScore]
    voc: float
    voc_cumulative: float
    voc_episodes: int
    pearson: float
    spearman: float
    auroc: float
    length_baseline: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def policies(self) -> dict[str, dict[str, float]]:
        """Per policy: episodes, mean learned return, mean true return, success rate, mean length."""
        out = {}
        for name in dict.fromkeys(e.policy for e in self.episodes):
            mine = [e for e in self.episodes if e.policy == name]
            out[name] = {
                "episodes": len(mine),
                "learned_return": float(np.mean([e.learned_return for e in mine])),
                "true_return": float(np.mean([e.true_return for e in mine])),
                "success_rate": float(np.mean([e.success for e in mine])),
                "length": float(np.mean([e.length for e in mine])),
            }
        return out

    @property
    def verdict(self) -> tuple[str, str]:
        """``(good | weak | inverted | unknown, why)`` from Pearson and AUROC (thresholds in :data:`VERDICT`).

        ``inverted``: the learned return falls as the true return rises (Pearson <= -0.3) or ranks
        failures above successes (AUROC <= 0.3) — training on it teaches the opposite of the task.
        ``good``: Pearson >= 0.5 and, where defined, AUROC >= 0.7. ``weak``: in between. When
        episode length alone (the ``length only`` column) does at least as well, the reason says so.
        """
        pearson_, auroc_ = self.pearson, self.auroc
        figures = f"Pearson {_fmt(pearson_)}, AUROC {_fmt(auroc_)}"
        if math.isnan(pearson_) and math.isnan(auroc_):
            return "unknown", "neither Pearson nor AUROC is defined here (see the notes)"
        if (not math.isnan(pearson_) and pearson_ <= VERDICT["inverted_pearson"]) or (
                not math.isnan(auroc_) and auroc_ <= VERDICT["inverted_auroc"]):
            return "inverted", (f"{figures}: the learned return rises where the true one falls; training "
                                f"on it would teach the opposite of the task")
        good = (not math.isnan(pearson_) and pearson_ >= VERDICT["good_pearson"]
                and (math.isnan(auroc_) or auroc_ >= VERDICT["good_auroc"]))
        why = f"{figures}: " + ("it ranks episodes as the true return does" if good else
                               "it follows the true return only loosely")
        length = self.length_baseline
        if good and length and all(not math.isnan(length.get(k, math.nan)) and length[k] >= value
                                   for k, value in (("pearson", pearson_), ("auroc", auroc_)) if not math.isnan(value)):
            why += "; but episode length alone does as well here, so this shows little beyond it"
        return ("good" if good else "weak"), why

    @property
    def trace(self) -> EpisodeScore | None:
        """The episode whose rewards are plotted step by step: the first expert one, else the first."""
        return next((e for e in self.episodes if e.policy == "expert"), self.episodes[0] if self.episodes else None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values; an undefined metric is None (JSON has no NaN)."""
        trace = self.trace
        return {
            "env_id": self.env_id, "reward": self.reward, "seed": self.seed,
            "metrics": {name: _json_float(getattr(self, name))
                        for name in ("voc", "voc_cumulative", "pearson", "spearman", "auroc")},
            "voc_episodes": self.voc_episodes,
            "length_baseline": {name: _json_float(value) for name, value in self.length_baseline.items()},
            "policies": self.policies,
            "episodes": [e.summary() for e in self.episodes],
            "trace": None if trace is None else {
                "policy": trace.policy, "seed": trace.seed, "first_success": trace.first_success,
                "learned": trace.learned.tolist(), "true": trace.true.tolist()},
            "notes": list(self.notes),
            "verdict": dict(zip(("verdict", "why"), self.verdict)),
        }

    def summary(self) -> str:
        """A readable table of the metrics, the per-policy means and the notes."""
        counts = " + ".join(f"{v['episodes']} {k}" for k, v in self.policies.items())
        verdict, why = self.verdict
        lines = [f"reward {self.reward} on {self.env_id}", f"episodes: {counts}, seeds from {self.seed}",
                 f"verdict: {verdict} ({why})", ""]
        metrics = [
            (f"VOC: per-step reward vs time (expert, {self.voc_episodes} ep.)", self.voc, None),
            ("VOC: cumulative reward vs time (expert)", self.voc_cumulative, None),
            ("Pearson: episode learned vs true return", self.pearson, "pearson"),
            ("Spearman: episode learned vs true return", self.spearman, "spearman"),
            ("AUROC: episode learned return -> success", self.auroc, "auroc"),
        ]
        width = max(len(name) for name, _, _ in metrics)
        # "length only": the same metric for a reward of -1 per step, i.e. for episode length alone
        lines.append(f"  {'metric':<{width}}  {'value':>7}  {'length only':>11}")
        for name, value, key in metrics:
            baseline = _fmt(self.length_baseline.get(key, math.nan), 11) if key else ""
            lines.append(f"  {name:<{width}}  {_fmt(value, 7)}  {baseline}".rstrip())
        lines += ["", _policy_table(self.policies)]
        if self.notes:
            lines += ["", "notes:"] + [f"  - {note}" for note in self.notes]
        return "\n".join(lines)

    def plot(self, path: str | Path) -> Path:
        """Save a figure: the rewards along one expert episode, and learned vs true returns.

        Left, the learned reward (left axis) and the true reward (right axis) at each step of
        the first expert episode, with its first success marked. Right, one point per episode,
        true return against learned return, green for success and red for failure, a circle
        for the expert and a cross for the random policy.
        """
        from matplotlib.figure import Figure  # lazy, and no pyplot: no global backend to set

        path = Path(path)
        fig = Figure(figsize=(10, 3.8))
        left, right = fig.subplots(1, 2)
        self._plot_trace(left)
        self._plot_returns(right)
        fig.suptitle(f"{self.reward} on {self.env_id}", fontsize=9)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        return path

    def _plot_trace(self, ax) -> None:
        trace = self.trace
        if trace is None:
            return
        steps = np.arange(trace.length)
        ax.plot(steps, trace.learned, color="tab:blue", marker=".", markersize=3, label="learned")
        ax.set_xlabel(f"step ({trace.policy} episode, seed {trace.seed})")
        ax.set_ylabel("learned reward", color="tab:blue")
        twin = ax.twinx()  # the two rewards live on unrelated scales
        twin.plot(steps, trace.true, color="tab:orange", marker=".", markersize=3, label="true")
        twin.set_ylabel("true reward", color="tab:orange")
        if trace.first_success is not None:
            ax.axvline(trace.first_success, color="tab:green", linestyle="--", linewidth=1, label="first success")
        ax.set_title(f"VOC {_fmt(self.voc)}", fontsize=9)
        ax.grid(alpha=0.3)

    def _plot_returns(self, ax) -> None:
        markers = {"expert": "o", "random": "x"}
        for policy, marker in markers.items():
            for success, colour, label in ((True, "tab:green", "success"), (False, "tab:red", "failure")):
                chosen = [e for e in self.episodes if e.policy == policy and e.success == success]
                if chosen:
                    ax.scatter([e.true_return for e in chosen], [e.learned_return for e in chosen], c=colour,
                               marker=marker, label=f"{policy}, {label}", alpha=0.7)
        ax.set_xlabel("true return")
        ax.set_ylabel("learned return")
        ax.set_title(f"Pearson {_fmt(self.pearson)}, Spearman {_fmt(self.spearman)}, "
                     f"AUROC {_fmt(self.auroc)}", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)


def _policy_table(policies: dict[str, dict[str, float]]) -> str:
    header = f"  {'policy':<8}{'episodes':>9}{'learned return':>16}{'true return':>13}{'success':>9}{'length':>8}"
    rows = [f"  {name:<8}{p['episodes']:>9d}{p['learned_return']:>16.4g}{p['true_return']:>13.4g}"
            f"{p['success_rate']:>9.2f}{p['length']:>8.1f}" for name, p in policies.items()]
    return "\n".join([header, *rows])


def _fmt(value: float, width: int = 0) -> str:
    """``value`` with three decimals, or ``n/a`` when undefined, right-aligned to ``width``."""
    return ("n/a" if math.isnan(value) else f"{value:.3f}").rjust(width)


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def report_from_episodes(env_id: str, reward: str, seed: int, episodes: list[EpisodeScore],
                         notes: Sequence[str] = ()) -> RewardReport:
    """Compute every metric from scored episodes (no environment needed; the rollouts are separate)."""
    notes = list(notes)
    voc, voc_cumulative, voc_episodes = _voc(episodes, notes)
    learned = [e.learned_return for e in episodes]
    true = [e.true_return for e in episodes]
    if len(episodes) >= 2 and np.ptp(learned) == 0:
        notes.append("the learned return is the same for every episode: its correlations are undefined")
    elif len(episodes) >= 2 and np.ptp(true) == 0:
        notes.append("the true return is the same for every episode: the correlations are undefined")
    successes = [e.success for e in episodes]
    if all(successes) or not any(successes):
        notes.append(f"AUROC undefined: {'every' if all(successes) else 'no'} episode succeeded")
    if not np.isfinite(np.concatenate([e.learned for e in episodes] or [np.zeros(0)])).all():
        notes.append("the learned reward has non-finite values: the metrics they enter are undefined")
    return RewardReport(env_id=env_id, reward=reward, seed=seed, episodes=episodes, voc=voc,
                        voc_cumulative=voc_cumulative, voc_episodes=voc_episodes,
                        pearson=pearson(learned, true), spearman=spearman(learned, true),
                        auroc=auroc(learned, successes), length_baseline=_length_baseline(episodes), notes=notes)


def _length_baseline(episodes: list[EpisodeScore]) -> dict[str, float]:
    """The return metrics of a reward of -1 per step (a return of minus the length); +1 per step mirrors them."""
    minus_length = [-e.length for e in episodes]
    true = [e.true_return for e in episodes]
    return {"pearson": pearson(minus_length, true), "spearman": spearman(minus_length, true),
            "auroc": auroc(minus_length, [e.success for e in episodes])}


def _voc(episodes: list[EpisodeScore], notes: list[str]) -> tuple[float, float, int]:
    """Mean VOC (per-step and cumulative) over the expert episodes, and how many entered it.

    Each episode is cut at its first success, inclusive: GVL's demonstrations end when the task
    is done, and an env that keeps running (Fetch-style 50-step episodes) adds an idle tail whose
    order is arbitrary — distances jittering around 1e-11 would drag a perfect reward to ~0.6.
    An episode with fewer than two steps, or a learned reward constant over them, has no
    defined correlation and is left out.
    """
    experts = [e for e in episodes if e.policy == "expert"]
    if not experts:
        return math.nan, math.nan, 0
    per_step, cumulative, too_short = [], [], 0
    for episode in experts:
        end = episode.length if episode.first_success is None else episode.first_success + 1
        if end < 2:
            too_short += 1
            continue
        values = episode.learned[:end]
        time = np.arange(end)
        per_step.append(spearman(time, values))
        cumulative.append(spearman(time, np.cumsum(values)))
    defined = [v for v in per_step if not math.isnan(v)]
    if too_short:
        notes.append(f"VOC leaves out {too_short} of {len(experts)} expert episodes that succeed at their first "
                     "step (one step has no order)")
    if len(defined) < len(per_step):
        notes.append(f"VOC leaves out {len(per_step) - len(defined)} of {len(experts)} expert episodes whose learned "
                     "reward is constant (or not finite) until success")
    voc = float(np.mean(defined)) if defined else math.nan
    cumulative = [v for v in cumulative if not math.isnan(v)]
    return voc, float(np.mean(cumulative)) if cumulative else math.nan, len(defined)


# -- rollouts -----------------------------------------------------------------------------
def evaluate_reward(env_id: str, spec_or_model: str | RewardModel, *, episodes: int = 20, seed: int = 0,
                    env_kwargs: dict[str, Any] | None = None, policies: Sequence[str] = POLICIES,
                    progress: bool = True) -> RewardReport:
    """Roll out ``policies`` on ``env_id``, score every transition with the model, and report.

    Args:
        env_id: any registered id (``gym.make(env_id, **env_kwargs)``).
        spec_or_model: a reward spec (:func:`rewardgym.make_reward`) or a built reward model.
        episodes: episodes per policy; episode ``i`` of every policy resets with seed ``seed + i``,
            so the expert and the random policy face the same tasks.
        seed: the first seed (manipulation seeds >= 1_000_000 are the held-out test range).
        env_kwargs: passed to ``gym.make``.
        policies: ``"expert"`` (the family's scripted expert) and/or ``"random"`` (uniform actions
            from the action space, seeded per episode). An env without a scripted expert runs the
            other policies and says so in ``report.notes``; with none left, ValueError.
        progress: show a progress bar over episodes.

    Each episode is scored in one call of the model: a :class:`Transitions` batch of its T steps
    (observations batched as a vector env batches them, the step infos, and ``env.render()`` of
    each ``s′`` when the model has ``needs_frames``).

    Raises:
        ValueError: an unknown id, bad env kwargs, a bad reward spec, a policy name that is not
            ``"expert"`` or ``"random"``, a frames model on an env that cannot render images, or
            a model output of the wrong shape.
    """
    import gymnasium as gym

    episodes = _check_int(episodes, "episodes", 1)
    seed = _check_int(seed, "seed", 0)
    policies = _check_policies(policies)
    try:
        gym.spec(env_id)  # before building the model, which may be slow to load
    except gym.error.Error as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    try:
        model = make_reward(spec_or_model)
    except TypeError as exc:  # a python: target that builds something that is not a reward model
        raise ValueError(f"reward {spec_or_model!r}: {exc}") from None
    try:
        needs_frames = bool(getattr(model, "needs_frames", False))
        env = _make_env(env_id, dict(env_kwargs or {}), needs_frames)
        notes: list[str] = []
        try:
            actors = _actors(env, env_id, policies, notes)
            scored = _roll_out_and_score(env, model, actors, episodes, seed, needs_frames, progress, notes)
        finally:
            env.close()
    finally:
        if isinstance(spec_or_model, str):  # built here, so closed here
            close_model(model)
    name = spec_or_model if isinstance(spec_or_model, str) else repr(model)
    return report_from_episodes(env_id, name, seed, scored, notes)


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_policies(policies: Sequence[str]) -> tuple[str, ...]:
    policies = (policies,) if isinstance(policies, str) else tuple(policies)
    unknown = [p for p in policies if p not in POLICIES]
    if unknown or not policies or len(set(policies)) != len(policies):
        raise ValueError(f"policies must be distinct names from {POLICIES}, got {policies!r}")
    return policies


def _make_env(env_id: str, env_kwargs: dict[str, Any], frames: bool):
    import gymnasium as gym

    if frames:
        _check_renders_images(env_id)
        env_kwargs = {**env_kwargs, "render_mode": "rgb_array"}
    try:
        return gym.make(env_id, **env_kwargs)
    except gym.error.Error as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    except TypeError as exc:
        raise ValueError(f"bad env kwargs for {env_id}: {exc}") from None


def _check_renders_images(env_id: str) -> None:
    try:
        check_renders_images(env_id)
    except ValueError as exc:
        raise ValueError(f"the reward model needs frames: {exc}") from None


def _actors(env, env_id: str, policies: tuple[str, ...], notes: list[str]) -> dict[str, Callable[[int], Any]]:
    """policy name -> ``start(seed)``, which returns that episode's ``act(obs)``.

    A requested expert that the env lacks is dropped with a note, so an env without one is
    still judged on random rollouts; ValueError when no policy is left.
    """
    actors: dict[str, Callable[[int], Any]] = {}
    for policy in policies:
        if policy == "random":
            actors[policy] = _random_actor(env)
            continue
        expert = _expert(env, env_id)
        if isinstance(expert, str):
            notes.append(f"{expert}: no expert episodes, so VOC is undefined")
            if len(policies) == 1:
                raise ValueError(f"{expert}; evaluate the random policy instead")
        else:
            actors[policy] = _expert_actor(expert)
    return actors


def _random_actor(env) -> Callable[[int], Callable[[Any], Any]]:
    def start(episode_seed: int) -> Callable[[Any], Any]:
        env.action_space.seed(episode_seed)  # each episode reproducible on its own
        return lambda obs: env.action_space.sample()

    return start


def _expert_actor(expert: Any) -> Callable[[int], Callable[[Any], Any]]:
    def start(episode_seed: int) -> Callable[[Any], Any]:
        return expert.act  # experts plan from the env's state, so the seed only matters to reset

    return start


def _expert(env, env_id: str) -> Any:
    """The family's scripted expert for ``env``, or a str saying why there is none."""
    try:
        return expert_for(env_id, env)
    except ValueError as exc:  # a family without experts, or an env of the family without one
        return str(exc).split(";")[0]


def _roll_out_and_score(env, model: RewardModel, actors: dict[str, Callable[[int], Any]], episodes: int, seed: int,
                        frames: bool, progress: bool, notes: list[str]) -> list[EpisodeScore]:
    """Every (policy, episode) rolled out and scored in one model call per episode."""
    from tqdm.auto import tqdm


    scored, without_success = [], 0
    desc = str(getattr(env.spec, "id", "")).split("/")[-1] or None
    with tqdm(total=len(actors) * episodes, disable=not progress, unit="episode", desc=desc,
              dynamic_ncols=True) as bar:
        for policy, start in actors.items():
            for i in range(episodes):
                rollout = run_episode(env, start(seed + i), seed + i, frames)
                learned = score_transitions(model, _transitions(env, rollout))
                scored.append(_episode_score(policy, seed + i, learned, rollout))
                without_success += "success" not in rollout.infos[-1]
                bar.set_postfix({"policy": policy, "learned_return": f"{learned.sum():.3g}"}, refresh=False)
                bar.update()
    if without_success:
        notes.append(f"{without_success} episodes ended without info['success']: they count as failures")
    return scored


def _transitions(env, rollout: EpisodeRecord) -> Transitions:
    """The episode as one batch, laid out as a vector env of T copies would batch it."""
    return Transitions(
        obs=stack_items(env.observation_space, rollout.observations[:-1]),
        action=stack_items(env.action_space, rollout.actions),
        next_obs=stack_items(env.observation_space, rollout.observations[1:]),
        terminated=np.array(rollout.terminated, dtype=bool),
        truncated=np.array(rollout.truncated, dtype=bool),
        infos=rollout.infos,
        frames=None if rollout.frames is None else np.stack(rollout.frames[1:]),  # renders of each s′
    )


def _episode_score(policy: str, seed: int, learned: np.ndarray, rollout: EpisodeRecord) -> EpisodeScore:
    flags = rollout.success
    first = flags.index(True) if any(flags) else None
    return EpisodeScore(policy=policy, seed=seed, learned=learned, true=np.array(rollout.rewards),
                        success=flags[-1], first_success=first)
