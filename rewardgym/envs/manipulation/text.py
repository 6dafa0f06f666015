"""The gripper tasks in words: positions described relative to the gripper, commands parsed into actions.

Directions are those of the ``front`` camera's view: x towards the viewer ("forward"),
y to the right, z up. Commands (case-insensitive, optionally inside ``<answer>...</answer>``):

    move 0.1 0 -0.05          move by (dx, dy, dz) metres; "cm" after the numbers means centimetres
    move left 0.03 up 0.02    one or more direction-distance pairs (left, right, forward, back, up, down)
    open / close              open or close the fingers, without moving
    wait                      do nothing for one step

A move keeps the fingers as they are and goes at most 5 cm along each axis per step; longer
moves are cut to that, so "move 0.1 0 0" takes two steps to complete.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from rewardgym.envs.language import InvalidCommand, answer_in
from rewardgym.envs.manipulation.scene import TABLE_TOP

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?"
_UNIT = r"(?:\s*(cm|m)\b)?"
_MOVE_XYZ = re.compile(rf"^(?:move|go)\s*\(?\s*({_NUMBER}){_UNIT}\s*[, ]\s*({_NUMBER}){_UNIT}\s*[, ]\s*"
                       rf"({_NUMBER}){_UNIT}\s*\)?\s*(cm|m)?$")
_DIRECTIONS = {"forward": (0, 1.0), "back": (0, -1.0), "backward": (0, -1.0), "right": (1, 1.0),
               "left": (1, -1.0), "up": (2, 1.0), "down": (2, -1.0)}
_STEP = re.compile(rf"({'|'.join(_DIRECTIONS)})\s+({_NUMBER})\s*(cm|m)?\b")
_MOVE_WORDS = re.compile(rf"^(?:move|go)\s+((?:(?:{'|'.join(_DIRECTIONS)})\s+{_NUMBER}\s*(?:cm|m)?\s*(?:,|and)?\s*)+)$")
_SIMPLE = {"open": 1.0, "open gripper": 1.0, "open the gripper": 1.0, "release": 1.0,
           "close": -1.0, "close gripper": -1.0, "close the gripper": -1.0, "grasp": -1.0, "grip": -1.0}
_WAIT = {"wait", "stay", "noop", "do nothing"}

HELP = "Try 'move 0.05 0 -0.02' (metres: forward, right, up), 'move left 0.03', 'open', 'close' or 'wait'."


def _metres(value: str, unit: str | None) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise InvalidCommand(f"{value} is not a distance. {HELP}")
    return number / 100.0 if unit == "cm" else number


def _relation(delta: np.ndarray) -> str:
    """Where something lies relative to the gripper, in words ("12 cm left of and 5 cm below")."""
    words = []
    for value, positive, negative in zip(delta, ("in front of", "right of", "above"),
                                         ("behind", "left of", "below")):
        cm = round(abs(value) * 100)
        if cm >= 1:
            words.append(f"{cm} cm {positive if value > 0 else negative}")
    if not words:
        return "at the gripper"
    return (", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]) + " the gripper"


def _xyz(p: np.ndarray) -> str:
    return f"({p[0]:+.3f}, {p[1]:+.3f}, {p[2]:.3f}) m"


class GripperText:
    """The :class:`~rewardgym.envs.language.TextAdapter` of a gripper task (reads the env's state)."""

    def __init__(self, env: Any):
        self.env = env.unwrapped
        self.task = self.env.task

    def instruction(self) -> str:
        return (f"Task: {self.task.instruction}. You control a robot gripper above a table, seen from the front: "
                "x points towards you (forward), y to your right, z up. Answer each turn with one command: "
                "'move DX DY DZ' moves the gripper by that many metres (at most 0.05 per axis per turn), "
                "'move left 0.03' moves along one direction (left, right, forward, back, up, down), "
                "'open' or 'close' opens or closes the fingers, 'wait' does nothing.")

    def describe(self, obs: Any = None, info: dict | None = None) -> str:
        task = self.task
        grip = task.grip_position()
        opening = task.finger_opening()
        fingers = "open" if opening > 0.06 else "closed" if opening < 0.005 else "partly closed"
        lines = [f"The gripper is at {_xyz(grip)}, {round((grip[2] - TABLE_TOP) * 100)} cm above the table, "
                 f"fingers {fingers} ({opening * 100:.1f} cm apart)."]
        for name, words in task.object_descriptions().items():
            position = task.object_position(name)
            lines.append(f"{words.capitalize()} is at {_xyz(position)}, {_relation(position - grip)}.")
        goal = self.env.goal
        lines.append(f"{task.target_description().capitalize()} is at {_xyz(goal)}, {_relation(goal - grip)}.")
        distance = float(np.linalg.norm(task.achieved_goal() - goal))
        what = "The gripper" if not task.object_descriptions() else next(iter(task.object_descriptions().values()))
        status = " Done: the goal is reached." if distance < task.distance_threshold else ""
        lines.append(f"{what[0].upper() + what[1:]} is {distance * 100:.0f} cm from the target.{status}")
        return "\n".join(lines)

    def parse(self, text: str) -> np.ndarray:
        """The action ``text`` names, float32 (4,); raises :class:`InvalidCommand` with feedback otherwise."""
        if not isinstance(text, str):
            raise InvalidCommand(f"Expected text, got {type(text).__name__}. {HELP}")
        answer = answer_in(text)
        command = " ".join((text if answer is None else answer).lower().replace(",", " , ").split())
        command = command.strip(" .!")
        grip = self.task.gripper_command()
        if command in _SIMPLE:
            return np.array([0.0, 0.0, 0.0, _SIMPLE[command]], dtype=np.float32)
        if command in _WAIT:
            return np.array([0.0, 0.0, 0.0, grip], dtype=np.float32)
        move = np.zeros(3)
        match = _MOVE_XYZ.match(command.replace(" , ", ", "))
        if match:
            values, units, shared = match.group(1, 3, 5), match.group(2, 4, 6), match.group(7)
            move[:] = [_metres(v, u or shared) for v, u in zip(values, units)]
        else:
            match = _MOVE_WORDS.match(command)
            if not match:
                raise InvalidCommand(f"I don't understand {text.strip()[:60]!r}. {HELP}")
            for direction, value, unit in _STEP.findall(match.group(1)):
                axis, sign = _DIRECTIONS[direction]
                move[axis] += sign * _metres(value, unit)
        step = np.clip(move / self.task.max_move, -1.0, 1.0)
        return np.array([*step, grip], dtype=np.float32)
