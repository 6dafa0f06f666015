"""The language interface every family offers, so an LLM (or a person) can play it.

A family's ``text.py`` implements :class:`TextAdapter`; its ``Env`` exposes one as
``env.unwrapped.text_adapter``; :class:`rewardgym.wrappers.TextInterface` turns any such env
into a text-in / text-out game.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


class InvalidCommand(ValueError):
    """Raised by :meth:`TextAdapter.parse` for text that names no valid action; the message is game feedback."""


@runtime_checkable
class TextAdapter(Protocol):
    def instruction(self) -> str:
        """The task, and how to answer, in words."""

    def describe(self, obs: Any, info: dict) -> str:
        """What the player sees now, as text."""

    def parse(self, text: str) -> Any:
        """The action that ``text`` names; raises :class:`InvalidCommand` with feedback otherwise."""
