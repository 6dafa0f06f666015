"""The rewards core by hand: Transitions.concat, the transforms' edge cases and checks, spec values."""

from __future__ import annotations

import numpy as np
import pytest

from rewardgym._batch import VectorInfos
from rewardgym.rewards import Transitions, close_model, make_reward, parse_value
from rewardgym.rewards import spec as spec_module
from rewardgym.rewards.transforms import (
    BoundedTransform,
    EpisodeCounts,
    PotentialShaper,
    RewardMix,
    RewardStandardizer,
    RunningMeanStd,
    default_count_key,
    evaluate_potential,
    score_transitions,
)


def _batch(n: int, start: int = 0, frames: bool = False, env_ids=None) -> Transitions:
    obs = {"x": np.arange(start, start + n, dtype=np.float32)[:, None]}
    return Transitions(obs=obs, action=np.arange(n), next_obs={"x": obs["x"] + 1},
                       terminated=np.zeros(n, bool), truncated=np.arange(n) == n - 1,
                       infos=[{"row": start + i} for i in range(n)],
                       frames=np.full((n, 2, 2, 3), start, np.uint8) if frames else None, env_ids=env_ids)


def test_concat_joins_every_field_in_order():
    joined = Transitions.concat([_batch(2), _batch(3, start=10, env_ids=np.array([4, 5, 6]))])
    assert len(joined) == 5
    np.testing.assert_array_equal(joined.obs["x"][:, 0], [0, 1, 10, 11, 12])
    np.testing.assert_array_equal(joined.next_obs["x"][:, 0], [1, 2, 11, 12, 13])
    np.testing.assert_array_equal(joined.action, [0, 1, 0, 1, 2])
    np.testing.assert_array_equal(joined.truncated, [False, True, False, False, True])
    np.testing.assert_array_equal(joined.terminated, np.zeros(5, bool))
    assert [info["row"] for info in joined.infos] == [0, 1, 10, 11, 12] and joined.infos[-1]["row"] == 12
    assert [info["row"] for info in joined.infos[1:3]] == [1, 10]
    np.testing.assert_array_equal(joined.env_ids, [0, 1, 4, 5, 6])  # a batch without ids is envs 0..B-1
    assert joined.frames is None
    with_frames = Transitions.concat([_batch(1, frames=True), _batch(2, start=7, frames=True)])
    np.testing.assert_array_equal(with_frames.frames[:, 0, 0, 0], [0, 7, 7])
    one = _batch(2)
    assert Transitions.concat([one]) is one
    with pytest.raises(ValueError, match="no transitions to join"):
        Transitions.concat([])
    with pytest.raises(ValueError, match="frames and batches without"):
        Transitions.concat([_batch(1, frames=True), _batch(1)])
    with pytest.raises(IndexError, match="out of range"):
        joined.infos[5]


def test_potentials_get_frames_only_when_given_and_wrong_shapes_name_the_scorer():
    calls = []

    class FramePotential:
        def __call__(self, obs, infos, frames=None):
            calls.append((obs["x"][:, 0].tolist(), [i["row"] for i in infos], frames))
            return obs["x"][:, 0] + (0 if frames is None else frames[:, 0, 0, 0])

    batch = _batch(2, frames=True)
    np.testing.assert_array_equal(evaluate_potential(FramePotential(), batch.obs, batch.infos), [0, 1])
    np.testing.assert_array_equal(evaluate_potential(FramePotential(), batch.obs, batch.infos, batch.frames + 5),
                                  [5, 6])
    assert calls[0][2] is None and calls[1][2].shape == (2, 2, 2, 3) and calls[1][1] == [0, 1]
    with pytest.raises(ValueError, match=r"potential FramePotential returned shape \(2,\) for a batch of 3"):
        evaluate_potential(FramePotential(), batch.obs, [{"row": 0}] * 3)

    class TwoColumns:
        needs_frames = False

        def __call__(self, batch):
            return np.zeros((len(batch), 2))

    with pytest.raises(ValueError, match=r"reward model TwoColumns returned shape \(2, 2\)"):
        score_transitions(TwoColumns(), _batch(2))
    assert score_transitions(lambda b: np.ones(len(b), np.int32), _batch(3)).dtype == np.float64


