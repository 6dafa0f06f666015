"""The Gymnasium face of the text worlds: ``TextWorldEnv``, one procedurally generated text adventure.

Every reset generates a game from the reset seed (one seed, one game; see
:mod:`~rewardgym.envs.textworlds.generator` for the knobs and the seed splits).

Action: ``action_mode="text"`` (default) — ``Text``: a command in free text ("take the red key",
    "n"). Any ``str`` is accepted, whatever its characters or length: the game answers what it
    does not understand ("I don't understand that.") and changes nothing; a non-string raises
    ``ValueError``. ``action_mode="choice"`` — ``Discrete(max_choices)``: an index into
    ``info["choices"]``, the admissible commands in a fixed order (commands that change the
    world first, looking last), capped at ``max_choices``; ``info["action_mask"]`` (int8) marks the
    valid indices. An index past the list is game feedback and changes nothing; one outside the
    space raises ``ValueError``.
Observation: ``observation="text"`` (default) — ``Text``: what the game prints (the objective and
    the first room on reset, then the answer to each command). ``observation="vector"`` — a
    ``Dict`` of Boxes for networks (PPO, SB3's ``MultiInputPolicy``): ``view`` (512,), a hashed
    bag of words of the answer, the room and the inventory, and ``choices`` (max_choices, 64),
    a hashed bag of words of each listed command (zeros past the list).
Reward: ``reward="dense"`` — the points scored by the step (TextWorld's intermediate rewards:
    each subgoal pays 1 the first time, the score ends at ``max_score``); ``reward="sparse"`` —
    1 on the step that wins, else 0.
Episode: terminated when the game is won or lost; truncated after ``max_steps`` steps (every
    step counts, refused commands too).
Info on every step: ``feedback`` (the game's answer), ``admissible_commands`` (sorted: every
    command that would do something now), ``walkthrough`` (commands that win the game from its
    start), ``score``, ``max_score``, ``moves`` (commands the game accepted), ``won``, ``lost``,
    ``success`` (== won), ``task`` (the objective in words); in choice mode also ``choices``
    and ``action_mask``.
State: ``get_state()`` / ``set_state(state)`` snapshot and restore the game exactly (picklable);
    a refused command leaves the snapshot's ``world`` unchanged, only the step count moves.
"""

from __future__ import annotations

import string
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rewardgym.envs.textworlds import rules
from rewardgym.envs.textworlds.generator import KINDS, SPLITS, generate, knobs_for
from rewardgym._text import word_bag
from rewardgym.envs.textworlds.parser import MAX_CHARS
from rewardgym.envs.textworlds.text import TextWorldText
from rewardgym.envs.textworlds.world import World

CHARSET = string.printable
MAX_OBS_CHARS = 8192
VIEW_DIM, CHOICE_DIM = 512, 64


