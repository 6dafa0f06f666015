"""PPO: GAE by hand, learning, spaces, masks, bounds, deferred rewards, checkpoints and exact resume."""

from __future__ import annotations

import csv
import json
import shutil

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st

import rewardgym
from rewardgym.agents import load_agent, make_agent
from rewardgym.agents.base import evaluate_agent
from rewardgym.agents.policies import VECTOR as VECTOR_KEY
from rewardgym.agents.policies import CategoricalActions
from rewardgym.agents.ppo import PPO, compute_gae
from rewardgym.cli import main
from rewardgym.rewards import Transitions
from rewardgym.rewards.transforms import RunningMeanStd
from rewardgym.wrappers.vector import LearnedReward

FAST = {"num_steps": 16, "num_minibatches": 2, "update_epochs": 2}


# -- GAE ------------------------------------------------------------------------------------
def test_gae_matches_a_hand_computed_rollout():
    # env 0: step 1 truncates (bootstraps from V of its final obs, the value at step 2), step 2
    #        is the reset step, step 3 terminates (no bootstrap), step 4 is the reset step.
    # env 1: no episode ends until step 4 truncates, bootstrapping from next_value.
    gamma, lam = 0.5, 0.5
    rewards = np.array([[1, 1], [2, 1], [0, 1], [3, 1], [0, 1]], dtype=np.float32)
    values = np.array([[1, 0], [2, 0], [4, 0], [1, 0], [5, 2]], dtype=np.float32)
    terminated = np.zeros((5, 2), dtype=bool)
    truncated = np.zeros((5, 2), dtype=bool)
    truncated[1, 0] = terminated[3, 0] = truncated[4, 1] = True
    valid = np.ones((5, 2), dtype=bool)
    valid[2, 0] = valid[4, 0] = False
    next_value = np.array([2.0, 6.0], dtype=np.float32)

    advantages, returns = compute_gae(rewards, values, terminated, truncated, valid, next_value, gamma, lam)

    # env 0 by hand: A4 = 0 (reset step); δ3 = 3 - 1 = 2 (terminated: no γV); A2 = 0 (reset step);
    # δ1 = 2 + 0.5·4 - 2 = 2 (truncated: γ·V(final obs) = 0.5·4), A1 = δ1 (nothing carried across);
    # δ0 = 1 + 0.5·2 - 1 = 1, A0 = 1 + 0.25·A1 = 1.5.
    # env 1: δ4 = 1 + 0.5·6 - 2 = 2; δ3 = 1 + 0.5·2 - 0 = 2; δ0..δ2 = 1;
    # A4 = 2, A3 = 2 + 0.25·2 = 2.5, A2 = 1 + 0.625 = 1.625, A1 = 1.40625, A0 = 1.3515625.
    np.testing.assert_allclose(advantages[:, 0], [1.5, 2.0, 0.0, 2.0, 0.0])
    np.testing.assert_allclose(advantages[:, 1], [1.3515625, 1.40625, 1.625, 2.5, 2.0])
    np.testing.assert_allclose(returns, advantages + values)


# -- learning -------------------------------------------------------------------------------
def test_ppo_learns_cartpole():
    envs = gym.make_vec("CartPole-v1", num_envs=4, vectorization_mode="sync")
    agent = make_agent("ppo", envs, seed=0, device="cpu")
    before = agent.evaluate(envs, 8, seed=100)["mean_return"]
    logged = []
    agent.learn(envs, 40_960, progress=False, callbacks=[logged.append])
    after = agent.evaluate(envs, 8, seed=100)["mean_return"]
    assert before < 40  # a near-uniform policy balances for about 20 steps
    assert after > 100, (before, after)  # 5x the near-uniform policy; 500 is the cap
    assert logged[-1]["step"] == 40_960
    for key in ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac", "explained_variance",
                "steps_per_s", "mean_return", "learning_rate", "old_approx_kl", "update_epochs_run"):
        assert np.isfinite(logged[-1][key]), key
    assert logged[-1]["learning_rate"] < logged[0]["learning_rate"]  # annealed


class ArmRewardModel:
    """A learned reward that pays 1 for pulling arm 0; it records the batches it scored."""

    needs_frames = False

    def __init__(self):
        self.batch_sizes: list[int] = []

    def __call__(self, batch: Transitions) -> np.ndarray:
        self.batch_sizes.append(len(batch))
        assert batch.action.shape == (len(batch),)
        assert batch.next_obs["last_arm"].shape == (len(batch), 2)
        # The pulled arm shows in the next observation: the transitions line up.
        np.testing.assert_array_equal(batch.next_obs["last_arm"].argmax(1), batch.action)
        assert len(batch.infos) == len(batch) and "regret" in batch.infos[-1]
        return (batch.action == 0).astype(np.float32)


def test_deferred_reward_scores_each_rollout_once_and_drives_learning():
    model = ArmRewardModel()
    envs = LearnedReward(gym.make_vec("rewardgym/Bandit-Bernoulli2-v0", num_envs=4, horizon=20), model,
                         mode="replace", defer=True)
    agent = make_agent("ppo", envs, seed=0, learning_rate=0.01, **FAST)
    logged = []
    agent.learn(envs, 30 * 64, progress=False, callbacks=[logged.append])
    assert len(model.batch_sizes) == 30
    # 4 envs x 16 steps, less the reset steps after each 20-pull episode
    assert all(48 <= size <= 64 for size in model.batch_sizes) and min(model.batch_sizes) < 64
    assert {"reward_env_per_step", "reward_learned_per_step"} <= set(logged[-1])
    assert logged[-1]["reward_learned_per_step"] > 0.8  # it learned to pull the arm the model pays for
    obs, _ = envs.reset(seed=1)
    assert (agent.act(obs, deterministic=True) == 0).all()


def test_cli_reward_spec_is_scored_by_ppo(tmp_path):
    args = ["train", "rewardgym/Bandit-Bernoulli2-v0", "--agent", "ppo", "--steps", "256", "--env-kwargs",
            "horizon=20", "--out", str(tmp_path), "--no-progress", "--config", "num_steps=16",
            "--reward", "constant:value=0.5", "--reward-mode", "replace"]
    assert main(args) == 0
    (run_dir,) = tmp_path.iterdir()
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    assert {float(r["reward_learned_per_step"]) for r in rows} == {0.5}
    assert json.loads((run_dir / "config.json").read_text())["reward"] == "constant:value=0.5"


# -- spaces ---------------------------------------------------------------------------------
class MaskedChoiceEnv(gym.Env):
    """Four actions, a random subset allowed each step (``action_mask`` in obs or in info); 1 for action 3."""

    def __init__(self, mask_in: str = "obs"):
        self.mask_in = mask_in
        box = spaces.Box(0.0, 1.0, (4,), np.float32)
        self.observation_space = spaces.Dict({"x": box, "action_mask": spaces.MultiBinary(4)}) if mask_in == "obs" \
            else box
        self.action_space = spaces.Discrete(4)
        self.steps = 0

    def _obs(self):
        self.mask = self.np_random.random(4) < 0.5
        self.mask[self.np_random.integers(4)] = True
        x = self.mask.astype(np.float32)
        if self.mask_in == "obs":
            return {"x": x, "action_mask": self.mask.astype(np.int8)}, {}
        return x, {"action_mask": self.mask.copy()}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        return self._obs()

    def step(self, action):
        if not self.mask[action]:
            raise AssertionError(f"masked action {action} taken (mask {self.mask})")
        self.steps += 1
        obs, info = self._obs()
        return obs, float(action == 3), False, self.steps >= 8, info


@pytest.mark.parametrize("mask_in", ["obs", "info"])
def test_masked_actions_are_never_taken(mask_in):
    envs = gym.vector.SyncVectorEnv([lambda: MaskedChoiceEnv(mask_in) for _ in range(4)])
    agent = make_agent("ppo", envs, seed=0, **FAST)
    agent.learn(envs, 640, progress=False)  # MaskedChoiceEnv raises on a masked action
    obs, info = envs.reset(seed=3)
    for _ in range(50):
        obs, _, _, _, info = envs.step(agent.act(obs, info=info))
    assert agent.evaluate(envs, 8)["episodes"] == 8  # evaluation passes the info masks on too
    single = MaskedChoiceEnv(mask_in)
    obs, info = single.reset(seed=4)
    for _ in range(20):
        obs, _, _, _, info = single.step(agent.act(obs, info=info))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_categorical_never_samples_a_masked_action(data):
    nvec = data.draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    space = spaces.Discrete(nvec[0]) if len(nvec) == 1 else spaces.MultiDiscrete(nvec)
    dist = CategoricalActions(space, torch.device("cpu"))
    batch = data.draw(st.integers(1, 8))
    logits = torch.tensor(data.draw(st.lists(st.floats(-30, 30), min_size=batch * sum(nvec),
                                             max_size=batch * sum(nvec)))).reshape(batch, -1)
    mask = torch.tensor(data.draw(st.lists(st.booleans(), min_size=batch * sum(nvec),
                                           max_size=batch * sum(nvec)))).reshape(batch, -1)
    offset = 0
    for n in nvec:  # at least one allowed action per dimension
        mask[:, offset] = True
        offset += n
    generator = torch.Generator().manual_seed(data.draw(st.integers(0, 2**31)))
    for _ in range(20):
        action, log_prob = dist.sample(logits, mask, generator, deterministic=False)
        assert torch.isfinite(log_prob).all()
        offsets = torch.tensor(np.concatenate([[0], np.cumsum(nvec)[:-1]]))
        assert mask.gather(1, action + offsets).all()
    deterministic, _ = dist.sample(logits, mask, generator, deterministic=True)
    assert mask.gather(1, deterministic + offsets).all()