def test_transform_checks_sit_at_their_boundaries():
    PotentialShaper(1, gamma=0.0)  # γ = 0 and γ = 1 are allowed
    PotentialShaper(1, gamma=1.0)
    with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\], got 1.5"):
        PotentialShaper(1, gamma=1.5)
    with pytest.raises(ValueError, match="epsilon must be positive, got 0"):
        RewardStandardizer(epsilon=0)
    with pytest.raises(ValueError, match="scale must be positive, got 0"):
        BoundedTransform(scale=0)
    with pytest.raises(ValueError, match="reference must be a number or 'running'"):
        BoundedTransform(reference="mean")
    assert EpisodeCounts(beta=0.0).beta == 0.0 and EpisodeCounts(beta=0.5).beta == 0.5
    with pytest.raises(ValueError, match="beta must be non-negative, got -1"):
        EpisodeCounts(beta=-1)
    with pytest.raises(ValueError, match="mode must be 'add' or 'replace'"):
        RewardMix("sum")


def test_reward_mix_defaults_and_integer_inputs():
    mix = RewardMix()
    assert (mix.mode, mix.coef, mix.env_coef) == ("add", 1.0, 1.0)
    out = mix(np.array([1, 2]), np.array([3, 4]))
    assert out.dtype == np.float64 and out.tolist() == [4.0, 6.0]
    assert RewardMix("replace", coef=2.0)(np.array([9]), np.array([1])).tolist() == [2.0]


def test_running_mean_std_state_and_clipping():
    stats = RunningMeanStd((2,), epsilon=1e-4)
    assert stats.count == 1e-4 and stats.mean.dtype == np.float64 and stats.var.tolist() == [1.0, 1.0]
    stats.update(np.array([[0.0, 2.0], [2.0, 4.0]], np.float32))
    np.testing.assert_array_equal(stats.normalize(np.array([[1e6, -1e6]]), clip=5.0), [[5.0, -5.0]])
    assert stats.normalize(np.zeros((1, 2)), clip=5.0).dtype == np.float32
    state = stats.state()
    copy = RunningMeanStd((2,))
    copy.load_state(state)
    assert copy.count == stats.count and np.array_equal(copy.mean, stats.mean) and np.array_equal(copy.var, stats.var)
    state["mean"][0] = 99.0  # the state is a copy, not a view of the statistics
    assert copy.mean[0] != 99.0 and stats.mean[0] != 99.0
    with pytest.raises(ValueError, match=r"running statistics of shape \(3,\), expected \(2,\)"):
        copy.load_state({"mean": np.zeros(3), "var": np.ones(3), "count": 1.0})
    with pytest.raises(ValueError, match="running statistics"):
        copy.load_state({"mean": np.zeros(2), "var": np.ones(3), "count": 1.0})  # only the variance is off
    scalar = RunningMeanStd()
    scalar.update(np.array([[1.0, 3.0]]))  # scalars are read flat, whatever the shape
    assert scalar.count == 2 and scalar.mean == 2.0 and scalar.var == 1.0


def test_merged_statistics_are_those_of_every_row_seen_in_one_stream():
    rng = np.random.default_rng(0)
    parts = [rng.normal(size=(n, 3)) * (i + 1) + i for i, n in enumerate((5, 1, 40))]
    one, merged = RunningMeanStd((3,), epsilon=1e-4), RunningMeanStd((3,), epsilon=1e-4)
    for part in parts:
        one.update(part)
        seen = RunningMeanStd((3,))  # what a rollout worker sends: counted from zero
        seen.update(part[:2])
        seen.update(part[2:])
        merged.merge(seen)
    np.testing.assert_allclose(merged.mean, one.mean, rtol=1e-12)
    np.testing.assert_allclose(merged.var, one.var, rtol=1e-12)
    assert merged.count == pytest.approx(one.count)
    before = merged.state()
    merged.merge(RunningMeanStd((3,)))  # nothing seen changes nothing
    assert merged.count == before["count"] and np.array_equal(merged.mean, before["mean"])


def test_reward_standardizer_and_bounded_transform_follow_their_statistics():
    standardizer = RewardStandardizer(epsilon=1e-8)
    np.testing.assert_allclose(standardizer(np.array([1, 3])), [-1.0, 1.0], rtol=1e-6)  # integer rewards are fine
    standardizer.update = False
    np.testing.assert_allclose(standardizer(np.array([5.0])), [3.0], rtol=1e-6)
    assert standardizer.stats.count == 2
    bounded = BoundedTransform("running", scale=2.0)
    np.testing.assert_allclose(bounded(np.array([0, 4])), 1 / (1 + np.exp(-np.array([-1.0, 1.0]))))


