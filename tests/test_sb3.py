"""The stable-baselines3 bridge: the VecEnv adapter's autoreset semantics, and SB3Agent as a rewardgym agent."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from stable_baselines3 import A2C, PPO, HerReplayBuffer
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

import rewardgym
from rewardgym.agents.sb3 import SB3Agent, SB3VecEnv, default_policy
from rewardgym.cli import main
from rewardgym.wrappers.vector import LearnedReward

BANDIT = "rewardgym/Bandit-Bernoulli5-v0"


def _cartpole(autoreset_mode=AutoresetMode.NEXT_STEP, num_envs=3, vector=gym.vector.SyncVectorEnv, **kwargs):
    # 20 steps: random play ends episodes both by falling (terminated) and by the limit (truncated).
    return vector([lambda: gym.make("CartPole-v1", max_episode_steps=20) for _ in range(num_envs)],
                  autoreset_mode=autoreset_mode, **kwargs)


def _assert_same_obs(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    else:
        np.testing.assert_array_equal(a, b)


# -- the adapter ------------------------------------------------------------------------------
def test_adapter_hides_the_next_step_reset_step_of_a_native_vector_env():
    """Drive a raw NEXT_STEP bandit alongside the adapter: same transitions, minus the reset steps."""
    raw = gym.make_vec(BANDIT, num_envs=3, horizon=4)
    adapter = SB3VecEnv(gym.make_vec(BANDIT, num_envs=3, horizon=4))
    raw_obs, _ = raw.reset(seed=7)
    adapter.seed(7)
    _assert_same_obs(adapter.reset(), raw_obs)
    rng = np.random.default_rng(0)
    lengths, steps = [], 0
    while steps < 13:  # three episodes and one step into the fourth
        actions = rng.integers(0, 5, size=3)
        raw_obs, raw_reward, terminated, truncated, _ = raw.step(actions)
        obs, reward, dones, infos = adapter.step(actions)
        steps += 1
        np.testing.assert_array_equal(reward, raw_reward)
        np.testing.assert_array_equal(dones, terminated | truncated)
        if not dones.any():
            _assert_same_obs(obs, raw_obs)
            assert all(not info["TimeLimit.truncated"] and "terminal_observation" not in info for info in infos)
            continue
        assert dones.all()  # a fixed horizon: the three bandits end together
        for i, info in enumerate(infos):
            _assert_same_obs(info["terminal_observation"], {k: v[i] for k, v in raw_obs.items()})
            assert info["TimeLimit.truncated"]  # Bernoulli bandits truncate at the horizon
            assert info["is_success"] == info["success"]
            lengths.append(info["episode"]["l"])
        # The raw env's next step is its reset step: action ignored, reward 0, the new episode's
        # first observation. The adapter has already returned that observation.
        reset_obs, reset_reward, *_ = raw.step(rng.integers(0, 5, size=3))
        np.testing.assert_array_equal(reset_reward, 0.0)
        _assert_same_obs(obs, reset_obs)
        assert not obs["last_arm"].any()  # nothing pulled yet: a first observation
    assert lengths == [4] * 9


def test_adapter_reports_terminated_episodes_without_the_time_limit_flag():
    adapter = SB3VecEnv(gym.make_vec("rewardgym/Bandit-Meta2-v0", num_envs=2, horizon=3))
    adapter.reset()
    flags = []
    for _ in range(6):
        _, _, dones, infos = adapter.step(np.array([0, 1]))
        flags += [info["TimeLimit.truncated"] for info, done in zip(infos, dones) if done]
    assert flags == [False] * 4  # the meta-bandit sees its pulls left: its horizon is a termination


def _reference(autoreset_mode=AutoresetMode.NEXT_STEP, vector=gym.vector.SyncVectorEnv, **kwargs):
    """SB3's own DummyVecEnv over Monitor-wrapped single envs, and the adapter over a vector env of the same."""
    reference = DummyVecEnv([lambda: Monitor(gym.make("CartPole-v1", max_episode_steps=20)) for _ in range(3)])
    return reference, SB3VecEnv(_cartpole(autoreset_mode, vector=vector, **kwargs))


