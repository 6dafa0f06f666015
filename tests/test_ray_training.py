"""Envs stepped by Ray actors: the same episodes as one process, PPO learns the same weights, a dead worker
is replaced and training goes on.

One Ray cluster for the module, started by it: a head node and a second node on this machine
(``rewardgym._ray.loopback_cluster``), each with one CPU, both on 127.0.0.1, so two workers run
on two nodes and no traffic leaves the loopback.
"""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from rewardgym.agents import make_agent
from rewardgym.cli import main
from rewardgym._ray import import_ray
from rewardgym.testing import loopback_cluster
from rewardgym.envs.ray_vector import RayVectorEnv, merge_infos

SYNC = {"vectorization_mode": "sync"}  # CartPole's own vector env draws every row from one generator
PPO = {"num_steps": 32, "num_minibatches": 2, "update_epochs": 2, "device": "cpu"}


@pytest.fixture(scope="module")
def ray_local():
    with loopback_cluster(num_nodes=2, num_cpus=1):
        ray = import_ray()
        nodes = [node for node in ray.nodes() if node["Alive"]]
        assert len(nodes) == 2 and {node["NodeManagerAddress"] for node in nodes} == {"127.0.0.1"}
        yield ray


def test_workers_play_the_episodes_of_one_process_seed_for_seed(ray_local):
    envs = RayVectorEnv("CartPole-v1", 5, 2, SYNC)
    reference = gym.make_vec("CartPole-v1", 5, **SYNC)
    assert envs.sizes == [3, 2] and envs.offsets == [0, 3]
    obs, _ = envs.reset(seed=3)
    np.testing.assert_array_equal(obs, reference.reset(seed=3)[0])
    places = ray_local.get([w.where.remote() for w in envs.workers])
    assert len({node for node, _ in places}) == 2  # two nodes (one CPU each) step the envs
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


@pytest.mark.parametrize("kind, message", [("env workers", "env worker 1 of 2 died"),
                                           ("rollout workers", "PPO rollout worker 1 of 2 died")])
def test_a_dead_worker_is_replaced_and_training_goes_on(ray_local, caplog, kind, message):
    """Env workers (central inference) and PPO's rollout workers (copies of the policy) alike."""
    from rewardgym.agents.ppo_ray import RolloutWorkers

    envs = (RayVectorEnv if kind == "env workers" else RolloutWorkers)("CartPole-v1", 4, 2, SYNC)
    agent = make_agent("ppo", envs, seed=0, **PPO)
    killed = []

    def kill_once(metrics):  # after the first update, one worker dies
        if not killed:
            killed.append(envs.workers[1])
            ray_local.kill(envs.workers[1])

    with caplog.at_level("WARNING"):
        agent.learn(envs, 4 * 32 * 4, callbacks=[kill_once], progress=False)
    assert killed and envs.restarts == 1 and envs.workers[1] is not killed[0]
    assert message in caplog.text
    assert agent.global_step == 4 * 32 * 4  # every rollout ran
    assert len({pid for _, pid in ray_local.get([w.where.remote() for w in envs.workers])}) == 2
    envs.close()


def test_a_rollout_worker_dead_between_runs_is_replaced_when_the_next_run_starts(ray_local, caplog):
    from rewardgym.agents.ppo_ray import RolloutWorkers

    workers = RolloutWorkers("CartPole-v1", 4, 2, SYNC)
    agent = make_agent("ppo", workers, seed=0, **PPO)
    agent.learn(workers, 4 * 32, progress=False)
    dead = workers.workers[0]
    ray_local.kill(dead)
    with caplog.at_level("WARNING"):
        agent.learn(workers, 4 * 32, progress=False)
    assert "PPO rollout worker 0 of 2 died" in caplog.text and workers.workers[0] is not dead
    assert workers.restarts == 1 and agent.global_step == 2 * 4 * 32
    workers.close()


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
    assert config["ray"] == {"address": "local", "num_workers": 2, "placement": "spread"}
    assert (run / "checkpoints" / "final").is_dir()
    capsys.readouterr()
    assert main([*args, "--num-workers", "2"]) == 2
    assert "--num-workers is for Ray workers: give it with --ray" in capsys.readouterr().err
    assert main([*args, "--ray-placement", "pack"]) == 2
    assert "--ray-placement is for Ray workers: give it with --ray" in capsys.readouterr().err
    assert main([*args, "--ray", "--num-workers", "3", "--num-envs", "3", "--ray-placement", "strict-spread"]) == 2
    assert "rewardgym: error: the cluster cannot place 3 PPO rollout workers" in capsys.readouterr().err
    assert main(["train", "bandit_market_v0", "--agent", "ppo", "--ray", "--out", str(tmp_path / "ma")]) == 2
    assert "Ray env workers step single-agent envs" in capsys.readouterr().err
    assert main(["train", "CartPole-v1", "--agent", "ppo", "--ray", "--env-kwargs", "bogus=1",
                 "--out", str(tmp_path / "bad")]) == 2
    assert "bad --env-kwargs for CartPole-v1" in capsys.readouterr().err


