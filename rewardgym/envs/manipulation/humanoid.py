"""``HumanoidPoseEnv``: a MuJoCo humanoid with no task reward, for poses learnt from a vision-language reward.

The setting of VLM-RM (Rocamonde et al., "Vision-Language Models are Zero-Shot Reward Models
for RL"): the env only simulates and renders; the reward comes from a wrapper that scores
frames against a sentence, e.g. ``rewardgym.wrappers.LearnedReward`` with
``make_reward("clip:goal=a humanoid robot kneeling;baseline=a humanoid robot")`` on an env made
with ``render_mode="rgb_array"`` (the frames it scores come from :meth:`HumanoidPoseEnv.render`).

The humanoid (about 1.45 m, 38 kg) is built in code from capsules and spheres: torso and
head, a pelvis under a one-dof waist, legs with three-dof hips, knees and ankles, arms with
two-dof shoulders and elbows. It faces +x with its left side towards +y. The scene is plain
so that a vision-language model sees the figure and little else: a uniform floor, a uniform
sky, no shadows or reflections (which also keeps software rendering fast).

Observation (``obs_mode``):
    ``"state"`` (default)  float64 ``(45,)``: ``qpos`` without the root's x and y (22: root
                           height, root quaternion, 17 joint angles), then ``qvel`` (23).
    ``"pixels"``           uint8 ``(height, width, 3)`` from the ``track`` camera, which follows
                           the centre of mass and looks at the figure from the front left.
    ``"state+pixels"``     ``Dict(observation=<the state>, pixels=<the image>)``.
Action: ``Box(-1, 1, (17,), float32)``, one torque per joint motor (scaled by its gear, in
    ``ACTUATORS`` order); finite values outside [-1, 1] are clipped.
Reward: always 0.0; wrap the env with a learned reward.
Episode: never terminates (the humanoid must be free to go to the floor); ``gym.make`` adds a
    100-step ``TimeLimit``.
Info on every step: ``success`` (the pose's geometric check, see ``POSES``), ``task`` (the
    pose's sentence), ``pose``, and the measurements the checks read: ``head_height`` (the
    head's centre), ``torso_height`` (the chest, the root body), ``pelvis_height``,
    ``knee_height`` (the lower knee joint), ``hand_height`` (the higher hand), all in metres
    above the floor, and ``torso_upright`` (the cosine of the
    torso's tilt from vertical, 1 upright).

Seeds: the start is the standing pose with joint angles and velocities perturbed uniformly by
``reset_noise_scale``, drawn from the reset seed.

One physics step is 0.003 s; an env step is ``frame_skip`` (5) of them, 0.015 s.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rewardgym.envs.manipulation.physics import check_action, get_physics, set_physics
from rewardgym.envs.manipulation.render import CameraRenderer, mujoco

OBS_MODES = ("state", "pixels", "state+pixels")

TIMESTEP = 0.003
"""Physics step (s); an env step is ``frame_skip`` of these."""

STAND_HEIGHT = 1.16
"""Height of the root (the chest) when standing with the soles on the floor (m)."""

BODY_RGBA = "0.85 0.52 0.28 1"
HEAD_RGBA = "0.92 0.62 0.38 1"
FLOOR_RGBA = "0.62 0.64 0.66 1"
SKY_RGB = "0.82 0.88 0.95"

# (joint, gear): the order of the action vector.
ACTUATORS: tuple[tuple[str, float], ...] = (
    ("abdomen_y", 50.0),
    ("hip_x_right", 50.0), ("hip_z_right", 40.0), ("hip_y_right", 120.0), ("knee_right", 80.0),
    ("ankle_right", 25.0),
    ("hip_x_left", 50.0), ("hip_z_left", 40.0), ("hip_y_left", 120.0), ("knee_left", 80.0),
    ("ankle_left", 25.0),
    ("shoulder_x_right", 15.0), ("shoulder_y_right", 15.0), ("elbow_right", 12.0),
    ("shoulder_x_left", 15.0), ("shoulder_y_left", 15.0), ("elbow_left", 12.0),
)


# -- the model ---------------------------------------------------------------------------------
def _leg(side: str, sign: int) -> str:
    # Positive hip_y swings the thigh forward, positive knee folds the shin back, positive
    # hip_x spreads the leg outwards and positive hip_z turns the toes inwards (hence the
    # side's sign on those axes).
    return f"""\
        <body name="thigh_{side}" pos="0 {0.1 * sign} -0.04" childclass="leg">
          <joint name="hip_x_{side}" axis="{sign} 0 0" range="-0.4 0.8"/>
          <joint name="hip_z_{side}" axis="0 0 {-sign}" range="-0.6 0.6"/>
          <joint name="hip_y_{side}" axis="0 -1 0" range="-0.5 2.2"/>
          <geom name="thigh_{side}" type="capsule" fromto="0 0 0 0 {0.01 * sign} -0.34" size="0.06"/>
          <body name="shin_{side}" pos="0 {0.01 * sign} -0.403">
            <joint name="knee_{side}" axis="0 1 0" range="0 2.6"/>
            <geom name="shin_{side}" type="capsule" fromto="0 0 0 0 0 -0.33" size="0.049"/>
            <body name="foot_{side}" pos="0 0 -0.36">
              <joint name="ankle_{side}" axis="0 1 0" range="-0.8 0.8"/>
              <geom name="foot_{side}" type="capsule" fromto="-0.05 0 -0.05 0.13 0 -0.05" size="0.04"/>
            </body>
          </body>
        </body>"""


def _arm(side: str, sign: int) -> str:
    # Positive shoulder_y raises the arm forwards (pi: overhead), positive shoulder_x sideways,
    # positive elbow bends the forearm forwards.
    return f"""\
      <body name="upper_arm_{side}" pos="0 {0.21 * sign} 0.06">
        <joint name="shoulder_x_{side}" axis="{sign} 0 0" range="-0.4 3.0"/>
        <joint name="shoulder_y_{side}" axis="0 -1 0" range="-1.0 3.1"/>
        <geom name="upper_arm_{side}" type="capsule" fromto="0 0 0 0 0 -0.24" size="0.04"/>
        <body name="lower_arm_{side}" pos="0 0 -0.27">
          <joint name="elbow_{side}" axis="0 -1 0" range="0 2.6"/>
          <geom name="lower_arm_{side}" type="capsule" fromto="0 0 0 0 0 -0.2" size="0.033"/>
          <geom name="hand_{side}" type="sphere" pos="0 0 -0.24" size="0.042"/>
        </body>
      </body>"""


def _look_at(eye: np.ndarray, target: np.ndarray) -> str:
    """MJCF ``xyaxes`` of a camera at ``eye`` looking at ``target`` with z up."""
    forward = (target - eye) / np.linalg.norm(target - eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return " ".join(f"{v:.4f}" for v in (*right, *up))


# The camera is placed relative to the chest; "trackcom" keeps that offset from the
# humanoid's centre of mass as it moves, with a fixed orientation.
_CAMERA_EYE = np.array([1.7, 1.0, 0.1])
_CAMERA_TARGET = np.array([0.0, 0.0, -0.45])

_HUMANOID = """\
<mujoco model="rewardgym_humanoid">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{timestep}" integrator="implicitfast"/>
  <size memory="2M"/>
  <visual>
    <global offwidth="{offwidth}" offheight="{offheight}"/>
    <!-- coarse capsules, and a coarse grid for the floor (its third size): at these image
         sizes they look the same and render several times faster on a software renderer -->
    <quality shadowsize="0" offsamples="0" numslices="12" numstacks="6"/>
    <map znear="0.01" zfar="500"/>
    <headlight ambient="0.35 0.35 0.35" diffuse="0.35 0.35 0.35" specular="0 0 0"/>
    <rgba haze="{sky} 1"/>
  </visual>
  <default>
    <joint damping="2" armature="0.01" solreflimit="0.01 1"/>
    <geom material="body" condim="3" friction="1 0.05 0.05" solref="0.006 1" solimp="0.95 0.99 0.001"/>
    <motor ctrlrange="-1 1"/>
    <default class="leg">
      <joint damping="5" armature="0.02"/>
    </default>
  </default>
  <asset>
    <texture name="sky" type="skybox" builtin="flat" rgb1="{sky}" rgb2="{sky}" width="8" height="8"/>
    <material name="floor" rgba="{floor}" reflectance="0" specular="0"/>
    <material name="body" rgba="{body}" reflectance="0" specular="0.1"/>
    <material name="head" rgba="{head}" reflectance="0" specular="0.1"/>
  </asset>
  <worldbody>
    <light name="key" pos="2 1 4" dir="-0.5 -0.25 -1" directional="true" castshadow="false"
           diffuse="0.5 0.5 0.5" specular="0 0 0"/>
    <geom name="floor" type="plane" size="100 100 10" material="floor"/>
    <body name="torso" pos="0 0 {stand}">
      <freejoint name="root"/>
      <camera name="track" mode="trackcom" pos="{eye}" xyaxes="{xyaxes}" fovy="50"/>
      <geom name="chest" type="capsule" fromto="0 -0.1 0 0 0.1 0" size="0.07"/>
      <geom name="waist" type="capsule" fromto="-0.01 -0.07 -0.13 -0.01 0.07 -0.13" size="0.065"/>
      <geom name="neck" type="capsule" fromto="0 0 0.06 0 0 0.11" size="0.035"/>
      <geom name="head" type="sphere" pos="0 0 0.19" size="0.09" material="head"/>
{arms}
      <body name="pelvis" pos="-0.01 0 -0.26">
        <!-- positive abdomen_y bends the torso forwards over the legs -->
        <joint name="abdomen_y" axis="0 1 0" range="-0.5 1.3" damping="5" armature="0.02"/>
        <geom name="pelvis" type="capsule" fromto="-0.02 -0.06 0 -0.02 0.06 0" size="0.08"/>
{legs}
      </body>
    </body>
  </worldbody>
  <actuator>
{actuators}
  </actuator>
