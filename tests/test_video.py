"""Watching agents: `eval --video` for one env of every family, `train --capture-video`, `play --run`."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

from rewardgym.cli import main
from rewardgym.workflows.video import gif_frame_ms, text_frame, write_video

# (env id, env kwargs for train, expected frame size (width, height))
FAMILIES = [
    ("rewardgym/Bandit-Bernoulli2-v0", ["horizon=30"], (640, 336)),
    ("rewardgym/Dungeon-Room5x5-v0", [], (640, 336)),
    ("rewardgym/Text-Coins-v0", ["action_mode=choice", "observation=vector", "max_steps=12"], (640, 336)),
    ("rewardgym/GUI-ClickButton-v0", ["action_mode=elements", "observation=elements"], None),
    ("rewardgym/Manip-Reach-v0", [], None),
]


def _run(tmp_path, env_id: str, env_kwargs: list[str]) -> str:
    argv = ["train", env_id, "--agent", "random", "--steps", "40", "--out", str(tmp_path), "--no-progress"]
    assert main(argv + (["--env-kwargs", *env_kwargs] if env_kwargs else [])) == 0
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    return str(run)


def _gif(path) -> tuple[tuple[int, int], int, int]:
    """(size, frames, total duration in ms) of a GIF; Pillow merges identical neighbours, adding up their time."""
    image = Image.open(path)
    total = 0
    for k in range(image.n_frames):
        image.seek(k)
        total += image.info["duration"]
    return image.size, image.n_frames, total


def _mp4(path) -> tuple[tuple[int, int], int, float]:
    """(size, frames, frames per second) of an MP4, decoded through imageio's ffmpeg plugin."""
    import imageio.v3 as iio

    frames = iio.imread(path, plugin="FFMPEG")
    return (frames.shape[2], frames.shape[1]), len(frames), float(iio.immeta(path, plugin="FFMPEG")["fps"])


@pytest.mark.parametrize("env_id, env_kwargs, size", FAMILIES, ids=[f[0].split("/")[1] for f in FAMILIES])
def test_eval_video_records_an_episode_of_every_family(env_id, env_kwargs, size, tmp_path, capsys):
    run = _run(tmp_path, env_id, env_kwargs)
    fps = gym.make(env_id).metadata["render_fps"]
    for fmt in ("gif", "mp4"):
        capsys.readouterr()
        assert main(["eval", run, "--episodes", "1", "--video", "--video-episodes", "2", "--json",
                     "--video-format", fmt]) == 0
        out = json.loads(capsys.readouterr().out)
        assert len(out["videos"]) == 2
        for video in out["videos"]:
            assert video["path"].endswith(f".{fmt}") and "/videos/eval-seed" in video["path"]
            if fmt == "gif":
                frame_size, frames, duration = _gif(video["path"])
                assert 1 <= frames <= video["length"] + 1
                assert duration == (video["length"] + 1) * gif_frame_ms(fps)  # every step's frame is there
            else:
                frame_size, frames, rate = _mp4(video["path"])
                assert frames == video["length"] + 1 and rate == fps  # every step's frame, at the env's rate
                size = size and (size[0] // 2 * 2, size[1] // 2 * 2)  # H.264 wants even sides
            assert size is None or frame_size == size
        assert out["videos"][0]["path"] != out["videos"][1]["path"]


def test_eval_video_text_output_names_the_file(tmp_path, capsys):
    run = _run(tmp_path, "rewardgym/Dungeon-Room5x5-v0", [])
    capsys.readouterr()
    assert main(["eval", run, "--episodes", "1", "--video"]) == 0  # auto: MP4, imageio-ffmpeg being installed
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("video: ")][0]
    assert "/videos/eval-seed1000000.mp4 (" in line and "steps, return" in line


def test_text_frames_draw_the_last_lines_wrapped_in_the_terminal_font():
    blank = text_frame("")
    assert blank.shape == (336, 640, 3) and blank.dtype == np.uint8 and not blank.any()
    one = text_frame("\x1b[31mhello\x1b[0m")  # colours dropped, the text kept
    assert one[:14, :40].any() and not one[:14, 48:].any() and not one[14:].any()
    long = text_frame("x" * 100)  # wrapped at 80 columns: a second row of 20
    assert long[14:28, : 20 * 8].any() and not long[14:28, 21 * 8:].any()
    many = text_frame("\n".join(f"line {k}" for k in range(30)))  # the last 24 lines
    assert np.array_equal(many[:14], text_frame("line 6")[:14])


