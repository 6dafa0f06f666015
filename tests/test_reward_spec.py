"""Reward specs, the reward registry, the python: loader and the VectorInfos view."""

from __future__ import annotations

import math
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardgym.reward_models import (
    Potential,
    RewardModel,
    Transitions,
    VectorInfos,
    available_rewards,
    make_reward,
    parse_reward_spec,
    register_reward,
)
from rewardgym.rewards import spec as spec_module


def _batch(size: int) -> Transitions:
    zeros = np.zeros((size, 2), dtype=np.float32)
    done = np.zeros(size, dtype=bool)
    return Transitions(zeros, np.zeros(size, dtype=np.int64), zeros, done, done, [{}] * size)


@pytest.fixture
def registry(monkeypatch):
    """An isolated copy of the registry, so tests can register names freely."""
    monkeypatch.setattr(spec_module, "REWARDS", spec_module.REWARDS.copy())
    return spec_module.REWARDS


# --- parsing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "args", "options"),
    [
        ("constant", "constant", (), {}),
        ("  constant  ", "constant", (), {}),
        ("progress:path/to/model", "progress", ("path/to/model",), {}),
        (
            "clip:goal=a robot arm kneeling;baseline=a robot arm",
            "clip",
            (),
            {"goal": "a robot arm kneeling", "baseline": "a robot arm"},
        ),
        ("clip:goal=a; goal = b ;goal=c", "clip", (), {"goal": ["a", "b", "c"]}),
        (
            "x:n=3;f=0.5;e=1e-3;t=TRUE;b=false;s=hello;neg=-2;inf=inf",
            "x",
            (),
            {
                "n": 3, "f": 0.5, "e": 1e-3, "t": True, "b": False,
                "s": "hello", "neg": -2, "inf": math.inf,
            },
        ),
        ("python:mypkg.rewards:Shaped;scale=2", "python", ("mypkg.rewards:Shaped",), {"scale": 2}),
        ("constant:1.5", "constant", (1.5,), {}),
        ("x:url=http://h:80/a=b", "x", (), {"url": "http://h:80/a=b"}),
        ("x:empty=", "x", (), {"empty": ""}),
    ],
)
def test_parse_reward_spec(text, name, args, options):
    parsed = parse_reward_spec(text)
    assert (parsed.name, parsed.args, parsed.options) == (name, args, options)
    assert all(type(parsed.options[k]) is type(v) for k, v in options.items())


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "no name"),
        (":a=1", "no name"),
        ("constant:", "nothing after ':'"),
        ("constant:   ", "nothing after ':'"),
        ("my reward", "invalid reward name"),
        ("1clip:goal=x", "invalid reward name"),
        ("clip:goal=a;;baseline=b", "empty entry"),
        ("clip:goal=a;", "empty entry"),
        ("clip:goal=a;stray", "expected key=value"),
        ("clip:=3", "invalid option name"),
        ("clip:my goal=3", "invalid option name"),
        ("progress:runs/lr=3/model", "invalid option name"),
    ],
)
def test_malformed_specs_raise_one_line_value_error(text, fragment):
    with pytest.raises(ValueError) as caught:
        parse_reward_spec(text)
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message
    with pytest.raises(ValueError):
        make_reward(text)  # the same errors reach make_reward


_SAFE_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters=";="),
    min_size=1,
    max_size=12,
).map(str.strip).filter(lambda s: s != "" and spec_module.parse_value(s) == s)
_VALUES = st.one_of(
    st.integers(-10**6, 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=64).filter(lambda f: not f.is_integer()),
    st.booleans(),
    _SAFE_TEXT,
)
_KEYS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
_NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9_.\-]{0,8}", fullmatch=True)


def _format(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, float) else str(value)


@settings(max_examples=200, deadline=None)
@given(
    name=_NAMES,
    positional=st.one_of(st.none(), _SAFE_TEXT),
    options=st.dictionaries(
        _KEYS, st.one_of(_VALUES, st.lists(_VALUES, min_size=2, max_size=3)), max_size=4
    ),
)
def test_spec_round_trip(name, positional, options):
    entries = [] if positional is None else [positional]
    for key, value in options.items():
        values = value if isinstance(value, list) else [value]
        entries += [f"{key}={_format(v)}" for v in values]
    text = name if not entries else f"{name}:{';'.join(entries)}"
    parsed = parse_reward_spec(text)
    assert parsed.name == name
    assert parsed.args == (() if positional is None else (positional,))
    assert parsed.options == options


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_raises_value_error(text):
    try:
        parsed = parse_reward_spec(text)
    except ValueError as error:
        assert "\n" not in str(error)
    else:
        assert parsed.name and len(parsed.args) <= 1