</mujoco>
"""


def humanoid_mjcf(offscreen: tuple[int, int] = (640, 480), timestep: float = TIMESTEP) -> str:
    """The MJCF of the humanoid on a plain floor under a plain sky.

    ``offscreen`` is the (width, height) of the offscreen framebuffer, the largest image any
    renderer of this model may draw.
    """
    return _HUMANOID.format(
        timestep=timestep, offwidth=offscreen[0], offheight=offscreen[1], stand=STAND_HEIGHT,
        sky=SKY_RGB, floor=FLOOR_RGBA, body=BODY_RGBA, head=HEAD_RGBA,
        eye=" ".join(f"{v:g}" for v in _CAMERA_EYE), xyaxes=_look_at(_CAMERA_EYE, _CAMERA_TARGET),
        arms="\n".join((_arm("right", -1), _arm("left", 1))),
        legs="\n".join((_leg("right", -1), _leg("left", 1))),
        actuators="\n".join(f'    <motor name="{joint}" joint="{joint}" gear="{gear:g}"/>'
                            for joint, gear in ACTUATORS),
    )


# -- poses -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pose:
    """A target pose: the sentence a vision-language reward reads, and a geometric check of it.

    ``check`` takes the measurements of :meth:`HumanoidPoseEnv.measure` (heights in metres
    above the floor, ``torso_upright`` the cosine of the torso's tilt) and says whether the
    humanoid is in the pose; ``rule`` states the check in words.
    """

    name: str
    instruction: str
    rule: str
    check: Callable[[Mapping[str, float]], bool]


POSES: dict[str, Pose] = {pose.name: pose for pose in (
    Pose("kneeling", "a humanoid robot kneeling",
         "a knee within 15 cm of the floor, the head above 60 cm, the torso within 45 degrees of upright",
         lambda m: m["knee_height"] < 0.15 and m["head_height"] > 0.6 and m["torso_upright"] > 0.7),
    Pose("standing", "a humanoid robot standing",
         "the head above 1.2 m and the torso within 25 degrees of upright",
         lambda m: m["head_height"] > 1.2 and m["torso_upright"] > 0.9),
    Pose("sitting", "a humanoid robot sitting on the floor",
         "the pelvis within 20 cm of the floor, the head above 45 cm, the torso within 45 degrees of upright",
         lambda m: m["pelvis_height"] < 0.2 and m["head_height"] > 0.45 and m["torso_upright"] > 0.7),
    Pose("arms_raised", "a humanoid robot standing with its arms raised",
         "standing (the head above 1.1 m) with a hand at least 10 cm above the head",
         lambda m: m["head_height"] > 1.1 and m["hand_height"] > m["head_height"] + 0.1),
    Pose("lying_down", "a humanoid robot lying down",
         "the head and the torso both within 25 cm of the floor",
         lambda m: m["head_height"] < 0.25 and m["torso_height"] < 0.25),
)}


# -- the env -----------------------------------------------------------------------------------
class HumanoidPoseEnv(gym.Env):
    __doc__ = __doc__

    metadata = {"render_modes": ["rgb_array"], "render_fps": 67}

    def __init__(self, pose: str = "kneeling", obs_mode: str = "state", width: int = 64, height: int = 64,
                 frame_skip: int = 5, reset_noise_scale: float = 0.01, render_mode: str | None = None):
        if pose not in POSES:
            raise ValueError(f"unknown pose {pose!r}; choose one of {sorted(POSES)}")
        if obs_mode not in OBS_MODES:
            raise ValueError(f"obs_mode must be one of {OBS_MODES}, got {obs_mode!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if int(width) < 1 or int(height) < 1:
            raise ValueError(f"width and height must be positive, got {width}x{height}")
        if int(frame_skip) < 1:
            raise ValueError(f"frame_skip must be >= 1, got {frame_skip}")
        if not (np.isfinite(reset_noise_scale) and reset_noise_scale >= 0):
            raise ValueError(f"reset_noise_scale must be finite and >= 0, got {reset_noise_scale}")

        self.pose = POSES[pose]
        self.obs_mode, self.render_mode = obs_mode, render_mode
        self.width, self.height, self.frame_skip = int(width), int(height), int(frame_skip)
        self.reset_noise_scale = float(reset_noise_scale)
        self.model = mujoco.MjModel.from_xml_string(humanoid_mjcf(offscreen=(max(640, self.width),
                                                                             max(480, self.height))))
        self.data = mujoco.MjData(self.model)
        self.dt = self.model.opt.timestep * self.frame_skip
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / self.dt))}

        self.action_space = spaces.Box(-1.0, 1.0, (self.model.nu,), np.float32)
        state = spaces.Box(-np.inf, np.inf, (self.model.nq - 2 + self.model.nv,), np.float64)
        image = spaces.Box(0, 255, (self.height, self.width, 3), np.uint8)
        if obs_mode == "state":
            self.observation_space = state
        elif obs_mode == "pixels":
            self.observation_space = image
        else:
            self.observation_space = spaces.Dict({"observation": state, "pixels": image})

        body, geom = self.model.body, self.model.geom
        self._torso = body("torso").id
        self._pelvis = body("pelvis").id
        self._knees = [body("shin_right").id, body("shin_left").id]
        self._head = geom("head").id
        self._hands = [geom("hand_right").id, geom("hand_left").id]
        self._joint_low = self.model.jnt_range[1:, 0].copy()  # every joint but the free root
        self._joint_high = self.model.jnt_range[1:, 1].copy()
        self._camera = self.model.camera("track").id
        self._renderer = CameraRenderer(self.model, self.width, self.height)
        self._steps = 0

    # -- Gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        scale, nv = self.reset_noise_scale, self.model.nv
        angles = self.data.qpos[7:] + self.np_random.uniform(-scale, scale, self.model.nq - 7)
        self.data.qpos[7:] = np.clip(angles, self._joint_low, self._joint_high)
        self.data.qvel[:] = self.np_random.uniform(-scale, scale, nv)
        mujoco.mj_forward(self.model, self.data)
        self._steps = 0
        return self._observe(), self._info()

    def step(self, action):
        action = check_action(action, self.action_space)
        self.data.ctrl[:] = np.clip(action, -1.0, 1.0)
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)
        # mj_step leaves body poses and the centre of mass one physics step behind the state;
        # the checks and the tracking camera need them current. Positions only: no dynamics,
        # so this never changes a trajectory.
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)
        self._steps += 1
        return self._observe(), 0.0, False, False, self._info()

    def render(self) -> np.ndarray | None:
        """The ``track`` camera as ``(height, width, 3)`` uint8 when ``render_mode="rgb_array"``."""
        if self.render_mode != "rgb_array":
            return None
        return self._image()

    def close(self) -> None:
        self._renderer.close()

    # -- pose measurements -------------------------------------------------------------------
    def measure(self) -> dict[str, float]:
        """The measurements the pose checks read, from the current body positions (see the module docstring)."""
        xpos, geom_xpos = self.data.xpos, self.data.geom_xpos
        return {
            "head_height": float(geom_xpos[self._head, 2]),
            "torso_height": float(xpos[self._torso, 2]),
            "pelvis_height": float(xpos[self._pelvis, 2]),
            "knee_height": float(min(xpos[k, 2] for k in self._knees)),
            "hand_height": float(max(geom_xpos[h, 2] for h in self._hands)),
            "torso_upright": float(self.data.xmat[self._torso, 8]),
        }

    def is_success(self) -> bool:
        """Whether the humanoid is now in the target pose, by the pose's geometric check."""
        return bool(self.pose.check(self.measure()))

    # -- state clone / restore ---------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Everything needed to continue exactly from here: physics (MuJoCo's integration state), step, RNG."""
        return {"physics": get_physics(self.model, self.data), "steps": self._steps,
                "rng": copy.deepcopy(self.np_random.bit_generator.state)}

    def set_state(self, state: dict[str, Any]) -> None:
        set_physics(self.model, self.data, state["physics"])
        self._steps = int(state["steps"])
        self.np_random.bit_generator.state = copy.deepcopy(state["rng"])

    @property
    def elapsed_steps(self) -> int:
        return self._steps

    # -- internals ---------------------------------------------------------------------------
    def _info(self) -> dict[str, Any]:
        measurements = self.measure()
        return {"success": bool(self.pose.check(measurements)), "task": self.pose.instruction,
                "pose": self.pose.name, **measurements}

    def _observe(self):
        if self.obs_mode == "pixels":
            return self._image()
        state = np.concatenate((self.data.qpos[2:], self.data.qvel))
        if self.obs_mode == "state+pixels":
            return {"observation": state, "pixels": self._image()}
        return state

    def _image(self) -> np.ndarray:
        mujoco.mj_camlight(self.model, self.data)  # the tracking camera follows the current centre of mass
        return self._renderer.render(self.data, self._camera)
