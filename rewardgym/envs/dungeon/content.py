"""What the dungeon is made of: terrain, monsters, items, glyphs, actions and constants.

Everything here is a plain table, indexed by small integer codes that the batched core
stores in its arrays. The glyph numbering is this game's own (NLE's numbering belongs to
NetHack's 381 monsters and 453 objects), laid out the same way: monster glyphs first, then
object glyphs, then the map symbols ("cmap"). ``MAX_GLYPH`` is far below NLE's 5976, so a
policy that embeds ``nethack.MAX_GLYPH`` glyph ids takes these observations unchanged.

Colours are NetHack's 16 colour indices (``CLR_*``), so ``colors`` and ``tty_colors`` read
the same as NLE's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# -- map geometry (NLE's) --------------------------------------------------------------------
ROWS, COLS = 21, 79
TTY_ROWS, TTY_COLS = 24, 80
MESSAGE_LEN = 256
INV_SIZE, INV_STR_LEN = 55, 80
MAX_DEPTH = 60  # deepest level; it has no staircase down
MAX_MONSTERS = 16  # monster slots per env (the level's monsters)
MAX_MESSAGES = 4  # messages kept per step, joined by two spaces as the tty does when they fit

# NetHack colours.
(CLR_BLACK, CLR_RED, CLR_GREEN, CLR_BROWN, CLR_BLUE, CLR_MAGENTA, CLR_CYAN, CLR_GRAY, NO_COLOR, CLR_ORANGE,
 CLR_BRIGHT_GREEN, CLR_YELLOW, CLR_BRIGHT_BLUE, CLR_BRIGHT_MAGENTA, CLR_BRIGHT_CYAN, CLR_WHITE) = range(16)

# -- terrain ----------------------------------------------------------------------------------
(STONE, VWALL, HWALL, TLCORNER, TRCORNER, BLCORNER, BRCORNER, DOORWAY, OPEN_DOOR_V, OPEN_DOOR_H,
 CLOSED_DOOR_V, CLOSED_DOOR_H, FLOOR, CORRIDOR, STAIRS_UP, STAIRS_DOWN, FOUNTAIN) = range(17)

# name, symbol, colour. An open door in a vertical wall swings out and shows as '-', as in NetHack.
TERRAIN: list[tuple[str, str, int]] = [
    ("dark part of a room", " ", CLR_BLACK),  # solid rock, or not seen yet
    ("wall", "|", CLR_GRAY),
    ("wall", "-", CLR_GRAY),
    ("wall", "-", CLR_GRAY),
    ("wall", "-", CLR_GRAY),
    ("wall", "-", CLR_GRAY),
    ("wall", "-", CLR_GRAY),
    ("doorway", ".", CLR_GRAY),
    ("open door", "-", CLR_BROWN),
    ("open door", "|", CLR_BROWN),
    ("closed door", "+", CLR_BROWN),
    ("closed door", "+", CLR_BROWN),
    ("floor of a room", ".", CLR_GRAY),
    ("corridor", "#", CLR_GRAY),
    ("staircase up", "<", CLR_GRAY),
    ("staircase down", ">", CLR_GRAY),
    ("fountain", "{", CLR_BLUE),
]
N_TERRAIN = len(TERRAIN)

_walkable = np.zeros(N_TERRAIN, bool)
_walkable[[DOORWAY, OPEN_DOOR_V, OPEN_DOOR_H, FLOOR, CORRIDOR, STAIRS_UP, STAIRS_DOWN, FOUNTAIN]] = True
WALKABLE = _walkable
"""Terrain a creature can stand on (closed doors must be opened first)."""
_door = np.zeros(N_TERRAIN, bool)
_door[[OPEN_DOOR_V, OPEN_DOOR_H, CLOSED_DOOR_V, CLOSED_DOOR_H]] = True
HAS_DOOR = _door
"""Doorways with a door in them: no diagonal moves in or out (empty doorways allow them, as in NetHack)."""
_closed = np.zeros(N_TERRAIN, bool)
_closed[[CLOSED_DOOR_V, CLOSED_DOOR_H]] = True
CLOSED = _closed
_wall = np.zeros(N_TERRAIN, bool)
_wall[[VWALL, HWALL, TLCORNER, TRCORNER, BLCORNER, BRCORNER]] = True
IS_WALL = _wall


# -- monsters -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Monster:
    name: str
    symbol: str
    color: int
    level: int
    speed: int  # movement points a turn; a creature acts when it has 12
    ac: int
    attack: str  # the verb of "The <monster> <attack>"
    damage: int  # a hit does 1..damage (0: harmless)
    frequency: int  # relative chance of being generated (0: never at random)
    nutrition: int  # of its corpse
    orthogonal: bool = False  # moves only orthogonally (grid bugs)
    hallucinogenic: bool = False  # eating its corpse makes you hallucinate


# Stats after NetHack's early monsters. Index 0 is the player's own form (a human adventurer),
# index 1 the Oracle: peaceful, immobile, never generated at random.
MONSTERS: list[Monster] = [
    Monster("human", "@", CLR_WHITE, 1, 12, 10, "hits!", 6, 0, 400),
    Monster("Oracle", "@", CLR_BRIGHT_BLUE, 12, 0, 0, "", 0, 0, 400),
    Monster("newt", ":", CLR_YELLOW, 0, 6, 8, "bites!", 3, 5, 20),
    Monster("jackal", "d", CLR_BROWN, 0, 12, 7, "bites!", 2, 3, 250),
    Monster("grid bug", "x", CLR_MAGENTA, 0, 12, 9, "bites!", 1, 3, 10, orthogonal=True),
    Monster("sewer rat", "r", CLR_BROWN, 0, 12, 7, "bites!", 3, 1, 12),
    Monster("lichen", "F", CLR_BRIGHT_GREEN, 0, 1, 9, "touches you!", 0, 4, 200),
    Monster("kobold", "k", CLR_RED, 0, 6, 10, "hits!", 4, 1, 100),
    Monster("goblin", "o", CLR_GRAY, 0, 6, 10, "hits!", 6, 2, 50),
    Monster("fox", "d", CLR_RED, 1, 12, 7, "bites!", 3, 1, 250),
    Monster("giant rat", "r", CLR_BROWN, 1, 10, 7, "bites!", 3, 2, 30),
    Monster("gecko", ":", CLR_CYAN, 1, 6, 8, "bites!", 3, 5, 20),
    Monster("hobbit", "h", CLR_GREEN, 1, 9, 10, "hits!", 6, 2, 200),
    Monster("hill orc", "o", CLR_YELLOW, 1, 9, 10, "hits!", 6, 2, 200),
    Monster("giant ant", "a", CLR_BROWN, 2, 18, 3, "bites!", 4, 3, 10),
    Monster("homunculus", "i", CLR_GREEN, 2, 12, 6, "bites!", 3, 2, 100),
    Monster("dwarf", "h", CLR_RED, 2, 6, 10, "hits!", 8, 3, 300),
    Monster("violet fungus", "F", CLR_MAGENTA, 3, 1, 7, "touches you!", 4, 2, 100, hallucinogenic=True),
]
N_MONSTERS = len(MONSTERS)
PLAYER, ORACLE = 0, 1
MON_LEVEL = np.array([m.level for m in MONSTERS], np.int64)
MON_SPEED = np.array([m.speed for m in MONSTERS], np.int64)
MON_AC = np.array([m.ac for m in MONSTERS], np.int64)
MON_DAMAGE = np.array([m.damage for m in MONSTERS], np.int64)
MON_FREQ = np.array([m.frequency for m in MONSTERS], np.float64)
MON_ORTHOGONAL = np.array([m.orthogonal for m in MONSTERS], bool)
MON_HALLUCINOGENIC = np.array([m.hallucinogenic for m in MONSTERS], bool)
MON_NUTRITION = np.array([m.nutrition for m in MONSTERS], np.int64)

# -- items ------------------------------------------------------------------------------------------
# Object classes, NetHack's numbering (NLE's inv_oclasses).
WEAPON_CLASS, ARMOR_CLASS, FOOD_CLASS, POTION_CLASS, SCROLL_CLASS, COIN_CLASS = 1, 2, 6, 7, 8, 11
MAXOCLASSES = 17


@dataclass(frozen=True)
class Item:
    singular: str  # "{n}" stands for the count where the name shows it
    plural: str
    oclass: int
    symbol: str
    color: int
    nutrition: int = 0


(NO_ITEM, GOLD, LONG_SWORD, RING_MAIL, FOOD_RATION, APPLE, POTION_HEALING, POTION_HALLUCINATION,
 SCROLL_MAGIC_MAPPING, SCROLL_TELEPORTATION) = range(10)
CORPSE_OFF = 10
ITEMS: list[Item] = [
    Item("", "", 0, " ", CLR_BLACK),
    Item("{n} gold piece", "{n} gold pieces", COIN_CLASS, "$", CLR_YELLOW),
    Item("a +1 long sword (weapon in hand)", "{n} +1 long swords (weapon in hand)", WEAPON_CLASS, ")", CLR_CYAN),
    Item("an uncursed +1 ring mail (being worn)", "{n} uncursed +1 ring mails (being worn)", ARMOR_CLASS, "[",
         CLR_CYAN),
    Item("a food ration", "{n} food rations", FOOD_CLASS, "%", CLR_BROWN, 800),
    Item("an apple", "{n} apples", FOOD_CLASS, "%", CLR_RED, 50),
    Item("a potion of healing", "{n} potions of healing", POTION_CLASS, "!", CLR_BRIGHT_MAGENTA),
    Item("a potion of hallucination", "{n} potions of hallucination", POTION_CLASS, "!", CLR_BRIGHT_CYAN),
    Item("a scroll of magic mapping", "{n} scrolls of magic mapping", SCROLL_CLASS, "?", CLR_WHITE),
    Item("a scroll of teleportation", "{n} scrolls of teleportation", SCROLL_CLASS, "?", CLR_WHITE),
] + [
    Item(f"{'an' if m.name[0] in 'aeiou' else 'a'} {m.name} corpse", f"{{n}} {m.name} corpses", FOOD_CLASS, "%",
         m.color, m.nutrition)
    for m in MONSTERS
]
N_ITEMS = len(ITEMS)
ITEM_CLASS = np.array([it.oclass for it in ITEMS], np.int64)
ITEM_NUTRITION = np.array([it.nutrition for it in ITEMS], np.int64)
IS_FOOD = ITEM_CLASS == FOOD_CLASS
IS_POTION = ITEM_CLASS == POTION_CLASS
IS_SCROLL = ITEM_CLASS == SCROLL_CLASS
AUTOPICKUP = np.isin(ITEM_CLASS, [COIN_CLASS, POTION_CLASS, SCROLL_CLASS])
"""NLE's default ``pickup_types:$?!/``: gold, scrolls and potions are picked up by walking onto them."""

