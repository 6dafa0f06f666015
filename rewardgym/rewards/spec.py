"""Reward specs: the strings ``rewardgym train --reward`` and :func:`make_reward` take.

Grammar (no escaping; ``;`` cannot appear inside a value)::

    name                              constant, a registered reward with no options
    name:arg                          one positional argument, e.g. progress:path/to/model
    name:key=value;key=value          options, e.g. clip:goal=a robot kneeling;baseline=a robot
    name:arg;key=value;...            both, e.g. python:mypkg.rewards:Shaped;scale=2

Only the first entry after ``:`` may be positional, and a positional argument contains no
``=``. Values that look like an int, a float (including ``inf`` / ``nan``) or a bool
(``true`` / ``false``, any case) are converted, the rest stay str; surrounding whitespace
is stripped. A key given more than once collects its values into a list, in order.

The registry maps a name to a factory called as ``factory(*args, **options)``: the
positional argument, when present, is the factory's first positional parameter (so a
progress model's factory is ``def make_progress(path, device="auto")``). Every reward kind,
built-in or added later, is registered with :func:`register_reward`; the registry is the
one place :func:`make_reward` looks.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardgym._registry import NAME, Registry, import_target
from rewardgym.rewards.transitions import RewardModel, Transitions

__all__ = [
    "RewardSpec",
    "parse_reward_spec",
    "register_reward",
    "available_rewards",
    "make_reward",
    "ConstantReward",
]

RewardFactory = Callable[..., RewardModel]

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)", re.IGNORECASE)
_SPEC_FORMS = "expected 'name', 'name:arg' or 'name:key=value;key=value'"


@dataclass(frozen=True)
class RewardSpec:
    """A parsed spec: ``factory(*args, **options)`` builds the reward model."""

    name: str
    args: tuple[Any, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)


def parse_value(text: str) -> Any:
    """Convert one spec value: int, float, bool or None when it looks like one, else the str."""
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if text.lower() in ("none", "null"):
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def parse_reward_spec(spec: str) -> RewardSpec:
    """Parse a spec string; raise ``ValueError`` with a one-line message when malformed."""
    if not isinstance(spec, str):
        raise TypeError(f"a reward spec is a str, got {type(spec).__name__}")
    name, colon, rest = spec.strip().partition(":")
    name = name.strip()
    if not name:
        raise ValueError(f"reward spec {spec!r} has no name; {_SPEC_FORMS}")
    if not NAME.fullmatch(name):
        raise ValueError(
            f"invalid reward name {name!r} in spec {spec!r}: use letters, digits, '_', '.', '-'"
        )
    if not colon:
        return RewardSpec(name)
    if not rest.strip():
        raise ValueError(f"reward spec {spec!r} has nothing after ':'; {_SPEC_FORMS}")

    args: list[Any] = []
    repeated: dict[str, list[Any]] = {}
    for position, entry in enumerate(rest.split(";")):
        entry = entry.strip()
        if not entry:
            raise ValueError(
                f"reward spec {spec!r} has an empty entry (a doubled or trailing ';')"
            )
        key, equals, value = entry.partition("=")
        key = key.strip()
        if not equals:
            if position > 0:
                raise ValueError(
                    f"reward spec {spec!r}: expected key=value after ';', got {entry!r}"
                )
            args.append(parse_value(entry))
        elif not _KEY.fullmatch(key):
            raise ValueError(
                f"reward spec {spec!r}: invalid option name {key!r} in {entry!r}"
                " (a positional argument cannot contain '=')"
            )
        else:
            repeated.setdefault(key, []).append(parse_value(value))
    options = {key: values[0] if len(values) == 1 else values for key, values in repeated.items()}
    return RewardSpec(name, tuple(args), options)


# name -> factory, or "package.module:attr" imported on first use so that registering a
# torch-backed reward does not import torch.
REWARDS = Registry("reward")


def register_reward(
    name: str, factory: RewardFactory | str, *, override: bool = False
) -> RewardFactory | str:
    """Register ``factory`` under ``name`` so that specs ``name[:...]`` build it.

    Args:
        name: the spec name (letters, digits, ``_``, ``.``, ``-``; starts with a letter).
        factory: called as ``factory(*args, **options)`` and returning a reward model; or a
            ``"package.module:attr"`` string naming it, imported on first use so that
            registration stays cheap (torch-backed rewards register this way).
        override: replace an existing registration instead of raising.

    Returns:
        ``factory``, unchanged.

    Raises:
        ValueError: ``name`` is invalid, or already registered and ``override`` is false.
    """
    if not (callable(factory) or isinstance(factory, str)):
        raise TypeError(f"reward factory for {name!r} must be callable or a 'module:attr' str")
    return REWARDS.register(name, factory, override=override)


def available_rewards() -> list[str]:
    """The registered reward names, sorted."""
    return REWARDS.names()


def make_reward(spec: str | RewardModel, **options: Any) -> RewardModel:
    """Build a reward model from a spec string; return a model unchanged.

    Args:
        spec: a spec string (see the module docstring) or an already-built reward model.
        **options: extra options merged over the spec's (e.g. ``device="cuda"`` from a CLI
            flag); only allowed with a spec string.

    Raises:
        ValueError: a malformed spec, an unknown name (the message lists the available
            ones), arguments the factory does not accept, or a failed ``python:`` import.
    """
    if not isinstance(spec, str):
        if not callable(spec):
            raise TypeError(
                f"make_reward takes a spec str or a reward model, got {type(spec).__name__}"
            )
        if options:
            raise ValueError("keyword options apply only to spec strings, not to a built model")
        return spec
    parsed = parse_reward_spec(spec)
    factory = REWARDS.get(parsed.name)
    model = _call_factory(parsed.name, factory, parsed.args, {**parsed.options, **options})
    if not callable(model):
        raise TypeError(
            f"reward {parsed.name!r} built a {type(model).__name__}, which is not callable"
        )
    return model


def _call_factory(
    name: str, factory: Callable[..., Any], args: tuple[Any, ...], options: dict[str, Any]
) -> Any:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # some builtins have no signature: let the call decide
        signature = None
    if signature is not None:
        try:
            signature.bind(*args, **options)
        except TypeError as error:
            raise ValueError(f"bad arguments for reward {name!r}: {error}") from None
    return factory(*args, **options)


def _python_reward(target: str, /, **options: Any) -> RewardModel:
    """``python:package.module:attr;key=value``: a user's reward, from their own code.

    ``attr`` (a class or a factory function) is called with the options and must return a
    reward model. An ``attr`` that is already a built model instance is returned as is.
    """
    if not isinstance(target, str):
        raise ValueError(f"python reward expects 'package.module:attr', got {target!r}")
    obj = import_target(target)
    if callable(obj) and hasattr(obj, "needs_frames") and not isinstance(obj, type):
        if options:
            raise ValueError(f"{target!r} is a built reward model; it takes no options")
        return obj
    if not callable(obj):
        raise ValueError(f"{target!r} is a {type(obj).__name__}, not a class or factory")
    return _call_factory(f"python:{target}", obj, (), options)


class ConstantReward:
    """Every transition gets the same reward ``value`` (spec ``constant:value=X``).

    A sanity check for the plumbing: with ``LearnedReward(env, "constant:value=1",
    mode="replace")`` the return equals the episode length.
    """

    needs_frames = False

    def __init__(self, value: float) -> None:
        if not isinstance(value, (int, float, np.number)):
            raise ValueError(f"constant reward value must be a number, got {value!r}")
        self.value = float(value)

    def __call__(self, batch: Transitions) -> np.ndarray:
        return np.full(len(batch.terminated), self.value, dtype=np.float32)

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"ConstantReward(value={self.value})"


register_reward("python", _python_reward)
register_reward("constant", ConstantReward)
# The reward models of rewardgym.reward_models import torch and transformers, so they register
# by "module:attr" and load when a spec first names them: `import rewardgym` stays torch-free.
for _name, _target in {
    "clip": "rewardgym.reward_models.vlm:CLIPReward",                       # CLIP/SigLIP on frames
    "text-embedding": "rewardgym.reward_models.text:TextEmbeddingReward",   # sentence embeddings of the env's text
    "text": "rewardgym.reward_models.text:TextEmbeddingReward",
    "ensemble": "rewardgym.reward_models.ensemble:ensemble_from_spec",
    "progress": "rewardgym.reward_models.progress:make_progress_reward",    # Φ learned from demonstrations
    "llm-feedback": "rewardgym.reward_models.llm.intrinsic:make_llm_feedback",  # Motif / ONI
    "reward-code": "rewardgym.reward_models.synthesis.sandbox:load_reward_code",  # LLM-written, sandboxed
    "novelty": "rewardgym.reward_models.novelty:EpisodicNovelty",           # episodic count bonus: the baseline
}.items():
    register_reward(_name, _target)
