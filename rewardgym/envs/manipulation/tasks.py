"""Manipulation tasks, and the table of them that :mod:`rewardgym.registration` registers.

A :class:`Task` owns everything that differs between problems: its scene, how an episode
starts and where its goal lies, what an action does to the physics, and the state vector.
:class:`~rewardgym.envs.manipulation.env.ManipulationEnv` is the same for every task (physics
stepping, goal rewards, observation modes, rendering, state clone/restore), so a new task —
pick-and-place, stacking, a drawer, a humanoid pose — is a new class added to ``TASK_CLASSES``.

This module does not import mujoco (registration imports it on ``import rewardgym``): tasks
touch the physics only through the ``MjModel``/``MjData`` the env hands to :meth:`Task.bind`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from rewardgym.envs.manipulation import scene
from rewardgym.envs.manipulation.scene import FINGER_RANGE, GRIP_LOW, TABLE_TOP


class Task(ABC):
    """One manipulation problem: its scene, start and goal distributions, action map and state vector.

    Goals are points (``goal_size`` coordinates, metres); an episode succeeds while the
    achieved goal is closer than ``distance_threshold`` to the desired one.
    """

    name: ClassVar[str]
    instruction: ClassVar[str]
    """The goal in words, as ``info["task"]`` gives it to language and vision-language rewards."""
    summary: ClassVar[str]
    """One line for ``rewardgym list``."""
    distance_threshold: ClassVar[float] = 0.05
    goal_size: ClassVar[int] = 3
    action_space: spaces.Box
    observation_size: int

    @abstractmethod
    def mjcf(self, offscreen: tuple[int, int]) -> str:
        """The scene's MJCF; ``offscreen`` is the largest (width, height) it will be rendered at."""

    @abstractmethod
    def bind(self, model: Any, data: Any) -> None:
        """Look up ids and keep views into ``data``, once: the per-step methods then allocate little."""

    @abstractmethod
    def reset(self, rng: np.random.Generator) -> np.ndarray:
        """Write an episode's start into the freshly reset ``data`` and return the goal (drawn from ``rng``)."""

    @abstractmethod
    def apply_action(self, action: np.ndarray) -> None:
        """Set controls (and mocap targets) from a finite float64 action of the right shape."""

    @abstractmethod
    def observation(self, dt: float) -> np.ndarray:
        """The state vector, float64 (``observation_size``,); velocities are per env step (x ``dt``)."""

    @abstractmethod
    def achieved_goal(self) -> np.ndarray:
        """What the goal is compared with, as a new float64 array."""

    def text_adapter(self, env: Any) -> Any:
        """The language interface for ``env`` (see :mod:`rewardgym.envs.manipulation.text`)."""
        from rewardgym.envs.manipulation.text import GripperText

        return GripperText(env)


