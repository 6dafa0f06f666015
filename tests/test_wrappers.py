"""Reward wrappers: the maths, and single-env == vector-env step for step."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardgym import wrappers
from rewardgym.reward_models import Transitions, make_reward
from rewardgym.wrappers import vector
from rewardgym.rewards.transforms import sigmoid

NEXT, SAME, DISABLED = AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, AutoresetMode.DISABLED


# --- small deterministic envs ------------------------------------------------------------------


class LineWorld(gym.Env):
    """A walker on cells ``0..size-1``; reaching the last cell terminates.

    obs: Box(2,) float32 ``[cell, steps taken]``; actions: Discrete(3) move −1, 0, +1.
    reward: 1 at the goal, else −0.1 plus seeded noise; ``info["message"]`` names the cell.
    Truncated after ``max_steps``. Frames are ``(6, 8, 3)`` with the walker's column lit.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, size: int = 4, max_steps: int = 6, render_mode: str | None = None) -> None:
        self.size, self.max_steps, self.render_mode = size, max_steps, render_mode
        self.observation_space = gym.spaces.Box(0, max(size, max_steps), (2,), np.float32)
        self.action_space = gym.spaces.Discrete(3)

    def _obs(self) -> np.ndarray:
        return np.array([self.cell, self.t], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.cell, self.t = int(self.np_random.integers(0, self.size - 1)), 0
        return self._obs(), {"task": "reach the last cell"}

    def step(self, action):
        self.cell = int(np.clip(self.cell + int(action) - 1, 0, self.size - 1))
        self.t += 1
        terminated = self.cell == self.size - 1
        reward = 1.0 if terminated else -0.1 + 0.05 * float(self.np_random.standard_normal())
        info = {"message": f"cell {self.cell}", "success": terminated}
        return self._obs(), reward, terminated, self.t >= self.max_steps, info

    def render(self):
        frame = np.zeros((6, 8, 3), dtype=np.uint8)
        frame[:, self.cell] = 255
        return frame


class ScriptedMessages(gym.Env):
    """Emits ``script[t]`` as ``info["message"]`` with reward 2; terminates at the end."""

    observation_space = gym.spaces.Discrete(1)
    action_space = gym.spaces.Discrete(1)

    def __init__(self, script=("a", "b", "a", "a", "b", "c")) -> None:
        self.script = script

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return 0, {}

    def step(self, action):
        message = self.script[self.t]
        self.t += 1
        return 0, 2.0, self.t == len(self.script), False, {"message": message}


class NoisyReward(gym.Env):
    """Reward ~ N(5, 3²) from the env's seeded RNG; truncated every 50 steps."""

    observation_space = gym.spaces.Box(-1, 1, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        reward = 5.0 + 3.0 * float(self.np_random.standard_normal())
        return np.zeros(1, np.float32), reward, False, self.t >= 50, {}


# --- reward models and potentials used by the tests --------------------------------------------


class TransitionModel:
    """Depends on s, a, s′, terminated and the step info, so a wrong field shows up."""

    needs_frames = False

    def __init__(self) -> None:
        self.batch_sizes: list[int] = []

    def __call__(self, batch: Transitions) -> np.ndarray:
        self.batch_sizes.append(len(batch))
        # Step infos carry a message; reset infos do not, so scoring one raises KeyError.
        message_len = np.array([len(info["message"]) for info in batch.infos], dtype=np.float64)
        return (
            batch.next_obs[:, 0]
            - 0.5 * batch.obs[:, 0]
            + 0.01 * np.asarray(batch.action)
            + 0.25 * batch.terminated
            + 0.125 * batch.truncated
            + 0.001 * message_len
        ).astype(np.float32)


class FrameModel:
    """Reads the walker's cell off the frame of s′."""

    needs_frames = True

    def __init__(self) -> None:
        self.frame_shapes: list[tuple[int, ...]] = []

    def __call__(self, batch: Transitions) -> np.ndarray:
        assert batch.frames is not None and batch.frames.dtype == np.uint8
        self.frame_shapes.append(batch.frames.shape)
        return batch.frames[:, 0, :, 0].argmax(axis=1).astype(np.float32)


def cell_potential(obs: np.ndarray, infos) -> np.ndarray:
    return 0.3 * obs[:, 0] + 0.01 * obs[:, 1] ** 2


# --- single == vector harness ----------------------------------------------------------------


def run_single(make_env, wrap, n: int, seed: int, actions: np.ndarray, mode: AutoresetMode):
    """N single envs driven the way a vector env with ``mode`` drives its sub-envs.

    Returns ``(rewards, infos)`` of shape ``(T, n)``; NaN / None marks NEXT_STEP reset steps.
    """
    envs = [wrap(make_env()) for _ in range(n)]
    for i, env in enumerate(envs):
        env.reset(seed=seed + i)
    rewards = np.full(actions.shape, np.nan)
    infos = [[None] * n for _ in range(len(actions))]
    pending_reset = [False] * n
    for t, step_actions in enumerate(actions):
        for i, env in enumerate(envs):
            if pending_reset[i]:
                env.reset()
                pending_reset[i] = False
                continue
            _, reward, terminated, truncated, info = env.step(step_actions[i])
            rewards[t, i], infos[t][i] = reward, info
            if terminated or truncated:
                if mode == NEXT:
                    pending_reset[i] = True
                else:
                    env.reset()
    return rewards, infos


def run_vector(make_env, wrap, n, seed, actions, mode, copy=True):
    env = wrap(SyncVectorEnv([make_env] * n, autoreset_mode=mode, copy=copy))
    env.reset(seed=seed)
    rewards, infos = [], []
    for step_actions in actions:
        _, reward, terminated, truncated, info = env.step(step_actions)
        rewards.append(reward)
        infos.append(info)
        done = terminated | truncated
        if mode == DISABLED and done.any():
            env.reset(options={"reset_mask": done})
    return np.array(rewards), infos, env


def assert_vector_matches_single(
    make_env, single_wrap, vector_wrap, n, seed, steps, mode, info_key=None
):
    actions = np.random.default_rng(seed).integers(0, 3, size=(steps, n))
    expected, single_infos = run_single(make_env, single_wrap, n, seed, actions, mode)
    got, vector_infos, env = run_vector(make_env, vector_wrap, n, seed, actions, mode)
    assert got.dtype == np.float64
    real = ~np.isnan(expected)
    np.testing.assert_array_equal(got[real], expected[real])
    np.testing.assert_array_equal(got[~real], 0.0)  # reset steps: Gymnasium's 0, untouched
    if mode == NEXT:
        assert (~real).sum() >= n, "the run should cross several episode boundaries"
    if info_key is not None:
        for t in range(steps):
            np.testing.assert_array_equal(vector_infos[t][f"_{info_key}"], real[t])
            for i in np.flatnonzero(real[t]):
                assert vector_infos[t][info_key][i] == single_infos[t][i][info_key]
            assert np.all(vector_infos[t][info_key][~real[t]] == 0)
    return got, real, env


def line_world():
    return LineWorld()


WRAPPERS: dict[str, tuple[Callable, Callable, str | None]] = {
    "learned-add": (
        lambda e: wrappers.LearnedReward(e, TransitionModel(), coef=0.7, env_coef=0.3),
        lambda v: vector.LearnedReward(v, TransitionModel(), coef=0.7, env_coef=0.3),
        "reward_learned",
    ),
    "learned-replace": (
        lambda e: wrappers.LearnedReward(e, TransitionModel(), mode="replace", coef=2.0),
        lambda v: vector.LearnedReward(v, TransitionModel(), mode="replace", coef=2.0),
        "reward_env",
    ),
    "shaping": (
        lambda e: wrappers.PotentialShaping(e, cell_potential, gamma=0.9),
        lambda v: vector.PotentialShaping(v, cell_potential, gamma=0.9),
        "shaping",
    ),
    "bounded": (
        lambda e: wrappers.BoundedReward(e, reference=-0.1, scale=0.5),
        lambda v: vector.BoundedReward(v, reference=-0.1, scale=0.5),
        None,
    ),
    "count-message": (
        lambda e: wrappers.CountDiscount(e, beta=2.0),
        lambda v: vector.CountDiscount(v, beta=2.0),
        "visit_count",
    ),
    "count-keyfn": (
        lambda e: wrappers.CountDiscount(e, key_fn=lambda obs, info: int(obs[0]), beta=3.0),
        lambda v: vector.CountDiscount(v, key_fn=lambda obs, info: int(obs[0]), beta=3.0),
        "visit_count",
    ),
    "stack": (
        lambda e: wrappers.CountDiscount(
            wrappers.PotentialShaping(wrappers.LearnedReward(e, TransitionModel()), cell_potential)
        ),
        lambda v: vector.CountDiscount(
            vector.PotentialShaping(vector.LearnedReward(v, TransitionModel()), cell_potential)
        ),
        "reward_learned",
    ),
}


@pytest.mark.parametrize("mode", [NEXT, SAME, DISABLED], ids=lambda m: m.name)
@pytest.mark.parametrize("name", list(WRAPPERS))
def test_vector_matches_single_envs(name, mode):
    single_wrap, vector_wrap, info_key = WRAPPERS[name]
    assert_vector_matches_single(line_world, single_wrap, vector_wrap, 3, 11, 40, mode, info_key)


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(list(WRAPPERS)),
    mode=st.sampled_from([NEXT, SAME]),
    n=st.integers(1, 4),
    seed=st.integers(0, 10_000),
    steps=st.integers(1, 30),
)
def test_vector_matches_single_property(name, mode, n, seed, steps):
    single_wrap, vector_wrap, info_key = WRAPPERS[name]
    actions = np.random.default_rng(seed).integers(0, 3, size=(steps, n))
    expected, _ = run_single(line_world, single_wrap, n, seed, actions, mode)
    got, _, _ = run_vector(line_world, vector_wrap, n, seed, actions, mode)
    real = ~np.isnan(expected)
    np.testing.assert_array_equal(got[real], expected[real])
    np.testing.assert_array_equal(got[~real], 0.0)


@pytest.mark.parametrize("mode", [NEXT, SAME], ids=lambda m: m.name)
@pytest.mark.parametrize("wrapper", ["normalize", "bounded-running"])
def test_running_statistics_match_single_env(wrapper, mode):
    """One vector env of 1 equals one single env exactly; with N envs the shared statistics
    are not N independent ones, so compare with them frozen at the same values."""
    if wrapper == "normalize":
        single, vec = wrappers.NormalizeReward, vector.NormalizeReward
        kwargs: dict = {}
    else:
        single, vec = wrappers.BoundedReward, vector.BoundedReward
        kwargs = {"reference": "running", "scale": 0.3}
    assert_vector_matches_single(
        line_world, lambda e: single(e, **kwargs), lambda v: vec(v, **kwargs), 1, 3, 60, mode
    )

    def frozen(wrapped):
        stats_owner = wrapped.standardizer if wrapper == "normalize" else wrapped.transform
        stats_owner.stats.mean, stats_owner.stats.var, stats_owner.stats.count = -0.05, 0.2, 100
        stats_owner.update = False
        return wrapped

    assert_vector_matches_single(
        line_world,
        lambda e: frozen(single(e, **kwargs)),
        lambda v: frozen(vec(v, **kwargs)),
        3,
        5,
        40,
        mode,
    )


# --- LearnedReward ---------------------------------------------------------------------------


class PoleAngleModel:
    needs_frames = False

    def __call__(self, batch: Transitions) -> np.ndarray:
        return -np.abs(batch.next_obs[:, 2]).astype(np.float32)


@pytest.mark.parametrize("mode", ["add", "replace"])
def test_learned_reward_add_and_replace(mode):
    env = wrappers.LearnedReward(
        gym.make("CartPole-v1"), PoleAngleModel(), mode=mode, coef=2.0, env_coef=0.5
    )
    env.reset(seed=0)
    for action in [0, 1, 1, 0, 0]:
        obs, reward, _, _, info = env.step(action)
        learned = float(np.float32(-abs(obs[2])))
        assert info["reward_env"] == 1.0
        assert info["reward_learned"] == learned
        assert reward == (0.5 * 1.0 + 2.0 * learned if mode == "add" else 2.0 * learned)
        assert isinstance(reward, float)


def test_learned_reward_from_spec_and_bad_mode():
    env = wrappers.LearnedReward(gym.make("CartPole-v1"), "constant:value=1", mode="replace")
    env.reset(seed=1)
    total, done = 0.0, False
    steps = 0
    while not done:
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        total, steps, done = total + reward, steps + 1, terminated or truncated
    assert total == steps
    with pytest.raises(ValueError, match="mode must be 'add' or 'replace'"):
        wrappers.LearnedReward(gym.make("CartPole-v1"), PoleAngleModel(), mode="mul")
    with pytest.raises(ValueError, match="unknown reward"):
        wrappers.LearnedReward(gym.make("CartPole-v1"), "no-such-reward")


def test_learned_reward_checks_model_output_shape():
    class WrongShape:
        needs_frames = False

        def __call__(self, batch):
            return np.zeros((len(batch), 2), np.float32)

    env = wrappers.LearnedReward(gym.make("CartPole-v1"), WrongShape())
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"returned shape \(1, 2\) for a batch of 1"):
        env.step(0)


