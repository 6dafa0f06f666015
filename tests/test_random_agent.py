"""The random agent: uniform actions for every family, valid ones only where the env masks them."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import rewardgym  # noqa: F401
from rewardgym.agents import load_agent, make_agent
from rewardgym.cli import main


def test_masked_choices_are_always_valid():
    envs = gym.make_vec("rewardgym/Text-Coins-v0", num_envs=3, vectorization_mode="sync", difficulty=2,
                        action_mode="choice", observation="vector", max_choices=16)
    agent = make_agent("random", envs, seed=1)
    obs, info = envs.reset(seed=0)
    chosen = set()
    for _ in range(40):
        actions = agent.act(obs, info=info)
        mask = np.asarray(info["action_mask"], dtype=bool)
        assert mask[np.arange(3), actions].all()  # never a refused command
        chosen.update(actions.tolist())
        obs, _, _, _, info = envs.step(actions)
    assert len(chosen) > 3  # and not one fixed choice


@pytest.mark.parametrize("env_id", ["CartPole-v1", "rewardgym/Manip-Reach-v0", "rewardgym/GUI-ClickButton-v0"])
def test_actions_fit_the_space_for_every_kind(env_id):
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode="sync")
    agent = make_agent("random", envs)
    obs, info = envs.reset(seed=0)
    actions = agent.act(obs, info=info)
    assert len(actions) == 2 and envs.action_space.contains(np.asarray(actions, dtype=envs.action_space.dtype))
    envs.close()


def test_train_eval_save_load_and_the_text_refusal(tmp_path, capsys):
    assert main(["train", "rewardgym/Dungeon-Room5x5-v0", "--agent", "random", "--steps", "800", "--out",
                 str(tmp_path), "--no-progress"]) == 0
    (run,) = tmp_path.iterdir()
    capsys.readouterr()
    assert main(["eval", str(run), "--episodes", "8", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 8 and result["policy"] == "as it acts" and 0 <= result["success_rate"] <= 1
    agent = load_agent(run / "checkpoints" / "final", gym.make_vec("rewardgym/Dungeon-Room5x5-v0", num_envs=2))
    assert agent.global_step == 800 and agent.seed == 0
    assert main(["train", "rewardgym/Text-Coins-v0", "--agent", "random", "--out", str(tmp_path / "t")]) == 2
    assert "random text is not a command" in capsys.readouterr().err
