"""The LLM-RL trainer: estimators against hand-computed values, token masks, learning, checkpoints, the CLI.

Every model here is a tiny random Llama with a character-level tokenizer, written by
``rewardgym.testing.save_tiny_causal_lm`` and loaded back through transformers, so nothing is
downloaded and the real loading code runs.
"""

from __future__ import annotations

import json
import shutil

import gymnasium as gym
import numpy as np
import pytest
import torch

import rewardgym  # noqa: F401
from rewardgym.agents.llm import (
    LLMAgent,
    RunningBaseline,
    group_advantages,
    kl_estimate,
    text_envs,
    turn_advantages,
)
from rewardgym.agents.llm.episodes import extract_action
from rewardgym.agents.llm.grpo import aggregate, clipped_surrogate
from rewardgym.cli import main
from rewardgym.testing import save_tiny_causal_lm
from rewardgym.wrappers import TextInterface

TREASURE = {"n_rooms": 2, "n_objects": 2, "quest_length": 1}


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    return save_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


def bandit_envs(n, **kwargs):
    return [gym.make("rewardgym/Bandit-Meta2-v0", **kwargs) for _ in range(n)]


def small_agent(model, envs, **config):
    settings = {"group_size": 2, "groups_per_batch": 2, "max_new_tokens": 4, "max_turns": 3, "device": "cpu",
                "learning_rate": 1e-3, "seed": 0, **config}
    return LLMAgent(envs, model=model, **settings)


# --- estimators ------------------------------------------------------------------------------


def test_group_advantages_match_hand_computed_values():
    returns = np.array([[1.0, 0.0, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0]])
    # GRPO: mean 0.5, sample std sqrt(1/3) = 0.57735, plus TRL's eps 1e-4
    np.testing.assert_allclose(group_advantages(returns, "grpo")[0], np.array([1, -1, -1, 1]) * 0.5 / 0.57745,
                               rtol=1e-5)
    np.testing.assert_array_equal(group_advantages(returns, "grpo")[1], 0.0)
    np.testing.assert_allclose(group_advantages(returns, "dr-grpo")[0], [0.5, -0.5, -0.5, 0.5])
    # RLOO: 1 - mean(0, 0, 1) = 2/3 and 0 - mean(1, 0, 1) = -2/3
    np.testing.assert_allclose(group_advantages(returns, "rloo")[0], [2 / 3, -2 / 3, -2 / 3, 2 / 3])
    np.testing.assert_allclose(group_advantages(returns, "reinforce", baseline=0.25), returns - 0.25)
    np.testing.assert_allclose(group_advantages(returns, "reinforce"), returns - 1.25)  # first batch: its own mean


def test_turn_advantages_follow_process_supervision():
    # all turn rewards of the group: [0, 1, 1], mean 2/3, sample std sqrt(1/3)
    grpo = turn_advantages([[0.0, 1.0], [1.0]], "grpo")
    scale = 0.57735 + 1e-4
    np.testing.assert_allclose(grpo[0], [(-2 / 3 + 1 / 3) / scale, (1 / 3) / scale], rtol=1e-5)
    np.testing.assert_allclose(grpo[1], [(1 / 3) / scale], rtol=1e-5)
    dr = turn_advantages([[0.0, 1.0], [1.0]], "dr-grpo")
    np.testing.assert_allclose(dr[0], [-1 / 3, 1 / 3])
    np.testing.assert_allclose(dr[1], [1 / 3])
    with pytest.raises(ValueError, match="grpo or dr-grpo"):
        turn_advantages([[1.0]], "rloo")


def test_estimator_errors_and_baseline():
    with pytest.raises(ValueError, match="group_size must be >= 2"):
        group_advantages(np.ones((2, 1)), "grpo")
    with pytest.raises(ValueError, match="unknown estimator"):
        group_advantages(np.ones((2, 2)), "ppo")
    baseline = RunningBaseline(momentum=0.5)
    baseline.update(np.array([2.0, 4.0]))
    assert baseline.value == 3.0
    baseline.update(np.array([1.0]))
    assert baseline.value == 2.0