def test_vector_learned_reward_scores_only_real_transitions():
    model = TransitionModel()
    got, real, env = assert_vector_matches_single(
        line_world,
        lambda e: wrappers.LearnedReward(e, TransitionModel()),
        lambda v: vector.LearnedReward(v, model),
        4,
        2,
        30,
        NEXT,
        "reward_learned",
    )
    # One model call per step, holding exactly that step's real transitions.
    assert model.batch_sizes == [int(r.sum()) for r in real if r.any()]
    assert min(model.batch_sizes) < 4


def test_vector_learned_reward_keeps_its_own_copy_of_s():
    # With copy=False the vector env hands out one buffer and overwrites it every step.
    actions = np.random.default_rng(0).integers(0, 3, size=(30, 3))
    expected, _ = run_single(line_world, WRAPPERS["learned-add"][0], 3, 0, actions, NEXT)
    got, _, _ = run_vector(line_world, WRAPPERS["learned-add"][1], 3, 0, actions, NEXT, copy=False)
    real = ~np.isnan(expected)
    np.testing.assert_array_equal(got[real], expected[real])


def test_frames_reach_models_that_need_them():
    make = lambda: LineWorld(render_mode="rgb_array")  # noqa: E731
    model = FrameModel()
    env = wrappers.LearnedReward(make(), model, mode="replace")
    env.reset(seed=0)
    for action in [2, 0, 1, 2]:
        obs, reward, terminated, truncated, _ = env.step(action)
        assert reward == obs[0]  # the frame shows s′
        if terminated or truncated:
            env.reset()
    assert set(model.frame_shapes) == {(1, 6, 8, 3)}

    vector_model = FrameModel()
    got, real, _ = assert_vector_matches_single(
        make,
        lambda e: wrappers.LearnedReward(e, FrameModel(), mode="replace"),
        lambda v: vector.LearnedReward(v, vector_model, mode="replace"),
        3,
        4,
        25,
        NEXT,
        "reward_learned",
    )
    batch_sizes = [shape[0] for shape in vector_model.frame_shapes]
    assert batch_sizes == [int(r.sum()) for r in real if r.any()]
    assert {shape[1:] for shape in vector_model.frame_shapes} == {(6, 8, 3)}


