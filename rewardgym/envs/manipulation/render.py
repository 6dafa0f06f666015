"""Headless rendering: MuJoCo's OpenGL backend, and cameras drawn into uint8 images.

MuJoCo reads ``MUJOCO_GL`` once, when ``mujoco`` is first imported, so this module chooses
the backend before it imports mujoco (and every manipulation module that needs mujoco imports
this one first). When ``MUJOCO_GL`` is unset on Linux it becomes ``egl`` if libEGL is present
(GPU or Mesa's software driver, no display needed), else ``osmesa`` if libOSMesa is; a value
the user set is never changed. If mujoco was imported before this module, its backend is
already fixed and is left alone.
"""

from __future__ import annotations

import ctypes.util
import os
import sys

import numpy as np


def choose_gl_backend() -> str | None:
    """Set ``MUJOCO_GL`` for headless rendering when it is unset; returns the backend in effect (or None)."""
    if "MUJOCO_GL" in os.environ:
        return os.environ["MUJOCO_GL"]
    if "mujoco" in sys.modules or not sys.platform.startswith("linux"):
        return None  # too late to choose, or macOS/Windows, whose native contexts need no choice
    # PyOpenGL must agree with MuJoCo's backend: mujoco.egl and mujoco.osmesa refuse to load
    # when PYOPENGL_PLATFORM names another platform.
    platform = os.environ.get("PYOPENGL_PLATFORM", "").lower()
    for backend, library in (("egl", "EGL"), ("osmesa", "OSMesa")):
        if platform in ("", backend) and ctypes.util.find_library(library):
            os.environ["MUJOCO_GL"] = backend
            return backend
    return None


GL_BACKEND = choose_gl_backend()

import mujoco  # noqa: E402  (after the backend is chosen)

# OpenGL drivers (Mesa's llvmpipe threads, GPU EGL) do not survive fork(): a child forked from
# a process that has rendered hangs when it renders. Gymnasium's AsyncVectorEnv forks by
# default on Linux, so such a child gets a clear error instead.
_rendered_in_this_process = False
_forked_after_rendering = False


def _after_fork_in_child() -> None:
    global _forked_after_rendering
    _forked_after_rendering = _forked_after_rendering or _rendered_in_this_process


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class CameraRenderer:
    """Draws named cameras of one model into ``(height, width, 3)`` uint8 images with one reused ``mujoco.Renderer``.

    The GL context is made on first use, so an env that never renders (state observations
    in a vector env's worker) never touches OpenGL.
    """

    def __init__(self, model: mujoco.MjModel, width: int, height: int):
        self.model, self.width, self.height = model, width, height
        self._renderer: mujoco.Renderer | None = None

    def render(self, data: mujoco.MjData, camera: int) -> np.ndarray:
        if self._renderer is None:
            if _forked_after_rendering:
                raise RuntimeError(
                    "this process was forked from one that had already rendered with OpenGL, which cannot "
                    "work; start vector env workers with spawn or forkserver, e.g. gym.make_vec(..., "
                    "vectorization_mode='async', vector_kwargs={'context': 'forkserver'})")
            global _rendered_in_this_process
            _rendered_in_this_process = True
            try:
                self._renderer = mujoco.Renderer(self.model, height=self.height, width=self.width, max_geom=1000)
            except (ImportError, RuntimeError, mujoco.FatalError) as error:
                raise RuntimeError(
                    f"MuJoCo could not render (MUJOCO_GL={os.environ.get('MUJOCO_GL')!r}: {error}). Headless "
                    "rendering needs libEGL or libOSMesa (apt install libegl1 libgl1-mesa-dri libosmesa6), and "
                    "MUJOCO_GL must be set (or rewardgym's manipulation env imported) before mujoco is.") from error
        self._renderer.update_scene(data, camera=camera)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