class GripperTask(Task):
    """Tasks for the Fetch-style gripper over the table.

    Action: ``Box(-1, 1, (4,), float32)``. The first three entries move the gripper's mocap
    target by up to ``max_move`` (5 cm) along x, y, z per env step, clipped to a workspace box
    above the table (the target, not the gripper, integrates the moves, as in Fetch); the fourth
    sets the finger opening: -1 closed, +1 fully open (8 cm between the pads). Finite values
    outside [-1, 1] are clipped, as Gymnasium-Robotics does.

    State vector: grip point position (3), finger positions (2), grip point velocity (3) and
    finger velocities (2), velocities per env step as in Fetch; then, for each object in
    ``objects``: position (3), position relative to the grip point (3), orientation
    quaternion (4), linear (3) and angular (3) velocity per env step.
    """

    objects: ClassVar[tuple[str, ...]] = ()
    """Names of the free bodies the task adds to the scene (each has a free joint of that name)."""
    extra_size: ClassVar[int] = 0
    """Entries a task appends to the state vector after the objects' (see :meth:`extra_observation`)."""
    home: ClassVar[tuple[float, float, float]] = (0.0, 0.0, TABLE_TOP + 0.2)
    max_move: ClassVar[float] = 0.05
    workspace_low = np.array([-0.3, -0.3, GRIP_LOW])
    workspace_high = np.array([0.3, 0.3, TABLE_TOP + 0.4])

    def __init__(self):
        self.action_space = spaces.Box(-1.0, 1.0, (4,), np.float32)
        self.observation_size = 10 + 16 * len(self.objects) + self.extra_size
        self._home = np.array(self.home)
        self._low, self._high = self.workspace_low.tolist(), self.workspace_high.tolist()

    def object_xml(self) -> list[str]:
        """MJCF body snippets of the task's objects (see :func:`scene.cube`)."""
        return []

    def target_xml(self) -> str:
        return scene.target_sphere()

    def mjcf(self, offscreen: tuple[int, int]) -> str:
        return scene.tabletop(self.object_xml(), self.target_xml(), self.home, offscreen)

    def bind(self, model: Any, data: Any) -> None:
        # Slices of data.qpos/qvel are views that stay valid for the life of ``data``
        # (mj_resetData and mj_setState write in place), so per-step reads cost no lookups.
        self.model, self.data = model, data
        qpos, qvel = data.qpos, data.qvel
        grip_q, grip_v = model.joint("gripper").qposadr[0], model.joint("gripper").dofadr[0]
        self._grip_qpos = qpos[grip_q:grip_q + 7]
        self._grip_pos, self._grip_vel = qpos[grip_q:grip_q + 3], qvel[grip_v:grip_v + 3]
        left, right = model.joint("finger_left"), model.joint("finger_right")
        if right.qposadr[0] != left.qposadr[0] + 1 or right.dofadr[0] != left.dofadr[0] + 1:
            raise ValueError("the finger joints must be adjacent in qpos and qvel")
        self._finger_pos = qpos[left.qposadr[0]:left.qposadr[0] + 2]
        self._finger_vel = qvel[left.dofadr[0]:left.dofadr[0] + 2]
        left_act, right_act = model.actuator("finger_left").id, model.actuator("finger_right").id
        if right_act != left_act + 1:
            raise ValueError("the finger actuators must be adjacent")
        self._finger_ctrl = data.ctrl[left_act:left_act + 2]
        self._mocap = data.mocap_pos[model.body("mocap").mocapid[0]]
        self._target = data.mocap_pos[model.body("target").mocapid[0]]
        self._objects = []
        for name in self.objects:
            joint = model.joint(name)
            q, v = joint.qposadr[0], joint.dofadr[0]
            self._objects.append((qpos[q:q + 3], qpos[q + 3:q + 7], qvel[v:v + 3], qvel[v + 3:v + 6], qpos[q:q + 7]))
        self._obs = np.zeros(self.observation_size)

    # -- episode start -----------------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> np.ndarray:
        self._grip_qpos[:] = (*self.home, 1.0, 0.0, 0.0, 0.0)
        self._mocap[:] = self.home
        self._finger_pos[:] = FINGER_RANGE
        self._finger_ctrl[:] = FINGER_RANGE
        self.place_objects(rng)
        goal = self.sample_goal(rng)
        self._target[:] = goal
        return goal

    def place_objects(self, rng: np.random.Generator) -> None:
        """Put the task's objects at their start poses (drawn from ``rng``)."""

    @abstractmethod
    def sample_goal(self, rng: np.random.Generator) -> np.ndarray:
        """The episode's goal point."""

    # -- per step ----------------------------------------------------------------------------
    def apply_action(self, action: np.ndarray) -> None:
        # Plain floats: for four numbers NumPy's per-call overhead would cost more than the maths.
        dx, dy, dz, grip = action.tolist()
        step, low, high, target = self.max_move, self._low, self._high, self._mocap.tolist()
        self._mocap[:] = [min(max(t + step * min(max(d, -1.0), 1.0), lo), hi)
                          for t, d, lo, hi in zip(target, (dx, dy, dz), low, high)]
        self._finger_ctrl[:] = (min(max(grip, -1.0), 1.0) + 1.0) * (0.5 * FINGER_RANGE)

    def observation(self, dt: float) -> np.ndarray:
        out = self._obs
        out[0:3] = self._grip_pos
        out[3:5] = self._finger_pos
        np.multiply(self._grip_vel, dt, out=out[5:8])
        np.multiply(self._finger_vel, dt, out=out[8:10])
        i = 10
        for pos, quat, vel, ang, _ in self._objects:
            out[i:i + 3] = pos
            np.subtract(pos, self._grip_pos, out=out[i + 3:i + 6])
            out[i + 6:i + 10] = quat
            np.multiply(vel, dt, out=out[i + 10:i + 13])
            np.multiply(ang, dt, out=out[i + 13:i + 16])
            i += 16
        self.extra_observation(out[i:], dt)
        return out.copy()

    def extra_observation(self, out: np.ndarray, dt: float) -> None:
        """Write the task's own ``extra_size`` state entries into ``out``."""

    # -- what the experts and the text interface read -----------------------------------------
    def grip_position(self) -> np.ndarray:
        return self._grip_pos.copy()

    def mocap_position(self) -> np.ndarray:
        """Where the gripper is being pulled to (its target integrates the moves exactly)."""
        return self._mocap.copy()

    def finger_opening(self) -> float:
        """Distance between the finger pads (m)."""
        return float(self._finger_pos.sum())

    def gripper_command(self) -> float:
        """The last finger command as an action value in [-1, 1] (so a move can keep the grip as it is)."""
        return float(self._finger_ctrl[0] / (0.5 * FINGER_RANGE) - 1.0)

    def object_position(self, name: str) -> np.ndarray:
        return self._objects[self.objects.index(name)][0].copy()

    def object_descriptions(self) -> dict[str, str]:
        """Object name -> how the text interface calls it."""
        return {}

    def target_description(self) -> str:
        return "the green target"


