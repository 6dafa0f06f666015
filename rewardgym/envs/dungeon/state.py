"""The dungeon's per-env state and rule settings, as the compiled kernels take them.

:class:`DungeonState` holds every per-env quantity as an array whose first axis is the env.
Python reads it as a ``NamedTuple``; the kernels get :func:`kernel_state`'s handle on the same
arrays (a numba ``StructRef``: one pointer, so a call costs well under a microsecond and each
kernel compiles in a fraction of the time a 53-array tuple takes), and read ``s.py[b]`` or
``s.terrain[b, y, x]`` as the Python side does. :class:`Rules` holds the core's settings as
plain numbers (the task, the layout, the room's shape, NLE's penalty).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba.core import types
from numba.experimental import structref

from rewardgym.envs.dungeon import content as C
from rewardgym.envs.jit import njit

N_SECTORS = 9  # a level's 3 x 3 sectors, each with a room or a corridor junction

TASKS = ("score", "gold", "eat", "scout", "staircase", "oracle", "oracle_sober", "room")
PENALTY_MODES = ("constant", "exp", "square", "linear", "always")
(T_SCORE, T_GOLD, T_EAT, T_SCOUT, T_STAIRCASE, T_ORACLE, T_ORACLE_SOBER, T_ROOM) = range(len(TASKS))
(P_CONSTANT, P_EXP, P_SQUARE, P_LINEAR, P_ALWAYS) = range(len(PENALTY_MODES))


class Rules(NamedTuple):
    """A core's settings as numbers (see :class:`~rewardgym.envs.dungeon.core.DungeonCore`'s arguments)."""

    task: int  # index into TASKS
    room_layout: bool  # layout="room" (else the dungeon of rooms and corridors)
    room_size: int
    room_random: bool
    room_lit: bool
    room_monsters: int
    room_door: bool
    spawn_rate: float
    oracle_lo: int
    oracle_hi: int
    max_steps: int
    penalty_mode: int  # index into PENALTY_MODES
    penalty_step: float
    penalty_time: float
    success_reward: float
    target_depth: int
    monsters: bool  # levels may hold monsters (else the monster rules are skipped)


class DungeonState(NamedTuple):
    """Every per-env quantity of N games; bools are bool arrays, grids (N, 21, 79)."""

    key: np.ndarray  # (B,) uint64 episode key
    t: np.ndarray  # (B,) env steps this episode (the RNG counter)
    time: np.ndarray  # (B,) game turns (NetHack's T:, starts at 1)
    depth: np.ndarray
    max_depth: np.ndarray
    oracle_depth: np.ndarray  # the Oracle's level this episode
    visited: np.ndarray  # bit d: level d's loot was placed already
    py: np.ndarray
    px: np.ndarray
    hp: np.ndarray
    maxhp: np.ndarray
    xlvl: np.ndarray
    xp: np.ndarray
    gold: np.ndarray
    nutrition: np.ndarray
    hunger: np.ndarray  # NLE's hunger state
    hallu: np.ndarray  # turns of hallucination left
    dead: np.ndarray
    ate: np.ndarray  # has eaten this episode
    success: np.ndarray  # the task's milestone was reached this episode
    oracle_seen: np.ndarray  # an Oracle glyph is displayed next to the player
    frozen: np.ndarray  # steps in a row without game time (NLE's penalty counter)
    explored: np.ndarray  # squares seen on this level during this visit
    explored_best: np.ndarray  # (B, MAX_DEPTH + 1) most squares seen per level (the Scout reward's memory)
    cur_room: np.ndarray  # the lit room the player is in (0: none)
    up_y: np.ndarray
    up_x: np.ndarray
    down_y: np.ndarray
    down_x: np.ndarray
    terrain: np.ndarray  # (B, 21, 79) uint8 terrain codes
    room_map: np.ndarray  # (B, 21, 79) int8 sector + 1 of the room a square belongs to (walls, doors included)
    room_box: np.ndarray  # (B, 9, 4) top, left, bottom, right walls of each sector's room (zeros: none)
    room_lit: np.ndarray  # (B, 9)
    obj_kind: np.ndarray  # (B, 21, 79) uint8 item kind on the floor (0: none; one object or stack a square)
    obj_qty: np.ndarray  # (B, 21, 79) int16
    mem_glyph: np.ndarray  # (B, 21, 79) int16 what the player remembers of each square
    mem_char: np.ndarray
    mem_color: np.ndarray
    mem_special: np.ndarray
    mon_type: np.ndarray  # (B, 16) monster kind, -1 for an empty slot
    mon_y: np.ndarray
    mon_x: np.ndarray
    mon_hp: np.ndarray
    mon_energy: np.ndarray  # movement points
    mon_awake: np.ndarray
    mon_shown: np.ndarray  # the glyph each monster shows this step (hallucination redraws it every turn)
    inv_count: np.ndarray  # (B, N_ITEMS)
    inv_letter: np.ndarray  # (B, N_ITEMS) uint8 inventory letter (0: not carried)
    msg_code: np.ndarray  # (B, MAX_MESSAGES) message codes of this step
    msg_arg: np.ndarray
    msg_num: np.ndarray
    msg_letter: np.ndarray
    msg_n: np.ndarray


def new_state(b: int, level: bool = True) -> DungeonState:
    """The state of ``b`` games; ``level=False``: of ``b`` adventurers of a party, whose level lives in a state of
    its own (the level's grids and monster slots are left empty: the rules read them from the level's state)."""
    def z(*shape, dtype=np.int64):
        return np.zeros((b, *shape), dtype)

    grid = (C.ROWS, C.COLS)
    lgrid = grid if level else (0, 0)
    slots = C.MAX_MONSTERS if level else 0
    return DungeonState(
        key=z(dtype=np.uint64), t=z(), time=z(), depth=z(), max_depth=z(), oracle_depth=z(), visited=z(),
        py=z(), px=z(), hp=z(), maxhp=z(), xlvl=z(), xp=z(), gold=z(), nutrition=z(), hunger=z(), hallu=z(),
        dead=z(dtype=bool), ate=z(dtype=bool), success=z(dtype=bool), oracle_seen=z(dtype=bool), frozen=z(),
        explored=z(), explored_best=z(C.MAX_DEPTH + 1), cur_room=z(), up_y=z(), up_x=z(), down_y=z(), down_x=z(),
        terrain=z(*lgrid, dtype=np.uint8), room_map=z(*lgrid, dtype=np.int8),
        room_box=z(N_SECTORS if level else 0, 4), room_lit=z(N_SECTORS if level else 0, dtype=bool),
        obj_kind=z(*lgrid, dtype=np.uint8), obj_qty=z(*lgrid, dtype=np.int16),
        mem_glyph=z(*grid, dtype=np.int16), mem_char=z(*grid, dtype=np.uint8), mem_color=z(*grid, dtype=np.uint8),
        mem_special=z(*grid, dtype=np.uint8),
        mon_type=np.full((b, slots), -1, np.int64), mon_y=z(slots), mon_x=z(slots),
        mon_hp=z(slots), mon_energy=z(slots), mon_awake=z(slots, dtype=bool),
        mon_shown=z(C.MAX_MONSTERS), inv_count=z(C.N_ITEMS), inv_letter=z(C.N_ITEMS, dtype=np.uint8),
        msg_code=z(C.MAX_MESSAGES), msg_arg=z(C.MAX_MESSAGES), msg_num=z(C.MAX_MESSAGES),
        msg_letter=z(C.MAX_MESSAGES, dtype=np.uint8), msg_n=z(),
    )


@structref.register
class KernelStateType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(t)) for name, t in fields)


class KernelState(structref.StructRefProxy):
    """The kernels' handle on a :class:`DungeonState` (the same arrays, by reference)."""


