"""Gymnasium faces of the dungeon core: ``DungeonEnv`` (one game) and ``DungeonVectorEnv`` (N at once).

Observation: a ``Dict`` of NLE's keys (``observation_keys``; default glyphs, chars, colors,
    specials, blstats, message, the inventory and the tty), plus MiniHack's egocentric
    ``glyphs_crop``/``chars_crop``/``colors_crop``/``specials_crop`` on request. See
    :mod:`rewardgym.envs.dungeon.display` for shapes and dtypes.
Action: ``Discrete(len(actions))`` over NetHack commands — the full set is the eight compass
    moves, ``<``, ``>``, wait, search, pick up, eat, quaff, read and look
    (``env.unwrapped.action_names``; ``actions="reduced"`` or ``"move"`` for smaller sets).
Reward: the task's (see :mod:`rewardgym.envs.dungeon.tasks`), plus NLE's time penalty.
Episode: ends (terminated) when the player dies or reaches a goal task's goal; truncated
    after ``max_steps`` steps (5000, NLE's default; ``20 x size`` for the rooms).
Info on every step: ``success`` (the task's milestone: the goal of a goal task; for Score
    and Scout reaching dungeon level 2, for Gold holding gold, for Eat having eaten) and
    ``task`` (the instruction in words). At an episode's end also ``death``,
    ``depth_reached``, ``gold``, ``score`` and ``time`` (game turns).
Render modes: ``ansi`` (the terminal in colour) and ``rgb_array`` (the same terminal drawn in
    pixels, 336 x 640 x 3; see :mod:`rewardgym.envs.dungeon.render`).
Seeds: the dungeon is drawn from the reset seed (one seed, one dungeon). Seeds >= 1_000_000
    are the held-out test range (``rewardgym eval`` evaluates on the run seed + 1_000_000).
"""

from __future__ import annotations

from rewardgym.envs.batched import CoreEnv, CoreVectorEnv
from rewardgym.envs.dungeon.core import DungeonCore


_RENDER = {"render_modes": ["ansi", "rgb_array"], "render_fps": 8}


class DungeonEnv(CoreEnv):
    __doc__ = __doc__
    metadata = {**CoreEnv.metadata, **_RENDER}

    def __init__(self, task: str = "score", render_mode: str | None = None, **kwargs):
        super().__init__(DungeonCore(1, task, **kwargs), render_mode=render_mode)

    @property
    def action_names(self) -> tuple[str, ...]:
        """The command of each action index."""
        return self.core.action_names

    @property
    def instruction(self) -> str:
        return self.core.instruction

    def message(self) -> str:
        """The last step's messages as text."""
        return self.core.message(0)

    @property
    def text_adapter(self):
        """The language interface (:class:`~rewardgym.envs.dungeon.text.DungeonText`): map, status and
        inventory as text, commands by name; ``rewardgym.wrappers.TextInterface(env)`` plays through it."""
        from rewardgym.envs.dungeon.text import DungeonText

        return DungeonText(self.core, 0)


class DungeonVectorEnv(CoreVectorEnv):
    __doc__ = __doc__
    metadata = {**CoreVectorEnv.metadata, **_RENDER}

    def __init__(self, num_envs: int = 1, task: str = "score", render_mode: str | None = None,
                 max_episode_steps: int | None = None, **kwargs):
        super().__init__(DungeonCore(num_envs, task, **kwargs), max_episode_steps=max_episode_steps,
                         render_mode=render_mode)

    @property
    def action_names(self) -> tuple[str, ...]:
        return self.core.action_names
