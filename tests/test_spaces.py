"""Spaces as JSON: every kind survives describe -> json -> rebuild exactly, int64 extremes included."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from gymnasium import spaces

from rewardgym.agents.spaces import describe_space, space_from_description

INT64 = np.iinfo(np.int64)


@pytest.mark.parametrize("space", [
    spaces.Box(INT64.min, INT64.max, (27,), np.int64),
    spaces.Box(np.array([0, -5, 3]), np.array([10, 5, INT64.max]), dtype=np.int64),
    spaces.Box(0, 255, (84, 84, 3), np.uint8),
    spaces.Box(0, 31, (24, 80), np.int8),
    spaces.Box(-np.inf, np.inf, (3,), np.float64),
    spaces.Box(np.array([-1.0, 0.5]), np.array([1.0, np.inf]), dtype=np.float32),
    spaces.Discrete(5, start=2),
    spaces.MultiDiscrete([3, 4, 5]),
    spaces.MultiBinary([2, 3]),
    spaces.Dict({"a": spaces.Box(0, 63, (21, 79), np.int16), "b": spaces.Discrete(3)}),
    spaces.Text(8192, min_length=1, charset="abc \n\t!"),
])
def test_space_round_trips_through_json(space):
    description = json.loads(json.dumps(describe_space(space)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no lossy casts on the way back
        rebuilt = space_from_description(description)
    assert rebuilt == space
    if isinstance(space, spaces.Box):
        np.testing.assert_array_equal(rebuilt.low, space.low)
        np.testing.assert_array_equal(rebuilt.high, space.high)
        assert rebuilt.dtype == space.dtype


def test_integer_bounds_written_as_floats_still_load():
    description = {"type": "Box", "shape": [2], "dtype": "int64", "low": -9.223372036854776e18,
                   "high": 9.223372036854776e18}
    space = space_from_description(description)
    assert space.low[0] == INT64.min and space.high[0] == INT64.max
