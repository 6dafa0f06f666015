"""A party of adventurers on one dungeon level: the single game's rules, several players per level, compiled.

The level (terrain, objects, monsters, the clock) lives in a
:class:`~rewardgym.envs.dungeon.state.DungeonState` of G games; the adventurers (position, hit
points, pack, map memory, messages) in another of G x P seats, seat ``i`` of game ``g`` at
index ``g * P + i``. A step runs the single game's rules (:mod:`~rewardgym.envs.dungeon.rules`,
which take the level and the adventurer as two indices) for each seat in turn, then one turn
of the world: the monsters go for the nearest adventurer, the clock moves, each adventurer
gets hungry and heals. An adventurer leaves the level by taking the staircase down, or by
dying; the others play on.

Tasks:

- ``stairs`` (cooperative): the whole party must go down the staircase. Every adventurer still
  playing is rewarded ``success_reward x (adventurers who went down this step) / P`` — one
  reward for the team. An adventurer's ``success`` is having gone down; the game's is
  everyone having gone down.
- ``gold`` (competitive): gold lies on the level; each adventurer is rewarded for the gold it
  picks up, and the game ends when the floor holds no more. ``success``: ending with more
  gold than anyone else.

Each seat draws its own numbers (its key is the game's hashed with the seat), so two
adventurers swinging at the same monster in one step roll separately; the level's draws
(monsters, new monsters) are the game's, as in the single game.
"""

from __future__ import annotations

import numpy as np

from rewardgym.envs.dungeon import content as C
from rewardgym.envs.dungeon import levels, rules
from rewardgym.envs.dungeon import messages as M
from rewardgym.envs.dungeon.state import Rules
from rewardgym.envs.jit import cache_guard, draw_base, lane_uniform, njit, splitmix64

PARTY_TASKS = ("stairs", "gold")
T_STAIRS, T_GOLD = 0, 1
_SEAT_SALT = np.uint64(0x9E6C63D0676A9A99)
_PLACE = 7  # counter-RNG stream of the adventurers' starting squares and the gold piles
_TRIES = 16  # random squares tried per placement before the first free square of the room is taken
GOLD_PILES = 2  # piles per adventurer in the gold task
_NOBODY4 = np.zeros(4, np.bool_)  # no adventurer gone yet (a party has at most four)

cache_guard(__file__, C.MAX_MONSTERS, C.STAIRS_DOWN, C.FLOOR, C.GOLD, C.START_HP, C.START_NUTRITION)


@njit
def seat_key(key, seat):
    """Seat ``seat``'s key in the game keyed ``key`` (its own draws)."""
    return splitmix64(np.uint64(key) ^ (np.uint64(seat + 1) * _SEAT_SALT))


@njit
def _free(lv, g, u, p0, placed, y, x):
    """Whether (y, x) is plain floor with no object, monster or adventurer placed yet."""
    if lv.terrain[g, y, x] != C.FLOOR or lv.obj_kind[g, y, x] != 0 or rules.monster_at(lv, g, y, x) >= 0:
        return False
    return rules.adventurer_at(u, p0, placed, _NOBODY4, y, x) < 0


@njit
def _free_square(lv, g, u, p0, placed, room, base, lane):
    """A random free square of room ``room`` (a sector index), else the room's first free square; (-1, -1) when
    it has none."""
    top, left, bottom, right = lv.room_box[g, room, 0], lv.room_box[g, room, 1], lv.room_box[g, room, 2], \
        lv.room_box[g, room, 3]
    for k in range(_TRIES):
        y = levels.randint(lane_uniform(base, lane + 2 * k), top + 1, max(bottom - 1, top + 1))
        x = levels.randint(lane_uniform(base, lane + 2 * k + 1), left + 1, max(right - 1, left + 1))
        if _free(lv, g, u, p0, placed, y, x):
            return y, x
    for y in range(top + 1, bottom):
        for x in range(left + 1, right):
            if _free(lv, g, u, p0, placed, y, x):
                return y, x
    return -1, -1