def test_frames_need_rgb_array_and_next_step_autoreset():
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        wrappers.LearnedReward(LineWorld(), FrameModel())
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        vector.LearnedReward(SyncVectorEnv([line_world] * 2), FrameModel())
    same_step = SyncVectorEnv([lambda: LineWorld(render_mode="rgb_array")] * 2, autoreset_mode=SAME)
    with pytest.raises(ValueError, match="SAME_STEP"):
        vector.LearnedReward(same_step, FrameModel())


# --- PotentialShaping ------------------------------------------------------------------------


def cart_potential(obs, infos):
    return 10.0 * obs[:, 2].astype(np.float64) + obs[:, 0] ** 2


def _shaped_episode(gamma: float, seed: int, max_episode_steps: int | None = None):
    """Step a raw and a shaped CartPole in lockstep through one episode."""
    kwargs = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
    raw = gym.make("CartPole-v1", **kwargs)
    shaped = wrappers.PotentialShaping(gym.make("CartPole-v1", **kwargs), cart_potential, gamma)
    obs, _ = raw.reset(seed=seed)
    shaped_obs, _ = shaped.reset(seed=seed)
    np.testing.assert_array_equal(obs, shaped_obs)
    rng = np.random.default_rng(seed)
    states, raw_rewards, shaped_rewards, terminals, bonuses = [obs], [], [], [], []
    done = False
    while not done:
        action = int(rng.integers(2))
        obs, reward, terminated, truncated, _ = raw.step(action)
        _, shaped_reward, _, _, info = shaped.step(action)
        states.append(obs)
        raw_rewards.append(reward)
        shaped_rewards.append(shaped_reward)
        terminals.append(terminated)
        bonuses.append(info["shaping"])
        done = terminated or truncated
    phi = cart_potential(np.array(states), None)
    arrays = [np.array(x) for x in (raw_rewards, shaped_rewards, terminals, bonuses)]
    return (phi, *arrays)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_potential_shaping_adds_exactly_the_shaping_terms(seed):
    gamma = 0.99
    phi, raw, shaped, terminal, bonuses = _shaped_episode(gamma, seed)
    terms = gamma * (1.0 - terminal) * phi[1:] - phi[:-1]
    np.testing.assert_array_equal(bonuses, terms)  # info["shaping"] is the exact term
    np.testing.assert_allclose(shaped - raw, terms, rtol=0, atol=1e-12)
    assert shaped.sum() - raw.sum() == pytest.approx(terms.sum(), abs=1e-12)