class ReachTask(GripperTask):
    """Move the grip point to a goal in the air (Fetch Reach): goals within 15 cm of the start on each axis.

    Achieved goal: the grip point. No objects.
    """

    name = "Reach"
    instruction = "move the gripper to the green target"
    summary = "move the gripper to a green target in the air"
    target_range: ClassVar[float] = 0.15

    def sample_goal(self, rng: np.random.Generator) -> np.ndarray:
        return self._home + rng.uniform(-self.target_range, self.target_range, size=3)

    def achieved_goal(self) -> np.ndarray:
        return self._grip_pos.copy()


class CubeTask(GripperTask):
    """Base of the tasks with a red cube on the table: where it starts, and the cube as the achieved goal.

    The cube (5 cm, 100 g) starts within ``obj_range`` of the gripper on x and y but at least
    ``min_start_distance`` from it, square to the fingers.
    """

    objects = ("cube",)
    cube_half_size: ClassVar[float] = 0.025
    obj_range: ClassVar[float] = 0.15
    target_range: ClassVar[float] = 0.15
    min_start_distance: ClassVar[float] = 0.1

    def object_xml(self) -> list[str]:
        return [scene.cube("cube", scene.RED, self.cube_half_size)]

    def place_objects(self, rng: np.random.Generator) -> None:
        self._place("cube", self._free_spot(rng, []))

    def _free_spot(self, rng: np.random.Generator, taken: list[np.ndarray]) -> np.ndarray:
        """A start (x, y) on the table at least ``min_start_distance`` from the gripper and from ``taken``."""
        home = self._home[:2]
        while True:
            xy = home + rng.uniform(-self.obj_range, self.obj_range, size=2)
            if all(np.linalg.norm(xy - other) >= self.min_start_distance for other in (home, *taken)):
                return xy

    def _place(self, name: str, xy: np.ndarray) -> None:
        self._objects[self.objects.index(name)][4][:] = (*xy, TABLE_TOP + self.cube_half_size, 1.0, 0.0, 0.0, 0.0)

    def achieved_goal(self) -> np.ndarray:
        return self._objects[0][0].copy()

    def object_descriptions(self) -> dict[str, str]:
        return {"cube": "the red cube"}


class PushTask(CubeTask):
    """Push a red cube onto a green disc on the table (Fetch Push).

    The goal lies within 15 cm of the gripper's start, at the resting cube's centre height.
    Achieved goal: the cube's centre.
    """

    name = "Push"
    instruction = "push the red cube onto the green target"
    summary = "push a red cube onto a green target on the table"

    def target_xml(self) -> str:
        return scene.target_disc(radius=self.distance_threshold)

    def sample_goal(self, rng: np.random.Generator) -> np.ndarray:
        xy = self._home[:2] + rng.uniform(-self.target_range, self.target_range, size=2)
        return np.array([*xy, TABLE_TOP + self.cube_half_size])


class PickPlaceTask(CubeTask):
    """Pick the red cube up and hold it at a green target (Fetch PickAndPlace).

    The goal lies within 15 cm of the gripper's start on x and y; with probability
    ``air_probability`` it is up to ``max_lift`` (20 cm) above the resting cube, otherwise on the
    table, where pushing would do. Achieved goal: the cube's centre.
    """

    name = "PickPlace"
    instruction = "pick up the red cube and move it to the green target"
    summary = "pick up a red cube and hold it at a green target, often in the air"
    air_probability: ClassVar[float] = 0.5
    max_lift: ClassVar[float] = 0.2

    def sample_goal(self, rng: np.random.Generator) -> np.ndarray:
        xy = self._home[:2] + rng.uniform(-self.target_range, self.target_range, size=2)
        lift = rng.uniform(0.0, self.max_lift) if rng.uniform() < self.air_probability else 0.0
        return np.array([*xy, TABLE_TOP + self.cube_half_size + lift])


