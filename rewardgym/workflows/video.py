"""Videos of an agent playing: episodes rendered frame by frame and written as GIF or MP4.

Frames come from the env's ``rgb_array`` render; an env that only renders ``ansi`` (the bandits,
the text worlds) is drawn as a terminal, its text in the dungeon's bitmap font, so every family
gives a video. The file is a GIF (Pillow, always installed) unless MP4 is asked for and
``imageio`` with its ffmpeg plugin is installed (``pip install imageio imageio-ffmpeg``).

The agent acts as in evaluation, on a vector env of one (what every agent's ``act`` takes),
deterministically where it has a mode, so a video draws nothing from the agent's random
generators and recording one in the middle of training changes nothing about the run.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FORMATS", "VideoCapture", "record_episodes", "render_modes", "render_settings", "text_frame",
           "write_video"]

FORMATS = ("auto", "gif", "mp4")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TEXT_ROWS, TEXT_COLS = 24, 80
WHITE = 7  # the palette's light grey


def text_frame(text: str, rows: int = TEXT_ROWS, cols: int = TEXT_COLS) -> np.ndarray:
    """A terminal picture of ``text`` (ANSI colours dropped): its last ``rows`` lines, each wrapped at
    ``cols`` characters, drawn in the dungeon's font — ``(rows * 14, cols * 8, 3)`` uint8."""
    from rewardgym.envs.dungeon.render import rgb_frames

    lines: list[str] = []
    for line in _ANSI.sub("", str(text)).splitlines() or [""]:
        lines += textwrap.wrap(line, cols, replace_whitespace=False, drop_whitespace=False) or [""]
    lines = lines[-rows:]
    chars = np.full((1, rows, cols), ord(" "), np.uint8)
    for r, line in enumerate(lines):
        data = line.encode("latin-1", "replace")[:cols]
        chars[0, r, : len(data)] = np.frombuffer(data, np.uint8)
    return rgb_frames(chars, np.full((1, rows, cols), WHITE, np.uint8))[0]


def first_render(env) -> np.ndarray | str:
    """The first env's picture from a vector env's render: an (H, W, 3) uint8 image, or text."""
    frame = env.render()
    if isinstance(frame, (tuple, list)):
        frame = frame[0]
    if isinstance(frame, np.ndarray) and frame.ndim == 4:
        frame = frame[0]
    if isinstance(frame, str):
        return frame
    if isinstance(frame, np.ndarray) and frame.ndim == 3 and frame.shape[2] in (3, 4):
        return np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
    raise ValueError(f"render() gave {type(frame).__name__}, not an image or text")


def render_modes(env_id: str, env_kwargs: dict[str, Any] | None = None) -> tuple[list[str], float]:
    """``(render modes, frames per second)`` of an env built with ``env_kwargs`` (a multi-agent one: its
    game's, every seat in one picture); ValueError, in one line, for an env that cannot be built."""
    import gymnasium as gym

    from rewardgym.envs.multiagent import ENVS as MULTIAGENT
    from rewardgym.envs.multiagent import make as make_multiagent

    if env_id.removeprefix("rewardgym/") in MULTIAGENT:
        try:
            game = make_multiagent(env_id, **(env_kwargs or {}))
        except (TypeError, ValueError) as exc:
            raise ValueError(str(exc).splitlines()[0]) from None
        return list(game.metadata.get("render_modes", [])), float(game.metadata.get("render_fps") or 4)
    try:
        env = gym.make(env_id, **(env_kwargs or {}))
    except (gym.error.Error, TypeError, ValueError) as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    try:
        return list(env.metadata.get("render_modes", [])), float(env.metadata.get("render_fps") or 10)
    finally:
        env.close()


def render_settings(env_id: str, env_kwargs: dict[str, Any] | None = None) -> tuple[str, float]:
    """``(render mode, frames per second)`` for a video: ``rgb_array`` when the env draws pictures, else
    ``ansi``; ValueError when it renders neither."""
    modes, fps = render_modes(env_id, env_kwargs)
    for mode in ("rgb_array", "ansi"):
        if mode in modes:
            return mode, fps
    raise ValueError(f"{env_id} renders neither rgb_array nor ansi (its modes: {modes}): no video")