@pytest.mark.parametrize("seed", [0, 5])
def test_potential_shaping_telescopes_with_gamma_one(seed):
    phi, raw, shaped, terminal, _ = _shaped_episode(1.0, seed)
    assert terminal[-1], "a random CartPole episode ends by falling"
    assert shaped.sum() - raw.sum() == pytest.approx(-phi[0], abs=1e-9)


def test_potential_shaping_keeps_next_potential_on_truncation():
    phi, raw, shaped, terminal, _ = _shaped_episode(0.9, seed=3, max_episode_steps=3)
    assert len(raw) == 3 and not terminal.any()
    assert shaped[-1] - raw[-1] == pytest.approx(0.9 * phi[-1] - phi[-2], abs=1e-12)
    assert phi[-1] != 0.0


def test_potential_shaping_restarts_at_each_episode():
    env = wrappers.PotentialShaping(LineWorld(), cell_potential, gamma=1.0)
    for seed in [0, 1]:
        obs, _ = env.reset(seed=seed)
        start = cell_potential(obs[None], None)[0]
        total_bonus, done = 0.0, False
        while not done:
            obs, _, terminated, truncated, info = env.step(2)
            total_bonus += info["shaping"]
            done = terminated or truncated
        assert total_bonus == pytest.approx(-start, abs=1e-6)  # the walker reaches the goal


