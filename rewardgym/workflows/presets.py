"""Tuned training settings per env and agent (RL Zoo's hyperparameter files, as one readable table).

``rewardgym train ENV --agent AGENT`` starts from the first preset whose pattern matches the env
id and whose agent is the one asked for; ``--num-envs``, ``--env-kwargs`` and ``--config`` given
on the command line win over it, key by key; ``--no-preset`` trains on the agent's own defaults.
A preset's ``steps`` is the budget its figures come from (``--steps`` when not given), and
``eval_deterministic=False`` makes ``rewardgym eval`` sample actions by default where the mode
is a poor summary of the policy. The preset used is recorded in the run's ``config.json``. Each
row says where its settings come from, so a figure in the README can be traced to the command
that reproduces it.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

from rewardgym.envs.gui.screen import VERBS as GUI_VERBS


@dataclass(frozen=True)
class Preset:
    pattern: str  # an env id glob (fnmatch), e.g. "rewardgym/Manip-Reach*"
    agent: str
    config: dict[str, Any] = field(default_factory=dict)
    num_envs: int | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    why: str = ""
    steps: int | None = None  # the budget its figures come from: train's --steps when not given (RL Zoo's n_timesteps)
    eval_deterministic: bool = True  # eval's default policy: the mode, or (False) samples

    def describe(self) -> str:
        """What the preset sets, in one line."""
        parts = [str(self.config)] + ([f"{self.num_envs} envs"] if self.num_envs else []) \
            + ([f"env {self.env_kwargs}"] if self.env_kwargs else []) \
            + ([f"{self.steps:,} steps"] if self.steps else []) \
            + ([] if self.eval_deterministic else ["eval samples actions"])
        return ", ".join(parts)


_REACH = {"num_steps": 64, "num_minibatches": 8, "update_epochs": 10, "learning_rate": 3e-4, "ent_coef": 0.0,
          "norm_obs": True}

_GUI_TEXT = ["instruction", "element_text", "element_value"]
_GUI = {"norm_obs": True, "text_keys": _GUI_TEXT, "text_buckets": 128,
        "choice_keys": ["elements", "element_text", "element_value"], "choice_verbs": GUI_VERBS}

PRESETS: tuple[Preset, ...] = (
    Preset("rewardgym/Manip-Reach*", "ppo", _REACH, num_envs=8, steps=100_000,
           why="CleanRL's continuous-action settings with observation normalisation: ReachDense to 100% test "
               "success in 100k steps (benchmarks/manipulation_learning.py), sparse Reach with progress shaping "
               "75% (benchmarks/progress_shaping.py)"),
    Preset("rewardgym/Bandit-Meta*", "ppo", {"norm_obs": True}, steps=500_000,
           why="the counts and steps left are in the hundreds; unnormalised, they swamp the policy's inputs. "
               "PPO learns a bandit algorithm here (meta-RL): Meta5 at 500k steps 17.4 mean return, as UCB1 "
               "(17.3) and above Thompson sampling (16.5) and random (12.6); 14.3 at 100k"),
    Preset("rewardgym/Dungeon-Room*", "ppo", {"norm_obs": True}, steps=100_000,
           why="without it the deterministic policy of Room5x5 gets stuck against a wall (0% success)"),
    Preset("rewardgym/Text-*", "ppo", {"norm_obs": True}, steps=300_000, eval_deterministic=False,
           env_kwargs={"action_mode": "choice", "observation": "vector"},
           why="PPO reads the hashed bag of words and scores the commands on offer (choice scoring); free text "
               "is for the llm-* agents. Evaluated by sampling: the policy reads no history, so its mode "
               "repeats a command that changes nothing ('examine coin' after taking it) or walks back and "
               "forth for ever (Text-Coins at 300k steps: 41% sampled, 5% by the mode)"),
    Preset("rewardgym/GUI-*", "ppo", _GUI, steps=100_000,
           env_kwargs={"action_mode": "elements", "observation": "elements"},
           why="the element table in, an element and a verb out: an MLP trains on it at thousands of steps per "
               "second (the screenshot and coordinates want a CNN: 67 steps/s on a CPU); the instruction and the "
               "elements' text read as words, each element scored against queries from the instruction (choice "
               "scoring), so a label is matched to the instruction's words in whichever row it sits; element "
               "coordinates and sizes are in pixels, hence norm_obs"),
)


def preset_for(env_id: str, agent: str) -> Preset | None:
    """The first preset for ``agent`` whose pattern matches ``env_id``, or None."""
    return next((p for p in PRESETS if p.agent == agent and fnmatch.fnmatchcase(env_id, p.pattern)), None)