def _compare_to_dummy_vec_env(reference, adapter, steps=120):
    reference.seed(3)
    adapter.seed(3)
    np.testing.assert_array_equal(adapter.reset(), reference.reset())
    rng = np.random.default_rng(1)
    ended = {"terminated": 0, "truncated": 0}
    for _ in range(steps):
        actions = rng.integers(0, 2, size=3)
        obs, reward, dones, infos = adapter.step(actions)
        ref_obs, ref_reward, ref_dones, ref_infos = reference.step(actions)
        np.testing.assert_array_equal(obs, ref_obs)
        np.testing.assert_array_equal(reward, ref_reward)
        np.testing.assert_array_equal(dones, ref_dones)
        assert (reward == 1.0).all()  # CartPole pays 1 on every real step: no reset step got through
        for info, ref_info, done in zip(infos, ref_infos, dones):
            assert info["TimeLimit.truncated"] == ref_info["TimeLimit.truncated"]
            if done:
                np.testing.assert_array_equal(info["terminal_observation"], ref_info["terminal_observation"])
                assert (info["episode"]["r"], info["episode"]["l"]) == (ref_info["episode"]["r"],
                                                                        ref_info["episode"]["l"])
                ended["truncated" if info["TimeLimit.truncated"] else "terminated"] += 1
    assert ended["terminated"] > 3 and ended["truncated"] > 3  # both kinds of ending were exercised


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED])
def test_adapter_over_sync_vector_env_matches_sb3_dummy_vec_env(mode):
    _compare_to_dummy_vec_env(*_reference(mode))


def test_adapter_over_async_vector_env_matches_sb3_dummy_vec_env():
    reference, adapter = _reference(vector=gym.vector.AsyncVectorEnv)
    try:
        _compare_to_dummy_vec_env(reference, adapter, steps=60)
        assert adapter.get_attr("render_mode") == [None] * 3
    finally:
        adapter.close()


def test_adapter_refuses_what_it_cannot_serve():
    with pytest.raises(ValueError, match="SAME_STEP"):
        SB3VecEnv(_cartpole(AutoresetMode.SAME_STEP))
    env = _cartpole(vector=gym.vector.AsyncVectorEnv, shared_memory=False)
    try:
        with pytest.raises(ValueError, match="shared_memory=True"):
            SB3VecEnv(env)
    finally:
        env.close()


def test_learned_reward_scores_every_step_the_adapter_returns():
    """Under NEXT_STEP the wrapper gives reset steps no learned reward; the adapter never returns one."""
    adapter = SB3VecEnv(LearnedReward(gym.make_vec(BANDIT, num_envs=2, horizon=3), "constant:value=0.5"))
    adapter.seed(0)
    adapter.reset()
    ends = 0
    for _ in range(10):
        _, reward, dones, infos = adapter.step(np.array([1, 2]))
        ends += int(dones.sum())
        assert [info["reward_learned"] for info in infos] == [0.5, 0.5]
        np.testing.assert_allclose(reward, [info["reward_env"] + 0.5 for info in infos])
        assert all(info["task"].startswith("There are 5 arms") for info in infos)
    assert ends == 6


def test_adapter_seeding_attributes_and_methods():
    a, b = SB3VecEnv(gym.make_vec(BANDIT, num_envs=2)), SB3VecEnv(gym.make_vec(BANDIT, num_envs=2))
    assert a.seed(11) == [11, 12]
    b.seed(11)
    a.reset(), b.reset()
    _assert_same_obs(a.step(np.array([0, 1]))[0], b.step(np.array([0, 1]))[0])
    assert a.get_attr("max_episode_steps") == [None, None]  # the native env's own attribute, for each env
    with pytest.raises(NotImplementedError, match="no sub-envs"):
        a.set_attr("max_episode_steps", 5)
    with pytest.raises(NotImplementedError, match="no sub-envs"):
        a.env_method("get_state", 0)

    sync = SB3VecEnv(_cartpole(num_envs=2))
    assert [spec.max_episode_steps for spec in sync.get_attr("spec")] == [20, 20]
    sync.set_attr("marker", 3, indices=[1])
    assert sync.env_method("get_wrapper_attr", "marker", indices=1) == [3]
    assert sync.env_is_wrapped(Monitor) == [True, True]  # the adapter fills Monitor's episode info itself
    assert sync.env_is_wrapped(gym.wrappers.TimeLimit) == [True, True]
    assert sync.env_is_wrapped(gym.wrappers.RecordVideo) == [False, False]


@pytest.mark.parametrize("vector", [gym.vector.SyncVectorEnv, gym.vector.AsyncVectorEnv])
def test_env_method_reaches_the_sub_envs_asked_for(vector):
    adapter = SB3VecEnv(_cartpole(num_envs=3, vector=vector))
    try:
        adapter.seed(11)
        adapter.reset()
        assert adapter.env_method("get_wrapper_attr", "np_random_seed") == [11, 12, 13]
        # a subset, as HerReplayBuffer asks env 0 for compute_reward; an AsyncVectorEnv calls all its workers
        assert adapter.env_method("get_wrapper_attr", "np_random_seed", indices=[2, 0]) == [13, 11]
        assert adapter.env_method("get_wrapper_attr", "np_random_seed", indices=1) == [12]
    finally:
        adapter.close()


