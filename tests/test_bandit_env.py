"""The bandit family against the env contract: checkers, vector == single, determinism, bad input."""

from __future__ import annotations

import pickle
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from contract import assert_vector_equals_single

import rewardgym
from rewardgym.envs.language import InvalidCommand
from rewardgym.wrappers.text import TextInterface

BANDIT_IDS = [i for i, e in rewardgym.ENV_IDS.items() if e.family == "Bandit"]


@pytest.mark.parametrize("env_id", BANDIT_IDS)
def test_gymnasium_and_sb3_checkers_pass(env_id):
    check_env(gym.make(env_id).unwrapped, skip_render_check=False)
    sb3_check_env(gym.make(env_id), warn=False)


def test_make_forms():
    assert gym.make("rewardgym/Bandit-Bernoulli10-v0").action_space == gym.spaces.Discrete(10)
    envs = gym.make_vec("rewardgym/Bandit-Bernoulli10-v0", num_envs=4096)
    obs, _ = envs.reset(seed=0)
    assert obs["last_arm"].shape == (4096, 10)
    obs, reward, terminated, truncated, info = envs.step(np.arange(4096) % 10)
    assert reward.shape == (4096,) and set(np.unique(reward)) <= {0.0, 1.0}
    assert info["regret"].shape == (4096,) and info["_regret"].all()


def test_make_with_module_prefix_needs_no_import():
    code = ("import gymnasium as gym; env = gym.make('rewardgym:rewardgym/Bandit-Bernoulli10-v0'); "
            "print(env.reset(seed=0)[0]['last_arm'].shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(10,)"


def test_import_is_light():
    code = ("import sys, rewardgym; "
            "print(sorted(m for m in ('torch', 'transformers', 'mujoco', 'numba') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_id_gives_gymnasium_error():
    with pytest.raises(gym.error.Error):
        gym.make("rewardgym/Bandit-Nope-v0")


# -- vector == N single envs ---------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(env_id=st.sampled_from(BANDIT_IDS), seed=st.integers(0, 2**31), num_envs=st.integers(1, 5),
       horizon=st.integers(1, 6), action_seed=st.integers(0, 1000))
def test_vector_equals_single(env_id, seed, num_envs, horizon, action_seed):
    n_arms = gym.make(env_id).action_space.n
    actions = np.random.default_rng(action_seed).integers(0, n_arms, size=(3 * horizon + 2, num_envs))
    assert_vector_equals_single(env_id, seed, actions, horizon=horizon)


def test_same_seed_same_trajectory_in_a_fresh_process():
    code = ("import gymnasium as gym, rewardgym; e = gym.make('rewardgym/Bandit-NonStationary10-v0'); "
            "e.reset(seed=7); print([e.step(a % 10)[1] for a in range(200)])")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    env = gym.make("rewardgym/Bandit-NonStationary10-v0")
    env.reset(seed=7)
    here = str([env.step(a % 10)[1] for a in range(200)])
    assert runs[0].strip() == runs[1].strip() == here
    env.reset(seed=8)
    assert str([env.step(a % 10)[1] for a in range(200)]) != here


def test_reset_without_seed_moves_to_a_new_instance():
    env = gym.make("rewardgym/Bandit-Bernoulli10-v0")
    env.reset(seed=3)
    first = env.unwrapped.core.state.means.copy()
    env.reset()
    assert not np.allclose(first, env.unwrapped.core.state.means)
    env.reset(seed=3)
    np.testing.assert_array_equal(first, env.unwrapped.core.state.means)


def test_instance_seed_pins_the_problem():
    env = gym.make("rewardgym/Bandit-Bernoulli10-v0", instance_seed=11)
    env.reset(seed=0)
    first = env.unwrapped.core.state.means.copy()
    env.reset(seed=1)
    np.testing.assert_array_equal(first, env.unwrapped.core.state.means)


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize("action", [10, -1, 2.5, "3", None, np.array([1, 2])])
def test_invalid_action_raises_naming_the_space(action):
    env = gym.make("rewardgym/Bandit-Bernoulli10-v0").unwrapped
    env.reset(seed=0)
    before = env.get_state()
    with pytest.raises(ValueError, match=r"Discrete\(10\)"):
        env.step(action)
    after = env.get_state()
    assert pickle.dumps(before) == pickle.dumps(after)


def test_invalid_vector_actions_raise_and_change_nothing():
    envs = gym.make_vec("rewardgym/Bandit-Bernoulli10-v0", num_envs=4)
    envs.reset(seed=0)
    before = [pickle.dumps(envs.get_state(i)) for i in range(4)]
    for bad in (np.array([0, 1, 2, 10]), np.array([0, 1, 2]), np.array([0.5, 1, 2, 3])):
        with pytest.raises(ValueError, match=r"MultiDiscrete"):
            envs.step(bad)
    assert [pickle.dumps(envs.get_state(i)) for i in range(4)] == before


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="n_arms"):
        gym.make("rewardgym/Bandit-Bernoulli10-v0", n_arms=1)
    with pytest.raises(ValueError, match="distribution"):
        gym.make("rewardgym/Bandit-Bernoulli10-v0", distribution="poisson")
    with pytest.raises(ValueError, match="seed"):
        gym.make("rewardgym/Bandit-Bernoulli10-v0").reset(seed=-1)
    with pytest.raises(ValueError, match="noise_std=0.5 does nothing with distribution='bernoulli'"):
        gym.make("rewardgym/Bandit-Bernoulli10-v0", noise_std=0.5)
    gym.make("rewardgym/Bandit-Gaussian10-v0", noise_std=0.5).close()  # Gaussian arms use it


