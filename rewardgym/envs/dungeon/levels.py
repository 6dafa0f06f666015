"""Level generation, vectorised over the envs that need a new level.

A dungeon level is laid out on a 3 x 3 grid of sectors, as in Rogue (NetHack's own rooms
are placed more freely, but its levels read the same: rooms joined by corridors through
doors). Each sector holds a room of random size and place, or — one time in five — only a
corridor junction. A random spanning tree over the sectors' 12 neighbour links, plus a few
extra links for loops, guarantees that every room is reachable. A link is a Z-shaped
corridor from a door of one room to a door of the other; sectors leave a free row or column
between them, so corridors never cut through a room. Everything is a rectangle or a straight
line, computed for all sectors, links and envs at once: a level costs a few dozen NumPy calls
whatever the number of envs, never a Python loop per env (large batches go in chunks of 512
to bound the temporary arrays).

Randomness: a level is a pure function of ``level_key(episode key, depth)``, so going back up
rebuilds the same layout. Gold and items are placed only on a level's first visit (the
core keeps which depths were visited; levels are not stored, so a revisited level comes back
with its layout but without its loot). Monsters are drawn from the level key and the step
counter, so each arrival brings its own.

The Oracle's level (its depth is drawn per episode) has the Delphi in the centre sector: a
lit room with four fountains around the Oracle. ``layout="room"`` builds MiniHack's Room
tasks instead: one room of ``room_size`` x ``room_size``, lit or dark, the player in one
corner and the staircase down in the other (or both at random), optionally with monsters.
"""

from __future__ import annotations

import numpy as np

from rewardgym.envs import rng
from rewardgym.envs.dungeon import content as C

# Counter-RNG streams of level generation.
_LAYOUT, _LOOT, _MONSTERS = 100, 101, 102
_DEPTH_SALT = np.uint64(0xA24BAED4963EE407)

N_SECTORS = 9
ROW_BANDS = [(1 + 7 * r, 6 + 7 * r) for r in range(3)]  # inclusive rows a sector's room walls may use
COL_BANDS = [(1 + 26 * c, 25 + 26 * c) for c in range(3)]
DELPHI = 4  # the centre sector
DELPHI_BOX = (8, 32, 12, 46)  # top, left, bottom, right (walls): a 3 x 13 interior
ORACLE_POS = (10, 39)
FOUNTAINS = [(9, 36), (9, 42), (11, 36), (11, 42)]
# The 12 links between neighbouring sectors: (a, b, horizontal) with a left of / above b.
LINKS = [(3 * r + c, 3 * r + c + 1, True) for r in range(3) for c in range(2)] + \
        [(3 * r + c, 3 * r + c + 3, False) for r in range(2) for c in range(3)]