# -- PPO's rollouts on Ray workers with copies of the policy --------------------------------------
def _weights(agent) -> list[torch.Tensor]:
    return [p.detach().clone() for p in agent.policy.parameters()]


def test_one_rollout_worker_learns_the_weights_of_the_one_process_run(ray_local):
    """The worker acts with a copy of the policy and its own generator, the learner updates: with one worker
    the run is the one-process run, norm_obs statistics included."""
    from rewardgym.agents.ppo_ray import RolloutWorkers

    torch.set_num_threads(1)
    runs = []
    for envs in (RolloutWorkers("CartPole-v1", 4, 1, SYNC), gym.make_vec("CartPole-v1", 4, **SYNC)):
        agent = make_agent("ppo", envs, seed=0, norm_obs=True, **PPO)
        agent.learn(envs, 4 * 32 * 3, progress=False)
        runs.append((_weights(agent), agent.obs_rms.state(), agent.global_step))
        envs.close()
    (ours, our_stats, our_steps), (theirs, their_stats, their_steps) = runs
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs)) and our_steps == their_steps == 4 * 32 * 3
    np.testing.assert_allclose(our_stats["mean"], their_stats["mean"], rtol=1e-12)
    assert our_stats["count"] == pytest.approx(their_stats["count"])


def test_two_rollout_workers_split_the_rows_and_their_seeds(ray_local):
    from rewardgym.agents.ppo_ray import RolloutWorkers
    from rewardgym.agents.base import EpisodeTracker

    workers = RolloutWorkers("CartPole-v1", 5, 2, SYNC)
    agent = make_agent("ppo", workers, seed=0, **PPO)
    workers.start(agent, 11)
    assert workers.sizes == [3, 2] and len({node for node, _ in workers.where()}) == 2  # one worker per node
    tracker = EpisodeTracker(5)
    rollout = workers.collect(agent, tracker)
    first, _ = gym.make_vec("CartPole-v1", 5, **SYNC).reset(seed=11)
    np.testing.assert_array_equal(rollout.obs[0]["vector"], first)  # row j played the episode seeded 11 + j
    assert rollout.rewards.shape == (32, 5) and len(rollout.actions) == 32 and rollout.next_value.shape == (5,)
    assert tracker.summary()["episodes"] == rollout.terminated.sum() + rollout.truncated.sum()
    workers.close()


def test_ppo_with_two_rollout_workers_learns_cartpole_as_the_one_process_run_does(ray_local):
    from rewardgym.agents.ppo_ray import RolloutWorkers

    torch.set_num_threads(1)
    config = {"num_steps": 64, "num_minibatches": 4, "update_epochs": 4, "learning_rate": 1e-3, "device": "cpu"}
    returns = []
    for envs in (RolloutWorkers("CartPole-v1", 8, 2, SYNC), gym.make_vec("CartPole-v1", 8, **SYNC)):
        agent = make_agent("ppo", envs, seed=1, **config)
        agent.learn(envs, 40_000, progress=False)
        envs.close()
        held_out = gym.make_vec("CartPole-v1", 8, **SYNC)
        returns.append(agent.evaluate(held_out, 16, deterministic=True, seed=1000)["mean_return"])
    with_workers, alone = returns
    random_play = 22  # CartPole's mean return under random actions
    assert alone > 150 and with_workers > 150 and with_workers > 0.6 * alone > 4 * random_play, returns