# --- CountDiscount ---------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [3.0, 1.5])
def test_count_discount_divides_by_count_power(beta):
    env = wrappers.CountDiscount(ScriptedMessages(), beta=beta)
    for _ in range(2):  # the counts restart with the episode
        env.reset()
        rewards, counts = [], []
        for _ in range(6):
            _, reward, *_, info = env.step(0)
            rewards.append(reward)
            counts.append(info["visit_count"])
        assert counts == [1, 1, 2, 3, 2, 1]
        expected = [2.0, 2.0, 2.0 / 2**beta, 2.0 / 3**beta, 2.0 / 2**beta, 2.0]
        np.testing.assert_allclose(rewards, expected)


def test_count_discount_default_key_uses_observation_without_message():
    class Stay(gym.Env):
        observation_space = gym.spaces.Box(0, 1, (2,), np.float32)
        action_space = gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            return np.zeros(2, np.float32), {}

        def step(self, action):
            return np.full(2, action, np.float32), 1.0, False, False, {}

    env = wrappers.CountDiscount(Stay())
    env.reset()
    rewards = [env.step(action)[1] for action in [0, 0, 1, 0, 1]]
    np.testing.assert_allclose(rewards, [1.0, 1 / 8, 1.0, 1 / 27, 1 / 8])


def test_vector_count_discount_restarts_counts_after_autoreset():
    env = vector.CountDiscount(SyncVectorEnv([ScriptedMessages] * 2))
    env.reset(seed=0)
    counts = []
    for _ in range(8):
        _, reward, _, _, info = env.step(np.zeros(2, dtype=np.int64))
        counts.append(info["visit_count"][0] if info["_visit_count"][0] else None)
    assert counts == [1, 1, 2, 3, 2, 1, None, 1]


# --- NormalizeReward and BoundedReward ---------------------------------------------------------


def test_normalize_reward_standardises_with_running_statistics():
    env = wrappers.NormalizeReward(NoisyReward())
    raw_env = NoisyReward()
    env.reset(seed=7)
    raw_env.reset(seed=7)
    raw, out = [], []
    for _ in range(3000):
        _, reward, _, truncated, _ = env.step(0)
        raw.append(raw_env.step(0)[1])
        out.append(reward)
        if truncated:
            env.reset()
            raw_env.reset()
    raw, out = np.array(raw), np.array(out)
    t = np.arange(1, len(raw) + 1)
    running_mean = np.cumsum(raw) / t
    running_var = np.cumsum(raw**2) / t - running_mean**2
    np.testing.assert_allclose(out, (raw - running_mean) / np.sqrt(running_var + 1e-8), atol=1e-6)
    late = out[500:]
    assert abs(late.mean()) < 0.1 and abs(late.std() - 1.0) < 0.1


def test_normalize_reward_uncentred_and_frozen():
    env = wrappers.NormalizeReward(NoisyReward(), center=False)
    env.reset(seed=1)
    out = []
    for _ in range(1000):
        _, reward, _, truncated, _ = env.step(0)
        out.append(reward)
        if truncated:
            env.reset()
    assert np.mean(out[200:]) == pytest.approx(5 / 3, rel=0.1)  # r/σ: not centred
    env.update_running_mean = False
    stats = env.standardizer.stats
    frozen = (stats.mean, stats.var, stats.count)
    _, reward, *_ = env.step(0)
    assert (stats.mean, stats.var, stats.count) == frozen
    assert np.isfinite(reward)