def test_sb3_ppo_trains_on_a_dict_observation_vector_env():
    env = SB3VecEnv(gym.make_vec(BANDIT, num_envs=3, horizon=4))
    model = PPO("MultiInputPolicy", env, n_steps=16, batch_size=48, n_epochs=2, seed=0).learn(96)
    assert model.num_timesteps == 96
    # SB3's own episode buffer read the adapter's Monitor-style info: every episode has 4 pulls.
    assert len(model.ep_info_buffer) == 24 and {e["l"] for e in model.ep_info_buffer} == {4}


# -- the agent --------------------------------------------------------------------------------
def _bandit2(num_envs=8):
    # One fixed instance (arm means 0.21 and 0.82), so a policy can learn which arm is best.
    return gym.make_vec("rewardgym/Bandit-Bernoulli2-v0", num_envs=num_envs, horizon=20, instance_seed=3)


def test_ppo_agent_learns_the_best_arm():
    env = _bandit2()
    agent = SB3Agent(env, algo="PPO", seed=0, n_steps=32, batch_size=64, n_epochs=4, learning_rate=3e-3)
    before = agent.evaluate(env, 16, seed=100, deterministic=False)
    rows = []
    agent.learn(env, 3072, callbacks=[rows.append], progress=False)
    after = agent.evaluate(env, 16, seed=100, deterministic=False)
    assert before["best_arm_fraction"] < 0.65  # about uniform at first
    assert after["best_arm_fraction"] > 0.8 and after["mean_return"] > before["mean_return"] + 3
    assert agent.evaluate(env, 8, seed=5)["best_arm_fraction"] == 1.0  # greedy: always the best arm
    assert 20 <= len(rows) <= 101 and rows[-1]["step"] == 3072 == agent.global_step
    assert {"step", "episodes", "mean_return", "success_rate", "reward_per_step", "steps_per_s",
            "value_loss"} <= set(rows[-1])
    assert rows[-1]["success_rate"] > rows[0].get("success_rate", 0.0)


def test_callback_returning_false_stops_training():
    agent = SB3Agent(_bandit2(4), algo="A2C", n_steps=4)
    calls = []
    agent.learn(None, 10_000, callbacks=[lambda metrics: calls.append(metrics) or False], progress=False)
    assert len(calls) == 1 and agent.global_step == calls[0]["step"] == 100  # the first log point


def test_save_load_gives_the_same_actions_and_keeps_learning(tmp_path):
    env = _bandit2(4)
    agent = SB3Agent(env, algo="A2C", seed=1, n_steps=4, learning_rate=1e-2)
    agent.learn(env, 256, progress=False)
    agent.save(tmp_path)
    config = json.loads((tmp_path / "agent.json").read_text())
    assert config["agent"] == "sb3" and config["config"]["algo"] == "A2C"
    assert config["config"]["policy"] == "MultiInputPolicy" and config["config"]["kwargs"]["n_steps"] == 4

    loaded = rewardgym.agents.load_agent(tmp_path)
    assert isinstance(loaded, SB3Agent) and isinstance(loaded.model, A2C) and loaded.global_step == 256
    obs, _ = env.reset(seed=3)
    for _ in range(5):
        actions = agent.act(obs, deterministic=True)
        np.testing.assert_array_equal(loaded.act(obs, deterministic=True), actions)
        obs, *_ = env.step(actions)
    with pytest.raises(ValueError, match="without an env"):
        loaded.learn(None, 16, progress=False)
    loaded.learn(_bandit2(2), 64, progress=False)  # another number of envs: the rollout buffer is rebuilt
    assert loaded.global_step == 320 and loaded.model.n_envs == 2


def test_an_interrupted_run_resumes_to_its_planned_end(tmp_path):
    env = _bandit2(4)
    agent = SB3Agent(env, algo="A2C", n_steps=4)

    def interrupt(metrics):
        if metrics["step"] >= 200:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        agent.learn(env, 1000, callbacks=[interrupt], progress=False)
    assert 200 <= agent.global_step < 220 and agent.unfinished_steps == 1000 - agent.global_step
    agent.save(tmp_path)
    saved = json.loads((tmp_path / "agent.json").read_text())
    assert (saved["global_step"], saved["unfinished_steps"]) == (agent.global_step, agent.unfinished_steps)

    loaded = SB3Agent.load(tmp_path, env)
    assert loaded.unfinished_steps == agent.unfinished_steps
    loaded.learn(env, None, progress=False)
    assert 1000 <= loaded.global_step < 1016 and loaded.unfinished_steps == 0  # whole rollouts of 16 steps
    with pytest.raises(ValueError, match="nothing to resume"):
        loaded.learn(env, None, progress=False)