# --- registry -----------------------------------------------------------------------------


def test_builtin_rewards_are_registered():
    assert {"constant", "python"} <= set(available_rewards())
    assert available_rewards() == sorted(available_rewards())


def test_unknown_reward_lists_available_names():
    with pytest.raises(ValueError, match="unknown reward 'nope'.*constant.*python"):
        make_reward("nope:x=1")


def test_register_reward_and_duplicates(registry):
    def factory(path, scale=1.0):
        return spec_module.ConstantReward(len(path) * scale)

    assert register_reward("mine", factory) is factory
    assert "mine" in available_rewards()
    model = make_reward("mine:abcd;scale=0.5")
    assert model(_batch(3)).tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(ValueError, match="already registered"):
        register_reward("mine", factory)
    register_reward("mine", lambda: spec_module.ConstantReward(7), override=True)
    assert make_reward("mine")(_batch(1))[0] == 7
    with pytest.raises(ValueError, match="invalid reward name"):
        register_reward("bad name", factory)


def test_bad_factory_arguments_become_value_error(registry):
    register_reward("one", lambda path: spec_module.ConstantReward(1))
    with pytest.raises(ValueError, match="bad arguments for reward 'one'"):
        make_reward("one")
    with pytest.raises(ValueError, match="bad arguments for reward 'one'"):
        make_reward("one:a;extra=1")
    with pytest.raises(ValueError, match="bad arguments for reward 'constant'"):
        make_reward("constant:value=1;colour=red")
    with pytest.raises(ValueError, match="must be a number"):
        make_reward("constant:value=high")


def test_lazy_string_factory_is_imported_on_use(registry):
    register_reward("lazy", "rewardgym.rewards.spec:ConstantReward")
    assert make_reward("lazy:value=3")(_batch(2)).tolist() == [3.0, 3.0]
    register_reward("broken", "no_such_module_xyz:Thing")
    with pytest.raises(ValueError, match="cannot import 'no_such_module_xyz'"):
        make_reward("broken")


def test_make_reward_returns_models_unchanged_and_merges_options():
    model = spec_module.ConstantReward(2.0)
    assert make_reward(model) is model
    assert make_reward("constant:value=1", value=4)(_batch(1))[0] == 4.0
    with pytest.raises(ValueError, match="only to spec strings"):
        make_reward(model, value=3)
    with pytest.raises(TypeError):
        make_reward(42)


def test_constant_reward():
    model = make_reward("constant:value=2.5")
    assert isinstance(model, RewardModel) and model.needs_frames is False
    out = model(_batch(4))
    assert out.dtype == np.float32 and out.shape == (4,) and np.all(out == 2.5)
    assert make_reward("constant:-1")(_batch(1))[0] == -1.0


