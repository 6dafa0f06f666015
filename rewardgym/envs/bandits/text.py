"""Bandits in words: the instruction, the history so far, and actions parsed from free text."""

from __future__ import annotations

import re

import numpy as np

from rewardgym.envs.bandits.core import BanditCore
from rewardgym.envs.language import InvalidCommand, answer_in

# "3", "arm 3", "pull 3", "Pull arm #3.", "<answer>arm 3</answer>"
_ACTION = re.compile(r"^\s*(?:pull\s+)?(?:the\s+)?(?:arm\s*)?#?\s*(-?\d+)\s*[.!]?\s*$", re.IGNORECASE)


def parse_arm(text: str, n_arms: int) -> int:
    """The arm named by ``text``; raises :class:`InvalidCommand` with a message a player can act on."""
    if not isinstance(text, str):
        raise InvalidCommand(f"Expected text, got {type(text).__name__}.")
    answer = answer_in(text)
    match = _ACTION.match(text if answer is None else answer)
    if match is None:
        raise InvalidCommand(f"I don't understand {text.strip()[:60]!r}. Answer with an arm number "
                             f"from 0 to {n_arms - 1}, like 'arm 2'.")
    arm = int(match.group(1))
    if not 0 <= arm < n_arms:
        raise InvalidCommand(f"There is no arm {arm}: choose an arm from 0 to {n_arms - 1}.")
    return arm


class BanditText:
    """The :class:`~rewardgym.envs.language.TextAdapter` of a single bandit env."""

    def __init__(self, core: BanditCore, index: int = 0):
        self.core, self.index = core, index

    def instruction(self) -> str:
        return (f"{self.core.task} Answer with the number of the arm to pull, like 'arm 2'.")

    def describe(self, obs=None, info=None) -> str:
        s, i, c = self.core.state, self.index, self.core
        lines = [f"Pull {s.t[i] + 1} of {c.horizon}." if s.t[i] < c.horizon else "No pulls left."]
        if s.last_arm[i] >= 0:
            lines.insert(0, f"Arm {s.last_arm[i]} paid {s.last_reward[i]:g}.")
        if s.t[i]:
            lines.append("So far:")
            for arm in range(c.n_arms):
                n = int(s.counts[i, arm])
                avg = f", average reward {s.sums[i, arm] / n:.2f}" if n else ""
                lines.append(f"  arm {arm}: pulled {n} time{'s' if n != 1 else ''}{avg}")
        if c.context_dim:
            ctx = ", ".join(f"{x:+.2f}" for x in np.asarray(s.context[i]))
            lines.append(f"Context for this pull: [{ctx}]")
        return "\n".join(lines)

    def parse(self, text: str) -> int:
        return parse_arm(text, self.core.n_arms)
