"""The manipulation family against the env contract: checkers, goal rewards, experts, determinism, pixels, bad input."""

from __future__ import annotations

import functools
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

import rewardgym
from rewardgym.envs.language import InvalidCommand
from rewardgym.wrappers.text import TextInterface

# The gripper tasks (the family's humanoid pose scene has tests of its own).
MANIP_IDS = [i for i, e in rewardgym.ENV_IDS.items() if e.family == "Manip" and "task" in e.kwargs]
TASKS = ["Reach", "Push", "PickPlace", "Stack", "DrawerOpen"]
TEST_SEEDS = range(1_000_000, 1_000_100)
# Positions and velocities are unbounded, as in Gymnasium-Robotics; the checker warns about it.
UNBOUNDED_BOX = "ignore:.*A Box observation space m"


def _expert_episode(env, seed):
    from rewardgym.envs.manipulation.experts import expert_for

    expert = expert_for(env)
    obs, info = env.reset(seed=seed)
    terminated = truncated = False
    while not (terminated or truncated):
        obs, reward, terminated, truncated, info = env.step(expert.act(obs))
    return info


def _random_actions(n, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, 4)).astype(np.float32)


def test_registered_ids():
    expected = [f"rewardgym/Manip-{task}{variant}-v0" for task in TASKS for variant in ("", "Dense")]
    assert expected == MANIP_IDS
    env = gym.make("rewardgym/Manip-Push-v0")
    assert env.spec.max_episode_steps == 50
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    assert set(env.observation_space.spaces) == {"observation", "achieved_goal", "desired_goal"}
    assert env.observation_space["observation"].dtype == np.float64


@pytest.mark.filterwarnings(UNBOUNDED_BOX)
@pytest.mark.parametrize("env_id", MANIP_IDS)
def test_gymnasium_and_sb3_checkers_pass_in_state_mode(env_id):
    check_env(gym.make(env_id).unwrapped, skip_render_check=False)
    # SB3 recognises a goal env by compute_reward, which Gymnasium's wrappers do not forward.
    sb3_check_env(gym.make(env_id).unwrapped, warn=False)


@pytest.mark.filterwarnings(UNBOUNDED_BOX)
def test_gymnasium_checker_passes_with_pixels():
    check_env(gym.make("rewardgym/Manip-Push-v0", obs_mode="pixels", render_mode="rgb_array").unwrapped,
              skip_render_check=False)
    env = gym.make("rewardgym/Manip-Reach-v0", obs_mode="state+pixels", cameras=("front", "wrist"),
                   width=48, height=40)
    check_env(env.unwrapped)
    assert env.observation_space["pixels_wrist"] == gym.spaces.Box(0, 255, (40, 48, 3), np.uint8)


@pytest.mark.parametrize("env_id", MANIP_IDS)
def test_compute_reward_equals_step_reward(env_id):
    from rewardgym.envs.manipulation.experts import expert_for

    env = gym.make(env_id)
    expert = expert_for(env)
    achieved, desired, rewards, infos = [], [], [], []
    for seed, noise in ((1, 0.0), (2, 0.6)):  # expert steps reach the goal; noisy ones miss it
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(seed)
        for _ in range(30):
            action = np.clip(expert.act(obs) + rng.normal(0, noise, 4), -1, 1).astype(np.float32)
            obs, reward, _, _, info = env.step(action)
            achieved.append(obs["achieved_goal"])
            desired.append(obs["desired_goal"])
            rewards.append(reward)
            infos.append(info)
            assert env.unwrapped.compute_reward(obs["achieved_goal"], obs["desired_goal"], info) == reward
    batch = env.unwrapped.compute_reward(np.array(achieved), np.array(desired), infos)
    assert batch.shape == (60,) and batch.dtype == np.float64
    np.testing.assert_array_equal(batch, rewards)
    successes = np.array([i["success"] for i in infos])
    assert successes.any() and not successes.all()
    if "Dense" in env_id:
        np.testing.assert_array_equal(batch, [-i["distance"] for i in infos])
    else:
        np.testing.assert_array_equal(batch, np.where(successes, 0.0, -1.0))


