"""Text in, text out: play any rewardgym env through its language interface."""

from __future__ import annotations

import string
from typing import Any

import gymnasium as gym
from gymnasium import spaces

from rewardgym.envs.language import InvalidCommand, TextAdapter, read_reply

CHARSET = string.printable


class TextInterface(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Turns an env with a language interface (``env.unwrapped.text_adapter``) into a text game.

    Observation: ``Text`` — the instruction and first view on reset, then what the player sees
    after each action. Action: ``Text`` — a command the family's parser reads (bandits: "arm 3"),
    or a free-form reply that holds one: it is read as a person would read it
    (:func:`~rewardgym.envs.language.read_reply`: an ``<answer>`` tag, else the first command at
    the start of the reply), and ``info["command"]`` is the text that was read.
    Reward, termination and info are the wrapped env's. Text the parser does not understand is
    game feedback, never an exception: the env does not step, the reward is 0, and
    ``info["invalid_action"]`` is True with the message in ``info["feedback"]``. So is an
    action that is not text at all (``None``): the turn passes and nothing happens.
    """

    def __init__(self, env: gym.Env, max_length: int = 8192):
        gym.utils.RecordConstructorArgs.__init__(self, max_length=max_length)  # so env.spec can remake it
        super().__init__(env)
        adapter = getattr(env.unwrapped, "text_adapter", None)
        if not isinstance(adapter, TextAdapter):
            raise TypeError(f"{env.unwrapped} has no language interface (env.unwrapped.text_adapter)")
        self.adapter: TextAdapter = adapter
        self.observation_space = spaces.Text(max_length=max_length, charset=CHARSET)
        self.action_space = spaces.Text(max_length=max_length, charset=CHARSET)
        self._info: dict[str, Any] = {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._info = info
        text = f"{self.adapter.instruction()}\n\n{self.adapter.describe(obs, info)}"
        return text[: self.observation_space.max_length], {**info, "invalid_action": False}

    def step(self, action: str):
        try:  # None (an agent with nothing to say this turn) is an invalid command too
            parsed, command = read_reply(action, self.adapter.parse)
        except InvalidCommand as feedback:
            info = {**self._info, "invalid_action": True, "feedback": str(feedback), "command": ""}
            return str(feedback), 0.0, False, False, info
        obs, reward, terminated, truncated, info = self.env.step(parsed)
        self._info = info
        text = self.adapter.describe(obs, info)[: self.observation_space.max_length]
        return text, reward, terminated, truncated, {**info, "invalid_action": False, "command": command}
