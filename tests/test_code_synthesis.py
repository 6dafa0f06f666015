"""LLM-written reward code: the sandbox's containment, code extraction, the prompt, the Eureka loop."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
import time

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from rewardgym.reward_models import make_reward
from rewardgym.reward_models.synthesis import (
    RewardCodeError,
    SandboxedReward,
    build_prompt,
    extract_code,
    pruned_source,
)
from rewardgym.workflows.synthesis import synthesize_reward
from rewardgym.wrappers.vector import LearnedReward

GOOD = textwrap.dedent("""
    def compute_reward(obs, action, next_obs, info):
        distance = float(np.linalg.norm(next_obs["position"] - next_obs["goal"]))
        return -distance, {"distance": -distance}
""")


def body(code: str) -> str:
    return "def compute_reward(obs, action, next_obs, info):\n" + textwrap.indent(textwrap.dedent(code), "    ")


def transitions(n: int = 4) -> list[tuple]:
    return [({"position": np.zeros(1), "goal": np.ones(1)}, 1, {"position": np.full(1, 0.1 * i), "goal": np.ones(1)},
             {"task": "reach"}) for i in range(n)]


@pytest.fixture(scope="module")
def good_model():
    with SandboxedReward(GOOD, timeout_s=5) as model:
        yield model


def test_valid_code_scores_batches_and_keeps_components(good_model):
    rewards = good_model.score(transitions(5))
    np.testing.assert_allclose(rewards, [-1.0, -0.9, -0.8, -0.7, -0.6], rtol=1e-6)
    assert rewards.dtype == np.float32
    np.testing.assert_allclose(good_model.last_components["distance"], rewards, rtol=1e-6)
    stats = good_model.component_stats()["distance"]
    assert stats["min"] == pytest.approx(-1.0) and stats["max"] == pytest.approx(-0.6)


# Refused before running: the static check (imports, dunders, NumPy's file functions).
@pytest.mark.parametrize("code, reason", [
    ("import os\n" + body("return 0.0, {}"), "import"),
    (body("from os import system\nreturn 0.0, {}"), "import"),
    (body("return __import__('os'), {}"), "__import__"),
    (body("x = ().__class__.__mro__[1].__subclasses__()\nreturn 0.0, {}"),
     "attribute '__(class|mro|subclasses)__' is not allowed"),
    (body("return 0.0, {'g': len(compute_reward.__globals__)}"), "__globals__"),
    (body("return 0.0, {'n': len('{0.__class__}'.format(1))}"), "'__'"),
    (body("np.zeros(3).tofile('out.bin')\nreturn 0.0, {}"), "tofile"),
    (body("np.save('out.npy', np.zeros(3))\nreturn 0.0, {}"), "save"),
    (body("g = (x for x in [1])\nreturn 0.0, {'f': len(g.gi_frame.f_globals)}"), "attribute '(gi_frame|f_globals)'"),
    ("def compute_reward(obs, action, next_obs, info:\n    return 0.0, {}\n", "syntax error"),
    ("def reward(obs):\n    return 0.0, {}\n", "no top-level function compute_reward"),
])
def test_static_check_refuses(code, reason):
    with pytest.raises(RewardCodeError, match=reason):
        SandboxedReward(code)


# Run, and contained at run time: each gives a clear error; the model keeps working afterwards.
@pytest.mark.parametrize("code, reason", [
    (body("open('out.txt', 'w').write('x')\nreturn 0.0, {}"), "NameError: name 'open' is not defined"),
    (body("f = getattr(np.zeros(3), 'tofile')\nreturn 0.0, {}"), "attribute 'tofile' is not allowed"),
    (body("eval('1')\nreturn 0.0, {}"), "name 'eval' is not defined"),
    (body("exec('x = 1')\nreturn 0.0, {}"), "name 'exec' is not defined"),
    (body("sys.exit(1)"), "name 'sys' is not defined"),
    (body("raise SystemExit(1)"), "name 'SystemExit' is not defined"),
    (body("return 0.0, {'g': len(globals())}"), "name 'globals' is not defined"),
    (body("x = np.zeros(10**10)\nreturn float(x[0]), {}"), "MemoryError"),
    (body("x = [0] * 10**10\nreturn 0.0, {}"), "MemoryError"),
    (body("return 1.0 / (obs['position'][0] * 0), {}"), "ZeroDivisionError|must be finite"),
    (body("return 'high', {}"), "the reward must be a float, got str"),
    (body("return float('nan'), {}"), "the reward must be finite, got nan"),
    (body("return 1.0"), r"must return \(reward, components\), got float"),
    (body("return 1.0, 2.0, {}"), r"must return \(reward, components\)"),
    (body("return 1.0, [0.5]"), "components must be a dict"),
    (body("return 1.0, {'a': 'x'}"), "component 'a' must be a float"),
    (body("return 1.0, {'a': math.inf}"), "component 'a' must be finite"),
    (body("return np.ones(3), {}"), "the reward must be a float"),
])
def test_runtime_failures_are_clear_errors(code, reason, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with SandboxedReward(code, timeout_s=5) as model:
        with pytest.raises(RewardCodeError, match=reason):
            model.score(transitions(2))
        assert model._process is not None and model._process.poll() is None  # the worker survived
    assert list(tmp_path.iterdir()) == []  # nothing written where the caller runs


def test_infinite_loop_times_out_and_the_worker_goes_on():
    code = body("if obs['goal'][0] > 5:\n    while True:\n        pass\nreturn 1.0, {}")
    with SandboxedReward(code, timeout_s=1.0) as model:
        process = model._process
        started = time.monotonic()
        with pytest.raises(RewardCodeError, match="timed out after 1 s"):
            model.score([({"goal": np.full(1, 9.0)}, 0, {}, {})])
        assert time.monotonic() - started < 5
        # the call's process was killed; the worker was not
        np.testing.assert_array_equal(model.score([({"goal": np.zeros(1)}, 0, {}, {})]), [1.0])
        assert model._process is process and model.restarts == 0


def test_a_dead_worker_is_restarted(good_model):
    good_model._process.kill()
    good_model._process.wait()
    with pytest.raises(RewardCodeError, match="worker died"):
        good_model._request(b"S", 1, pickle.dumps(transitions(1)), restart=False)
    assert len(good_model.score(transitions(3))) == 3
    assert good_model.restarts == 1


def test_errors_at_definition_time():
    with pytest.raises(RewardCodeError, match="while defining the code: ZeroDivisionError"):
        SandboxedReward("SCALE = 1 / 0\n" + GOOD)


# -- extraction ------------------------------------------------------------------------------
@pytest.mark.parametrize("answer", [
    f"Here is the reward:\n```python\n{GOOD}```\nIt penalises distance.",
    f"```py\n{GOOD}```",
    f"```\n{GOOD}```",
    f"Sure!\n{GOOD.strip()}\n\nThis reward works because it is dense.",
    f"```python\n# a first idea\nx = 1\n```\nBetter:\n```python\n{GOOD}```",
    f"```python\n{GOOD}\nThis is the end of the code.\n```",
    f"```python\n{GOOD}",  # the answer was cut off after the code
])
def test_extract_code_finds_compute_reward(answer):
    code = extract_code(answer)
    assert code is not None and "def compute_reward" in code
    with SandboxedReward(code) as model:
        assert model.score(transitions(1))[0] == pytest.approx(-1.0)


def test_extract_code_keeps_helpers_above_a_bare_def():
    answer = "Reward:\nSCALE = 2.0\ndef helper(x):\n    return SCALE * x\n" + GOOD.strip() + "\nDone."
    code = extract_code(answer)
    assert code is not None and "def helper" in code and "SCALE = 2.0" in code and "Done" not in code


@pytest.mark.parametrize("answer", ["", "I cannot help with that.", "```python\nprint('hi')\n```",
                                    "def compute_reward(obs:\n  oops", None])
def test_extract_code_returns_none_without_code(answer):
    assert extract_code(answer) is None


# -- the prompt ------------------------------------------------------------------------------
def test_prompt_has_spaces_task_and_pruned_source_without_the_reward():
    env = gym.make("rewardgym/Manip-Reach-v0")
    try:
        _, info = env.reset(seed=0)
        messages = build_prompt(env, info["task"], feedback="FEEDBACK-MARKER")
    finally:
        env.close()
    text = messages[-1]["content"]
    assert messages[0]["role"] == "system"
    assert info["task"] in text and "FEEDBACK-MARKER" in text
    assert "obs['achieved_goal']: array shape (3,) float64" in text
    assert "action: array shape (4,) float32, values in [-1, 1]" in text
    assert "def compute_reward(obs, action, next_obs, info)" in text
    assert "class ReachTask" in text and "def achieved_goal" in text  # the task's source is there
    source = pruned_source(type(env.unwrapped))
    assert "def step" in source and "reward" not in source.split("def step")[1].split("return")[0]
    assert "def compute_reward" not in source and '"""' not in source and "# " not in source


