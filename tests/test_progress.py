"""Progress models: Φ learned from demonstrations, its VOC, saving, shaping, and text process rewards."""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

import rewardgym
from rewardgym.reward_models import Transitions, make_reward
from rewardgym.reward_models.progress import (
    ProgressModel,
    ProgressShaping,
    progress_targets,
    spearman,
    value_order_correlation,
)
from rewardgym.workflows.progress import fit_progress_model
from rewardgym.wrappers import LearnedReward, PotentialShaping
from rewardgym.wrappers.vector import LearnedReward as VectorLearnedReward

REACH = "rewardgym/Manip-Reach-v0"
TEST_SEED = 1_000_000


@pytest.fixture(scope="module")
def reach_demos(tmp_path_factory):
    """30 expert Reach episodes to fit on (seeds 0-29) and 10 on held-out test seeds."""
    root = tmp_path_factory.mktemp("reach")
    train = rewardgym.collect_demos(REACH, 30, root / "train", progress=False)
    test = rewardgym.collect_demos(REACH, 10, root / "test", seed=TEST_SEED, progress=False)
    return train, test


@pytest.fixture(scope="module")
def reach_model(reach_demos):
    """A small state model, fitted once for the tests that only need some fitted model."""
    model = ProgressModel("state", hidden_sizes=(64, 64))
    model.fit(reach_demos[0], epochs=40, seed=0, progress=False)
    return model


@pytest.fixture(scope="module")
def saved_reach_model(reach_model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "reach_progress"
    reach_model.save(path)
    return path


# -- targets and the metric -------------------------------------------------------------------
def test_targets_are_time_normalised_up_to_lasting_success():
    targets, done = progress_targets(np.array([False, False, True, True]))
    assert done == 3
    np.testing.assert_allclose(targets, [0, 1 / 3, 2 / 3, 1, 1])
    # success that is lost again does not count: progress runs to the last failure
    targets, done = progress_targets(np.array([False, True, False, True]))
    assert done == 4
    np.testing.assert_allclose(targets, [0, 0.25, 0.5, 0.75, 1])
    targets, done = progress_targets(np.array([False, False]))
    assert done is None and not targets.any()


def test_spearman_matches_the_rank_formula_with_ties():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([4, 3, 2, 1], [1, 2, 3, 4]) == pytest.approx(-1.0)
    assert spearman([1, 1, 1], [1, 2, 3]) == 0.0
    # ties take their average rank: x ranks (0.5, 0.5, 2, 3) against 0..3
    x_ranks = np.array([0.5, 0.5, 2, 3]) - 1.5
    t_ranks = np.arange(4) - 1.5
    expected = (x_ranks @ t_ranks) / np.sqrt((x_ranks @ x_ranks) * (t_ranks @ t_ranks))
    assert value_order_correlation(np.array([0.2, 0.2, 0.5, 0.9])) == pytest.approx(expected)


# -- the state encoder ---------------------------------------------------------------------------
def test_state_model_orders_held_out_reach_demos(reach_demos, reach_model):
    train, test = reach_demos
    untrained = ProgressModel("state", hidden_sizes=(64, 64))
    untrained.fit(train, epochs=0, progress=False)
    baseline = untrained.evaluate(test)["voc"]

    figures = reach_model.evaluate(test)
    assert figures["episodes"] == 10
    assert figures["voc"] >= 0.9, figures
    assert figures["voc"] > baseline + 0.3, (figures, baseline)
    assert figures["start"] < 0.5 < figures["end"], figures
    metrics = reach_model.config["metrics"]
    assert metrics["train_episodes"] + metrics["val_episodes"] == 30 and metrics["val_episodes"] == 6
    assert metrics["val_voc"] >= 0.8, metrics


def test_fit_history_and_goal_awareness(reach_demos):
    train, _ = reach_demos
    model = ProgressModel("state", hidden_sizes=(32,))
    history = model.fit(train, epochs=5, seed=1, progress=False)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5]
    assert history[-1]["loss"] < history[0]["loss"]
    assert all(np.isfinite(h["val_voc"]) for h in history)
    # the Dict keys, sorted, plus goal_delta: Φ sees the goal
    assert model.config["keys"] == ["achieved_goal", "desired_goal", "goal_delta", "observation"]
    assert model.config["input_shape"] == [3 + 3 + 3 + 10]


