"""The dungeon tasks that :mod:`rewardgym.registration` registers: name -> (description, kwargs).

After NLE's tasks (Score, Gold, Eat, Scout: dense rewards, NLE's -0.01 penalty for steps in
which the game clock does not move), Motif's goal tasks (Staircase to level 2, 3 or 4;
Oracle and OracleSober: a reward of 50 on success, which ends the episode, no step penalty)
and MiniHack's Room tasks (reach the staircase down of one room: reward 1, NLE's penalty,
``20 x size`` steps, the eight compass moves).

Scout counts, like NLE's, the squares of each level the player has seen; levels are not
stored, so a level is scored by the most squares seen on it in one visit — going back and
forth between levels never pays twice for the same view. Each kwarg is a
:class:`~rewardgym.envs.dungeon.core.DungeonCore` argument and can be overridden in
``gym.make(id, **kwargs)``.

This module imports nothing heavy: ``import rewardgym`` reads it.
"""

from __future__ import annotations

_GOAL = {"penalty_step": 0.0, "success_reward": 50.0}


def _room(size: int, **extra) -> dict:
    return {"task": "room", "layout": "room", "room_size": size, "max_steps": 20 * size, "actions": "move",
            "success_reward": 1.0, **extra}


TASKS: dict[str, tuple[str, dict]] = {
    "Score": ("roguelike dungeon: reward = change in NetHack's in-game score (gold, 4 x experience, 50 per new level)",
              {"task": "score"}),
    "Gold": ("roguelike dungeon: reward = gold picked up", {"task": "gold"}),
    "Eat": ("roguelike dungeon: reward = nutrition gained by eating", {"task": "eat"}),
    "Scout": ("roguelike dungeon: reward = squares of the dungeon seen for the first time", {"task": "scout"}),
    "Staircase": ("roguelike dungeon: reach dungeon level 2 (reward 50)",
                  {"task": "staircase", "target_depth": 2, **_GOAL}),
    "StaircaseLvl3": ("roguelike dungeon: reach dungeon level 3 (reward 50)",
                      {"task": "staircase", "target_depth": 3, **_GOAL}),
    "StaircaseLvl4": ("roguelike dungeon: reach dungeon level 4 (reward 50)",
                      {"task": "staircase", "target_depth": 4, **_GOAL}),
    "Oracle": ("roguelike dungeon: stand next to the Oracle, levels 5-9 down (reward 50; a hallucinated Oracle counts)",
               {"task": "oracle", **_GOAL}),
    "OracleSober": ("roguelike dungeon: stand next to the Oracle while not hallucinating (reward 50)",
                    {"task": "oracle_sober", **_GOAL}),
    "Room5x5": ("one lit 5x5 room: walk from its top-left corner to the staircase down in the other (reward 1)",
                _room(5)),
    "Room15x15": ("one lit 15x15 room: walk from its top-left corner to the staircase down in the other (reward 1)",
                  _room(15)),
    "Room15x15Random": ("one lit 15x15 room, random start and staircase (reward 1 on reaching it)",
                        _room(15, room_random=True)),
    "Room15x15Dark": ("one dark 15x15 room, random start and staircase: only adjacent squares are seen (reward 1)",
                      _room(15, room_random=True, room_lit=False)),
    "Room15x15Door": ("one lit 15x15 room split by a wall with a closed door: start west of it, the staircase down "
                      "east of it, both at random (reward 1)", _room(15, room_random=True, room_door=True)),
    "Room15x15Monster": ("one lit 15x15 room with three monsters, random start and staircase (reward 1)",
                         _room(15, room_random=True, room_monsters=3)),
}