def test_vector_normalize_reward_pools_all_envs():
    env = vector.NormalizeReward(SyncVectorEnv([NoisyReward] * 4))
    raw_env = SyncVectorEnv([NoisyReward] * 4)
    env.reset(seed=3)
    raw_env.reset(seed=3)
    seen: list[float] = []
    for _ in range(120):  # crosses the truncation at step 50: reset steps give 0, unscored
        _, reward, terminated, truncated, _ = env.step(np.zeros(4, dtype=np.int64))
        raw = raw_env.step(np.zeros(4, dtype=np.int64))[1]
        real = raw != 0.0
        seen.extend(raw[real])
        stats = np.array(seen)
        expected = (raw[real] - stats.mean()) / np.sqrt(stats.var() + 1e-8)
        np.testing.assert_allclose(reward[real], expected, atol=1e-9)
        np.testing.assert_array_equal(reward[~real], 0.0)
    assert len(seen) < 120 * 4


def test_bounded_reward_is_sigmoid_of_centred_reward():
    env = wrappers.BoundedReward(NoisyReward(), reference=5.0, scale=2.0)
    raw_env = NoisyReward()
    env.reset(seed=0)
    raw_env.reset(seed=0)
    raw = np.array([raw_env.step(0)[1] for _ in range(40)])
    out = np.array([env.step(0)[1] for _ in range(40)])
    np.testing.assert_allclose(out, 1.0 / (1.0 + np.exp(-(raw - 5.0) / 2.0)), rtol=1e-12)
    assert np.all((out > 0) & (out < 1))

    running = wrappers.BoundedReward(NoisyReward(), reference="running")
    running.reset(seed=0)
    out = np.array([running.step(0)[1] for _ in range(40)])
    reference = np.cumsum(raw) / np.arange(1, 41)
    np.testing.assert_allclose(out, 1.0 / (1.0 + np.exp(-(raw - reference))), rtol=1e-12)
    with pytest.raises(ValueError, match="'running'"):
        wrappers.BoundedReward(NoisyReward(), reference="median")


def test_sigmoid_is_stable_at_extremes():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        values = sigmoid(np.array([-1e4, -30.0, 0.0, 30.0, 1e4]))
    assert values[2] == 0.5 and values[0] == 0.0 and values[-1] == 1.0
    assert 0 < values[1] < 1e-12 and 1 - 1e-12 < values[3] < 1


# --- vector plumbing -------------------------------------------------------------------------


def test_vector_wrappers_accept_spec_strings_and_keep_float_dtype():
    # CartPole's native vector env returns float32 rewards: the wrapper keeps that dtype.
    env = vector.LearnedReward(gym.make_vec("CartPole-v1", num_envs=3), "constant:value=0.25")
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.zeros(3, dtype=np.int64))
    assert reward.dtype == np.float32 and np.all(reward == 1.25)
    env = vector.LearnedReward(SyncVectorEnv([line_world] * 2), make_reward("constant:value=0.25"))
    env.reset(seed=0)
    assert env.step(np.zeros(2, dtype=np.int64))[1].dtype == np.float64
    assert np.all(info["reward_learned"] == 0.25) and info["_reward_learned"].all()


def test_vector_full_reset_clears_pending_autoreset():
    env = vector.LearnedReward(SyncVectorEnv([ScriptedMessages] * 2), "constant:value=1")
    env.reset(seed=0)
    for _ in range(6):
        _, reward, terminated, *_ = env.step(np.zeros(2, dtype=np.int64))
    assert terminated.all()
    env.reset(seed=1)  # a full reset: the next step is a real transition again
    _, reward, _, _, info = env.step(np.zeros(2, dtype=np.int64))
    assert info["_reward_learned"].all() and np.all(reward == 3.0)


def test_reward_wrappers_keep_the_model_itself_not_a_copy():
    """A learned reward may hold gigabytes of weights: the wrappers record it without a deep copy."""
    from rewardgym.wrappers import LearnedReward, PotentialShaping
    from rewardgym.wrappers.vector import LearnedReward as VectorLearnedReward

    class Uncopyable:
        needs_frames = False

        def __deepcopy__(self, memo):
            raise AssertionError("the model was deep-copied")

        def __call__(self, batch, infos=None, frames=None):
            return np.zeros(len(batch) if infos is None else len(infos), np.float32)

    model = Uncopyable()
    env = LearnedReward(gym.make("rewardgym/Bandit-Bernoulli5-v0"), model)
    assert env.model is model
    assert PotentialShaping(gym.make("rewardgym/Bandit-Bernoulli5-v0"), model).potential is model
    vec = VectorLearnedReward(gym.make_vec("rewardgym/Bandit-Bernoulli5-v0", num_envs=2), model)
    assert vec.model is model