def test_episode_counts_keep_envs_apart_and_check_their_inputs():
    counts = EpisodeCounts(1, beta=1.0)
    rewards, seen = counts(np.ones(3), ["a", "a", "b"], rows=[0, 2, 2])
    assert seen.tolist() == [1, 1, 1] and len(counts.counts) == 3  # env 2 was new: the table grew to hold it
    rewards, seen = counts(np.ones(2), ["a", "a"], rows=[2, 2], done=[True, False])
    assert seen.tolist() == [2, 1] and rewards.tolist() == [0.5, 1.0]  # the done row ends env 2's episode
    counts.reset_envs(np.array([False, False, True, True, True]))  # envs it never saw are no error
    assert counts.counts[2] == {}
    with pytest.raises(ValueError):
        counts(np.ones(2), ["a"], rows=[0, 1])  # keys and rows must match


def test_count_keys_are_hashable_for_any_observation():
    obs = {"b": [np.array([1, 2]), 3], "a": np.array([[1.0]])}
    key = default_count_key(obs, {})
    assert hash(key) == hash(default_count_key({"a": np.array([[1.0]]), "b": [np.array([1, 2]), 3]}, {}))
    assert default_count_key(obs, {"message": np.frombuffer(b"hi", np.uint8)}) != key
    assert default_count_key(np.int64(3), {}) == 3
    assert default_count_key({"a": 1}, {}) != default_count_key({"a": 2}, {})  # values count, not just keys
    assert default_count_key([1, 2], {}) != default_count_key([1, 3], {})


@pytest.mark.parametrize("text", ["None", "none", "NULL", "null"])
def test_none_values(text):
    assert parse_value(text) is None


def test_spec_errors_say_what_was_given():
    with pytest.raises(TypeError, match="a reward spec is a str, got int"):
        spec_module.parse_reward_spec(3)
    with pytest.raises(TypeError, match="make_reward takes a spec str or a reward model, got int"):
        make_reward(3)
    with pytest.raises(ValueError, match=r"\(a positional argument cannot contain '='\)"):
        make_reward("constant:a b=1")
    with pytest.raises(TypeError, match="reward factory for 'x' must be callable or a 'module:attr' str"):
        spec_module.register_reward("x", 3)
    with pytest.raises(ValueError, match="python reward expects 'package.module:attr', got 3"):
        spec_module._python_reward(3)
    with pytest.raises(ValueError, match="'numpy:pi' is a float, not a class or factory"):
        make_reward("python:numpy:pi")
    registry = spec_module.REWARDS.copy()
    registry.register("number", lambda: 3)
    original, spec_module.REWARDS = spec_module.REWARDS, registry
    try:
        with pytest.raises(TypeError, match="reward 'number' built a int, which is not callable"):
            make_reward("number")
    finally:
        spec_module.REWARDS = original


def test_python_rewards_pass_options_and_name_their_target():
    with pytest.raises(ValueError, match=r"bad arguments for reward 'python:rewardgym.rewards.spec:ConstantReward'"):
        make_reward("python:rewardgym.rewards.spec:ConstantReward;volume=2")
    assert make_reward("python:rewardgym.rewards.spec:ConstantReward;value=2")(_batch(2)).tolist() == [2.0, 2.0]
    assert make_reward("constant:value=2").close() is None  # a no-op close
    close_model(lambda batch: batch)  # a model without close() is fine


def test_vector_infos_reads_masks_nested_dicts_and_lists():
    info = {"a": np.array([1, 2]), "_a": np.array([True, False]), "final": {"b": np.array([3.0, 4.0])},
            "names": ["x", "y"], "_names": np.array([True, True]), "shared": "all"}
    infos = VectorInfos(info, 2)
    assert infos[0] == {"a": 1, "final": {"b": 3.0}, "names": "x", "shared": "all"}
    assert infos[-1] == {"final": {"b": 4.0}, "names": "y", "shared": "all"}
    assert infos[0:2] == [infos[0], infos[1]] and len(infos) == 2
