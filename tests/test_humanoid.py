"""The humanoid pose env (the VLM-RM setting) against the env contract: checkers, determinism, state
clone/restore, pixels, the pose checks, stable physics, bad input and vector envs."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import rewardgym  # noqa: F401  (registers the ids)

ENV_ID = "rewardgym/Manip-HumanoidPose-v0"
# Positions and velocities are unbounded, as in Gymnasium's MuJoCo envs; the checker warns about it.
UNBOUNDED_BOX = "ignore:.*A Box observation space m"


def _actions(n, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, 17)).astype(np.float32)


def _rollout(env, seed, actions):
    obs, info = env.reset(seed=seed)
    observations, infos = [obs], [info]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        infos.append(info)
    return np.array(observations), infos


def _kneel(env):
    """Both knees on the floor with the shins folded back under an upright torso, set through qpos."""
    from rewardgym.envs.manipulation.humanoid import mujoco

    base = env.unwrapped
    model, data = base.model, base.data
    mujoco.mj_resetData(model, data)
    for side in ("right", "left"):
        data.qpos[model.joint(f"knee_{side}").qposadr[0]] = np.pi / 2
    mujoco.mj_forward(model, data)
    knee = min(data.xpos[model.body(f"shin_{side}").id, 2] for side in ("right", "left"))
    data.qpos[2] += 0.05 - knee  # the knee joints 5 cm up: the shin capsules (4.9 cm) touch the floor
    mujoco.mj_forward(model, data)


def test_registered_with_spaces_and_a_time_limit():
    env = gym.make(ENV_ID)
    assert rewardgym.ENV_IDS[ENV_ID].family == "Manip"
    assert env.spec.max_episode_steps == 100
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (17,), np.float32)
    assert env.observation_space.shape == (45,) and env.observation_space.dtype == np.float64
    obs, info = env.reset(seed=0)
    assert info["task"] == "a humanoid robot kneeling" and info["success"] is False
    assert 1.3 < info["head_height"] < 1.4 and info["torso_upright"] > 0.99
    pixels = gym.make(ENV_ID, obs_mode="state+pixels", width=48, height=40)
    assert pixels.observation_space["pixels"] == gym.spaces.Box(0, 255, (40, 48, 3), np.uint8)
    assert pixels.observation_space["observation"].shape == (45,)


@pytest.mark.filterwarnings(UNBOUNDED_BOX)
def test_gymnasium_and_sb3_checkers_pass():
    check_env(gym.make(ENV_ID, render_mode="rgb_array").unwrapped, skip_render_check=False)
    check_env(gym.make(ENV_ID, obs_mode="pixels", render_mode="rgb_array").unwrapped, skip_render_check=False)
    sb3_check_env(gym.make(ENV_ID).unwrapped, warn=False)


def test_same_seed_same_trajectory_and_different_seeds_differ():
    env = gym.make(ENV_ID)
    actions = _actions(30)
    first, first_infos = _rollout(env, 3, actions)
    again, again_infos = _rollout(gym.make(ENV_ID), 3, actions)
    np.testing.assert_array_equal(first, again)
    assert first_infos == again_infos
    other, _ = _rollout(env, 4, actions)
    assert not np.array_equal(first[0], other[0])  # the start pose noise comes from the seed
    assert not np.array_equal(first[-1], other[-1])


def test_reward_is_zero_and_the_episode_never_ends_before_the_time_limit():
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    for t, action in enumerate(_actions(100, seed=1)):
        obs, reward, terminated, truncated, info = env.step(action)
        assert reward == 0.0 and not terminated
        assert truncated == (t == 99)
        assert set(info) >= {"success", "task", "head_height", "torso_height", "knee_height", "torso_upright"}
    assert info["head_height"] < 1.0  # without a controller the humanoid has gone down, and nothing stopped it


def test_get_state_set_state_round_trip_continues_identically():
    env = gym.make(ENV_ID).unwrapped
    env.reset(seed=5)
    for action in _actions(10, seed=2):
        env.step(action)
    state = pickle.loads(pickle.dumps(env.get_state()))
    actions = _actions(15, seed=3)
    expected = [env.step(a) for a in actions]
    env.reset(seed=99)
    env.set_state(state)
    for a, (obs, *_, info) in zip(actions, expected):
        step = env.step(a)
        np.testing.assert_array_equal(step[0], obs)
        assert step[4] == info
    assert env.elapsed_steps == 25
    with pytest.raises(ValueError, match="does not fit"):
        env.set_state({**state, "physics": state["physics"][:-1]})


def test_pixels_show_the_humanoid_and_change_when_it_moves():
    env = gym.make(ENV_ID, obs_mode="pixels", render_mode="rgb_array")
    first, _ = env.reset(seed=0)
    assert first.shape == (64, 64, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(env.render(), first)
    red, blue = first[..., 0].astype(int), first[..., 2].astype(int)
    figure = red - blue > 60  # the orange humanoid against the grey floor and the pale blue sky
    assert 40 < figure.sum() < 0.5 * figure.size
    assert first.std() > 20
    for action in _actions(20, seed=4):
        obs, *_ = env.step(action)
    assert np.abs(obs.astype(int) - first).mean() > 2


def test_kneeling_check_holds_for_a_kneeling_pose_and_not_for_the_standing_start():
    from rewardgym.envs.manipulation.humanoid import POSES

    env = gym.make(ENV_ID)
    _, info = env.reset(seed=0)
    assert not info["success"] and not env.unwrapped.is_success()
    _kneel(env)
    measured = env.unwrapped.measure()
    assert measured["knee_height"] == pytest.approx(0.05) and measured["head_height"] > 0.85
    assert env.unwrapped.is_success()
    assert POSES["kneeling"].check(measured) and not POSES["standing"].check(measured)
    assert not POSES["lying_down"].check(measured) and not POSES["sitting"].check(measured)


def test_every_pose_has_a_sentence_and_a_check_that_tells_poses_apart():
    from rewardgym.envs.manipulation.humanoid import POSES, mujoco

    assert {"kneeling", "standing", "sitting", "arms_raised", "lying_down"} <= set(POSES)
    for name, pose in POSES.items():
        _, info = gym.make(ENV_ID, pose=name).reset(seed=0)
        assert info["task"] == pose.instruction and pose.instruction.startswith("a humanoid robot")
        assert info["pose"] == name and info["success"] == (name == "standing")
    raised = gym.make(ENV_ID, pose="arms_raised").unwrapped
    raised.reset(seed=0)
    for side in ("right", "left"):  # both arms up sideways, over the head
        raised.data.qpos[raised.model.joint(f"shoulder_x_{side}").qposadr[0]] = 2.9
    mujoco.mj_forward(raised.model, raised.data)
    assert raised.is_success() and POSES["standing"].check(raised.measure())
    lying = {"head_height": 0.1, "torso_height": 0.12, "pelvis_height": 0.1, "knee_height": 0.05,
             "hand_height": 0.05, "torso_upright": 0.0}
    assert [n for n, p in POSES.items() if p.check(lying)] == ["lying_down"]


def test_physics_stays_stable_under_random_and_extreme_actions():
    env = gym.make(ENV_ID).unwrapped
    rng = np.random.default_rng(0)
    for seed, actions in ((0, _actions(200, seed=5)), (1, rng.choice([-1.0, 1.0], size=(200, 17)))):
        env.reset(seed=seed)
        for action in actions:
            obs, *_ = env.step(action)
            assert np.isfinite(obs).all()
        assert np.abs(env.data.qvel).max() < 100
        assert [w.number for w in env.data.warning] == [0] * len(env.data.warning)  # no MuJoCo warnings


@pytest.mark.parametrize("action, match", [
    (np.zeros(16, np.float32), "shape"), (np.zeros((1, 17)), "shape"), (["a"] * 17, "shape"),
    (np.full(17, np.nan), "NaN"), (np.full(17, np.inf), "NaN"), (None, "shape")])
def test_bad_actions_raise_and_leave_the_state_alone(action, match):
    env = gym.make(ENV_ID).unwrapped
    env.reset(seed=0)
    before = env.get_state()
    with pytest.raises(ValueError, match=match):
        env.step(action)
    np.testing.assert_array_equal(env.get_state()["physics"], before["physics"])


def test_out_of_range_actions_are_clipped():
    clipped, wild = gym.make(ENV_ID), gym.make(ENV_ID)
    clipped.reset(seed=0)
    wild.reset(seed=0)
    action = np.where(np.arange(17) % 2, 1.0, -1.0).astype(np.float32)
    np.testing.assert_array_equal(wild.step(action * 7)[0], clipped.step(action)[0])


@pytest.mark.parametrize("kwargs, match", [
    ({"pose": "dancing"}, "unknown pose"), ({"obs_mode": "rgb"}, "obs_mode"), ({"render_mode": "human"}, "render_mode"),
    ({"width": 0}, "width"), ({"frame_skip": 0}, "frame_skip"), ({"reset_noise_scale": -1.0}, "reset_noise_scale")])
def test_bad_constructor_arguments(kwargs, match):
    from rewardgym.envs.manipulation.humanoid import HumanoidPoseEnv

    with pytest.raises(ValueError, match=match):
        HumanoidPoseEnv(**kwargs)


def test_make_vec_sync_matches_single_envs():
    envs = gym.make_vec(ENV_ID, num_envs=3)
    actions = _actions(5, seed=6)
    obs, info = envs.reset(seed=20)
    for action in actions:
        obs, reward, terminated, truncated, info = envs.step(np.stack([action] * 3))
    assert obs.shape == (3, 45) and list(info["task"]) == ["a humanoid robot kneeling"] * 3
    for i in range(3):
        single, _ = _rollout(gym.make(ENV_ID), 20 + i, actions)
        np.testing.assert_array_equal(obs[i], single[-1])
    envs.close()


def test_make_vec_async_renders_in_fresh_worker_processes():
    # Workers start with forkserver: OpenGL does not survive fork() once a process has rendered.
    envs = gym.make_vec(ENV_ID, num_envs=2, vectorization_mode="async", obs_mode="state+pixels",
                        vector_kwargs={"context": "forkserver"})
    try:
        obs, _ = envs.reset(seed=7)
        obs, *_ = envs.step(np.zeros((2, 17), np.float32))
    finally:
        envs.close()
    assert obs["pixels"].shape == (2, 64, 64, 3) and obs["pixels"].std() > 20
    for i in range(2):
        single, _ = _rollout(gym.make(ENV_ID, obs_mode="state+pixels"), 7 + i, np.zeros((1, 17), np.float32))
        np.testing.assert_array_equal(obs["observation"][i], single[-1]["observation"])  # the same in a fresh process
