"""The dungeon's batch of games: settings, the step and reset of N games in one compiled call, observations.

:class:`DungeonCore` is a :class:`~rewardgym.envs.batched.BatchedCore`. Per-env state lives in
:class:`~rewardgym.envs.dungeon.state.DungeonState` (the level's terrain, objects and the
player's map memory as (N, 21, 79) grids; monsters as (N, 16) slots; the inventory as counts
per item kind). The rules are :mod:`~rewardgym.envs.dungeon.rules`, compiled with numba: a
step is one call over the batch, a slice per core for large batches, and a single env is
the batch of one of the same code. Observations are drawn by :mod:`~rewardgym.envs.dungeon.display`.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from rewardgym.envs.batched import BatchedCore, checked_actions, masked_info
from rewardgym.envs.dungeon import content as C
from rewardgym.envs.dungeon import display, rules
from rewardgym.envs.dungeon import messages as M
from rewardgym.envs.dungeon.state import PENALTY_MODES, TASKS, Rules, kernel_state, new_state
from rewardgym.envs.jit import compile_notice, split

OBSERVATION_KEYS = ("glyphs", "chars", "colors", "specials", "blstats", "message", "inv_glyphs", "inv_strs",
                    "inv_letters", "inv_oclasses", "tty_chars", "tty_colors", "tty_cursor", "glyphs_crop",
                    "chars_crop", "colors_crop", "specials_crop")
DEFAULT_KEYS = OBSERVATION_KEYS[:13]
"""NLE's default keys (without ``screen_descriptions``); the ``*_crop`` views are MiniHack's."""


def checked_keys(observation_keys, default: tuple[str, ...], crop_size: int) -> tuple[str, ...]:
    """``observation_keys`` (``default`` when None) as a tuple of distinct names from :data:`OBSERVATION_KEYS`,
    else a one-line ValueError; so is a ``crop_size`` that is not a positive odd number, or other than 9 without a
    crop key."""
    if crop_size < 1 or crop_size % 2 == 0:
        raise ValueError(f"crop_size must be a positive odd number, got {crop_size}")
    keys = default if observation_keys is None else tuple(observation_keys)
    unknown = [k for k in keys if k not in OBSERVATION_KEYS]
    if unknown or not keys or len(set(keys)) != len(keys):
        raise ValueError(f"observation_keys must be distinct names from {OBSERVATION_KEYS}, got {keys!r}")
    # an argument that would change nothing is a mistake the user should hear about
    if crop_size != 9 and not any(k.endswith("_crop") for k in keys):
        raise ValueError(f"crop_size={crop_size} does nothing without a *_crop observation key: add one, "
                         f"e.g. observation_keys=glyphs_crop,blstats")
    return keys


def action_names(actions, sets: dict[str, tuple[str, ...]] = C.ACTION_SETS) -> tuple[str, ...]:
    """The command names of ``actions`` — a name from ``sets`` or a sequence of distinct names from
    ``content.ACTIONS`` — else a one-line ValueError."""
    names = sets.get(actions) if isinstance(actions, str) else tuple(actions)
    if names is None or not names or any(a not in C.ACTION_INDEX for a in names) or len(set(names)) != len(names):
        raise ValueError(f"actions must be one of {sorted(sets)} or distinct names from "
                         f"{[a.name for a in C.ACTIONS]}, got {actions!r}")
    return tuple(names)


class DungeonCore(BatchedCore):
    """``num_envs`` dungeon games stepped together.

    Args:
        num_envs: batch size.
        task: what is rewarded — ``score`` (NetHack's in-game score), ``gold``, ``eat``
            (nutrition gained), ``scout`` (squares seen for the first time), ``staircase``
            (reach ``target_depth``), ``oracle`` / ``oracle_sober`` (stand next to the Oracle;
            the sober variant does not count it while hallucinating) or ``room`` (reach the
            staircase down of a single room).
        observation_keys: which of :data:`OBSERVATION_KEYS` to return (default NLE's).
        actions: ``"full"``, ``"reduced"``, ``"move"`` or a sequence of action names
            (see :data:`~rewardgym.envs.dungeon.content.ACTION_SETS`).
        max_steps: steps before an episode is truncated (NLE's ``max_episode_steps``).
        penalty_mode, penalty_step, penalty_time: NLE's time penalty — ``penalty_step``
            scaled by the number of steps in a row without game time (``constant``: once per
            such step, ``exp``, ``square``, ``linear``, or ``always``: every step), plus
            ``penalty_time`` per game turn.
        success_reward: reward of reaching a goal task's goal (Motif's 50).
        target_depth: the ``staircase`` task's level.
        oracle_depth: the Oracle's level: an int, or an inclusive (low, high) range drawn per
            episode (NetHack: 5 to 9).
        layout: ``"dungeon"`` (levels of rooms and corridors) or ``"room"`` (one room).
        room_size, room_random, room_lit, room_monsters: the ``room`` layout's interior size,
            random (else corner-to-corner) start and stairs, lighting and monster count.
        room_door: split the room by a wall with a closed door at a random row: the player
            starts west of it, the staircase down is east of it (two rooms for lighting).
        crop_size: side of the egocentric ``*_crop`` views (odd).
        spawn_rate: chance per turn that a new monster appears out of sight (NetHack: 1/70).
    """

    def __init__(self, num_envs: int, task: str = "score", *, observation_keys=None, actions="full",
                 max_steps: int = 5000, penalty_mode: str = "constant", penalty_step: float = -0.01,
                 penalty_time: float = 0.0, success_reward: float = 50.0, target_depth: int = 2,
                 oracle_depth=(5, 9), layout: str = "dungeon", room_size: int = 5, room_random: bool = False,
                 room_lit: bool = True, room_monsters: int = 0, room_door: bool = False, crop_size: int = 9,
                 spawn_rate: float = 1 / 70):
        super().__init__(num_envs)
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        if penalty_mode not in PENALTY_MODES:
            raise ValueError(f"penalty_mode must be one of {PENALTY_MODES}, got {penalty_mode!r}")
        if layout not in ("dungeon", "room"):
            raise ValueError(f"layout must be 'dungeon' or 'room', got {layout!r}")
        if task == "room" and layout != "room":
            raise ValueError("the 'room' task needs layout='room'")
        if max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {max_steps}")
        if not 1 <= room_size <= 17:
            raise ValueError(f"room_size must be in [1, 17], got {room_size}")
        if room_random and room_size < 2:
            raise ValueError("a random room needs room_size >= 2 (the player and the stairs need two squares)")
        if room_door and room_size < 3:
            raise ValueError("a room with a door needs room_size >= 3 (a square on each side of the wall)")
        if not 0 <= room_monsters <= C.MAX_MONSTERS:
            raise ValueError(f"room_monsters must be in [0, {C.MAX_MONSTERS}], got {room_monsters}")
        if not 2 <= target_depth <= C.MAX_DEPTH:
            raise ValueError(f"target_depth must be in [2, {C.MAX_DEPTH}], got {target_depth}")
        if not 0.0 <= spawn_rate <= 1.0:
            raise ValueError(f"spawn_rate must be in [0, 1], got {spawn_rate}")
        lo, hi = (oracle_depth, oracle_depth) if np.isscalar(oracle_depth) else tuple(oracle_depth)
        if not 2 <= int(lo) <= int(hi) < C.MAX_DEPTH:
            raise ValueError(f"oracle_depth must lie in [2, {C.MAX_DEPTH - 1}] (an int or a (low, high) pair), "
                             f"got {oracle_depth!r}")
        keys = checked_keys(observation_keys, DEFAULT_KEYS, crop_size)
        if layout != "room" and (room_size != 5 or room_random or not room_lit or room_monsters or room_door):
            raise ValueError("room_size, room_random, room_lit, room_monsters and room_door shape the room layout: "
                             "they do nothing with layout='dungeon' (the Room ids, or layout=room)")
        names = action_names(actions)
        self.task, self.observation_keys, self.action_names = task, keys, tuple(names)
        self.action_codes = np.array([C.ACTION_INDEX[a] for a in names], np.int64)
        self.max_steps, self.penalty_mode = int(max_steps), penalty_mode
        self.penalty_step, self.penalty_time = float(penalty_step), float(penalty_time)
        self.success_reward, self.target_depth = float(success_reward), int(target_depth)
        self.oracle_range = (int(lo), int(hi))
        self.layout, self.room_size, self.room_random = layout, int(room_size), bool(room_random)
        self.room_lit, self.room_monsters, self.room_door = bool(room_lit), int(room_monsters), bool(room_door)
        self.crop_size, self.spawn_rate = int(crop_size), float(spawn_rate)
        # Single rooms without monsters never hold one (monsters appear over time only in the dungeon layout),
        # so their steps skip the monster rules.
        self.monsters = layout == "dungeon" or self.room_monsters > 0
        self.rules = Rules(task=TASKS.index(task), room_layout=layout == "room", room_size=self.room_size,
                           room_random=self.room_random, room_lit=self.room_lit, room_monsters=self.room_monsters,
                           room_door=self.room_door, spawn_rate=self.spawn_rate, oracle_lo=int(lo), oracle_hi=int(hi),
                           max_steps=self.max_steps, penalty_mode=PENALTY_MODES.index(penalty_mode),
                           penalty_step=self.penalty_step, penalty_time=self.penalty_time,
                           success_reward=self.success_reward, target_depth=self.target_depth,
                           monsters=self.monsters)
        self._rules = tuple(self.rules)  # as the kernels take it (a NamedTuple argument costs 2 µs a call to type)
        self.state = new_state(num_envs)
        self.kernel_state = kernel_state(self.state)  # the kernels' handle on the same arrays
        self.all_envs = np.arange(num_envs)
        self.single_action_space = spaces.Discrete(len(names))
        self.single_observation_space = spaces.Dict({k: key_space(k, crop_size) for k in keys})
        warm_up()
        self.instruction = _instruction(self)
        self._task_text = np.full(num_envs, self.instruction, dtype=object)

    def __getstate__(self) -> dict:
        """For pickle and deepcopy: everything but the kernels' handle and the output pool, rebuilt on load."""
        state = self.__dict__.copy()
        state.pop("kernel_state")
        state.pop("_outputs", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.kernel_state = kernel_state(self.state)

    def reset(self, mask: np.ndarray, keys: np.ndarray) -> None:
        envs = mask.nonzero()[0]
        if envs.size:
            split(rules.reset_batch, envs.size, self.kernel_state, self._rules, envs, np.asarray(keys, np.uint64))

    def step(self, action: np.ndarray, active: np.ndarray):
        n = self.num_envs
        action = checked_actions(action, n, self.action_codes.size)  # the kernels do not check bounds
        reward, terminated, truncated = np.zeros(n), np.zeros(n, bool), np.zeros(n, bool)
        split(rules.step_batch, n, self.kernel_state, self._rules, self.action_codes, action, active, reward,
              terminated, truncated)
        return reward, terminated, truncated

    def set_state(self, index: int, state: dict[str, np.ndarray]) -> None:
        """Restore env ``index`` from :meth:`get_state`'s dict, once every value is one the game can hold (the
        kernels do not check bounds, so a corrupt snapshot is refused with the field it breaks)."""
        checked = self.checked_state(state)
        for name, (low, high) in _STATE_BOUNDS.items():
            value = checked[name]
            if name.startswith("mon_") and name not in ("mon_type", "mon_shown"):
                value = value[checked["mon_type"] >= 0]  # empty slots keep what they had
            if value.size and (value.min() < low or value.max() > high):
                raise ValueError(f"state[{name!r}] must lie in [{low}, {high}] (got {value.min()}..{value.max()}): "
                                 "not a snapshot of this game")
        rows = checked["room_box"][:, [0, 2]]  # (sector, [top, left, bottom, right])
        if rows.min() < 0 or rows.max() > C.ROWS - 1:
            raise ValueError(f"state['room_box'] rows must lie in [0, {C.ROWS - 1}]: not a snapshot of this game")
        self.write_state(index, checked)

    def score(self, g=slice(None)) -> np.ndarray:
        """NetHack's in-game score (botl_score): gold + 4 x experience + 50 x (deepest level - 1)."""
        s = self.state
        return s.gold[g] + 4 * s.xp[g] + 50 * (s.max_depth[g] - 1)

    def message(self, index: int) -> str:
        """The messages of env ``index``'s last step, as the tty's top line shows them."""
        s = self.state
        return M.message_text(s.msg_code[index], s.msg_arg[index], s.msg_num[index], s.msg_letter[index])

    # -- observation and info ----------------------------------------------------------------------------
    def observe(self) -> dict[str, np.ndarray]:
        return display.observe(self, None, self.observation_keys)

    def info(self, ended: np.ndarray) -> dict:
        s = self.state
        values = {"success": s.success.copy(), "task": self._task_text}
        if not np.count_nonzero(ended):
            return masked_info(values, ended, {})
        end = {"death": s.dead.copy(), "depth_reached": s.max_depth.copy(), "gold": s.gold.copy(),
               "score": self.score(), "time": s.time.copy()}
        return masked_info(values, ended, end)

    def render_text(self, index: int) -> str:
        from rewardgym.envs.dungeon.render import ansi

        return ansi(self, index)

    def render_rgb(self, b: np.ndarray) -> np.ndarray:
        from rewardgym.envs.dungeon.render import rgb_array

        return rgb_array(self, b)


_STATE_BOUNDS = {  # what the kernels index with: every value of these fields must lie in the range
    "depth": (1, C.MAX_DEPTH), "max_depth": (1, C.MAX_DEPTH), "oracle_depth": (1, C.MAX_DEPTH),
    "py": (1, C.ROWS - 2), "px": (1, C.COLS - 2), "xlvl": (1, 30), "hunger": (0, 6), "cur_room": (0, 9),
    "explored_best": (0, C.ROWS * C.COLS), "terrain": (0, C.N_TERRAIN - 1), "room_map": (0, 9),
    "room_box": (0, C.COLS - 1), "obj_kind": (0, C.N_ITEMS - 1), "mem_glyph": (0, C.MAX_GLYPH),
    "mon_type": (-1, C.N_MONSTERS - 1), "mon_y": (1, C.ROWS - 2), "mon_x": (1, C.COLS - 2),
    "mon_shown": (0, C.MAX_GLYPH), "msg_code": (0, M.N_CODES - 1), "msg_n": (0, C.MAX_MESSAGES),
}
_warm = False


def warm_up() -> None:
    """Load (or, the first time on a machine, compile) the kernels before the first game: a reset, a step and
    every observation key of a one-env core, with a notice if compiling takes long."""
    global _warm
    if _warm:
        return
    _warm = True
    with compile_notice("the dungeon's rules and display"):
        core = DungeonCore(1, observation_keys=OBSERVATION_KEYS)
        core.reset(np.ones(1, bool), np.zeros(1, np.uint64))
        core.step(np.zeros(1, np.int64), np.ones(1, bool))
        core.observe()


def key_space(key: str, crop: int) -> spaces.Box:
    """NLE's space of an observation key (MiniHack's for the crops)."""
    i64 = np.iinfo(np.int64)
    table = {
        "glyphs": (0, C.MAX_GLYPH, (C.ROWS, C.COLS), np.int16),
        "chars": (0, 255, (C.ROWS, C.COLS), np.uint8),
        "colors": (0, 15, (C.ROWS, C.COLS), np.uint8),
        "specials": (0, 255, (C.ROWS, C.COLS), np.uint8),
        "blstats": (i64.min, i64.max, (C.N_BLSTATS,), np.int64),
        "message": (0, 255, (C.MESSAGE_LEN,), np.uint8),
        "inv_glyphs": (0, C.MAX_GLYPH, (C.INV_SIZE,), np.int16),
        "inv_strs": (0, 255, (C.INV_SIZE, C.INV_STR_LEN), np.uint8),
        "inv_letters": (0, 127, (C.INV_SIZE,), np.uint8),
        "inv_oclasses": (0, C.MAXOCLASSES, (C.INV_SIZE,), np.uint8),
        "tty_chars": (0, 255, (C.TTY_ROWS, C.TTY_COLS), np.uint8),
        "tty_colors": (0, 31, (C.TTY_ROWS, C.TTY_COLS), np.int8),
        "tty_cursor": (0, 255, (2,), np.uint8),
        "glyphs_crop": (0, C.MAX_GLYPH, (crop, crop), np.int16),
        "chars_crop": (0, 255, (crop, crop), np.uint8),
        "colors_crop": (0, 15, (crop, crop), np.uint8),
        "specials_crop": (0, 255, (crop, crop), np.uint8),
    }
    low, high, shape, dtype = table[key]
    return spaces.Box(low, high, shape, dtype)


def _instruction(core: DungeonCore) -> str:
    """The task in words (``info["task"]``), for language and vision-language rewards."""
    task = core.task
    lo, hi = core.oracle_range
    where = f"on dungeon level {lo}" if lo == hi else f"somewhere between dungeon levels {lo} and {hi}"
    texts = {
        "score": "Get as high a score as you can: go down into the dungeon, defeat monsters and collect gold.",
        "gold": "Collect as much gold ($) as you can; walk onto gold to pick it up. Explore the dungeon's rooms "
                "and go down the stairs (>) to find more.",
        "eat": "Eat as much food as you can: food rations and apples (%) in the rooms, the one in your pack, and "
               "the corpses of monsters you kill.",
        "scout": "Explore: see as many squares of the dungeon as you can, on this level and the ones below.",
        "staircase": f"Find the staircase down (>) and descend until you reach dungeon level {core.target_depth}.",
        "oracle": f"Find the Oracle (a blue @, in a room with four fountains {where}) and stand next to her.",
        "oracle_sober": f"Find the Oracle (a blue @, in a room with four fountains {where}) and stand next to her "
                        "while not hallucinating.",
        "room": ("Open the door (+) in the wall, go through it and reach the staircase down (>) beyond it."
                 if core.room_door else "Reach the staircase down (>) in this room."),
    }
    return texts[task]
