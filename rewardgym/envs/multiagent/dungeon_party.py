"""The dungeon party: 2-4 adventurers on one dungeon level, cooperative or competitive.

The dungeon's own rules, run for several players per level by the compiled kernels of
:mod:`rewardgym.envs.dungeon.party` (see there for the tasks). Each adventurer observes what
the single game shows its player — NLE's keys (``glyphs``, ``blstats``, ``message``, ...) and
MiniHack's crops, from its own map memory, with the monsters and companions it can see (a
companion is drawn as a human, ``@``) — plus ``seat``, a one-hot of its place in the party, so
one shared policy can play every seat. ``state()`` is the whole level as a critic would want
it: every adventurer's square, health, gold and whether it is still playing, the staircase,
the monsters and the gold left, normalised to [0, 1].

Adventurers leave the game when they go down the staircase or die; the others play on.
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces

from rewardgym.envs.batched import checked_actions
from rewardgym.envs.dungeon import content as C
from rewardgym.envs.dungeon import display, party
from rewardgym.envs.dungeon import messages as M
from rewardgym.envs.dungeon.core import OBSERVATION_KEYS, action_names, checked_keys, key_space, warm_up
from rewardgym.envs.dungeon.party import PARTY_TASKS
from rewardgym.envs.dungeon.rules import BACKGROUND
from rewardgym.envs.dungeon.state import PENALTY_MODES, TASKS, Rules, kernel_state, new_state
from rewardgym.envs.jit import compile_notice, split
from rewardgym.envs.multiagent.core import MultiAgentCore

DEFAULT_KEYS = ("glyphs", "blstats", "message", "glyphs_crop")
ACTIONS = ("N", "E", "S", "W", "NE", "SE", "SW", "NW", "DOWN", "WAIT", "PICKUP")
_STATE_PER_SEAT = 6  # y, x, hit points, gold, playing, went down
_STATE_PER_MONSTER = 4  # present, y, x, hit points


class DungeonPartyCore(MultiAgentCore):
    """``num_games`` dungeon levels with ``n_agents`` adventurers each (see the module docstring).

    Args:
        n_agents: adventurers per level (2-4).
        task: ``"stairs"`` (cooperative: everyone down the staircase) or ``"gold"`` (competitive: the
            most gold when the floor is bare).
        layout: ``"room"`` (one room: ``room_size``, ``room_random``, ``room_monsters``) or ``"dungeon"``
            (the first level of the dungeon: rooms, corridors, monsters, loot).
        observation_keys: NLE's keys and MiniHack's crops, as the single game's
            (``seat`` is always added).
        actions: ``"party"`` (the eight moves, down, wait, pick up), or any of the single game's action sets.
        horizon: steps before the game is truncated.
        success_reward: the cooperative task's team reward, shared out per adventurer going down.
        penalty_step: reward of a step in which the game clock did not move (NLE's penalty).
    """

    def __init__(self, num_games: int, n_agents: int = 2, task: str = "stairs", *, layout: str = "room",
                 room_size: int = 5, room_random: bool = False, room_monsters: int = 0, observation_keys=None,
                 actions="party", horizon: int = 100, success_reward: float = 1.0, penalty_step: float = -0.01,
                 crop_size: int = 9):
        super().__init__(num_games, n_agents)
        if not 2 <= n_agents <= 4:
            raise ValueError(f"n_agents must be 2, 3 or 4 (a party), got {n_agents}")
        if task not in PARTY_TASKS:
            raise ValueError(f"task must be one of {PARTY_TASKS}, got {task!r}")
        if layout not in ("room", "dungeon"):
            raise ValueError(f"layout must be 'room' or 'dungeon', got {layout!r}")
        if layout != "room" and (room_size != 5 or room_random or room_monsters):
            raise ValueError("room_size, room_random and room_monsters shape the room layout: they do nothing with "
                             "layout='dungeon'")
        if not 0 <= room_monsters <= C.MAX_MONSTERS:
            raise ValueError(f"room_monsters must be in [0, {C.MAX_MONSTERS}], got {room_monsters}")
        if layout == "room" and not (2 <= room_size <= 17 and room_size ** 2 >= n_agents + 2 + room_monsters):
            raise ValueError(f"room_size must be in [2, 17] with a square for every adventurer and monster and the "
                             f"two staircases ({n_agents + 2 + room_monsters}), got {room_size}")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        keys = checked_keys(observation_keys, DEFAULT_KEYS, crop_size)
        names = action_names(actions, {"party": ACTIONS, **C.ACTION_SETS})
        self.task, self.layout, self.observation_keys, self.action_names = task, layout, keys, tuple(names)
        self.horizon, self.crop_size = int(horizon), int(crop_size)
        self.monsters = layout == "dungeon" or room_monsters > 0
        self.rules = Rules(task=TASKS.index("room" if layout == "room" else "score"), room_layout=layout == "room",
                           room_size=int(room_size), room_random=bool(room_random), room_lit=True,
                           room_monsters=int(room_monsters), room_door=False, spawn_rate=1 / 70, oracle_lo=5,
                           oracle_hi=9, max_steps=self.horizon, penalty_mode=PENALTY_MODES.index("constant"),
                           penalty_step=float(penalty_step), penalty_time=0.0, success_reward=float(success_reward),
                           target_depth=2, monsters=self.monsters)
        self._rules, self._task = tuple(self.rules), PARTY_TASKS.index(task)
        g, n = self.num_games, self.n_agents
        self.state = new_state(g)  # the levels
        self.seats = new_state(g * n, level=False)  # the adventurers, seat i of game g at g * n + i
        self.gone = np.zeros(g * n, bool)  # dead or down the staircase
        self.left = np.zeros(g * n, bool)  # down the staircase
        self._level, self._adventurers = kernel_state(self.state), kernel_state(self.seats)
        self.action_codes = np.array([C.ACTION_INDEX[a] for a in names], np.int64)
        self._games_of_seats = np.repeat(np.arange(g), n)
        self._all_seats = np.arange(g * n)
        self._others = np.array([[j for j in range(n) if j != i] for i in range(n)], np.int64)
        self._seat = np.broadcast_to(np.eye(n, dtype=np.float32), (g, n, n))
        self.single_action_space = spaces.Discrete(len(names))
        self.single_observation_space = spaces.Dict({**{k: key_space(k, crop_size) for k in keys},
                                                     "seat": spaces.Box(0.0, 1.0, (n,), np.float32)})
        self.state_space = spaces.Box(0.0, 1.0, (n * _STATE_PER_SEAT + 3 + C.MAX_MONSTERS * _STATE_PER_MONSTER,),
                                      np.float32)
        where = "one room" if layout == "room" else "the first level of the dungeon"
        self.instruction = (f"{n} adventurers in {where}: every one of you must go down the staircase (>); the "
                            f"party is rewarded together" if task == "stairs" else
                            f"{n} adventurers in {where} race for its gold: pick up more than anyone else")
        self._task_text = np.full((g, n), self.instruction, dtype=object)
        warm_up()
        _warm_party()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in ("_level", "_adventurers", "_outputs"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._level, self._adventurers = kernel_state(self.state), kernel_state(self.seats)

    # -- the MultiAgentCore interface ---------------------------------------------------------------------
    def reset(self, mask: np.ndarray, keys: np.ndarray) -> None:
        games = np.flatnonzero(mask)
        if games.size:
            split(party.reset_batch, games.size, self._level, self._adventurers, self._rules, self.n_agents,
                  self._task, games, np.asarray(keys, np.uint64), self.gone, self.left)

    def step(self, actions: np.ndarray, acting: np.ndarray):
        g, n = self.num_games, self.n_agents
        # the kernels do not check bounds (seats not acting hold the no-op, 0)
        actions = checked_actions(np.asarray(actions).reshape(g * n), g * n, self.action_codes.size)
        acting = np.ascontiguousarray(acting, bool).reshape(g * n) & ~self.gone
        reward, terminated, truncated = np.zeros(g * n), np.zeros(g * n, bool), np.zeros(g * n, bool)
        split(party.step_batch, g, self._level, self._adventurers, self._rules, n, self._task, self.action_codes,
              actions, acting, self.gone, self.left, reward, terminated, truncated)
        return reward.reshape(g, n), terminated.reshape(g, n), truncated.reshape(g, n)

    def company(self) -> np.ndarray:
        """(G·A, A - 1) the flat squares of each seat's companions still on the level (-1: gone)."""
        u, n = self.seats, self.n_agents
        square = np.where(self.gone, -1, u.py * C.COLS + u.px).reshape(self.num_games, n)
        return square[:, self._others].reshape(self.num_games * n, n - 1)

    def observe(self, seats: np.ndarray | None = None) -> dict[str, np.ndarray]:
        g, n = self.num_games, self.n_agents
        out = display.draw(self, self._level, self._games_of_seats, self._adventurers, self._all_seats,
                           self.company(), self.monsters, self.observation_keys, self.crop_size)
        obs = {k: v.reshape(g, n, *v.shape[1:]) for k, v in out.items()}
        obs["seat"] = self._seat.copy()
        return obs

    def global_state(self) -> np.ndarray:
        s, u, g = self.state, self.seats, self.num_games
        per_seat = np.stack([u.py / (C.ROWS - 1), u.px / (C.COLS - 1), u.hp / np.maximum(u.maxhp, 1),
                             np.minimum(u.gold / 100.0, 1.0), ~self.gone, self.left], axis=1).reshape(g, -1)
        present = s.mon_type >= 0
        monsters = np.stack([present, np.where(present, s.mon_y / (C.ROWS - 1), 0),
                             np.where(present, s.mon_x / (C.COLS - 1), 0),
                             np.where(present, np.minimum(s.mon_hp / 20.0, 1.0), 0)], axis=2).reshape(g, -1)
        level = np.stack([s.down_y / (C.ROWS - 1), s.down_x / (C.COLS - 1), np.minimum(s.gold / 100.0, 1.0)],
                         axis=1)
        return np.concatenate([per_seat, level, monsters], axis=1).astype(np.float32)

    def info(self) -> dict[str, np.ndarray]:
        g, n = self.num_games, self.n_agents
        success = self.seats.success.reshape(g, n)
        values = {"success": success.copy(), "task": self._task_text, "gold": self.seats.gold.reshape(g, n).copy(),
                  "death": self.seats.dead.reshape(g, n).copy()}
        if self.task == "stairs":
            values["party_success"] = np.repeat(self.left.reshape(g, n).all(axis=1, keepdims=True), n, axis=1)
        return values

    def get_state(self, game: int) -> dict[str, np.ndarray]:
        n = self.n_agents
        seats = slice(game * n, (game + 1) * n)
        level = {f"level_{k}": np.array(v[game]) for k, v in self.state._asdict().items()}
        return {**level, **{f"seat_{k}": np.array(v[seats]) for k, v in self.seats._asdict().items()},
                "gone": self.gone[seats].copy(), "left": self.left[seats].copy()}

    # -- text -----------------------------------------------------------------------------------------------
    def message(self, game: int, agent: int) -> str:
        u, p = self.seats, game * self.n_agents + agent
        return M.message_text(u.msg_code[p], u.msg_arg[p], u.msg_num[p], u.msg_letter[p])

    def render_text(self, game: int) -> str:
        """The whole level (every square, not only what the party has seen), seats drawn as digits."""
        s, u, n = self.state, self.seats, self.n_agents
        grid = C.GLYPH_CHAR[BACKGROUND[s.obj_kind[game], s.terrain[game]]]
        for m in np.flatnonzero(s.mon_type[game] >= 0):
            grid[s.mon_y[game, m], s.mon_x[game, m]] = C.GLYPH_CHAR[C.GLYPH_MON_OFF + s.mon_type[game, m]]
        lines = [f"T:{s.time[game]}  step {s.t[game]}/{self.horizon}  {self.task}"]
        for i in range(n):
            p = game * n + i
            if not self.gone[p]:
                grid[u.py[p], u.px[p]] = ord(str(i))
            status = "went down" if self.left[p] else "dead" if u.dead[p] else f"HP:{u.hp[p]}({u.maxhp[p]})"
            lines.append(f"  player_{i}: {status}  $:{u.gold[p]}  {self.message(game, i)}".rstrip())
        rows = [bytes(row).decode("latin-1").rstrip() for row in grid]
        while rows and not rows[-1]:
            rows.pop()
        while rows and not rows[0]:
            rows.pop(0)
        return "\n".join(lines[:1] + rows + lines[1:])

    def render_seat(self, game: int, agent: int) -> str:
        """What one adventurer sees: its tty (message, map, status lines), as the single game's ``ansi`` shows it."""
        from rewardgym.envs.dungeon.render import tty_ansi

        p = game * self.n_agents + agent
        tty = display.draw(self, self._level, self._games_of_seats[p:p + 1], self._adventurers,
                           self._all_seats[p:p + 1], self.company()[p:p + 1], self.monsters,
                           ("tty_chars", "tty_colors"), self.crop_size)
        return tty_ansi(tty["tty_chars"][0], tty["tty_colors"][0])


_warm = False


def _warm_party() -> None:
    """Load (or compile, the first time on a machine) the party's kernels, with a notice if that takes long."""
    global _warm
    if _warm:
        return
    _warm = True
    with compile_notice("the dungeon party's rules"):
        core = DungeonPartyCore(1, 2, observation_keys=OBSERVATION_KEYS)
        core.reset(np.ones(1, bool), np.zeros(1, np.uint64))
        core.step(np.zeros((1, 2), np.int64), np.ones((1, 2), bool))
        core.observe()