@pytest.mark.parametrize("task", TASKS)
def test_experts_succeed_on_held_out_seeds(task):
    env = gym.make(f"rewardgym/Manip-{task}-v0")
    successes = [_expert_episode(env, seed)["success"] for seed in TEST_SEEDS[:20]]
    assert np.mean(successes) >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_experts_succeed_on_all_100_test_seeds(task):
    env = gym.make(f"rewardgym/Manip-{task}-v0")
    successes = [_expert_episode(env, seed)["success"] for seed in TEST_SEEDS]
    assert np.mean(successes) >= 0.95


def test_info_on_every_step():
    env = gym.make("rewardgym/Manip-Push-v0")
    _, info = env.reset(seed=0)
    for action in _random_actions(5):
        assert info["task"] == "push the red cube onto the green target"
        assert isinstance(info["success"], bool) and info["is_success"] == info["success"]
        assert isinstance(info["distance"], float) and info["distance"] >= 0
        _, _, terminated, _, info = env.step(action)
        assert terminated is False


def test_start_and_goal_follow_the_seed():
    env = gym.make("rewardgym/Manip-Push-v0")
    starts = {tuple(env.reset(seed=s)[0]["observation"][10:12]) + tuple(env.unwrapped.goal[:2]) for s in range(20)}
    assert len(starts) == 20
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        cube, goal = obs["observation"][10:13], obs["desired_goal"]
        assert np.linalg.norm(cube[:2]) >= 0.1 and np.abs(cube[:2]).max() <= 0.15
        assert np.abs(goal[:2]).max() <= 0.15 and goal[2] == pytest.approx(0.425)


def test_pick_place_goals_are_in_the_air_about_half_the_time():
    env = gym.make("rewardgym/Manip-PickPlace-v0")
    goals = np.array([env.reset(seed=s)[0]["desired_goal"] for s in range(200)])
    lifted = goals[:, 2] > 0.426
    assert 0.35 < lifted.mean() < 0.65
    assert goals[:, 2].min() == pytest.approx(0.425) and goals[:, 2].max() <= 0.625
    assert np.abs(goals[:, :2]).max() <= 0.15


def test_stack_goal_is_on_the_blue_cube_and_the_expert_lets_go():
    env = gym.make("rewardgym/Manip-Stack-v0")
    obs, info = env.reset(seed=7)
    task = env.unwrapped.task
    base = task.object_position("base")
    np.testing.assert_allclose(obs["desired_goal"], base + [0, 0, 0.05])
    assert np.linalg.norm(task.object_position("cube")[:2] - base[:2]) >= 0.1
    assert "blue cube" in info["task"]
    info = _expert_episode(env, 7)
    cube = task.object_position("cube")
    assert info["success"] and cube[2] == pytest.approx(0.475, abs=0.003)  # resting on the blue cube
    assert task.finger_opening() > 0.06 and task.grip_position()[2] > cube[2] + 0.03  # released, hand away
    np.testing.assert_allclose(task.object_position("base"), base, atol=0.005)  # the blue cube stayed put


def test_drawer_opens_only_when_pulled_and_the_goal_is_the_handle_further_out():
    env = gym.make("rewardgym/Manip-DrawerOpen-v0")
    obs, _ = env.reset(seed=3)
    task = env.unwrapped.task
    handle = obs["achieved_goal"]
    assert task.opening() == 0.0 and obs["observation"][16] == 0.0
    assert handle[1] == obs["desired_goal"][1] and handle[2] == obs["desired_goal"][2]
    assert 0.12 <= obs["desired_goal"][0] - handle[0] <= 0.2
    for action in _random_actions(20):  # flailing above the table does not open it
        obs, *_ = env.step(action * [1, 1, 0, 1] + [0, 0, 1, 0])
    assert task.opening() < 0.01
    info = _expert_episode(env, 3)
    opening = task.opening()
    assert info["success"] and opening > 0.1
    np.testing.assert_allclose(task.achieved_goal(), handle + [opening, 0, 0])
    state = task.observation(env.unwrapped.dt)
    np.testing.assert_allclose(state[10:13], task.achieved_goal())
    assert state[16] == opening