def test_a_single_env_wrapper_given_a_vector_env_points_to_the_vector_one():
    from rewardgym.wrappers import LearnedReward, NormalizeReward

    envs = gym.make_vec("rewardgym/Bandit-Bernoulli5-v0", num_envs=2)
    with pytest.raises(TypeError, match="rewardgym.wrappers.vector.LearnedReward"):
        LearnedReward(envs, make_reward("constant:value=1"))
    with pytest.raises(TypeError, match="rewardgym.wrappers.vector.NormalizeReward"):
        NormalizeReward(envs)


# -- deferred scoring, ownership, unparsed text and saved state ------------------------------------------
class PreviousObsReward:
    """The reward shown in ``s``: it tells whether the wrapper paired each ``s′`` with the right ``s``."""

    needs_frames = False

    def __init__(self):
        self.calls, self.closed = 0, 0

    def __call__(self, batch):
        self.calls += 1
        return np.asarray(batch.obs["last_reward"], dtype=np.float64).reshape(len(batch)) + 1.0

    def close(self):
        self.closed += 1


def _bandits(n=3, horizon=5):
    return gym.make_vec("rewardgym/Bandit-Meta2-v0", num_envs=n, horizon=horizon)


def test_deferred_scoring_equals_scoring_each_step():
    actions = np.random.default_rng(0).integers(0, 2, (13, 3))  # episodes of 5 pulls: autoreset steps inside
    now = vector.LearnedReward(_bandits(), PreviousObsReward(), mode="add", coef=2.0, env_coef=0.5)
    later_model = PreviousObsReward()
    later = vector.LearnedReward(_bandits(), later_model, mode="add", coef=2.0, env_coef=0.5, defer=True)
    now.reset(seed=4)
    later.reset(seed=4)
    expected, env_rewards, learned, scored = [], [], [], []
    for a in actions:
        _, r_now, _, _, info = now.step(a)
        _, r_env, _, _, info_later = later.step(a)
        expected.append(r_now)
        env_rewards.append(r_env)
        learned.append(info["reward_learned"])
        scored.append(info["_reward_learned"])
        np.testing.assert_array_equal(info_later["reward_env"], info["reward_env"])
        assert "reward_learned" not in info_later  # not scored yet
    assert later_model.calls == 0
    scores = later.flush()
    assert later_model.calls == 1  # the whole rollout in one call
    np.testing.assert_allclose(scores.total, np.stack(expected))
    np.testing.assert_allclose(scores.env, np.stack(env_rewards))
    np.testing.assert_allclose(scores.learned, np.stack(learned))
    np.testing.assert_array_equal(scores.scored, np.stack(scored))
    assert not scores.scored.all()  # the autoreset steps are no transitions
    assert later.flush().total.shape == (0, 3)  # nothing new since
    with pytest.raises(RuntimeError, match="defer=True"):
        now.flush()


def test_steps_recorded_side_by_side_score_as_one_vector_env():
    """Two vector envs' recorded steps, joined, score as the steps of one env of their rows together: the
    rows and env_ids of the second numbered after the first's (what PPO's learner does with its workers')."""
    def record(num_envs: int, seed: int) -> tuple[list, SyncVectorEnv]:
        env = vector.LearnedReward(SyncVectorEnv([lambda: gym.make("CartPole-v1")] * num_envs), _EnvIds(),
                                   defer=True)
        env.reset(seed=seed)
        for _ in range(30):  # episodes end (random CartPole lasts ~20 steps), so some steps are reset steps
            env.step(env.action_space.sample())
        return env.take(), env

    (first, a), (second, _) = record(3, 0), record(2, 3)
    whole = vector.LearnedReward(SyncVectorEnv([lambda: gym.make("CartPole-v1")] * 5), _EnvIds(), defer=True)
    joined = vector.join_recorded([first, second], [3, 2])
    assert len(joined) == 30 and a.take() == [] and a.flush().total.shape == (0, 3)  # take() forgot the steps
    scores = vector.score_recorded(whole.model, whole.mix, joined, 5)
    for t, (x, y) in enumerate(zip(first, second)):
        expected = np.concatenate([np.where(np.isin(range(3), x.rows), np.arange(3), 0),
                                   np.where(np.isin(range(2), y.rows), np.arange(3, 5), 0)])
        np.testing.assert_array_equal(scores.learned[t], expected)  # each row scored with its own env id
        np.testing.assert_array_equal(scores.env[t], np.concatenate([x.env_reward, y.env_reward]))
    assert not scores.scored.all() and scores.scored.any()
    with pytest.raises(ValueError, match="different numbers of steps"):
        vector.join_recorded([first, second[:-1]], [3, 2])


