"""Text worlds in words: the game already speaks text, so the adapter mostly passes it through.

In free-text mode a command goes to the game as typed (the game itself answers what it does
not understand). In choice mode the adapter reads a command's number ("3") or its text ("take
the red key"), matched against the listed commands without articles, case or punctuation;
anything else is :class:`~rewardgym.envs.language.InvalidCommand` with the list to choose from.
"""

from __future__ import annotations

import string
from typing import Any

from rewardgym.envs.language import InvalidCommand
from rewardgym.envs.textworlds.parser import parse as parse_command
from rewardgym.envs.textworlds.parser import words_of

_CHARSET = frozenset(string.printable) - frozenset("\r\x0b\x0c")  # what the env's Text action space holds


HOW_TO_PLAY = ("Type commands such as 'look', 'go north' (or 'n'), 'take the red key', 'open the fridge', "
               "'put the mug in the cabinet', 'inventory'; 'help' lists them all.")


class TextWorldText:
    """The :class:`~rewardgym.envs.language.TextAdapter` of a :class:`TextWorldEnv`."""

    def __init__(self, env: Any):  # a TextWorldEnv
        self.env = env

    def instruction(self) -> str:
        task = self.env.game.task if self.env.game is not None else "Play the text adventure."
        if self.env.action_mode == "choice":
            return f"{task} Answer with the number or the text of one of the listed commands."
        return f"{task} {HOW_TO_PLAY}"

    def describe(self, obs: Any = None, info: dict | None = None) -> str:
        text = (info or {}).get("feedback", self.env.feedback)
        task = self.env.game.task if self.env.game is not None else ""
        if task and text.startswith(task + "\n\n"):  # the opening view repeats the objective the instruction gave
            text = text[len(task) + 2:]
        if self.env.action_mode == "choice":
            choices = (info or {}).get("choices") or self.env.choices()
            text += "\n\nCommands:\n" + "\n".join(f"  {k}: {c}" for k, c in enumerate(choices))
        return text

    def parse(self, text: str) -> Any:
        if not isinstance(text, str):
            raise InvalidCommand(f"Expected text, got {type(text).__name__}.")
        if self.env.action_mode == "text":  # the env reads the text itself; what it cannot read is not a turn
            command = parse_command(text)
            if isinstance(command, str):
                raise InvalidCommand(command)
            return "".join(ch for ch in text if ch in _CHARSET).strip()
        choices = self.env.choices()
        words = words_of(text)
        if len(words) == 1 and words[0].isdigit() and int(words[0]) < len(choices):
            return int(words[0])
        for k, choice in enumerate(choices):
            if words_of(choice) == words:
                return k
        raise InvalidCommand(f"That is not one of the {len(choices)} listed commands; answer with a number "
                             f"from 0 to {len(choices) - 1} or a command's text.")