def _trajectory(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    out = [obs["observation"]]
    for action in actions:
        obs, reward, *_ = env.step(action)
        out.append(np.append(obs["observation"], reward))
    return np.concatenate(out)


def test_same_seed_same_trajectory():
    actions = _random_actions(40)
    first = _trajectory(gym.make("rewardgym/Manip-Push-v0"), 5, actions)
    second = _trajectory(gym.make("rewardgym/Manip-Push-v0"), 5, actions)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, _trajectory(gym.make("rewardgym/Manip-Push-v0"), 6, actions))


def test_same_seed_same_trajectory_in_a_fresh_process():
    code = ("import gymnasium as gym, numpy as np, rewardgym; e = gym.make('rewardgym/Manip-Push-v0'); "
            "e.reset(seed=5); a = np.random.default_rng(0).uniform(-1, 1, size=(40, 4)).astype(np.float32); "
            "print([e.step(x)[0]['observation'].tolist() for x in a][-1])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    env = gym.make("rewardgym/Manip-Push-v0")
    env.reset(seed=5)
    last = [env.step(a)[0]["observation"].tolist() for a in _random_actions(40)][-1]
    assert out.strip() == str(last)


def test_rendering_does_not_change_the_dynamics():
    actions = _random_actions(30)
    state = _trajectory(gym.make("rewardgym/Manip-Push-v0"), 3, actions)
    pixels = _trajectory(gym.make("rewardgym/Manip-Push-v0", obs_mode="state+pixels", render_mode="rgb_array"),
                         3, actions)
    np.testing.assert_array_equal(state, pixels)


def test_pixels_show_the_scene_and_follow_the_cube():
    env = gym.make("rewardgym/Manip-Push-v0", obs_mode="pixels", render_mode="rgb_array")
    first, _ = env.reset(seed=1_000_001)
    assert first.shape == (64, 64, 3) and first.dtype == np.uint8
    assert first.std() > 20  # not blank: table, floor, sky, gripper, objects
    np.testing.assert_array_equal(env.render(), first)
    red = (first[..., 0] > 150) & (first[..., 1] < 80) & (first[..., 2] < 80)
    green = (first[..., 1] > 150) & (first[..., 0] < 100) & (first[..., 2] < 120)
    assert red.sum() >= 4 and green.sum() >= 4  # the red cube and the green target are visible

    base = env.unwrapped
    state = base.get_state()
    base.data.qpos[base.model.joint("cube").qposadr[0]] += 0.1  # 10 cm towards the camera
    base.set_state(base.get_state())
    moved = base.render()
    moved_red = (moved[..., 0] > 150) & (moved[..., 1] < 80) & (moved[..., 2] < 80)
    assert np.abs(moved.astype(int) - first).mean() > 0.1
    assert not np.array_equal(np.argwhere(red).mean(0), np.argwhere(moved_red).mean(0))
    base.set_state(state)
    np.testing.assert_array_equal(base.render(), first)


@pytest.mark.parametrize("task", ["Stack", "DrawerOpen"])
def test_pixels_show_the_blue_cube_and_the_drawer(task):
    env = gym.make(f"rewardgym/Manip-{task}-v0", obs_mode="pixels")
    image, _ = env.reset(seed=1_000_002)
    blue = (image[..., 2] > 150) & (image[..., 0] < 80) & (image[..., 1] < 120)
    assert blue.sum() >= 6


def test_two_cameras_give_one_image_each():
    env = gym.make("rewardgym/Manip-Push-v0", obs_mode="pixels", cameras=("front", "wrist"), width=32, height=32)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"pixels_front", "pixels_wrist"}
    assert obs["pixels_front"].shape == obs["pixels_wrist"].shape == (32, 32, 3)
    assert not np.array_equal(obs["pixels_front"], obs["pixels_wrist"])


def test_get_state_set_state_round_trip():
    env = gym.make("rewardgym/Manip-Push-v0").unwrapped
    env.reset(seed=4)
    for action in _random_actions(10):
        env.step(action)
    snapshot = pickle.loads(pickle.dumps(env.get_state()))
    future = [env.step(a)[:2] for a in _random_actions(15, seed=1)]
    after_reset = env.reset()[0]  # no seed: continues the generator, which the state includes
    env.set_state(snapshot)
    assert env.elapsed_steps == 10
    again = [env.step(a)[:2] for a in _random_actions(15, seed=1)]
    assert pickle.dumps(future) == pickle.dumps(again)
    np.testing.assert_array_equal(env.reset()[0]["desired_goal"], after_reset["desired_goal"])
    with pytest.raises(ValueError, match="state does not fit"):
        env.set_state({**snapshot, "physics": snapshot["physics"][:-1]})