def test_workers_the_cluster_cannot_place_are_one_error_not_a_wait_without_end(ray_local):
    from rewardgym.agents.ppo_ray import RolloutWorkers

    with pytest.raises(ValueError, match=r"the cluster cannot place 3 PPO rollout workers asking for 1 CPU each "
                                         r"\(spread\): it has 2 CPUs, 0 GPUs on 2 nodes in all"):
        RolloutWorkers("CartPole-v1", 3, 3, SYNC)  # three CPUs asked of a cluster of two: at once
    with pytest.raises(ValueError, match=r"cannot place 3 PPO rollout workers asking for 0.5 CPU each "
                                         r"\(strict-spread\): it has"):  # the CPUs are there, the third node is not
        RolloutWorkers("CartPole-v1", 3, 3, SYNC, placement="strict-spread", num_cpus_per_worker=0.5)
    busy = RolloutWorkers("CartPole-v1", 2, 1, SYNC)  # holds one CPU of the two
    with pytest.raises(ValueError, match=r"cannot place 2 PPO rollout workers asking for 1 CPU each \(pack\) "
                                         r"within 2 s; free now: 1 CPUs, 0 GPUs on 2 nodes"):
        RolloutWorkers("CartPole-v1", 2, 2, SYNC, placement="pack", start_timeout=2)
    busy.close()
    spread = RolloutWorkers("CartPole-v1", 2, 2, SYNC, placement="strict-spread")  # nothing was kept reserved
    agent = make_agent("ppo", spread, seed=0, **PPO)
    agent.learn(spread, 2 * 32, progress=False)
    assert agent.global_step == 2 * 32 and len({node for node, _ in spread.where()}) == 2  # a node each
    spread.close()


class _Recorder:
    """A reward model that scores 1 and remembers which rows it was shown, call by call."""

    needs_frames = False

    def __init__(self):
        self.calls: list[np.ndarray] = []

    def __call__(self, batch) -> np.ndarray:
        self.calls.append(np.asarray(batch.env_ids))
        return np.ones(len(batch), np.float32)


def test_the_learner_scores_the_workers_transitions_in_one_call_per_rollout(ray_local):
    """Learned rewards: one worker gives the one-process run's weights; with two, each rollout is one model call
    over every row, numbered across the workers as in one process."""
    from rewardgym.agents.ppo_ray import RolloutWorkers
    from rewardgym.workflows.training import with_learned_reward

    torch.set_num_threads(1)
    weights = []
    for envs in (RolloutWorkers("CartPole-v1", 4, 1, SYNC), gym.make_vec("CartPole-v1", 4, **SYNC)):
        agent = make_agent("ppo", envs, seed=0, **PPO)
        env = with_learned_reward(envs, agent.spec, "constant:value=0.5", coef=2.0)
        agent.learn(env, 4 * 32 * 2, progress=False)
        weights.append(_weights(agent))
        env.close()
    assert all(torch.equal(a, b) for a, b in zip(*weights))

    model = _Recorder()
    workers = with_learned_reward(RolloutWorkers("CartPole-v1", 5, 2, SYNC), agent.spec, model, mode="replace")
    agent = make_agent("ppo", workers, seed=0, **PPO)
    agent.learn(workers, 5 * 32 * 2, progress=False)
    assert len(model.calls) == 2 and all(set(ids) == set(range(5)) for ids in model.calls)
    assert all(len(ids) <= 5 * 32 for ids in model.calls)  # the reset steps are no transitions
    workers.close()


def test_ppo_on_rollout_workers_from_the_command_line_with_a_learned_reward_and_resume(ray_local, tmp_path, capsys):
    args = ["train", "CartPole-v1", "--agent", "ppo", "--num-envs", "4", "--no-progress", "--config", "num_steps=32",
            "--env-kwargs", "vectorization_mode=sync", "--ray", "--num-workers", "2"]
    assert main([*args, "--steps", "1024", "--checkpoint-every", "256", "--reward", "constant:value=0.1",
                 "--out", str(tmp_path / "run")]) == 0
    (run,) = (tmp_path / "run").iterdir()
    rows = (run / "metrics.csv").read_text().splitlines()
    assert "reward_learned_per_step" in rows[0]
    import shutil

    steps = sorted((run / "checkpoints").glob("step_*"), key=lambda p: int(p.name.split("_")[1]))
    for end in (run / "checkpoints" / "final", steps[-1]):  # as if the cluster had died mid-run
        shutil.rmtree(end)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    assert "with 2 Ray workers (local)" in capsys.readouterr().err
    assert (run / "checkpoints" / "final").is_dir()
    assert main([*args, "--steps", "256", "--reward", "clip", "--out", str(tmp_path / "bad")]) == 2
    assert "--reward: bad arguments for reward 'clip'" in capsys.readouterr().err
    # the learner's reward model in an actor of its own (one CPU of the cluster's two: one worker left)
    assert main([*args, "--steps", "256", "--reward", "constant:value=0.1", "--reward-on-ray", "--num-workers", "1",
                 "--out", str(tmp_path / "actor")]) == 0
    (run,) = (tmp_path / "actor").iterdir()
    last = (run / "metrics.csv").read_text().splitlines()
    header, row = last[0].split(","), last[-1].split(",")
    assert float(row[header.index("reward_learned_per_step")]) == pytest.approx(0.1)


