"""The tabletop scene as MJCF text, built in code so the package ships no asset files.

World frame: z up, the table top at ``TABLE_TOP`` metres, the workspace centred on x = y = 0.
The fixed ``front`` camera looks from +x towards -x, so +y is to the right in its image and
+x is towards the viewer.

The gripper is a free body welded to a mocap body (as in Gymnasium-Robotics' Fetch), so an
action moves the mocap target and the weld pulls the gripper after it. Its origin is the
grip point between the finger pads, which is why its free-joint position is the end-effector
position without forward kinematics. Two slide fingers (``finger_left`` along +y,
``finger_right`` along -y) run under position actuators; a finger at 0 touches the centre line.

Shadows, reflections and the skybox's detail are off or cheap: on a software renderer
shadows alone cost about ten times the rest of a frame.
"""

from __future__ import annotations

TABLE_TOP = 0.4
"""Height of the table surface (m)."""

TIMESTEP = 0.002
"""Physics step (s); an env step is ``frame_skip`` of these (Fetch: 0.002 s x 20)."""

FINGER_RANGE = 0.04
"""Finger travel (m): each inner finger face moves from the centre line to 4 cm from it."""

GRIP_LOW = TABLE_TOP + 0.032
"""The lowest grip point the workspace allows: finger tips 2 mm above the table."""

RED = "0.85 0.1 0.1 1"
GREEN = "0.1 0.75 0.2 1"
BLUE = "0.15 0.3 0.9 1"
YELLOW = "0.95 0.8 0.1 1"

_SCENE = """\
<mujoco model="rewardgym_tabletop">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{timestep}" integrator="implicitfast"/>
  <visual>
    <global offwidth="{offwidth}" offheight="{offheight}"/>
    <quality shadowsize="0" offsamples="0"/>
    <headlight ambient="0.25 0.25 0.25" diffuse="0.3 0.3 0.3" specular="0 0 0"/>
  </visual>
  <default>
    <geom solref="0.01 1" solimp="0.95 0.99 0.001"/>
    <default class="visual">
      <geom contype="0" conaffinity="0" group="1"/>
    </default>
    <default class="finger">
      <joint type="slide" range="0 {finger_range}" damping="1" armature="0.005" solreflimit="0.005 1"/>
      <geom type="box" size="0.012 0.006 0.03" mass="0.05" material="finger" friction="1.5 0.01 0.0001" condim="4"/>
      <position kp="300" dampratio="1" ctrlrange="0 {finger_range}" forcerange="-15 15"/>
    </default>
  </default>
  <asset>
    <texture name="sky" type="skybox" builtin="gradient" rgb1="0.75 0.82 0.9" rgb2="0.95 0.95 0.97"
             width="32" height="32"/>
    <texture name="floor" type="2d" builtin="checker" rgb1="0.55 0.55 0.55" rgb2="0.45 0.45 0.45"
             width="64" height="64"/>
    <material name="floor" texture="floor" texrepeat="8 8" reflectance="0"/>
    <material name="table" rgba="0.8 0.74 0.64 1" reflectance="0"/>
    <material name="metal" rgba="0.25 0.25 0.28 1" reflectance="0"/>
    <material name="finger" rgba="0.4 0.4 0.45 1" reflectance="0"/>
    <material name="wood" rgba="0.55 0.36 0.2 1" reflectance="0"/>
  </asset>
  <worldbody>
    <light name="key" pos="0.6 -0.4 1.8" dir="-0.4 0.25 -1" directional="true" castshadow="false"
           diffuse="0.45 0.45 0.45" specular="0 0 0"/>
    <light name="fill" pos="-0.6 0.6 1.6" dir="0.4 -0.4 -1" directional="true" castshadow="false"
           diffuse="0.15 0.15 0.15" specular="0 0 0"/>
    <geom name="floor" type="plane" size="2 2 0.05" material="floor"/>
    <geom name="table" type="box" pos="0 0 {table_z}" size="0.45 0.5 0.02" material="table"
          friction="0.5 0.005 0.0001"/>
    <geom class="visual" type="box" pos="0.4 0.45 {leg_z}" size="0.025 0.025 {leg_half}" material="table"/>
    <geom class="visual" type="box" pos="0.4 -0.45 {leg_z}" size="0.025 0.025 {leg_half}" material="table"/>
    <geom class="visual" type="box" pos="-0.4 0.45 {leg_z}" size="0.025 0.025 {leg_half}" material="table"/>
    <geom class="visual" type="box" pos="-0.4 -0.45 {leg_z}" size="0.025 0.025 {leg_half}" material="table"/>
    <camera name="front" pos="0.5 0 0.9" xyaxes="0 1 0 -0.45 0 0.55" fovy="45"/>

    <body name="mocap" mocap="true" pos="{home}"/>
    <body name="gripper" pos="{home}" gravcomp="1">
      <freejoint name="gripper"/>
      <inertial pos="0 0 0.04" mass="0.5" diaginertia="0.002 0.002 0.002"/>
      <geom name="palm" type="box" pos="0 0 0.045" size="0.02 0.058 0.012" material="metal"/>
      <geom class="visual" type="cylinder" pos="0 0 0.11" size="0.018 0.055" material="metal"/>
      <camera name="wrist" pos="0 0 0.031" xyaxes="0 -1 0 1 0 0" fovy="80"/>
      <body name="finger_left" childclass="finger" gravcomp="1">
        <joint name="finger_left" axis="0 1 0"/>
        <geom name="finger_left" pos="0 0.006 0"/>
      </body>
      <body name="finger_right" childclass="finger" gravcomp="1">
        <joint name="finger_right" axis="0 -1 0"/>
        <geom name="finger_right" pos="0 -0.006 0"/>
      </body>
    </body>
{objects}
{target}
  </worldbody>
  <contact>
    <exclude body1="finger_left" body2="finger_right"/>
  </contact>
  <equality>
    <weld body1="mocap" body2="gripper" solref="0.02 1" solimp="0.9 0.95 0.001" torquescale="5"/>
  </equality>
  <actuator>
    <position name="finger_left" class="finger" joint="finger_left"/>
    <position name="finger_right" class="finger" joint="finger_right"/>
  </actuator>
</mujoco>
"""