def test_corrupt_or_missing_checkpoint_files(tmp_path):
    SB3Agent(_bandit2(2), algo="A2C", n_steps=4).save(tmp_path)
    model = tmp_path / "model.zip"
    model.write_bytes(model.read_bytes()[:200])
    with pytest.raises(ValueError, match="model.zip"):
        SB3Agent.load(tmp_path)
    model.unlink()
    with pytest.raises(FileNotFoundError, match="model.zip"):
        SB3Agent.load(tmp_path)
    (tmp_path / "agent.json").write_text("{not json")
    with pytest.raises(ValueError, match="agent.json"):
        SB3Agent.load(tmp_path)
    (tmp_path / "agent.json").write_text(json.dumps({"agent": "ucb", "config": {}}))
    with pytest.raises(ValueError, match="'ucb' agent"):
        SB3Agent.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="agent.json"):
        SB3Agent.load(tmp_path / "nowhere")


def test_make_agent_and_bad_configs():
    agent = rewardgym.make_agent("sb3", gym.make("CartPole-v1"), algo="a2c", n_steps=4)
    assert isinstance(agent.model, A2C) and agent.model.n_envs == 1  # a single Env is wrapped
    assert agent.act(np.zeros((1, 4), np.float32), deterministic=True).shape == (1,)
    with pytest.raises(ValueError, match="PPO, A2C, DQN, SAC, TD3, DDPG"):
        rewardgym.make_agent("sb3", gym.make("CartPole-v1"), algo="PPO2")
    with pytest.raises(ValueError, match="DQN cannot train on this env.*Box"):
        SB3Agent(gym.make("Pendulum-v1"), algo="DQN")
    with pytest.raises(ValueError, match="bad config for agent 'sb3'"):
        rewardgym.make_agent("sb3", gym.make("CartPole-v1"), algo="A2C", n_stepz=4)


def test_default_policy_follows_the_observation_space():
    assert default_policy(spaces.Dict({"x": spaces.Box(0, 1, (2,))})) == "MultiInputPolicy"
    assert default_policy(spaces.Box(0, 255, (64, 64, 3), np.uint8)) == "CnnPolicy"
    assert default_policy(spaces.Box(-1, 1, (4,))) == "MlpPolicy"


def test_cli_trains_and_evaluates_an_sb3_agent(tmp_path, capsys):
    assert main(["train", "rewardgym/Bandit-Bernoulli2-v0", "--agent", "sb3", "--steps", "512", "--out", str(tmp_path),
                 "--no-progress", "--config", "algo=A2C", "n_steps=8", "--reward", "constant:value=0.5"]) == 0
    (run_dir,) = tmp_path.iterdir()
    assert (run_dir / "checkpoints/final/agent.json").is_file() and (run_dir / "checkpoints/final/model.zip").is_file()
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["step"]) == 512
    # The learned 0.5 is added on every step SB3 sees: no unscored reset steps.
    assert all(float(row["reward_per_step"]) >= 0.5 for row in rows)
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--episodes", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 4 and result["mean_length"] == 1000


# -- goal-conditioned envs: SAC + HerReplayBuffer ----------------------------------------------
REACH = "rewardgym/Manip-Reach-v0"
HER_SMALL = {"buffer_size": 2_000, "learning_starts": 100, "batch_size": 32, "device": "cpu"}


def _reach(num_envs=2, vectorization_mode="sync"):
    return gym.make_vec(REACH, num_envs=num_envs, vectorization_mode=vectorization_mode)