def test_kl_estimators_match_hand_computed_values():
    logp, ref = np.log(0.5), np.log(0.25)
    assert kl_estimate(logp, ref, "k1") == pytest.approx(np.log(2))
    assert kl_estimate(logp, ref, "k3") == pytest.approx(0.5 - np.log(0.5) - 1)
    tensor = kl_estimate(torch.tensor([logp, ref]), torch.tensor([ref, logp]), "k3")
    assert torch.all(tensor > 0) and kl_estimate(torch.tensor(0.3), torch.tensor(0.3), "k3") == 0
    with pytest.raises(ValueError, match="k1 or k3"):
        kl_estimate(logp, ref, "k2")


def test_clipped_surrogate_and_aggregations():
    ratio = torch.tensor([[0.5, 1.0, 1.5]])
    advantage = torch.tensor([[1.0, -1.0, 1.0]])
    # -min(0.5, 0.8) = -0.5; -min(-1, -1) = 1; -min(1.5, 1.2) = -1.2 (clipped)
    per_token = clipped_surrogate(ratio, advantage, 0.2, 0.2)
    torch.testing.assert_close(per_token, torch.tensor([[-0.5, 1.0, -1.2]]))
    # clip-higher lets the last token's ratio count up to 1.28
    torch.testing.assert_close(clipped_surrogate(ratio, advantage, 0.2, 0.28)[0, 2], torch.tensor(-1.28))
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert float(aggregate(values, mask, "sequence", norm=2)) == pytest.approx((2.0 + 4.0) / 2)
    assert float(aggregate(values, mask, "token", norm=4)) == pytest.approx(10.0 / 4)
    assert float(aggregate(values, mask, "constant", norm=2 * 8)) == pytest.approx(10.0 / 16)


@pytest.mark.parametrize(("response", "action"), [
    ("<answer>arm 1</answer>", "arm 1"), ("I think... <answer> go north </answer>", "go north"),
    ("<answer>0</answer> no, <answer>1</answer>", "1"), ("  take key \n", "take key"), ("", ""),
])  # fmt: skip
def test_extract_action(response, action):
    assert extract_action(response) == action


# --- episodes as token sequences ---------------------------------------------------------------


class Recording:
    """Wraps the agent's real generator and records each batch of prompts with its responses."""

    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __call__(self, prompts, greedy=False):
        out = self.inner(prompts, greedy=greedy)
        self.calls.extend((tuple(p), r) for p, r in zip(prompts, out))
        return out


def test_env_tokens_are_masked_out_and_the_model_sees_the_training_sequence(tiny_lm):
    envs = [TextInterface(gym.make("rewardgym/Text-Treasure-v0", **TREASURE)) for _ in range(3)]
    agent = small_agent(tiny_lm, envs, max_turns=3, max_new_tokens=6)
    agent.generator = recording = Recording(agent.generator)
    episodes, stats = agent.rollout(envs, [0, 1, 2])
    assert stats.turns == sum(e.turns for e in episodes) == 9
    seen = dict(recording.calls)
    tokenizer = agent.tokenizer
    for episode in episodes:
        ids, mask = np.array(episode.ids), np.array(episode.mask, dtype=bool)
        assert len(ids) == len(mask) and mask.sum() == episode.generated_tokens > 0
        generated = []
        for begin, end in episode.turn_spans:
            # the model was prompted with exactly the training sequence up to this turn
            response = seen[tuple(episode.ids[:begin])]
            assert episode.ids[begin:end] == response
            assert mask[begin:end].all() and not mask[begin - 1]
            generated.extend(response)
        assert ids[mask].tolist() == generated  # the loss sees the generated tokens and nothing else
        env_text = tokenizer.decode(ids[~mask].tolist())
        assert env_text.startswith("<|system|>") and "<|user|>" in env_text
        # after a turn that ended with the end token, the template's end marker is not written twice
        for (_, end), (next_begin, _) in zip(episode.turn_spans, episode.turn_spans[1:]):
            between = tokenizer.decode(episode.ids[end:next_begin])
            ended = episode.ids[end - 1] == tokenizer.eos_token_id
            assert between.startswith("<|user|>" if ended else "<|end|><|user|>")
            assert between.endswith("<|assistant|>")


def test_observations_reach_the_sequence_verbatim(tiny_lm):
    env = TextInterface(gym.make("rewardgym/Bandit-Meta2-v0"))
    agent = small_agent(tiny_lm, [env], max_turns=2)
    (episode,), _ = agent.rollout([env], [5])
    text = agent.tokenizer.decode(episode.ids)
    first, _ = TextInterface(gym.make("rewardgym/Bandit-Meta2-v0")).reset(seed=5)
    assert first in text and agent.config.system_prompt in text
    assert episode.turns == 2 and episode.truncated and not episode.terminated
    # the random model's garbage is feedback, never an exception, and costs the format penalty
    assert all(episode.invalid) and episode.rewards == [-agent.config.format_penalty] * 2
    assert "I don't understand" in text