@njit
def reset_game(lv, u, r, g, n, task, key, gone, left):
    """Start game ``g`` keyed ``key``: the level, its gold piles (gold task), and ``n`` adventurers — seat 0 on
    the level's arrival square, the others on free squares of the same room."""
    rules.reset_env(lv, r, g, key)  # the level (and its arrival square, lv.py/px) as the single game builds it
    base = draw_base(key, 0, _PLACE)
    p0 = g * n
    room = max(np.int64(lv.room_map[g, lv.py[g], lv.px[g]]) - 1, 0)
    for i in range(n):
        p = p0 + i
        y, x = lv.py[g], lv.px[g]
        if i > 0:
            y, x = _free_square(lv, g, u, p0, i, room, base, 2 * _TRIES * i)
            for other in range(9):  # the arrival room is full (the dungeon's smallest rooms): another room
                if y < 0 and lv.room_box[g, other, 2] > 0:
                    y, x = _free_square(lv, g, u, p0, i, other, base, 2 * _TRIES * i)
            if y < 0:  # no free floor anywhere (never on the levels the party plays): share the arrival square
                y, x = lv.py[g], lv.px[g]
        u.py[p], u.px[p] = y, x
        rules.start_adventurer(u, p)
        gone[p] = left[p] = False
    if task == T_GOLD:
        # the game's piles, on free squares of any room (a room without space is skipped)
        for k in range(GOLD_PILES * n):
            sector = levels.randint(lane_uniform(base, 1000 + 3 * k), 0, 8)
            if lv.room_box[g, sector, 2] <= 0:
                sector = room
            y, x = _free_square(lv, g, u, p0, n, sector, base, 2000 + 2 * _TRIES * k)
            if y >= 0:
                qty = 1 + np.int64(lane_uniform(base, 1000 + 3 * k + 1) * 30)
                lv.obj_kind[g, y, x] = C.GOLD
                lv.obj_qty[g, y, x] = qty
    lv.gold[g] = 0  # the level's purse stands for the gold on its floor
    for y in range(C.ROWS):
        for x in range(C.COLS):
            if lv.obj_kind[g, y, x] == C.GOLD:
                lv.gold[g] += lv.obj_qty[g, y, x]
    for i in range(n):
        p = p0 + i
        rules.update_view(lv, g, u, p)
        rules.refresh_monsters(lv, g, u, p, seat_key(key, i))


@njit
def step_game(lv, u, r, g, n, task, codes, actions, acting, gone, left, reward, terminated, truncated):
    """One step of game ``g``: each seat of ``acting`` plays ``codes[actions[p]]`` in seat order, then the world
    turns once if anyone's action took time. Writes each seat's reward and flags."""
    p0 = g * n
    key = lv.key[g]
    before_time = lv.time[g]
    took_any = False
    went_down = 0
    for i in range(n):
        p = p0 + i
        if not acting[p]:
            continue
        rules.clear_messages(u, p)
        reward[p] = -np.float64(u.gold[p])  # gold picked up this step, completed below
        act = codes[actions[p]]
        base = draw_base(seat_key(key, i), lv.t[g], 1)
        if act < 8:
            ty, tx = u.py[p] + C.DY[act], u.px[p] + C.DX[act]
            if rules.adventurer_at(u, p0, n, gone[p0:p0 + n], ty, tx) >= 0:
                rules.say(u, p, M.M_IN_YOUR_WAY, 0)  # "You stop. The human is in your way."
                took = False
            else:
                took = rules.player_moves(lv, r, g, u, p, act, base)
        else:
            took, depth = rules.player_command(lv, g, u, p, act, base)
            if depth > lv.depth[g]:  # down the staircase: this adventurer leaves the level
                left[p] = gone[p] = True
                u.success[p] = task == T_STAIRS
                went_down += 1
        took_any = took_any or took
    mask = gone[p0:p0 + n]
    if took_any:
        if r.monsters:
            rules.monsters_act(lv, g, u, p0, n, mask)
        rules.world_turn(lv, r, g, u, p0, n, mask, draw_base(key, lv.t[g], 1))
    floor_gold = lv.gold[g]
    for i in range(n):
        p = p0 + i
        if not acting[p]:
            continue
        if not left[p]:
            rules.after_turn(lv, r, g, u, p, seat_key(key, i))
            if u.dead[p]:
                gone[p] = True
        reward[p] += u.gold[p]
        floor_gold -= np.int64(reward[p])
    lv.gold[g] = floor_gold
    lv.t[g] += 1
    over = lv.t[g] >= r.max_steps
    cleared = task == T_GOLD and floor_gold <= 0
    if task == T_GOLD and (over or cleared):
        for i in range(n):  # the richest adventurer wins (a tie: nobody)
            p = p0 + i
            richer = True
            for j in range(n):
                if j != i and u.gold[p0 + j] >= u.gold[p]:
                    richer = False
            u.success[p] = richer
    for i in range(n):
        p = p0 + i
        if not acting[p]:
            continue
        if task == T_STAIRS:
            reward[p] = r.success_reward * went_down / n
        if lv.time[g] == before_time:  # NLE's penalty for a step in which the game clock did not move
            reward[p] += r.penalty_step
        terminated[p] = gone[p] or cleared
        truncated[p] = over and not terminated[p]


@njit
def step_batch(lv, u, rules_tuple, n, task, codes, actions, acting, gone, left, reward, terminated, truncated,
               start, stop):
    """Step games ``start..stop`` that have an acting seat (``rules_tuple``: the :class:`Rules` as a plain tuple)."""
    r = Rules(*rules_tuple)
    for g in range(start, stop):
        for i in range(n):
            if acting[g * n + i]:
                step_game(lv, u, r, g, n, task, codes, actions, acting, gone, left, reward, terminated, truncated)
                break


@njit
def reset_batch(lv, u, rules_tuple, n, task, games, keys, gone, left, start, stop):
    """Start new games ``games[start:stop]`` keyed ``keys[start:stop]``."""
    r = Rules(*rules_tuple)
    for k in range(start, stop):
        reset_game(lv, u, r, games[k], n, task, keys[k], gone, left)