class StackTask(CubeTask):
    """Stack the red cube on the blue one.

    Both cubes start on the table at least 10 cm apart and from the gripper; the goal is the
    point where the red cube's centre rests on the blue cube as it starts. The blue cube is
    heavy (1 kg) so that brushing it does not move the goal away. No marker is drawn.
    Achieved goal: the red cube's centre.
    """

    name = "Stack"
    instruction = "stack the red cube on top of the blue cube"
    summary = "put a red cube on top of a blue cube"
    objects = ("cube", "base")

    def object_xml(self) -> list[str]:
        return [scene.cube("cube", scene.RED, self.cube_half_size),
                scene.cube("base", scene.BLUE, self.cube_half_size, mass=1.0)]

    def target_xml(self) -> str:
        return scene.invisible_target()

    def place_objects(self, rng: np.random.Generator) -> None:
        cube = self._free_spot(rng, [])
        self._place("cube", cube)
        self._place("base", self._free_spot(rng, [cube]))

    def sample_goal(self, rng: np.random.Generator) -> np.ndarray:
        return self._objects[1][0] + (0.0, 0.0, 2 * self.cube_half_size)

    def object_descriptions(self) -> dict[str, str]:
        return {"cube": "the red cube", "base": "the blue cube"}

    def target_description(self) -> str:
        return "the top of the blue cube"


class DrawerOpenTask(GripperTask):
    """Pull a drawer open by a drawn amount, by its handle (Meta-World's drawer-open, goal-conditioned).

    A cabinet stands at the back of the table (its y drawn within ``cabinet_range``) with a blue
    drawer that slides out towards the gripper. The goal is where the handle is when the drawer
    is out by a distance drawn from ``opening_range`` (12 to 20 cm); a green marker shows it.
    Achieved goal: the handle's centre. The state vector appends the handle position (3), its
    position relative to the grip point (3), the drawer's opening (1) and its velocity per step (1).
    """

    name = "DrawerOpen"
    instruction = "open the drawer"
    summary = "pull a drawer open by its handle"
    extra_size = 8
    cabinet_x: ClassVar[float] = -0.2
    cabinet_range: ClassVar[float] = 0.12
    opening_range: ClassVar[tuple[float, float]] = (0.12, 0.2)

    def object_xml(self) -> list[str]:
        return [scene.cabinet()]

    def target_xml(self) -> str:
        return scene.target_sphere(radius=0.015)

    def bind(self, model: Any, data: Any) -> None:
        super().bind(model, data)
        joint = model.joint("drawer")
        self._drawer_q = data.qpos[joint.qposadr[0]:joint.qposadr[0] + 1]
        self._drawer_v = data.qvel[joint.dofadr[0]:joint.dofadr[0] + 1]
        self._cabinet = data.mocap_pos[model.body("cabinet").mocapid[0]]
        self._handle_offset = np.array(scene.HANDLE_OFFSET)

    def place_objects(self, rng: np.random.Generator) -> None:
        self._cabinet[:] = (self.cabinet_x, rng.uniform(-self.cabinet_range, self.cabinet_range), TABLE_TOP)
        self._drawer_q[:] = 0.0

    def sample_goal(self, rng: np.random.Generator) -> np.ndarray:
        return self.handle_position(opening=rng.uniform(*self.opening_range))

    def handle_position(self, opening: float | None = None) -> np.ndarray:
        """The handle bar's centre, with the drawer as it is or opened by ``opening`` metres."""
        out = self._cabinet + self._handle_offset
        out[0] += self.opening() if opening is None else opening
        return out

    def opening(self) -> float:
        """How far the drawer is out (m)."""
        return float(self._drawer_q[0])

    def achieved_goal(self) -> np.ndarray:
        return self.handle_position()

    def extra_observation(self, out: np.ndarray, dt: float) -> None:
        handle = self.handle_position()
        out[0:3] = handle
        np.subtract(handle, self._grip_pos, out=out[3:6])
        out[6] = self._drawer_q[0]
        out[7] = self._drawer_v[0] * dt

    def object_position(self, name: str) -> np.ndarray:
        if name == "handle":
            return self.handle_position()
        return super().object_position(name)

    def object_descriptions(self) -> dict[str, str]:
        return {"handle": "the drawer's handle"}

    def target_description(self) -> str:
        return "the green marker (where the handle goes)"


TASK_CLASSES: dict[str, type[Task]] = {"Reach": ReachTask, "Push": PushTask, "PickPlace": PickPlaceTask,
                                        "Stack": StackTask, "DrawerOpen": DrawerOpenTask}


def make_task(task: str | Task) -> Task:
    """A task instance from its name (``"Reach"``, ``"Push"``) or an instance."""
    if isinstance(task, Task):
        return task
    if task not in TASK_CLASSES:
        raise ValueError(f"unknown manipulation task {task!r}; known: {', '.join(TASK_CLASSES)}")
    return TASK_CLASSES[task]()


# name -> (description, kwargs): each task sparse (0 within 5 cm, else -1) and dense (minus the distance).
TASKS: dict[str, tuple[str, dict]] = {
    f"{name}{suffix}": (f"{cls.summary}; {reward}", {"task": name, "reward_type": reward_type})
    for name, cls in TASK_CLASSES.items()
    for suffix, reward_type, reward in (("", "sparse", "reward 0 within 5 cm, else -1"),
                                        ("Dense", "dense", "reward: minus the distance"))
}