def test_context_limit_ends_an_episode(tiny_lm):
    envs = bandit_envs(1)
    agent = small_agent(tiny_lm, envs, max_turns=None, max_context_tokens=700, max_new_tokens=4)
    (episode,), _ = agent.rollout(envs, [0])
    assert episode.truncated and len(episode.ids) + agent.config.max_new_tokens <= 700 + 700 // 2
    assert len(episode.ids) <= 700
    with pytest.raises(ValueError, match="max_context_tokens"):
        small_agent(tiny_lm, envs, max_context_tokens=50).rollout(envs, [0])


@pytest.mark.parametrize("env_id", ["rewardgym/Dungeon-Gold-v0", "rewardgym/GUI-ClickButton-v0"])
def test_the_dungeon_and_gui_play_through_their_text_interfaces(tiny_lm, env_id):
    envs = [gym.make(env_id) for _ in range(2)]
    agent = small_agent(tiny_lm, envs, max_turns=2, max_context_tokens=16384)
    episodes, stats = agent.rollout(envs, [0, 1])
    assert stats.turns == 4 and all(e.turns == 2 and len(e.rewards) == 2 for e in episodes)
    first, _ = TextInterface(gym.make(env_id)).reset(seed=0)
    assert first in agent.tokenizer.decode(episodes[0].ids)


# --- learning ----------------------------------------------------------------------------------


def test_learn_runs_on_a_bandit_and_logs_the_metrics(tiny_lm):
    envs = bandit_envs(4)
    agent = small_agent(tiny_lm, envs)
    logged = []
    agent.learn(envs, 20, callbacks=[logged.append], progress=False)
    assert agent.global_step >= 20 and agent.updates == len(logged) >= 2
    for key in ("step", "mean_return", "success_rate", "format_error_rate", "response_tokens", "group_return_std",
                "zero_variance_groups", "loss", "grad_norm", "tokens_per_s", "env_steps_per_s"):
        assert key in logged[-1], key
    assert 0 <= logged[-1]["format_error_rate"] <= 1 and logged[-1]["tokens_per_s"] > 0
    stopped = small_agent(tiny_lm, envs)
    stopped.learn(envs, 1000, callbacks=[lambda metrics: False], progress=False)
    assert stopped.updates == 1 and stopped.unfinished_steps > 0


def test_learn_runs_on_a_text_world_with_turn_rewards(tiny_lm):
    envs = gym.make_vec("rewardgym/Text-Treasure-v0", num_envs=4, vectorization_mode="sync", **TREASURE)
    agent = small_agent(tiny_lm, envs, reward_level="turn", estimator="dr-grpo")
    logged = []
    agent.learn(envs, 24, callbacks=[logged.append], progress=False)
    assert agent.global_step >= 24 and agent.updates == len(logged)
    assert all(np.isfinite(m["loss"]) and m["mean_length"] == 3 for m in logged)


def test_kl_to_the_reference_and_several_updates_per_batch(tiny_lm):
    # one-token answers: some are arm numbers, so returns differ within groups and the policy moves
    envs = bandit_envs(8)
    agent = small_agent(tiny_lm, envs, group_size=4, max_new_tokens=1, max_turns=2, kl_coef=0.1,
                        update_epochs=2, minibatches=2, learning_rate=3e-2)
    logged = []
    agent.learn(envs, 64, callbacks=[logged.append], progress=False)
    assert agent.updates == 4 * len(logged)  # 2 epochs x 2 minibatches per batch
    assert logged[0]["kl"] < logged[-1]["kl"] and logged[-1]["kl"] > 1e-4
    assert any(m["clip_fraction"] > 0 for m in logged)  # later minibatches are off-policy
    in_reward = small_agent(tiny_lm, envs, group_size=4, max_new_tokens=1, max_turns=2, kl_coef=0.1, kl_in="reward",
                            learning_rate=3e-2)
    logged = []
    in_reward.learn(envs, 64, callbacks=[logged.append], progress=False)
    assert logged[-1]["kl"] > 1e-4 and all(np.isfinite(m["loss"]) for m in logged)


