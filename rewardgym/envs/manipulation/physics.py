"""What the family's MuJoCo envs share: action checking and saving/restoring the physics state."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from rewardgym.envs.manipulation.render import mujoco

STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION
"""The part of ``MjData`` a saved state holds: everything integration reads (qpos, qvel, act,
warm start, controls, mocap poses, applied forces), so a restored env continues bit for bit."""


def check_action(action, space: spaces.Box) -> np.ndarray:
    """``action`` as float64, or ValueError naming ``space`` for a wrong shape, a non-number, NaN or infinity.

    Finite values outside the bounds pass (the envs clip them, as Gymnasium's MuJoCo envs do).
    """
    array = np.asarray(action)
    if array.shape != space.shape or array.dtype.kind not in "iuf":
        raise ValueError(f"action {action!r} is not in the action space {space}: "
                         f"expected a numeric array of shape {space.shape}")
    array = array.astype(np.float64, copy=False)
    if not np.isfinite(array).all():
        raise ValueError(f"action {action!r} is not in the action space {space}: it has NaN or infinite entries")
    return array


def get_physics(model, data) -> np.ndarray:
    """MuJoCo's integration state of ``data`` as a float64 vector."""
    physics = np.empty(mujoco.mj_stateSize(model, STATE_SPEC))
    mujoco.mj_getState(model, data, physics, STATE_SPEC)
    return physics


def set_physics(model, data, physics) -> None:
    """Restore a vector from :func:`get_physics` (ValueError if its size does not fit) and recompute positions."""
    physics = np.asarray(physics, dtype=np.float64)
    size = mujoco.mj_stateSize(model, STATE_SPEC)
    if physics.shape != (size,):
        raise ValueError(f"state does not fit this env: physics {physics.shape} (want ({size},))")
    mujoco.mj_setState(model, data, physics, STATE_SPEC)
    mujoco.mj_forward(model, data)
