"""Demonstrations: collect_demos writes the documented format, load_demos reads it, replays reproduce it."""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import rewardgym
from rewardgym.cli import main
from rewardgym.workflows.demos import DemoFormatError, collect_demos, load_demos

REACH, PUSH, BANDIT = "rewardgym/Manip-Reach-v0", "rewardgym/Manip-Push-v0", "rewardgym/Bandit-Bernoulli2-v0"
FRAMES = {"width": 32, "height": 32}


def replay(demos, episode):
    """Step the stored actions on a fresh env with the episode's seed; check it retraces the episode exactly."""
    env = gym.make(demos.env_id, **demos.env_kwargs)
    obs, _ = env.reset(seed=episode.seed)
    assert_obs_equal(obs, episode.observations, 0)
    actions = episode.actions
    for t in range(episode.length):
        obs, reward, terminated, truncated, info = env.step(actions[t])
        assert_obs_equal(obs, episode.observations, t + 1)
        assert reward == episode.rewards[t]
        assert (terminated, truncated, info["success"]) == (
            episode.terminated[t], episode.truncated[t], episode.success[t])
    env.close()


def assert_obs_equal(obs, stored, t):
    if isinstance(obs, dict):
        assert obs.keys() == stored.keys()
        for key in obs:
            assert_obs_equal(obs[key], stored[key], t)
    else:
        np.testing.assert_array_equal(obs, stored[t], strict=True)


@pytest.fixture(scope="module")
def reach(tmp_path_factory):
    path = tmp_path_factory.mktemp("demos") / "reach"
    return collect_demos(REACH, 3, path, seed=5, progress=False)


def test_collected_episodes_have_the_documented_shapes(reach):
    demos = load_demos(reach.path)
    assert len(demos) == 3 and demos.env_id == REACH and not demos.frames
    assert [s["seed"] for s in demos.summaries] == [5, 6, 7]
    assert demos.observation_space == gym.make(REACH).observation_space
    assert demos.action_space == gym.spaces.Box(-1, 1, (4,), np.float32)
    episodes = list(demos)
    for episode, summary in zip(episodes, demos.summaries):
        T = episode.length
        assert T == summary["length"] == 50  # the 50-step TimeLimit
        assert set(episode.observations) == {"observation", "achieved_goal", "desired_goal"}
        for key, value in episode.observations.items():
            assert value.shape == (T + 1, *demos.observation_space[key].shape) and value.dtype == np.float64
        assert all(demos.observation_space.contains({k: v[t] for k, v in episode.observations.items()})
                   for t in range(T + 1))
        assert episode.actions.shape == (T, 4) and episode.actions.dtype == np.float32
        assert episode.rewards.shape == (T,) and episode.rewards.dtype == np.float64
        for flags in (episode.terminated, episode.truncated, episode.success):
            assert flags.shape == (T,) and flags.dtype == bool
        assert episode.truncated[-1] and not episode.truncated[:-1].any() and not episode.terminated.any()
        assert episode.frames is None
        assert summary["success"] == bool(episode.success[-1]) and summary["return"] == episode.rewards.sum()
        assert episode.task == summary["task"] == "move the gripper to the green target"
    assert demos.success_rate == 1.0  # the scripted expert reaches every goal
    assert episodes[0].seed == 5 and demos[-1].seed == 7 and [e.seed for e in demos[1:]] == [6, 7]
    index = json.loads((reach.path / "demos.json").read_text())
    assert index["format"] == "rewardgym-demos" and index["version"] == 1
    assert index["rewardgym_version"] == rewardgym.__version__ and index["policy"].endswith(":expert_for")
    assert sorted(p.name for p in reach.path.iterdir()) == ["demos.json", *(f"episode_00000{i}.npz" for i in range(3))]
    with np.load(reach.path / "episode_000000.npz") as data:
        assert sorted(data.files) == ["actions", "obs/achieved_goal", "obs/desired_goal", "obs/observation",
                                      "rewards", "success", "terminated", "truncated"]


def test_replaying_the_actions_reproduces_the_episodes(reach):
    for episode in load_demos(reach.path):
        replay(reach, episode)


def test_frames_are_stored_and_do_not_change_the_trajectory(tmp_path):
    demos = collect_demos(PUSH, 2, tmp_path / "push", frames=True, env_kwargs=FRAMES, progress=False)
    assert demos.frames and demos.env_kwargs == FRAMES
    renderer = gym.make(PUSH, render_mode="rgb_array", **FRAMES)
    for episode in load_demos(demos.path):
        assert episode.frames.shape == (episode.length + 1, 32, 32, 3) and episode.frames.dtype == np.uint8
        renderer.reset(seed=episode.seed)
        np.testing.assert_array_equal(episode.frames[0], renderer.render())
        assert not np.array_equal(episode.frames[0], episode.frames[-1])  # the gripper moved
        replay(demos, episode)  # replayed without rendering: the same observations and rewards
    assert demos.success_rate == 1.0