class CharacterCodes(gym.Env):
    """A one-turn text game that pays the mean character code of the answer, so every answer scores
    differently and every group carries a gradient, even from a random model."""

    observation_space = action_space = gym.spaces.Text(256)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return "Answer with high letters.", {}

    def step(self, action):
        return "Done.", float(np.mean([ord(c) for c in action]) / 128 if action else 0.0), True, False, {}


def test_bf16_autocast_and_gradient_checkpointing_paths(tiny_lm):
    # what "auto" turns on with CUDA, run here on the CPU: the same code, bf16 autocast included
    envs = [CharacterCodes() for _ in range(4)]
    agent = small_agent(tiny_lm, envs, group_size=4, groups_per_batch=1, bf16=True, gradient_checkpointing=True,
                        learning_rate=3e-2)
    assert agent.bf16 and agent.model.is_gradient_checkpointing
    before = [p.detach().clone() for p in agent.model.parameters()]
    logged = []
    agent.learn(envs, 8, callbacks=[logged.append], progress=False)
    assert all(np.isfinite(m["loss"]) and m["zero_variance_groups"] == 0 for m in logged)
    assert all(p.dtype == torch.float32 for p in agent.model.parameters())  # master weights stay fp32
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.model.parameters()))


def test_probability_of_the_better_arm_rises(tiny_lm):
    """A 2-armed Bernoulli bandit (means 0.98 and 0.34) asked one question with a fixed prompt."""
    envs = [gym.make("rewardgym/Bandit-Bernoulli2-v0", horizon=1, instance_seed=4) for _ in range(32)]
    agent = LLMAgent(envs, model=tiny_lm, group_size=16, groups_per_batch=2, max_new_tokens=1, max_turns=1,
                     learning_rate=1e-2, system_prompt=None, device="cpu", seed=0)
    observation, _ = TextInterface(envs[0]).reset(seed=0)
    means = envs[0].unwrapped.core.state.means[0]
    better, worse = str(int(np.argmax(means))), str(int(np.argmin(means)))
    prompt = torch.tensor([agent.chat.opening(observation)])

    def choice_probabilities():
        with torch.no_grad():
            p = torch.softmax(agent.model(prompt).logits[0, -1], -1)
        token = agent.tokenizer.convert_tokens_to_ids
        return float(p[token(better)]), float(p[token(worse)])

    p_better, p_worse = choice_probabilities()
    assert p_better < 0.05 and p_worse < 0.05  # a random model over 107 tokens
    agent.learn(envs, 32 * 40, progress=False)
    p_better_after, p_worse_after = choice_probabilities()
    assert p_better_after > 0.5 and p_better_after > 10 * p_worse_after


# --- acting, evaluation, checkpoints ---------------------------------------------------------


def test_act_and_evaluate(tiny_lm):
    envs = bandit_envs(2)
    agent = small_agent(tiny_lm, envs)
    observations = [TextInterface(e).reset(seed=i)[0] for i, e in enumerate(envs)]
    actions = agent.act(observations, deterministic=True)
    assert isinstance(actions, tuple) and len(actions) == 2 and all(isinstance(a, str) for a in actions)
    assert agent.act(observations[0], deterministic=True) == actions[0]
    result = agent.evaluate(envs, episodes=3, seed=7)
    assert result["episodes"] == 3 and result["mean_length"] == 3 and "success_rate" in result
    assert result == agent.evaluate(envs, episodes=3, seed=7) | {"tokens_per_s": result["tokens_per_s"]}


def test_save_and_load_round_trip(tiny_lm, tmp_path):
    envs = bandit_envs(4)
    agent = small_agent(tiny_lm, envs)
    agent.learn(envs, 12, progress=False)
    agent.save(tmp_path / "agent")
    loaded = LLMAgent.load(tmp_path / "agent", envs)
    assert loaded.global_step == agent.global_step and loaded.updates == agent.updates
    assert loaded.config.model == str(tiny_lm)
    for a, b in zip(agent.model.parameters(), loaded.model.parameters()):
        torch.testing.assert_close(a, b)
    saved, restored = agent.optimizer.state_dict()["state"], loaded.optimizer.state_dict()["state"]
    torch.testing.assert_close(saved[0]["exp_avg"], restored[0]["exp_avg"])
    assert agent.rng.integers(1 << 30) == loaded.rng.integers(1 << 30)
    observation = TextInterface(envs[0]).reset(seed=3)[0]
    assert loaded.act([observation], deterministic=True) == agent.act([observation], deterministic=True)