class TextWorldEnv(gym.Env):
    __doc__ = __doc__

    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, kind: str = "cooking", difficulty: int = 3, *, n_rooms: int | None = None,
                 n_objects: int | None = None, quest_length: int | None = None, distractors: bool | None = None,
                 closed: bool | None = None, locks: int | None = None, cut: bool | None = None,
                 cook: bool | None = None, goal: str | None = None, max_steps: int | None = None,
                 reward: str = "dense", action_mode: str = "text", observation: str = "text",
                 max_choices: int = 64, split: str = "train", render_mode: str | None = None):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.knobs = knobs_for(kind, difficulty, n_rooms=n_rooms, n_objects=n_objects, quest_length=quest_length,
                               distractors=distractors, closed=closed, locks=locks, cut=cut, cook=cook, goal=goal,
                               max_steps=max_steps)
        for name, value, allowed in (("reward", reward, ("dense", "sparse")),
                                     ("action_mode", action_mode, ("text", "choice")),
                                     ("observation", observation, ("text", "vector")),
                                     ("split", split, tuple(SPLITS))):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if max_choices < 1:
            raise ValueError(f"max_choices must be >= 1, got {max_choices}")
        if max_choices != 64 and action_mode == "text" and observation == "text":
            raise ValueError(f"max_choices={max_choices} does nothing with action_mode='text' and observation='text': "
                             f"it sizes the choice mode's actions and the vector observation's command rows")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.kind, self.difficulty, self.reward_mode = kind, difficulty, reward
        self.action_mode, self.observation_mode, self.split = action_mode, observation, split
        self.max_choices, self.max_steps, self.render_mode = max_choices, self.knobs.max_steps, render_mode

        if action_mode == "choice":
            self.action_space = spaces.Discrete(max_choices)
        else:
            self.action_space = spaces.Text(max_length=MAX_CHARS, min_length=1, charset=CHARSET)
        if observation == "vector":
            self.observation_space = spaces.Dict({
                "view": spaces.Box(0.0, 1.0, (VIEW_DIM,), np.float32),
                "choices": spaces.Box(0.0, 1.0, (max_choices, CHOICE_DIM), np.float32),
            })
        else:
            self.observation_space = spaces.Text(max_length=MAX_OBS_CHARS, min_length=1, charset=CHARSET)

        self.game = None
        self.world: World | None = None
        self.steps = 0
        self.feedback = ""
        self._needs_reset = True
        self._admissible: _Admissible | None = None

    # -- Gymnasium API --------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            if not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
            game_seed = int(seed)
        else:  # the next game of this env's split, drawn from the env's own generator
            game_seed = int(self.np_random.integers(*SPLITS[self.split]))
        self.game = generate(self.kind, game_seed, self.knobs)
        self.world = World(self.game)
        self.steps = 0
        self.feedback = f"{self.game.task}\n\n{self.world.describe_room()}"
        self._needs_reset = False
        self._admissible = None
        return self._observe(), self._info()

    def step(self, action):
        if self._needs_reset:
            raise gym.error.ResetNeeded("call reset() before step(), and again after an episode ends")
        world, state = self.world, self.world.state
        score, was_won = state.score, state.won
        if self.action_mode == "choice":
            if not self.action_space.contains(action):
                raise ValueError(f"action {action!r} is not in the action space {self.action_space}")
            actions = self._admissible_now().choice_actions
            k = int(action)
            if k < len(actions):  # admissible: it passed the rules' check on this very state
                self.feedback = rules.perform(world, actions[k])
            else:
                self.feedback = f"There is no command {k}: choose one of the {len(actions)} listed."
        else:
            if not isinstance(action, str):
                raise ValueError(f"action {action!r} is not in the action space {self.action_space}: "
                                 "expected a command as a str")
            self.feedback, _ = rules.execute(world, action)
        self.steps += 1
        if self.reward_mode == "dense":
            reward = float(state.score - score)
        else:
            reward = 1.0 if state.won and not was_won else 0.0
        terminated = state.won or state.lost
        truncated = not terminated and self.steps >= self.max_steps
        self._needs_reset = terminated or truncated
        return self._observe(), reward, terminated, truncated, self._info()

    def render(self):
        if self.render_mode == "ansi" and self.world is not None:
            s = self.world.state
            return (f"{self.world.describe_room()}\n{self.world.describe_inventory()}\n"
                    f"Score {s.score}/{self.game.max_score}, moves {s.moves}, step {self.steps}/{self.max_steps}")
        return None

    # -- admissible commands, cached until the world changes -------------------------------
    def _admissible_now(self) -> _Admissible:
        version = self.world.version
        if self._admissible is None or self._admissible.version != version:
            self._admissible = _Admissible(version, self.world, self.max_choices)
        return self._admissible

    def choices(self) -> list[str]:
        """The commands that choice indices 0, 1, ... stand for now."""
        return list(self._admissible_now().choice_texts)

    def admissible_commands(self) -> list[str]:
        """Every command that would do something now, sorted."""
        return list(self._admissible_now().sorted_texts)

    def action_masks(self) -> np.ndarray:
        """Valid choice indices as bools (sb3-contrib's MaskablePPO calls this)."""
        mask = np.zeros(self.max_choices, dtype=bool)
        mask[: len(self._admissible_now().choice_texts)] = True
        return mask

    # -- observation and info ---------------------------------------------------------------
    def _observe(self):
        if self.observation_mode == "text":
            text = self.feedback[:MAX_OBS_CHARS]
            return text if text else " "
        seen = f"{self.feedback} {self.world.describe_room()} {self.world.describe_inventory()}"
        choices = np.zeros((self.max_choices, CHOICE_DIM), np.float32)
        for row, text in enumerate(self._admissible_now().choice_texts):
            choices[row] = word_bag(text, CHOICE_DIM)
        return {"view": word_bag(seen, VIEW_DIM).copy(), "choices": choices}

    def _info(self) -> dict[str, Any]:
        s = self.world.state
        info = {
            "feedback": self.feedback, "admissible_commands": self.admissible_commands(),
            "walkthrough": list(self.game.walkthrough), "score": s.score, "max_score": self.game.max_score,
            "won": s.won, "lost": s.lost, "moves": s.moves, "success": s.won, "task": self.game.task,
        }
        if self.action_mode == "choice":
            info["choices"] = self.choices()
            info["action_mask"] = self.action_masks().astype(np.int8)
        return info

    # -- state ------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """A picklable snapshot: the game, the world state, the step count and the seed generator."""
        if self.world is None:
            raise gym.error.ResetNeeded("call reset() before get_state()")
        return {"game": self.game, "world": self.world.state.copy(), "steps": self.steps, "feedback": self.feedback,
                "needs_reset": self._needs_reset, "np_random": self.np_random.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a snapshot taken by :meth:`get_state` (of this env or one made alike)."""
        self.game = state["game"]
        self.world = World(self.game, state["world"].copy())
        self.steps, self.feedback = int(state["steps"]), state["feedback"]
        self._needs_reset = bool(state["needs_reset"])
        self.np_random.bit_generator.state = state["np_random"]
        self._admissible = None

    @property
    def text_adapter(self) -> TextWorldText:
        """The language interface (see :class:`rewardgym.wrappers.TextInterface`)."""
        return TextWorldText(self)


class _Admissible:
    """The admissible commands of one world version: sorted (for info) and in choice order (for actions)."""

    def __init__(self, version: int, world: World, max_choices: int):
        self.version = version
        actions = rules.admissible(world)
        texts = [rules.command_text(world, a) for a in actions]
        self.sorted_texts = sorted(texts)
        # Choice order: verbs that change the world first, so a cap on the list drops looks, not moves.
        order = sorted(range(len(actions)), key=lambda k: (rules.VERB_RANK[actions[k].verb], texts[k]))[:max_choices]
        self.choice_actions = [actions[k] for k in order]
        self.choice_texts = [texts[k] for k in order]


