"""Envs stepped by Ray actors: the same episodes as one process, PPO learns the same weights, a dead worker
is replaced and training goes on.

One local Ray instance for the module, bound to 127.0.0.1 (``ray_init`` with no address), so no
traffic leaves the machine.
"""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from rewardgym.agents import make_agent
from rewardgym.cli import main
from rewardgym.envs.ray_vector import RayVectorEnv, merge_infos, ray_init

SYNC = {"vectorization_mode": "sync"}  # CartPole's own vector env draws every row from one generator
PPO = {"num_steps": 32, "num_minibatches": 2, "update_epochs": 2, "device": "cpu"}


@pytest.fixture(scope="module")
def ray_local():
    ray = ray_init(num_cpus=2)
    yield ray
    ray.shutdown()


def test_workers_play_the_episodes_of_one_process_seed_for_seed(ray_local):
    envs = RayVectorEnv("CartPole-v1", 5, 2, SYNC)
    reference = gym.make_vec("CartPole-v1", 5, **SYNC)
    assert envs.sizes == [3, 2] and envs.offsets == [0, 3]
    obs, _ = envs.reset(seed=3)
    np.testing.assert_array_equal(obs, reference.reset(seed=3)[0])
    places = ray_local.get([w.where.remote() for w in envs.workers])
    assert len({pid for _, pid in places}) == 2  # two processes step the envs
    rng = np.random.default_rng(0)
    for _ in range(120):  # several episodes end and restart on the next step
        actions = rng.integers(0, 2, 5)
        for ours, theirs in zip(envs.step(actions)[:4], reference.step(actions)[:4]):
            np.testing.assert_array_equal(ours, theirs)
    envs.close()


def test_ppo_with_two_env_workers_learns_the_weights_of_the_one_process_run(ray_local):
    torch.set_num_threads(1)
    weights = []
    for envs in (RayVectorEnv("CartPole-v1", 4, 2, SYNC), gym.make_vec("CartPole-v1", 4, **SYNC)):
        agent = make_agent("ppo", envs, seed=0, **PPO)
        agent.learn(envs, 4 * 32 * 3, progress=False)
        weights.append([p.detach().clone() for p in agent.policy.parameters()])
        envs.close()
    assert all(torch.equal(a, b) for a, b in zip(*weights))


def test_a_dead_worker_is_replaced_and_training_goes_on(ray_local, caplog):
    envs = RayVectorEnv("CartPole-v1", 4, 2, SYNC)
    agent = make_agent("ppo", envs, seed=0, **PPO)
    killed = []

    def kill_once(metrics):  # after the first update, one worker dies
        if not killed:
            killed.append(envs.workers[1])
            ray_local.kill(envs.workers[1])

    with caplog.at_level("WARNING"):
        agent.learn(envs, 4 * 32 * 4, callbacks=[kill_once], progress=False)
    assert killed and envs.restarts == 1 and envs.workers[1] is not killed[0]
    assert "env worker 1 of 2 died" in caplog.text
    assert agent.global_step == 4 * 32 * 4  # every rollout ran
    envs.close()


def test_infos_of_workers_merge_with_their_masks():
    merged = merge_infos([{"success": np.array([True, False]), "_success": np.array([True, True])},
                          {"other": np.array([1.5])}], [2, 1])
    np.testing.assert_array_equal(merged["success"], [True, False, False])
    np.testing.assert_array_equal(merged["_success"], [True, True, False])
    np.testing.assert_array_equal(merged["other"], [0.0, 0.0, 1.5])
    np.testing.assert_array_equal(merged["_other"], [False, False, True])


def test_train_with_ray_workers_from_the_command_line(ray_local, tmp_path, capsys):
    args = ["train", "CartPole-v1", "--agent", "ppo", "--steps", "256", "--num-envs", "4", "--no-progress",
            "--out", str(tmp_path), "--config", "num_steps=32", "--env-kwargs", "vectorization_mode=sync"]
    assert main([*args, "--ray", "--num-workers", "2"]) == 0
    (run,) = tmp_path.iterdir()
    config = json.loads((run / "config.json").read_text())
    assert config["ray"] == {"address": "local", "num_workers": 2}
    assert (run / "checkpoints" / "final").is_dir()
    capsys.readouterr()
    assert main([*args, "--num-workers", "2"]) == 2
    assert "--num-workers is the number of Ray env workers: give it with --ray" in capsys.readouterr().err
    assert main(["train", "bandit_market_v0", "--agent", "ppo", "--ray", "--out", str(tmp_path / "ma")]) == 2
    assert "Ray env workers step single-agent envs" in capsys.readouterr().err
    assert main(["train", "CartPole-v1", "--agent", "ppo", "--ray", "--env-kwargs", "bogus=1",
                 "--out", str(tmp_path / "bad")]) == 2
    assert "bad --env-kwargs for CartPole-v1" in capsys.readouterr().err
