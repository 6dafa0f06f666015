"""The dungeon's rules for one env at a time, compiled: a step of N games is one call over the batch.

Each function acts on env ``b`` of a :class:`~rewardgym.envs.dungeon.state.DungeonState` ``s``
under :class:`~rewardgym.envs.dungeon.state.Rules` ``r``. A step handles the action — moving,
fighting, opening doors, picking up, eating, quaffing, reading, taking stairs, looking — then,
when the action took time, the world's turn (monsters wake, chase and attack; hunger,
regeneration, hallucination, new monsters, the Oracle's sounds), updates what the player sees
and computes the task's reward. :func:`step_batch` runs a slice of the envs (``jit.split``
gives each core a slice); the single env is the batch of one.

Rules (NetHack's, simplified; see the package docstring for the list):

- Time passes only for actions that take a turn (moving, fighting, opening a door, picking
  up, eating, quaffing, reading, stairs, waiting, searching). Bumping into a wall, a refused
  diagonal through a door, "looking" or an action with nothing to act on cost no time — the
  steps NLE's ``penalty_mode`` penalises.
- Combat uses NetHack's to-hit rolls (d20 against level, armour class and bonuses) and a
  die of damage per attack; killing a monster gives 1 + level² experience points, and
  sometimes its corpse.
- Monsters act all at once: each picks its move from the state before the turn, and when
  two pick the same square the lower slot wins.
- The score is NetHack's in-game score: gold + 4 x experience points + 50 x (deepest level - 1).

Randomness is counter-based (:mod:`rewardgym.envs.rng`): every draw hashes (episode key, step
counter, stream) and a lane, and a monster's draws also its slot, so a game draws the same
numbers alone or among thousands.

Two indices: ``s, b`` name the level (terrain, objects, monsters, the clock) and ``u, p`` the
adventurer (position, hit points, pack, map memory, messages). The single-player game passes
one state twice (``s, b, s, b``); the party of :mod:`rewardgym.envs.dungeon.party` keeps its
adventurers in a state of their own, several per level, and runs the same rules.
"""

from __future__ import annotations

import numpy as np

from rewardgym.envs.dungeon import levels
from rewardgym.envs.dungeon import content as C
from rewardgym.envs.dungeon import messages as M
from rewardgym.envs.dungeon.state import (N_SECTORS, P_CONSTANT, Rules, P_EXP, P_LINEAR, P_SQUARE, T_EAT, T_GOLD,
                                          T_ORACLE, T_ORACLE_SOBER, T_ROOM, T_SCORE, T_SCOUT, T_STAIRCASE)
from rewardgym.envs.jit import cache_guard, draw_base, lane_uniform, njit, splitmix64, uniform

# Counter-RNG streams of a step.
_STEP, _MON, _HALLU, _EPISODE, _LEVEL_UP = 1, 2, 3, 4, 5
_SLOT_SALT = np.uint64(0x632BE59BD9B4E019)
# Lanes of the per-env step draw.
L_HIT, L_DAMAGE, L_DOOR, L_CORPSE, L_HEAL, L_HALLU_TURNS = 0, 1, 2, 3, 4, 5
L_SPAWN, L_SPAWN_ROOM, L_SPAWN_Y, L_SPAWN_X, L_SPAWN_TYPE, L_SPAWN_HP = 6, 7, 8, 9, 10, 11  # hit points: 3 lanes
L_SOUND, L_SOUND_WHICH, L_TELEPORT = 14, 15, 16  # then three teleport tries of (room, y, x)
# Lanes of a monster's draw: wake, to-hit, damage, wander, then 8 tie-breaking noises.
ML_WAKE, ML_HIT, ML_DAMAGE, ML_WANDER, ML_NOISE = 0, 1, 2, 3, 4

LETTERS = np.frombuffer(C.INVENTORY_LETTERS, np.uint8).copy()
LETTER_INDEX = np.full(256, -1, np.int64)
LETTER_INDEX[LETTERS] = np.arange(LETTERS.size)
# The glyph a square shows without creatures, by (object kind, terrain): the object, else the terrain.
BACKGROUND = np.where(np.arange(256)[:, None] > 0, C.GLYPH_OBJ_OFF + np.arange(256)[:, None],
                      C.GLYPH_CMAP_OFF + np.arange(256)[None, :]).astype(np.int16)