# --- python: loader ------------------------------------------------------------------------


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    name = "user_rewards_for_spec_tests"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            class Shaped:
                needs_frames = False

                def __init__(self, scale=1.0, offset=0.0):
                    self.scale, self.offset = scale, offset

                def __call__(self, batch):
                    return (self.scale * batch.next_obs[:, 0] + self.offset).astype(np.float32)

            def make_shaped(scale):
                return Shaped(scale=scale)

            class Namespace:
                Inner = Shaped

            built = Shaped(scale=10)
            not_callable = 3
            """
        )
    )
    (tmp_path / "user_rewards_broken.py").write_text("raise RuntimeError('boom\\nsecond line')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)
    sys.modules.pop("user_rewards_broken", None)


def test_python_loader_builds_user_rewards(user_module):
    batch = _batch(2)
    batch.next_obs = np.array([[1.0, 0.0], [2.0, 0.0]], dtype=np.float32)
    model = make_reward(f"python:{user_module}:Shaped;scale=2;offset=0.5")
    assert type(model).__name__ == "Shaped"
    assert model(batch).tolist() == [2.5, 4.5]
    assert make_reward(f"python:{user_module}:make_shaped;scale=3")(batch).tolist() == [3.0, 6.0]
    assert make_reward(f"python:{user_module}:Namespace.Inner")(batch).tolist() == [1.0, 2.0]
    assert make_reward(f"python:{user_module}:built")(batch).tolist() == [10.0, 20.0]


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("no_such_module_abc:Thing", "cannot import 'no_such_module_abc': ModuleNotFoundError"),
        (
            "user_rewards_broken:Thing",
            "cannot import 'user_rewards_broken': RuntimeError: boom second line",
        ),
        ("{m}:Missing", "has no attribute 'Missing'"),
        ("{m}", "expected 'package.module:attr'"),
        ("{m}:not_callable", "not a class or factory"),
        ("{m}:Shaped;colour=red", "bad arguments"),
        ("{m}:built;scale=2", "takes no options"),
    ],
)
def test_python_loader_errors_are_value_errors(user_module, target, fragment):
    with pytest.raises(ValueError) as caught:
        make_reward("python:" + target.format(m=user_module))
    assert fragment in str(caught.value)
    assert "\n" not in str(caught.value)


# --- protocols and VectorInfos -----------------------------------------------------------------


def test_protocols_are_runtime_checkable():
    assert isinstance(spec_module.ConstantReward(1), RewardModel)
    assert not isinstance(lambda batch: batch, RewardModel)  # no needs_frames
    assert isinstance(lambda obs, infos: obs, Potential)
    assert len(_batch(5)) == 5


class _InfoEnv(gym.Env):
    """Each step reports a message; 'bonus' only on even positions; ends after 2 steps."""

    observation_space = gym.spaces.Discrete(10)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, offset: int = 0) -> None:
        self.offset = offset

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.offset, {"task": "count"}

    def step(self, action):
        self.t += 1
        info = {
            "message": f"env{self.offset} t{self.t}",
            "success": bool(action),
            "stats": {"t": self.t},
        }
        if (self.offset + self.t) % 2 == 0:
            info["bonus"] = np.array([self.t, -self.t])
        return self.offset, 1.0, self.t >= 2, False, info


@pytest.mark.parametrize(
    "mode", [gym.vector.AutoresetMode.NEXT_STEP, gym.vector.AutoresetMode.SAME_STEP]
)
def test_vector_infos_rebuild_single_env_infos(mode):
    n = 3
    vec = gym.vector.SyncVectorEnv([lambda i=i: _InfoEnv(i) for i in range(n)], autoreset_mode=mode)
    singles = [_InfoEnv(i) for i in range(n)]
    _, info = vec.reset(seed=0)
    assert list(VectorInfos(info, n)) == [s.reset(seed=i)[1] for i, s in enumerate(singles)]
    _, _, _, _, info = vec.step(np.array([1, 0, 1]))
    views = VectorInfos(info, n)
    expected = [s.step(a)[4] for s, a in zip(singles, [1, 0, 1])]
    assert len(views) == n
    for got, want in zip(views, expected):
        assert got.keys() == want.keys() and not any(k.startswith("_") for k in got)
        assert got["message"] == want["message"] and got["success"] is want["success"]
        assert got["stats"] == want["stats"]
        if "bonus" in want:
            np.testing.assert_array_equal(got["bonus"], want["bonus"])
    assert views[-1] is views[2]  # built once, cached
    assert views[0:2] == [views[0], views[1]]
    with pytest.raises(IndexError):
        views[n]
    _, _, _, _, info = vec.step(np.array([0, 0, 0]))  # every env ends its episode here
    views = VectorInfos(info, n)
    if mode == gym.vector.AutoresetMode.SAME_STEP:
        assert views[1]["final_info"]["message"] == "env1 t2"
        assert views[1]["task"] == "count"  # the reset info sits at the top level
    else:
        assert "final_info" not in views[1] and views[1]["message"] == "env1 t2"


def test_vector_infos_shared_unbatched_values():
    info = {"a": np.array([1, 2]), "_a": np.array([True, False]), "run": "x", "_private": 5}
    views = VectorInfos(info, 2)
    assert views[0] == {"a": 1, "run": "x", "_private": 5}
    assert views[1] == {"run": "x", "_private": 5}
    assert type(views[0]["a"]) is int
