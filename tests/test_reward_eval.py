"""Reward-model evaluation: the statistics by hand, the metrics on real rollouts, and the command."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from rewardgym.cli import main
from rewardgym.workflows.reward_eval import (
    EpisodeScore,
    auroc,
    evaluate_reward,
    pearson,
    rankdata,
    report_from_episodes,
    spearman,
)

REACH = "rewardgym/Manip-Reach-v0"
ROOM = "rewardgym/Dungeon-Room5x5-v0"
BANDIT = "rewardgym/Bandit-Bernoulli5-v0"


# -- reward models for the tests, reachable as python:<this module>:<class> specs ----------
class ReachDistance:
    """Minus the gripper's distance to the goal after the step: Reach's dense reward, from the batch."""

    needs_frames = False

    def __call__(self, batch):
        return -np.linalg.norm(batch.next_obs["achieved_goal"] - batch.next_obs["desired_goal"], axis=1)


class StairsDistance:
    """Minus the king-move distance from the player to the staircase down, read off the dungeon map."""

    needs_frames = False

    def __call__(self, batch):
        out = np.zeros(len(batch))
        for i, (chars, stats) in enumerate(zip(batch.next_obs["chars"], batch.next_obs["blstats"])):
            rows, cols = np.nonzero(chars == ord(">"))
            if len(cols):  # no '>' on the map: the player stands on it
                out[i] = -max(abs(cols[0] - stats[0]), abs(rows[0] - stats[1]))
        return out


class Noise:
    """Standard normal noise, the same sequence on every run."""

    needs_frames = False

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def __call__(self, batch):
        return self.rng.normal(size=len(batch))


class Recorder(ReachDistance):
    """ReachDistance that keeps every batch it is given."""

    def __init__(self):
        self.batches = []

    def __call__(self, batch):
        self.batches.append(batch)
        return super().__call__(batch)


class Brightness:
    """The mean pixel of each frame; records the frame batches' shapes and dtypes."""

    needs_frames = True

    def __init__(self):
        self.frames = []

    def __call__(self, batch):
        self.frames.append((batch.frames.shape, batch.frames.dtype, len(batch)))
        return batch.frames.reshape(len(batch), -1).mean(axis=1)


def builds_a_number():
    """A factory that returns something other than a reward model."""
    return 3


def spec(name: str) -> str:
    return f"python:{__name__}:{name}"


# -- statistics against hand-computed values ----------------------------------------------
def test_rankdata_gives_tied_values_their_mean_rank():
    assert rankdata([10, 20, 20, 30]).tolist() == [1, 2.5, 2.5, 4]
    assert rankdata([3, 1, 2]).tolist() == [3, 1, 2]
    assert rankdata([5, 5, 5]).tolist() == [2, 2, 2]
    assert rankdata([2.0, 1.0, 2.0, 1.0, 2.0]).tolist() == [4, 1.5, 4, 1.5, 4]


def test_pearson_by_hand():
    # dx = (-1, 0, 1), dy = (-7/3, -1/3, 8/3): r = 5 / sqrt(2 · 114/9) = 15 / sqrt(228)
    assert pearson([1, 2, 3], [2, 4, 7]) == pytest.approx(15 / math.sqrt(228), abs=1e-12)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)


def test_spearman_with_ties_by_hand():
    # ranks of y = (1, 2, 3.5, 5, 3.5); dx = (-2, -1, 0, 1, 2), dy = (-2, -1, .5, 2, .5): r = 8 / sqrt(10 · 9.5)
    assert spearman([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]) == pytest.approx(8 / math.sqrt(95), abs=1e-12)
    # monotone but not linear: Spearman 1, Pearson below 1
    assert spearman([1, 2, 3, 4], [1, 10, 100, 1000]) == pytest.approx(1.0)
    assert pearson([1, 2, 3, 4], [1, 10, 100, 1000]) < 0.9


@pytest.mark.parametrize("x, y", [([1.0], [2.0]), ([1, 2, 3], [4, 4, 4]), ([0.1] * 5, [1, 2, 3, 4, 5]),
                                  ([1, 2, 3], [1, np.nan, 3]), ([1, 2, 3], [1, np.inf, 3])])
