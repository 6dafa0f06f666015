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

from rewardgym.envs.manipulation import scene
from rewardgym.envs.manipulation.scene import GRIP_LOW, TABLE_TOP
from rewardgym.envs.manipulation.tasks import (CubeTask, DrawerOpenTask, GripperTask, PickPlaceTask, PushTask,
                                               ReachTask, StackTask)

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


class PickExpert(GripperExpert):
    """Grasp the cube from above and carry it to the goal; for stacking, lower it on and let go.

    Like the others it plans from the current state alone: above the cube with the fingers
    open, down around it, close; once the cube is held, up to a carrying height, over the goal,
    down to it. With ``release`` (stacking) it opens the fingers once the cube sits at the goal
    and lifts away; otherwise (pick-and-place) it holds the cube there.
    """

    hover = 0.08  # grip point above the cube's centre while lining up
    align_tolerance = 0.006
    done_distance = 0.008

    def __init__(self, env: Any, release: bool = False):
        super().__init__(env)
        self.release = release

    def holding(self, cube: np.ndarray, grip: np.ndarray) -> bool:
        task: CubeTask = self.task
        close = np.linalg.norm(cube[:2] - grip[:2]) < 0.015 and abs(cube[2] - grip[2]) < 0.02
        return bool(close and task.finger_opening() < 2 * task.cube_half_size + 0.004)

    def plan(self) -> tuple[np.ndarray, float]:
        task: CubeTask = self.task
        grip, cube, goal = task.grip_position(), task.object_position("cube"), self.env.goal
        low = max(cube[2], GRIP_LOW)
        if np.linalg.norm(cube - goal) < self.done_distance and (self.release or self.holding(cube, grip)):
            if not self.release:
                return task.mocap_position(), CLOSED  # hold it at the goal
            if task.finger_opening() < 2 * task.cube_half_size + 0.01 and grip[2] < cube[2] + 0.02:
                return task.mocap_position(), OPEN  # let go where it is, then lift clear
            return np.array([*grip[:2], goal[2] + self.hover]), OPEN
        if self.holding(cube, grip):
            # Carry clear of the table (and, stacking, of the blue cube, to come down onto it).
            carry = max(goal[2], TABLE_TOP + task.cube_half_size + 0.02) + (0.05 if self.release else 0.0)
            if np.linalg.norm(goal[:2] - cube[:2]) > self.align_tolerance:
                if cube[2] < carry - 0.02:
                    return np.array([*grip[:2], carry]), CLOSED  # lift before crossing
                return np.array([*(grip[:2] + goal[:2] - cube[:2]), carry]), CLOSED
            return grip + (goal - cube), CLOSED
        above = np.array([*cube[:2], low + self.hover])
        if np.linalg.norm(grip[:2] - cube[:2]) > self.align_tolerance:
            if grip[2] < low + 0.05:
                return np.array([*grip[:2], low + self.hover]), OPEN  # rise before moving over
            return above, OPEN
        if grip[2] > low + 0.004:
            return np.array([*cube[:2], low]), OPEN  # straight down around the cube
        return np.array([*cube[:2], low]), CLOSED


class DrawerExpert(GripperExpert):
    """Hook the closed fingers behind the handle bar and pull the drawer out to the goal.

    From the current state alone: line up above the gap between the drawer front and the bar,
    come down into it, then draw the grip point out until the handle is at the goal.
    """

    hover = 0.07
    done_distance = 0.006

    def plan(self) -> tuple[np.ndarray, float]:
        task: DrawerOpenTask = self.task
        grip, handle, goal = task.grip_position(), task.handle_position(), self.env.goal
        gap_middle = 0.5 * (scene.HANDLE_GAP[0] + scene.HANDLE_GAP[1]) - scene.HANDLE_OFFSET[0]  # relative to bar
        hooked_x = handle[0] + gap_middle
        in_gap = abs(grip[1] - handle[1]) < 0.02 and abs(grip[2] - handle[2]) < 0.012 \
            and handle[0] + (scene.CABINET_FRONT - scene.HANDLE_OFFSET[0]) < grip[0] < handle[0]
        if goal[0] - handle[0] < self.done_distance:
            return task.mocap_position(), CLOSED
        if in_gap:
            # Pull: the fingers' far face drags the bar; aim so the handle ends at the goal.
            pull = min(goal[0] - handle[0], 0.03)
            return np.array([grip[0] + pull, handle[1], handle[2]]), CLOSED
        start = np.array([hooked_x, handle[1], handle[2]])
        if np.linalg.norm(grip[:2] - start[:2]) > 0.006:
            if grip[2] < handle[2] + self.hover - 0.01:
                return np.array([*grip[:2], handle[2] + self.hover]), CLOSED
            return np.array([*start[:2], handle[2] + self.hover]), CLOSED
        return start, CLOSED


EXPERTS: dict[type, Any] = {ReachTask: ReachExpert, PushTask: PushExpert, PickPlaceTask: PickExpert,
                            StackTask: lambda env: PickExpert(env, release=True), DrawerOpenTask: DrawerExpert}


def expert_for(env: Any) -> GripperExpert:
    """The scripted expert for ``env``'s task (a rewardgym manipulation env, wrapped or not)."""
    task = getattr(env.unwrapped, "task", None)
    for cls in type(task).__mro__:
        if cls in EXPERTS:
            return EXPERTS[cls](env)
    what = f"task {type(task).__name__}" if task is not None else type(env.unwrapped).__name__
    raise ValueError(f"no scripted expert for {what}")