# Items a level's rooms may hold (besides gold), with their relative chances.
FLOOR_ITEMS = np.array([FOOD_RATION, APPLE, POTION_HEALING, POTION_HALLUCINATION, SCROLL_MAGIC_MAPPING,
                        SCROLL_TELEPORTATION])
FLOOR_ITEM_WEIGHTS = np.array([25, 20, 20, 10, 15, 10], np.float64)

# -- glyphs ---------------------------------------------------------------------------------------
GLYPH_MON_OFF = 0
GLYPH_OBJ_OFF = GLYPH_MON_OFF + N_MONSTERS
GLYPH_CMAP_OFF = GLYPH_OBJ_OFF + N_ITEMS
MAX_GLYPH = GLYPH_CMAP_OFF + N_TERRAIN
NO_GLYPH = MAX_GLYPH  # NLE's filler for empty inventory slots
GLYPH_STONE = GLYPH_CMAP_OFF + STONE
GLYPH_PLAYER = GLYPH_MON_OFF + PLAYER
GLYPH_ORACLE = GLYPH_MON_OFF + ORACLE
MG_CORPSE = 0x01  # NetHack's "special" flag for corpses

GLYPH_CHAR = np.zeros(MAX_GLYPH + 1, np.uint8)
GLYPH_COLOR = np.zeros(MAX_GLYPH + 1, np.uint8)
GLYPH_SPECIAL = np.zeros(MAX_GLYPH + 1, np.uint8)
GLYPH_NAMES: list[str] = []
for _i, _m in enumerate(MONSTERS):
    GLYPH_CHAR[GLYPH_MON_OFF + _i], GLYPH_COLOR[GLYPH_MON_OFF + _i] = ord(_m.symbol), _m.color
    GLYPH_NAMES.append(_m.name)