structref.define_boxing(KernelStateType, KernelState)
_KERNEL_STATE = KernelStateType([(name, numba.typeof(array)) for name, array in new_state(1)._asdict().items()])


@njit
def kernel_state(s):
    """The :class:`KernelState` of a :class:`DungeonState` (built once per core; compiled once, cached)."""
    k = structref.new(_KERNEL_STATE)
    k.key, k.t, k.time, k.depth, k.max_depth, k.oracle_depth = s.key, s.t, s.time, s.depth, s.max_depth, s.oracle_depth
    k.visited, k.py, k.px, k.hp, k.maxhp, k.xlvl, k.xp = s.visited, s.py, s.px, s.hp, s.maxhp, s.xlvl, s.xp
    k.gold, k.nutrition, k.hunger, k.hallu, k.dead, k.ate = s.gold, s.nutrition, s.hunger, s.hallu, s.dead, s.ate
    k.success, k.oracle_seen, k.frozen, k.explored = s.success, s.oracle_seen, s.frozen, s.explored
    k.explored_best, k.cur_room, k.up_y, k.up_x = s.explored_best, s.cur_room, s.up_y, s.up_x
    k.down_y, k.down_x, k.terrain, k.room_map, k.room_box = s.down_y, s.down_x, s.terrain, s.room_map, s.room_box
    k.room_lit, k.obj_kind, k.obj_qty, k.mem_glyph = s.room_lit, s.obj_kind, s.obj_qty, s.mem_glyph
    k.mem_char, k.mem_color, k.mem_special = s.mem_char, s.mem_color, s.mem_special
    k.mon_type, k.mon_y, k.mon_x, k.mon_hp, k.mon_energy = s.mon_type, s.mon_y, s.mon_x, s.mon_hp, s.mon_energy
    k.mon_awake, k.mon_shown, k.inv_count, k.inv_letter = s.mon_awake, s.mon_shown, s.inv_count, s.inv_letter
    k.msg_code, k.msg_arg, k.msg_num, k.msg_letter, k.msg_n = s.msg_code, s.msg_arg, s.msg_num, s.msg_letter, s.msg_n
    return k