def test_correlations_are_nan_when_undefined(x, y):
    assert math.isnan(pearson(x, y)) and math.isnan(spearman(x, y))


def test_auroc_by_hand():
    # positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of 4 pairs ordered right
    assert auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    # positives {2, 3} against negatives {1, 2}: pairs 1 + 0.5 (tie) + 1 + 1 out of 4
    assert auroc([1, 2, 2, 3], [False, True, False, True]) == pytest.approx(0.875)
    assert auroc([7, 7, 7, 7], [0, 1, 0, 1]) == pytest.approx(0.5)
    assert auroc([4, 3, 2, 1], [1, 1, 0, 0]) == 1.0
    assert auroc([1, 2, 3, 4], [1, 1, 0, 0]) == 0.0


def test_auroc_is_nan_with_one_class():
    assert math.isnan(auroc([1, 2, 3], [True, True, True]))
    assert math.isnan(auroc([1, 2, 3], [0, 0, 0]))
    with pytest.raises(ValueError, match="differ in length"):
        auroc([1, 2], [1])


def episode(policy, learned, true, success, first_success=None, seed=0):
    return EpisodeScore(policy, seed, np.asarray(learned, float), np.asarray(true, float), success, first_success)


def test_voc_is_cut_at_the_first_success():
    # rising until success at step 2, then an idle tail that would otherwise lower the correlation
    rising = episode("expert", [1, 2, 3, 0, 0], [0, 0, 1, 1, 1], True, first_success=2)
    falling = episode("expert", [3, 2, 1], [0, 0, 1], True, first_success=2)
    instant = episode("expert", [5, 5], [1, 1], True, first_success=0)  # one step: left out
    never = episode("random", [0, 0, 0, 0], [0, 0, 0, 0], False)
    report = report_from_episodes("x", "r", 0, [rising, falling, instant, never])
    assert report.voc == pytest.approx(0.0)  # mean of +1 and -1
    assert report.voc_episodes == 2
    assert report.voc_cumulative == pytest.approx(1.0)  # cumsums of positive rewards always rise
    assert any("1 of 3 expert episodes that succeed at their first step" in n for n in report.notes)
    assert report.length_baseline["auroc"] == pytest.approx(2 / 3)  # the short successes beat the 4-step failure
    assert report.policies["expert"] == {"episodes": 3, "learned_return": pytest.approx(22 / 3),
                                         "true_return": pytest.approx(2.0), "success_rate": 1.0,
                                         "length": pytest.approx(10 / 3)}


def test_report_explains_undefined_metrics_and_writes_strict_json():
    flat = [episode("expert", [1, 1, 1], [0, 0, 1], True, first_success=2, seed=s) for s in range(3)]
    report = report_from_episodes("x", "constant", 0, flat)
    assert math.isnan(report.voc) and math.isnan(report.pearson) and math.isnan(report.auroc)
    notes = " ".join(report.notes)
    assert "constant" in notes and "every episode succeeded" in notes and "same for every episode" in notes
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["metrics"]["voc"] is None and data["metrics"]["voc_cumulative"] == 1.0
    assert "n/a" in report.summary()


# -- the metrics on real rollouts ---------------------------------------------------------
def test_reach_distance_reward_beats_noise():
    good = evaluate_reward(REACH, spec("ReachDistance"), episodes=10, progress=False)
    noise = evaluate_reward(REACH, spec("Noise"), episodes=10, progress=False)
    assert good.voc > 0.95 and good.auroc > 0.95 and good.pearson > 0.8 and good.spearman > 0.8
    assert abs(noise.voc) < 0.5 and abs(noise.auroc - 0.5) < 0.3 and abs(noise.spearman) < 0.5
    assert good.voc_cumulative < -0.9  # summed negative distances fall: VOC reads rewards as progress values
    assert good.policies["expert"]["success_rate"] == 1.0 and good.policies["random"]["success_rate"] < 0.5
    # the same seeds give the same tasks: the true returns do not depend on the reward model
    assert [e.true_return for e in good.episodes] == [e.true_return for e in noise.episodes]
    assert len(good.trace.learned) == 50 and good.trace.policy == "expert"


