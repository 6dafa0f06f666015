"""Level generation for one env at a time, as compiled scalar code.

A dungeon level is laid out on a 3 x 3 grid of sectors, as in Rogue (NetHack's own rooms
are placed more freely, but its levels read the same: rooms joined by corridors through
doors). Each sector holds a room of random size and place, or — one time in five — only a
corridor junction. A random spanning tree over the sectors' 12 neighbour links, plus a few
extra links for loops, guarantees that every room is reachable. A link is a Z-shaped
corridor from a door of one room to a door of the other; sectors leave a free row or column
between them, so corridors never cut through a room. Everything is a rectangle or a straight
line, painted square by square into the env's own grids: :func:`generate` builds the level of
one env ``b`` of a :class:`~rewardgym.envs.dungeon.state.DungeonState` (a batch calls it env
by env), with no temporary grids.

Randomness: a level is a pure function of ``level_key(episode key, depth)``, so going back up
rebuilds the same layout. Gold and items are placed only on a level's first visit (the
core keeps which depths were visited; levels are not stored, so a revisited level comes back
with its layout but without its loot). Monsters are drawn from the level key and the step
counter, so each arrival brings its own. Every value is the same lane of the same counter-RNG
draw as in the NumPy generator, vectorised over envs, that this one replaced, so the levels are
the same bit for bit (``tests/test_dungeon_digest.py``).

The Oracle's level (its depth is drawn per episode) has the Delphi in the centre sector: a
lit room with four fountains around the Oracle. ``layout="room"`` builds MiniHack's Room
tasks instead: one room of ``room_size`` x ``room_size``, lit or dark, the player in one
corner and the staircase down in the other (or both at random), optionally with monsters.
"""

from __future__ import annotations

import numpy as np

from rewardgym.envs.dungeon import content as C
from rewardgym.envs.jit import cache_guard, draw_base, lane_uniform, njit, splitmix64

# Counter-RNG streams of level generation.
_LAYOUT, _LOOT, _MONSTERS = 100, 101, 102
_DEPTH_SALT = np.uint64(0xA24BAED4963EE407)

N_SECTORS = 9
N_LINKS = 12
DELPHI = 4  # the centre sector
DELPHI_BOX = np.array([8, 32, 12, 46], np.int64)  # top, left, bottom, right (walls): a 3 x 13 interior
ORACLE_Y, ORACLE_X = 10, 39
FOUNTAIN_Y = np.array([9, 9, 11, 11], np.int64)
FOUNTAIN_X = np.array([36, 42, 36, 42], np.int64)

