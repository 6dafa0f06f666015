"""The rewardgym command: list, train, eval, play, and one-line errors with exit status 2."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

import rewardgym
from rewardgym.cli import main

CLI = [sys.executable, "-m", "rewardgym.cli"]


def test_list_prints_every_id(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for env_id in rewardgym.ENV_IDS:
        assert env_id in out
    assert "Discrete(10)" in out and "Bandit" in out
    assert max(len(line) for line in out.splitlines()) <= 100  # fits a terminal; --long has the rest


def test_list_long_and_ids(capsys):
    assert main(["list", "--long", "rewardgym/Dungeon-Room5x5-v0", "bandit_market_v0"]) == 0
    out = capsys.readouterr().out
    assert "tty_cursor:Box(2)" in out and "seat:Box(3)" in out and "Bandit-Bernoulli2" not in out
    assert max(len(line) for line in out.splitlines()) <= 100
    assert main(["list", "rewardgym/Nope-v0"]) == 2
    assert "no environment 'rewardgym/Nope-v0'" in capsys.readouterr().err


def test_a_closed_pipe_is_not_a_traceback():
    out = subprocess.run(f"{sys.executable} -m rewardgym.cli list | head -1", shell=True, capture_output=True,
                         text=True)
    assert out.stdout.strip() == "Bandit" and "Traceback" not in out.stderr


def test_train_then_eval(tmp_path, capsys):
    assert main(["train", "rewardgym/Bandit-Bernoulli10-v0", "--agent", "thompson", "--steps", "10000",
                 "--out", str(tmp_path), "--no-progress"]) == 0
    (run_dir,) = tmp_path.iterdir()
    for name in ("config.json", "metrics.csv", "learning_curve.png", "checkpoints/final/agent.json"):
        assert (run_dir / name).is_file(), name
    assert list(run_dir.glob("events.out.tfevents.*"))
    config = json.loads((run_dir / "config.json").read_text())
    assert config["env_id"] == "rewardgym/Bandit-Bernoulli10-v0" and config["steps"] == 10000
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    assert float(rows[-1]["step"]) == 10000 and rows[-1]["mean_return"]  # 8 envs x 1250 pulls: episodes ended
    assert (run_dir / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()

    assert main(["eval", str(run_dir), "--episodes", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 20 and result["cumulative_regret"] < 100 and result["success_rate"] > 0.5
    assert main(["eval", str(run_dir), "--episodes", "4"]) == 0
    assert "cumulative_regret" in capsys.readouterr().out
    assert main(["eval", str(run_dir), "--episodes", "4", "--deterministic"]) == 2  # Thompson has no mode
    assert "no deterministic mode" in capsys.readouterr().err


def test_eval_is_deterministic_by_default_and_says_so(tmp_path, capsys):
    assert main(["train", "CartPole-v1", "--agent", "ppo", "--steps", "2048", "--num-envs", "4", "--out", str(tmp_path),
                 "--no-progress", "--config", "num_steps=128"]) == 0
    (run_dir,) = tmp_path.iterdir()
    capsys.readouterr()
    results = {}
    for flags in ([], ["--deterministic"], ["--stochastic"]):
        assert main(["eval", str(run_dir), "--episodes", "8", "--seed", "5", "--json", *flags]) == 0
        results[" ".join(flags)] = json.loads(capsys.readouterr().out)
    assert results[""] == results["--deterministic"] and results[""]["policy"] == "deterministic"
    assert results["--stochastic"]["policy"] == "stochastic"
    assert results["--stochastic"]["mean_return"] != results[""]["mean_return"]  # a barely trained policy: they differ
    assert main(["eval", str(run_dir), "--episodes", "2", "--stochastic"]) == 0
    assert "stochastic policy" in capsys.readouterr().out.splitlines()[0]
    with pytest.raises(SystemExit) as exit_:  # argparse: not both
        main(["eval", str(run_dir), "--deterministic", "--stochastic"])
    assert exit_.value.code == 2 and "not allowed with" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["--config", "ent_coef=abc"], "ent_coef must be a number, got 'abc'"),
    (["--config", "num_steps=1e3"], "num_steps must be an integer, got 1000.0"),
    (["--config", "hidden_sizes=[32,"], "hidden_sizes: not valid JSON"),
    (["--config", "hidden_sizes=32,,32"], "an empty item"),
    (["--config", "hidden_sizes=a,b"], "hidden_sizes must be a list of an integer"),
    (["--out", "FILE"], "is a file, not a folder"),
    (["--out", "FILE/sub"], "is a file, not a folder"),
])  # fmt: skip
def test_train_settings_of_the_wrong_type_are_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "file").write_text("")
    argv = [a.replace("FILE", str(tmp_path / "file")) for a in argv]
    args = ["train", "CartPole-v1", "--agent", "ppo", "--steps", "64", "--no-progress"]
    if "--out" not in argv:
        args += ["--out", str(tmp_path / "runs")]
    assert main([*args, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()


def test_lists_and_json_reach_envs_and_agents(tmp_path):
    from rewardgym.cli import parse_assignments

    assert parse_assignments(["observation_keys=glyphs_crop,blstats", "hidden_sizes=[64, 64]", "goal=a, b",
                              "x=1"], "--config") == {
        "observation_keys": ("glyphs_crop", "blstats"), "hidden_sizes": [64, 64], "goal": "a, b", "x": 1}
    assert main(["train", "rewardgym/Dungeon-Room5x5-v0", "--agent", "ppo", "--steps", "256", "--num-envs", "2",
                 "--env-kwargs", "observation_keys=glyphs_crop,blstats", "--config", "num_steps=64",
                 "hidden_sizes=32,32", "--out", str(tmp_path), "--no-progress"]) == 0
    (run,) = tmp_path.iterdir()
    config = json.loads((run / "config.json").read_text())
    assert config["env_kwargs"]["observation_keys"] == ["glyphs_crop", "blstats"]
    assert config["agent_config"]["hidden_sizes"] == [32, 32]


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("rewardgym 0.")


def test_train_with_a_reward_spec(tmp_path, capsys):
    args = ["train", "rewardgym/Bandit-Bernoulli5-v0", "--agent", "uniform", "--steps", "400", "--num-envs", "4",
            "--env-kwargs", "horizon=50", "--out", str(tmp_path), "--no-progress", "--reward"]
    assert main([*args, "constant:value=1", "--reward-mode", "replace", "--reward-coef", "3"]) == 0
    (run_dir,) = tmp_path.iterdir()
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    assert {float(r["reward_per_step"]) for r in rows if r["reward_per_step"]} == {3.0}
    assert json.loads((run_dir / "config.json").read_text())["reward"] == "constant:value=1"


def test_reward_env_coef_weighs_the_env_reward(tmp_path):
    # Bernoulli arms pay 0 or 1: with the env's reward weighted 10 and a learned 0.5, every step pays 0.5 or 10.5
    args = ["train", "rewardgym/Bandit-Bernoulli5-v0", "--agent", "uniform", "--steps", "400", "--num-envs", "4",
            "--env-kwargs", "horizon=50", "--out", str(tmp_path), "--no-progress", "--reward", "constant:value=0.5",
            "--reward-env-coef", "10"]
    assert main(args) == 0
    (run_dir,) = tmp_path.iterdir()
    rows = list(csv.DictReader(open(run_dir / "metrics.csv")))
    env, total = float(rows[-1]["reward_env_per_step"]), float(rows[-1]["reward_per_step"])
    assert 0 < env < 1 and total == pytest.approx(10 * env + 0.5)
    assert json.loads((run_dir / "config.json").read_text())["reward_env_coef"] == 10.0


@pytest.mark.parametrize("argv, message", [
    (["train", "rewardgym/Bandit-Nope-v0", "--agent", "ucb"], "Bandit-Nope"),
    (["train", "rewardgym/Bandit-Bernoulli10-v0", "--agent", "nope"], "unknown agent 'nope'"),
    (["train", "rewardgym/Bandit-Bernoulli10-v0", "--agent", "ucb", "--steps", "ten"], "not an integer"),
    (["train", "rewardgym/Bandit-Bernoulli10-v0", "--agent", "ucb", "--steps", "0"], "positive integer"),
    (["train", "rewardgym/Bandit-Bernoulli10-v0"], "--agent"),
    (["train", "rewardgym/Bandit-Bernoulli10-v0", "--agent", "ucb", "--reward", "nope:x=1"], "--reward"),
    (["train", "rewardgym/Bandit-Bernoulli10-v0", "--agent", "ucb", "--env-kwargs", "arms"], "KEY=VALUE"),
    (["train", "rewardgym/Bandit-Bernoulli10-v0", "--agent", "ucb", "--env-kwargs", "armz=3"], "armz"),
    (["train", "rewardgym/Bandit-Bernoulli10-v0", "--agent", "ucb", "--config", "c=-1"], "c must be"),
    (["train", "CartPole-v1", "--agent", "ucb"], "bandit env"),
    (["eval", "no/such/run"], "not a run folder"),
    (["list", "--family", "Nope"], "no family"),
    (["play", "CartPole-v1"], "cannot be played"),
    (["fly"], "invalid choice"),
    ([], "COMMAND"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, tmp_path, capsys):
    try:
        code = main([*argv, *(["--out", str(tmp_path)] if argv[:1] == ["train"] else [])])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing half-made


def test_console_script_errors_are_one_line():
    out = subprocess.run([*CLI, "eval", "nowhere"], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip() == "rewardgym: error: nowhere is not a run folder (no config.json)"


def test_corrupt_run_folder(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{oops")
    assert main(["eval", str(tmp_path)]) == 2
    assert "corrupt" in capsys.readouterr().err
    (tmp_path / "config.json").write_text(json.dumps({"env_id": "rewardgym/Bandit-Bernoulli5-v0", "agent": "ucb"}))
    assert main(["eval", str(tmp_path)]) == 2
    assert "cannot load the agent" in capsys.readouterr().err


def test_play_in_the_terminal():
    commands = "arm 1\nwhat?\narm 7\n2\nquit\n"
    out = subprocess.run([*CLI, "play", "rewardgym/Bandit-Bernoulli5-v0", "--seed", "0"], input=commands,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "There are 5 arms" in out.stdout
    assert "Arm 1 paid" in out.stdout and "Arm 2 paid" in out.stdout
    assert "I don't understand 'what?'" in out.stdout and "There is no arm 7" in out.stdout


def test_play_to_the_end_reports_the_episode():
    out = subprocess.run([*CLI, "play", "rewardgym/Bandit-Meta2-v0", "--seed", "3"], input="0\n" * 20,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Episode over. Total reward" in out.stdout and "regret" in out.stdout


def test_presets_are_used_recorded_and_overridable(tmp_path, capsys):
    from rewardgym.workflows.presets import PRESETS, preset_for

    assert preset_for("rewardgym/Manip-ReachDense-v0", "ppo").num_envs == 8
    assert preset_for("rewardgym/Manip-ReachDense-v0", "sb3") is None and preset_for("CartPole-v1", "ppo") is None
    assert all(p.why for p in PRESETS)  # every row says where its settings come from
    base = ["train", "rewardgym/Manip-Reach-v0", "--agent", "ppo", "--steps", "512", "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert "preset rewardgym/Manip-Reach*" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "b"), "--config", "num_steps=32", "--num-envs", "4"]) == 0
    assert main([*base, "--out", str(tmp_path / "c"), "--no-preset"]) == 0
    configs = {name: json.loads(next((tmp_path / name).iterdir()).joinpath("config.json").read_text())
               for name in "abc"}
    assert configs["a"]["preset"] == "rewardgym/Manip-Reach*" and configs["a"]["num_envs"] == 8
    assert configs["a"]["agent_config"]["num_steps"] == 64 and configs["a"]["agent_config"]["norm_obs"] is True
    assert configs["b"]["agent_config"]["num_steps"] == 32 and configs["b"]["num_envs"] == 4  # the command line wins
    assert configs["b"]["agent_config"]["update_epochs"] == 10
    assert configs["c"]["preset"] is None and "norm_obs" not in configs["c"]["agent_config"]


def test_a_presets_budget_and_eval_policy_are_the_defaults(tmp_path, capsys, monkeypatch):
    from rewardgym.workflows import presets

    monkeypatch.setattr(presets, "PRESETS", (presets.Preset("rewardgym/Bandit-Bernoulli2*", "ppo", {"num_steps": 16},
                                                            steps=64, eval_deterministic=False, why="a test"),))
    base = ["train", "rewardgym/Bandit-Bernoulli2-v0", "--agent", "ppo", "--no-progress", "--num-envs", "2"]
    assert main([*base, "--out", str(tmp_path / "a")]) == 0
    assert "64 steps, eval samples actions" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path / "b"), "--steps", "96"]) == 0  # the command line wins
    (a,), (b,) = ((tmp_path / name).iterdir() for name in "ab")
    configs = [json.loads((run / "config.json").read_text()) for run in (a, b)]
    assert [c["steps"] for c in configs] == [64, 96] and configs[0]["eval_deterministic"] is False
    capsys.readouterr()
    assert main(["eval", str(a), "--episodes", "2"]) == 0
    assert "stochastic policy (the run's preset; --deterministic for the mode)" in capsys.readouterr().out
    assert main(["eval", str(a), "--episodes", "2", "--json", "--deterministic"]) == 0
    assert json.loads(capsys.readouterr().out)["policy"] == "deterministic"


def test_showcase_runs_the_whole_loop(tmp_path, capsys):
    out = tmp_path / "showcase"
    assert main(["showcase", "--out", str(out), "--steps", "1024", "--seeds", "0", "--demos", "4"]) == 0
    printed = capsys.readouterr().out
    assert "1/3" in printed and "3/3" in printed and "plot:" in printed
    results = json.loads((out / "results.json").read_text())
    assert set(results["summary"]) == {"sparse reward", "sparse + progress shaping"}
    assert all(len(runs) == 1 and runs[0]["steps"] >= 1024 for runs in results["runs"].values())
    assert (out / "showcase.png").read_bytes()[:4] == b"\x89PNG" and (out / "model").is_dir()
    (tmp_path / "file").write_text("")
    assert main(["showcase", "--out", str(tmp_path / "file")]) == 2


def test_threads_sets_torchs_thread_count(tmp_path):
    import torch

    before = torch.get_num_threads()
    try:
        assert main(["train", "rewardgym/Bandit-Bernoulli2-v0", "--agent", "ucb", "--steps", "100", "--threads", "1",
                     "--out", str(tmp_path), "--no-progress"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_text_worlds_train_with_ppo_out_of_the_box(tmp_path, capsys):
    assert main(["train", "rewardgym/Text-Coins-v0", "--agent", "ppo", "--steps", "256", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    assert "preset rewardgym/Text-*" in capsys.readouterr().err
    (run,) = list(tmp_path.iterdir())
    config = json.loads((run / "config.json").read_text())
    assert config["env_kwargs"] == {"action_mode": "choice", "observation": "vector"}
    assert main(["eval", str(run), "--episodes", "2"]) == 0


def test_gui_tasks_train_with_ppo_on_the_element_table(tmp_path, capsys):
    assert main(["train", "rewardgym/GUI-ClickDialog-v0", "--agent", "ppo", "--steps", "256", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    assert "preset rewardgym/GUI-*" in capsys.readouterr().err
    (run,) = list(tmp_path.iterdir())
    config = json.loads((run / "config.json").read_text())
    assert config["env_kwargs"] == {"action_mode": "elements", "observation": "elements"}
    assert config["agent_config"]["norm_obs"] is True


def test_ppo_on_text_observations_names_the_fix(tmp_path, capsys):
    assert main(["train", "rewardgym/Text-Coins-v0", "--agent", "ppo", "--no-preset", "--steps", "10",
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "PPO cannot read Text observations: give the env numeric observations" in err
    assert "action_mode=choice observation=vector" in err and len(err.strip().splitlines()) == 1
