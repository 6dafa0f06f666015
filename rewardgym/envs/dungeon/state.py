"""The dungeon's per-env state and rule settings, as the compiled kernels take them.

:class:`DungeonState` holds every per-env quantity as an array whose first axis is the env;
it is a ``NamedTuple`` so that one argument hands all of it to a numba kernel, which reads
``s.py[b]`` or ``s.terrain[b, y, x]`` as the Python side does. :class:`Rules` holds the
core's settings as plain numbers (the task, the layout, the room's shape, NLE's penalty).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rewardgym.envs.dungeon import content as C

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


def new_state(b: int) -> DungeonState:
    def z(*shape, dtype=np.int64):
        return np.zeros((b, *shape), dtype)

    grid = (C.ROWS, C.COLS)
    return DungeonState(
        key=z(dtype=np.uint64), t=z(), time=z(), depth=z(), max_depth=z(), oracle_depth=z(), visited=z(),
        py=z(), px=z(), hp=z(), maxhp=z(), xlvl=z(), xp=z(), gold=z(), nutrition=z(), hunger=z(), hallu=z(),
        dead=z(dtype=bool), ate=z(dtype=bool), success=z(dtype=bool), oracle_seen=z(dtype=bool), frozen=z(),
        explored=z(), explored_best=z(C.MAX_DEPTH + 1), cur_room=z(), up_y=z(), up_x=z(), down_y=z(), down_x=z(),
        terrain=z(*grid, dtype=np.uint8), room_map=z(*grid, dtype=np.int8), room_box=z(N_SECTORS, 4),
        room_lit=z(N_SECTORS, dtype=bool), obj_kind=z(*grid, dtype=np.uint8), obj_qty=z(*grid, dtype=np.int16),
        mem_glyph=z(*grid, dtype=np.int16), mem_char=z(*grid, dtype=np.uint8), mem_color=z(*grid, dtype=np.uint8),
        mem_special=z(*grid, dtype=np.uint8),
        mon_type=np.full((b, C.MAX_MONSTERS), -1, np.int64), mon_y=z(C.MAX_MONSTERS), mon_x=z(C.MAX_MONSTERS),
        mon_hp=z(C.MAX_MONSTERS), mon_energy=z(C.MAX_MONSTERS), mon_awake=z(C.MAX_MONSTERS, dtype=bool),
        mon_shown=z(C.MAX_MONSTERS), inv_count=z(C.N_ITEMS), inv_letter=z(C.N_ITEMS, dtype=np.uint8),
        msg_code=z(C.MAX_MESSAGES), msg_arg=z(C.MAX_MESSAGES), msg_num=z(C.MAX_MESSAGES),
        msg_letter=z(C.MAX_MESSAGES, dtype=np.uint8), msg_n=z(),
    )
