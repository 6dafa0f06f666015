"""The language interface every family offers, so an LLM (or a person) can play it.

A family's ``text.py`` implements :class:`TextAdapter`; its ``Env`` exposes one as
``env.unwrapped.text_adapter``; :class:`rewardgym.wrappers.TextInterface` turns any such env
into a text-in / text-out game.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
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


_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?;:,])\s")
MAX_PREFIX_WORDS = 8


def answer_in(text: str) -> str | None:
    """The content of the last ``<answer>...</answer>`` in ``text``, or None when there is none."""
    answers = _ANSWER.findall(text)
    return answers[-1] if answers else None


def read_reply(reply: str, parse: Callable[[str], Any]) -> tuple[Any, str]:
    """The action a free-form reply names, read the way a person would; returns it and the text read.

    In order: the last ``<answer>...</answer>`` (then only it counts); the whole reply; its first
    line; the first line's first clause (up to ``. ! ? ; : ,``); the first line's leading words,
    longest first (at most eight; a lone character only when it is a digit, so "I think..." is
    never NetHack's ``I``). The first of these that ``parse`` accepts is the action, so "1\nThere
    are 2 plates..." pulls arm 1 and "Go north, then take the key" goes north. When none is
    accepted, :class:`InvalidCommand` carries ``parse``'s feedback on the whole reply (or the
    answer tag's content), and the env does not step.
    """
    if not isinstance(reply, str):
        raise InvalidCommand(f"Expected a text command, got {type(reply).__name__}.")
    answer = answer_in(reply)
    if answer is not None:
        command = answer.strip()
        return parse(command), command
    first_error = None
    for candidate in _leading_commands(reply):
        try:
            return parse(candidate), candidate
        except InvalidCommand as error:
            first_error = first_error or error
    if first_error is None:  # an empty reply: the parser's own feedback
        return parse(reply), reply
    raise first_error


def _leading_commands(reply: str) -> Iterator[str]:
    seen: set[str] = set()

    def fresh(text: str) -> bool:
        text = text.strip()
        if not text or text in seen:
            return False
        seen.add(text)
        return True

    whole = reply.strip()
    if fresh(whole):
        yield whole
    lines = [line for line in whole.splitlines() if line.strip()]
    if not lines:
        return
    first = lines[0].strip()
    if fresh(first):
        yield first
    clause = _SENTENCE_END.split(first, maxsplit=1)[0].rstrip(".!?;:, ")
    if fresh(clause):
        yield clause
    words = first.split()
    for count in range(min(len(words), MAX_PREFIX_WORDS), 0, -1):
        prefix = " ".join(words[:count]).rstrip(".!?;:,")
        if len(prefix) == 1 and not prefix.isdigit():
            continue
        if fresh(prefix):
            yield prefix