def test_write_video_formats(tmp_path):
    frames = [np.full((10, 12, 3), k * 20, np.uint8) for k in range(5)]
    path = write_video(frames, tmp_path / "clip.mp4", fps=5, fmt="gif")
    assert path.name == "clip.gif" and _gif(path)[1] == 5 and _gif(path)[2] == 5 * 200
    with pytest.raises(ValueError, match="no frames"):
        write_video([], tmp_path / "empty")
    with pytest.raises(ValueError, match="video format must be one of"):
        write_video(frames, tmp_path / "x", fmt="avi")
    path = write_video(frames, tmp_path / "clip", fps=5, fmt="mp4")
    assert path.name == "clip.mp4" and _mp4(path) == ((12, 10), 5, 5.0)
    assert write_video(frames, tmp_path / "auto", fps=5).suffix == ".mp4"


def test_without_ffmpeg_mp4_is_one_clear_error_and_auto_writes_a_gif(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ffmpeg(name, *args, **kwargs):
        if name.startswith("imageio_ffmpeg"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ffmpeg)
    frames = [np.full((10, 12, 3), k * 20, np.uint8) for k in range(5)]
    with pytest.raises(ValueError, match="pip install imageio imageio-ffmpeg"):
        write_video(frames, tmp_path / "x", fmt="mp4")
    assert write_video(frames, tmp_path / "auto", fps=5).suffix == ".gif"


def test_capture_video_records_as_the_agent_learns_and_changes_nothing_about_the_run(tmp_path, capsys):
    import torch

    base = ["train", "rewardgym/Dungeon-Room5x5-v0", "--agent", "ppo", "--steps", "1024", "--no-progress",
            "--num-envs", "2", "--config", "num_steps=64"]
    assert main([*base, "--out", str(tmp_path / "plain")]) == 0
    assert main([*base, "--out", str(tmp_path / "filmed"), "--capture-video", "--video-every", "512",
                 "--video-format", "gif"]) == 0
    assert "videos: " in capsys.readouterr().out
    (plain,), (filmed,) = (list((tmp_path / name).iterdir()) for name in ("plain", "filmed"))
    names = sorted(p.name for p in (filmed / "videos").iterdir())
    assert names == ["train-step1024.gif", "train-step128.gif", "train-step512.gif"]  # first log, every 512, end
    assert not (plain / "videos").exists()
    weights = [torch.load(run / "checkpoints/final/checkpoint.pt", weights_only=True)["policy"]
               for run in (plain, filmed)]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_play_run_shows_the_trained_agent_in_the_terminal(tmp_path, capsys):
    run = _run(tmp_path, "rewardgym/Dungeon-Room5x5-v0", [])
    capsys.readouterr()
    assert main(["play", "--run", run, "--fps", "0", "--episodes", "2", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert out.count("Agent the Wanderer") >= 2 and "episode 1 (seed 4): " in out and "episode 2 (seed 5): " in out


@pytest.mark.parametrize("argv, message", [
    (["play"], "give an env id to play yourself, or --run RUN_DIR"),
    (["play", "rewardgym/Dungeon-Room5x5-v0", "--run", "x"], "give an env id to play yourself, or --run RUN_DIR"),
    (["play", "--run", "no-such-run"], "is not a run folder"),
])
def test_play_argument_errors_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_play_run_of_an_env_without_a_terminal_picture_points_to_eval_video(tmp_path, capsys):
    run = _run(tmp_path, "rewardgym/Manip-Reach-v0", [])
    capsys.readouterr()
    assert main(["play", "--run", run]) == 2
    err = capsys.readouterr().err
    assert "draws no terminal picture" in err and f"rewardgym eval {run} --video" in err


@pytest.mark.parametrize("name, agent", [("bandit_market_v0", "mappo"), ("kitchen_talk_v0", "ppo")])
def test_multi_agent_runs_are_filmed_and_watched_with_every_seat_played_by_the_trained_policy(name, agent, tmp_path,
                                                                                              capsys):
    assert main(["train", name, "--agent", agent, "--steps", "300", "--out", str(tmp_path), "--no-progress"]) == 0
    (run,) = [str(p) for p in tmp_path.iterdir() if p.is_dir()]
    capsys.readouterr()
    assert main(["eval", run, "--episodes", "1", "--video", "--video-format", "gif", "--json"]) == 0
    (video,) = json.loads(capsys.readouterr().out)["videos"]
    frame_size, frames, duration = _gif(video["path"])
    assert frame_size == (640, 336) and duration == (video["length"] + 1) * gif_frame_ms(4)  # the games' 4 fps
    assert main(["play", "--run", run, "--fps", "0"]) == 0
    out = capsys.readouterr().out
    assert f"steps, return {video['return']:.4g}" in out  # the same held-out game, played the same way
    game = __import__("rewardgym.envs.multiagent", fromlist=["make"]).make(name, render_mode="ansi")
    game.reset(seed=0)
    assert game.render().splitlines()[0] in out  # the game's own picture, every seat in it

