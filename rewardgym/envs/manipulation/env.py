"""``ManipulationEnv``: a gripper over a table in MuJoCo, as a goal-conditioned Gymnasium env.

Conventions follow Gymnasium-Robotics' Fetch tasks; what a task changes is in ``tasks.py``.

Observation (``obs_mode``):
    ``"state"`` (default)  ``Dict(observation, achieved_goal, desired_goal)`` of float64 boxes:
                           the task's state vector, and the goal point reached and wanted (3,).
    ``"pixels"``           uint8 ``(height, width, 3)`` from the ``front`` camera; with several
                           ``cameras`` a ``Dict`` with one such image per camera under
                           ``"pixels_<camera>"`` (one image per key, not channels stacked, so
                           CNN encoders and vision-language rewards each get an RGB frame).
    ``"state+pixels"``     the state ``Dict`` plus ``"pixels"`` (or ``"pixels_<camera>"`` each).
Action: the task's; for the gripper tasks ``Box(-1, 1, (4,), float32)``: mocap target moves of
    up to 5 cm per step along x, y, z and the finger opening (-1 closed, +1 open).
Reward: ``reward_type="sparse"``: 0 when the achieved goal is within ``distance_threshold``
    (5 cm) of the desired goal, else -1; ``"dense"``: minus that distance.
    :meth:`ManipulationEnv.compute_reward` gives the same for batches of goals (for HER).
Episode: never terminates; ``gym.make`` adds a 50-step ``TimeLimit`` (truncation).
Info on every step: ``success`` (and ``is_success``, the key SB3 and Gymnasium-Robotics read),
    ``distance`` (m), ``task`` (the instruction).

Seeds: the start and the goal are drawn from the reset seed. Seeds >= 1_000_000 are the held-out
test range (``rewardgym eval`` evaluates on the run seed + 1_000_000); train on smaller seeds.

One physics step is 0.002 s; an env step is ``frame_skip`` (20) of them, 0.04 s.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rewardgym.envs.manipulation.physics import check_action, get_physics, set_physics
from rewardgym.envs.manipulation.render import CameraRenderer, mujoco
from rewardgym.envs.manipulation.tasks import Task, make_task

OBS_MODES = ("state", "pixels", "state+pixels")
CAMERAS = ("front", "wrist")


def goal_distance(achieved_goal, desired_goal) -> np.ndarray:
    """Euclidean distance over the last axis, for one goal or a batch.

    The squares are summed left to right, the order :func:`_distance` uses for one goal in
    plain floats, so a step's reward and :meth:`ManipulationEnv.compute_reward` agree exactly.
    """
    delta = np.subtract(achieved_goal, desired_goal, dtype=np.float64)
    total = delta[..., 0] * delta[..., 0]
    for i in range(1, delta.shape[-1]):
        total = total + delta[..., i] * delta[..., i]
    return np.sqrt(total)


def _distance(achieved_goal: np.ndarray, desired_goal: np.ndarray) -> float:
    total = None
    for a, b in zip(achieved_goal.tolist(), desired_goal.tolist()):
        total = (a - b) * (a - b) if total is None else total + (a - b) * (a - b)
    return math.sqrt(total)


class ManipulationEnv(gym.Env):
    __doc__ = __doc__

    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(self, task: str | Task = "Reach", reward_type: str = "sparse", obs_mode: str = "state",
                 width: int = 64, height: int = 64, cameras: tuple[str, ...] | list[str] = ("front",),
                 frame_skip: int = 20, render_mode: str | None = None):
        if reward_type not in ("sparse", "dense"):
            raise ValueError(f"reward_type must be 'sparse' or 'dense', got {reward_type!r}")
        if obs_mode not in OBS_MODES:
            raise ValueError(f"obs_mode must be one of {OBS_MODES}, got {obs_mode!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        cameras = (cameras,) if isinstance(cameras, str) else tuple(cameras)
        if not cameras or any(c not in CAMERAS for c in cameras) or len(set(cameras)) != len(cameras):
            raise ValueError(f"cameras must be distinct names from {CAMERAS}, got {cameras!r}")
        if int(width) < 1 or int(height) < 1:
            raise ValueError(f"width and height must be positive, got {width}x{height}")
        if int(frame_skip) < 1:
            raise ValueError(f"frame_skip must be >= 1, got {frame_skip}")
        if obs_mode == "state" and cameras != ("front",):
            raise ValueError("cameras choose the pixel observations' views: they do nothing with obs_mode='state' "
                             "(add obs_mode='pixels' or 'state+pixels'; rendering shows the front camera)")

        self.task = make_task(task)
        self.reward_type, self.obs_mode, self.render_mode = reward_type, obs_mode, render_mode
        self.width, self.height, self.frame_skip = int(width), int(height), int(frame_skip)
        self.model = mujoco.MjModel.from_xml_string(
            self.task.mjcf(offscreen=(max(640, self.width), max(480, self.height))))
        self.data = mujoco.MjData(self.model)
        self.task.bind(self.model, self.data)
        self.dt = self.model.opt.timestep * self.frame_skip
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / self.dt))}
        self.distance_threshold = self.task.distance_threshold

        self.action_space = self.task.action_space
        self._camera_ids = {name: self.model.camera(name).id for name in cameras}
        self._pixel_keys = ({"pixels": cameras[0]} if len(cameras) == 1
                            else {f"pixels_{name}": name for name in cameras})
        image = spaces.Box(0, 255, (self.height, self.width, 3), np.uint8)
        goal = spaces.Box(-np.inf, np.inf, (self.task.goal_size,), np.float64)
        state = {"observation": spaces.Box(-np.inf, np.inf, (self.task.observation_size,), np.float64),
                 "achieved_goal": goal, "desired_goal": goal}
        pixels = {key: image for key in self._pixel_keys}
        if obs_mode == "state":
            self.observation_space = spaces.Dict(state)
        elif obs_mode == "pixels":
            self.observation_space = image if len(pixels) == 1 else spaces.Dict(pixels)
        else:
            self.observation_space = spaces.Dict({**state, **pixels})

        self._renderer = CameraRenderer(self.model, self.width, self.height)
        self._goal = np.zeros(self.task.goal_size)
        self._steps = 0
        # After mj_step the positions MuJoCo derives (body poses, cameras) lag the state by one
        # physics step; images need them current, the state vector does not (it reads qpos).
        self._poses_stale = True

    # -- Gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        self._goal[:] = self.task.reset(self.np_random)
        mujoco.mj_forward(self.model, self.data)
        self._poses_stale = False
        self._steps = 0
        achieved = self.task.achieved_goal()
        return self._observe(achieved), self._info(achieved)

    def step(self, action):
        action = check_action(action, self.action_space)
        self.task.apply_action(action)
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        self._poses_stale = True
        self._steps += 1
        achieved = self.task.achieved_goal()
        distance = _distance(achieved, self._goal)
        info = self._info(achieved, distance)
        reward = -distance if self.reward_type == "dense" else float(distance < self.distance_threshold) - 1.0
        return self._observe(achieved), reward, False, False, info

    def compute_reward(self, achieved_goal, desired_goal, info=None) -> np.ndarray:
        """The step reward for goals of shape (..., 3): sparse 0/-1 or dense minus the distance, float64."""
        distance = goal_distance(achieved_goal, desired_goal)
        if self.reward_type == "dense":
            return -distance
        return (distance < self.distance_threshold).astype(np.float64) - 1.0

    def render(self) -> np.ndarray | None:
        """The ``front`` camera as ``(height, width, 3)`` uint8 when ``render_mode="rgb_array"``."""
        if self.render_mode != "rgb_array":
            return None
        return self._image(self.model.camera("front").id)

    def close(self) -> None:
        self._renderer.close()

    # -- state clone / restore ---------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Everything needed to continue exactly from here: physics (MuJoCo's integration state), goal, step, RNG."""
        return {"physics": get_physics(self.model, self.data), "goal": self._goal.copy(), "steps": self._steps,
                "rng": copy.deepcopy(self.np_random.bit_generator.state)}

    def set_state(self, state: dict[str, Any]) -> None:
        goal = np.asarray(state["goal"], dtype=np.float64)
        if goal.shape != self._goal.shape:
            raise ValueError(f"state does not fit this env: goal {goal.shape} (want {self._goal.shape})")
        set_physics(self.model, self.data, state["physics"])
        self._poses_stale = False
        self._goal[:] = goal
        self._steps = int(state["steps"])
        self.np_random.bit_generator.state = copy.deepcopy(state["rng"])

    # -- language interface ------------------------------------------------------------------
    @property
    def text_adapter(self):
        """The language interface (see :class:`rewardgym.wrappers.TextInterface`)."""
        return self.task.text_adapter(self)

    @property
    def goal(self) -> np.ndarray:
        return self._goal.copy()

    @property
    def elapsed_steps(self) -> int:
        return self._steps

    # -- internals ---------------------------------------------------------------------------
    def _info(self, achieved: np.ndarray, distance: float | None = None) -> dict[str, Any]:
        if distance is None:
            distance = _distance(achieved, self._goal)
        success = distance < self.distance_threshold
        return {"success": success, "is_success": success, "distance": distance,
                "task": self.task.instruction}

    def _observe(self, achieved: np.ndarray):
        if self.obs_mode == "pixels":
            return self._pixels() if len(self._pixel_keys) > 1 else self._image(self._camera_ids[
                self._pixel_keys["pixels"]])
        obs = {"observation": self.task.observation(self.dt), "achieved_goal": achieved,
               "desired_goal": self._goal.copy()}
        if self.obs_mode == "state+pixels":
            obs.update(self._pixels())
        return obs

    def _pixels(self) -> dict[str, np.ndarray]:
        return {key: self._image(self._camera_ids[name]) for key, name in self._pixel_keys.items()}

    def _image(self, camera: int) -> np.ndarray:
        self._refresh_poses()
        return self._renderer.render(self.data, camera)

    def _refresh_poses(self) -> None:
        # Kinematics and camera/light poses only: no dynamics, so rendering never changes a trajectory.
        if self._poses_stale:
            mujoco.mj_kinematics(self.model, self.data)
            mujoco.mj_camlight(self.model, self.data)
            self._poses_stale = False