class _EnvIds:
    """A reward model that scores each transition with the env it came from."""

    def __call__(self, batch) -> np.ndarray:
        return np.arange(len(batch), dtype=np.float32) if batch.env_ids is None else batch.env_ids.astype(np.float32)


def test_a_deferred_wrapper_must_be_the_outermost_reward_wrapper():
    deferred = vector.LearnedReward(_bandits(), PreviousObsReward(), defer=True)
    assert vector.deferred_reward(deferred) is deferred
    assert vector.deferred_reward(_bandits()) is None
    assert vector.deferred_reward(vector.LearnedReward(_bandits(), PreviousObsReward())) is None
    with pytest.raises(ValueError, match="outermost"):
        vector.deferred_reward(vector.NormalizeReward(deferred))
    with pytest.raises(ValueError, match="each step's reward"):
        vector.refuse_deferred(deferred, "SB3")


def test_the_wrapper_closes_only_a_model_it_built():
    model = PreviousObsReward()
    env = vector.LearnedReward(_bandits(), model)
    env.close()
    assert model.closed == 0  # the caller's model: the caller closes it
    built = vector.LearnedReward(_bandits(), "constant:value=1")
    closes = []
    built.model.close = lambda: closes.append(1)
    built.close()
    assert closes == [1]


def test_unparsed_text_is_no_transition():
    envs = SyncVectorEnv([lambda: wrappers.TextInterface(gym.make("rewardgym/Bandit-Bernoulli2-v0"))
                          for _ in range(2)])
    seen = []

    class Texts:
        needs_frames = False

        def __call__(self, batch):
            seen.append(list(batch.action))
            return np.ones(len(batch))

    env = vector.LearnedReward(envs, Texts())
    env.reset(seed=0)
    _, reward, _, _, info = env.step(("arm 1", "what?"))
    assert seen == [["arm 1"]] and info["invalid_action"][1]
    np.testing.assert_array_equal(info["_reward_learned"], [True, False])
    assert reward[1] == 0.0
    _, _, _, _, info = env.step(("arm 0", None))  # no text at all: the turn passes
    assert seen[-1] == ["arm 0"] and info["invalid_action"][1]


@pytest.mark.parametrize("make_wrapper", [
    lambda env: vector.LearnedReward(env, PreviousObsReward()),
    lambda env: vector.LearnedReward(env, PreviousObsReward(), defer=True),
    lambda env: vector.PotentialShaping(env, lambda obs, infos: np.asarray(obs["last_reward"]).reshape(-1)),
    lambda env: vector.NormalizeReward(env),
])
@pytest.mark.parametrize("checkpoint", [5, 7])  # at an episode's end (autoreset pending), and inside one
def test_wrapper_state_continues_the_run_exactly(make_wrapper, checkpoint):
    actions = np.random.default_rng(1).integers(0, 2, (16, 3))

    def play(env, steps):
        out = []
        for a in steps:
            _, reward, _, _, info = env.step(a)
            out.append((reward.copy(), {k: np.array(v) for k, v in info.items() if k.startswith("reward")}))
        if getattr(env, "defer", False):
            out.append(env.flush().total)
        return out

    whole = make_wrapper(_bandits())
    whole.reset(seed=2)
    play(whole, actions[:checkpoint])
    wrapper_state = whole.get_wrapper_state()
    env_state = [whole.unwrapped.get_state(i) for i in range(3)]
    expected = play(whole, actions[checkpoint:])

    resumed = make_wrapper(_bandits())
    resumed.reset(seed=99)  # another start; the saved state replaces it
    for i, state in enumerate(env_state):
        resumed.unwrapped.set_state(i, state)
    resumed.set_wrapper_state(wrapper_state)
    got = play(resumed, actions[checkpoint:])
    for (r1, i1), (r2, i2) in zip(expected[:-1], got[:-1]):
        np.testing.assert_array_equal(r1, r2)
        assert i1.keys() == i2.keys() and all(np.array_equal(i1[k], i2[k]) for k in i1)
    np.testing.assert_array_equal(np.asarray(expected[-1][0] if isinstance(expected[-1], tuple) else expected[-1]),
                                  np.asarray(got[-1][0] if isinstance(got[-1], tuple) else got[-1]))


def test_count_discount_state_cannot_be_saved():
    with pytest.raises(NotImplementedError, match="cannot be saved"):
        vector.CountDiscount(_bandits()).get_wrapper_state()