# -- the LLM trainer's rollouts on Ray workers --------------------------------------------------
LLM = {"group_size": 2, "groups_per_batch": 2, "max_new_tokens": 4, "max_turns": 3, "device": "cpu",
       "learning_rate": 1e-2, "seed": 0}
BANDIT = "rewardgym/Bandit-Meta2-v0"


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from rewardgym.testing import save_tiny_causal_lm

    return save_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


def _llm(tiny_lm, **config):
    from rewardgym.agents.llm import LLMAgent, text_envs

    envs = text_envs([gym.make(BANDIT) for _ in range(2)])
    return LLMAgent(envs, model=tiny_lm, **{**LLM, **config}), envs


def _trainable_sum(agent) -> float:
    from rewardgym.agents.llm.ray_rollouts import trainable_state

    return float(sum(p.double().sum() for p in trainable_state(agent.model).values()))


def test_a_rollout_worker_plays_the_episodes_the_learner_would(ray_local, tiny_lm):
    """Same weights, same envs, same torch seed: a worker's episodes are the learner's, token for token."""
    agent, envs = _llm(tiny_lm)
    workers = agent.distribute_rollouts(BANDIT, num_workers=1, envs_per_worker=2)
    seeds, groups = [5, 5, 9, 9], [0, 0, 1, 1]
    remote, remote_stats = workers.rollout(seeds, groups, torch_seed=123)
    local, local_stats = agent.rollout(envs, seeds, groups=groups, torch_seed=123)
    assert [e.ids for e in remote] == [e.ids for e in local] and [e.rewards for e in remote] == [
        e.rewards for e in local]
    assert remote_stats.turns == local_stats.turns > 0
    agent.close_rollouts()


def test_self_play_rollouts_on_two_workers_are_the_learners_games_seat_by_seat(ray_local, tiny_lm):
    """The kitchen in self-play: each worker plays whole games in every seat; with one game per worker
    and worker i's torch seed, its episodes are the ones the learner plays alone, token for token."""
    from rewardgym.agents.llm import LLMAgent
    from rewardgym.workflows.training import make_envs

    envs = make_envs(LLMAgent.spec, "kitchen_talk_v0", 1)  # one game: two rows
    agent = LLMAgent(envs, model=tiny_lm, **{**LLM, "max_turns": 2, "weight_decay": 0.1})
    workers = agent.distribute_rollouts("kitchen_talk_v0", num_workers=2, envs_per_worker=1)
    assert len({node for node, _ in workers.where()}) == 2
    remote, stats = workers.rollout([5, 9], [0, 1], torch_seed=40)  # a game each
    assert [(e.group, e.seed, e.seat) for e in remote] == [(0, 5, 0), (1, 5, 1), (2, 9, 0), (3, 9, 1)]
    for worker, seed in enumerate((5, 9)):
        local, _ = agent.rollout(envs, [seed], groups=[worker], torch_seed=40 + worker)
        assert [e.ids for e in local] == [e.ids for e in remote[2 * worker:2 * worker + 2]]
    before = _trainable_sum(agent)
    agent.learn(envs, 1, progress=False)  # a batch of 2 groups x 2 games, each game in both seats
    assert agent.updates == 1 and _trainable_sum(agent) != before
    np.testing.assert_allclose(workers.fingerprints(), _trainable_sum(agent), rtol=1e-6)
    agent.close_rollouts()


@pytest.mark.parametrize("lora", [0, 4])
def test_the_llm_trainer_learns_with_two_rollout_workers_that_follow_its_weights(ray_local, tiny_lm, lora):
    # a random tiny model's replies are all unreadable, so every group's returns are equal and the
    # advantages 0: AdamW's weight decay is what moves the weights, enough to see the workers follow
    agent, envs = _llm(tiny_lm, lora_rank=lora, weight_decay=0.1)
    workers = agent.distribute_rollouts(BANDIT, num_workers=2)
    assert len({node for node, _ in workers.where()}) == 2  # two nodes play the episodes
    before = _trainable_sum(agent)
    for _ in range(2):  # a batch each
        agent.learn(envs, 1, progress=False)
    assert agent.updates == 2 and agent.global_step >= 4 and _trainable_sum(agent) != before
    np.testing.assert_allclose(workers.fingerprints(), _trainable_sum(agent), rtol=1e-6)  # the last update's weights
    agent.close_rollouts()
    assert agent._rollouts is None