# -- the evolutionary loop -------------------------------------------------------------------
class LineReach(gym.Env):
    """A point on a line moved left or right toward a goal; success within 0.15 of it.

    Observation: ``position`` where the point is; ``goal`` where it should go.
    """

    def __init__(self):
        self.observation_space = spaces.Dict({"position": spaces.Box(-2, 2, (1,), np.float32),
                                              "goal": spaces.Box(-2, 2, (1,), np.float32)})
        self.action_space = spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = np.zeros(1, np.float32)
        self.goal = self.np_random.uniform(-0.6, 0.6, 1).astype(np.float32)
        return self._obs(), self._info()

    def step(self, action):
        self.position = np.clip(self.position + 0.1 * (int(action) - 1), -2, 2).astype(np.float32)
        info = self._info()
        reward = float(info["success"])
        return self._obs(), reward, False, False, info

    def _obs(self):
        return {"position": self.position.copy(), "goal": self.goal.copy()}

    def _info(self):
        return {"success": bool(abs(self.position[0] - self.goal[0]) < 0.15), "task": "move the point to the goal"}


LINE_REACH = "rewardgym_test/LineReach-v0"
if LINE_REACH not in gym.registry:
    gym.register(LINE_REACH, entry_point=LineReach, max_episode_steps=12)