def test_pixel_observations_are_one_array(tmp_path):
    kwargs = {**FRAMES, "obs_mode": "pixels", "max_episode_steps": 6}
    demos = collect_demos(REACH, 1, tmp_path / "pixels", env_kwargs=kwargs, progress=False)
    (episode,) = demos
    assert episode.length == 6
    assert episode.observations.shape == (7, 32, 32, 3) and episode.observations.dtype == np.uint8
    replay(demos, episode)


def test_a_custom_policy(tmp_path):
    calls = []

    def still(obs):
        calls.append(obs)
        return np.zeros(4, dtype=np.float32)

    demos = collect_demos(REACH, 2, tmp_path / "still", policy=still, env_kwargs={"max_episode_steps": 5},
                          progress=False)
    assert len(calls) == 10 and isinstance(calls[0], dict)
    assert all(e.length == 5 and not e.actions.any() for e in demos)
    assert demos.metadata["policy"].endswith("test_a_custom_policy.<locals>.still")
    assert demos.success_rate == 0.0  # standing still does not reach the goal

    class Expertish:
        def act(self, obs):
            return obs["desired_goal"].astype(np.float32).tolist() + [1.0]

    demos = collect_demos(REACH, 1, tmp_path / "obj", policy=Expertish(), env_kwargs={"max_episode_steps": 3},
                          progress=False)
    assert demos.metadata["policy"].endswith("Expertish") and demos[0].actions.shape == (3, 4)
    replay(demos, demos[0])


def test_a_bandit_needs_a_policy(tmp_path):
    with pytest.raises(ValueError, match="no scripted expert for the Bandit family.*policy="):
        collect_demos(BANDIT, 2, tmp_path / "none", progress=False)
    with pytest.raises(ValueError, match="rgb_array"):
        collect_demos(BANDIT, 2, tmp_path / "none", policy=lambda obs: 0, frames=True, progress=False)
    assert not (tmp_path / "none").exists()

    demos = collect_demos(BANDIT, 3, tmp_path / "bandit", seed=10, policy=lambda obs: 1,
                          env_kwargs={"horizon": 6}, progress=False)
    for episode in demos:
        assert episode.actions.tolist() == [1] * 6 and episode.observations["last_arm"].shape == (7, 2)
        assert episode.observations["last_arm"].dtype == np.float32 and "2 arms" in episode.task
        replay(demos, episode)


def test_a_task_without_an_expert_in_a_family_with_experts(tmp_path, monkeypatch):
    from rewardgym.workflows import experts

    # the manipulation experts' factory given a bandit: as for a new task whose expert is not written yet
    table = experts.EXPERTS.copy()
    table.register("Bandit", table.target("Manip"))
    monkeypatch.setattr(experts, "EXPERTS", table)
    with pytest.raises(ValueError, match=f"no scripted expert for {BANDIT} .*policy="):
        collect_demos(BANDIT, 1, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n": 0}, ValueError, "n must be an integer >= 1"),
    ({"seed": -1}, ValueError, "seed must be"),
    ({"env_id": "rewardgym/Manip-Nope-v0"}, ValueError, "Manip-Nope"),
    ({"env_kwargs": {"colour": "red"}}, ValueError, "colour"),
    ({"policy": 3}, TypeError, "policy must be"),
])
def test_bad_arguments_write_nothing(kwargs, error, message, tmp_path):
    args = {"env_id": REACH, "n": 1, "path": tmp_path / "out", "progress": False, **kwargs}
    with pytest.raises(error, match=message):
        collect_demos(**args)
    assert not (tmp_path / "out").exists()


def test_an_existing_folder_needs_overwrite(tmp_path):
    policy, short = (lambda obs: 0), {"horizon": 3}
    collect_demos(BANDIT, 3, tmp_path, policy=policy, env_kwargs=short, progress=False)
    with pytest.raises(FileExistsError, match="not empty"):
        collect_demos(BANDIT, 1, tmp_path, policy=policy, env_kwargs=short, progress=False)
    (tmp_path / "notes.txt").write_text("kept")
    demos = collect_demos(BANDIT, 1, tmp_path, policy=policy, env_kwargs=short, progress=False, overwrite=True)
    assert len(load_demos(tmp_path)) == len(demos) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demos.json", "episode_000000.npz", "notes.txt"]
    with pytest.raises(FileExistsError, match="not a folder"):
        collect_demos(BANDIT, 1, tmp_path / "notes.txt", policy=policy, env_kwargs=short, progress=False)