class BoundedActionEnv(gym.Env):
    """A Box action with narrow, uneven bounds; stepping outside them is an error."""

    observation_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = spaces.Box(np.array([-0.2, 0.0], np.float32), np.array([0.3, 1.0], np.float32))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.uniform(-1, 1, 3).astype(np.float32), {}

    def step(self, action):
        if not self.action_space.contains(np.asarray(action, dtype=np.float32)):
            raise AssertionError(f"action {action} outside the bounds")
        self.t += 1
        return self.np_random.uniform(-1, 1, 3).astype(np.float32), -float(np.sum(action**2)), False, self.t >= 10, {}


def test_box_actions_stay_in_bounds():
    envs = gym.vector.SyncVectorEnv([BoundedActionEnv for _ in range(2)])
    agent = make_agent("ppo", envs, seed=0, **FAST)
    agent.learn(envs, 320, progress=False)
    obs, _ = envs.reset(seed=0)
    actions = agent.act(obs)
    assert actions.shape == (2, 2) and actions.dtype == np.float32
    assert agent.policy.log_std.requires_grad and agent.policy.log_std.shape == (2,)


class ImageDictEnv(gym.Env):
    """Dict observation with a uint8 image and a vector; MultiDiscrete actions."""

    observation_space = spaces.Dict({"image": spaces.Box(0, 255, (40, 40, 3), np.uint8),
                                     "state": spaces.Box(-1.0, 1.0, (5,), np.float32)})
    action_space = spaces.MultiDiscrete([3, 2], start=[1, 0])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.observation_space.sample(), {}

    def step(self, action):
        assert self.action_space.contains(np.asarray(action)), action
        self.t += 1
        return self.observation_space.sample(), float(action[0] == 2), False, self.t >= 5, {}


def test_image_dict_observations_and_multidiscrete_actions(tmp_path):
    envs = gym.vector.SyncVectorEnv([ImageDictEnv for _ in range(2)])
    agent = make_agent("ppo", envs, seed=0, **FAST)
    assert "image/image" in agent.policy.encoder.images  # the image goes through the CNN
    agent.learn(envs, 64, progress=False)
    obs, _ = envs.reset(seed=0)
    actions = agent.act(obs, deterministic=True)
    assert actions.shape == (2, 2) and set(actions[:, 0]) <= {1, 2, 3}
    agent.save(tmp_path / "agent")
    again = load_agent(tmp_path / "agent", envs)
    np.testing.assert_array_equal(again.act(obs, deterministic=True), actions)


def test_async_vector_env():
    envs = gym.vector.AsyncVectorEnv([lambda: gym.make("CartPole-v1") for _ in range(2)])
    try:
        agent = make_agent("ppo", envs, seed=0, **FAST)
        logged = []
        agent.learn(envs, 64, progress=False, callbacks=[logged.append])
        assert logged[-1]["step"] == 64
    finally:
        envs.close()


def test_single_env_and_single_observation():
    env = gym.make("CartPole-v1")
    agent = make_agent("ppo", env, seed=0, **FAST)
    agent.learn(env, 32, progress=False)
    obs, _ = env.reset(seed=0)
    assert env.action_space.contains(agent.act(obs))


# -- checkpoints ----------------------------------------------------------------------------
def _state(agent: PPO) -> dict[str, torch.Tensor]:
    out = {f"policy.{k}": v.clone() for k, v in agent.policy.state_dict().items()}
    for i, state in agent.optimizer.state_dict()["state"].items():
        out.update({f"adam.{i}.{k}": torch.as_tensor(v).clone() for k, v in state.items()})
    out["generator"] = agent.generator.get_state()
    for name in ("obs_rms", "return_rms"):
        stats = getattr(agent, name)
        if stats is not None:
            out.update({f"{name}.mean": torch.from_numpy(stats.mean), f"{name}.var": torch.from_numpy(stats.var),
                        f"{name}.count": torch.tensor(stats.count, dtype=torch.float64)})
    return out


@pytest.mark.parametrize("config", [{}, {"norm_obs": True, "norm_reward": True}])
def test_resume_reproduces_the_uninterrupted_run(tmp_path, config):
    def make():
        return gym.make_vec("rewardgym/Bandit-Meta2-v0", num_envs=3)  # 20-pull episodes: resets inside rollouts

    whole_env = make()
    whole = make_agent("ppo", whole_env, seed=7, **FAST, **config)
    whole.learn(whole_env, 6 * 48, progress=False,
                callbacks=[lambda m: whole.save(tmp_path / "mid") if m["step"] == 3 * 48 else None])
    assert (tmp_path / "mid" / "checkpoint.pt").is_file()

    torch.load(tmp_path / "mid" / "checkpoint.pt", weights_only=True)  # loads without pickle
    resumed_env = make()
    resumed = load_agent(tmp_path / "mid", resumed_env)
    if config:  # the running statistics continue from where the checkpoint left them
        assert 3 * 48 < resumed.obs_rms.count < 6 * 48 and resumed.return_rms.count > 1
    assert resumed.global_step == 3 * 48 and resumed.unfinished_steps == 3 * 48
    resumed.learn(resumed_env, progress=False)
    assert resumed.global_step == whole.global_step == 6 * 48
    expected, got = _state(whole), _state(resumed)
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    with pytest.raises(ValueError, match="nothing to resume"):
        resumed.learn(resumed_env)


def test_resume_without_env_state_continues_from_fresh_episodes(tmp_path):
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    agent = make_agent("ppo", envs, seed=0, **FAST)
    agent.learn(envs, 4 * 32, progress=False, callbacks=[lambda m: agent.save(tmp_path / "mid") if m["step"] == 64
                                                         else None])
    resumed = load_agent(tmp_path / "mid", envs)
    logged = []
    resumed.learn(envs, progress=False, callbacks=[logged.append])
    assert [m["step"] for m in logged] == [96, 128]


