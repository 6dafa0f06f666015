"""The text-world tasks that :mod:`rewardgym.registration` registers: name -> (description, kwargs).

Every id takes the generator's knobs as ``gym.make`` kwargs (``difficulty`` 1..5, ``n_rooms``,
``n_objects``, ``quest_length``, ``distractors``, ``closed``, ``locks``, ...; see
:class:`~rewardgym.envs.textworlds.env.TextWorldEnv`). The env truncates itself at its own
``max_steps``, so the ids declare no ``max_episode_steps``.

This module imports nothing heavy: ``import rewardgym`` reads it.
"""

from __future__ import annotations

TASKS: dict[str, tuple[str, dict]] = {
    "Cooking": ("text adventure (TextWorld Cooking): read the recipe, gather, cut and cook the ingredients, "
                "prepare and eat the meal", {"kind": "cooking"}),
    "Household": ("text adventure (ALFWorld-like): put a clean, hot, cool or plain object in or on a receptacle",
                  {"kind": "household"}),
    "Treasure": ("text adventure (TextWorld Treasure Hunter): find the named object behind locked doors "
                 "and chests, and take it", {"kind": "treasure"}),
    "Coins": ("text adventure (TextWorld Coin Collector): collect every coin in the house", {"kind": "coins"}),
}