def test_each_episode_is_one_batch_of_its_transitions():
    model = Recorder()
    report = evaluate_reward(REACH, model, episodes=2, progress=False)
    assert len(model.batches) == 4  # two policies, one call per episode
    for batch, scored in zip(model.batches, report.episodes):
        assert len(batch) == scored.length == 50 and batch.next_obs["achieved_goal"].shape == (50, 3)
        np.testing.assert_array_equal(batch.obs["observation"][1:], batch.next_obs["observation"][:-1])
        assert batch.action.shape == (50, 4) and batch.truncated[-1] and not batch.truncated[:-1].any()
        assert [info["success"] for info in batch.infos][-1] == scored.success
        assert batch.frames is None
    assert "Recorder" in report.reward  # a built model is named by its repr


def test_discrete_dungeon_distance_reward_beats_noise():
    good = evaluate_reward(ROOM, spec("StairsDistance"), episodes=6, progress=False)
    noise = evaluate_reward(ROOM, spec("Noise"), episodes=6, progress=False)
    assert good.voc == pytest.approx(1.0) and good.auroc > 0.9
    assert noise.voc < 0.7 and good.auroc > noise.auroc
    random = good.policies["random"]
    assert 0 < random["success_rate"] < 1  # both classes among random episodes: AUROC is not just expert-vs-random


def test_frames_model_gets_the_rendered_frames():
    model = Brightness()
    report = evaluate_reward(ROOM, model, episodes=1, policies=("expert",), progress=False)
    ((shape, dtype, size),) = model.frames
    assert size == report.episodes[0].length and shape[0] == size and shape[3] == 3 and dtype == np.uint8


def test_env_without_an_expert_is_judged_on_random_rollouts():
    report = evaluate_reward(BANDIT, "constant:value=1", episodes=3, env_kwargs={"horizon": 20}, progress=False)
    assert list(report.policies) == ["random"] and report.policies["random"]["length"] == 20
    assert math.isnan(report.voc) and any("no scripted expert for the Bandit family" in n for n in report.notes)
    with pytest.raises(ValueError, match="no scripted expert"):
        evaluate_reward(BANDIT, "constant:value=0", episodes=1, policies=("expert",), progress=False)


@pytest.mark.parametrize("kwargs, message", [
    ({"env_id": "rewardgym/Nope-v0"}, "Nope"),
    ({"spec_or_model": "nope:x=1"}, "unknown reward 'nope'"),
    ({"env_kwargs": {"armz": 3}}, "armz"),
    ({"episodes": 0}, "episodes must be"),
    ({"policies": ("expert", "oracle")}, "policies must be"),
    ({"spec_or_model": spec("Brightness")}, "needs frames"),
])
def test_bad_inputs_raise_value_error(kwargs, message):
    arguments = {"env_id": BANDIT, "spec_or_model": "constant:value=0", "progress": False, **kwargs}
    with pytest.raises(ValueError, match=message):
        evaluate_reward(**arguments)