def test_keys_select_what_phi_reads(reach_demos, reach_model):
    train, test = reach_demos
    model = ProgressModel("state", keys=["goal_delta"], hidden_sizes=(32, 32))
    model.fit(train, epochs=30, progress=False)
    assert model.config["input_shape"] == [3]
    episode = test[0]
    obs = episode.observations
    moved = {**obs, "observation": obs["observation"] + 1.0}  # Φ must ignore what it does not read
    np.testing.assert_array_equal(model(obs), model(moved))
    assert not np.array_equal(reach_model(obs), reach_model(moved))
    assert model.evaluate(test)["voc"] >= 0.9
    with pytest.raises(ValueError, match="nope"):
        ProgressModel("state", keys=["nope"]).fit(train, epochs=0, progress=False)


def test_fit_needs_a_successful_demo(tmp_path):
    demos = rewardgym.collect_demos(REACH, 2, tmp_path / "d", progress=False,
                                    policy=lambda obs: np.zeros(4, dtype=np.float32))
    assert demos.success_rate == 0.0
    with pytest.raises(ValueError, match="no successful"):
        ProgressModel("state").fit(demos, epochs=1, val_fraction=0.0, progress=False)


@pytest.mark.slow
def test_state_model_on_more_demos_reaches_voc_095(tmp_path):
    train = rewardgym.collect_demos(REACH, 80, tmp_path / "train", progress=False)
    test = rewardgym.collect_demos(REACH, 40, tmp_path / "test", seed=TEST_SEED, progress=False)
    model = ProgressModel("state")
    model.fit(train, seed=0, progress=False)
    figures = model.evaluate(test)
    assert figures["voc"] >= 0.95, figures
    assert figures["start"] < 0.2 and figures["end"] > 0.9, figures


# -- the pixel encoder ---------------------------------------------------------------------------
def test_pixel_model_learns_to_order_images(tmp_path):
    kwargs = {"obs_mode": "pixels", "width": 32, "height": 32, "max_episode_steps": 12}
    train = rewardgym.collect_demos(REACH, 16, tmp_path / "train", env_kwargs=kwargs, progress=False)
    test = rewardgym.collect_demos(REACH, 8, tmp_path / "test", seed=TEST_SEED, env_kwargs=kwargs, progress=False)
    untrained = ProgressModel("auto", hidden_sizes=(64,))
    untrained.fit(train, epochs=0, progress=False)
    assert untrained.encoder == "pixels" and not untrained.needs_frames
    before = untrained.evaluate(test)["voc"]

    model = ProgressModel("auto", hidden_sizes=(64,))
    model.fit(train, epochs=40, seed=0, progress=False)
    after = model.evaluate(test)
    assert after["voc"] >= 0.6 and after["voc"] > before + 0.3, (after, before)
    assert after["end"] > after["start"], after


def test_pixel_model_on_rendered_frames_needs_frames(tmp_path):
    demos = rewardgym.collect_demos(REACH, 3, tmp_path / "d", frames=True, progress=False,
                                    env_kwargs={"width": 24, "height": 24, "max_episode_steps": 8})
    model = ProgressModel("pixels", hidden_sizes=(16,))
    model.fit(demos, epochs=1, val_fraction=0.0, progress=False)
    assert model.needs_frames and model.config["source"] == "frames"
    episode = demos[0]
    phi = model(episode.observations, None, episode.frames)
    assert phi.shape == (episode.length + 1,) and ((phi >= 0) & (phi <= 1)).all()
    with pytest.raises(ValueError, match="frames"):
        model(episode.observations, None)
    with pytest.raises(ValueError, match="PotentialShaping"):
        ProgressShaping(model)
    # PotentialShaping renders each state for it
    env = PotentialShaping(gym.make(REACH, render_mode="rgb_array", width=24, height=24), model, gamma=1.0)
    obs, info = env.reset(seed=3)
    first = model(obs_batch(obs), [info], env.render()[None])[0]
    obs, reward, *_, info = env.step(env.action_space.sample())
    second = model(obs_batch(obs), [info], env.render()[None])[0]
    assert info["shaping"] == pytest.approx(second - first, abs=1e-6)