def level_key(key: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """The key of the level at ``depth`` in the episode keyed ``key``."""
    return rng.splitmix64(np.asarray(key, np.uint64) ^ rng.splitmix64(np.asarray(depth, np.uint64) * _DEPTH_SALT))


class Draws:
    """Hands out consecutive lanes of one counter-RNG draw: ``take(k)`` gives (n, k) uniforms."""

    def __init__(self, key: np.ndarray, counter, stream: int, lanes: int):
        self.u = rng.uniform(key, counter, stream, (lanes,))
        self.next = 0

    def take(self, k: int = 1) -> np.ndarray:
        out = self.u[:, self.next:self.next + k]
        self.next += k
        if self.next > self.u.shape[1]:
            raise RuntimeError("level generation drew more lanes than it reserved")
        return out


def randint(u: np.ndarray, low, high) -> np.ndarray:
    """Uniform ints in [low, high] (inclusive, broadcast) from uniforms ``u``."""
    low = np.asarray(low, np.int64)
    high = np.asarray(high, np.int64)
    return low + np.minimum((u * (high - low + 1)).astype(np.int64), np.maximum(high - low, 0))


def sample_monster(u: np.ndarray, depth: np.ndarray, xlvl: np.ndarray) -> np.ndarray:
    """A random monster type for each env, NetHack's difficulty window: level in [depth/6, (depth+xl)/2]."""
    hi = (np.asarray(depth) + np.asarray(xlvl)) // 2
    lo = np.asarray(depth) // 6
    allowed = (C.MON_LEVEL[None, :] <= hi[:, None]) & (C.MON_LEVEL[None, :] >= np.minimum(lo, hi)[:, None])
    weights = np.where(allowed, C.MON_FREQ[None, :], 0.0)
    cdf = np.cumsum(weights, axis=1)
    pick = (cdf > (u * cdf[:, -1])[:, None]).argmax(axis=1)
    return pick


def monster_hp(u: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """Hit points of new monsters: rnd(4) at level 0, else d(level, 8) (``u`` has 3 lanes per monster)."""
    level = C.MON_LEVEL[kind]
    dice = 1 + (u[..., :3] * 8).astype(np.int64)
    rolled = np.where(np.arange(3) < level[..., None], dice, 0).sum(-1)
    hp = np.where(level == 0, 1 + (u[..., 0] * 4).astype(np.int64), rolled)
    return np.where(kind == C.ORACLE, 1000, hp)


def _paint_line(grid, g, y0, x0, y1, x1, value):
    """Paint axis-aligned lines from (y0, x0) to (y1, x1) in envs ``g`` (inclusive ends)."""
    steps = np.maximum(np.abs(y1 - y0), np.abs(x1 - x0))
    t = np.arange(C.COLS)
    ok = t[None, :] <= steps[:, None]
    ys = y0[:, None] + np.sign(y1 - y0)[:, None] * t
    xs = x0[:, None] + np.sign(x1 - x0)[:, None] * t
    rows = np.broadcast_to(g[:, None], ok.shape)
    grid[rows[ok], ys[ok], xs[ok]] = value


def generate(state, g: np.ndarray, depth: np.ndarray, from_below: np.ndarray, populate: np.ndarray,
             counter: np.ndarray, cfg) -> None:
    """Build the level at ``depth`` for the envs ``g`` (global indices) and place the player on it.

    ``from_below``: the player arrives by the stairs up (so stands on the staircase down);
    ``populate``: place gold and items (first visit); ``counter`` keys the monsters drawn.
    ``cfg`` is the core (its layout settings).
    """
    n = g.size
    if n == 0:
        return
    s = state
    s.terrain[g] = C.STONE
    s.room_map[g] = 0
    s.obj_kind[g] = 0
    s.obj_qty[g] = 0
    s.mon_type[g] = -1
    s.mon_hp[g] = 0
    s.mon_awake[g] = False
    s.mon_energy[g] = 0
    s.room_box[g] = 0
    s.room_lit[g] = False
    s.up_y[g] = s.up_x[g] = s.down_y[g] = s.down_x[g] = -1
    lkey = level_key(s.key[g], depth)
    if cfg.layout == "room":
        _generate_room(s, g, lkey, counter, cfg)
    else:
        _generate_dungeon(s, g, lkey, depth, from_below, populate, counter, cfg)


def _generate_room(s, g, lkey, counter, cfg) -> None:
    n, size = g.size, cfg.room_size
    top, left = (C.ROWS - (size + 2)) // 2, (C.COLS - (size + 2)) // 2
    bottom, right = top + size + 1, left + size + 1
    s.terrain[g, top:bottom + 1, left] = C.VWALL
    s.terrain[g, top:bottom + 1, right] = C.VWALL
    s.terrain[g, top, left:right + 1] = C.HWALL
    s.terrain[g, bottom, left:right + 1] = C.HWALL
    s.terrain[g, top, left], s.terrain[g, top, right] = C.TLCORNER, C.TRCORNER
    s.terrain[g, bottom, left], s.terrain[g, bottom, right] = C.BLCORNER, C.BRCORNER
    s.terrain[g, top + 1:bottom, left + 1:right] = C.FLOOR
    s.room_map[g, top:bottom + 1, left:right + 1] = 1
    s.room_box[g, 0] = (top, left, bottom, right)
    s.room_lit[g, 0] = cfg.room_lit
    d = Draws(lkey, 0, _LAYOUT, 2 + 4 * C.MAX_MONSTERS)
    cells = size * size
    if cfg.room_door:  # a wall down the room, a closed door in it; start west of it, stairs east of it
        west = size // 2  # interior columns west of the wall
        east = size - west - 1
        wall = left + 1 + west
        goal_u, start_u, door_u = d.take(3).T
        goal, start = randint(goal_u, 0, size * east - 1), randint(start_u, 0, size * west - 1)
        if not cfg.room_random:  # the corners, as without a door
            goal, start = np.full(n, size * east - 1), np.zeros(n, np.int64)
        gy, gx = top + 1 + goal // east, wall + 1 + goal % east
        sy, sx = top + 1 + start // west, left + 1 + start % west
        s.terrain[g, top + 1:bottom, wall] = C.VWALL
        s.terrain[g, top + 1 + randint(door_u, 0, size - 1), wall] = C.CLOSED_DOOR_V
        s.room_map[g, top:bottom + 1, wall + 1:right + 1] = 2
        s.room_box[g, 0] = (top, left, bottom, wall)
        s.room_box[g, 1] = (top, wall, bottom, right)
        s.room_lit[g, 1] = cfg.room_lit
    elif cfg.room_random:
        goal = randint(d.take()[:, 0], 0, cells - 1)
        start = randint(d.take()[:, 0], 0, cells - 2)
        start = start + (start >= goal)
        gy, gx = top + 1 + goal // size, left + 1 + goal % size
        sy, sx = top + 1 + start // size, left + 1 + start % size
    else:  # MiniHack's Room-NxN: start in the top-left corner, stairs down in the bottom-right one
        d.take(2)
        gy, gx = np.full(n, bottom - 1), np.full(n, right - 1)
        sy, sx = np.full(n, top + 1), np.full(n, left + 1)
    if not cfg.room_random:
        s.terrain[g, top + 1, left + 1] = C.STAIRS_UP
        s.up_y[g], s.up_x[g] = top + 1, left + 1
    s.terrain[g, gy, gx] = C.STAIRS_DOWN
    s.down_y[g], s.down_x[g] = gy, gx
    s.py[g], s.px[g] = sy, sx
    # Monsters (MiniHack's Room-Monster): random free cells, awake.
    m = Draws(lkey, counter, _MONSTERS, 5 * C.MAX_MONSTERS)
    slot = np.zeros(n, np.int64)
    for _ in range(min(cfg.room_monsters, C.MAX_MONSTERS)):
        u = m.take(5)
        cell = randint(u[:, 0], 0, cells - 1)
        y, x = top + 1 + cell // size, left + 1 + cell % size
        kind = sample_monster(u[:, 1], s.depth[g], s.xlvl[g])
        slot += _place_monster(s, g, slot, kind, y, x, np.ones(n, bool), u[:, 2:5])


def _place_monster(s, g, slot, kind, y, x, awake, hp_u, keep=None) -> np.ndarray:
    """Put monsters into ``slot`` (per env) of envs ``g`` where the cell is free (and ``keep``); return where."""
    slot = np.broadcast_to(np.asarray(slot, np.int64), g.shape)
    ter = s.terrain[g, y, x]
    free = ((s.py[g] != y) | (s.px[g] != x)) & C.WALKABLE[ter] & (ter != C.STAIRS_UP) & (ter != C.STAIRS_DOWN)
    alive = s.mon_type[g] >= 0
    free &= ~((s.mon_y[g] == y[:, None]) & (s.mon_x[g] == x[:, None]) & alive).any(axis=1)
    free &= slot < C.MAX_MONSTERS
    if keep is not None:
        free &= keep
    h, k = g[free], slot[free]
    s.mon_type[h, k] = kind[free]
    s.mon_y[h, k], s.mon_x[h, k] = y[free], x[free]
    s.mon_hp[h, k] = monster_hp(hp_u[free], kind[free])
    s.mon_awake[h, k] = awake[free]
    s.mon_energy[h, k] = 0
    return free


_SEC = np.arange(N_SECTORS)
_R0 = np.array([ROW_BANDS[k // 3][0] for k in _SEC])
_R1 = np.array([ROW_BANDS[k // 3][1] for k in _SEC])
_C0 = np.array([COL_BANDS[k % 3][0] for k in _SEC])
_C1 = np.array([COL_BANDS[k % 3][1] for k in _SEC])
_SECTOR_OF = np.full((C.ROWS, C.COLS), N_SECTORS, np.int64)  # N_SECTORS: between sectors
for _k in _SEC:
    _SECTOR_OF[_R0[_k]:_R1[_k] + 1, _C0[_k]:_C1[_k] + 1] = _k
_YY = np.arange(C.ROWS)[None, :, None]
_XX = np.arange(C.COLS)[None, None, :]
_LINK_A = np.array([a for a, _, _ in LINKS])
_LINK_B = np.array([b for _, b, _ in LINKS])
_HORIZONTAL = np.array([h for _, _, h in LINKS])
_CHUNK = 512  # envs generated together (bounds the temporary (n, 21, 79) arrays)


def _generate_dungeon(s, g, lkey, depth, from_below, populate, counter, cfg) -> None:
    for start in range(0, g.size, _CHUNK):
        part = slice(start, start + _CHUNK)
        _generate_dungeon_chunk(s, g[part], lkey[part], depth[part], from_below[part], populate[part],
                                counter[part])


def _generate_dungeon_chunk(s, g, lkey, depth, from_below, populate, counter) -> None:
    n = g.size
    rows = np.arange(n)
    oracle = depth == s.oracle_depth[g]
    d = Draws(lkey, 0, _LAYOUT, 8 * N_SECTORS + 7 * len(LINKS) + N_SECTORS + 4)

    # Sectors: a room of random size and place, or a junction (all nine sectors at once).
    is_room = d.take(N_SECTORS) >= 0.2
    is_room[:, DELPHI] |= oracle
    is_room[is_room.sum(axis=1) < 3] = True
    u = d.take(6 * N_SECTORS).reshape(n, N_SECTORS, 6)
    h = randint(u[..., 0], 2, 4)
    w = randint(u[..., 1], 3, 16)
    top = randint(u[..., 2], _R0, _R1 - h - 1)
    left = randint(u[..., 3], _C0, _C1 - w - 1)
    box = np.stack([top, left, top + h + 1, left + w + 1], axis=2)  # top, left, bottom, right (walls)
    box[oracle, DELPHI] = DELPHI_BOX
    jy, jx = randint(u[..., 4], _R0 + 1, _R1 - 1), randint(u[..., 5], _C0 + 1, _C1 - 1)
    lit = d.take(N_SECTORS) < np.where(depth < 10, 76 / 77, 0.5)[:, None]  # NetHack: nearly always lit when shallow
    lit[:, DELPHI] |= oracle

    # Rooms: walls and floor, every square of the map against the room of its sector.
    padded = np.concatenate([np.where(is_room[:, :, None], box, -9), np.full((n, 1, 4), -9)], axis=1)
    padded = padded.astype(np.int16)
    cell_box = padded[:, _SECTOR_OF]  # (n, 21, 79, 4)
    top_c, left_c, bottom_c, right_c = (cell_box[..., k] for k in range(4))
    yy, xx = _YY, _XX
    inside = (yy >= top_c) & (yy <= bottom_c) & (xx >= left_c) & (xx <= right_c)
    edge_y = (yy == top_c) | (yy == bottom_c)
    edge_x = (xx == left_c) | (xx == right_c)
    corner = edge_y & edge_x
    code = np.select([~inside, ~(edge_y | edge_x), corner & (yy == top_c) & (xx == left_c),
                      corner & (yy == top_c), corner & (xx == left_c), corner, edge_y],
                     [C.STONE, C.FLOOR, C.TLCORNER, C.TRCORNER, C.BLCORNER, C.BRCORNER, C.HWALL], C.VWALL)
    s.terrain[g] = code
    s.room_map[g] = np.where(inside, _SECTOR_OF[None] + 1, 0)
    s.room_box[g] = np.where(is_room[:, :, None], box, 0)
    s.room_lit[g] = lit & is_room

    # Links: a random spanning tree (Kruskal on random weights) plus extra links for loops.
    weights = d.take(len(LINKS))
    chosen = d.take(len(LINKS)) < 0.15
    order = np.argsort(weights, axis=1)
    comp = np.tile(_SEC, (n, 1))
    for k in range(len(LINKS)):
        e = order[:, k]
        ca, cb = comp[rows, _LINK_A[e]], comp[rows, _LINK_B[e]]
        join = ca != cb
        chosen[rows[join], e[join]] = True
        comp = np.where((comp == cb[:, None]) & join[:, None], ca[:, None], comp)

    # Corridors (all links at once): a Z from the square outside one door to the square outside the other.
    u_door_a, u_door_b, u_pos_a, u_pos_b, u_mid = (d.take(len(LINKS)) for _ in range(5))
    ra, rb = is_room[:, _LINK_A], is_room[:, _LINK_B]
    ta, la, ba, ria = (box[:, _LINK_A, k] for k in range(4))
    tb, lb, bb, rib = (box[:, _LINK_B, k] for k in range(4))
    hor = _HORIZONTAL[None, :]
    # Door squares on the facing walls (right/left for side-by-side sectors, bottom/top for stacked ones).
    door_ay = np.where(hor, randint(u_pos_a, ta + 1, ba - 1), ba)
    door_ax = np.where(hor, ria, randint(u_pos_a, la + 1, ria - 1))
    door_by = np.where(hor, randint(u_pos_b, tb + 1, bb - 1), tb)
    door_bx = np.where(hor, lb, randint(u_pos_b, lb + 1, rib - 1))
    # The corridor's ends: outside the doors, or the junction square itself.
    ya = np.where(ra, door_ay + ~hor, jy[:, _LINK_A])
    xa = np.where(ra, door_ax + hor, jx[:, _LINK_A])
    yb = np.where(rb, door_by - ~hor, jy[:, _LINK_B])
    xb = np.where(rb, door_bx - hor, jx[:, _LINK_B])
    mid = np.where(hor, randint(u_mid, xa, xb), randint(u_mid, ya, yb))
    y1, x1 = np.where(hor, ya, mid), np.where(hor, mid, xa)  # the Z's two bends
    y2, x2 = np.where(hor, yb, mid), np.where(hor, mid, xb)
    gg = np.broadcast_to(g[:, None], chosen.shape)
    for p0, p1 in (((ya, xa), (y1, x1)), ((y1, x1), (y2, x2)), ((y2, x2), (yb, xb))):
        _paint_line(s.terrain, gg[chosen], p0[0][chosen], p0[1][chosen], p1[0][chosen], p1[1][chosen], C.CORRIDOR)
    for keep, y, x, u_door in ((chosen & ra, door_ay, door_ax, u_door_a), (chosen & rb, door_by, door_bx, u_door_b)):
        kind = np.where(u_door < 0.45, C.DOORWAY,
                        np.where(u_door < 0.7, np.where(hor, C.OPEN_DOOR_V, C.OPEN_DOOR_H),
                                 np.where(hor, C.CLOSED_DOOR_V, C.CLOSED_DOOR_H)))
        s.terrain[gg[keep], y[keep], x[keep]] = kind[keep]

    # The Delphi: fountains around the Oracle.
    if np.count_nonzero(oracle):
        o = g[oracle]
        for fy, fx in FOUNTAINS:
            s.terrain[o, fy, fx] = C.FOUNTAIN
        s.mon_type[o, 0] = C.ORACLE
        s.mon_y[o, 0], s.mon_x[o, 0] = ORACLE_POS
        s.mon_hp[o, 0] = 1000
        s.mon_awake[o, 0] = True

    # Stairs in two different ordinary rooms (not the Delphi), chosen by a random order of the rooms.
    eligible = is_room.copy()
    eligible[:, DELPHI] &= ~oracle
    u = d.take(N_SECTORS + 4)
    pick = np.argsort(np.where(eligible, u[:, :N_SECTORS], 2.0), axis=1)
    up_room, down_room = pick[:, 0], pick[:, 1]
    up_y, up_x = _room_cell(box, rows, up_room, u[:, N_SECTORS], u[:, N_SECTORS + 1])
    down_y, down_x = _room_cell(box, rows, down_room, u[:, N_SECTORS + 2], u[:, N_SECTORS + 3])
    s.terrain[g, up_y, up_x] = C.STAIRS_UP
    s.up_y[g], s.up_x[g] = up_y, up_x
    deep = depth < C.MAX_DEPTH
    s.terrain[g[deep], down_y[deep], down_x[deep]] = C.STAIRS_DOWN
    s.down_y[g] = np.where(deep, down_y, -1)
    s.down_x[g] = np.where(deep, down_x, -1)
    arrive_down = from_below & deep
    s.py[g] = np.where(arrive_down, down_y, up_y)
    s.px[g] = np.where(arrive_down, down_x, up_x)
    arrival_room = np.where(arrive_down, down_room, up_room)

    # Loot on a first visit: gold in half the rooms, an item in a third of them.
    u = Draws(lkey, 0, _LOOT, 9 * N_SECTORS).take(9 * N_SECTORS).reshape(n, N_SECTORS, 9)
    keep = populate[:, None] & eligible
    g9 = np.repeat(g[:, None], N_SECTORS, axis=1)
    sec_rows = np.broadcast_to(rows[:, None], keep.shape)
    sectors = np.broadcast_to(_SEC, keep.shape)
    y, x = _room_cell(box, sec_rows, sectors, u[..., 0], u[..., 1])
    amount = 1 + randint(u[..., 2], 1, depth[:, None] + 2) * randint(u[..., 3], 1, 30)  # NetHack's mkgold
    gk = keep & (u[..., 4] < 0.5)
    _drop(s, g9[gk], y[gk], x[gk], np.full(gk.sum(), C.GOLD), amount[gk])
    y, x = _room_cell(box, sec_rows, sectors, u[..., 5], u[..., 6])
    cdf = np.cumsum(C.FLOOR_ITEM_WEIGHTS) / C.FLOOR_ITEM_WEIGHTS.sum()
    kind = C.FLOOR_ITEMS[np.minimum(np.searchsorted(cdf, u[..., 7], side="right"), len(cdf) - 1)]
    ik = keep & (u[..., 8] < 0.35)
    _drop(s, g9[ik], y[ik], x[ik], kind[ik], np.ones(ik.sum(), np.int64))

    # Monsters: one in a third of the rooms other than the arrival room, asleep half the time.
    u = Draws(lkey, counter, _MONSTERS, 8 * N_SECTORS).take(8 * N_SECTORS).reshape(n, N_SECTORS, 8)
    y, x = _room_cell(box, sec_rows, sectors, u[..., 1], u[..., 2])
    terrain = s.terrain[g[:, None], y, x]
    want = eligible & (arrival_room[:, None] != _SEC) & (u[..., 0] < 1 / 3)
    want &= (terrain == C.FLOOR) & ~((y == s.py[g, None]) & (x == s.px[g, None]))
    slot = np.cumsum(want, axis=1) - 1 + oracle[:, None]  # the Oracle holds slot 0 on its level
    want &= slot < C.MAX_MONSTERS
    kind = sample_monster(u[..., 3].ravel(), np.repeat(depth, N_SECTORS), np.repeat(s.xlvl[g], N_SECTORS))
    kind = kind.reshape(n, N_SECTORS)
    e, k = g9[want], slot[want]
    s.mon_type[e, k] = kind[want]
    s.mon_y[e, k], s.mon_x[e, k] = y[want], x[want]
    s.mon_hp[e, k] = monster_hp(u[..., 5:8][want], kind[want])
    s.mon_awake[e, k] = u[..., 4][want] < 0.5
    s.mon_energy[e, k] = 0


def _room_cell(box, rows, room, uy, ux):
    top, left, bottom, right = (box[rows, room, i] for i in range(4))
    return randint(uy, top + 1, bottom - 1), randint(ux, left + 1, right - 1)


def _drop(s, e, y, x, kind, qty) -> None:
    """Put objects on the floor (envs ``e``, squares ``y, x``) where the square is plain floor and empty."""
    keep = (s.terrain[e, y, x] == C.FLOOR) & (s.obj_kind[e, y, x] == 0)
    s.obj_kind[e[keep], y[keep], x[keep]] = kind[keep]
    s.obj_qty[e[keep], y[keep], x[keep]] = qty[keep]