for _i, _it in enumerate(ITEMS):
    GLYPH_CHAR[GLYPH_OBJ_OFF + _i], GLYPH_COLOR[GLYPH_OBJ_OFF + _i] = ord(_it.symbol), _it.color
    GLYPH_SPECIAL[GLYPH_OBJ_OFF + _i] = MG_CORPSE if _i >= CORPSE_OFF else 0
    GLYPH_NAMES.append(_it.plural.replace("{n} ", "") if _i else "nothing")
for _i, (_name, _sym, _color) in enumerate(TERRAIN):
    GLYPH_CHAR[GLYPH_CMAP_OFF + _i], GLYPH_COLOR[GLYPH_CMAP_OFF + _i] = ord(_sym), _color
    GLYPH_NAMES.append(_name)
GLYPH_CHAR[NO_GLYPH] = ord(" ")
GLYPH_NAMES.append("no glyph")

# -- the player ---------------------------------------------------------------------------------------
# A neutral human adventurer with a long sword and ring mail (NetHack's Valkyrie, toned down).
STATS = {"strength": 17, "dexterity": 14, "constitution": 16, "intelligence": 10, "wisdom": 10, "charisma": 10}
START_HP = 16
START_ENERGY = 2
PLAYER_AC = 6
START_NUTRITION = 900
TO_HIT_BONUS = 3  # NetHack's: luck 0, Str 17 +1, the low-level kludge +1, the sword's +1
WEAPON_DIE, DAMAGE_BONUS = 8, 2  # d8 long sword, +1 enchantment, +1 strength bonus
STARVE_AT = -(200 + 20 * STATS["constitution"])  # NetHack's starvation threshold
ALIGNMENT = 0  # neutral (NLE's blstats alignment: -1 chaotic, 0 neutral, 1 lawful)
RANK_TITLES = [(1, "Wanderer"), (3, "Explorer"), (6, "Pathfinder"), (10, "Delver"), (14, "Seeker"),
               (18, "Venturer"), (22, "Warden"), (26, "Pioneer"), (30, "Legend")]