def test_a_dead_rollout_worker_is_replaced_and_training_goes_on(ray_local, tiny_lm, caplog):
    agent, envs = _llm(tiny_lm, weight_decay=0.1)
    workers = agent.distribute_rollouts(BANDIT, num_workers=2)
    agent.learn(envs, 1, progress=False)
    dead = workers.workers[1]
    ray_local.kill(dead)
    with caplog.at_level("WARNING"):
        agent.learn(envs, 1, progress=False)  # the next batch: worker 1's share is played by its replacement
    assert "LLM rollout worker 1 died" in caplog.text and workers.workers[1] is not dead
    assert agent.updates == 2
    np.testing.assert_allclose(workers.fingerprints(), _trainable_sum(agent), rtol=1e-6)
    agent.close_rollouts()


def test_train_llm_with_ray_rollouts_from_the_command_line_and_resume_after_the_cluster_is_gone(
        ray_local, tiny_lm, tmp_path, capsys):
    args = ["train", BANDIT, "--agent", "llm-grpo", "--model", str(tiny_lm), "--no-progress", "--num-envs", "2",
            "--config", *[f"{k}={v}" for k, v in LLM.items()]]
    assert main([*args, "--steps", "24", "--checkpoint-every", "6", "--out", str(tmp_path / "run"),
                 "--ray", "--num-workers", "2"]) == 0
    assert "LLM rollouts on 2 Ray workers" in capsys.readouterr().err
    (run,) = (tmp_path / "run").iterdir()
    assert json.loads((run / "config.json").read_text())["ray"] == {"address": "local", "num_workers": 2,
                                                                     "placement": "spread"}
    # as if the cluster had died mid-run: the checkpoints of its end removed, it resumes from an earlier one
    import shutil

    steps = sorted((run / "checkpoints").glob("step_*"), key=lambda p: int(p.name.split("_")[1]))
    assert len(steps) >= 2
    for end in (run / "checkpoints" / "final", steps[-1]):
        shutil.rmtree(end)
    assert main(["train", "--resume", str(run), "--no-progress", "--ray", "--num-workers", "1"]) == 0
    err = capsys.readouterr().err
    assert "with 1 Ray workers (local)" in err and "LLM rollouts on 1 Ray workers" in err
    assert (run / "checkpoints" / "final").is_dir()
    assert main([*args, "--steps", "4", "--ray", "--reward", "nope", "--out", str(tmp_path / "bad")]) == 2
    assert "--reward: unknown reward 'nope'" in capsys.readouterr().err
    assert main([*args, "--steps", "4", "--ray", "--reward", "novelty:key=nope", "--out", str(tmp_path / "bad")]) == 2
    assert "a rollout worker could not start: key must be one of" in capsys.readouterr().err


def test_rollout_workers_build_and_score_the_learned_reward(ray_local, tiny_lm):
    """A learned reward on the workers reaches the episodes as in one process: one worker, the same rewards,
    turn for turn; +0.25 on every turn the env read (a reply it cannot read is no transition to score)."""
    from rewardgym.agents.llm import text_envs
    from rewardgym.wrappers import TextInterface
    from rewardgym.wrappers.vector import LearnedReward

    treasure = {"n_rooms": 2, "n_objects": 2, "quest_length": 1}
    agent, _ = _llm(tiny_lm)
    envs = text_envs(gym.make_vec("rewardgym/Text-Treasure-v0", num_envs=2, vectorization_mode="sync",
                                  wrappers=[TextInterface], **treasure))
    reward = {"model": "constant:value=0.25", "mode": "add", "coef": 1.0, "env_coef": 1.0}
    workers = agent.distribute_rollouts("rewardgym/Text-Treasure-v0", treasure, num_workers=1, envs_per_worker=2,
                                        reward=reward)
    seeds, groups = [5, 5], [0, 0]
    remote, _ = workers.rollout(seeds, groups, torch_seed=7)
    local, _ = agent.rollout(LearnedReward(envs, **reward, defer=True), seeds, groups=groups, torch_seed=7)
    plain, _ = agent.rollout(envs, seeds, groups=groups, torch_seed=7)
    assert [e.rewards for e in remote] == [e.rewards for e in local]
    read = [not bad for e in plain for bad in e.invalid]
    extra = [a - b for e, p in zip(remote, plain) for a, b in zip(e.rewards, p.rewards)]
    assert any(read) and extra == [0.25 if ok else 0.0 for ok in read]
    agent.close_rollouts()