@pytest.mark.parametrize("action", [np.zeros(3), np.zeros((4, 1)), np.array([0, 0, np.nan, 0]),
                                    [0.0, np.inf, 0.0, 0.0], "move", None, ["a", "b", "c", "d"]])
def test_invalid_action_raises_naming_the_space_and_changes_nothing(action):
    env = gym.make("rewardgym/Manip-Push-v0").unwrapped
    env.reset(seed=0)
    env.step(np.ones(4, np.float32))
    before = pickle.dumps(env.get_state())
    with pytest.raises(ValueError, match=r"Box\(-1\.0, 1\.0, \(4,\), float32\)"):
        env.step(action)
    assert pickle.dumps(env.get_state()) == before


def test_out_of_range_actions_are_clipped():
    big, unit = gym.make("rewardgym/Manip-Reach-v0"), gym.make("rewardgym/Manip-Reach-v0")
    big.reset(seed=0)
    unit.reset(seed=0)
    for _ in range(3):
        a, b = big.step(np.array([5.0, -3.0, 2.0, 9.0]))[0], unit.step(np.array([1.0, -1.0, 1.0, 1.0]))[0]
    np.testing.assert_array_equal(a["observation"], b["observation"])


def test_gripper_stays_in_its_workspace():
    env = gym.make("rewardgym/Manip-Reach-v0")
    env.reset(seed=0)
    for _ in range(20):
        obs, *_ = env.step(np.array([1.0, -1.0, -1.0, -1.0], np.float32))
    grip = obs["observation"][:3]
    assert grip[0] == pytest.approx(0.3, abs=0.01) and grip[1] == pytest.approx(-0.3, abs=0.01)
    assert 0.42 < grip[2] < 0.44  # just above the table top at 0.4
    assert obs["observation"][3:5] == pytest.approx([0.0, 0.0], abs=2e-3)  # fingers closed


@pytest.mark.parametrize("kwargs, match", [
    ({"obs_mode": "rgb"}, "obs_mode"), ({"reward_type": "shaped"}, "reward_type"), ({"cameras": ("top",)}, "cameras"),
    ({"task": "Fly"}, "unknown"), ({"render_mode": "ansi"}, "render_mode"), ({"width": 0}, "width")])
def test_bad_constructor_arguments(kwargs, match):
    from rewardgym.envs.manipulation.env import ManipulationEnv

    with pytest.raises(ValueError, match=match):
        ManipulationEnv(**kwargs)


def test_make_vec_sync_matches_single_envs():
    envs = gym.make_vec("rewardgym/Manip-Push-v0", num_envs=4)
    obs, info = envs.reset(seed=10)
    assert obs["observation"].shape == (4, 26) and envs.action_space.shape == (4, 4)
    actions = np.stack([_random_actions(1, seed=i)[0] for i in range(4)])
    obs, reward, terminated, truncated, info = envs.step(actions)
    for i in range(4):
        single = gym.make("rewardgym/Manip-Push-v0")
        single.reset(seed=10 + i)
        s_obs, s_reward, *_ = single.step(actions[i])
        np.testing.assert_array_equal(obs["observation"][i], s_obs["observation"])
        assert reward[i] == s_reward
    assert info["task"][0] == "push the red cube onto the green target"
    envs.close()


def test_make_vec_async_steps():
    envs = gym.make_vec("rewardgym/Manip-Reach-v0", num_envs=2, vectorization_mode="async")
    try:
        obs, _ = envs.reset(seed=0)
        obs, reward, terminated, truncated, info = envs.step(np.zeros((2, 4), np.float32))
        assert obs["desired_goal"].shape == (2, 3) and reward.shape == (2,)
        assert not np.array_equal(obs["desired_goal"][0], obs["desired_goal"][1])
    finally:
        envs.close()


