"""Scripted experts: near-perfect controllers for demonstrations, progress-model data and tests.

An expert reads the unwrapped env's physics (not the observation), so it works under any
observation mode::

    env = gym.make("rewardgym/Manip-Push-v0")
    expert = expert_for(env)
    obs, info = env.reset(seed=1_000_000)
    while True:
        obs, reward, terminated, truncated, info = env.step(expert.act(obs))
        if terminated or truncated:
            break

Experts steer the gripper's mocap target, which follows the commanded moves exactly, so a
proportional step of ``(target - mocap) / max_move`` lands on the target without overshoot.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardgym.envs.manipulation.scene import GRIP_LOW
from rewardgym.envs.manipulation.tasks import GripperTask, PushTask, ReachTask

OPEN, CLOSED = 1.0, -1.0


class GripperExpert:
    """Base for the gripper tasks: ``act(obs)`` returns a float32 action of the task's shape."""

    def __init__(self, env: Any):
        self.env = env.unwrapped
        self.task: GripperTask = self.env.task

    def act(self, obs: Any = None) -> np.ndarray:
        target, grip = self.plan()
        move = (target - self.task.mocap_position()) / self.task.max_move
        return np.array([*np.clip(move, -1.0, 1.0), grip], dtype=np.float32)

    def plan(self) -> tuple[np.ndarray, float]:
        """Where the grip point should go next, and the finger command."""
        raise NotImplementedError


class ReachExpert(GripperExpert):
    """Straight to the goal with the fingers open."""

    def plan(self) -> tuple[np.ndarray, float]:
        return self.env.goal, OPEN


class PushExpert(GripperExpert):
    """Closed fingers behind the cube, on the line from the goal through the cube, then push along it.

    The plan is remade every step from the cube's current position, so a cube that turns or
    drifts sideways is pushed back onto the line; when the gripper is off the line it lifts
    clear of the cube, goes round to the far side and comes down again.
    """

    clear_height = GRIP_LOW + 0.07  # finger tips above the cube's top
    standoff = 0.05  # grip point to cube centre when lined up, before contact
    lateral_tolerance = 0.012
    push_step = 0.02
    done_distance = 0.015

    def plan(self) -> tuple[np.ndarray, float]:
        task: PushTask = self.task
        grip = task.grip_position()
        cube = task.object_position("cube")
        goal = self.env.goal
        to_goal = goal[:2] - cube[:2]
        distance = float(np.linalg.norm(to_goal))
        if distance < self.done_distance:
            return grip, CLOSED  # close enough: stay, do not nudge it past
        u = to_goal / distance
        rel = grip[:2] - cube[:2]
        along = float(rel @ u)
        lateral = float(np.linalg.norm(rel - along * u))
        low = GRIP_LOW
        behind = cube[:2] - self.standoff * u

        if along < -0.03 and lateral < self.lateral_tolerance and grip[2] < low + 0.015:
            # In contact position: advance along the line, re-centred on the cube each step.
            xy = cube[:2] - (task.cube_half_size + 0.012) * u + min(distance, self.push_step) * u
            xy -= (rel - along * u) * 0.5  # steer back onto the line
            return np.array([*xy, low]), CLOSED
        off_line = float(np.linalg.norm(grip[:2] - behind))
        if off_line > 0.01:
            if grip[2] < self.clear_height - 0.01 and off_line > 0.02:
                return np.array([*grip[:2], self.clear_height]), CLOSED  # lift before going round the cube
            return np.array([*behind, max(grip[2], self.clear_height) if off_line > 0.02 else grip[2]]), CLOSED
        return np.array([*behind, low]), CLOSED


EXPERTS: dict[type, type[GripperExpert]] = {ReachTask: ReachExpert, PushTask: PushExpert}


def expert_for(env: Any) -> GripperExpert:
    """The scripted expert for ``env``'s task (a rewardgym manipulation env, wrapped or not)."""
    task = env.unwrapped.task
    for cls in type(task).__mro__:
        if cls in EXPERTS:
            return EXPERTS[cls](env)
    raise ValueError(f"no scripted expert for task {type(task).__name__}")