def record_episodes(agent, make_env, episodes: int = 1, seed: int = 0, max_frames: int = 1000,
                    on_frame: Callable[[Any], None] | None = None) -> list[dict[str, Any]]:
    """Play ``episodes`` episodes with ``agent`` on the vector env of one that ``make_env()`` builds (with a
    render mode), each from seed ``seed + k``; each gives ``{"frames", "return", "length", "success", "cut"}``.

    Frames are images (text renders drawn as a terminal); with ``on_frame``, each render goes to it as
    it comes (text as text) and ``frames`` stays empty. An episode longer than ``max_frames`` frames
    is cut there (``"cut": True``).
    """
    mode = {"deterministic": True} if "deterministic" in inspect.signature(agent.act).parameters else {}
    out = []
    env = make_env()
    try:
        for k in range(episodes):
            obs, info = env.reset(seed=seed + k)
            frames: list[np.ndarray] = []
            total, length, success, cut, done = 0.0, 0, None, False, False
            while True:
                picture = first_render(env)  # after the reset, then after each step, the last one included
                if on_frame is not None:
                    on_frame(picture)
                else:
                    frames.append(text_frame(picture) if isinstance(picture, str) else picture)
                if done:
                    if "success" in info:
                        success = bool(np.asarray(info["success"])[0])
                    break
                if length + 1 >= max_frames:
                    cut = True
                    break
                action = agent.act(obs, info=info, **mode)
                obs, reward, terminated, truncated, info = env.step(action)
                total += float(np.mean(reward))  # one env's; a multi-agent game's rows: the seats' mean
                length += 1
                done = bool(terminated[0] or truncated[0])
            out.append({"frames": frames, "return": total, "length": length, "success": success, "cut": cut})
    finally:
        env.close()
    return out


def write_video(frames: list[np.ndarray], path: str | Path, fps: float = 10.0, fmt: str = "auto") -> Path:
    """Write ``frames`` to ``path`` (its suffix set by the format): MP4 through imageio when ``fmt`` is
    ``mp4``, or ``auto`` and imageio's ffmpeg plugin is installed; else an animated GIF."""
    if fmt not in FORMATS:
        raise ValueError(f"video format must be one of {FORMATS}, got {fmt!r}")
    if not frames:
        raise ValueError("no frames to write")
    path = Path(path)
    if fmt in ("auto", "mp4") and _has_ffmpeg():
        import imageio.v3 as iio

        path = path.with_suffix(".mp4")
        path.parent.mkdir(parents=True, exist_ok=True)
        # even sides: what H.264's usual pixel format requires
        h, w = (frames[0].shape[0] // 2) * 2, (frames[0].shape[1] // 2) * 2
        # macro_block_size=2: keep the frame's size (imageio's default of 16 rescales other sizes)
        iio.imwrite(path, np.stack([f[:h, :w] for f in frames]), fps=fps, codec="libx264", macro_block_size=2)
        return path
    if fmt == "mp4":
        raise ValueError("MP4 needs imageio and its ffmpeg plugin: pip install imageio imageio-ffmpeg "
                         "(or leave the format to auto for a GIF)")
    from PIL import Image

    path = path.with_suffix(".gif")
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [Image.fromarray(frame) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=gif_frame_ms(fps), loop=0,
                   optimize=False)
    return path


def gif_frame_ms(fps: float) -> int:
    """A GIF frame's display time: GIF counts in hundredths of a second, and players show less than 2 poorly."""
    return max(2, round(100 / fps)) * 10


def _has_ffmpeg() -> bool:
    try:
        import imageio.v3  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


class VideoCapture:
    """A training callback (``train --capture-video``): one episode of the agent recorded to
    ``out_dir/train-step<N>.<ext>`` at the first log, whenever the step count passes another
    ``every`` steps, and (:meth:`finish`) at the end. Each recording plays from ``seed``, so the
    videos show the same start as the agent learns."""

    def __init__(self, agent, make_env, out_dir: str | Path, every: int, seed: int, fps: float, fmt: str = "auto"):
        self.agent, self.make_env, self.out_dir = agent, make_env, Path(out_dir)
        self.every, self.seed, self.fps, self.fmt = int(every), int(seed), float(fps), fmt
        self.next_step = 0
        self.paths: list[Path] = []
        self._last_step: int | None = None

    def __call__(self, metrics: dict[str, float]) -> None:
        step = int(metrics.get("step", 0))
        if step >= self.next_step:
            self.record(step)
            self.next_step = (step // self.every + 1) * self.every

    def finish(self, step: int) -> None:
        """The end of training: record unless this step was just recorded."""
        if step != self._last_step:
            self.record(step)

    def record(self, step: int) -> Path:
        (episode,) = record_episodes(self.agent, self.make_env, 1, self.seed)
        path = write_video(episode["frames"], self.out_dir / f"train-step{step}", fps=self.fps, fmt=self.fmt)
        self.paths.append(path)
        self._last_step = step
        return path