# -- saving -------------------------------------------------------------------------------------
def obs_batch(obs):
    return {k: v[None] for k, v in obs.items()} if isinstance(obs, dict) else np.asarray(obs)[None]


def test_save_load_round_trip_gives_identical_outputs(reach_model, saved_reach_model, reach_demos):
    loaded = ProgressModel.load(saved_reach_model)
    episode = reach_demos[1][0]
    np.testing.assert_array_equal(loaded(episode.observations), reach_model(episode.observations))
    assert {k: v for k, v in loaded.config.items() if k != "metrics"} == \
        {k: v for k, v in reach_model.config.items() if k != "metrics"}
    assert loaded.config["metrics"]["val_voc"] == reach_model.config["metrics"]["val_voc"]
    assert loaded.config["metrics"]["val_failed_end"] is None  # nan (no failed demo) is stored as null
    config = json.loads((saved_reach_model / "config.json").read_text())
    assert config["format"] == "rewardgym-progress" and config["encoder"] == "state"
    state = torch.load(saved_reach_model / "weights.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_unfitted_model_says_so():
    with pytest.raises(RuntimeError, match="fit"):
        ProgressModel("state")({"observation": np.zeros((1, 3))})
    with pytest.raises(ValueError, match="encoder"):
        ProgressModel("sound")


@pytest.mark.parametrize("damage", ["garbage_weights", "no_weights", "garbage_config", "no_config",
                                    "foreign_config", "wrong_shapes"])
def test_damaged_checkpoint_names_the_file(saved_reach_model, tmp_path, damage):
    import shutil

    folder = tmp_path / "model"
    shutil.copytree(saved_reach_model, folder)
    if damage == "garbage_weights":
        (folder / "weights.pt").write_bytes(b"not a checkpoint")
        error, file = ValueError, "weights.pt"
    elif damage == "no_weights":
        (folder / "weights.pt").unlink()
        error, file = FileNotFoundError, "weights.pt"
    elif damage == "garbage_config":
        (folder / "config.json").write_text("{ nope")
        error, file = ValueError, "config.json"
    elif damage == "no_config":
        (folder / "config.json").unlink()
        error, file = FileNotFoundError, "config.json"
    elif damage == "foreign_config":
        (folder / "config.json").write_text(json.dumps({"format": "something else"}))
        error, file = ValueError, "config.json"
    else:
        config = json.loads((folder / "config.json").read_text())
        config["hidden_sizes"] = [7]
        (folder / "config.json").write_text(json.dumps(config))
        error, file = ValueError, "weights.pt"
    with pytest.raises(error, match=file) as info:
        ProgressModel.load(folder)
    assert str(folder) in str(info.value)
    # the spec reports it as a one-line ValueError, as the CLI expects
    with pytest.raises(ValueError, match=file):
        make_reward(f"progress:{folder}")


# -- the reward-model form and the spec ------------------------------------------------------------
def test_shaping_term_is_gamma_phi_next_minus_phi_with_terminal_zero(reach_model, reach_demos):
    episode = reach_demos[1][1]
    obs = {k: v[:-1] for k, v in episode.observations.items()}
    next_obs = {k: v[1:] for k, v in episode.observations.items()}
    n = episode.length
    terminated = np.zeros(n, dtype=bool)
    terminated[[3, n - 1]] = True
    batch = Transitions(obs=obs, action=episode.actions, next_obs=next_obs, terminated=terminated,
                        truncated=np.zeros(n, dtype=bool), infos=[{}] * n)
    phi, phi_next = reach_model(obs), reach_model(next_obs)
    for gamma, scale in ((0.99, 1.0), (1.0, 3.0)):
        shaped = ProgressShaping(reach_model, gamma=gamma, scale=scale)(batch)
        assert shaped.shape == (n,) and shaped.dtype == np.float32
        expected = scale * (gamma * np.where(terminated, 0.0, phi_next) - phi)
        np.testing.assert_allclose(shaped, expected, rtol=1e-6, atol=1e-6)
        assert shaped[3] == pytest.approx(-scale * phi[3], rel=1e-6)  # Φ(terminal) = 0
    # γ = 1 over a whole (non-terminating) episode telescopes to Φ(o_T) − Φ(o_0)
    whole = ProgressShaping(reach_model, gamma=1.0)(Transitions(
        obs=obs, action=episode.actions, next_obs=next_obs, terminated=np.zeros(n, dtype=bool),
        truncated=np.zeros(n, dtype=bool), infos=[{}] * n))
    assert whole.sum() == pytest.approx(phi_next[-1] - phi[0], abs=1e-4)


def test_progress_spec_through_learned_reward_on_a_real_env(saved_reach_model, reach_model):
    shaping = make_reward(f"progress:{saved_reach_model};gamma=0.9;scale=2;device=cpu")
    assert isinstance(shaping, ProgressShaping) and shaping.gamma == 0.9 and shaping.scale == 2.0

    env = LearnedReward(gym.make(REACH), f"progress:{saved_reach_model};gamma=0.9;scale=2;device=cpu")
    reference = PotentialShaping(gym.make(REACH), reach_model, gamma=0.9)
    obs, info = env.reset(seed=5)
    reference.reset(seed=5)
    from rewardgym.envs.manipulation.experts import expert_for

    expert = expert_for(env)
    rewards = []
    for _ in range(6):
        phi = reach_model(obs_batch(obs))[0]
        action = expert.act(obs)
        obs, reward, terminated, truncated, info = env.step(action)
        _, shaped_reward, *_ = reference.step(action)
        expected = 2.0 * (0.9 * reach_model(obs_batch(obs))[0] - phi)
        assert info["reward_learned"] == pytest.approx(expected, abs=1e-5)
        assert reward == pytest.approx(info["reward_env"] + info["reward_learned"], abs=1e-6)
        # LearnedReward + ProgressShaping == PotentialShaping with the model as Φ (up to the scale)
        assert info["reward_learned"] == pytest.approx(2.0 * (shaped_reward - info["reward_env"]), abs=1e-5)
        rewards.append(info["reward_learned"])
    assert max(rewards) > 0.05  # the expert makes progress, and the shaping says so


def test_ppo_deferred_scoring_with_the_progress_spec(saved_reach_model):
    envs = VectorLearnedReward(gym.make_vec(REACH, num_envs=2, vectorization_mode="sync"),
                               f"progress:{saved_reach_model};device=cpu", defer=True)
    agent = rewardgym.make_agent("ppo", envs, num_steps=32, update_epochs=1, device="cpu")
    seen = []
    agent.learn(envs, 128, callbacks=[seen.append], progress=False)
    envs.close()
    assert seen and all(np.isfinite(m["reward_learned_per_step"]) for m in seen)
    assert any(m["reward_learned_per_step"] != 0.0 for m in seen)


def test_spec_errors_are_one_line_value_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        make_reward(f"progress:{tmp_path / 'missing'}")
    with pytest.raises(ValueError, match="bad arguments"):
        make_reward(f"progress:{tmp_path};colour=red")


def test_registering_progress_keeps_torch_unloaded():
    code = ("import sys, rewardgym, rewardgym.reward_models as r; "
            "print('progress' in r.available_rewards(), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "False"]


# -- fit_progress_model --------------------------------------------------------------------------
def test_fit_progress_model_end_to_end(tmp_path):
    rewardgym.collect_demos(REACH, 10, tmp_path / "demos", progress=False)
    report = fit_progress_model(tmp_path / "demos", tmp_path / "model", epochs=30, seed=0, progress=False)
    assert report["encoder"] == "state" and report["path"] == str(tmp_path / "model")
    assert report["train_episodes"] == 8 and report["val_episodes"] == 2
    assert report["voc"] >= 0.7 and np.isfinite(report["final_loss"]), report
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["config.json", "weights.pt"]
    loaded = ProgressModel.load(tmp_path / "model")
    assert loaded.config["metrics"]["val_voc"] == pytest.approx(report["voc"])
    with pytest.raises(ValueError, match="not found"):
        fit_progress_model(tmp_path / "nothing", tmp_path / "m2", progress=False)


# -- text: process rewards --------------------------------------------------------------------
@pytest.fixture(scope="module")
def cooking(tmp_path_factory):
    """A text progress model fitted on walkthroughs of the cooking world, and held-out games."""
    from rewardgym.reward_models.embeddings import TextEncoder

    root = tmp_path_factory.mktemp("cooking")
    train = rewardgym.collect_demos("rewardgym/Text-Cooking-v0", 16, root / "train", progress=False)
    test = rewardgym.collect_demos("rewardgym/Text-Cooking-v0", 5, root / "test", seed=500_000, progress=False)
    model = ProgressModel("auto", hidden_sizes=(64,), text_encoder=TextEncoder())
    model.fit(train, epochs=60, seed=0, progress=False)
    return model, test, root


def test_text_model_orders_held_out_walkthroughs(cooking):
    model, test, _ = cooking
    assert model.encoder == "text"
    figures = model.evaluate(test)
    assert figures["voc"] >= 0.8, figures
    assert figures["end"] > figures["start"] + 0.3, figures


def test_process_rewards_are_per_turn_deltas(cooking):
    model, test, _ = cooking
    episode = test[0]
    turns = episode.observations.tolist()
    phi = model.turn_progress(turns, episode.task)
    assert phi.shape == (len(turns),)
    deltas = model.process_rewards(turns, episode.task)
    assert deltas.shape == (len(turns) - 1,) and deltas.dtype == np.float32
    np.testing.assert_allclose(deltas, np.diff(phi), atol=1e-6)
    assert deltas.sum() == pytest.approx(phi[-1] - phi[0], abs=1e-5)  # telescopes: no farming beyond Φ_n − Φ_0
    assert deltas.sum() > 0.3  # a walkthrough makes progress

    capped = model.process_rewards(turns, episode.task, cap=0.05)
    np.testing.assert_allclose(capped, np.clip(deltas, -0.05, 0.05), atol=1e-6)
    assert np.abs(capped).max() <= 0.05 + 1e-7

    clipped = model.process_rewards(turns, episode.task, mode="clip", eta=0.9)
    np.testing.assert_allclose(clipped, np.minimum(phi[1:] - 0.9, 0.0), atol=1e-6)
    assert (clipped <= 0).all()
    # repeating a turn earns at most what the deltas' telescoping sum allows
    stuck = turns[:3] + [turns[2]] * 10
    farmed = model.process_rewards(stuck, episode.task)
    assert farmed.sum() == pytest.approx(model.turn_progress(stuck, episode.task)[-1]
                                         - model.turn_progress(stuck, episode.task)[0], abs=1e-5)
    assert farmed.sum() <= 1.0

    with pytest.raises(ValueError, match="mode"):
        model.process_rewards(turns, episode.task, mode="sum")


def test_text_model_round_trip_and_potential(cooking):
    model, test, root = cooking
    model.save(root / "model")
    loaded = ProgressModel.load(root / "model")
    assert loaded.config["text_model"] is None  # the default encoder, not a machine's path
    episode = test[1]
    turns = episode.observations.tolist()
    np.testing.assert_allclose(loaded.turn_progress(turns, episode.task), model.turn_progress(turns, episode.task),
                               atol=1e-6)
    # as a potential on single observations, the task comes from the infos
    phi = loaded(turns[:2], [{"task": episode.task}] * 2)
    assert phi.shape == (2,) and ((phi >= 0) & (phi <= 1)).all()


def test_process_rewards_need_a_text_model(reach_model):
    with pytest.raises(ValueError, match="text"):
        reach_model.process_rewards(["a", "b"], "task")


def test_fit_progress_command(reach_demos, tmp_path, capsys):
    from rewardgym.cli import main

    train, _ = reach_demos
    out = tmp_path / "model"
    assert main(["fit-progress", str(train.path), "--out", str(out), "--keys", "goal_delta", "--epochs", "10",
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "state progress model, 10 epochs" in printed and f"--reward progress:{out}" in printed
    assert ProgressModel.load(out).config["keys"] == ["goal_delta"]
    assert main(["fit-progress", str(tmp_path / "missing"), "--out", str(tmp_path / "m2")]) == 2
    assert main(["fit-progress", str(train.path), "--out", str(tmp_path / "m3"), "--val-fraction", "1.5"]) == 2
    assert "rewardgym: error:" in capsys.readouterr().err