# Sector k (row k // 3, column k % 3) may put its room's walls in rows _R0[k].._R1[k], columns _C0[k].._C1[k].
_SECTORS = np.arange(N_SECTORS)
_R0 = 1 + 7 * (_SECTORS // 3)
_R1 = 6 + 7 * (_SECTORS // 3)
_C0 = 1 + 26 * (_SECTORS % 3)
_C1 = 25 + 26 * (_SECTORS % 3)
# The 12 links between neighbouring sectors: a left of / above b; the six side-by-side pairs first.
_LINK_A = np.array([3 * r + c for r in range(3) for c in range(2)] + [3 * r + c for r in range(2) for c in range(3)])
_LINK_B = _LINK_A + np.array([1] * 6 + [3] * 6)
_HORIZONTAL = np.array([True] * 6 + [False] * 6)

# The lanes of the layout draw (stream _LAYOUT, counter 0), in the order the generator takes them.
_L_IS_ROOM = 0  # 9: room or junction, per sector
_L_SHAPE = _L_IS_ROOM + N_SECTORS  # 6 per sector: height, width, top, left, junction row, junction column
_L_LIT = _L_SHAPE + 6 * N_SECTORS  # 9: lit, per sector
_L_WEIGHT = _L_LIT + N_SECTORS  # 12: the links' weights in the spanning tree
_L_EXTRA = _L_WEIGHT + N_LINKS  # 12: a link outside the tree is dug all the same
_L_DOOR_A = _L_EXTRA + N_LINKS  # 12: the door kind at room a, per link
_L_DOOR_B = _L_DOOR_A + N_LINKS  # 12: at room b
_L_POS_A = _L_DOOR_B + N_LINKS  # 12: the door's place along room a's wall
_L_POS_B = _L_POS_A + N_LINKS  # 12: along room b's wall
_L_MID = _L_POS_B + N_LINKS  # 12: where the corridor's Z bends
_L_STAIRS = _L_MID + N_LINKS  # 9 + 4: the rooms' order (up in the first, down in the second), then the squares
# The room layout's draw (same stream and counter): the stairs' square, the start, the door's row.
_L_GOAL, _L_START, _L_DOOR = 0, 1, 2
# Per sector in the loot draw (stream _LOOT, counter 0, 9 lanes a sector): gold's square, its two dice and
# chance; the item's square, kind and chance.
_LOOT_LANES = 9
_L_GOLD_Y, _L_GOLD_X, _L_GOLD_DEPTH_DIE, _L_GOLD_DIE, _L_GOLD = 0, 1, 2, 3, 4
_L_ITEM_Y, _L_ITEM_X, _L_ITEM_KIND, _L_ITEM = 5, 6, 7, 8
# Per sector in the dungeon's monster draw (stream _MONSTERS, the step counter, 8 lanes a sector):
# chance, square (2), kind, awake, hit dice (3). The room layout takes 5 a monster: square, kind, hit dice (3).
_MON_LANES = 8
_ROOM_MON_LANES = 5

_FLOOR_ITEMS = C.FLOOR_ITEMS.astype(np.int64)
_ITEM_CDF = np.cumsum(C.FLOOR_ITEM_WEIGHTS) / C.FLOOR_ITEM_WEIGHTS.sum()
_TERRAIN_CODES = np.array([C.STONE, C.VWALL, C.HWALL, C.TLCORNER, C.TRCORNER, C.BLCORNER, C.BRCORNER, C.DOORWAY,
                           C.OPEN_DOOR_V, C.OPEN_DOOR_H, C.CLOSED_DOOR_V, C.CLOSED_DOOR_H, C.FLOOR, C.CORRIDOR,
                           C.STAIRS_UP, C.STAIRS_DOWN, C.FOUNTAIN])

# The kernels read these as constants of their cached machine code: recompile when content.py changes them.
cache_guard(__file__, C.WALKABLE, C.MON_LEVEL, C.MON_FREQ, _FLOOR_ITEMS, _ITEM_CDF, _TERRAIN_CODES, C.ROWS, C.COLS,
            C.MAX_DEPTH, C.MAX_MONSTERS, C.N_MONSTERS, C.ORACLE, C.GOLD)


@njit
def level_key(key, depth):
    """The key of the level at ``depth`` in the episode keyed ``key``."""
    return splitmix64(np.uint64(key) ^ splitmix64(np.uint64(depth) * _DEPTH_SALT))


@njit
def randint(u, low, high):
    """A uniform int in [low, high] (inclusive) from the uniform ``u``; NumPy's ``(u * n).astype(int64)`` truncates
    toward zero, as ``np.int64`` of a float does here."""
    low, high = np.int64(low), np.int64(high)
    return low + min(np.int64(u * np.float64(high - low + 1)), max(high - low, np.int64(0)))


@njit
def sample_monster(u, depth, xlvl):
    """A random monster type, NetHack's difficulty window: level in [depth/6, (depth+xl)/2].

    The running sum of the allowed frequencies is NumPy's cumsum, term by term; with no monster
    in the window the pick is 0, as ``argmax`` of no ``True``.
    """
    hi = (depth + xlvl) // 2
    lo = min(depth // 6, hi)
    total = 0.0
    for k in range(C.N_MONSTERS):
        if lo <= C.MON_LEVEL[k] <= hi:
            total += C.MON_FREQ[k]
    threshold = u * total
    cdf = 0.0
    for k in range(C.N_MONSTERS):
        if lo <= C.MON_LEVEL[k] <= hi:
            cdf += C.MON_FREQ[k]
        if cdf > threshold:
            return np.int64(k)
    return np.int64(0)


@njit
def monster_hp(u0, u1, u2, kind):
    """Hit points of a new monster: rnd(4) at level 0, else d(level, 8) of at most three dice (``u0..u2``)."""
    if kind == C.ORACLE:
        return np.int64(1000)
    level = C.MON_LEVEL[kind]
    if level == 0:
        return 1 + np.int64(u0 * 4)
    hp = 1 + np.int64(u0 * 8)
    if level > 1:
        hp += 1 + np.int64(u1 * 8)
    if level > 2:
        hp += 1 + np.int64(u2 * 8)
    return hp


@njit
def place_monster(s, b, slot, kind, y, x, awake, u0, u1, u2):
    """Put a monster of ``kind`` into ``slot`` of env ``b`` at (y, x) if the square is free; return whether it was.

    Free: within the slots, not the player's square, walkable and not a staircase, no living monster there.
    ``u0..u2`` roll its hit points.
    """
    if slot >= C.MAX_MONSTERS or (s.py[b] == y and s.px[b] == x):
        return False
    ter = s.terrain[b, y, x]
    if not C.WALKABLE[ter] or ter == C.STAIRS_UP or ter == C.STAIRS_DOWN:
        return False
    for k in range(C.MAX_MONSTERS):
        if s.mon_type[b, k] >= 0 and s.mon_y[b, k] == y and s.mon_x[b, k] == x:
            return False
    s.mon_type[b, slot] = kind
    s.mon_y[b, slot], s.mon_x[b, slot] = y, x
    s.mon_hp[b, slot] = monster_hp(u0, u1, u2, kind)
    s.mon_awake[b, slot] = awake
    s.mon_energy[b, slot] = 0
    return True


@njit
def generate(s, b, depth, from_below, populate, counter, r):
    """Build the level at ``depth`` for env ``b`` and place the player on it.

    ``from_below``: the player arrives by the stairs up (so stands on the staircase down);
    ``populate``: place gold and items (first visit); ``counter`` keys the monsters drawn.
    ``r`` is the core's :class:`~rewardgym.envs.dungeon.state.Rules` (its layout settings).
    """
    _clear(s, b)
    lkey = level_key(s.key[b], depth)
    if r.room_layout:
        _generate_room(s, b, lkey, counter, r)
    else:
        _generate_dungeon(s, b, lkey, depth, from_below, populate, counter)


@njit
def _clear(s, b):
    """Forget env ``b``'s level: bare rock, no rooms, objects, monsters or stairs (monster squares are kept)."""
    s.terrain[b] = C.STONE
    s.room_map[b] = 0
    s.obj_kind[b] = 0
    s.obj_qty[b] = 0
    s.mon_type[b] = -1
    s.mon_hp[b] = 0
    s.mon_awake[b] = False
    s.mon_energy[b] = 0
    s.room_box[b] = 0
    s.room_lit[b] = False
    s.up_y[b] = s.up_x[b] = s.down_y[b] = s.down_x[b] = -1


@njit
def _paint_room(terrain, room_map, top, left, bottom, right, number):
    """Walls, corners and floor of the room whose walls are the box's edges, into one env's ``terrain``; its
    squares belong to room ``number`` in ``room_map``."""
    for y in range(top, bottom + 1):
        for x in range(left, right + 1):
            edge_y, edge_x = y in (top, bottom), x in (left, right)
            if not (edge_y or edge_x):
                code = C.FLOOR
            elif edge_y and edge_x:
                if y == top:
                    code = C.TLCORNER if x == left else C.TRCORNER
                else:
                    code = C.BLCORNER if x == left else C.BRCORNER
            elif edge_y:
                code = C.HWALL
            else:
                code = C.VWALL
            terrain[y, x] = code
            room_map[y, x] = number


@njit
def _paint_line(terrain, y0, x0, y1, x1, value):
    """Paint the straight line from (y0, x0) to (y1, x1) into one env's ``terrain``, ends included (at most a
    map's width of squares)."""
    steps = min(max(abs(y1 - y0), abs(x1 - x0)), C.COLS - 1)
    dy, dx = np.sign(y1 - y0), np.sign(x1 - x0)
    for t in range(steps + 1):
        terrain[y0 + dy * t, x0 + dx * t] = value


# -- the room layout ----------------------------------------------------------------------------------


@njit
def _generate_room(s, b, lkey, counter, r):
    """MiniHack's Room: one room in the middle of the map, maybe split by a wall with a door, maybe monsters."""
    size = r.room_size
    top, left = (C.ROWS - (size + 2)) // 2, (C.COLS - (size + 2)) // 2
    bottom, right = top + size + 1, left + size + 1
    _paint_room(s.terrain[b], s.room_map[b], top, left, bottom, right, np.int64(1))
    _set_box(s.room_box[b, 0], top, left, bottom, right)
    s.room_lit[b, 0] = r.room_lit
    base = draw_base(lkey, 0, _LAYOUT)
    cells = size * size
    if r.room_door:  # a wall down the room, a closed door in it; start west of it, stairs east of it
        west = size // 2  # interior columns west of the wall
        east = size - west - 1
        wall = left + 1 + west
        goal = randint(lane_uniform(base, _L_GOAL), 0, size * east - 1)
        start = randint(lane_uniform(base, _L_START), 0, size * west - 1)
        if not r.room_random:  # the corners, as without a door
            goal, start = size * east - 1, 0
        gy, gx = top + 1 + goal // east, wall + 1 + goal % east
        sy, sx = top + 1 + start // west, left + 1 + start % west
        for y in range(top + 1, bottom):
            s.terrain[b, y, wall] = C.VWALL
        s.terrain[b, top + 1 + randint(lane_uniform(base, _L_DOOR), 0, size - 1), wall] = C.CLOSED_DOOR_V
        s.room_map[b, top:bottom + 1, wall + 1:right + 1] = 2
        _set_box(s.room_box[b, 0], top, left, bottom, wall)
        _set_box(s.room_box[b, 1], top, wall, bottom, right)
        s.room_lit[b, 1] = r.room_lit
    elif r.room_random:
        goal = randint(lane_uniform(base, _L_GOAL), 0, cells - 1)
        start = randint(lane_uniform(base, _L_START), 0, cells - 2)
        start += start >= goal
        gy, gx = top + 1 + goal // size, left + 1 + goal % size
        sy, sx = top + 1 + start // size, left + 1 + start % size
    else:  # MiniHack's Room-NxN: start in the top-left corner, stairs down in the bottom-right one
        gy, gx = bottom - 1, right - 1
        sy, sx = top + 1, left + 1
    if not r.room_random:
        s.terrain[b, top + 1, left + 1] = C.STAIRS_UP
        s.up_y[b], s.up_x[b] = top + 1, left + 1
    s.terrain[b, gy, gx] = C.STAIRS_DOWN
    s.down_y[b], s.down_x[b] = gy, gx
    s.py[b], s.px[b] = sy, sx
    # Monsters (MiniHack's Room-Monster): random free squares, awake; a monster that finds its square taken
    # is not placed, and the next one takes its slot.
    base = draw_base(lkey, counter, _MONSTERS)
    slot = np.int64(0)
    for i in range(min(r.room_monsters, C.MAX_MONSTERS)):
        lane = _ROOM_MON_LANES * i
        cell = randint(lane_uniform(base, lane), 0, cells - 1)
        kind = sample_monster(lane_uniform(base, lane + 1), s.depth[b], s.xlvl[b])
        if place_monster(s, b, slot, kind, top + 1 + cell // size, left + 1 + cell % size, np.bool_(True),
                         lane_uniform(base, lane + 2), lane_uniform(base, lane + 3), lane_uniform(base, lane + 4)):
            slot += 1


@njit
def _set_box(room_box, top, left, bottom, right):
    """A room's entry of ``room_box``: its walls."""
    room_box[0], room_box[1], room_box[2], room_box[3] = top, left, bottom, right


# -- the dungeon layout ---------------------------------------------------------------------------------


@njit
def _generate_dungeon(s, b, lkey, depth, from_below, populate, counter):
    """Rooms and junctions in the nine sectors, corridors, the Delphi, stairs, loot and monsters, in that order."""
    oracle = depth == s.oracle_depth[b]
    base = draw_base(lkey, 0, _LAYOUT)
    is_room, box, junction, lit = _sectors(base, depth, oracle)
    # The whole box is painted: the draws keep each box within its sector's rows and columns (the Delphi's too),
    # where the vectorised generator painted each square against its own sector's box only.
    for k in range(N_SECTORS):
        if is_room[k]:
            _paint_room(s.terrain[b], s.room_map[b], box[k, 0], box[k, 1], box[k, 2], box[k, 3], np.int64(k + 1))
            _set_box(s.room_box[b, k], box[k, 0], box[k, 1], box[k, 2], box[k, 3])
            s.room_lit[b, k] = lit[k]
    _dig_corridors(s, b, base, is_room, box, junction, _spanning_links(base))
    if oracle:
        _furnish_delphi(s, b)
    eligible = is_room.copy()  # stairs, loot and monsters go in the ordinary rooms (not the Delphi)
    if oracle:
        eligible[DELPHI] = False
    arrival_room = _place_stairs(s, b, base, eligible, box, depth, from_below)
    if populate:
        _drop_loot(s, b, lkey, eligible, box, depth)
    _add_monsters(s, b, lkey, counter, eligible, box, depth, arrival_room, oracle)


@njit
def _sectors(base, depth, oracle):
    """Each sector's room or junction: whether it has a room, its box (walls), its junction square and
    whether its room is lit (the Delphi always is). Lanes _L_IS_ROOM to _L_WEIGHT - 1."""
    is_room = np.empty(N_SECTORS, np.bool_)
    for k in range(N_SECTORS):
        is_room[k] = lane_uniform(base, _L_IS_ROOM + k) >= 0.2
    is_room[DELPHI] |= oracle
    if is_room.sum() < 3:
        is_room[:] = True
    box = np.empty((N_SECTORS, 4), np.int64)
    junction = np.empty((N_SECTORS, 2), np.int64)
    for k in range(N_SECTORS):
        lane = _L_SHAPE + 6 * k
        h = randint(lane_uniform(base, lane), 2, 4)
        w = randint(lane_uniform(base, lane + 1), 3, 16)
        top = randint(lane_uniform(base, lane + 2), _R0[k], _R1[k] - h - 1)
        left = randint(lane_uniform(base, lane + 3), _C0[k], _C1[k] - w - 1)
        box[k, 0], box[k, 1], box[k, 2], box[k, 3] = top, left, top + h + 1, left + w + 1
        junction[k, 0] = randint(lane_uniform(base, lane + 4), _R0[k] + 1, _R1[k] - 1)
        junction[k, 1] = randint(lane_uniform(base, lane + 5), _C0[k] + 1, _C1[k] - 1)
    if oracle:
        for i in range(4):
            box[DELPHI, i] = DELPHI_BOX[i]
    lit = np.empty(N_SECTORS, np.bool_)
    threshold = 76 / 77 if depth < 10 else 0.5  # NetHack: nearly always lit when shallow
    for k in range(N_SECTORS):
        lit[k] = lane_uniform(base, _L_LIT + k) < threshold or (k == DELPHI and oracle)
    return is_room, box, junction, lit


@njit
def _order(values):
    """The indices that sort ``values`` (ties in index order): ``np.argsort`` for distinct values."""
    n = values.size
    order = np.arange(n)
    for i in range(1, n):
        j = i
        while j > 0 and values[order[j - 1]] > values[order[j]]:
            order[j - 1], order[j] = order[j], order[j - 1]
            j -= 1
    return order


@njit
def _spanning_links(base):
    """The links dug: a random spanning tree (Kruskal on random weights) plus extra links for loops."""
    weights = np.empty(N_LINKS)
    chosen = np.empty(N_LINKS, np.bool_)
    for e in range(N_LINKS):
        weights[e] = lane_uniform(base, _L_WEIGHT + e)
        chosen[e] = lane_uniform(base, _L_EXTRA + e) < 0.15
    comp = np.arange(N_SECTORS)
    for e in _order(weights):
        ca, cb = comp[_LINK_A[e]], comp[_LINK_B[e]]
        if ca != cb:
            chosen[e] = True
            for k in range(N_SECTORS):
                if comp[k] == cb:
                    comp[k] = ca
    return chosen


@njit
def _dig_corridors(s, b, base, is_room, box, junction, chosen):
    """Each chosen link's Z from the square outside one door to the square outside the other (or a junction).

    All corridors are dug before any door is set, and the doors of the links' a rooms before those of
    their b rooms. Doors sit on the facing walls: right/left for side-by-side sectors, bottom/top for
    stacked ones, off the corners.
    """
    doors = np.empty((N_LINKS, 4), np.int64)  # door_ay, door_ax, door_by, door_bx
    for e in range(N_LINKS):
        hor, a, z = _HORIZONTAL[e], _LINK_A[e], _LINK_B[e]
        ta, la, ba, ria = box[a, 0], box[a, 1], box[a, 2], box[a, 3]
        tb, lb, bb, rib = box[z, 0], box[z, 1], box[z, 2], box[z, 3]
        u_pos_a, u_pos_b = lane_uniform(base, _L_POS_A + e), lane_uniform(base, _L_POS_B + e)
        if hor:
            doors[e, 0], doors[e, 1] = randint(u_pos_a, ta + 1, ba - 1), ria
            doors[e, 2], doors[e, 3] = randint(u_pos_b, tb + 1, bb - 1), lb
        else:
            doors[e, 0], doors[e, 1] = ba, randint(u_pos_a, la + 1, ria - 1)
            doors[e, 2], doors[e, 3] = tb, randint(u_pos_b, lb + 1, rib - 1)
        if not chosen[e]:
            continue
        step_y, step_x = np.int64(not hor), np.int64(hor)  # from a door out of its room, towards the other
        if is_room[a]:
            ya, xa = doors[e, 0] + step_y, doors[e, 1] + step_x
        else:
            ya, xa = junction[a, 0], junction[a, 1]
        if is_room[z]:
            yb, xb = doors[e, 2] - step_y, doors[e, 3] - step_x
        else:
            yb, xb = junction[z, 0], junction[z, 1]
        u_mid = lane_uniform(base, _L_MID + e)
        if hor:  # the Z's two bends
            mid = randint(u_mid, xa, xb)
            y1, x1, y2, x2 = ya, mid, yb, mid
        else:
            mid = randint(u_mid, ya, yb)
            y1, x1, y2, x2 = mid, xa, mid, xb
        _paint_line(s.terrain[b], ya, xa, y1, x1, C.CORRIDOR)
        _paint_line(s.terrain[b], y1, x1, y2, x2, C.CORRIDOR)
        _paint_line(s.terrain[b], y2, x2, yb, xb, C.CORRIDOR)
    for side in range(2):  # 0: the a rooms' doors, 1: the b rooms'
        for e in range(N_LINKS):
            room = _LINK_A[e] if side == 0 else _LINK_B[e]
            if chosen[e] and is_room[room]:
                u_door = lane_uniform(base, (_L_DOOR_A if side == 0 else _L_DOOR_B) + e)
                s.terrain[b, doors[e, 2 * side], doors[e, 2 * side + 1]] = _door_kind(u_door, _HORIZONTAL[e])


@njit
def _door_kind(u, horizontal):
    """A doorway 45% of the time, else an open (25%) or closed door, its symbol by the wall it is in."""
    if u < 0.45:
        return C.DOORWAY
    if u < 0.7:
        return C.OPEN_DOOR_V if horizontal else C.OPEN_DOOR_H
    return C.CLOSED_DOOR_V if horizontal else C.CLOSED_DOOR_H


@njit
def _furnish_delphi(s, b):
    """Fountains around the Oracle, who holds monster slot 0."""
    for i in range(FOUNTAIN_Y.size):
        s.terrain[b, FOUNTAIN_Y[i], FOUNTAIN_X[i]] = C.FOUNTAIN
    s.mon_type[b, 0] = C.ORACLE
    s.mon_y[b, 0], s.mon_x[b, 0] = ORACLE_Y, ORACLE_X
    s.mon_hp[b, 0] = 1000
    s.mon_awake[b, 0] = True


@njit
def _room_cell(box, room, uy, ux):
    """A random square inside ``room``'s walls."""
    return randint(uy, box[room, 0] + 1, box[room, 2] - 1), randint(ux, box[room, 1] + 1, box[room, 3] - 1)


@njit
def _place_stairs(s, b, base, eligible, box, depth, from_below):
    """Stairs in two different ordinary rooms, the first two of a random order of them; the player on the
    staircase of arrival. Returns the arrival room. Lanes _L_STAIRS on."""
    keys = np.empty(N_SECTORS)
    for k in range(N_SECTORS):
        keys[k] = lane_uniform(base, _L_STAIRS + k) if eligible[k] else 2.0
    order = _order(keys)  # at least two rooms are eligible, and only the first two count
    up_room, down_room = order[0], order[1]
    lane = _L_STAIRS + N_SECTORS
    up_y, up_x = _room_cell(box, up_room, lane_uniform(base, lane), lane_uniform(base, lane + 1))
    down_y, down_x = _room_cell(box, down_room, lane_uniform(base, lane + 2), lane_uniform(base, lane + 3))
    s.terrain[b, up_y, up_x] = C.STAIRS_UP
    s.up_y[b], s.up_x[b] = up_y, up_x
    deep = depth < C.MAX_DEPTH  # the deepest level has no way down
    if deep:
        s.terrain[b, down_y, down_x] = C.STAIRS_DOWN
        s.down_y[b], s.down_x[b] = down_y, down_x
    if from_below and deep:
        s.py[b], s.px[b] = down_y, down_x
        return down_room
    s.py[b], s.px[b] = up_y, up_x
    return up_room


@njit
def _drop(s, b, y, x, kind, qty):
    """Put an object on the floor at (y, x) if the square is plain floor and empty."""
    if s.terrain[b, y, x] == C.FLOOR and s.obj_kind[b, y, x] == 0:
        s.obj_kind[b, y, x] = kind
        s.obj_qty[b, y, x] = qty


@njit
def _drop_loot(s, b, lkey, eligible, box, depth):
    """Loot on a first visit: gold in half the rooms (NetHack's mkgold), then an item in a third of them."""
    base = draw_base(lkey, 0, _LOOT)
    for k in range(N_SECTORS):
        lane = _LOOT_LANES * k
        if eligible[k] and lane_uniform(base, lane + _L_GOLD) < 0.5:
            y, x = _room_cell(box, k, lane_uniform(base, lane + _L_GOLD_Y), lane_uniform(base, lane + _L_GOLD_X))
            amount = 1 + randint(lane_uniform(base, lane + _L_GOLD_DEPTH_DIE), 1, depth + 2) * randint(
                lane_uniform(base, lane + _L_GOLD_DIE), 1, 30)
            _drop(s, b, y, x, np.int64(C.GOLD), amount)
    for k in range(N_SECTORS):
        lane = _LOOT_LANES * k
        if eligible[k] and lane_uniform(base, lane + _L_ITEM) < 0.35:
            y, x = _room_cell(box, k, lane_uniform(base, lane + _L_ITEM_Y), lane_uniform(base, lane + _L_ITEM_X))
            _drop(s, b, y, x, _floor_item(lane_uniform(base, lane + _L_ITEM_KIND)), np.int64(1))


@njit
def _floor_item(u):
    """The item whose share of the weights holds ``u`` (``searchsorted(cdf, u, side="right")``)."""
    i = 0
    while i < _ITEM_CDF.size - 1 and _ITEM_CDF[i] <= u:
        i += 1
    return _FLOOR_ITEMS[i]


@njit
def _add_monsters(s, b, lkey, counter, eligible, box, depth, arrival_room, oracle):
    """One monster in a third of the ordinary rooms other than the arrival room, on plain floor off the
    player's square, asleep half the time; slots in sector order after the Oracle's."""
    base = draw_base(lkey, counter, _MONSTERS)
    slot = np.int64(oracle)  # the Oracle holds slot 0 on its level
    for k in range(N_SECTORS):
        if not eligible[k] or k == arrival_room:
            continue
        lane = _MON_LANES * k
        y, x = _room_cell(box, k, lane_uniform(base, lane + 1), lane_uniform(base, lane + 2))
        if (lane_uniform(base, lane) >= 1 / 3 or s.terrain[b, y, x] != C.FLOOR
                or (y == s.py[b] and x == s.px[b])):
            continue
        if slot < C.MAX_MONSTERS:
            kind = sample_monster(lane_uniform(base, lane + 3), depth, s.xlvl[b])
            s.mon_type[b, slot] = kind
            s.mon_y[b, slot], s.mon_x[b, slot] = y, x
            s.mon_hp[b, slot] = monster_hp(lane_uniform(base, lane + 5), lane_uniform(base, lane + 6),
                                           lane_uniform(base, lane + 7), kind)
            s.mon_awake[b, slot] = lane_uniform(base, lane + 4) < 0.5
            s.mon_energy[b, slot] = 0
        slot += 1