def test_her_replay_buffer_by_name_relabels_goals_with_the_envs_compute_reward(tmp_path):
    env = _reach()
    agent = SB3Agent(env, algo="SAC", seed=0, replay_buffer_class="HerReplayBuffer",
                     replay_buffer_kwargs='{"n_sampled_goal": 4, "goal_selection_strategy": "future"}', **HER_SMALL)
    buffer = agent.model.replay_buffer
    assert isinstance(buffer, HerReplayBuffer) and buffer.env is agent.env and buffer.n_sampled_goal == 4
    agent.learn(env, 200, progress=False)  # 2 envs x 100 steps: two 50-step episodes each, updates after step 100
    assert agent.model._n_updates > 0
    samples = buffer.sample(256)  # 4 of 5 are relabelled with goals the episode reached later
    desired, achieved = samples.observations["desired_goal"].numpy(), samples.next_observations["achieved_goal"]
    expected = env.envs[0].unwrapped.compute_reward(achieved.numpy(), desired, None)
    np.testing.assert_array_equal(samples.rewards.numpy().ravel(), expected.astype(np.float32))
    assert (expected == 0).sum() > 10  # relabelled goals are reached; a random policy alone rarely reaches its own

    agent.save(tmp_path)
    kwargs = json.loads((tmp_path / "agent.json").read_text())["config"]["kwargs"]
    assert kwargs["replay_buffer_class"] == "HerReplayBuffer" and kwargs["replay_buffer_kwargs"]["n_sampled_goal"] == 4
    other = _reach()
    loaded = SB3Agent.load(tmp_path, other)
    assert loaded.model.replay_buffer.env is loaded.env and loaded.env.env is other
    with pytest.raises(ValueError, match="must pass an environment.*HerReplayBuffer"):
        SB3Agent.load(tmp_path)  # HER computes rewards with the env: loading needs one
    agent.learn(other, 20, progress=False)  # another env of the same size: HER relabels with that one
    assert agent.model.replay_buffer.env is agent.env and agent.env.env is other


def test_her_over_an_async_vector_env():
    env = _reach(vectorization_mode="async")
    try:
        agent = SB3Agent(env, algo="SAC", seed=0, replay_buffer_class="HerReplayBuffer", **HER_SMALL)
        agent.learn(env, 120, progress=False)  # updates from step 100 call compute_reward in the workers
        assert agent.model._n_updates > 0
    finally:
        env.close()


def test_replay_buffer_and_kwargs_given_as_text_are_checked():
    env = _reach(num_envs=1)
    with pytest.raises(ValueError, match="unknown replay buffer class 'HerBuffer'; choices: HerReplayBuffer"):
        SB3Agent(env, algo="SAC", replay_buffer_class="HerBuffer", **HER_SMALL)
    with pytest.raises(ValueError, match="cannot import replay buffer class"):
        SB3Agent(env, algo="SAC", replay_buffer_class="nowhere:Buffer", **HER_SMALL)
    with pytest.raises(ValueError, match="replay_buffer_kwargs must be a JSON object"):
        SB3Agent(env, algo="SAC", replay_buffer_class="HerReplayBuffer", replay_buffer_kwargs="{n_sampled_goal: 4}",
                 **HER_SMALL)
    with pytest.raises(ValueError, match="policy_kwargs must be a JSON object"):
        SB3Agent(env, algo="SAC", policy_kwargs="[64, 64]", **HER_SMALL)
    agent = SB3Agent(env, algo="SAC", policy_kwargs='{"net_arch": [32, 32]}',
                     replay_buffer_class="stable_baselines3.common.buffers:DictReplayBuffer", **HER_SMALL)
    assert agent.model.actor.latent_pi[0].out_features == 32
    assert agent.config()["kwargs"]["replay_buffer_class"] == "DictReplayBuffer"


def test_cli_trains_sac_with_her_on_a_goal_env(tmp_path, capsys):
    assert main(["train", REACH, "--agent", "sb3", "--num-envs", "2", "--steps", "200", "--out", str(tmp_path),
                 "--no-progress", "--device", "cpu", "--config", "algo=SAC", "replay_buffer_class=HerReplayBuffer",
                 'replay_buffer_kwargs={"n_sampled_goal": 2}', "buffer_size=2000", "learning_starts=100",
                 "batch_size=32"]) == 0
    (run_dir,) = tmp_path.iterdir()
    agent = rewardgym.agents.load_agent(run_dir / "checkpoints/final", _reach())
    assert isinstance(agent.model.replay_buffer, HerReplayBuffer) and agent.model.replay_buffer.n_sampled_goal == 2
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--episodes", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 2 and result["mean_length"] == 50 and "success_rate" in result


DOCS = Path(__file__).resolve().parents[1] / "docs" / "sb3.md"


@pytest.mark.parametrize("index", range(4))
def test_docs_python_blocks_run(index, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    assert len(blocks) == 4
    exec(compile(blocks[index], f"docs/sb3.md[python block {index}]", "exec"), {"__name__": "__docs__"})
    if index == 0:  # the trained agent found the best arm
        assert re.search(r"best arm pulled (9\d|100)% of the time", capsys.readouterr().out)
    if index == 3:  # SAC + HER on Reach: four 50-step test episodes
        assert re.search(r"'episodes': 4, .*'mean_length': 50\.0, .*'success_rate'", capsys.readouterr().out)
