"""The text worlds' expert: each game's planned walkthrough, played from the start of the game.

``expert_for(env).act(obs)`` gives the next walkthrough command: the command text in free-text
mode, its index among ``info["choices"]`` in choice mode. The walkthrough's commands are all
accepted, so the number of accepted moves says how far along it the game is; after the last
command (or once a game has left the walkthrough's path) the expert looks around.
"""

from __future__ import annotations

from typing import Any

from rewardgym.envs.textworlds.parser import words_of


class WalkthroughExpert:
    """Plays a :class:`~rewardgym.envs.textworlds.env.TextWorldEnv` by its walkthrough."""

    def __init__(self, env: Any):
        self.env = env.unwrapped

    def command(self) -> str:
        env = self.env
        moves = env.world.state.moves
        walkthrough = env.game.walkthrough
        return walkthrough[moves] if moves < len(walkthrough) else "look"

    def act(self, obs: Any = None) -> Any:
        command = self.command()
        if self.env.action_mode == "text":
            return command
        choices = [words_of(c) for c in self.env.choices()]
        words = words_of(command)
        return choices.index(words) if words in choices else 0


def expert_for(env: Any) -> WalkthroughExpert:
    """The walkthrough expert of a text-world env (any task kind)."""
    return WalkthroughExpert(env)
