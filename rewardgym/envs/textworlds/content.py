"""The tables the generator draws from: rooms and their furniture, foods, household things, treasures.

Plain data, no logic. A furniture entry is ``(noun, kind)`` with kind ``"s"`` (a supporter:
things lie on it), ``"c"`` (an open container: things lie in it) or ``"oc"`` (a container
with a lid, which starts closed in games with ``closed=True``).
"""

from __future__ import annotations

ROOMS: dict[str, tuple[tuple[str, str], ...]] = {
    "kitchen": (),  # the task kinds furnish the kitchen themselves
    "pantry": (("shelf", "s"),),
    "backyard": (("patio table", "s"),),
    "garden": (("flower bed", "c"),),
    "living room": (("sofa", "s"), ("coffee table", "s")),
    "bedroom": (("bed", "s"), ("wardrobe", "oc")),
    "bathroom": (("bathtub", "c"), ("medicine cabinet", "oc")),
    "corridor": (("shoe rack", "s"),),
    "cellar": (("crate", "oc"), ("wine rack", "s")),
    "attic": (("trunk", "oc"),),
    "study": (("desk", "s"), ("filing cabinet", "oc")),
    "garage": (("toolbox", "oc"), ("workbench", "s")),
    "shed": (("crate", "oc"), ("shelf", "s")),
    "dining room": (("dining table", "s"), ("cupboard", "oc")),
    "laundry room": (("washing machine", "oc"), ("laundry basket", "c")),
    "library": (("bookshelf", "s"),),
    "porch": (("bench", "s"),),
    "hallway": (("coat rack", "s"),),
    "nursery": (("toy box", "oc"),),
    "workshop": (("tool cabinet", "oc"), ("bench", "s")),
}

# Adjectives that tell apart two pieces of furniture of the same noun.
FURNITURE_ADJECTIVES = ("wooden", "old", "white", "small", "large", "metal", "painted", "dusty")

# Materials and colours of doors and lockable chests; a key is named after what it opens.
LOCK_ADJECTIVES = ("wooden", "iron", "oak", "glass", "red", "blue", "green", "steel", "brass", "copper",
                   "silver", "white", "black", "rusty", "pine", "stone", "yellow", "purple", "maple", "bronze")

# Lockable containers added where a quest hides something behind a lock.
CHESTS = ("chest", "strongbox", "safe", "casket")

# Foods of the cooking games: (noun, adjectives to tell apart several of the same noun).
FOODS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("potato", ("red", "yellow", "purple")),
    ("carrot", ("orange", "purple")),
    ("onion", ("red", "white", "yellow")),
    ("bell pepper", ("red", "green", "yellow", "orange")),
    ("tomato", ("red", "green")),
    ("apple", ("red", "green")),
    ("chicken breast", ("raw",)),
    ("chicken wing", ("raw",)),
    ("pork chop", ("thick", "thin")),
    ("salmon fillet", ("pink",)),
    ("cucumber", ("long", "small")),
    ("mushroom", ("white", "brown")),
    ("eggplant", ("purple", "white")),
    ("zucchini", ("green", "yellow")),
    ("banana", ("yellow", "green")),
    ("lettuce", ("iceberg", "romaine")),
)

# What each kind of cut and each cooking appliance does to a food.
CUTS = ("sliced", "diced", "chopped")
CUT_VERBS = {"sliced": "slice", "diced": "dice", "chopped": "chop"}
COOKS = {"stove": "fried", "oven": "roasted", "BBQ": "grilled"}
COOK_VERBS = {"fried": "fry", "roasted": "roast", "grilled": "grill"}

# Household things (ALFWorld's object types): noun -> (adjectives, what can be done to it).
HOUSEHOLD: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "mug": (("red", "blue", "white"), frozenset({"clean", "heat", "cool"})),
    "cup": (("glass", "paper", "tea"), frozenset({"clean", "heat", "cool"})),
    "plate": (("white", "blue", "large"), frozenset({"clean", "heat"})),
    "bowl": (("ceramic", "wooden", "steel"), frozenset({"clean", "heat", "cool"})),
    "apple": (("red", "green"), frozenset({"clean", "heat", "cool"})),
    "potato": (("red", "yellow"), frozenset({"clean", "heat", "cool"})),
    "tomato": (("red", "green"), frozenset({"clean", "heat", "cool"})),
    "egg": (("brown", "white"), frozenset({"heat", "cool"})),
    "lettuce": (("iceberg", "romaine"), frozenset({"clean", "cool"})),
    "pan": (("frying", "small"), frozenset({"clean", "heat"})),
    "spoon": (("silver", "wooden"), frozenset({"clean"})),
    "fork": (("silver", "plastic"), frozenset({"clean"})),
    "bottle": (("green", "glass"), frozenset({"clean", "cool"})),
    "sponge": (("yellow", "pink"), frozenset({"clean"})),
}
# Receptacles a household goal can name, beyond the appliances: (noun, kind).
HOUSEHOLD_RECEPTACLES = (("cabinet", "oc"), ("drawer", "oc"), ("countertop", "s"), ("shelf", "s"),
                         ("dining table", "s"), ("garbage can", "c"))

# Portable odds and ends that fill rooms (distractors in every kind).
CLUTTER: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("umbrella", ("black", "striped")),
    ("candle", ("white", "scented")),
    ("book", ("old", "thick")),
    ("newspaper", ("folded", "yesterday's")),
    ("lamp", ("brass", "small")),
    ("pillow", ("soft", "green")),
    ("hat", ("straw", "felt")),
    ("glove", ("leather", "wool")),
    ("vase", ("glass", "clay")),
    ("clock", ("small", "broken")),
    ("shoe", ("brown", "muddy")),
    ("pen", ("blue", "black")),
    ("rope", ("long", "frayed")),
    ("hammer", ("rusty", "heavy")),
    ("towel", ("striped", "white")),
    ("map", ("torn", "folded")),
    ("teapot", ("china", "chipped")),
    ("ball", ("rubber", "tennis")),
)

# Treasures: (noun, adjectives); a treasure hunt's distractors share the noun.
TREASURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("chalice", ("golden", "silver", "jeweled")),
    ("crown", ("golden", "silver", "tin")),
    ("amulet", ("jade", "ruby", "amber")),
    ("statuette", ("ivory", "bronze", "marble")),
    ("compass", ("brass", "silver", "gilded")),
    ("locket", ("silver", "golden", "pearl")),
    ("ring", ("diamond", "ruby", "emerald")),
    ("scroll", ("ancient", "sealed", "faded")),
    ("music box", ("lacquered", "painted", "silver")),
)

COIN_ADJECTIVES = ("gold", "silver", "copper", "bronze", "brass", "old", "shiny", "ancient", "tin", "nickel",
                   "square", "tiny")

DIRECTIONS = ("north", "south", "east", "west")
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
STEP = {"north": (0, 1), "south": (0, -1), "east": (1, 0), "west": (-1, 0)}
