"""``rewardgym sweep``: seeds x grid points as normal run folders, one comparison plot, failures reported.

The Ray test starts a local cluster on the loopback address (``--ray`` alone does), so nothing
leaves the machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardgym.cli import main
from rewardgym.workflows.sweep import grid_points, parse_seeds

TINY = ["--steps", "512", "--config", "num_steps=64", "--", "--num-envs", "2"]


def _sweep_folder(out: Path) -> Path:
    (folder,) = out.iterdir()
    return folder


def test_seeds_and_grids_expand_as_written():
    assert parse_seeds(["0-3"]) == [0, 1, 2, 3]
    assert parse_seeds(["0,2", "7", "2"]) == [0, 2, 7]
    for bad in (["3-1"], ["x"], ["-1"], [""]):
        with pytest.raises(ValueError, match="--seeds"):
            parse_seeds(bad)
    assert grid_points({"lr": (1, 2), "ent": 0}) == [{"lr": 1, "ent": 0}, {"lr": 2, "ent": 0}]
    assert grid_points({}) == [{}]


def test_a_sweep_trains_every_seed_and_grid_point_and_compares_them(tmp_path, capsys):
    status = main(["sweep", "CartPole-v1", "--agent", "ppo", "--seeds", "0-1", "--grid", "learning_rate=1e-4,1e-3",
                   "--jobs", "2", "--out", str(tmp_path), *TINY])
    out = capsys.readouterr().out
    assert status == 0, out
    folder = _sweep_folder(tmp_path)
    runs = sorted(folder.glob("learning_rate=*/CartPole-v1-ppo-s*"))
    assert len(runs) == 4 and (folder / "comparison.png").stat().st_size > 0
    configs = [json.loads((run / "config.json").read_text()) for run in runs]
    assert sorted((c["agent_config"]["learning_rate"], c["seed"]) for c in configs) == [
        (1e-4, 0), (1e-4, 1), (1e-3, 0), (1e-3, 1)]
    assert all(c["agent_config"]["num_steps"] == 64 and c["num_envs"] == 2 for c in configs)  # after --
    # one group per grid point, labelled by the setting that differs; the seeds are its members
    assert "ppo (learning_rate=0.0001): seeds [0, 1]" in out.replace("seeds [1, 0]", "seeds [0, 1]")
    assert "ppo (learning_rate=0.001):" in out and out.count("[") >= 4
    record = json.loads((folder / "sweep.json").read_text())
    assert len(record) == 4 and all(r["status"] == 0 and Path(r["run_dir"]).is_dir() for r in record)


def test_bad_sweeps_are_one_line_and_failed_runs_are_reported(tmp_path, capsys):
    assert main(["sweep", "CartPole-v1", "--agent", "ppo", "--seeds", "4-2", "--out", str(tmp_path)]) == 2
    assert "--seeds: '4-2' is not a range" in capsys.readouterr().err
    assert main(["sweep", "CartPole-v1", "--agent", "ppo", "--out", str(tmp_path), "--", "--bogus"]) == 2
    assert "the train arguments above do not parse" in capsys.readouterr().err
    assert main(["sweep", "CartPole-v1", "--agent", "ppo", "--out", str(tmp_path), "--", "--config", "a=1"]) == 2
    assert "give --config to sweep itself, not after --" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing started

    # every run fails in train (an env argument the env rejects): each is one line, the sweep exits 1
    status = main(["sweep", "rewardgym/Bandit-Meta5-v0", "--agent", "ucb", "--seeds", "0-1", "--steps", "100",
                   "--env-kwargs", "horizon=-3", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert status == 1 and captured.out.count("FAILED: rewardgym: error: bad --env-kwargs") == 2
    assert "2 of 2 runs failed" in captured.err
    record = json.loads((_sweep_folder(tmp_path) / "sweep.json").read_text())
    assert [r["status"] for r in record] == [2, 2]


def test_a_sweep_on_a_local_ray_cluster_leaves_its_runs_and_a_plot(tmp_path, capsys):
    status = main(["sweep", "CartPole-v1", "--agent", "ppo", "--seeds", "0-2", "--jobs", "2", "--ray",
                   "--out", str(tmp_path), *TINY])
    out = capsys.readouterr().out
    assert status == 0, out
    folder = _sweep_folder(tmp_path)
    assert len(list(folder.glob("base/CartPole-v1-ppo-s*"))) == 3 and (folder / "comparison.png").is_file()
    assert "on Ray (a local cluster)" in out and "ppo: seeds" in out


def test_a_sweep_joins_a_two_node_cluster_by_its_loopback_address(tmp_path, capsys):
    from rewardgym.testing import loopback_cluster

    with loopback_cluster(num_nodes=2, num_cpus=1, connect=False) as address:
        assert address.startswith("127.0.0.1:")
        status = main(["sweep", "CartPole-v1", "--agent", "ppo", "--seeds", "0-2", "--ray", address,
                       "--out", str(tmp_path), *TINY])
    out = capsys.readouterr().out
    assert status == 0, out
    folder = _sweep_folder(tmp_path)
    assert len(list(folder.glob("base/CartPole-v1-ppo-s*"))) == 3 and (folder / "comparison.png").is_file()
    assert f"on Ray ({address})" in out


def test_grid_values_cannot_lead_out_of_the_sweep_folder(tmp_path):
    from rewardgym.workflows.sweep import plan

    jobs = plan("CartPole-v1", "ppo", [0], {"note": ("../../etc", "a/b")}, [], tmp_path / "sweep")
    outs = [Path(job.argv[job.argv.index("--out") + 1]) for job in jobs]
    assert [out.parent for out in outs] == [tmp_path / "sweep"] * 2 and len(set(outs)) == 2
    assert [job.label for job in jobs] == ["note=../../etc", "note=a/b"]  # the label itself is kept as given