def test_evaluation_module_imports_neither_torch_nor_matplotlib():
    code = ("import sys, rewardgym.workflows.reward_eval; "
            "print(sorted(m for m in ('torch', 'matplotlib', 'mujoco') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- the command --------------------------------------------------------------------------
def test_command_prints_the_table_and_writes_the_plot(tmp_path, capsys):
    plot = tmp_path / "figures" / "reach.png"
    assert main(["reward-eval", REACH, "--reward", spec("ReachDistance"), "--episodes", "4", "--seed", "5",
                 "--plot", str(plot), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"reward {spec('ReachDistance')} on {REACH}" in out and "seeds from 5" in out
    voc_line = next(line for line in out.splitlines() if "VOC: per-step" in line)
    assert float(voc_line.split()[-1]) > 0.95
    assert "expert" in out and "random" in out and "AUROC" in out
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_command_json(capsys):
    assert main(["reward-eval", BANDIT, "--reward", "constant:value=2", "--episodes", "2", "--env-kwargs",
                 "horizon=10", "--json", "--no-progress"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["metrics"]["voc"] is None and data["policies"]["random"]["learned_return"] == 20.0
    assert [e["seed"] for e in data["episodes"]] == [0, 1] and data["notes"]


@pytest.mark.parametrize("argv, message", [
    (["rewardgym/Bandit-Nope-v0", "--reward", "constant:value=0"], "Bandit-Nope"),
    ([BANDIT, "--reward", "nope:x=1"], "unknown reward 'nope'"),
    ([BANDIT, "--reward", "python:no_such_module:Reward"], "cannot import 'no_such_module'"),
    ([BANDIT, "--reward", "constant:value=abc"], "constant reward value"),
    ([BANDIT, "--reward", spec("REACH")], "not a class or factory"),
    ([BANDIT, "--reward", spec("builds_a_number")], "builds_a_number"),
    ([BANDIT, "--reward", "constant:value=0", "--env-kwargs", "armz=3"], "armz"),
    ([BANDIT, "--reward", "constant:value=0", "--env-kwargs", "arms"], "KEY=VALUE"),
    ([BANDIT, "--reward", "constant:value=0", "--plot", "out.txt"], "must end in .png"),
    ([BANDIT, "--reward", spec("Brightness")], "needs frames"),
    ([BANDIT, "--reward", "constant:value=0", "--episodes", "0"], "positive integer"),
    ([BANDIT], "--reward"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message, capsys):
    try:
        code = main(["reward-eval", *argv, "--no-progress"])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and message in captured.err, captured.err
    assert "Traceback" not in captured.err


def test_console_error_is_one_line():
    out = subprocess.run([sys.executable, "-m", "rewardgym.cli", "reward-eval", BANDIT, "--reward", "nope"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().startswith("rewardgym: error: unknown reward 'nope'")
    assert len(out.stderr.strip().splitlines()) == 1


def test_verdict_from_pearson_and_auroc():
    from rewardgym.workflows.reward_eval import RewardReport

    def verdict(pearson, auroc, length=None):
        return RewardReport("env", "r", 0, [], math.nan, math.nan, 0, pearson, math.nan, auroc,
                            length_baseline=length or {}).verdict

    assert verdict(-0.999, 0.0)[0] == "inverted" and "opposite" in verdict(-0.999, 0.0)[1]
    assert verdict(0.9, 0.2)[0] == "inverted"  # ranks failures above successes
    assert verdict(0.9, 0.9) == ("good", "Pearson 0.900, AUROC 0.900: it ranks episodes as the true return does")
    assert verdict(0.9, math.nan)[0] == "good"  # AUROC undefined: Pearson decides
    assert verdict(0.4, 0.9)[0] == "weak" and verdict(0.9, 0.6)[0] == "weak"
    assert "episode length alone does as well" in verdict(0.9, 0.9, {"pearson": 0.95, "auroc": 1.0})[1]
    assert "length" not in verdict(0.9, 0.9, {"pearson": 0.5, "auroc": 1.0})[1]
    assert verdict(math.nan, math.nan)[0] == "unknown"


def test_the_readme_text_embedding_example_is_a_good_reward():
    """Text-Treasure: the state form pays for lingering (inverted); the delta form ranks episodes rightly."""
    lingering = evaluate_reward("rewardgym/Text-Treasure-v0", "text-embedding:goal=take the treasure",
                                episodes=10, progress=False)
    delta = evaluate_reward("rewardgym/Text-Treasure-v0", "text-embedding:goal=take the treasure;form=delta",
                            episodes=10, progress=False)
    assert lingering.verdict[0] == "inverted" and lingering.pearson < 0
    assert delta.verdict[0] == "good" and delta.pearson > 0.5 and delta.auroc > 0.7
    assert "verdict: good" in delta.summary() and delta.to_dict()["verdict"]["verdict"] == "good"
