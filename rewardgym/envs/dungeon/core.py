"""The dungeon's state and rules over a leading batch axis: one step of N games in NumPy calls.

:class:`DungeonCore` is a :class:`~rewardgym.envs.batched.BatchedCore`. Per-env state lives
in :class:`DungeonState` (the level's terrain, objects and the player's map memory as
(N, 21, 79) grids; monsters as (N, 16) slots; the inventory as counts per item kind).
A step handles every env's action with masks over the batch — moving, fighting, opening
doors, picking up, eating, quaffing, reading, taking stairs — then runs the world's turn for
the envs whose action took time (monsters wake, chase and attack; hunger, regeneration,
hallucination, new monsters), updates what the player sees and computes the task reward.
Monsters act all at once: each picks its move from the state before the turn, and when two
pick the same square the lower slot wins. The only Python loops run over constant sizes
(monster slots, sectors), never over envs.

Rules (NetHack's, simplified; see the package docstring for the list):

- Time passes only for actions that take a turn (moving, fighting, opening a door, picking
  up, eating, quaffing, reading, stairs, waiting, searching). Bumping into a wall, a refused
  diagonal through a door, "looking" or an action with nothing to act on cost no time — the
  steps NLE's ``penalty_mode`` penalises.
- Combat uses NetHack's to-hit rolls (d20 against level, armour class and bonuses) and a
  die of damage per attack; killing a monster gives 1 + level² experience points, and
  sometimes its corpse.
- The score is NetHack's in-game score: gold + 4 x experience points + 50 x (deepest level - 1).

Randomness is counter-based: every draw hashes (episode key, step counter, stream), and a
monster's draws also its slot, so N envs stepped together draw exactly what each would alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from rewardgym.envs import rng
from rewardgym.envs.batched import BatchedCore, masked_info
from rewardgym.envs.dungeon import content as C
from rewardgym.envs.dungeon import levels
from rewardgym.envs.dungeon import messages as M

# Counter-RNG streams of a step.
_STEP, _MON, _HALLU, _EPISODE, _LEVEL_UP = 1, 2, 3, 4, 5
_SLOT_SALT = np.uint64(0x632BE59BD9B4E019)
# Lanes of the per-env step draw.
L_HIT, L_DAMAGE, L_DOOR, L_CORPSE, L_HEAL, L_HALLU_TURNS = 0, 1, 2, 3, 4, 5
L_SPAWN, L_SPAWN_ROOM, L_SPAWN_Y, L_SPAWN_X, L_SPAWN_TYPE, L_SPAWN_HP = 6, 7, 8, 9, 10, 11  # hit points: 3 lanes
L_SOUND, L_SOUND_WHICH, L_TELEPORT = 14, 15, 16
N_LANES = L_TELEPORT + 9  # three teleport tries of (room, y, x)
# Lanes of a monster's draw.
MON_LANES = 12  # wake, to-hit, damage, wander, then 8 tie-breaking noises

TASKS = ("score", "gold", "eat", "scout", "staircase", "oracle", "oracle_sober", "room")
PENALTY_MODES = ("constant", "exp", "square", "linear", "always")
OBSERVATION_KEYS = ("glyphs", "chars", "colors", "specials", "blstats", "message", "inv_glyphs", "inv_strs",
                    "inv_letters", "inv_oclasses", "tty_chars", "tty_colors", "tty_cursor", "glyphs_crop",
                    "chars_crop", "colors_crop", "specials_crop")
DEFAULT_KEYS = OBSERVATION_KEYS[:13]
"""NLE's default keys (without ``screen_descriptions``); the ``*_crop`` views are MiniHack's."""
LETTERS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", np.uint8)
_LETTER_INDEX = np.full(256, -1, np.int64)
_LETTER_INDEX[LETTERS] = np.arange(LETTERS.size)

_HW = C.ROWS * C.COLS
_AROUND = np.array([0, *C.DY]) * C.COLS + np.array([0, *C.DX])  # flat offsets of a square and its eight neighbours
_DIAGONAL = (C.DY != 0) & (C.DX != 0)  # of the eight compass moves
# The glyph a square shows without creatures, by (object kind, terrain): the object, else the terrain.
_BACKGROUND = np.where(np.arange(256)[:, None] > 0, C.GLYPH_OBJ_OFF + np.arange(256)[:, None],
                       C.GLYPH_CMAP_OFF + np.arange(256)[None, :]).astype(np.int16)
_REGEN_PERIOD = 42 // (np.arange(32) + 2) + 1  # turns per regenerated hit point, by experience level


class _Draws:
    """A step's uniform draws, ``N_LANES`` per env, computed when first read: most steps in the monster-free
    rooms read none. Draws are per-env functions of (key, step counter), so ``rows`` restricts them exactly."""

    __slots__ = ("key", "t", "_values")

    def __init__(self, key: np.ndarray, t: np.ndarray):
        self.key, self.t, self._values = key, t, None

    def __getitem__(self, index):
        if self._values is None:
            self._values = rng.uniform(self.key, self.t, _STEP, (N_LANES,))
        return self._values[index]

    def rows(self, mask: np.ndarray) -> _Draws:
        return _Draws(self.key[mask], self.t[mask])


@dataclass
class DungeonState:
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


def _new_state(b: int) -> DungeonState:
    def z(*shape, dtype=np.int64):
        return np.zeros((b, *shape), dtype)

    grid = (C.ROWS, C.COLS)
    return DungeonState(
        key=z(dtype=np.uint64), t=z(), time=z(), depth=z(), max_depth=z(), oracle_depth=z(), visited=z(),
        py=z(), px=z(), hp=z(), maxhp=z(), xlvl=z(), xp=z(), gold=z(), nutrition=z(), hunger=z(), hallu=z(),
        dead=z(dtype=bool), ate=z(dtype=bool), success=z(dtype=bool), oracle_seen=z(dtype=bool), frozen=z(),
        explored=z(), explored_best=z(C.MAX_DEPTH + 1), cur_room=z(), up_y=z(), up_x=z(), down_y=z(), down_x=z(),
        terrain=z(*grid, dtype=np.uint8), room_map=z(*grid, dtype=np.int8), room_box=z(levels.N_SECTORS, 4),
        room_lit=z(levels.N_SECTORS, dtype=bool), obj_kind=z(*grid, dtype=np.uint8), obj_qty=z(*grid, dtype=np.int16),
        mem_glyph=z(*grid, dtype=np.int16), mem_char=z(*grid, dtype=np.uint8), mem_color=z(*grid, dtype=np.uint8),
        mem_special=z(*grid, dtype=np.uint8),
        mon_type=np.full((b, C.MAX_MONSTERS), -1, np.int64), mon_y=z(C.MAX_MONSTERS), mon_x=z(C.MAX_MONSTERS),
        mon_hp=z(C.MAX_MONSTERS), mon_energy=z(C.MAX_MONSTERS), mon_awake=z(C.MAX_MONSTERS, dtype=bool),
        mon_shown=z(C.MAX_MONSTERS), inv_count=z(C.N_ITEMS), inv_letter=z(C.N_ITEMS, dtype=np.uint8),
        msg_code=z(C.MAX_MESSAGES), msg_arg=z(C.MAX_MESSAGES), msg_num=z(C.MAX_MESSAGES),
        msg_letter=z(C.MAX_MESSAGES, dtype=np.uint8), msg_n=z(),
    )


def _flat(grid: np.ndarray) -> np.ndarray:
    """A flat view of a state grid, to index squares by ``env * 21 * 79 + y * 79 + x`` in one go."""
    if not grid.flags.c_contiguous:
        raise RuntimeError("dungeon state grids must stay C-contiguous")
    return grid.reshape(-1)


def _d20(u: np.ndarray) -> np.ndarray:
    return 1 + (u * 20).astype(np.int64)


_HUNGER_BOUNDS = np.array([0, 50, 150, 1000])  # nutrition above each bound is one state better
_HUNGER_STATES = np.array([C.FAINTING, C.WEAK, C.HUNGRY, C.NOT_HUNGRY, C.SATIATED], np.int64)


def hunger_state(nutrition: np.ndarray) -> np.ndarray:
    """NetHack's hunger state of a nutrition level (Satiated above 1000, Hungry from 150, Weak from 50)."""
    return _HUNGER_STATES[np.searchsorted(_HUNGER_BOUNDS, nutrition, side="left")]


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
        if crop_size < 1 or crop_size % 2 == 0:
            raise ValueError(f"crop_size must be a positive odd number, got {crop_size}")
        if not 2 <= target_depth <= C.MAX_DEPTH:
            raise ValueError(f"target_depth must be in [2, {C.MAX_DEPTH}], got {target_depth}")
        if not 0.0 <= spawn_rate <= 1.0:
            raise ValueError(f"spawn_rate must be in [0, 1], got {spawn_rate}")
        lo, hi = (oracle_depth, oracle_depth) if np.isscalar(oracle_depth) else tuple(oracle_depth)
        if not 2 <= int(lo) <= int(hi) < C.MAX_DEPTH:
            raise ValueError(f"oracle_depth must lie in [2, {C.MAX_DEPTH - 1}] (an int or a (low, high) pair), "
                             f"got {oracle_depth!r}")
        keys = DEFAULT_KEYS if observation_keys is None else tuple(observation_keys)
        unknown = [k for k in keys if k not in OBSERVATION_KEYS]
        if unknown or not keys or len(set(keys)) != len(keys):
            raise ValueError(f"observation_keys must be distinct names from {OBSERVATION_KEYS}, got {keys!r}")
        # an argument that would change nothing is a mistake the user should hear about
        if crop_size != 9 and not any(k.endswith("_crop") for k in keys):
            raise ValueError(f"crop_size={crop_size} does nothing without a *_crop observation key: add one, "
                             f"e.g. observation_keys=glyphs_crop,blstats")
        if layout != "room" and (room_size != 5 or room_random or not room_lit or room_monsters or room_door):
            raise ValueError("room_size, room_random, room_lit, room_monsters and room_door shape the room layout: "
                             "they do nothing with layout='dungeon' (the Room ids, or layout=room)")
        names = C.ACTION_SETS.get(actions) if isinstance(actions, str) else tuple(actions)
        if names is None or not names or any(a not in C.ACTION_INDEX for a in names) or len(set(names)) != len(names):
            raise ValueError(f"actions must be one of {sorted(C.ACTION_SETS)} or distinct names from "
                             f"{[a.name for a in C.ACTIONS]}, got {actions!r}")
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
        self.state = _new_state(num_envs)
        self.single_action_space = spaces.Discrete(len(names))
        self.single_observation_space = spaces.Dict({k: _space(k, crop_size) for k in keys})
        self.instruction = _instruction(self)
        self._task_text = np.full(num_envs, self.instruction, dtype=object)
        M.tables()  # build the text tables now rather than on the first step

    # -- episode start ---------------------------------------------------------------------------
    def reset(self, mask: np.ndarray, keys: np.ndarray) -> None:
        s = self.state
        g = mask.nonzero()[0]
        if g.size == 0:
            return
        s.key[g] = keys
        for name in ("t", "visited", "xp", "gold", "hallu", "frozen", "explored", "cur_room", "msg_n"):
            getattr(s, name)[g] = 0
        for name in ("dead", "ate", "success", "oracle_seen"):
            getattr(s, name)[g] = False
        s.explored_best[g] = 0
        s.time[g] = 1
        s.depth[g] = s.max_depth[g] = 1
        lo, hi = self.oracle_range
        s.oracle_depth[g] = levels.randint(rng.uniform(s.key[g], 0, _EPISODE), lo, hi)
        s.hp[g] = s.maxhp[g] = C.START_HP
        s.xlvl[g] = 1
        s.nutrition[g] = C.START_NUTRITION
        s.hunger[g] = C.NOT_HUNGRY
        s.inv_count[g] = 0
        s.inv_letter[g] = 0
        for letter, kind in zip(b"abc", (C.LONG_SWORD, C.RING_MAIL, C.FOOD_RATION)):
            s.inv_count[g, kind] = 1
            s.inv_letter[g, kind] = letter
        s.msg_code[g] = s.msg_arg[g] = s.msg_num[g] = 0
        s.msg_letter[g] = 0
        self._say(g, M.M_HELLO)
        self._enter_level(g, np.ones(g.size, np.int64), np.zeros(g.size, bool))
        s.explored_best[g, 1] = s.explored[g]  # what the first glance shows is not a Scout reward
        self._refresh_monsters(g)
        self.success_now(g)

    def _enter_level(self, g: np.ndarray, depth: np.ndarray, from_below: np.ndarray) -> None:
        """Build the level at ``depth`` for envs ``g``, put the player on its stairs and reset the map memory."""
        s = self.state
        bit = np.left_shift(np.int64(1), depth)
        populate = (s.visited[g] & bit) == 0
        s.visited[g] |= bit
        s.depth[g] = depth
        s.max_depth[g] = np.maximum(s.max_depth[g], depth)
        levels.generate(s, g, depth, from_below, populate, s.t[g], self)
        s.mem_glyph[g] = C.GLYPH_STONE
        s.mem_char[g] = ord(" ")
        s.mem_color[g] = 0
        s.mem_special[g] = 0
        s.explored[g] = 0
        s.cur_room[g] = 0
        self._update_view(g)

    # -- the step -------------------------------------------------------------------------------
    def step(self, action: np.ndarray, active: np.ndarray):
        s = self.state
        g = active.nonzero()[0]
        reward = np.zeros(self.num_envs)
        if g.size == 0:
            return reward, np.zeros(self.num_envs, bool), np.zeros(self.num_envs, bool)
        act = self.action_codes[np.asarray(action, np.int64)[g]]
        before = self._before(g)
        s.msg_n[g] = 0
        s.msg_code[g] = 0
        u = _Draws(s.key[g], s.t[g])
        took = np.zeros(g.size, bool)
        new_depth = s.depth[g].copy()

        given = np.bincount(act, minlength=len(C.ACTIONS)).tolist()  # skip the rules of commands nobody gave
        if any(given[:8]):
            self._player_moves(g, act, u, took)
        self._player_commands(g, act, u, took, new_depth, given)
        changed = new_depth != s.depth[g]
        if np.count_nonzero(changed):
            up = new_depth < s.depth[g]
            self._enter_level(g[changed], new_depth[changed], up[changed])
        turn = took & ~changed
        if self.monsters and np.count_nonzero(turn):
            self._monsters_act(g[turn])
        if np.count_nonzero(took):
            self._world_turn(g[took], u.rows(took))
        self._level_up(g)
        low = s.hp[g] <= 0
        if np.count_nonzero(low):
            d = g[low]
            dying = d[~s.dead[d]]
            self._say(dying, M.M_DIE)
            s.dead[dying] = True
            s.hp[d] = np.maximum(s.hp[d], 0)
        self._update_view(g)
        if self.monsters:
            self._refresh_monsters(g)
        self.success_now(g)

        reward[g] = self._reward(g, before)
        s.t[g] += 1
        terminated = np.zeros(self.num_envs, bool)
        truncated = np.zeros(self.num_envs, bool)
        goal = self.task in ("staircase", "oracle", "oracle_sober", "room")
        terminated[g] = s.dead[g] | (s.success[g] if goal else False)
        truncated[g] = (s.t[g] >= self.max_steps) & ~terminated[g]
        return reward, terminated, truncated

    def _player_moves(self, g, act, u, took) -> None:
        s = self.state
        i = (act < 8).nonzero()[0]
        if i.size == 0:
            return
        h = g[i]
        a = act[i]
        ty = s.py[h] + C.DY[a]  # the player never stands on the map's border (rooms leave it stone)
        tx = s.px[h] + C.DX[a]
        free = ~np.zeros(h.size, bool)  # nothing stops the move yet
        alive = s.mon_type[h] >= 0 if self.monsters else None
        if alive is not None and np.count_nonzero(alive):  # levels without monsters skip the fighting rules
            at = alive & (s.mon_y[h] == ty[:, None]) & (s.mon_x[h] == tx[:, None])
            has_mon = at.any(axis=1)
            slot = at.argmax(axis=1)
            kind = s.mon_type[h, slot]
            peaceful = has_mon & (kind == C.ORACLE)
            if np.count_nonzero(peaceful):
                self._say(h[peaceful], M.M_IN_YOUR_WAY, s.mon_shown[h[peaceful], slot[peaceful]] - C.GLYPH_MON_OFF)
            fight = has_mon & ~peaceful
            if np.count_nonzero(fight):
                self._player_attacks(h[fight], slot[fight], u[i[fight]])
                took[i[fight]] = True
            free = ~has_mon
        there = s.terrain[h, ty, tx]
        diagonal = _DIAGONAL[a]
        if np.count_nonzero(diagonal):  # no diagonal moves into or out of a doorway
            here = s.terrain[h, s.py[h], s.px[h]]
            diag_out = free & diagonal & C.HAS_DOOR[here]
            diag_in = free & diagonal & ~diag_out & C.HAS_DOOR[there]
            self._say(h[diag_out], M.M_DIAG_OUT)
            self._say(h[diag_in], M.M_DIAG_IN)
            free &= ~(diag_out | diag_in)
        walk = free & C.WALKABLE[there]
        blocked = free & ~walk  # by a closed door, a wall or stone (each of these squares is one of them)
        if np.count_nonzero(blocked):
            door = blocked & C.CLOSED[there]
            if np.count_nonzero(door):
                # NetHack's autoopen: rnl(20) < (Str + Dex + Con) / 3 opens the door.
                opens = door & (u[i, L_DOOR] < (sum(C.STATS[stat] for stat in ("strength", "dexterity", "constitution"))
                                                // 3) / 20)
                s.terrain[h[opens], ty[opens], tx[opens]] = np.where(there[opens] == C.CLOSED_DOOR_V, C.OPEN_DOOR_V,
                                                                     C.OPEN_DOOR_H)
                self._say(h[opens], M.M_DOOR_OPENS)
                self._say(h[door & ~opens], M.M_DOOR_STUCK)
                took[i[door]] = True
            self._say(h[blocked & C.IS_WALL[there]], M.M_WALL)
            self._say(h[blocked & (there == C.STONE)], M.M_STONE)
        if np.count_nonzero(walk):
            w, wy, wx = h[walk], ty[walk], tx[walk]
            s.py[w], s.px[w] = wy, wx
            took[i[walk]] = True
            kind_here = s.obj_kind[w, wy, wx]
            if np.count_nonzero(kind_here):
                auto = (kind_here > 0) & C.AUTOPICKUP[kind_here]
                self._pick_up(w[auto])
                seen = (kind_here > 0) & ~auto
                if np.count_nonzero(seen):
                    v = w[seen]
                    qty = s.obj_qty[v, s.py[v], s.px[v]].astype(np.int64)
                    self._say(v, M.M_SEE_HERE, M.item_arg(kind_here[seen], qty), qty)

    def _player_attacks(self, h, slot, u) -> None:
        s = self.state
        kind = s.mon_type[h, slot]
        asleep = ~s.mon_awake[h, slot]
        to_hit = 1 + C.TO_HIT_BONUS + C.MON_AC[kind] + s.xlvl[h] + 2 * asleep
        hit = to_hit > _d20(u[:, L_HIT])
        damage = 1 + (u[:, L_DAMAGE] * C.WEAPON_DIE).astype(np.int64) + C.DAMAGE_BONUS
        s.mon_hp[h, slot] -= np.where(hit, damage, 0)
        s.mon_awake[h, slot] = True
        name = s.mon_shown[h, slot] - C.GLYPH_MON_OFF
        killed = hit & (s.mon_hp[h, slot] <= 0)
        self._say(h[~hit], M.M_MISS, name[~hit])
        self._say(h[hit & ~killed], M.M_HIT, name[hit & ~killed])
        if np.count_nonzero(killed):
            k, ks, kk = h[killed], slot[killed], kind[killed]
            self._say(k, M.M_KILL, name[killed])
            s.xp[k] += 1 + C.MON_LEVEL[kk] ** 2
            y, x = s.mon_y[k, ks], s.mon_x[k, ks]
            s.mon_type[k, ks] = -1
            corpse = (u[killed, L_CORPSE] < 0.5) & (s.obj_kind[k, y, x] == 0)
            s.obj_kind[k[corpse], y[corpse], x[corpse]] = C.CORPSE_OFF + kk[corpse]
            s.obj_qty[k[corpse], y[corpse], x[corpse]] = 1

    def _pick_up(self, h) -> None:
        """Pick up the object under the player in envs ``h`` (gold to the purse, the rest to the pack)."""
        if h.size == 0:
            return
        s = self.state
        y, x = s.py[h], s.px[h]
        kind = s.obj_kind[h, y, x].astype(np.int64)
        qty = s.obj_qty[h, y, x].astype(np.int64)
        s.obj_kind[h, y, x] = 0
        s.obj_qty[h, y, x] = 0
        gold = kind == C.GOLD
        s.gold[h[gold]] += qty[gold]
        self._say(h[gold], M.M_PICK_GOLD, M.item_arg(C.GOLD, qty[gold]), qty[gold])
        item = ~gold
        if np.count_nonzero(item):
            v, k = h[item], kind[item]
            new = s.inv_count[v, k] == 0
            if np.count_nonzero(new):
                s.inv_letter[v[new], k[new]] = self._free_letter(v[new])
            s.inv_count[v, k] += qty[item]
            count = s.inv_count[v, k]
            self._say(v, M.M_PICK_ITEM, M.item_arg(k, count), count, s.inv_letter[v, k])

    def _free_letter(self, h) -> np.ndarray:
        """The first inventory letter (a-z, then A-Z) not in use in each env ``h``."""
        s = self.state
        used = np.zeros((h.size, LETTERS.size), bool)
        index = _LETTER_INDEX[s.inv_letter[h]]
        rows = np.broadcast_to(np.arange(h.size)[:, None], index.shape)
        used[rows[index >= 0], index[index >= 0]] = True
        return LETTERS[np.argmin(used, axis=1)]

    def _use_from_pack(self, g, act, action, kinds_mask, missing, took):
        """The envs that gave ``action`` (rows ``i`` of ``g``, envs ``h``), whether each holds an item of
        ``kinds_mask`` and its kind; those without one are told ``missing``, the rest take a turn."""
        i = (act == action).nonzero()[0]
        h = g[i]
        found, kind = self._first_in_pack(h, kinds_mask)
        self._say(h[~found], missing)
        took[i[found]] = True
        return i, h, found, kind

    def _first_in_pack(self, h, kinds_mask) -> tuple[np.ndarray, np.ndarray]:
        """The first carried item (in letter order) whose kind is in ``kinds_mask``: (found, kind)."""
        s = self.state
        carried = (s.inv_count[h] > 0) & kinds_mask[None, :]
        rank = np.where(carried, _LETTER_INDEX[s.inv_letter[h]], 10_000)
        kind = rank.argmin(axis=1)
        return carried.any(axis=1), kind

    def _use_up(self, h, kind) -> None:
        s = self.state
        s.inv_count[h, kind] -= 1
        gone = s.inv_count[h, kind] == 0
        s.inv_letter[h[gone], kind[gone]] = 0

    def _player_commands(self, g, act, u, took, new_depth, given) -> None:
        s = self.state
        if given[C.A_WAIT] or given[C.A_SEARCH]:
            took |= (act == C.A_WAIT) | (act == C.A_SEARCH)
        if given[C.A_PICKUP]:
            i = (act == C.A_PICKUP).nonzero()[0]
            h = g[i]
            there = s.obj_kind[h, s.py[h], s.px[h]] > 0
            self._pick_up(h[there])
            self._say(h[~there], M.M_NOTHING_TO_PICK)
            took[i[there]] = True
        if given[C.A_EAT]:
            i = (act == C.A_EAT).nonzero()[0]
            self._eat(g, i, took)
        if given[C.A_QUAFF]:
            i, h, found, kind = self._use_from_pack(g, act, C.A_QUAFF, C.IS_POTION, M.M_NO_DRINK, took)
            heal = found & (kind == C.POTION_HEALING)
            if np.count_nonzero(heal):
                v = h[heal]
                s.hp[v] += 6 + (u[i[heal], L_HEAL] * 19).astype(np.int64)  # about d(6, 4)
                over = s.hp[v] > s.maxhp[v]
                s.maxhp[v[over]] += 1  # healing at full health raises the maximum, as in NetHack
                s.hp[v] = np.minimum(s.hp[v], s.maxhp[v])
                self._say(v, M.M_FEEL_BETTER)
            trip = found & (kind == C.POTION_HALLUCINATION)
            if np.count_nonzero(trip):
                s.hallu[h[trip]] += 600 + (u[i[trip], L_HALLU_TURNS] * 200).astype(np.int64)
                self._say(h[trip], M.M_COSMIC)
            self._use_up(h[found], kind[found])
        if given[C.A_READ]:
            i, h, found, kind = self._use_from_pack(g, act, C.A_READ, C.IS_SCROLL, M.M_NO_READ, took)
            mapping = found & (kind == C.SCROLL_MAGIC_MAPPING)
            if np.count_nonzero(mapping):
                self._say(h[mapping], M.M_MAGIC_MAP)
                self._magic_map(h[mapping])
            tele = found & (kind == C.SCROLL_TELEPORTATION)
            if np.count_nonzero(tele):
                self._say(h[tele], M.M_TELEPORT)
                self._teleport(h[tele], u[i[tele]])
            self._use_up(h[found], kind[found])
        if given[C.A_DOWN]:
            i = (act == C.A_DOWN).nonzero()[0]
            h = g[i]
            ok = s.terrain[h, s.py[h], s.px[h]] == C.STAIRS_DOWN
            self._say(h[~ok], M.M_NO_DOWN)
            self._say(h[ok], M.M_DESCEND)
            new_depth[i[ok]] += 1
            took[i[ok]] = True
        if given[C.A_UP]:
            i = (act == C.A_UP).nonzero()[0]
            h = g[i]
            on = s.terrain[h, s.py[h], s.px[h]] == C.STAIRS_UP
            top = on & (s.depth[h] <= 1)
            ok = on & ~top
            self._say(h[~on], M.M_NO_UP)
            self._say(h[top], M.M_NO_LEAVING)
            self._say(h[ok], M.M_CLIMB)
            new_depth[i[ok]] -= 1
            took[i[ok]] = True
        if given[C.A_LOOK]:
            i = (act == C.A_LOOK).nonzero()[0]
            h = g[i]
            kind = s.obj_kind[h, s.py[h], s.px[h]].astype(np.int64)
            qty = s.obj_qty[h, s.py[h], s.px[h]].astype(np.int64)
            ter = s.terrain[h, s.py[h], s.px[h]]
            code = np.select([ter == C.STAIRS_DOWN, ter == C.STAIRS_UP, ter == C.FOUNTAIN,
                              (ter == C.OPEN_DOOR_V) | (ter == C.OPEN_DOOR_H), ter == C.DOORWAY],
                             [M.M_HERE_DOWNSTAIRS, M.M_HERE_UPSTAIRS, M.M_HERE_FOUNTAIN, M.M_HERE_OPEN_DOOR,
                              M.M_HERE_DOORWAY], 0)
            self._say(h[code > 0], code[code > 0])
            obj = kind > 0
            self._say(h[obj], M.M_SEE_HERE, M.item_arg(kind[obj], qty[obj]), qty[obj])
            self._say(h[~obj & (code == 0)], M.M_NO_OBJECTS)

    def _eat(self, g, i, took) -> None:
        s = self.state
        h = g[i]
        floor_kind = s.obj_kind[h, s.py[h], s.px[h]].astype(np.int64)
        from_floor = C.IS_FOOD[floor_kind]
        found, pack_kind = self._first_in_pack(h, C.IS_FOOD)
        from_pack = ~from_floor & found
        eats = from_floor | from_pack
        self._say(h[~eats], M.M_NO_EAT)
        if not np.count_nonzero(eats):
            return
        kind = np.where(from_floor, floor_kind, pack_kind)
        f = h[from_floor]
        y, x = s.py[f], s.px[f]
        s.obj_qty[f, y, x] -= 1
        empty = s.obj_qty[f, y, x] <= 0
        s.obj_kind[f[empty], y[empty], x[empty]] = 0
        self._use_up(h[from_pack], kind[from_pack])
        e, k = h[eats], kind[eats]
        took[i[eats]] = True
        s.ate[e] = True
        s.nutrition[e] += C.ITEM_NUTRITION[k]
        corpse = k >= C.CORPSE_OFF
        self._say(e[k == C.FOOD_RATION], M.M_EAT_RATION)
        self._say(e[k == C.APPLE], M.M_EAT_APPLE)
        self._say(e[corpse], M.M_EAT_CORPSE, k[corpse] - C.CORPSE_OFF)
        trip = corpse & C.MON_HALLUCINOGENIC[np.maximum(k - C.CORPSE_OFF, 0)]
        if np.count_nonzero(trip):
            s.hallu[e[trip]] += 200
            self._say(e[trip], M.M_GREAT_STUFF)
        full = s.nutrition[e] > 1500
        self._say(e[full], M.M_HARD_TIME)
        s.nutrition[e] = np.minimum(s.nutrition[e], 2000)
        hungry = (hunger_state(s.nutrition[e]) >= C.HUNGRY)
        self._say(e[hungry], M.M_STILL_HUNGRY)
        s.hunger[e] = hunger_state(s.nutrition[e])

    def _magic_map(self, h) -> None:
        """Reveal the level's terrain (not its objects) where the player remembers nothing yet."""
        s = self.state
        ter = s.terrain[h]
        unknown = (s.mem_glyph[h] == C.GLYPH_STONE) & (ter != C.STONE)
        glyph = (C.GLYPH_CMAP_OFF + ter).astype(np.int16)
        s.mem_glyph[h] = np.where(unknown, glyph, s.mem_glyph[h])
        s.mem_char[h] = np.where(unknown, C.GLYPH_CHAR[glyph], s.mem_char[h])
        s.mem_color[h] = np.where(unknown, C.GLYPH_COLOR[glyph], s.mem_color[h])
        s.explored[h] += unknown.sum(axis=(1, 2))

    def _teleport(self, h, u) -> None:
        """Move the player to a random free floor square of a random room (three tries)."""
        s = self.state
        done = np.zeros(h.size, bool)
        for k in range(3):
            lane = L_TELEPORT + 3 * k
            room = levels.randint(u[:, lane], 0, levels.N_SECTORS - 1)
            box = s.room_box[h, room]
            real = box[:, 2] > 0
            y = levels.randint(u[:, lane + 1], box[:, 0] + 1, np.maximum(box[:, 2] - 1, box[:, 0] + 1))
            x = levels.randint(u[:, lane + 2], box[:, 1] + 1, np.maximum(box[:, 3] - 1, box[:, 1] + 1))
            ok = ~done & real & (s.terrain[h, y, x] == C.FLOOR)
            ok &= ~((s.mon_type[h] >= 0) & (s.mon_y[h] == y[:, None]) & (s.mon_x[h] == x[:, None])).any(axis=1)
            s.py[h[ok]], s.px[h[ok]] = y[ok], x[ok]
            done |= ok

    # -- the world's turn ---------------------------------------------------------------------------
    def _monsters_act(self, g) -> None:
        """Monsters of envs ``g`` gain movement, wake, and attack or move (all monsters at once)."""
        s = self.state
        kind = s.mon_type[g]
        alive = (kind >= 0) & (kind != C.ORACLE)
        if not np.count_nonzero(alive):
            s.mon_energy[g] = np.minimum(s.mon_energy[g], 12)  # what the rules below do to empty slots
            return
        speed = C.MON_SPEED[np.maximum(kind, 0)]
        energy = s.mon_energy[g] + np.where(alive, speed, 0)
        acts = alive & (energy >= 12)
        s.mon_energy[g] = np.where(acts, energy - 12, np.minimum(energy, 12))
        pi, pm = np.nonzero(acts)
        if pi.size == 0:
            return
        e = g[pi]
        k = kind[pi, pm]
        pkey = rng.splitmix64(s.key[e] ^ ((pm.astype(np.uint64) + np.uint64(1)) * _SLOT_SALT))
        u = rng.uniform(pkey, s.t[e], _MON, (MON_LANES,))
        my, mx = s.mon_y[e, pm], s.mon_x[e, pm]
        py, px = s.py[e], s.px[e]
        dist = np.maximum(np.abs(my - py), np.abs(mx - px))
        awake = s.mon_awake[e, pm]
        # Sleeping monsters the player is in view of, within 10 squares, wake one time in seven.
        in_view = self._in_view(e, my, mx)
        wakes = ~awake & in_view & (dist <= 10) & (u[:, 0] < 1 / 7)
        s.mon_awake[e[wakes], pm[wakes]] = True
        ortho = C.MON_ORTHOGONAL[k]
        adjacent = awake & (dist == 1) & (~ortho | (my == py) | (mx == px))
        # Attacks: NetHack's 10 + AC + level > d20.
        if np.count_nonzero(adjacent):
            a = adjacent.nonzero()[0]
            ea, ka = e[a], k[a]
            hit = (10 + C.PLAYER_AC + C.MON_LEVEL[ka]) > _d20(u[a, 1])
            damage = np.where(C.MON_DAMAGE[ka] > 0, 1 + (u[a, 2] * C.MON_DAMAGE[ka]).astype(np.int64), 0)
            np.subtract.at(s.hp, ea[hit], damage[hit])
            name = s.mon_shown[ea, pm[a]] - C.GLYPH_MON_OFF
            code = np.where(hit, M.M_MON_HITS, M.M_MON_MISSES)
            self._say(ea, code, name, unique=False)
        # Moves: chase the player (when within 12 squares) or wander; invalid squares never win.
        moving = awake & ~adjacent
        if not np.count_nonzero(moving):
            return
        j = moving.nonzero()[0]
        ej, pmj = e[j], pm[j]
        cy = my[j, None] + C.DY[None, :]
        cx = mx[j, None] + C.DX[None, :]
        # Monsters stand inside the map's stone border: no bounds checks, and flat indices are exact.
        ter = _flat(s.terrain)[(ej * _HW)[:, None] + cy * C.COLS + cx]
        here = s.terrain[ej, my[j], mx[j]]
        diagonal = (C.DY != 0) & (C.DX != 0)
        ok = C.WALKABLE[ter] & ~((cy == py[j, None]) & (cx == px[j, None]))
        ok &= ~(diagonal[None, :] & (C.HAS_DOOR[ter] | C.HAS_DOOR[here][:, None]))
        ok &= ~(C.MON_ORTHOGONAL[k[j]][:, None] & diagonal[None, :])
        square = np.where(s.mon_type[ej] >= 0, s.mon_y[ej] * C.COLS + s.mon_x[ej], -1)  # empty slots match nothing
        ok &= ~((cy * C.COLS + cx)[:, :, None] == square[:, None, :]).any(axis=2)
        new_dist = np.maximum(np.abs(cy - py[j, None]), np.abs(cx - px[j, None]))
        chase = dist[j] <= 12
        noise = u[j, 4:12]
        score = np.where(chase[:, None], new_dist + 0.5 * noise, noise)
        score = np.where(ok, score, np.inf)
        best = score.argmin(axis=1)
        rows = np.arange(j.size)
        go = ok[rows, best] & (~chase | (new_dist[rows, best] <= dist[j]))
        go &= ~chase | (u[j, 3] < 0.95)  # now and then a chaser hesitates
        go &= chase | (u[j, 3] < 0.5)  # wanderers move every other turn
        ny, nx = cy[rows, best], cx[rows, best]
        # Two monsters aiming at one square: the first in (env, slot) order gets it.
        target = ej * _HW + ny * C.COLS + nx
        winners = np.zeros(j.size, bool)
        moving_idx = go.nonzero()[0]
        if moving_idx.size:
            _, first = np.unique(target[moving_idx], return_index=True)
            winners[moving_idx[first]] = True
        s.mon_y[ej[winners], pmj[winners]] = ny[winners]
        s.mon_x[ej[winners], pmj[winners]] = nx[winners]

    def _world_turn(self, g, u) -> None:
        """Time passes in envs ``g``: the clock, hunger, regeneration, hallucination, new monsters, sounds."""
        s = self.state
        s.time[g] += 1
        s.nutrition[g] -= 1
        nutrition = s.nutrition[g]
        new = hunger_state(nutrition)
        worse = new > s.hunger[g]
        if np.count_nonzero(worse):
            self._say(g[worse & (new == C.HUNGRY)], M.M_HUNGRY)
            self._say(g[worse & (new == C.WEAK)], M.M_WEAK)
            self._say(g[worse & (new == C.FAINTING)], M.M_FAINT)
        s.hunger[g] = new
        starving = nutrition < C.STARVE_AT
        if np.count_nonzero(starving):
            starved = g[starving & (s.hp[g] > 0)]
            self._say(starved, M.M_STARVE)
            s.hp[starved] = 0
            s.dead[starved] = True
            s.hunger[starved] = C.STARVED
        # Regeneration at low level: one hit point every 42 / (XL + 2) + 1 turns.
        hp = s.hp[g]  # starvation may have changed it
        hurt = (hp < s.maxhp[g]) & (hp > 0)
        if np.count_nonzero(hurt):
            h = g[hurt]
            s.hp[h[s.time[h] % _REGEN_PERIOD[s.xlvl[h]] == 0]] += 1
        tripping = s.hallu[g] > 0
        if np.count_nonzero(tripping):
            h = g[tripping]
            s.hallu[h] -= 1
            self._say(h[s.hallu[h] == 0], M.M_HALLU_END)
        if self.layout != "dungeon":
            return
        self._spawn(g, u)
        # The Oracle's level has its sounds (NetHack's level sounds, one turn in 400).
        oracle_level = s.depth[g] == s.oracle_depth[g]
        if np.count_nonzero(oracle_level):
            sound = oracle_level & (u[:, L_SOUND] < 1 / 400)
            which = (u[:, L_SOUND_WHICH] * 3).astype(np.int64)
            self._say(g[sound], np.array([M.M_SOUND_WIND, M.M_SOUND_RAVINGS, M.M_SOUND_SNAKES])[which[sound]])

    def _spawn(self, g, u) -> None:
        """Now and then a new monster appears in a random room, out of the player's sight."""
        s = self.state
        want = u[:, L_SPAWN] < self.spawn_rate
        if not np.count_nonzero(want):
            return
        i = want.nonzero()[0]
        h = g[i]
        free_slot = s.mon_type[h] < 0
        slot = free_slot.argmax(axis=1)
        room = levels.randint(u[i, L_SPAWN_ROOM], 0, levels.N_SECTORS - 1)
        box = s.room_box[h, room]
        real = box[:, 2] > 0
        y = levels.randint(u[i, L_SPAWN_Y], box[:, 0] + 1, np.maximum(box[:, 2] - 1, box[:, 0] + 1))
        x = levels.randint(u[i, L_SPAWN_X], box[:, 1] + 1, np.maximum(box[:, 3] - 1, box[:, 1] + 1))
        ok = free_slot.any(axis=1) & real & (s.terrain[h, y, x] == C.FLOOR) & ~self._in_view(h, y, x)
        kind = levels.sample_monster(u[i, L_SPAWN_TYPE], s.depth[h], s.xlvl[h])
        placed = levels._place_monster(s, h, slot, kind, y, x, np.ones(h.size, bool),
                                       u[i, L_SPAWN_HP:L_SPAWN_HP + 3], ok)
        s.mon_shown[h[placed], slot[placed]] = C.GLYPH_MON_OFF + kind[placed]

    def _level_up(self, g) -> None:
        s = self.state
        more = (s.xp[g] >= C.XP_NEEDED[s.xlvl[g]]) & (s.xlvl[g] < 30)
        if not np.count_nonzero(more):
            return
        up = np.zeros(g.size, bool)
        for k in range(3):
            if k:
                more = (s.xp[g] >= C.XP_NEEDED[s.xlvl[g]]) & (s.xlvl[g] < 30)
            if not np.count_nonzero(more):
                break
            h = g[more]
            gain = 1 + (rng.uniform(s.key[h], s.t[h] * 64 + s.xlvl[h], _LEVEL_UP) * 8).astype(np.int64)  # d8
            s.xlvl[h] += 1
            s.maxhp[h] += gain
            s.hp[h] += gain
            up |= more
        self._say(g[up], M.M_LEVEL_UP, 0, s.xlvl[g[up]])

    # -- what the player sees -------------------------------------------------------------------------
    def _in_view(self, e, y, x) -> np.ndarray:
        """Whether square (y, x) of env ``e`` is in view: next to the player, or in the player's lit room."""
        s = self.state
        near = np.maximum(np.abs(y - s.py[e]), np.abs(x - s.px[e])) <= 1
        room = s.cur_room[e]
        return near | ((room > 0) & (s.room_map[e, y, x] == room))

    def _remember(self, flat) -> None:
        """Write what is at the squares (flat indices into the (B, 21, 79) grids) into the player's map memory,
        counting newly seen squares."""
        s = self.state
        glyph = _BACKGROUND[_flat(s.obj_kind)[flat], _flat(s.terrain)[flat]]
        memory = _flat(s.mem_glyph)
        old = memory[flat]
        changed = (old != glyph).nonzero()[0]
        if not changed.size:
            return
        flat, glyph, old = flat[changed], glyph[changed], old[changed]
        memory[flat] = glyph
        _flat(s.mem_char)[flat] = C.GLYPH_CHAR[glyph]
        _flat(s.mem_color)[flat] = C.GLYPH_COLOR[glyph]
        _flat(s.mem_special)[flat] = C.GLYPH_SPECIAL[glyph]
        fresh = (old == C.GLYPH_STONE) & (glyph != C.GLYPH_STONE)
        if np.count_nonzero(fresh):
            s.explored += np.bincount(flat[fresh] // _HW, minlength=self.num_envs)

    def _update_view(self, g) -> None:
        """Refresh the map memory: the squares around the player, and the whole room on entering a lit one."""
        s = self.state
        here = g * _HW + s.py[g] * C.COLS + s.px[g]
        self._remember((here[:, None] + _AROUND).ravel())  # the player never stands on the map's border
        room = _flat(s.room_map)[here].astype(np.int64)
        if not np.count_nonzero(room != s.cur_room[g]):
            return  # still in the lit room already drawn, or still outside any
        lit = (room > 0) & s.room_lit[g, np.maximum(room - 1, 0)]
        room = np.where(lit, room, 0)
        entering = lit & (room != s.cur_room[g])
        s.cur_room[g] = room
        if np.count_nonzero(entering):
            h = g[entering]
            box = s.room_box[h, room[entering] - 1]
            yy = np.arange(C.ROWS)[None, :, None]
            xx = np.arange(C.COLS)[None, None, :]
            inside = ((yy >= box[:, 0, None, None]) & (yy <= box[:, 2, None, None]) & (xx >= box[:, 1, None, None])
                      & (xx <= box[:, 3, None, None]))
            ei, ry, rx = np.nonzero(inside)
            self._remember(h[ei] * _HW + ry * C.COLS + rx)

    def _refresh_monsters(self, g) -> None:
        """Choose the glyph each monster shows this step: its own, or a random one while hallucinating."""
        s = self.state
        kind = s.mon_type[g]
        if not np.count_nonzero(kind >= 0):
            s.mon_shown[g] = 0
            s.oracle_seen[g] = False
            return
        shown = C.GLYPH_MON_OFF + np.maximum(kind, 0)
        tripping = s.hallu[g] > 0
        if np.count_nonzero(tripping):
            h = g[tripping]
            u = rng.uniform(s.key[h], s.t[h], _HALLU, (C.MAX_MONSTERS,))
            fake = 1 + (u * (C.N_MONSTERS - 1)).astype(np.int64)  # any monster but the player's own form
            shown[tripping] = C.GLYPH_MON_OFF + fake
        s.mon_shown[g] = np.where(kind >= 0, shown, 0)
        near = ((kind >= 0) & (np.abs(s.mon_y[g] - s.py[g, None]) <= 1) & (np.abs(s.mon_x[g] - s.px[g, None]) <= 1))
        s.oracle_seen[g] = (near & (s.mon_shown[g] == C.GLYPH_ORACLE)).any(axis=1)

    # -- reward and task ---------------------------------------------------------------------------
    def score(self, g=slice(None)) -> np.ndarray:
        """NetHack's in-game score (botl_score): gold + 4 x experience + 50 x (deepest level - 1)."""
        s = self.state
        return s.gold[g] + 4 * s.xp[g] + 50 * (s.max_depth[g] - 1)

    def success_now(self, g) -> None:
        """Update the task's milestone flag of envs ``g`` (kept once reached)."""
        s = self.state
        task = self.task
        if task in ("staircase", "score", "scout"):
            target = self.target_depth if task == "staircase" else 2
            hit = s.max_depth[g] >= target
        elif task == "gold":
            hit = s.gold[g] > 0
        elif task == "eat":
            hit = s.ate[g].copy()
        elif task == "oracle":
            hit = s.oracle_seen[g].copy()
        elif task == "oracle_sober":
            hit = s.oracle_seen[g] & (s.hallu[g] == 0)
        else:  # room
            hit = _flat(s.terrain)[g * _HW + s.py[g] * C.COLS + s.px[g]] == C.STAIRS_DOWN
        s.success[g] |= hit & ~s.dead[g]

    def _before(self, g) -> tuple[np.ndarray, np.ndarray | None]:
        """What the reward compares with after the step: the game time, and the task's quantity."""
        s = self.state
        task = self.task
        if task == "score":
            quantity = self.score(g)
        elif task in ("gold", "eat"):
            quantity = (s.gold if task == "gold" else s.nutrition)[g]
        elif task == "scout":
            quantity = None
        else:
            quantity = s.success[g]
        return s.time[g], quantity  # fancy indexing copies

    def _reward(self, g, before) -> np.ndarray:
        s = self.state
        task = self.task
        before_time, before = before
        if task == "score":
            r = (self.score(g) - before).astype(np.float64)
        elif task == "gold":
            r = (s.gold[g] - before).astype(np.float64)
        elif task == "eat":
            r = np.maximum(s.nutrition[g] - before, 0).astype(np.float64)
        elif task == "scout":
            best = s.explored_best[g, s.depth[g]]
            r = np.maximum(s.explored[g] - best, 0).astype(np.float64)
            s.explored_best[g, s.depth[g]] = np.maximum(best, s.explored[g])
        else:
            r = (s.success[g] & ~before) * self.success_reward
        # NLE's time penalty.
        time = s.time[g]
        still = time == before_time
        frozen = (s.frozen[g] + 1) * still
        s.frozen[g] = frozen
        f = frozen.astype(np.float64)
        mode = self.penalty_mode
        if mode == "constant":
            penalty = still * self.penalty_step
        elif mode == "exp":
            penalty = np.where(f > 0, 2.0 ** np.minimum(f, 60) * self.penalty_step, 0.0)
        elif mode == "square":
            penalty = f ** 2 * self.penalty_step
        elif mode == "linear":
            penalty = f * self.penalty_step
        else:
            penalty = np.full(g.size, self.penalty_step)
        if self.penalty_time:
            penalty = penalty + (time - before_time) * self.penalty_time
        return r + penalty

    # -- messages -------------------------------------------------------------------------------------
    def _say(self, h, code, arg=0, num=0, letter=0, unique: bool = True) -> None:
        """Append a message to the step's messages of envs ``h`` (dropped past MAX_MESSAGES, like a full tty line).

        With ``unique=False`` an env may appear several times in ``h``; its messages keep their order.
        """
        h = np.asarray(h, np.int64)
        if h.size == 0:
            return
        s = self.state
        if unique:  # the common case, kept cheap: one message slot per env
            slot = s.msg_n[h]
            ok = slot < C.MAX_MESSAGES
            if np.count_nonzero(ok) < ok.size:
                h, slot = h[ok], slot[ok]
                code, arg, num, letter = (v[ok] if np.ndim(v) else v for v in (code, arg, num, letter))
            s.msg_code[h, slot] = code
            s.msg_arg[h, slot] = arg
            s.msg_num[h, slot] = num
            s.msg_letter[h, slot] = letter
            s.msg_n[h] = slot + 1
            return
        code, arg, num, letter = (np.broadcast_to(np.asarray(v, np.int64), h.shape) for v in (code, arg, num, letter))
        order = np.argsort(h, kind="stable")
        h, code, arg, num, letter = h[order], code[order], arg[order], num[order], letter[order]
        idx = np.arange(h.size)
        first = np.ones(h.size, bool)
        first[1:] = h[1:] != h[:-1]
        slot = s.msg_n[h] + idx - np.maximum.accumulate(np.where(first, idx, 0))
        ok = slot < C.MAX_MESSAGES
        hk, sk = h[ok], slot[ok]
        s.msg_code[hk, sk] = code[ok]
        s.msg_arg[hk, sk] = arg[ok]
        s.msg_num[hk, sk] = num[ok]
        s.msg_letter[hk, sk] = letter[ok]
        np.add.at(s.msg_n, h, 1)
        s.msg_n[h] = np.minimum(s.msg_n[h], C.MAX_MESSAGES)

    def message(self, index: int) -> str:
        """The messages of env ``index``'s last step, as the tty's top line shows them."""
        s = self.state
        return M.message_text(s.msg_code[index], s.msg_arg[index], s.msg_num[index], s.msg_letter[index])

    # -- observation and info ----------------------------------------------------------------------------
    def observe(self) -> dict[str, np.ndarray]:
        from rewardgym.envs.dungeon.display import observe

        return observe(self, None, self.observation_keys)

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


def _space(key: str, crop: int) -> spaces.Box:
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