# -- dynamics and metrics --------------------------------------------------------------------
def test_the_core_refuses_arms_it_lacks():
    """The step is compiled without bounds checks: the core itself refuses an arm past the last."""
    core = gym.make_vec("rewardgym/Bandit-Bernoulli5-v0", num_envs=3).unwrapped.core
    core.reset(np.ones(3, bool), np.arange(3, dtype=np.uint64))
    for actions in ([0, 1, 5], [-1, 0, 0], [0, 1]):
        with pytest.raises(ValueError, match=r"actions must be 3 ints in \[0, 5\)"):
            core.step(np.array(actions), np.ones(3, bool))
    assert core.state.t.tolist() == [0, 0, 0]  # nothing was pulled


def test_regret_and_end_of_episode_metrics():
    env = gym.make("rewardgym/Bandit-Bernoulli5-v0", horizon=10).unwrapped
    env.reset(seed=4)
    means = env.core.state.means[0].copy()
    worst, best = int(means.argmin()), int(means.argmax())
    total = 0.0
    for t in range(10):
        obs, r, term, trunc, info = env.step(worst)
        total += means.max() - means[worst]
        assert info["regret"] == pytest.approx(means.max() - means[worst])
        assert info["success"] is False
        assert ("suffix_failure" in info) == (t == 9)
    assert trunc and not term
    assert info["cumulative_regret"] == pytest.approx(total)
    assert info["suffix_failure"] is True and info["best_arm_fraction"] == 0.0

    env.reset(seed=4)
    for t in range(10):
        obs, r, term, trunc, info = env.step(best if t >= 5 else worst)
    assert info["suffix_failure"] is False and info["best_arm_fraction"] == pytest.approx(0.5)
    assert info["success"] is True


def test_meta_bandit_observes_its_history_and_terminates():
    env = gym.make("rewardgym/Bandit-Meta5-v0")
    obs, _ = env.reset(seed=0)
    assert obs["steps_left"][0] == 25 and not obs["counts"].any()
    rewards = {a: [] for a in range(5)}
    for t in range(25):
        arm = t % 3
        obs, r, term, trunc, _ = env.step(arm)
        rewards[arm].append(r)
    assert term and not trunc
    np.testing.assert_array_equal(obs["counts"], [len(rewards[a]) for a in range(5)])
    np.testing.assert_allclose(obs["mean_reward"][:3], [np.mean(rewards[a]) for a in range(3)], rtol=1e-6)


