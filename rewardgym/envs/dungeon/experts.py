"""A scripted explorer: fights what attacks it, picks up the level's gold, takes the stairs down.

The explorer reads the unwrapped env's state (the whole level, not the observation), so it
works under any observation keys and shows that every task is solvable::

    env = gym.make("rewardgym/Dungeon-Gold-v0")
    expert = expert_for(env)
    obs, info = env.reset(seed=1_000_000)
    while True:
        obs, reward, terminated, truncated, info = env.step(expert.act(obs))
        if terminated or truncated:
            break

Each step it plans from the current state alone (no memory), in this order: eat when hungry;
attack an adjacent hostile monster; rest while below 60% of its hit points; on the Oracle
tasks' level, walk next to the Oracle;
walk to the nearest gold (or to the room task's staircase); else walk to the staircase down
and descend. Paths are breadth-first searches over the squares a player may enter, with
NetHack's rule that doors are not entered or left diagonally; a closed door on the path is
opened by walking into it.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from rewardgym.envs.dungeon import content as C


class DungeonExplorer:
    """The explorer for env ``index`` of a dungeon env (single or vector); ``act(obs)`` gives its action."""

    def __init__(self, env: Any, index: int = 0):
        self.env = env.unwrapped if hasattr(env, "unwrapped") else env
        self.core = self.env.core
        self.index = index
        self._action = {name: i for i, name in enumerate(self.core.action_names)}

    def act(self, obs: Any = None) -> int:
        return self._action[self.plan()]

    def _can(self, name: str) -> bool:
        return name in self._action

    def plan(self) -> str:
        """The name of the command to give next."""
        s, i, core = self.core.state, self.index, self.core
        py, px = int(s.py[i]), int(s.px[i])
        here = int(s.terrain[i, py, px])
        floor_food = C.IS_FOOD[int(s.obj_kind[i, py, px])]
        if self._can("EAT") and s.hunger[i] >= C.HUNGRY and (floor_food or (s.inv_count[i] * C.IS_FOOD).sum() > 0):
            return "EAT"
        monsters = [(int(s.mon_y[i, m]), int(s.mon_x[i, m])) for m in range(C.MAX_MONSTERS)
                    if s.mon_type[i, m] >= 0 and s.mon_type[i, m] != C.ORACLE]
        for my, mx in monsters:
            if max(abs(my - py), abs(mx - px)) == 1:
                return _direction(my - py, mx - px)
        if self._can("SEARCH") and s.hp[i] < 0.6 * s.maxhp[i] and s.hunger[i] < C.WEAK:
            return "SEARCH"  # rest until the hit points come back
        if core.task in ("oracle", "oracle_sober") and s.depth[i] == s.oracle_depth[i]:
            oracle = [(int(s.mon_y[i, m]), int(s.mon_x[i, m])) for m in range(C.MAX_MONSTERS)
                      if s.mon_type[i, m] == C.ORACLE]
            targets = {(oy + dy, ox + dx) for oy, ox in oracle for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                       if (dy or dx)}
            step = self._path_step(targets)
            if step:
                return step
        if core.task == "room":
            step = self._path_step({(int(s.down_y[i]), int(s.down_x[i]))})
            return step or "WAIT"
        gold = set(zip(*np.nonzero(s.obj_kind[i] == C.GOLD)))
        step = self._path_step({(int(y), int(x)) for y, x in gold}) if gold else None
        if step:
            return step
        if here == C.STAIRS_DOWN and self._can("DOWN"):
            return "DOWN"
        if s.down_y[i] >= 0:
            step = self._path_step({(int(s.down_y[i]), int(s.down_x[i]))})
            if step:
                return step
        return "SEARCH" if self._can("SEARCH") else "N"

    def _path_step(self, targets: set[tuple[int, int]]) -> str | None:
        """The first move of a shortest path to any target square (None: unreachable or already there)."""
        s, i = self.core.state, self.index
        start = (int(s.py[i]), int(s.px[i]))
        if not targets or start in targets:
            return None
        terrain = s.terrain[i]
        passable = C.WALKABLE[terrain] | C.CLOSED[terrain]
        door = C.HAS_DOOR[terrain]
        first: dict[tuple[int, int], tuple[int, int] | None] = {start: None}
        queue = deque([start])
        while queue:
            y, x = queue.popleft()
            for dy, dx in _STEPS:
                ny, nx = y + dy, x + dx
                if (ny, nx) in first or not (0 <= ny < C.ROWS and 0 <= nx < C.COLS) or not passable[ny, nx]:
                    continue
                if dy and dx and (door[y, x] or door[ny, nx]):
                    continue
                first[(ny, nx)] = first[(y, x)] or (dy, dx)
                if (ny, nx) in targets:
                    return _direction(*first[(ny, nx)])
                queue.append((ny, nx))
        return None


_STEPS = [(int(dy), int(dx)) for dy, dx in zip(C.DY, C.DX)]
_NAMES = {step: C.ACTIONS[k].name for k, step in enumerate(_STEPS)}


def _direction(dy: int, dx: int) -> str:
    return _NAMES[(int(np.sign(dy)), int(np.sign(dx)))]


def expert_for(env: Any) -> DungeonExplorer:
    """The scripted explorer of a dungeon env (any task)."""
    return DungeonExplorer(env)