def test_an_interrupted_collection_keeps_whole_episodes(tmp_path):
    steps = []

    def policy(obs):
        steps.append(1)
        if len(steps) == 8:  # in the third episode of three steps
            raise KeyboardInterrupt
        return 0

    with pytest.raises(KeyboardInterrupt):
        collect_demos(BANDIT, 5, tmp_path, policy=policy, env_kwargs={"horizon": 3}, progress=False)
    demos = load_demos(tmp_path)
    assert len(demos) == 2 and [e.length for e in demos] == [3, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demos.json", "episode_000000.npz", "episode_000001.npz"]


@pytest.fixture
def small(tmp_path):
    return collect_demos(BANDIT, 2, tmp_path / "small", policy=lambda obs: 0, env_kwargs={"horizon": 4},
                         progress=False)


def test_a_corrupt_or_missing_episode_file_is_named(small):
    file = small.path / "episode_000001.npz"
    file.write_bytes(file.read_bytes()[:50])
    demos = load_demos(small.path)  # episodes are read lazily
    assert demos[0].length == 4
    with pytest.raises(DemoFormatError, match="episode_000001.npz is corrupt"):
        demos[1]
    file.unlink()
    with pytest.raises(DemoFormatError, match="episode_000001.npz is missing"):
        list(demos)
    np.savez_compressed(file, rewards=np.zeros(4))
    with pytest.raises(DemoFormatError, match="episode_000001.npz is corrupt: it lacks terminated"):
        demos[1]
    with open(file, "wb") as f:  # one step short of what the index says
        np.savez_compressed(f, **{"obs/last_arm": np.zeros((4, 2)), "obs/last_reward": np.zeros((4, 1)),
                                  "actions": np.zeros(3, int), "rewards": np.zeros(3), "terminated": np.zeros(3, bool),
                                  "truncated": np.zeros(3, bool), "success": np.zeros(3, bool)})
    with pytest.raises(DemoFormatError, match="episode_000001.npz has 3 steps; demos.json says 4"):
        demos[1]


@pytest.mark.parametrize("edit, message", [
    (lambda text: "{oops", "demos.json is corrupt"),
    (lambda text: "[1, 2]", "demos.json is corrupt: expected a JSON object"),
    (lambda text: text.replace("rewardgym-demos", "other"), "not a rewardgym demo index"),
    (lambda text: text.replace('"version": 1', '"version": 2'), "format version 2; this rewardgym reads version 1"),
    (lambda text: text.replace('"episodes"', '"episodez"'), "no 'episodes'"),
    (lambda text: text.replace('"episode_000000.npz"', '"../episode_000000.npz"'), "plain file name"),
    (lambda text: text.replace('"type": "Dict"', '"type": "Blob"'), "cannot rebuild the observation_space"),
])
def test_a_bad_index_is_a_demo_format_error(small, edit, message):
    index = small.path / "demos.json"
    index.write_text(edit(index.read_text()))
    with pytest.raises(DemoFormatError, match=message) as caught:
        load_demos(small.path)
    assert isinstance(caught.value, ValueError) and "demos.json" in str(caught.value)


def test_a_folder_without_an_index(tmp_path):
    with pytest.raises(DemoFormatError, match="demos.json not found"):
        rewardgym.load_demos(tmp_path)


def test_bandit_demos_import_neither_mujoco_nor_torch(tmp_path):
    code = ("import sys, rewardgym; rewardgym.collect_demos('rewardgym/Bandit-Meta2-v0', 1, sys.argv[1], "
            "policy=lambda obs: 0, progress=False); rewardgym.load_demos(sys.argv[1])[0]; "
            "print(sorted(m for m in ('torch', 'transformers', 'mujoco') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "d")], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the command --------------------------------------------------------------------------
def test_cli_collects_and_summarises(tmp_path, capsys):
    out = tmp_path / "reach"
    assert main(["collect-demos", REACH, "-n", "2", "--out", str(out), "--seed", "3", "--frames", "--no-progress",
                 "--env-kwargs", "width=32", "height=32", "max_episode_steps=20"]) == 0
    line = capsys.readouterr().out.strip()
    assert line == f"2 episodes of {REACH} (seeds 3-4): success rate 1.00, mean return " \
                   f"{load_demos(out).mean_return:.4g}; written to {out}"
    demos = load_demos(out)
    assert demos.frames and [e.seed for e in demos] == [3, 4] and demos[0].frames.shape == (21, 32, 32, 3)
    assert demos.env_kwargs == {"width": 32, "height": 32, "max_episode_steps": 20}

    assert main(["collect-demos", REACH, "-n", "1", "--out", str(out), "--overwrite", "--no-progress",
                 "--env-kwargs", "max_episode_steps=4"]) == 0
    assert len(load_demos(out)) == 1 and "1 episodes" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["rewardgym/Manip-Nope-v0", "-n", "1"], "Manip-Nope"),
    ([BANDIT, "-n", "1"], "no scripted expert for the Bandit family"),
    ([REACH, "-n", "0"], "positive integer"),
    ([REACH, "-n", "1", "--env-kwargs", "colour=red"], "colour"),
    ([REACH, "-n", "1", "--env-kwargs", "colour"], "KEY=VALUE"),
    ([REACH], "-n"),
])
def test_cli_bad_arguments_exit_2_with_one_line(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    try:
        code = main(["collect-demos", *argv, "--out", str(out), "--no-progress"])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not out.exists()


def test_cli_refuses_a_folder_in_use(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["collect-demos", REACH, "-n", "1", "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "is not empty" in err and "--overwrite" in err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