# Hunger states (NLE's blstats[21]).
SATIATED, NOT_HUNGRY, HUNGRY, WEAK, FAINTING, FAINTED, STARVED = range(7)

# -- blstats (NLE's 27 entries) -----------------------------------------------------------------------
(BL_X, BL_Y, BL_STR25, BL_STR125, BL_DEX, BL_CON, BL_INT, BL_WIS, BL_CHA, BL_SCORE, BL_HP, BL_HPMAX, BL_DEPTH,
 BL_GOLD, BL_ENE, BL_ENEMAX, BL_AC, BL_HD, BL_XP, BL_EXP, BL_TIME, BL_HUNGER, BL_CAP, BL_DNUM, BL_DLEVEL,
 BL_CONDITION, BL_ALIGN) = range(27)
N_BLSTATS = 27
BL_MASK_HALLU = 0x200  # NetHack 3.6's condition bit for hallucination


def experience_needed(level: int) -> int:
    """Experience points needed to reach ``level + 1`` (NetHack's ``newuexp``)."""
    if level < 10:
        return 10 * 2 ** level
    if level < 20:
        return 10000 * 2 ** (level - 10)
    return 10_000_000 * (level - 19)


XP_NEEDED = np.array([experience_needed(level) for level in range(31)], np.int64)


# -- actions -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Action:
    name: str
    key: str  # the NetHack keystroke (NLE's action value is ord(key))
    description: str


ACTIONS: list[Action] = [
    Action("N", "k", "move north"), Action("E", "l", "move east"), Action("S", "j", "move south"),
    Action("W", "h", "move west"), Action("NE", "u", "move northeast"), Action("SE", "n", "move southeast"),
    Action("SW", "b", "move southwest"), Action("NW", "y", "move northwest"),
    Action("UP", "<", "go up a staircase"), Action("DOWN", ">", "go down a staircase"),
    Action("WAIT", ".", "rest one turn"), Action("SEARCH", "s", "search around you for a turn"),
    Action("PICKUP", ",", "pick up what is here"), Action("EAT", "e", "eat (food here first, else from the pack)"),
    Action("QUAFF", "q", "drink the first potion in the pack"),
    Action("READ", "r", "read the first scroll in the pack"),
    Action("LOOK", ":", "look at what is here"),
]
INVENTORY_LETTERS = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"  # in the order items get them
ACTION_INDEX = {a.name: i for i, a in enumerate(ACTIONS)}
(A_N, A_E, A_S, A_W, A_NE, A_SE, A_SW, A_NW, A_UP, A_DOWN, A_WAIT, A_SEARCH, A_PICKUP, A_EAT, A_QUAFF, A_READ,
 A_LOOK) = range(len(ACTIONS))
DY = np.array([-1, 0, 1, 0, -1, 1, 1, -1], np.int64)
DX = np.array([0, 1, 0, -1, 1, 1, -1, -1], np.int64)
ACTION_SETS: dict[str, tuple[str, ...]] = {
    "full": tuple(a.name for a in ACTIONS),
    "reduced": ("N", "E", "S", "W", "NE", "SE", "SW", "NW", "DOWN", "WAIT", "PICKUP", "EAT"),
    "move": ("N", "E", "S", "W", "NE", "SE", "SW", "NW"),
}
"""Named action sets: ``full`` (every command), ``reduced`` (moves, stairs down, wait, pick up, eat),
``move`` (the eight compass moves, MiniHack's navigation set)."""