def cube(name: str, rgba: str = RED, half_size: float = 0.025, mass: float = 0.1) -> str:
    """A free box resting on the table, named ``name`` (body, joint and geom)."""
    return (f'    <body name="{name}" pos="0 0 {TABLE_TOP + half_size}">\n'
            f'      <freejoint name="{name}"/>\n'
            f'      <geom name="{name}" type="box" size="{half_size} {half_size} {half_size}" rgba="{rgba}" '
            f'mass="{mass}" friction="1 0.005 0.0001" condim="4"/>\n'
            f'    </body>')


def target_sphere(radius: float = 0.025, rgba: str = GREEN) -> str:
    """A goal marker in the air: a mocap body named ``target`` with a sphere that touches nothing."""
    return (f'    <body name="target" mocap="true" pos="0 0 {TABLE_TOP + 0.2}">\n'
            f'      <geom class="visual" name="target" type="sphere" size="{radius}" rgba="{rgba}"/>\n'
            f'    </body>')


def target_disc(radius: float = 0.05, rgba: str = GREEN) -> str:
    """A goal marker on the table: a flat disc (the mocap body ``target`` sits at the object's centre height)."""
    return (f'    <body name="target" mocap="true" pos="0 0 {TABLE_TOP + 0.025}">\n'
            f'      <geom class="visual" name="target" type="cylinder" size="{radius} 0.001" '
            f'pos="0 0 {-0.025 + 0.0015}" rgba="{rgba}"/>\n'
            f'    </body>')


def tabletop(objects: list[str], target: str, home: tuple[float, float, float],
             offscreen: tuple[int, int] = (640, 480), timestep: float = TIMESTEP) -> str:
    """The MJCF of the table, the gripper at ``home``, ``objects`` (body snippets) and a ``target`` marker.

    ``offscreen`` is the (width, height) of the offscreen framebuffer, the largest image any
    renderer of this model may draw.
    """
    leg_half = (TABLE_TOP - 0.04) / 2
    return _SCENE.format(
        timestep=timestep, offwidth=offscreen[0], offheight=offscreen[1],
        table_z=TABLE_TOP - 0.02, leg_z=leg_half, leg_half=leg_half,
        home=" ".join(f"{x:g}" for x in home), finger_range=FINGER_RANGE,
        objects="\n".join(objects), target=target,
    )