@pytest.mark.filterwarnings("ignore:.*ERROR")  # Gymnasium reports the worker's error as warnings too
def test_workers_forked_after_rendering_fail_clearly_instead_of_hanging():
    gym.make("rewardgym/Manip-Reach-v0", obs_mode="pixels").reset(seed=0)  # this process has rendered
    envs = gym.make_vec("rewardgym/Manip-Reach-v0", num_envs=2, vectorization_mode="async", obs_mode="pixels",
                        vector_kwargs={"context": "fork"})
    try:
        envs.reset_async(seed=0)
        with pytest.raises(RuntimeError, match="forkserver"):
            envs.reset_wait(timeout=30)
    finally:
        envs.close(terminate=True)


# -- language interface -----------------------------------------------------------------------
def test_text_interface_moves_the_gripper_and_rejects_nonsense():
    env = TextInterface(gym.make("rewardgym/Manip-Push-v0"))
    text, info = env.reset(seed=0)
    assert "push the red cube onto the green target" in text and "The red cube is at" in text
    base = env.unwrapped
    start = base.task.grip_position()
    text, reward, terminated, truncated, info = env.step("move 0.1 0 -0.05")
    assert not info["invalid_action"] and "The gripper is at" in text
    moved = base.task.grip_position() - start
    assert moved[0] > 0.03 and moved[2] < -0.03 and abs(moved[1]) < 0.005
    before = pickle.dumps(base.get_state())
    text, reward, terminated, truncated, info = env.step("fly to the moon")
    assert info["invalid_action"] and "don't understand" in text and reward == 0.0
    assert pickle.dumps(base.get_state()) == before


def test_text_commands_parse_into_actions():
    env = gym.make("rewardgym/Manip-Reach-v0")
    env.reset(seed=0)
    adapter = env.unwrapped.text_adapter
    np.testing.assert_allclose(adapter.parse("move 0.05 0 -0.025"), [1.0, 0.0, -0.5, 1.0])
    np.testing.assert_allclose(adapter.parse("Move (2cm, -1cm, 0)."), [0.4, -0.2, 0.0, 1.0])
    np.testing.assert_allclose(adapter.parse("move left 2 cm and up 0.01"), [0.0, -0.4, 0.2, 1.0])
    np.testing.assert_allclose(adapter.parse("move 0.2 0 0"), [1.0, 0.0, 0.0, 1.0])  # cut to one step
    np.testing.assert_allclose(adapter.parse("<answer>close</answer>"), [0.0, 0.0, 0.0, -1.0])
    env.step(adapter.parse("close"))
    np.testing.assert_allclose(adapter.parse("move 0 0 0.05"), [0.0, 0.0, 1.0, -1.0])  # keeps the grip
    np.testing.assert_allclose(adapter.parse("open"), [0.0, 0.0, 0.0, 1.0])
    for bad in ("move 1 2", "move nan 0 0", "move 1e999 0 0", "jump", "", "move sideways 3"):
        with pytest.raises(InvalidCommand):
            adapter.parse(bad)
    assert "cm" in adapter.describe() and "move" in adapter.instruction()


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(max_size=40), st.from_regex(r"(move|go) [-0-9 .,e()cm]{0,30}", fullmatch=True),
                      st.from_regex(r"move (left|right|up|down|forward|back) [0-9.]{1,6} ?(cm|m)?", fullmatch=True)))
def test_any_text_parses_into_the_action_space_or_is_rejected(text):
    adapter = _reach_adapter()
    try:
        action = adapter.parse(text)
    except InvalidCommand:
        return
    assert action in adapter.env.action_space


@functools.cache
def _reach_adapter():
    env = gym.make("rewardgym/Manip-Reach-v0")
    env.reset(seed=0)
    return env.unwrapped.text_adapter


def test_cameras_without_pixel_observations_are_an_error():
    """(width and height stay accepted with state observations: demos record them with their frames, and the
    env is rebuilt from those kwargs without a render mode to replay them.)"""
    with pytest.raises(ValueError, match="cameras choose the pixel observations' views: they do nothing"):
        gym.make("rewardgym/Manip-Reach-v0", cameras=("wrist",), render_mode="rgb_array")
    env = gym.make("rewardgym/Manip-Reach-v0", width=32, height=24, render_mode="rgb_array")
    env.reset(seed=0)
    assert env.render().shape == (24, 32, 3)