def test_lora_trains_only_the_adapter_and_saves_it(tiny_lm, tmp_path):
    pytest.importorskip("peft", reason="peft is part of the test extra")
    envs = bandit_envs(4)
    agent = small_agent(tiny_lm, envs, group_size=4, groups_per_batch=1, max_new_tokens=1, max_turns=2,
                        lora_rank=4, kl_coef=0.05, learning_rate=5e-2)
    base = {n: p.detach().clone() for n, p in agent.model.named_parameters() if not p.requires_grad}
    logged = []
    agent.learn(envs, 48, callbacks=[logged.append], progress=False)
    assert logged[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # adapters start at zero: π = π_ref
    assert logged[-1]["kl"] > 0
    for name, param in agent.model.named_parameters():
        if name in base:
            torch.testing.assert_close(param, base[name])  # the base never moves
        elif "lora_B" in name:
            assert param.abs().sum() > 0  # the adapter does
    agent.save(tmp_path / "lora")
    files = {p.name for p in (tmp_path / "lora" / "model").iterdir()}
    assert "adapter_config.json" in files and "model.safetensors" not in files
    loaded = LLMAgent.load(tmp_path / "lora", envs)
    observation = TextInterface(envs[0]).reset(seed=3)[0]
    assert loaded.act([observation], deterministic=True) == agent.act([observation], deterministic=True)


def test_bad_checkpoints_and_configs_give_clear_errors(tiny_lm, tmp_path):
    envs = bandit_envs(2)
    agent = small_agent(tiny_lm, envs)
    agent.save(tmp_path / "ok")
    (tmp_path / "ok" / "optimizer.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="optimizer.pt is corrupt"):
        LLMAgent.load(tmp_path / "ok", envs)
    with pytest.raises(FileNotFoundError, match="no model/ folder"):
        (tmp_path / "empty").mkdir()
        (tmp_path / "empty" / "agent.json").write_text(json.dumps({"agent": "llm-grpo", "config": {}}))
        LLMAgent.load(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LLMAgent(envs, model=tmp_path / "missing")
    with pytest.raises(ValueError, match="temperature must be > 0"):
        LLMAgent(envs, model=tiny_lm, temperature=0)
    with pytest.raises(ValueError, match="group_size must be >= 2"):
        LLMAgent(envs, model=tiny_lm, group_size=1)
    with pytest.raises(ValueError, match="natively batched"):
        text_envs(gym.make_vec("rewardgym/Bandit-Meta2-v0", num_envs=2))
    with pytest.raises(ValueError, match="no language interface"):
        text_envs([gym.make("CartPole-v1")])


# --- the command line --------------------------------------------------------------------------


def test_train_and_eval_commands(tiny_lm, tmp_path, capsys):
    code = main(["train", "rewardgym/Bandit-Meta2-v0", "--agent", "llm-rloo", "--model", str(tiny_lm), "--steps", "24",
                 "--num-envs", "4", "--out", str(tmp_path), "--no-progress", "--device", "cpu",
                 "--checkpoint-every", "12",
                 "--config", "group_size=2", "groups_per_batch=2", "max_new_tokens=3", "max_turns=3"])
    assert code == 0
    (run,) = tmp_path.iterdir()
    assert (run / "checkpoints" / "final" / "model").is_dir() and (run / "metrics.csv").is_file()
    assert json.loads((run / "checkpoints" / "final" / "agent.json").read_text())["agent"] == "llm-rloo"
    capsys.readouterr()
    assert main(["eval", str(run), "--episodes", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 2 and "format_error_rate" in result
    # an interrupted run (only the first periodic checkpoint left) finishes with --resume
    shutil.rmtree(run / "checkpoints" / "final")
    for late in sorted((run / "checkpoints").glob("step_*"), key=lambda p: int(p.name[5:]))[1:]:
        shutil.rmtree(late)
    (first,) = (run / "checkpoints").glob("step_*")
    assert json.loads((first / "agent.json").read_text())["unfinished_steps"] > 0
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0
    final = json.loads((run / "checkpoints" / "final" / "agent.json").read_text())
    assert final["global_step"] == 24 and final["unfinished_steps"] == 0 and final["updates"] == 2


@pytest.mark.parametrize(("argv", "message"), [
    (["train", "rewardgym/Bandit-Meta2-v0", "--agent", "llm-grpo"], "needs --model"),
    (["train", "rewardgym/Bandit-Meta2-v0", "--agent", "ppo", "--model", "x"], "takes no model"),
    (["train", "rewardgym/Bandit-Meta2-v0", "--agent", "llm-grpo", "--model", "./no/such/folder"], "does not exist"),
    (["train", "CartPole-v1", "--agent", "llm-grpo", "--model", "MODEL"], "no language interface"),
])  # fmt: skip
def test_train_command_errors(tiny_lm, tmp_path, capsys, argv, message):
    argv = [str(tiny_lm) if a == "MODEL" else a for a in argv]
    assert main([*argv, "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())


# --- self-play: one model in every seat of a multi-agent text game ------------------------------


def kitchen_seats(games: int):
    from rewardgym.workflows.training import make_envs

    return make_envs(LLMAgent.spec, "kitchen_talk_v0", games)  # the game's free-text form, every seat a row


def test_self_play_seats_one_model_everywhere_and_pairs_the_seats_of_a_game(tiny_lm):
    from rewardgym.envs.multiagent import kitchen_talk_v0, make

    envs = kitchen_seats(2)  # 4 rows: two games of reader and cook
    agent = small_agent(tiny_lm, envs, max_new_tokens=6, max_turns=2)
    episodes, _ = agent.rollout(envs, [5, 5, 9], groups=[0, 0, 1])  # three games: a wave of two, then one
    assert [(e.group, e.seed, e.seat) for e in episodes] == [(0, 5, 0), (1, 5, 1), (0, 5, 0), (1, 5, 1),
                                                            (2, 9, 0), (3, 9, 1)]
    single = make("kitchen_talk_v0", **kitchen_talk_v0.TEXT_KWARGS)
    for game, seed in ((0, 5), (2, 9)):  # each seat saw its own side of the game with that seed
        first, _ = single.reset(seed=seed)
        assert [episodes[2 * game + seat].observations[0] for seat in (0, 1)] == [first["player_0"],
                                                                                  first["player_1"]]
    assert "Commands: say MESSAGE" in episodes[0].observations[0] and "take FOOD" in episodes[1].observations[0]
    result = agent.evaluate(envs, 3, seed=7)  # agent-episodes, rounded up to whole games
    assert result["episodes"] == 4 and {"mean_return_player_0", "mean_return_player_1"} <= result.keys()


def test_self_play_advantages_compare_a_seat_with_itself(tiny_lm):
    """Two games of one seed: the reader's returns are equal (no signal), the cook's differ. Grouped per
    seat, the reader's advantages are 0 and the cook's are ±; grouped per game they would mix the seats."""
    from rewardgym.agents.llm import Episode

    agent = small_agent(tiny_lm, kitchen_seats(2))
    episodes = []
    for cook_return in (0.0, 1.0):  # two games
        for seat, total in ((0, 1.0), (1, cook_return)):
            episode = Episode(group=seat, seed=3, seat=seat, ids=[1, 2, 3], mask=[0, 1, 1], turn_spans=[(1, 3)])
            episode.rewards.append(total)
            episodes.append(episode)
    episodes.sort(key=lambda e: e.group)  # as a training iteration orders them
    advantages = agent._advantages(episodes, None)
    reader, cook = [a[1:].tolist() for a in advantages[:2]], [a[1:].tolist() for a in advantages[2:]]
    assert reader == [[0.0, 0.0], [0.0, 0.0]]
    assert cook[0][0] < 0 < cook[1][0] and cook[0][0] == -cook[1][0]


def test_self_play_trains_from_the_command_line(tiny_lm, tmp_path, capsys):
    argv = ["train", "kitchen_talk_v0", "--agent", "llm-grpo", "--model", str(tiny_lm), "--steps", "8",
            "--num-envs", "2", "--out", str(tmp_path), "--no-progress", "--device", "cpu",
            "--config", "group_size=2", "groups_per_batch=1", "max_new_tokens=4", "max_turns=2"]
    assert main(argv) == 0
    (run,) = tmp_path.iterdir()
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"mean_return_player_0", "mean_return_player_1", "success_rate"} <= set(header)
    capsys.readouterr()
    assert main(["eval", str(run), "--episodes", "4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 4
    assert main(["train", "bandit_market_v0", "--agent", "llm-grpo", "--model", str(tiny_lm), "--out",
                 str(tmp_path / "bad"), "--no-progress"]) == 2
    assert "bandit_market_v0 has no language interface" in capsys.readouterr().err