def test_nonstationary_means_drift_and_stay_in_unit_interval():
    env = gym.make("rewardgym/Bandit-NonStationary10-v0").unwrapped
    env.reset(seed=0)
    start = env.core.state.means.copy()
    for _ in range(1000):
        env.step(0)
        assert (env.core.state.means >= 0).all() and (env.core.state.means <= 1).all()
    assert np.abs(env.core.state.means - start).mean() > 0.05


def test_contextual_regret_follows_the_context():
    env = gym.make("rewardgym/Bandit-Contextual5-v0").unwrapped
    obs, _ = env.reset(seed=0)
    best_arms = set()
    for _ in range(50):
        theta = env.core.state.theta[0]
        expected = theta @ obs["context"].astype(np.float64)
        best_arms.add(int(expected.argmax()))
        obs, r, term, trunc, info = env.step(int(expected.argmax()))
        assert info["regret"] == pytest.approx(0.0, abs=1e-5) and info["success"]
    assert len(best_arms) > 1  # the best arm changes with the context


def test_get_state_set_state_round_trip():
    env = gym.make("rewardgym/Bandit-Gaussian10-v0").unwrapped
    env.reset(seed=5)
    for a in range(7):
        env.step(a)
    snapshot = pickle.loads(pickle.dumps(env.get_state()))
    future = [env.step(a % 10)[:2] for a in range(20)]
    env.set_state(snapshot)
    again = [env.step(a % 10)[:2] for a in range(20)]
    assert str(future) == str(again)


def test_vector_reset_mask_resets_only_those_envs():
    envs = gym.make_vec("rewardgym/Bandit-Bernoulli10-v0", num_envs=3)
    envs.reset(seed=0)
    envs.step(np.array([1, 2, 3]))
    obs, _ = envs.reset(options={"reset_mask": np.array([True, False, False])})
    assert not obs["last_arm"][0].any() and obs["last_arm"][1, 2] == 1 and obs["last_arm"][2, 3] == 1


def test_ansi_render():
    env = gym.make("rewardgym/Bandit-Bernoulli5-v0", render_mode="ansi")
    env.reset(seed=0)
    env.step(2)
    text = env.render()
    assert "arm  2:     1 pulls" in text and "pull 1/1000" in text


# -- language interface ----------------------------------------------------------------------
@given(arm=st.integers(0, 9), form=st.sampled_from(["{}", "arm {}", "pull {}", "Pull arm #{}.", "  ARM {}  ",
                                                       "<answer>{}</answer>", "I pick... <answer>arm {}</answer>"]))
def test_text_actions_parse(arm, form):
    env = gym.make("rewardgym/Bandit-Bernoulli10-v0").unwrapped
    env.reset(seed=0)
    assert env.text_adapter.parse(form.format(arm)) == arm


@given(text=st.text(max_size=40))
def test_any_text_parses_or_gives_feedback(text):
    adapter = gym.make("rewardgym/Bandit-Bernoulli10-v0").unwrapped.text_adapter
    try:
        arm = adapter.parse(text)
    except InvalidCommand as feedback:
        assert str(feedback)
    else:
        assert 0 <= arm < 10


def test_text_interface_plays_and_invalid_text_changes_nothing():
    env = TextInterface(gym.make("rewardgym/Bandit-Bernoulli5-v0"))
    text, info = env.reset(seed=0)
    assert "5 arms" in text and "arm 2" in text and info["task"]
    text, reward, term, trunc, info = env.step("arm 3")
    assert text.startswith("Arm 3 paid") and not info["invalid_action"]
    before = pickle.dumps(env.unwrapped.get_state())
    for bad in ("dance", "arm 9", "", "-1"):
        text, reward, term, trunc, info = env.step(bad)
        assert info["invalid_action"] and reward == 0.0 and not (term or trunc) and text == info["feedback"]
    assert pickle.dumps(env.unwrapped.get_state()) == before
    assert env.observation_space.contains(text)