POOR = body("d = float(abs(next_obs['position'][0] - next_obs['goal'][0]))\nreturn d, {'away': d}")
BROKEN = "import os\n" + GOOD


class ScriptedLLM:
    """A stand-in for an LLM: returns fixed answers, in order, and records the prompts it got."""

    def __init__(self, answers: list[str]):
        self.answers = list(answers)
        self.prompts: list = []

    def generate(self, prompts, *, max_new_tokens=64, temperature=0.1):
        self.prompts.append(prompts)
        out, self.answers = self.answers[:len(prompts)], self.answers[len(prompts):]
        return out


def test_synthesis_loop_keeps_the_good_candidate_and_writes_the_run_folder(tmp_path):
    llm = ScriptedLLM([
        f"```python\n{BROKEN}```", f"```python\n{POOR}```", f"Try this:\n```python\n{GOOD}```",  # iteration 0
        "I am not sure what to write.", f"```python\n{POOR}```", f"```python\n{GOOD}```",  # iteration 1
    ])
    result = synthesize_reward(LINE_REACH, llm, iterations=2, candidates=3, train_steps=3072, eval_episodes=24,
                               num_envs=8, seed=0, out=tmp_path / "run", progress=False,
                               ppo_config={"num_steps": 32, "num_minibatches": 4, "update_epochs": 4,
                                           "learning_rate": 3e-3, "norm_obs": False})
    broken, poor, good = result.candidates[:3]
    assert broken.status == "validation" and "import statements are not allowed" in broken.error
    assert result.candidates[3].status == "extraction" and result.candidates[3].code is None
    assert poor.status == good.status == "trained"
    assert good.success_rate >= 0.8 and poor.success_rate <= 0.2, (good.success_rate, poor.success_rate)
    assert result.best is good and result.code == GOOD.lstrip("\n") and result.score == good.success_rate
    assert set(good.component_stats) == {"reward", "distance"} and good.component_stats["distance"]["max"] <= 0

    # Reflection: the second prompt carries the best code, its success rate, its statistics and the error.
    second = llm.prompts[1][0][-1]["content"]
    assert f"success rate {good.success_rate:.2f}" in second and "- distance: mean" in second
    assert "import statements are not allowed" in second and "np.linalg.norm" in second

    run = tmp_path / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["best"] == "iter0_cand2" and len(summary["candidates"]) == 6
    assert summary["candidates"][0]["error"] == broken.error
    assert (run / "iter0" / "cand0.py").read_text() == BROKEN.lstrip("\n")
    assert "I am not sure" in (run / "iter1" / "cand0.txt").read_text()
    record = json.loads((run / "iter0" / "cand2.json").read_text())
    assert record["success_rate"] == good.success_rate and record["component_history"]
    assert "compute_reward" in (run / "iter1" / "prompt.txt").read_text()

    # The best reward file is a reward-code spec, usable through LearnedReward.
    model = make_reward(f"reward-code:{run / 'best_reward.py'}")
    try:
        env = LearnedReward(gym.make_vec(LINE_REACH, num_envs=2, vectorization_mode="sync"), model, mode="replace")
        obs, _ = env.reset(seed=3)
        next_obs, reward, *_ = env.step(np.array([2, 0]))
        expected = -np.abs(next_obs["position"][:, 0] - next_obs["goal"][:, 0])
        np.testing.assert_allclose(reward, expected, rtol=1e-5)
        env.close()
    finally:
        model.close()


def test_reward_code_spec_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        make_reward(f"reward-code:{tmp_path / 'missing.py'}")
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n" + GOOD)
    with pytest.raises(RewardCodeError, match="import"):
        make_reward(f"reward-code:{bad}")


def test_import_rewardgym_does_not_import_torch():
    code = "import sys, rewardgym, rewardgym.reward_models; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() \
        == "False"


@pytest.mark.slow
def test_synthesis_on_manip_reach_prefers_the_dense_reward(tmp_path):
    good = textwrap.dedent("""
        def compute_reward(obs, action, next_obs, info):
            distance = float(np.linalg.norm(next_obs["achieved_goal"] - next_obs["desired_goal"]))
            return -distance, {"distance": -distance}
    """)
    poor = body("return 0.0, {'nothing': 0.0}")
    llm = ScriptedLLM([f"```python\n{poor}```", f"```python\n{good}```"])
    result = synthesize_reward("rewardgym/Manip-Reach-v0", llm, iterations=1, candidates=2, train_steps=60_000,
                               eval_episodes=32, out=tmp_path, progress=False)
    assert result.best is result.candidates[1] and result.score >= 0.5
    assert result.candidates[0].success_rate < result.score
