"""Learning on the manipulation family (slow, ``pytest -m slow``): Manip-Reach-v0 to >= 90% success on CPU.

Both routes of ``benchmarks/manipulation_learning.py``, with its settings, trained through
``rewardgym train`` from state observations and tested on 100 episodes of the sparse
``rewardgym/Manip-Reach-v0`` with held-out seeds (from 1,000,000): rewardgym's PPO trained on
the dense variant, and SB3's SAC with ``HerReplayBuffer`` on the sparse task itself.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from rewardgym.cli import main

pytestmark = pytest.mark.slow

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "manipulation_learning.py"


def _benchmark():
    spec = importlib.util.spec_from_file_location("manipulation_learning", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("route", ["ppo", "sac-her"])
def test_reach_reaches_90_percent_success_on_held_out_seeds(route, tmp_path, capsys):
    result = _benchmark().run_route(route, seed=0, episodes=100, out=tmp_path)
    assert result["episodes"] == 100
    assert result["success_deterministic"] >= 0.9, result
    if route == "ppo":  # PPO evaluates its stochastic policy by default: that too
        assert result["success_stochastic"] >= 0.9, result

    # `rewardgym eval` on the run folder says the same (for PPO on the dense variant: same goals, same success)
    (run_dir,) = tmp_path.iterdir()
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--episodes", "100", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["success_rate"] >= 0.9
