"""The one reward path of `rewardgym train`: a --reward spec is built once, reaches every kind of agent through
LearnedReward, and is closed once, on Ctrl-C too; devices an agent cannot use are one line and exit status 2."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from rewardgym.cli import main
from rewardgym.rewards import spec as spec_module
from rewardgym.testing import save_tiny_causal_lm


class CountingReward:
    """A reward model that counts how often it is built, called and closed; it can raise Ctrl-C mid-run."""

    needs_frames = False
    built = calls = closed = 0
    interrupt_at: int | None = None
    batch_sizes: list[int] = []

    def __init__(self, value: float = 0.25):
        CountingReward.built += 1
        self.value = value

    def __call__(self, batch):
        cls = CountingReward  # one set of counters, for the subclass below too
        cls.calls += 1
        cls.batch_sizes.append(len(batch))
        if cls.interrupt_at is not None and cls.calls >= cls.interrupt_at:
            raise KeyboardInterrupt
        return np.full(len(batch), self.value, dtype=np.float32)

    def close(self):
        CountingReward.closed += 1


class PreviousObservationReward(CountingReward):
    """Pays the reward shown in ``s`` (the previous observation): right only if the wrapper knows ``s``."""

    def __call__(self, batch):
        super().__call__(batch)
        return np.asarray(batch.obs["last_reward"], dtype=np.float32).reshape(len(batch))


class SayAnything(gym.Env):
    """A text game where any reply is a move (a random model's text included); an episode is three moves."""

    observation_space = spaces.Discrete(4)
    action_space = spaces.Discrete(1)

    def __init__(self):
        self.t = 0
        self.text_adapter = self

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return 0, {}

    def step(self, action):
        self.t += 1
        return self.t, 0.0, self.t >= 3, False, {}

    def instruction(self) -> str:
        return "Say anything."

    def describe(self, obs=None, info=None) -> str:
        return f"Move {self.t}."

    def parse(self, text: str) -> int:
        return 0


gym.register("rewardgym-test/SayAnything-v0", entry_point=SayAnything)


@pytest.fixture
def counting(monkeypatch):
    registry = spec_module.REWARDS.copy()
    registry.register("counting", CountingReward)
    registry.register("previous-obs", PreviousObservationReward)
    monkeypatch.setattr(spec_module, "REWARDS", registry)
    for name, value in (("built", 0), ("calls", 0), ("closed", 0), ("interrupt_at", None), ("batch_sizes", [])):
        monkeypatch.setattr(CountingReward, name, value)
    return CountingReward


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    return save_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


BANDIT = ["rewardgym/Bandit-Bernoulli2-v0", "--env-kwargs", "horizon=20"]


def agent_args(agent: str, tiny_lm) -> list[str]:
    return {
        "ppo": [*BANDIT, "--agent", "ppo", "--steps", "128", "--num-envs", "4", "--config", "num_steps=16"],
        "sb3": [*BANDIT, "--agent", "sb3", "--steps", "128", "--num-envs", "4", "--config", "algo=A2C", "n_steps=8"],
        "thompson": [*BANDIT, "--agent", "thompson", "--steps", "128", "--num-envs", "4"],
        # every reply is a move (a bandit would refuse the random model's text)
        "llm-grpo": ["rewardgym-test/SayAnything-v0", "--agent", "llm-grpo", "--model", str(tiny_lm), "--steps", "8",
                     "--num-envs", "4", "--device", "cpu", "--config", "group_size=2", "groups_per_batch=2",
                     "max_new_tokens=2", "max_turns=2"],
    }[agent]


AGENTS = ["ppo", "sb3", "thompson", "llm-grpo"]


@pytest.mark.parametrize("agent", AGENTS)
def test_a_reward_spec_is_built_once_scores_the_run_and_is_closed_once(agent, counting, tiny_lm, tmp_path):
    code = main(["train", *agent_args(agent, tiny_lm), "--out", str(tmp_path), "--no-progress",
                 "--reward", "counting:value=0.25"])
    assert code == 0
    assert counting.built == 1 and counting.closed == 1 and counting.calls >= 1
    (run_dir,) = tmp_path.iterdir()
    assert json.loads((run_dir / "config.json").read_text())["reward"] == "counting:value=0.25"
    if agent in ("ppo", "llm-grpo"):  # deferred: one call scores a whole rollout
        assert max(counting.batch_sizes) > 4
    else:  # step by step: one call per vector step, the whole batch of envs at once
        assert max(counting.batch_sizes) == 4


@pytest.mark.parametrize("agent", AGENTS)
def test_ctrl_c_saves_the_final_checkpoint_and_closes_the_model_once(agent, counting, tiny_lm, tmp_path, capsys):
    counting.interrupt_at = 1  # Ctrl-C while the first batch is scored
    code = main(["train", *agent_args(agent, tiny_lm), "--out", str(tmp_path), "--no-progress",
                 "--reward", "counting"])
    assert code == 130
    assert counting.built == 1 and counting.closed == 1
    (run_dir,) = tmp_path.iterdir()
    assert (run_dir / "checkpoints" / "final" / "agent.json").is_file()
    assert "interrupted" in capsys.readouterr().err


def test_eval_does_not_build_the_reward_model(counting, tiny_lm, tmp_path):
    assert main(["train", *agent_args("ppo", tiny_lm), "--out", str(tmp_path), "--no-progress",
                 "--reward", "counting"]) == 0
    (run_dir,) = tmp_path.iterdir()
    assert main(["eval", str(run_dir), "--episodes", "4"]) == 0
    assert counting.built == 1 and counting.closed == 1


def test_a_resumed_run_builds_and_closes_the_model_once_and_matches_the_whole_run(counting, tiny_lm, tmp_path):
    import shutil

    import torch

    from rewardgym.agents import load_agent

    args = ["train", "rewardgym/Bandit-Meta2-v0", "--agent", "ppo", "--steps", "256", "--num-envs", "4",
            "--no-progress", "--config", "num_steps=16", "--checkpoint-every", "64", "--reward", "previous-obs"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    (whole,) = (tmp_path / "a").iterdir()
    interrupted = tmp_path / "b" / whole.name
    shutil.copytree(whole, interrupted)
    for name in ("final", "step_256", "step_192"):  # resume at step 128: mid-episode (20-pull episodes)
        shutil.rmtree(interrupted / "checkpoints" / name)
    assert main(["train", "--resume", str(interrupted), "--no-progress"]) == 0
    assert counting.built == 2 and counting.closed == 2  # once per command
    a, b = load_agent(whole / "checkpoints/final"), load_agent(interrupted / "checkpoints/final")
    for (name, x), y in zip(a.policy.state_dict().items(), b.policy.state_dict().values()):
        assert torch.equal(x, y), name  # the deferred learned reward's wrapper resumed with its s


@pytest.mark.parametrize("argv, message", [
    ([*BANDIT, "--agent", "ppo", "--device", "cuda:99"], "CUDA"),
    ([*BANDIT, "--agent", "sb3", "--device", "cuda:99"], "CUDA"),
    ([*BANDIT, "--agent", "ppo", "--device", "gpu"], "bad device 'gpu'"),
    ([*BANDIT, "--agent", "thompson", "--device", "cuda"], "runs on the CPU only"),
])
def test_a_device_the_agent_cannot_use_is_one_line(argv, message, tmp_path, capsys):
    assert main(["train", *argv, "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing was started


def test_llm_agent_device_and_fit_progress_device(tiny_lm, tmp_path, capsys):
    assert main(["train", "rewardgym/Bandit-Meta2-v0", "--agent", "llm-grpo", "--model", str(tiny_lm),
                 "--device", "cuda:99", "--out", str(tmp_path / "runs"), "--no-progress"]) == 2
    assert "CUDA" in capsys.readouterr().err
    assert main(["fit-progress", str(tmp_path / "no-demos"), "--out", str(tmp_path / "m"), "--device", "cuda:99"]) == 2
    err = capsys.readouterr().err
    assert "CUDA" in err and err.count("\n") == 1


def test_unknown_settings_name_the_agents_settings(tmp_path, capsys):
    assert main(["train", *BANDIT, "--agent", "ppo", "--config", "num_step=3", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no setting 'num_step'" in err and "num_steps" in err


def test_the_final_summary_takes_per_step_means_over_the_last_tenth_of_the_run():
    from rewardgym.workflows.runs import run_summary

    rows = [{"step": float(s), "reward_per_step": 1.0, "mean_return": 2.0} for s in range(100, 1000, 100)]
    rows.append({"step": 1000.0, "reward_per_step": 5.0, "mean_return": 3.0})
    rows.append({"step": 1004.0, "reward_per_step": 100.0, "mean_return": 4.0})  # a last, 4-step log
    summary = run_summary(rows)
    since = 1004 - 100.4
    expected = ((1000 - since) * 5.0 + 4 * 100.0) / (1004 - since)
    assert summary["reward_per_step"] == pytest.approx(expected) and summary["mean_return"] == 4.0
    assert run_summary(rows[:1]) == rows[0] and run_summary([]) == {}


def test_learning_curve_panels_draw_a_flat_line_flat():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rewardgym.workflows.runs import _honest_limits

    fig, axes = plt.subplots(1, 3)
    flat = [500.0, 500.0001, 499.9999]
    axes[0].plot(flat)
    _honest_limits(axes[0], flat, "mean_return")
    low, high = axes[0].get_ylim()
    assert high - low >= 50.0 - 1e-9 and low < 499.9999 and high > 500.0001
    axes[1].plot([0.5, 0.5])
    _honest_limits(axes[1], [0.5, 0.5], "success_rate")
    assert axes[1].get_ylim() == (-0.02, 1.02)
    moving = [0.0, 10.0, 20.0]
    axes[2].plot(moving)
    before = axes[2].get_ylim()
    _honest_limits(axes[2], moving, "mean_return")
    assert axes[2].get_ylim() == before  # a real change keeps matplotlib's limits
    plt.close(fig)


def _fake_run(folder, env_id, agent, seed, reward, rows):
    import csv

    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"env_id": env_id, "agent": agent, "seed": seed,
                                                    "reward": reward}))
    with open(folder / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_plot_compares_groups_of_seeds_by_their_iqm(tmp_path, capsys):
    runs = []
    for seed, finals in enumerate([0.2, 0.4, 0.6, 0.8]):  # a group of four seeds
        rows = [{"step": s, "success_rate": finals * s / 1000, "mean_return": 1.0} for s in (250, 500, 750, 1000)]
        _fake_run(tmp_path / f"a{seed}", "rewardgym/Manip-Reach-v0", "ppo", seed, None, rows)
        runs.append(str(tmp_path / f"a{seed}"))
    _fake_run(tmp_path / "b0", "rewardgym/Manip-Reach-v0", "ppo", 0, "progress:m",
              [{"step": 500, "success_rate": 0.9}, {"step": 1000, "success_rate": 1.0}])
    out = tmp_path / "figs" / "cmp.png"
    assert main(["plot", *runs, str(tmp_path / "b0"), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert out.is_file() and lines[-1] == f"plot: {out}"
    assert lines[0].startswith("ppo: seeds [0, 1, 2, 3], at step 1000: IQM 0.5 [")  # the middle two: 0.4, 0.6
    assert lines[1].startswith("ppo + progress:m: seeds [0], at step 1000: IQM 1 ")
    assert main(["plot", *runs, "--metric", "mean_return"]) == 0
    assert (tmp_path / "comparison-mean_return.png").is_file()


@pytest.mark.parametrize("make, message", [
    (lambda d: d.mkdir(), "is not a run folder"),
    (lambda d: _fake_run(d, "x", "ppo", 0, None, [{"step": 1, "mean_return": 0.0}]) or (d / "metrics.csv").unlink(),
     "has no metrics.csv"),
    (lambda d: _fake_run(d, "x", "ppo", 0, None, [{"step": 1, "mean_return": 0.0}]), "logged no 'entropy'"),
    (lambda d: _fake_run(d, "x", "ppo", 0, None, [{"step": 1, "mean_return": "lots"}]), "metrics.csv is corrupt"),
])
def test_plot_errors_are_one_line(make, message, tmp_path, capsys):
    make(tmp_path / "run")
    assert main(["plot", str(tmp_path / "run"), "--metric", "entropy"]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