def invisible_target() -> str:
    """A goal marker that is not drawn (the goal is a place on another object, as in stacking)."""
    return (f'    <body name="target" mocap="true" pos="0 0 {TABLE_TOP + 0.2}">\n'
            f'      <geom class="visual" name="target" type="sphere" size="0.01" rgba="0 0 0 0"/>\n'
            f'    </body>')


# The cabinet's geometry, in its own frame: origin on the table top at the cabinet's centre, the
# drawer sliding out along +x (towards the front camera and the gripper's home).
CABINET_FRONT = 0.12
"""x of the cabinet's front face (and of the closed drawer's front)."""
HANDLE_OFFSET = (0.18, 0.0, 0.055)
"""Centre of the drawer's handle bar when the drawer is closed."""
HANDLE_GAP = (CABINET_FRONT, 0.174)
"""x range of the free space between the drawer front and the handle bar (what a finger hooks into)."""
DRAWER_TRAVEL = 0.22

_CABINET = """\
    <body name="cabinet" mocap="true" pos="-0.2 0 {table_top}">
      <geom type="box" pos="-0.115 0 0.07" size="0.005 0.13 0.07" material="wood" contype="2" conaffinity="1"/>
      <geom type="box" pos="0 0.125 0.07" size="0.12 0.005 0.07" material="wood" contype="2" conaffinity="1"/>
      <geom type="box" pos="0 -0.125 0.07" size="0.12 0.005 0.07" material="wood" contype="2" conaffinity="1"/>
      <geom type="box" pos="0 0 0.135" size="0.12 0.13 0.005" material="wood" contype="2" conaffinity="1"/>
      <geom type="box" pos="0 0 0.005" size="0.12 0.13 0.005" material="wood" contype="2" conaffinity="1"/>
      <body name="drawer">
        <joint name="drawer" type="slide" axis="1 0 0" range="0 {travel}" damping="3" armature="0.05"/>
        <geom type="box" pos="0 0 0.015" size="0.11 0.115 0.004" rgba="{drawer}" contype="4" conaffinity="1"/>
        <geom type="box" pos="0 0.112 0.05" size="0.11 0.004 0.035" rgba="{drawer}" contype="4" conaffinity="1"/>
        <geom type="box" pos="0 -0.112 0.05" size="0.11 0.004 0.035" rgba="{drawer}" contype="4" conaffinity="1"/>
        <geom type="box" pos="-0.107 0 0.05" size="0.004 0.115 0.035" rgba="{drawer}" contype="4" conaffinity="1"/>
        <geom name="drawer_front" type="box" pos="0.116 0 0.0575" size="0.004 0.118 0.0425" rgba="{drawer}"
              contype="4" conaffinity="1"/>
        <geom type="box" pos="0.147 0.06 {handle_z}" size="0.027 0.005 0.005" material="metal" contype="4"
              conaffinity="1"/>
        <geom type="box" pos="0.147 -0.06 {handle_z}" size="0.027 0.005 0.005" material="metal" contype="4"
              conaffinity="1"/>
        <geom name="handle" type="box" pos="{handle_x} 0 {handle_z}" size="0.006 0.07 0.006" material="metal"
              contype="4" conaffinity="1" friction="1 0.005 0.0001"/>
      </body>
    </body>"""


def cabinet(drawer_rgba: str = BLUE) -> str:
    """A cabinet on the table with one drawer (slide joint ``drawer``) and a bar handle.

    The cabinet is a mocap body, so a task can place it per episode through ``data.mocap_pos``
    (part of the physics state that :meth:`ManipulationEnv.get_state` saves). Its walls and the
    drawer do not collide with each other (the joint keeps the drawer in its slot); both
    collide with the gripper.
    """
    return _CABINET.format(table_top=TABLE_TOP, travel=DRAWER_TRAVEL, drawer=drawer_rgba,
                           handle_x=HANDLE_OFFSET[0], handle_z=HANDLE_OFFSET[2])