def test_corrupt_and_mismatched_checkpoints_give_clear_errors(tmp_path):
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    agent = make_agent("ppo", envs, seed=0, **FAST)
    agent.save(tmp_path / "good")
    shutil.copytree(tmp_path / "good", tmp_path / "bad")
    (tmp_path / "bad" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt"):
        load_agent(tmp_path / "bad", envs)
    data = (tmp_path / "good" / "checkpoint.pt").read_bytes()
    (tmp_path / "bad" / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt"):
        load_agent(tmp_path / "bad", envs)
    (tmp_path / "bad" / "checkpoint.pt").unlink()
    with pytest.raises(FileNotFoundError, match="checkpoint.pt"):
        load_agent(tmp_path / "bad", envs)
    bandit = gym.make_vec("rewardgym/Bandit-Bernoulli5-v0", num_envs=2)
    with pytest.raises(ValueError, match="space"):
        load_agent(tmp_path / "good", bandit)
    with pytest.raises(ValueError, match="space"):
        agent.learn(bandit, 64)


def test_bad_config_and_device_errors():
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    with pytest.raises(ValueError, match="bad config for agent 'ppo'"):
        make_agent("ppo", envs, num_step=3)
    with pytest.raises(ValueError, match="num_minibatches"):
        make_agent("ppo", envs, num_minibatches=0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            make_agent("ppo", envs, device="cuda")
    assert make_agent("ppo", envs).device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    text_env = gym.make("rewardgym/Bandit-Bernoulli5-v0")
    assert make_agent("ppo", text_env).policy.dist.num_outputs == 5


# -- the command ----------------------------------------------------------------------------
def test_cli_resume_matches_the_uninterrupted_run(tmp_path, capsys):
    args = ["train", "rewardgym/Bandit-Meta2-v0", "--agent", "ppo", "--steps", "256", "--num-envs", "4",
            "--no-progress", "--config", "num_steps=16", "--checkpoint-every", "64"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    (whole,) = (tmp_path / "a").iterdir()
    assert sorted(p.name for p in (whole / "checkpoints").iterdir()) == ["final", "step_128", "step_192", "step_256"]

    interrupted = tmp_path / "b" / whole.name
    shutil.copytree(whole, interrupted)
    for name in ("final", "step_256", "step_192"):  # as if training stopped just after step 128
        shutil.rmtree(interrupted / "checkpoints" / name)
    assert main(["train", "--resume", str(interrupted), "--no-progress"]) == 0

    a, b = load_agent(whole / "checkpoints/final"), load_agent(interrupted / "checkpoints/final")
    for (name, x), y in zip(a.policy.state_dict().items(), b.policy.state_dict().values()):
        assert torch.equal(x, y), name
    steps = [float(r["step"]) for r in csv.DictReader(open(interrupted / "metrics.csv"))]
    assert steps == [64.0, 128.0, 192.0, 256.0]  # no step logged twice
    capsys.readouterr()

    assert main(["train", "--resume", str(whole)]) == 2
    assert "nothing left to resume" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert main(["train", "CartPole-v1"]) == 2
    assert main(["eval", str(whole), "--episodes", "4"]) == 0


def test_every_gymnasium_id_path(tmp_path):
    assert main(["train", "CartPole-v1", "--agent", "ppo", "--steps", "1024", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    (run_dir,) = tmp_path.iterdir()
    assert (run_dir / "learning_curve.png").is_file() and list(run_dir.glob("events.out.tfevents.*"))
    row = list(csv.DictReader(open(run_dir / "metrics.csv")))[-1]
    for key in ("approx_kl", "clipfrac", "explained_variance", "entropy", "value_loss", "policy_loss",
                "steps_per_s"):
        assert row[key] != "", key


def test_ppo_is_registered():
    assert rewardgym.make_agent("ppo", gym.make("CartPole-v1")).name == "ppo"


@pytest.mark.parametrize("env_fn", [lambda: gym.make_vec("rewardgym/Bandit-Meta5-v0", num_envs=3),
                                    lambda: gym.vector.SyncVectorEnv([BoundedActionEnv for _ in range(3)]),
                                    lambda: gym.vector.SyncVectorEnv([PickTheRowEnv for _ in range(3)])])
def test_numpy_and_torch_rollout_networks_agree(env_fn):
    from rewardgym.agents.policies import NumpyActorCritic

    envs = env_fn()
    agent = make_agent("ppo", envs, seed=0, **FAST)
    agent.learn(envs, 96, progress=False)  # weights away from their init
    obs, _ = envs.reset(seed=5)
    parts = agent.preprocess(obs)
    fast = NumpyActorCritic(agent.policy)
    with torch.no_grad():
        action, log_prob, value = fast.act(parts, None, np.random.default_rng(0))
        tensors = agent._to_device(parts)
        expected_log_prob, _, expected_value = agent.policy.evaluate_actions(tensors, torch.as_tensor(action), None)
        np.testing.assert_allclose(value, expected_value.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(log_prob, expected_log_prob.numpy(), rtol=1e-5, atol=1e-5)
        greedy, _, _ = fast.act(parts, None, np.random.default_rng(0), deterministic=True)
        torch_greedy, _, _ = agent.policy.act(tensors, None, agent.generator, deterministic=True)
        np.testing.assert_allclose(greedy, torch_greedy.numpy(), rtol=1e-5, atol=1e-6)


# -- observation normalisation and reward scaling ---------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=5), st.integers(0, 2**31))
def test_running_mean_std_matches_the_statistics_of_all_batches(sizes, seed):
    rng = np.random.default_rng(seed)
    batches = [rng.normal(3.0, 2.0, size=(n, 2)) for n in sizes]
    stats = RunningMeanStd((2,), epsilon=0.0)
    for batch in batches:
        stats.update(batch)
    everything = np.concatenate(batches)
    np.testing.assert_allclose(stats.mean, everything.mean(0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(stats.var, everything.var(0), rtol=1e-9, atol=1e-12)
    assert stats.count == len(everything)


class OffsetSignEnv(gym.Env):
    """One-step episodes: the observation is 1000 + 100 x for x in [-1, 1]; action 1 pays 1 when x > 0, action 0
    when x <= 0. Raw, the input saturates a tanh network; normalised, it is a sign to read."""

    observation_space = spaces.Box(-np.inf, np.inf, (1,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = self.np_random.uniform(-1, 1)
        return np.array([1000 + 100 * self.x], np.float32), {}

    def step(self, action):
        reward = 5.0 * float(int(action) == int(self.x > 0))
        return np.array([1000 + 100 * self.x], np.float32), reward, True, False, {}


def test_norm_obs_normalises_what_the_policy_reads_and_acting_leaves_the_statistics_alone():
    envs = gym.vector.SyncVectorEnv([OffsetSignEnv for _ in range(4)])
    agent = make_agent("ppo", envs, seed=0, norm_obs=True, learning_rate=3e-3, **FAST)
    agent.learn(envs, 3 * 64, progress=False)
    stats = agent.obs_rms
    # every observation a rollout step saw, reset ones included, is in the statistics (1e-4 is the prior count)
    assert stats.count == pytest.approx(1e-4 + 4 * (1 + 3 * 16), rel=0, abs=1e-9)
    assert 900 < stats.mean[0] < 1100 and 40 ** 2 < stats.var[0] < 70 ** 2
    obs = np.array([[1000.0], [1050.0], [1e6]], np.float32)
    expected = np.clip((obs - stats.mean) / np.sqrt(stats.var + 1e-8), -10, 10)
    np.testing.assert_allclose(agent.observe(obs)["vector"], expected, rtol=1e-6)
    assert agent.observe(obs)["vector"][2, 0] == 10.0  # clipped to clip_obs
    count = stats.count
    agent.act(obs)
    agent.evaluate(envs, 8, seed=5)
    assert agent.obs_rms.count == count


def test_norm_obs_lets_ppo_read_badly_scaled_observations():
    envs = gym.vector.SyncVectorEnv([OffsetSignEnv for _ in range(4)])
    returns = {}
    for normalised in (False, True):
        agent = make_agent("ppo", envs, seed=0, norm_obs=normalised, norm_reward=normalised, learning_rate=3e-3,
                           **FAST)
        agent.learn(envs, 40 * 64, progress=False)
        returns[normalised] = agent.evaluate(envs, 64, seed=100, deterministic=True)["mean_return"]
    assert returns[True] >= 4.5  # right >= 90% of the time
    assert returns[False] < 4.0  # the same run on the raw observations is little better than a coin


def test_norm_reward_divides_by_the_running_std_of_the_discounted_return():
    from rewardgym.agents.ppo import Rollout, Run

    agent = make_agent("ppo", gym.make("CartPole-v1"), norm_reward=True, gamma=0.5, clip_reward=0.9, **FAST)
    # one env: an episode ends at step 1 (truncated), step 2 is its reset step, a new episode starts at step 3
    rollout = Rollout(num_steps=5, num_envs=1)
    rewards = np.array([[1.0], [1.0], [0.0], [2.0], [40.0]], np.float32)
    rollout.truncated[1, 0] = True
    rollout.valid[:, 0] = [True, True, False, True, True]
    run = Run(env=None, obs={}, mask=None, valid=np.ones(1, bool), tracker=None, iteration=0, num_iterations=1,
              start_step=0, discounted_return=np.array([0.25]))  # carried over from an earlier rollout
    scaled = agent.scale_rewards(rewards, rollout, run)

    reference, expected = RunningMeanStd(epsilon=1e-4), []
    for reward, discounted in ((1.0, 0.25 * 0.5 + 1.0), (1.0, 1.125 * 0.5 + 1.0), (0.0, None), (2.0, 2.0),
                               (40.0, 2.0 * 0.5 + 40.0)):
        if discounted is not None:  # the reset step adds nothing to the statistics
            reference.update(np.array([discounted]))
        expected.append(min(reward / np.sqrt(reference.var + 1e-8), 0.9))
    np.testing.assert_allclose(scaled[:, 0], expected, rtol=1e-6)
    assert scaled[4, 0] == np.float32(0.9)  # clipped to clip_reward
    assert run.discounted_return[0] == 41.0  # the episode goes on into the next rollout
    assert agent.return_rms.count == pytest.approx(reference.count)


def test_normalisation_settings_are_checked():
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    with pytest.raises(ValueError, match="clip_obs"):
        make_agent("ppo", envs, norm_obs=True, clip_obs=0)
    with pytest.raises(ValueError, match="clip_reward"):
        make_agent("ppo", envs, clip_reward=-1.0)
    images = gym.vector.SyncVectorEnv([lambda: gym.wrappers.FilterObservation(ImageDictEnv(), ["image"])])
    with pytest.raises(ValueError, match="norm_obs.*none"):
        make_agent("ppo", images, norm_obs=True)
    assert make_agent("ppo", envs).obs_rms is None and make_agent("ppo", envs).return_rms is None


def test_running_statistics_are_saved_and_checked_on_load(tmp_path):
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    agent = make_agent("ppo", envs, seed=0, norm_obs=True, norm_reward=True, **FAST)
    agent.learn(envs, 96, progress=False)
    agent.save(tmp_path / "a")
    loaded = load_agent(tmp_path / "a", envs)
    for name in ("obs_rms", "return_rms"):
        ours, theirs = getattr(agent, name), getattr(loaded, name)
        np.testing.assert_array_equal(ours.mean, theirs.mean)
        np.testing.assert_array_equal(ours.var, theirs.var)
        assert ours.count == theirs.count
    obs, _ = envs.reset(seed=2)
    np.testing.assert_array_equal(loaded.act(obs, deterministic=True), agent.act(obs, deterministic=True))
    # an agent.json that asks for statistics its checkpoint lacks is a clear error
    make_agent("ppo", envs, seed=0, **FAST).save(tmp_path / "plain")
    shutil.copy(tmp_path / "a" / "agent.json", tmp_path / "plain" / "agent.json")
    with pytest.raises(ValueError, match="does not match agent.json: obs_rms is missing"):
        load_agent(tmp_path / "plain", envs)


# -- the loss, by hand ------------------------------------------------------------------------
def test_policy_loss_is_the_pessimistic_clipped_surrogate():
    from rewardgym.agents.ppo import policy_loss

    # ratio 1.5 (beyond 1 + 0.2) and 0.5 (below 1 - 0.2), each with a positive and a negative advantage
    ratio = torch.tensor([1.5, 1.5, 0.5, 0.5], requires_grad=True)
    advantages = torch.tensor([2.0, -2.0, 2.0, -2.0])
    per_sample = [
        max(-2.0 * 1.5, -2.0 * 1.2),   # -2.4: the gain from raising a good action is capped (clipped)
        max(2.0 * 1.5, 2.0 * 1.2),     # 3.0: a bad action made likelier is paid for in full
        max(-2.0 * 0.5, -2.0 * 0.8),   # -1.0: a good action made rarer is paid for in full
        max(2.0 * 0.5, 2.0 * 0.8),     # 1.6: the gain from making a bad action rarer is capped
    ]
    loss = policy_loss(ratio, advantages, clip_coef=0.2)
    assert loss.item() == pytest.approx(np.mean(per_sample))
    loss.backward()
    # only unclipped terms pass a gradient: d/dρ of −Âρ / 4 samples
    np.testing.assert_allclose(ratio.grad.numpy(), [0.0, 0.5, -0.5, 0.0])
    inside = policy_loss(torch.tensor([1.1, 0.9]), torch.tensor([1.0, 1.0]), clip_coef=0.2)
    assert inside.item() == pytest.approx(-1.0)  # within the clip range the surrogate is −Âρ


def test_value_loss_clips_around_the_rollouts_values():
    from rewardgym.agents.ppo import value_loss

    new, old, returns = torch.tensor([3.0, 5.0]), torch.tensor([1.0, 3.9]), torch.tensor([4.0, 4.0])
    # sample 0: unclipped (3 − 4)² = 1; clipped 1 + 0.5 = 1.5, (1.5 − 4)² = 6.25 -> the max, 6.25
    # sample 1: unclipped (5 − 4)² = 1; clipped 3.9 + 0.5 = 4.4, (4.4 − 4)² = 0.16 -> the max, 1
    assert value_loss(new, old, returns, clip_coef=0.5).item() == pytest.approx(0.5 * (6.25 + 1.0) / 2)
    assert value_loss(new, old, returns, clip_coef=None).item() == pytest.approx(0.5 * (1.0 + 1.0) / 2)
    new = torch.tensor([3.0], requires_grad=True)
    value_loss(new, torch.tensor([1.0]), torch.tensor([4.0]), clip_coef=0.5).backward()
    assert new.grad.item() == 0.0  # the clipped term wins, and it does not depend on the new value
    # a value that fell below old − ε: new 1, old 3, return 0 -> unclipped 1, clipped 2.5² = 6.25
    down = value_loss(torch.tensor([1.0]), torch.tensor([3.0]), torch.tensor([0.0]), clip_coef=0.5)
    assert down.item() == pytest.approx(0.5 * 6.25)
    assert value_loss(torch.tensor([2.0, 0.0]), None, torch.tensor([0.0, 0.0]), None).item() == pytest.approx(1.0)


def test_total_loss_rewards_entropy():
    from rewardgym.agents.ppo import total_loss

    entropy = torch.tensor(3.0, requires_grad=True)
    loss = total_loss(torch.tensor(1.0), torch.tensor(2.0), entropy, ent_coef=0.1, vf_coef=0.5)
    assert loss.item() == pytest.approx(1.0 - 0.1 * 3.0 + 0.5 * 2.0)
    loss.backward()
    assert entropy.grad.item() == pytest.approx(-0.1)  # descending the loss raises the entropy


def test_advantages_are_normalised_per_minibatch():
    from rewardgym.agents.ppo import normalize_advantages

    out = normalize_advantages(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    std = np.std([1, 2, 3, 4], ddof=1)  # torch's unbiased std, as CleanRL
    np.testing.assert_allclose(out.numpy(), (np.array([1, 2, 3, 4]) - 2.5) / (std + 1e-8), rtol=1e-6)


def _first_minibatch(agent, envs, steps):
    """The flattened first rollout of a fresh run and the loss of all of it as one minibatch, before any update."""
    run = agent._start_run(envs, steps)
    rollout = agent._collect(run)
    batch = agent.flatten(rollout, rollout.rewards)
    return batch, agent.minibatch_loss(batch, torch.arange(len(batch)))


class MaskedImageEnv(MaskedChoiceEnv):
    """MaskedChoiceEnv seen through an image as well: the policy has a CNN, so even on CPU it acts in torch."""

    def __init__(self, mask_in: str = "obs"):
        super().__init__(mask_in)
        image = spaces.Box(0, 255, (36, 36, 1), np.uint8)
        parts = dict(self.observation_space.spaces) if mask_in == "obs" else {"x": self.observation_space}
        self.observation_space = spaces.Dict({**parts, "image": image})

    def _obs(self):
        obs, info = super()._obs()
        obs = dict(obs) if isinstance(obs, dict) else {"x": obs}
        obs["image"] = np.full((36, 36, 1), 40 * int(self.mask.sum()), np.uint8)
        return obs, info


@pytest.mark.parametrize("mask_in", ["obs", "info"])
@pytest.mark.parametrize("env_class", [MaskedChoiceEnv, MaskedImageEnv])  # the NumPy and the torch rollout
def test_the_first_minibatch_is_on_policy(mask_in, env_class):
    """Before any update the policy is the one that acted: ratio 1, approx KL 0, nothing clipped. A loss that
    scores actions differently from the rollout (a mask dropped, another network) shows up here."""
    envs = gym.vector.SyncVectorEnv([lambda: env_class(mask_in) for _ in range(4)])
    agent = make_agent("ppo", envs, seed=0, device="cpu", **FAST)
    assert agent.policy.encoder.shared == (env_class is MaskedImageEnv)
    batch, (loss, parts, kl) = _first_minibatch(agent, envs, 64)
    assert batch.masks is not None and not batch.masks.all()  # the masks were recorded and restrict choices
    old_kl, approx_kl, clipfrac = kl.tolist()
    assert abs(old_kl) < 1e-6 and abs(approx_kl) < 1e-6 and clipfrac == 0.0  # float32 rounding only
    assert torch.isfinite(loss)


def test_minibatch_loss_normalises_the_advantages_it_is_given():
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    agent = make_agent("ppo", envs, seed=0, device="cpu", **FAST)
    batch, (_, parts, _) = _first_minibatch(agent, envs, 32)
    assert batch.numbers[:, 2].mean().abs() > 0.1  # raw advantages are not centred
    # at ratio 1 the surrogate is −mean(Â): zero once the minibatch's advantages are normalised
    assert abs(parts[0].item()) < 1e-5
    agent.config.norm_adv = False
    _, parts, _ = agent.minibatch_loss(batch, torch.arange(len(batch)))
    assert parts[0].item() == pytest.approx(-batch.numbers[:, 2].mean().item(), rel=1e-4)


@pytest.mark.parametrize("target_kl, epochs", [(1e-12, 1), (1e9, 4), (None, 4)])
def test_target_kl_stops_the_epochs_once_the_policy_moved_too_far(target_kl, epochs):
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    agent = make_agent("ppo", envs, seed=0, num_steps=32, num_minibatches=2, update_epochs=4, target_kl=target_kl)
    logged = []
    agent.learn(envs, 64, progress=False, callbacks=[logged.append])
    assert logged[-1]["update_epochs_run"] == epochs


def test_gae_cuts_at_an_episode_end_inside_a_rollout_of_valid_steps():
    # one env, three steps, all valid (a step counter rather than NEXT_STEP autoreset): the episode
    # terminates at step 1, so step 0 bootstraps from V(obs_1) and step 1 carries nothing over.
    gamma, lam = 0.9, 0.5
    rewards = np.array([[1.0], [2.0], [3.0]], np.float32)
    values = np.array([[0.5], [1.0], [2.0]], np.float32)
    terminated = np.array([[False], [True], [False]])
    truncated = np.zeros((3, 1), bool)
    valid = np.ones((3, 1), bool)
    advantages, _ = compute_gae(rewards, values, terminated, truncated, valid, np.array([4.0], np.float32),
                                gamma, lam)
    a2 = 3.0 + 0.9 * 4.0 - 2.0                  # 4.6
    a1 = 2.0 - 1.0                              # terminated: no bootstrap, nothing from step 2
    a0 = (1.0 + 0.9 * 1.0 - 0.5) + 0.45 * a1    # 1.4 + 0.45
    np.testing.assert_allclose(advantages[:, 0], [a0, a1, a2], rtol=1e-6)
    # truncated instead: step 1 bootstraps from V(obs_2), still nothing carried across the end
    advantages, _ = compute_gae(rewards, values, np.zeros((3, 1), bool), terminated, valid,
                                np.array([4.0], np.float32), gamma, lam)
    b1 = 2.0 + 0.9 * 2.0 - 1.0
    np.testing.assert_allclose(advantages[:, 0], [(1.0 + 0.9 * 1.0 - 0.5) + 0.45 * b1, b1, a2], rtol=1e-6)


def test_kl_stats_by_hand():
    from rewardgym.agents.ppo import kl_stats

    ratio = torch.tensor([0.5, 1.0, 1.25, 1.5])  # 1.25 - 1 is exactly the clip coefficient below
    log_ratio = ratio.log()
    old_kl, approx_kl, clipfrac = kl_stats(log_ratio, ratio, clip_coef=0.25).tolist()
    assert old_kl == pytest.approx(-log_ratio.mean().item())
    assert approx_kl == pytest.approx(((ratio - 1) - log_ratio).mean().item()) and approx_kl > 0
    assert clipfrac == pytest.approx(0.5)  # 0.5 and 1.5 are outside [0.75, 1.25]; 1.25 itself is not


# -- what an update does with its minibatches -----------------------------------------------
class Recording:
    """Wraps an agent's flatten and minibatch_loss to keep what each update saw."""

    def __init__(self, agent):
        self.batches, self.calls = [], []
        flatten, loss = agent.flatten, agent.minibatch_loss

        def record_flatten(*args):
            self.batches.append(flatten(*args))
            return self.batches[-1]

        def record_loss(batch, minibatch, with_kl=True):
            out = loss(batch, minibatch, with_kl=True)
            self.calls.append((batch[minibatch].numbers.clone(), out[1].clone(), out[2].clone(), with_kl))
            return out[0], out[1], out[2] if with_kl else None

        agent.flatten, agent.minibatch_loss = record_flatten, record_loss


def test_each_epoch_uses_every_transition_once_and_the_logs_are_means_of_the_minibatches():
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    agent = make_agent("ppo", envs, seed=0, num_steps=21, num_minibatches=3, update_epochs=3)
    seen = Recording(agent)
    logged = []
    agent.learn(envs, 42, progress=False, callbacks=[logged.append])
    (batch,) = seen.batches
    sizes = [len(part) for part in torch.arange(len(batch)).tensor_split(3)]  # as even as can be
    assert len(batch) % 3 and [len(numbers) for numbers, *_ in seen.calls] == sizes * 3
    for epoch in range(3):
        rows = torch.cat([numbers for numbers, *_ in seen.calls[3 * epoch:3 * epoch + 3]])
        assert torch.equal(rows[rows[:, 2].argsort()], batch.numbers[batch.numbers[:, 2].argsort()])  # a permutation
    metrics = logged[-1]
    parts = torch.stack([p for _, p, _, _ in seen.calls])
    for i, key in enumerate(("policy_loss", "value_loss", "entropy")):
        assert metrics[key] == pytest.approx(parts[:, i].mean().item(), rel=1e-5)
    # KL and clip fraction: the last minibatch of each epoch, averaged over the epochs
    last = torch.stack([kl for _, _, kl, with_kl in seen.calls if with_kl])
    assert len(last) == 3 and [with_kl for *_, with_kl in seen.calls] == [False, False, True] * 3
    for i, key in enumerate(("old_approx_kl", "approx_kl", "clipfrac")):
        assert metrics[key] == pytest.approx(last[:, i].mean().item(), rel=1e-5, abs=1e-8)
    values, returns = batch.numbers[:, 1], batch.numbers[:, 3]
    assert metrics["explained_variance"] == pytest.approx(1 - ((returns - values).var() / returns.var()).item(),
                                                          rel=1e-5)


def test_the_learning_rate_falls_linearly_to_zero():
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    agent = make_agent("ppo", envs, seed=0, learning_rate=0.01, **FAST)
    assert agent.optimizer.param_groups[0]["lr"] == 0.01 and agent.optimizer.param_groups[0]["eps"] == 1e-5
    logged = []
    agent.learn(envs, 5 * 32, progress=False, callbacks=[logged.append])
    np.testing.assert_allclose([m["learning_rate"] for m in logged], [0.01 * (1 - k / 5) for k in range(5)])
    constant = make_agent("ppo", envs, seed=0, learning_rate=0.01, anneal_lr=False, **FAST)
    constant.learn(envs, 64, progress=False, callbacks=[logged.append])
    assert logged[-1]["learning_rate"] == 0.01


def test_clip_vloss_and_norm_adv_settings_reach_the_loss():
    from rewardgym.agents.ppo import value_loss

    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    agent = make_agent("ppo", envs, seed=0, device="cpu", **FAST)
    batch, _ = _first_minibatch(agent, envs, 32)
    batch.numbers[:, 1] += 3.0  # old values far from the current ones: clipping the value loss matters
    with torch.no_grad():
        _, _, new_value = agent.policy.evaluate_actions(batch.obs, batch.actions, batch.masks)
    for clip in (True, False):
        agent.config.clip_vloss = clip
        _, parts, _ = agent.minibatch_loss(batch, torch.arange(len(batch)))
        expected = value_loss(new_value, batch.numbers[:, 1], batch.numbers[:, 3], 0.2 if clip else None)
        assert parts[1].item() == pytest.approx(expected.item(), rel=1e-5)
    # two rows are normalised (to ±0.7071 at ratio 1: the surrogate is 0); one row is left alone
    _, two, _ = agent.minibatch_loss(batch, torch.arange(2))
    assert abs(two[0].item()) < 1e-5
    _, one, _ = agent.minibatch_loss(batch, torch.arange(1))
    assert one[0].item() == pytest.approx(-batch.numbers[0, 2].item(), rel=1e-5)


def test_partial_info_masks_allow_every_action_where_no_mask_was_given():
    envs = gym.vector.SyncVectorEnv([lambda: MaskedChoiceEnv("info") for _ in range(3)])
    agent = make_agent("ppo", envs, seed=0)
    mask = np.array([[True, False, False, False]] * 3)
    got = agent.action_mask(None, {"action_mask": mask, "_action_mask": np.array([True, False, True])})
    np.testing.assert_array_equal(got, [[True, False, False, False], [True] * 4, [True, False, False, False]])
    np.testing.assert_array_equal(agent.action_mask(None, {"action_mask": mask}), mask)
    with pytest.raises(ValueError, match="action_mask has 3 entries per row, the action space needs 4"):
        agent.action_mask(None, {"action_mask": mask[:, :3]})
    boxes = make_agent("ppo", gym.vector.SyncVectorEnv([BoundedActionEnv]), seed=0)
    with pytest.raises(ValueError, match="action masks need Discrete or MultiDiscrete actions"):
        boxes.action_mask(None, {"action_mask": mask[:1]})


class ResetSeeds(gym.vector.SyncVectorEnv):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seeds = []

    def reset(self, *, seed=None, options=None):
        self.seeds.append(seed)
        return super().reset(seed=seed, options=options)


def test_runs_reset_with_the_seed_plus_the_steps_so_far_and_callbacks_can_stop_them():
    envs = ResetSeeds([lambda: gym.make("CartPole-v1") for _ in range(2)])
    agent = make_agent("ppo", envs, seed=3, **FAST)
    agent.learn(envs, 64, progress=False)
    logged = []
    agent.learn(envs, 320, progress=False, callbacks=[logged.append, lambda m: m["step"] < 128])
    assert envs.seeds == [3, 3 + 64]
    assert [m["step"] for m in logged] == [96, 128]  # the callback said stop at step 128
    assert 0 < logged[-1]["steps_per_s"] < 1e7 and agent.global_step == 128


def test_long_runs_log_about_200_times_and_always_the_last_iteration():
    envs = gym.make_vec("CartPole-v1", num_envs=1, vectorization_mode="sync")
    agent = make_agent("ppo", envs, seed=0, num_steps=1, num_minibatches=1, update_epochs=1)  # 1 is allowed
    logged = []
    agent.learn(envs, 401, progress=False, callbacks=[logged.append])
    steps = [int(m["step"]) for m in logged]
    assert steps == [*range(2, 401, 2), 401]


def test_cpu_rollouts_sample_in_numpy_and_evaluation_and_act_are_seeded():
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    agent = make_agent("ppo", envs, seed=0, **FAST)
    before = agent.np_random.bit_generator.state["state"]["state"]
    agent.learn(envs, 32, progress=False)
    assert agent.np_random.bit_generator.state["state"]["state"] != before  # the NumPy policy drew the actions
    from rewardgym.agents.base import evaluate_agent

    twin = load_agent_copy(agent, envs)
    assert agent.evaluate(envs, 6, seed=7, deterministic=True) == evaluate_agent(twin, envs, 6, seed=7,
                                                                                deterministic=True)
    obs, _ = envs.reset(seed=1)
    torch.manual_seed(1)
    first = agent.act(obs)
    torch.manual_seed(2)  # the global torch RNG plays no part: the agent samples from its own generator
    assert np.array_equal(first, twin.act(obs))


def load_agent_copy(agent, envs):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        agent.save(folder)
        return load_agent(folder, envs)


def test_constructor_checks():
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    with pytest.raises(ValueError, match="give an env, or observation_space and action_space"):
        PPO(observation_space=envs.single_observation_space)
    with pytest.raises(ValueError, match="activation must be one of"):
        make_agent("ppo", envs, activation="sigmoid")
    agent = make_agent("ppo", envs, hidden_sizes=[32], num_steps=1, num_minibatches=1, update_epochs=1)
    assert agent.config.hidden_sizes == (32,) and agent.config.to_json()["hidden_sizes"] == [32]
    assert agent.policy.actor_body[0].out_features == 32
    resumed = PPO(observation_space=envs.single_observation_space, action_space=envs.single_action_space,
                  num_steps=16)
    with pytest.raises(ValueError, match="total_steps must be >= 1"):
        resumed.learn(envs, 0)
    agent.learn(envs, 1, progress=False)
    assert agent.global_step == 2  # one step of two envs


def test_the_same_seed_learns_the_same_weights():
    def run():
        envs = gym.make_vec("rewardgym/Bandit-Meta2-v0", num_envs=2)
        agent = make_agent("ppo", envs, seed=5, **FAST)
        agent.learn(envs, 96, progress=False)
        return agent.policy.state_dict()

    first, second = run(), run()
    assert all(torch.equal(first[key], second[key]) for key in first)


@pytest.mark.parametrize("minibatches, epochs", [(1, 1), (3, 3)])
def test_one_minibatch_logs_its_own_losses(minibatches, epochs):
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    agent = make_agent("ppo", envs, seed=0, num_steps=16, num_minibatches=minibatches, update_epochs=epochs)
    seen = Recording(agent)
    logged = []
    agent.learn(envs, 32, progress=False, callbacks=[logged.append])
    (batch,) = seen.batches
    assert batch.numbers.shape[0] == len(batch) and len(batch) <= 32
    parts = torch.stack([p for _, p, _, _ in seen.calls])
    assert logged[-1]["policy_loss"] == pytest.approx(parts[:, 0].mean().item(), rel=1e-5, abs=1e-8)
    assert logged[-1]["update_epochs_run"] == epochs


def test_the_first_step_of_a_run_is_a_transition():
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    agent = make_agent("ppo", envs, seed=0, **FAST)
    run = agent._start_run(envs, 32)
    rollout = agent._collect(run)
    assert rollout.valid[0].all() and rollout.valid.dtype == bool
    resets = (rollout.terminated | rollout.truncated)[:-1].sum()
    assert len(agent.flatten(rollout, rollout.rewards)) == 32 - resets  # every step but the reset steps


def test_resume_without_env_state_restarts_its_bookkeeping(tmp_path):
    """Envs without get_state continue from fresh episodes: masks from the info, normalisation updated, returns
    restarted (MaskedChoiceEnv raises on a masked action)."""
    envs = gym.vector.SyncVectorEnv([lambda: MaskedChoiceEnv("info") for _ in range(2)])
    agent = make_agent("ppo", envs, seed=0, norm_obs=True, norm_reward=True, **FAST)
    agent.learn(envs, 4 * 32, progress=False, callbacks=[lambda m: agent.save(tmp_path) if m["step"] == 64 else None])
    resumed = load_agent(tmp_path, envs)
    count = resumed.obs_rms.count
    logged = []
    resumed.learn(envs, progress=False, callbacks=[logged.append])
    assert [m["step"] for m in logged] == [96, 128]
    assert resumed.obs_rms.count == pytest.approx(count + 2 + 2 * 32)  # the fresh reset counts, then 32 steps
    three = gym.vector.SyncVectorEnv([lambda: MaskedChoiceEnv("info") for _ in range(3)])
    with pytest.raises(ValueError, match="the checkpoint's run used 2 envs, this env has 3"):
        load_agent(tmp_path).learn(three)


def test_norm_reward_below_the_clip_and_negative_rewards():
    from rewardgym.agents.ppo import Rollout, Run

    agent = make_agent("ppo", gym.make("CartPole-v1"), norm_reward=True, gamma=0.0, clip_reward=1.5, **FAST)
    rollout = Rollout(num_steps=4, num_envs=1)
    rollout.valid[:, 0] = True
    rewards = np.array([[2.0], [-2.0], [2.0], [-20.0]], np.float32)
    run = Run(env=None, obs={}, mask=None, valid=np.ones(1, bool), tracker=None, iteration=0, num_iterations=1,
              start_step=0, discounted_return=np.zeros(1))
    scaled = agent.scale_rewards(rewards, rollout, run)
    reference, expected = RunningMeanStd(epsilon=1e-4), []
    for reward in rewards[:, 0]:  # γ = 0: the "return" is the reward itself
        reference.update(np.array([reward]))
        expected.append(np.clip(reward / np.sqrt(reference.var + 1e-8), -1.5, 1.5))
    np.testing.assert_allclose(scaled[:, 0], expected, rtol=1e-6)
    assert -1.5 < scaled[1, 0] < 0 and scaled[3, 0] == np.float32(-1.5)  # scaled, and clipped from below


def test_rollout_masks_fill_steps_without_one_with_allow_all():
    from rewardgym.agents.ppo import Rollout

    rollout = Rollout(num_steps=2, num_envs=2)
    assert rollout.stacked_masks() is None
    mask = np.array([[True, False], [False, True]])
    rollout.masks = [None, mask]
    np.testing.assert_array_equal(rollout.stacked_masks(), [np.ones((2, 2), bool), mask])


def test_a_resumed_run_from_fresh_episodes_is_reproducible_and_learn_returns_the_agent(tmp_path):
    envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    agent = make_agent("ppo", envs, seed=0, **FAST)
    assert agent.learn(envs, 4 * 32, progress=False,
                       callbacks=[lambda m: agent.save(tmp_path) if m["step"] == 64 else None]) is agent
    weights = []
    for _ in range(2):
        resumed = load_agent(tmp_path, envs)
        resumed.learn(envs, progress=False)
        weights.append(resumed.policy.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])  # the fresh episodes are seeded
    assert agent.learn(envs, 64, progress=False, callbacks=[lambda m: False]) is agent  # stopped, still the agent


def test_loading_checks_the_agent_kind_and_the_config(tmp_path):
    import json

    envs = gym.make_vec("rewardgym/Bandit-Bernoulli2-v0", num_envs=2)
    rewardgym.make_agent("thompson", envs).save(tmp_path / "bandit")
    with pytest.raises(ValueError, match="holds a 'thompson' agent, not 'ppo'"):
        PPO.load(tmp_path / "bandit")
    make_agent("ppo", envs, **FAST).save(tmp_path / "ppo")
    meta = json.loads((tmp_path / "ppo" / "agent.json").read_text())
    meta["config"]["num_step"] = 3
    (tmp_path / "ppo" / "agent.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"ppo/agent.json has a bad config"):
        PPO.load(tmp_path / "ppo")


# -- choice scoring (DRRN) ----------------------------------------------------------------------
class PickTheRowEnv(gym.Env):
    """One-step episodes: ``choices`` holds 6 one-hot rows of 4 kinds, exactly one of kind 0, in one of the
    slots ``right_slots``; picking that row pays 1. Only reading the rows pays."""

    observation_space = spaces.Dict({"choices": spaces.Box(0.0, 1.0, (6, 4), np.float32),
                                     "clock": spaces.Box(0.0, 1.0, (1,), np.float32)})
    action_space = spaces.Discrete(6)

    def __init__(self, right_slots=range(6)):
        self.right_slots = list(right_slots)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        kinds = self.np_random.integers(1, 4, 6)
        self.right = int(self.np_random.choice(self.right_slots))
        kinds[self.right] = 0
        return {"choices": np.eye(4, dtype=np.float32)[kinds], "clock": np.zeros(1, np.float32)}, {}

    def step(self, action):
        reward = float(action == self.right)
        return self.reset()[0], reward, True, False, {}


def test_choice_scoring_is_on_where_the_action_indexes_the_choices_and_scores_any_slot_alike():
    from rewardgym.agents.policies import NumpyActorCritic

    envs = gym.vector.SyncVectorEnv([PickTheRowEnv for _ in range(4)])
    agent = make_agent("ppo", envs, seed=0, **FAST)
    layout = agent.policy.choices
    assert (layout.rows, layout.width, layout.verbs, layout.extras) == (6, 4, 1, 0)
    assert make_agent("ppo", envs, choice_scoring=False).policy.choices is None
    assert make_agent("ppo", gym.make_vec("CartPole-v1", num_envs=2)).policy.choices is None
    with torch.no_grad():
        for p in agent.policy.parameters():
            p.normal_(generator=torch.Generator().manual_seed(1))
    obs, _ = envs.reset(seed=3)
    perm = np.array([5, 3, 0, 1, 4, 2])
    shuffled = {"choices": obs["choices"][:, perm], "clock": obs["clock"]}
    with torch.no_grad():
        logits = agent.policy._params(agent._to_device(agent.preprocess(obs))[VECTOR_KEY])
        moved = agent.policy._params(agent._to_device(agent.preprocess(shuffled))[VECTOR_KEY])
    np.testing.assert_allclose(moved.numpy(), logits.numpy()[:, perm], rtol=1e-5, atol=1e-5)
    _, out, _ = NumpyActorCritic(agent.policy).draw(agent.preprocess(obs), None, np.random.default_rng(0))
    np.testing.assert_allclose(out, logits.numpy(), rtol=1e-4, atol=1e-4)


def test_choice_scoring_carries_what_it_learned_in_some_slots_to_the_others():
    """Trained with the right row only in slots 0-2, tested with it only in slots 3-5: scoring each row with
    the same weights picks it there too; a logit per slot has learned nothing about slots 3-5."""
    train = gym.vector.SyncVectorEnv([lambda: PickTheRowEnv(range(3)) for _ in range(8)])
    test = gym.vector.SyncVectorEnv([lambda: PickTheRowEnv(range(3, 6)) for _ in range(8)])
    accuracy = {}
    for choice_scoring in (True, False):
        agent = make_agent("ppo", train, seed=0, num_steps=32, learning_rate=3e-3, choice_scoring=choice_scoring)
        agent.learn(train, 8_000, progress=False)
        obs, _ = test.reset(seed=11)
        right = 0
        for _ in range(25):
            action = agent.act(obs, deterministic=True)
            right += int(np.sum(obs["choices"][np.arange(8), action, 0]))
            obs, *_ = test.step(action)
        accuracy[choice_scoring] = right / 200
    assert accuracy[True] > 0.95 and accuracy[False] < 0.5, accuracy  # random: 1/6


def test_agents_saved_before_choice_scoring_load_without_it(tmp_path):
    import json

    envs = gym.vector.SyncVectorEnv([PickTheRowEnv for _ in range(2)])
    make_agent("ppo", envs, choice_scoring=False, **FAST).save(tmp_path / "old")
    meta = json.loads((tmp_path / "old" / "agent.json").read_text())
    del meta["config"]["choice_scoring"]
    (tmp_path / "old" / "agent.json").write_text(json.dumps(meta))
    loaded = PPO.load(tmp_path / "old")
    assert loaded.config.choice_scoring is False and loaded.policy.choices is None


# -- pointing at rows with a verb, text read as words ------------------------------------------
WORDS6 = ("apple", "river", "stone", "cloud", "tiger", "lemon")  # six buckets of 32


def _utf8(text: str, length: int) -> np.ndarray:
    out = np.zeros(length, np.uint8)
    raw = text.encode()[:length]
    out[: len(raw)] = np.frombuffer(raw, np.uint8)
    return out


class PressTheNamedRowEnv(gym.Env):
    """One-step episodes, a GUI in small: ``label`` holds 4 words (UTF-8 bytes, one per row) in shuffled
    rows, ``instruction`` names one of them. Action ``row * 2 + verb`` for rows 0-3 and verbs 0-1, then
    one action of its own (8); pressing (verb 1) the named row pays 1. Only matching words to rows pays."""

    observation_space = spaces.Dict({"instruction": spaces.Box(0, 255, (24,), np.uint8),
                                     "label": spaces.Box(0, 255, (4, 12), np.uint8),
                                     "place": spaces.Box(0.0, 1.0, (4, 2), np.float32)})
    action_space = spaces.Discrete(4 * 2 + 1)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        words = self.np_random.choice(WORDS6, 4, replace=False)
        self.right = int(self.np_random.integers(4))
        obs = {"instruction": _utf8(f'Press "{words[self.right]}".', 24),
               "label": np.stack([_utf8(w, 12) for w in words]),
               "place": np.tile(np.array([0.5, 1.0], np.float32), (4, 1))}
        return obs, {}

    def step(self, action):
        reward = float(action == self.right * 2 + 1)
        return self.reset()[0], reward, True, False, {}


POINTER = {"text_keys": ("instruction", "label"), "text_buckets": 32, "choice_keys": ("label", "place"),
           "choice_verbs": 2}


def test_text_keys_are_read_as_hashed_bags_of_words_per_row():
    from rewardgym._text import hashed_words
    from rewardgym.agents.policies import ObservationPreprocessor

    pre = ObservationPreprocessor(PressTheNamedRowEnv.observation_space, text_keys=("instruction", "label"),
                                  text_buckets=32)
    assert pre.width("instruction") == 32 and pre.width("label") == 4 * 32 and pre.rows("label") == (4, 32)
    env = PressTheNamedRowEnv()
    obs = [env.reset(seed=s)[0] for s in range(3)]
    obs[2]["label"][1] = 0  # an empty row has no words
    batch = {k: np.stack([o[k] for o in obs]) for k in obs[0]}
    vector = pre(batch)[VECTOR_KEY]
    assert vector.shape == (3, pre.vector_width) and set(np.unique(vector[:, pre.text_columns])) <= {0.0, 1.0}
    for i, o in enumerate(obs):
        instruction = vector[i, pre.columns["instruction"]]
        words = bytes(o["instruction"]).rstrip(b"\0").decode()
        assert sorted(np.flatnonzero(instruction)) == sorted(set(hashed_words(words, 32)))
        labels = vector[i, pre.columns["label"]].reshape(4, 32)
        for row in range(4):
            label = bytes(o["label"][row]).rstrip(b"\0").decode()
            assert sorted(np.flatnonzero(labels[row])) == sorted(set(hashed_words(label, 32)))
    assert not vector[2, pre.columns["label"]].reshape(4, 32)[1].any()
    with pytest.raises(ValueError, match="text_keys: 'place' is"):
        ObservationPreprocessor(PressTheNamedRowEnv.observation_space, text_keys=("place",))
    with pytest.raises(ValueError, match="text_keys: the observation has no key 'nope'"):
        ObservationPreprocessor(PressTheNamedRowEnv.observation_space, text_keys=("nope",))


@pytest.mark.parametrize("body", ["mean", "all"])
def test_a_row_and_verb_pointer_scores_rows_alike_in_torch_and_numpy(body):
    from rewardgym._text import hashed_words
    from rewardgym.agents.policies import NumpyActorCritic

    envs = gym.vector.SyncVectorEnv([PressTheNamedRowEnv for _ in range(4)])
    agent = make_agent("ppo", envs, seed=0, choice_body=body, norm_obs=True, **POINTER, **FAST)
    layout = agent.policy.choices
    assert (layout.rows, layout.width, layout.verbs, layout.extras) == (4, 32 + 2, 2, 1)
    with torch.no_grad():
        for p in agent.policy.parameters():
            p.normal_(generator=torch.Generator().manual_seed(1))
    obs, _ = envs.reset(seed=3)
    parts = agent.observe(obs)  # no statistics yet: norm_obs leaves the features as they are
    with torch.no_grad():
        logits = agent.policy._params(agent._to_device(parts)[VECTOR_KEY]).numpy()
    _, out, _ = NumpyActorCritic(agent.policy).draw(parts, None, np.random.default_rng(0))
    np.testing.assert_allclose(out, logits, rtol=1e-4, atol=1e-4)
    if body == "mean":  # the rows are scored alike in any order: moving the rows moves their logits
        perm = np.array([2, 0, 3, 1])
        moved = dict(obs, label=obs["label"][:, perm], place=obs["place"][:, perm])
        with torch.no_grad():
            shifted = agent.policy._params(agent._to_device(agent.observe(moved))[VECTOR_KEY]).numpy()
        rows = logits[:, :8].reshape(4, 4, 2)
        np.testing.assert_allclose(shifted[:, :8].reshape(4, 4, 2), rows[:, perm], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(shifted[:, 8], logits[:, 8], rtol=1e-4, atol=1e-4)
    for _ in range(3):  # norm_obs scales words and does not centre them: absent ones stay 0, one always there is 1
        agent.observe(envs.step(envs.action_space.sample())[0], update=True)
    parts, words = agent.observe(obs), agent.preprocess.text_columns
    np.testing.assert_array_equal(parts[VECTOR_KEY][:, words] == 0, agent.preprocess(obs)[VECTOR_KEY][:, words] == 0)
    press = agent.preprocess.columns["instruction"].start + hashed_words("press", 32)[0]  # in every instruction
    np.testing.assert_allclose(parts[VECTOR_KEY][:, press], 1.0, rtol=1e-3)


def test_a_pointer_over_words_learns_to_press_the_named_row_and_raw_bytes_do_not():
    """Words read as bags and each row scored against the instruction: the named row, wherever it is.
    The same PPO reading the bytes with one logit per action stays near chance (1 in 4 rows)."""
    envs = gym.vector.SyncVectorEnv([PressTheNamedRowEnv for _ in range(8)])
    accuracy = {}
    for name, config in (("pointer", POINTER), ("bytes", {"choice_scoring": False})):
        agent = make_agent("ppo", envs, seed=0, num_steps=32, learning_rate=3e-3, **config)
        agent.learn(envs, 12_000, progress=False)
        accuracy[name] = evaluate_agent(agent, PressTheNamedRowEnv(), 200, deterministic=True, seed=1_000)[
            "mean_return"]
    assert accuracy["pointer"] > 0.9 and accuracy["bytes"] < 0.5, accuracy


def test_pointer_settings_that_do_not_fit_the_env_say_why(tmp_path):
    envs = gym.vector.SyncVectorEnv([PressTheNamedRowEnv for _ in range(2)])
    with pytest.raises(ValueError, match=r"choice_keys \['label', 'nope'\]: the observation has no key 'nope'"):
        make_agent("ppo", envs, choice_keys=("label", "nope"))
    with pytest.raises(ValueError, match="at least rows x verbs = 4 x 3"):
        make_agent("ppo", envs, choice_keys=("label",), choice_verbs=3)
    with pytest.raises(ValueError, match=r"choice_keys \['choices'\]: the observation has no key 'choices'"):
        make_agent("ppo", envs, choice_verbs=2)  # verbs asked for where the default keys are missing: said, not dropped
    with pytest.raises(ValueError, match="choice_body must be one of"):
        make_agent("ppo", envs, choice_body="sum")
    with pytest.raises(ValueError, match="same rows"):
        make_agent("ppo", envs, choice_keys=("label", "instruction"))
    agent = make_agent("ppo", envs, **POINTER, **FAST)  # round trip: the same network and the same actions
    obs, _ = envs.reset(seed=0)
    agent.save(tmp_path / "ppo")
    loaded = PPO.load(tmp_path / "ppo")
    assert loaded.config.text_keys == ("instruction", "label") and loaded.policy.choices == agent.policy.choices
    np.testing.assert_array_equal(loaded.act(obs, deterministic=True), agent.act(obs, deterministic=True))


# -- positive listening (Eccles et al. 2019) ---------------------------------------------------------
class HearsAWordEnv(gym.Env):
    """One-step episodes that pay nothing: ``heard`` is one of four words (one-hot) or silence."""

    observation_space = spaces.Dict({"heard": spaces.Box(0.0, 1.0, (4,), np.float32),
                                     "clock": spaces.Box(0.0, 1.0, (1,), np.float32)})
    action_space = spaces.Discrete(4)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        word = int(self.np_random.integers(5))
        return {"heard": np.eye(5, 4, dtype=np.float32)[word], "clock": np.zeros(1, np.float32)}, {}

    def step(self, action):
        return self.reset()[0], 0.0, True, False, {}


def test_positive_listening_makes_the_policy_react_to_what_it_hears():
    """Nothing is paid: without the bonus the policy only drifts (advantages from an untrained critic are
    noise); with it, it reacts to every word it hears as far as a distribution can (L1 distance 2)."""
    envs = gym.vector.SyncVectorEnv([HearsAWordEnv for _ in range(8)])
    obs, _ = envs.reset(seed=0)
    reaction = {}
    for coef in (0.0, 1.0):
        agent = make_agent("ppo", envs, seed=0, num_steps=32, learning_rate=3e-3, listen_key="heard",
                           listen_coef=coef)
        agent.learn(envs, 8_000, progress=False)
        with torch.no_grad():
            reaction[coef] = float(agent.listening(agent._to_device(agent.observe(obs)), None))
    assert reaction[1.0] > 1.8 and reaction[1.0] > reaction[0.0] + 0.5, reaction
    with pytest.raises(ValueError, match="listen_key must name a non-image part"):
        make_agent("ppo", envs, listen_key="nope", listen_coef=0.1)


def test_positive_signalling_makes_the_action_tell_what_was_seen():
    """Nothing is paid: the signalling bonus alone makes the policy's action tell what it saw — the bonus
    itself, H(mean π) − (mean H(π))² over the rows (at most log 4), is high: different words, different
    actions, each sure of itself."""
    envs = gym.vector.SyncVectorEnv([HearsAWordEnv for _ in range(8)])
    obs, _ = envs.reset(seed=0)
    information = {}
    for coef in (0.0, 1.0):  # signal_entropy 0: each row's entropy pushed to 0
        agent = make_agent("ppo", envs, seed=0, num_steps=32, learning_rate=3e-3, signal_coef=coef)
        agent.learn(envs, 8_000, progress=False)
        batch = {key: np.concatenate([obs[key]] * 4) for key in obs}
        for _ in range(3):  # more rows, every word among them
            batch = {key: np.concatenate([batch[key], envs.reset()[0][key]]) for key in batch}
        with torch.no_grad():
            information[coef] = float(agent.signalling(agent._to_device(agent.observe(batch)), None))
    assert information[1.0] > 1.0 and information[1.0] > information[0.0] + 0.3, information
    pendulum = gym.vector.SyncVectorEnv([lambda: gym.make("Pendulum-v1")])
    with pytest.raises(ValueError, match="signal_coef .* needs discrete actions"):
        make_agent("ppo", pendulum, signal_coef=0.1)


def test_a_window_absorbs_another_windows_steps_and_episodes():
    from rewardgym.agents.base import MetricsWindow

    ours, theirs = MetricsWindow(window=3), MetricsWindow(window=3)
    ours.add_steps(2, {"reward": 1.0})
    ours.add_episode({"return": 1.0, "length": 2})
    theirs.add_steps(6, {"reward": 3.0, "regret": 6.0})
    for r in (2.0, 3.0, 4.0):
        theirs.add_episode({"return": r, "length": 1})
    ours.absorb(theirs)
    summary = ours.summary()
    assert summary["episodes"] == 4 and summary["reward_per_step"] == 0.5 and summary["regret_per_step"] == 0.75
    assert summary["mean_return"] == 3.0  # the last three episodes