REGEN_PERIOD = (42 // (np.arange(32) + 2) + 1).astype(np.int64)  # turns per regenerated hit point, by level
AUTO_OPEN = (C.STATS["strength"] + C.STATS["dexterity"] + C.STATS["constitution"]) // 3 / 20  # NetHack's rnl(20)
SOUNDS = np.array([M.M_SOUND_WIND, M.M_SOUND_RAVINGS, M.M_SOUND_SNAKES], np.int64)

cache_guard(__file__, C.WALKABLE, C.HAS_DOOR, C.CLOSED, C.IS_WALL, C.AUTOPICKUP, C.IS_FOOD, C.IS_POTION,
            C.IS_SCROLL, C.ITEM_NUTRITION, C.MON_AC, C.MON_LEVEL, C.MON_SPEED, C.MON_DAMAGE, C.MON_ORTHOGONAL,
            C.MON_HALLUCINOGENIC, C.MON_FREQ, C.XP_NEEDED, C.GLYPH_CHAR, C.GLYPH_COLOR, C.GLYPH_SPECIAL, C.DY,
            C.DX, BACKGROUND, REGEN_PERIOD, SOUNDS, str(vars(C).get("__file__", "")), C.STATS["strength"],
            C.START_HP, C.START_NUTRITION, C.STARVE_AT, C.TO_HIT_BONUS, C.WEAPON_DIE, C.DAMAGE_BONUS, C.PLAYER_AC,
            C.N_MONSTERS, C.N_ITEMS, C.MAX_MONSTERS, C.MAX_MESSAGES, M.N_CODES)


# -- small rules -----------------------------------------------------------------------------------
@njit
def say(u, p, code, arg=0, num=0, letter=0):
    """Append a message to adventurer ``p``'s messages of this step (dropped past MAX_MESSAGES, like a full tty
    line)."""
    k = u.msg_n[p]
    if k < C.MAX_MESSAGES:
        u.msg_code[p, k] = code
        u.msg_arg[p, k] = arg
        u.msg_num[p, k] = num
        u.msg_letter[p, k] = letter
        u.msg_n[p] = k + 1


@njit
def item_arg(kind, count):
    """The name argument of an item message: ``messages.item_arg``."""
    return 2 * kind + (1 if count != 1 else 0)


@njit
def hunger_state(nutrition):
    """NetHack's hunger state of a nutrition level (Satiated above 1000, Hungry from 150, Weak from 50)."""
    if nutrition <= 0:
        return C.FAINTING
    if nutrition <= 50:
        return C.WEAK
    if nutrition <= 150:
        return C.HUNGRY
    if nutrition <= 1000:
        return C.NOT_HUNGRY
    return C.SATIATED


@njit
def d20(u):
    return 1 + np.int64(u * 20)


@njit
def score(s, b, u, p):
    """NetHack's in-game score (botl_score): gold + 4 x experience + 50 x (deepest level - 1)."""
    return u.gold[p] + 4 * u.xp[p] + 50 * (s.max_depth[b] - 1)


@njit
def in_view(s, b, u, p, y, x):
    """Whether square (y, x) is in adventurer ``p``'s view: next to them, or in their lit room."""
    if max(abs(y - u.py[p]), abs(x - u.px[p])) <= 1:
        return True
    room = u.cur_room[p]
    return room > 0 and s.room_map[b, y, x] == room


_NOBODY = np.zeros(1, np.bool_)  # the single player's ``gone`` mask: never gone while the game runs


@njit
def monster_at(s, b, y, x):
    """The slot of the first monster on (y, x), or -1."""
    for m in range(C.MAX_MONSTERS):
        if s.mon_type[b, m] >= 0 and s.mon_y[b, m] == y and s.mon_x[b, m] == x:
            return m
    return -1


# -- episode start ---------------------------------------------------------------------------------
@njit
def reset_env(s, r, b, key):
    """Start a new episode keyed ``key`` in env ``b``."""
    s.key[b] = key
    s.t[b] = s.visited[b] = 0
    s.time[b] = 1
    s.depth[b] = s.max_depth[b] = 1
    s.oracle_depth[b] = levels.randint(uniform(key, 0, _EPISODE, 0), r.oracle_lo, r.oracle_hi)
    start_adventurer(s, b)
    enter_level(s, r, b, 1, False)
    s.explored_best[b, 1] = s.explored[b]  # what the first glance shows is not a Scout reward
    refresh_monsters(s, b, s, b, s.key[b])
    success_now(s, r, b, s, b)


@njit
def enter_level(s, r, b, depth, from_below):
    """Build the level at ``depth``, put the player on its stairs and reset the map memory."""
    bit = np.int64(1) << depth
    populate = (s.visited[b] & bit) == 0
    s.visited[b] |= bit
    s.depth[b] = depth
    s.max_depth[b] = max(s.max_depth[b], depth)
    levels.generate(s, b, depth, from_below, populate, s.t[b], r)
    forget_level(s, b)
    update_view(s, b, s, b)


@njit
def start_adventurer(u, p):
    """A new adventurer in seat ``p``: NetHack's starting human (16 hit points, a long sword, ring mail and a food
    ration), greeted, remembering no level yet."""
    u.xp[p] = u.gold[p] = u.hallu[p] = u.frozen[p] = 0
    u.dead[p] = u.ate[p] = u.success[p] = u.oracle_seen[p] = False
    u.explored_best[p, :] = 0
    u.hp[p] = u.maxhp[p] = C.START_HP
    u.xlvl[p] = 1
    u.nutrition[p] = C.START_NUTRITION
    u.hunger[p] = C.NOT_HUNGRY
    u.inv_count[p, :] = 0
    u.inv_letter[p, :] = 0
    u.inv_count[p, C.LONG_SWORD] = u.inv_count[p, C.RING_MAIL] = u.inv_count[p, C.FOOD_RATION] = 1
    u.inv_letter[p, C.LONG_SWORD], u.inv_letter[p, C.RING_MAIL], u.inv_letter[p, C.FOOD_RATION] = 97, 98, 99
    u.msg_n[p] = 0
    u.msg_code[p, :] = 0
    u.msg_arg[p, :] = 0
    u.msg_num[p, :] = 0
    u.msg_letter[p, :] = 0
    say(u, p, M.M_HELLO)
    forget_level(u, p)


@njit
def forget_level(u, p):
    """Clear adventurer ``p``'s memory of the level: nothing seen yet."""
    u.mem_glyph[p] = C.GLYPH_STONE
    u.mem_char[p] = 32
    u.mem_color[p] = 0
    u.mem_special[p] = 0
    u.explored[p] = 0
    u.cur_room[p] = 0


# -- the step --------------------------------------------------------------------------------------
@njit
def step_env(s, r, b, act):
    """One step of env ``b`` with command ``act`` (an index of ``content.ACTIONS``): (reward, terminated,
    truncated)."""
    before_time = s.time[b]
    before = task_quantity(s, r, b, s, b)
    clear_messages(s, b)
    base = draw_base(s.key[b], s.t[b], _STEP)  # the step's draw: lane k is lane_uniform(base, k)
    new_depth = s.depth[b]
    if act < 8:
        took = player_moves(s, r, b, s, b, act, base)
    else:
        took, new_depth = player_command(s, b, s, b, act, base)
    changed = new_depth != s.depth[b]
    if changed:
        enter_level(s, r, b, new_depth, new_depth < s.depth[b])
    if r.monsters and took and not changed:
        monsters_act(s, b, s, b, 1, _NOBODY)
    if took:
        world_turn(s, r, b, s, b, 1, _NOBODY, base)
    after_turn(s, r, b, s, b, s.key[b])
    success_now(s, r, b, s, b)
    reward = task_reward(s, r, b, s, b, before_time, before)
    s.t[b] += 1
    goal = r.task in (T_STAIRCASE, T_ORACLE, T_ORACLE_SOBER, T_ROOM)
    terminated = s.dead[b] or (goal and s.success[b])
    truncated = s.t[b] >= r.max_steps and not terminated
    return reward, terminated, truncated


@njit
def clear_messages(u, p):
    u.msg_n[p] = 0
    u.msg_code[p, :] = 0


@njit
def after_turn(s, r, b, u, p, key):
    """Adventurer ``p`` after the turn (``key``: their draws): levels gained, death, what they see now."""
    level_up(s, b, u, p, key)
    if u.hp[p] <= 0:
        if not u.dead[p]:
            say(u, p, M.M_DIE)
            u.dead[p] = True
        u.hp[p] = max(u.hp[p], 0)
    update_view(s, b, u, p)
    if r.monsters:
        refresh_monsters(s, b, u, p, key)


@njit
def step_batch(s, rules, codes, actions, active, reward, terminated, truncated, start, stop):
    """Step envs ``start..stop`` where ``active`` with command ``codes[actions[b]]``, writing the three outputs.
    ``rules`` is the :class:`Rules` as a plain tuple (a call with a NamedTuple costs microseconds more to type)."""
    r = Rules(*rules)
    for b in range(start, stop):
        if active[b]:
            reward[b], terminated[b], truncated[b] = step_env(s, r, b, codes[actions[b]])


@njit
def reset_batch(s, rules, envs, keys, start, stop):
    """Start new episodes in ``envs[start:stop]`` keyed ``keys[start:stop]`` (``rules``: as for step_batch)."""
    r = Rules(*rules)
    for i in range(start, stop):
        reset_env(s, r, envs[i], keys[i])


# -- the player's turn -----------------------------------------------------------------------------
@njit
def player_moves(s, r, b, u, p, a, base):
    """Move (or fight, open a door, bump) in compass direction ``a``; whether it took time."""
    ty = u.py[p] + C.DY[a]  # the player never stands on the map's border (rooms leave it stone)
    tx = u.px[p] + C.DX[a]
    if r.monsters:
        m = monster_at(s, b, ty, tx)
        if m >= 0:
            if s.mon_type[b, m] == C.ORACLE:  # peaceful: she stays in your way
                say(u, p, M.M_IN_YOUR_WAY, u.mon_shown[p, m] - C.GLYPH_MON_OFF)
                return False
            player_attacks(s, b, u, p, m, base)
            return True
    there = s.terrain[b, ty, tx]
    if C.DY[a] != 0 and C.DX[a] != 0:  # no diagonal moves into or out of a doorway
        if C.HAS_DOOR[s.terrain[b, u.py[p], u.px[p]]]:
            say(u, p, M.M_DIAG_OUT)
            return False
        if C.HAS_DOOR[there]:
            say(u, p, M.M_DIAG_IN)
            return False
    if not C.WALKABLE[there]:  # a closed door, a wall or stone
        if C.CLOSED[there]:  # NetHack's autoopen
            if lane_uniform(base, L_DOOR) < AUTO_OPEN:
                s.terrain[b, ty, tx] = C.OPEN_DOOR_V if there == C.CLOSED_DOOR_V else C.OPEN_DOOR_H
                say(u, p, M.M_DOOR_OPENS)
            else:
                say(u, p, M.M_DOOR_STUCK)
            return True
        if C.IS_WALL[there]:
            say(u, p, M.M_WALL)
        elif there == C.STONE:
            say(u, p, M.M_STONE)
        return False
    u.py[p], u.px[p] = ty, tx
    kind = np.int64(s.obj_kind[b, ty, tx])
    if kind > 0:
        if C.AUTOPICKUP[kind]:
            pick_up(s, b, u, p)
        else:
            qty = np.int64(s.obj_qty[b, ty, tx])
            say(u, p, M.M_SEE_HERE, item_arg(kind, qty), qty)
    return True


@njit
def player_attacks(s, b, u, p, m, base):
    kind = s.mon_type[b, m]
    asleep = 0 if s.mon_awake[b, m] else 1
    to_hit = 1 + C.TO_HIT_BONUS + C.MON_AC[kind] + u.xlvl[p] + 2 * asleep
    hit = to_hit > d20(lane_uniform(base, L_HIT))
    if hit:
        s.mon_hp[b, m] -= 1 + np.int64(lane_uniform(base, L_DAMAGE) * C.WEAPON_DIE) + C.DAMAGE_BONUS
    s.mon_awake[b, m] = True
    name = u.mon_shown[p, m] - C.GLYPH_MON_OFF
    if not hit:
        say(u, p, M.M_MISS, name)
    elif s.mon_hp[b, m] > 0:
        say(u, p, M.M_HIT, name)
    else:
        say(u, p, M.M_KILL, name)
        u.xp[p] += 1 + C.MON_LEVEL[kind] ** 2
        y, x = s.mon_y[b, m], s.mon_x[b, m]
        s.mon_type[b, m] = -1
        if lane_uniform(base, L_CORPSE) < 0.5 and s.obj_kind[b, y, x] == 0:
            s.obj_kind[b, y, x] = C.CORPSE_OFF + kind
            s.obj_qty[b, y, x] = 1


@njit
def pick_up(s, b, u, p):
    """Pick up the object under the player (gold to the purse, the rest to the pack)."""
    y, x = u.py[p], u.px[p]
    kind = np.int64(s.obj_kind[b, y, x])
    qty = np.int64(s.obj_qty[b, y, x])
    s.obj_kind[b, y, x] = 0
    s.obj_qty[b, y, x] = 0
    if kind == C.GOLD:
        u.gold[p] += qty
        say(u, p, M.M_PICK_GOLD, item_arg(C.GOLD, qty), qty)
        return
    if u.inv_count[p, kind] == 0:
        u.inv_letter[p, kind] = free_letter(u, p)
    u.inv_count[p, kind] += qty
    count = u.inv_count[p, kind]
    say(u, p, M.M_PICK_ITEM, item_arg(kind, count), count, u.inv_letter[p, kind])


@njit
def free_letter(u, p):
    """The first inventory letter (a-z, then A-Z) not in use (``a`` when all are)."""
    used = np.zeros(LETTERS.size, np.bool_)
    for k in range(C.N_ITEMS):
        i = LETTER_INDEX[u.inv_letter[p, k]]
        if i >= 0:
            used[i] = True
    for i in range(LETTERS.size):
        if not used[i]:
            return LETTERS[i]
    return LETTERS[0]


@njit
def first_in_pack(u, p, kinds_mask):
    """The first carried item (in letter order) whose kind is in ``kinds_mask``, or -1."""
    best, best_rank = -1, 10_000
    for k in range(C.N_ITEMS):
        if u.inv_count[p, k] > 0 and kinds_mask[k]:
            rank = LETTER_INDEX[u.inv_letter[p, k]]
            if rank < best_rank:
                best, best_rank = k, rank
    return best


@njit
def from_pack(u, p, kinds_mask, missing):
    """The first carried item of ``kinds_mask`` (see :func:`first_in_pack`); without one, message ``missing``
    and -1."""
    kind = first_in_pack(u, p, kinds_mask)
    if kind < 0:
        say(u, p, missing)
    return kind


@njit
def use_up(u, p, kind):
    u.inv_count[p, kind] -= 1
    if u.inv_count[p, kind] == 0:
        u.inv_letter[p, kind] = 0


@njit
def player_command(s, b, u, p, act, base):
    """A command other than a move: (whether it took time, the depth the player goes to)."""
    depth = s.depth[b]
    y, x = u.py[p], u.px[p]
    here = s.terrain[b, y, x]
    if act in (C.A_WAIT, C.A_SEARCH):
        return True, depth
    if act == C.A_PICKUP:
        if s.obj_kind[b, y, x] > 0:
            pick_up(s, b, u, p)
            return True, depth
        say(u, p, M.M_NOTHING_TO_PICK)
        return False, depth
    if act == C.A_EAT:
        return eat(s, b, u, p), depth
    if act == C.A_QUAFF:
        kind = from_pack(u, p, C.IS_POTION, M.M_NO_DRINK)
        if kind < 0:
            return False, depth
        if kind == C.POTION_HEALING:
            u.hp[p] += 6 + np.int64(lane_uniform(base, L_HEAL) * 19)  # about d(6, 4)
            if u.hp[p] > u.maxhp[p]:
                u.maxhp[p] += 1  # healing at full health raises the maximum, as in NetHack
            u.hp[p] = min(u.hp[p], u.maxhp[p])
            say(u, p, M.M_FEEL_BETTER)
        elif kind == C.POTION_HALLUCINATION:
            u.hallu[p] += 600 + np.int64(lane_uniform(base, L_HALLU_TURNS) * 200)
            say(u, p, M.M_COSMIC)
        use_up(u, p, kind)
        return True, depth
    if act == C.A_READ:
        kind = from_pack(u, p, C.IS_SCROLL, M.M_NO_READ)
        if kind < 0:
            return False, depth
        if kind == C.SCROLL_MAGIC_MAPPING:
            say(u, p, M.M_MAGIC_MAP)
            magic_map(s, b, u, p)
        elif kind == C.SCROLL_TELEPORTATION:
            say(u, p, M.M_TELEPORT)
            teleport(s, b, u, p, base)
        use_up(u, p, kind)
        return True, depth
    if act == C.A_DOWN:
        if here != C.STAIRS_DOWN:
            say(u, p, M.M_NO_DOWN)
            return False, depth
        say(u, p, M.M_DESCEND)
        return True, depth + 1
    if act == C.A_UP:
        if here != C.STAIRS_UP:
            say(u, p, M.M_NO_UP)
            return False, depth
        if depth <= 1:
            say(u, p, M.M_NO_LEAVING)
            return False, depth
        say(u, p, M.M_CLIMB)
        return True, depth - 1
    # LOOK
    code = 0
    if here == C.STAIRS_DOWN:
        code = M.M_HERE_DOWNSTAIRS
    elif here == C.STAIRS_UP:
        code = M.M_HERE_UPSTAIRS
    elif here == C.FOUNTAIN:
        code = M.M_HERE_FOUNTAIN
    elif here in (C.OPEN_DOOR_V, C.OPEN_DOOR_H):
        code = M.M_HERE_OPEN_DOOR
    elif here == C.DOORWAY:
        code = M.M_HERE_DOORWAY
    if code > 0:
        say(u, p, code)
    kind = np.int64(s.obj_kind[b, y, x])
    if kind > 0:
        qty = np.int64(s.obj_qty[b, y, x])
        say(u, p, M.M_SEE_HERE, item_arg(kind, qty), qty)
    elif code == 0:
        say(u, p, M.M_NO_OBJECTS)
    return False, depth


@njit
def eat(s, b, u, p):
    """Eat the food underfoot, else the first food in the pack; whether there was any."""
    y, x = u.py[p], u.px[p]
    kind = np.int64(s.obj_kind[b, y, x])
    if C.IS_FOOD[kind]:
        s.obj_qty[b, y, x] -= 1
        if s.obj_qty[b, y, x] <= 0:
            s.obj_kind[b, y, x] = 0
    else:
        kind = first_in_pack(u, p, C.IS_FOOD)
        if kind < 0:
            say(u, p, M.M_NO_EAT)
            return False
        use_up(u, p, kind)
    u.ate[p] = True
    u.nutrition[p] += C.ITEM_NUTRITION[kind]
    if kind == C.FOOD_RATION:
        say(u, p, M.M_EAT_RATION)
    elif kind == C.APPLE:
        say(u, p, M.M_EAT_APPLE)
    elif kind >= C.CORPSE_OFF:
        say(u, p, M.M_EAT_CORPSE, kind - C.CORPSE_OFF)
        if C.MON_HALLUCINOGENIC[kind - C.CORPSE_OFF]:
            u.hallu[p] += 200
            say(u, p, M.M_GREAT_STUFF)
    if u.nutrition[p] > 1500:
        say(u, p, M.M_HARD_TIME)
    u.nutrition[p] = min(u.nutrition[p], 2000)
    state = hunger_state(u.nutrition[p])
    if state >= C.HUNGRY:
        say(u, p, M.M_STILL_HUNGRY)
    u.hunger[p] = state
    return True


@njit
def magic_map(s, b, u, p):
    """Reveal the level's terrain (not its objects) where the player remembers nothing yet."""
    for y in range(C.ROWS):
        for x in range(C.COLS):
            ter = s.terrain[b, y, x]
            if u.mem_glyph[p, y, x] == C.GLYPH_STONE and ter != C.STONE:
                glyph = C.GLYPH_CMAP_OFF + ter
                u.mem_glyph[p, y, x] = glyph
                u.mem_char[p, y, x] = C.GLYPH_CHAR[glyph]
                u.mem_color[p, y, x] = C.GLYPH_COLOR[glyph]
                u.explored[p] += 1


@njit
def teleport(s, b, u, p, base):
    """Move the player to a random free floor square of a random room (three tries)."""
    for k in range(3):
        lane = L_TELEPORT + 3 * k
        y, x = random_room_square(s, b, base, lane)
        if y >= 0 and s.terrain[b, y, x] == C.FLOOR and monster_at(s, b, y, x) < 0:
            u.py[p], u.px[p] = y, x
            return


@njit
def random_room_square(s, b, base, lane):
    """A square inside a random sector's room from lanes (room, y, x) of the step's draw; (-1, -1) for a sector
    without a room."""
    room = levels.randint(lane_uniform(base, lane), 0, N_SECTORS - 1)
    top, left, bottom, right = (s.room_box[b, room, 0], s.room_box[b, room, 1], s.room_box[b, room, 2],
                                s.room_box[b, room, 3])
    y = levels.randint(lane_uniform(base, lane + 1), top + 1, max(bottom - 1, top + 1))
    x = levels.randint(lane_uniform(base, lane + 2), left + 1, max(right - 1, left + 1))
    if bottom <= 0:
        return -1, -1
    return y, x


# -- the world's turn ------------------------------------------------------------------------------
@njit
def monsters_act(s, b, u, p0, n, gone):
    """Monsters gain movement, wake, and attack or move, all from the state before the turn.

    The adventurers are ``u[p0:p0 + n]``, less those ``gone[i]`` marks (dead or off the level): each monster
    goes for the nearest (the lowest seat on ties), wakes when any of them is near and in view of it, and never
    steps onto one."""
    acting = np.zeros(C.MAX_MONSTERS, np.bool_)
    for m in range(C.MAX_MONSTERS):
        kind = s.mon_type[b, m]
        alive = kind >= 0 and kind != C.ORACLE
        energy = s.mon_energy[b, m] + (C.MON_SPEED[kind] if alive else 0)
        acting[m] = alive and energy >= 12
        s.mon_energy[b, m] = energy - 12 if acting[m] else min(energy, 12)
    # the squares monsters stand on before anyone moves (empty slots match nothing)
    occupied = np.full(C.MAX_MONSTERS, -1, np.int64)
    for m in range(C.MAX_MONSTERS):
        if s.mon_type[b, m] >= 0:
            occupied[m] = s.mon_y[b, m] * C.COLS + s.mon_x[b, m]
    claimed = np.full(C.MAX_MONSTERS, -1, np.int64)  # targets of this turn's moves, first come first served
    n_claimed = 0
    for m in range(C.MAX_MONSTERS):
        if not acting[m]:
            continue
        kind = s.mon_type[b, m]
        mbase = draw_base(splitmix64(s.key[b] ^ (np.uint64(m + 1) * _SLOT_SALT)), s.t[b], _MON)
        my, mx = s.mon_y[b, m], s.mon_x[b, m]
        target, dist, noticed = -1, np.int64(1) << 40, False
        for i in range(n):
            if gone[i]:
                continue
            p = p0 + i
            d = max(abs(my - u.py[p]), abs(mx - u.px[p]))
            if d < dist:
                target, dist = p, d
            noticed = noticed or (d <= 10 and in_view(s, b, u, p, my, mx))
        if target < 0:
            continue
        py, px = u.py[target], u.px[target]
        awake = s.mon_awake[b, m]
        # Sleeping monsters an adventurer is in view of, within 10 squares, wake one time in seven.
        if not awake and noticed and lane_uniform(mbase, ML_WAKE) < 1 / 7:
            s.mon_awake[b, m] = True
        if not awake:
            continue  # woken monsters act from the next turn
        ortho = C.MON_ORTHOGONAL[kind]
        if dist == 1 and (not ortho or my == py or mx == px):
            # Attacks: NetHack's 10 + AC + level > d20.
            name = u.mon_shown[target, m] - C.GLYPH_MON_OFF
            if 10 + C.PLAYER_AC + C.MON_LEVEL[kind] > d20(lane_uniform(mbase, ML_HIT)):
                if C.MON_DAMAGE[kind] > 0:
                    u.hp[target] -= 1 + np.int64(lane_uniform(mbase, ML_DAMAGE) * C.MON_DAMAGE[kind])
                say(u, target, M.M_MON_HITS, name)
            else:
                say(u, target, M.M_MON_MISSES, name)
            continue
        # Moves: chase the nearest adventurer (when within 12 squares) or wander; invalid squares never win.
        chase = dist <= 12
        here_door = C.HAS_DOOR[s.terrain[b, my, mx]]
        best, best_score, best_dist = -1, np.inf, 0
        for d in range(8):
            cy, cx = my + C.DY[d], mx + C.DX[d]
            diagonal = C.DY[d] != 0 and C.DX[d] != 0
            ter = s.terrain[b, cy, cx]
            if not C.WALKABLE[ter] or adventurer_at(u, p0, n, gone, cy, cx) >= 0:
                continue
            if diagonal and (C.HAS_DOOR[ter] or here_door or ortho):
                continue
            square = cy * C.COLS + cx
            taken = False
            for k in range(C.MAX_MONSTERS):
                if occupied[k] == square:
                    taken = True
            if taken:
                continue
            new_dist = max(abs(cy - py), abs(cx - px))
            noise = lane_uniform(mbase, ML_NOISE + d)
            value = new_dist + 0.5 * noise if chase else noise
            if value < best_score:
                best, best_score, best_dist = d, value, new_dist
        if best < 0:
            continue
        wander = lane_uniform(mbase, ML_WANDER)
        if chase and (best_dist > dist or wander >= 0.95):  # now and then a chaser hesitates
            continue
        if not chase and wander >= 0.5:  # wanderers move every other turn
            continue
        target_square = (my + C.DY[best]) * C.COLS + mx + C.DX[best]
        free = True
        for k in range(n_claimed):
            if claimed[k] == target_square:
                free = False
        if free:  # two monsters aiming at one square: the lower slot gets it
            claimed[n_claimed] = target_square
            n_claimed += 1
            s.mon_y[b, m], s.mon_x[b, m] = my + C.DY[best], mx + C.DX[best]


@njit
def adventurer_at(u, p0, n, gone, y, x):
    """The adventurer of ``u[p0:p0 + n]`` (not ``gone``) standing on (y, x), or -1."""
    for i in range(n):
        if not gone[i] and u.py[p0 + i] == y and u.px[p0 + i] == x:
            return p0 + i
    return -1


@njit
def world_turn(s, r, b, u, p0, n, gone, base):
    """Time passes: the clock and each adventurer's body (hunger, regeneration, hallucination), then the level's
    events (new monsters, the Oracle's sounds)."""
    s.time[b] += 1
    for i in range(n):
        if not gone[i]:
            upkeep(s, b, u, p0 + i)
    if r.room_layout:
        return
    spawn(s, r, b, u, p0, n, gone, base)
    # The Oracle's level has its sounds (NetHack's level sounds, one turn in 400).
    if s.depth[b] == s.oracle_depth[b] and lane_uniform(base, L_SOUND) < 1 / 400:
        sound = SOUNDS[np.int64(lane_uniform(base, L_SOUND_WHICH) * 3)]
        for i in range(n):
            if not gone[i]:
                say(u, p0 + i, sound)


@njit
def upkeep(s, b, u, p):
    """An adventurer's turn of hunger, regeneration and hallucination."""
    u.nutrition[p] -= 1
    state = hunger_state(u.nutrition[p])
    if state > u.hunger[p]:
        if state == C.HUNGRY:
            say(u, p, M.M_HUNGRY)
        elif state == C.WEAK:
            say(u, p, M.M_WEAK)
        elif state == C.FAINTING:
            say(u, p, M.M_FAINT)
    u.hunger[p] = state
    if u.nutrition[p] < C.STARVE_AT and u.hp[p] > 0:
        say(u, p, M.M_STARVE)
        u.hp[p] = 0
        u.dead[p] = True
        u.hunger[p] = C.STARVED
    # Regeneration at low level: one hit point every 42 / (XL + 2) + 1 turns.
    if 0 < u.hp[p] < u.maxhp[p] and s.time[b] % REGEN_PERIOD[u.xlvl[p]] == 0:
        u.hp[p] += 1
    if u.hallu[p] > 0:
        u.hallu[p] -= 1
        if u.hallu[p] == 0:
            say(u, p, M.M_HALLU_END)


@njit
def spawn(s, r, b, u, p0, n, gone, base):
    """Now and then a new monster appears in a random room, out of every adventurer's sight."""
    if not lane_uniform(base, L_SPAWN) < r.spawn_rate:
        return
    slot = -1
    for m in range(C.MAX_MONSTERS):
        if s.mon_type[b, m] < 0:
            slot = m
            break
    y, x = random_room_square(s, b, base, L_SPAWN_ROOM)
    xlvl = 1
    for i in range(n):  # the strongest adventurer's level sets the difficulty (all gone: a starting one's)
        if not gone[i]:
            xlvl = max(xlvl, u.xlvl[p0 + i])
    kind = levels.sample_monster(lane_uniform(base, L_SPAWN_TYPE), s.depth[b], xlvl)
    if slot < 0 or y < 0 or s.terrain[b, y, x] != C.FLOOR:
        return
    for i in range(n):
        if not gone[i] and in_view(s, b, u, p0 + i, y, x):
            return
    if levels.place_monster(s, b, slot, kind, y, x, True, lane_uniform(base, L_SPAWN_HP),
                            lane_uniform(base, L_SPAWN_HP + 1), lane_uniform(base, L_SPAWN_HP + 2)):
        for i in range(n):
            u.mon_shown[p0 + i, slot] = C.GLYPH_MON_OFF + kind


@njit
def level_up(s, b, u, p, key):
    """Gain experience levels (up to three a step) while the experience points reach the next level's (``key``:
    the adventurer's draws)."""
    up = False
    for _ in range(3):
        if u.xp[p] < C.XP_NEEDED[u.xlvl[p]] or u.xlvl[p] >= 30:
            break
        gain = 1 + np.int64(uniform(key, s.t[b] * 64 + u.xlvl[p], _LEVEL_UP, 0) * 8)  # d8
        u.xlvl[p] += 1
        u.maxhp[p] += gain
        u.hp[p] += gain
        up = True
    if up:
        say(u, p, M.M_LEVEL_UP, 0, u.xlvl[p])


# -- what the player sees --------------------------------------------------------------------------
@njit
def remember(s, b, u, p, y, x):
    """Write what is at (y, x) into the player's map memory, counting a newly seen square."""
    glyph = BACKGROUND[s.obj_kind[b, y, x], s.terrain[b, y, x]]
    old = u.mem_glyph[p, y, x]
    if old == glyph:
        return
    u.mem_glyph[p, y, x] = glyph
    u.mem_char[p, y, x] = C.GLYPH_CHAR[glyph]
    u.mem_color[p, y, x] = C.GLYPH_COLOR[glyph]
    u.mem_special[p, y, x] = C.GLYPH_SPECIAL[glyph]
    if old == C.GLYPH_STONE and glyph != C.GLYPH_STONE:
        u.explored[p] += 1


@njit
def update_view(s, b, u, p):
    """Refresh the map memory: the squares around the player, and the whole room on entering a lit one."""
    py, px = u.py[p], u.px[p]
    remember(s, b, u, p, py, px)  # the square, then its neighbours in compass order (the player never stands on
    for d in range(8):  # the map's border)
        remember(s, b, u, p, py + C.DY[d], px + C.DX[d])
    room = np.int64(s.room_map[b, py, px])
    if room == u.cur_room[p]:
        return  # still in the lit room already drawn, or still outside any
    if room > 0 and not s.room_lit[b, room - 1]:
        room = 0
    entering = room > 0 and room != u.cur_room[p]
    u.cur_room[p] = room
    if entering:
        for y in range(s.room_box[b, room - 1, 0], s.room_box[b, room - 1, 2] + 1):
            for x in range(s.room_box[b, room - 1, 1], s.room_box[b, room - 1, 3] + 1):
                remember(s, b, u, p, y, x)


@njit
def refresh_monsters(s, b, u, p, key):
    """Choose the glyph each monster shows this step: its own, or a random one while hallucinating."""
    tripping = u.hallu[p] > 0
    base = draw_base(key, s.t[b], _HALLU) if tripping else np.uint64(0)
    seen = False
    for m in range(C.MAX_MONSTERS):
        kind = s.mon_type[b, m]
        if kind < 0:
            u.mon_shown[p, m] = 0
            continue
        if tripping:  # any monster but the player's own form
            u.mon_shown[p, m] = C.GLYPH_MON_OFF + 1 + np.int64(lane_uniform(base, m) * (C.N_MONSTERS - 1))
        else:
            u.mon_shown[p, m] = C.GLYPH_MON_OFF + kind
        if (abs(s.mon_y[b, m] - u.py[p]) <= 1 and abs(s.mon_x[b, m] - u.px[p]) <= 1
                and u.mon_shown[p, m] == C.GLYPH_ORACLE):
            seen = True
    u.oracle_seen[p] = seen


# -- reward and task -------------------------------------------------------------------------------
@njit
def success_now(s, r, b, u, p):
    """Update the task's milestone flag (kept once reached)."""
    task = r.task
    if task == T_STAIRCASE:
        hit = s.max_depth[b] >= r.target_depth
    elif task in (T_SCORE, T_SCOUT):
        hit = s.max_depth[b] >= 2
    elif task == T_GOLD:
        hit = u.gold[p] > 0
    elif task == T_EAT:
        hit = u.ate[p]
    elif task == T_ORACLE:
        hit = u.oracle_seen[p]
    elif task == T_ORACLE_SOBER:
        hit = u.oracle_seen[p] and u.hallu[p] == 0
    else:  # room
        hit = s.terrain[b, u.py[p], u.px[p]] == C.STAIRS_DOWN
    if hit and not u.dead[p]:
        u.success[p] = True


@njit
def task_quantity(s, r, b, u, p):
    """What the reward compares with after the step (the success flag, as 0/1, for the goal tasks)."""
    task = r.task
    if task == T_SCORE:
        return score(s, b, u, p)
    if task == T_GOLD:
        return u.gold[p]
    if task == T_EAT:
        return u.nutrition[p]
    if task == T_SCOUT:
        return 0
    return 1 if u.success[p] else 0


@njit
def task_reward(s, r, b, u, p, before_time, before):
    task = r.task
    if task == T_SCORE:
        reward = np.float64(score(s, b, u, p) - before)
    elif task == T_GOLD:
        reward = np.float64(u.gold[p] - before)
    elif task == T_EAT:
        reward = np.float64(max(u.nutrition[p] - before, 0))
    elif task == T_SCOUT:
        best = u.explored_best[p, s.depth[b]]
        reward = np.float64(max(u.explored[p] - best, 0))
        u.explored_best[p, s.depth[b]] = max(best, u.explored[p])
    else:
        reward = (1.0 if u.success[p] and before == 0 else 0.0) * r.success_reward
    # NLE's time penalty.
    time = s.time[b]
    still = time == before_time
    frozen = u.frozen[p] + 1 if still else 0
    u.frozen[p] = frozen
    f = np.float64(frozen)
    mode = r.penalty_mode
    if mode == P_CONSTANT:
        penalty = (1.0 if still else 0.0) * r.penalty_step
    elif mode == P_EXP:
        penalty = 2.0 ** min(f, 60.0) * r.penalty_step if f > 0 else 0.0
    elif mode == P_SQUARE:
        penalty = f ** 2 * r.penalty_step
    elif mode == P_LINEAR:
        penalty = f * r.penalty_step
    else:
        penalty = r.penalty_step
    if r.penalty_time != 0.0:
        penalty = penalty + (time - before_time) * r.penalty_time
    return reward + penalty
