"""The LLM trainer's update, by hand: what each aggregation divides by, what the env's tokens contribute
(nothing), which way the KL penalty pulls, and which groups ``filter_groups`` drops.

Episodes are built token by token: an env opening, a generated turn, the env's answer, a second
generated turn, and (in the batch) padding, so every place a wrong mask could leak is present.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import rewardgym  # noqa: F401 - registers the ids
from rewardgym.agents.llm import LLMAgent
from rewardgym.agents.llm.episodes import Episode
from rewardgym.testing import save_tiny_causal_lm


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    return save_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"))


@pytest.fixture
def envs():
    envs = gym.make_vec("rewardgym/Bandit-Meta2-v0", num_envs=2, vectorization_mode="sync")
    yield envs
    envs.close()


def agent_for(tiny_lm, envs, **config) -> LLMAgent:
    settings = {"group_size": 2, "groups_per_batch": 1, "max_new_tokens": 4, "device": "cpu", "seed": 0,
                "learning_rate": 0.0, "micro_batch_size": 8, **config}
    return LLMAgent(envs, model=tiny_lm, **settings)


def two_turn_episode(rng, vocab: int, opening: int, turn1: int, answer: int, turn2: int, group: int = 0) -> Episode:
    """env opening (mask 0), generated turn (1), env answer (0), generated turn (1)."""
    episode = Episode(group=group, seed=0)
    for length, generated in ((opening, False), (turn1, True), (answer, False), (turn2, True)):
        begin = len(episode.ids)
        episode.extend(rng.integers(3, vocab, size=length).tolist(), generated=generated)
        if generated:
            episode.turn_spans.append((begin, len(episode.ids)))
            episode.rewards.append(0.0)
            episode.invalid.append(False)
    return episode


def hand_advantages(episode: Episode, per_turn: list[float], on_env_tokens: float) -> np.ndarray:
    """``per_turn[t]`` on turn t's tokens and ``on_env_tokens`` everywhere else (which must not count)."""
    out = np.full(len(episode.ids), on_env_tokens, dtype=np.float32)
    for (begin, end), value in zip(episode.turn_spans, per_turn):
        out[begin:end] = value
    return out


@pytest.fixture
def batch(tiny_lm, envs):
    agent = agent_for(tiny_lm, envs)
    rng = np.random.default_rng(0)
    vocab = agent.model.config.vocab_size
    # different lengths, so the shorter episode is padded in the batch
    episodes = [two_turn_episode(rng, vocab, 5, 2, 3, 3), two_turn_episode(rng, vocab, 4, 4, 2, 1)]
    per_turn = [[1.0, -2.0], [0.5, 3.0]]
    return agent, episodes, per_turn


@pytest.mark.parametrize("aggregation", ["token", "sequence", "constant"])
def test_each_aggregation_counts_generated_tokens_only(batch, aggregation):
    agent, episodes, per_turn = batch
    agent.config.loss_aggregation = aggregation
    advantages = [hand_advantages(e, a, on_env_tokens=100.0) for e, a in zip(episodes, per_turn)]
    stats = agent._optimizer_step([0, 1], episodes, advantages, old_logp=None, ref_logp=None)
    # on policy the ratio is 1, so each generated token's loss is -A
    first = [-1.0] * 2 + [2.0] * 3  # episode 0: turn 1 has 2 tokens, turn 2 has 3
    second = [-0.5] * 4 + [-3.0] * 1  # episode 1: 4 tokens, then 1
    expected = {
        "token": (sum(first) + sum(second)) / 10,  # 10 generated tokens
        "sequence": (np.mean(first) + np.mean(second)) / 2,  # each sequence's mean, over 2 sequences
        "constant": (sum(first) + sum(second)) / (2 * agent.config.max_new_tokens),
    }[aggregation]
    assert stats["loss"] == pytest.approx(expected, rel=1e-5)
    assert stats["clip_fraction"] == 0.0


def gradients(agent) -> list[torch.Tensor]:
    return [p.grad.clone() for p in agent.model.parameters() if p.grad is not None]


def test_the_env_tokens_carry_no_gradient(batch):
    agent, episodes, per_turn = batch
    weights = [p.detach().clone() for p in agent.model.parameters()]
    runs = {}
    other = [[1.0, 2.0], [0.5, 3.0]]
    for name, turns, junk in (("zero", per_turn, 0.0), ("junk", per_turn, 1e3), ("other", other, 0.0)):
        advantages = [hand_advantages(e, a, on_env_tokens=junk) for e, a in zip(episodes, turns)]
        agent._optimizer_step([0, 1], episodes, advantages, old_logp=None, ref_logp=None)
        runs[name] = gradients(agent)
    assert all(p.equal(w) for p, w in zip(agent.model.parameters(), weights))  # learning rate 0: nothing moved
    # what sits on env tokens and padding changes nothing; what sits on generated tokens does
    assert all(torch.equal(a, b) for a, b in zip(runs["zero"], runs["junk"]))
    assert any(not torch.allclose(a, b) for a, b in zip(runs["zero"], runs["other"]))


def kl_after_training(tiny_lm, envs, kl_coef: float) -> float:
    """Mean k3 KL to the initial model over the generated tokens after 15 steps that push toward turn 2."""
    agent = agent_for(tiny_lm, envs, learning_rate=3e-2, kl_coef=kl_coef, kl_estimator="k3")
    rng = np.random.default_rng(1)
    vocab = agent.model.config.vocab_size
    episodes = [two_turn_episode(rng, vocab, 4, 3, 2, 3), two_turn_episode(rng, vocab, 3, 2, 4, 3)]
    advantages = [hand_advantages(e, [1.0, 1.0], on_env_tokens=0.0) for e in episodes]
    initial = agent._frozen_logprobs(episodes, reference=False)
    for _ in range(15):
        ref = agent._frozen_logprobs(episodes, reference=True) if kl_coef else None
        agent._optimizer_step([0, 1], episodes, advantages, old_logp=None, ref_logp=ref)
    now = agent._frozen_logprobs(episodes, reference=False)
    masks = [np.asarray(e.mask, dtype=bool) for e in episodes]
    diff = np.concatenate([(i - n)[m] for i, n, m in zip(initial, now, masks)])  # log π_ref − log π
    return float(np.mean(np.exp(diff) - diff - 1))


def test_the_kl_penalty_keeps_the_policy_closer_to_the_reference(tiny_lm, envs):
    # k3's gradient is at most kl_coef per token, so it can only hold an advantage of 1 back when kl_coef > 1
    free, penalised = kl_after_training(tiny_lm, envs, 0.0), kl_after_training(tiny_lm, envs, 5.0)
    assert free > 0.05  # the advantages moved the policy
    assert penalised < 0.5 * free  # a penalty of the wrong sign would push it further instead


def test_filter_groups_drops_a_constant_return_group(tiny_lm, envs, monkeypatch):
    rng = np.random.default_rng(2)
    for filter_groups, expected_members in ((True, [2, 3]), (False, [0, 1, 2, 3])):
        agent = agent_for(tiny_lm, envs, groups_per_batch=2, filter_groups=filter_groups)
        vocab = agent.model.config.vocab_size
        episodes = [two_turn_episode(rng, vocab, 3, 2, 2, 2, group=g) for g in (0, 0, 1, 1)]
        for episode, turn_rewards in zip(episodes, ([1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0])):
            episode.rewards = turn_rewards  # group 0: returns 1 and 1 (no signal); group 1: 0 and 2
        seen: list[int] = []

        def spy(members, *args, _seen=seen, _original=agent._optimizer_step):
            _seen.extend(members)
            return _original(members, *args)

        monkeypatch.setattr(agent, "_optimizer_step", spy)
        out = agent._update(episodes)
        assert sorted(seen) == expected_members
        assert out["filtered_episodes"] == (2.0 if filter_groups else 0.0)


def test_an_episode_of_unreadable_replies_ends_after_max_invalid_turns(tiny_lm):
    """A random model's text names no arm: the bandit is never stepped, and the episode stops after 3 turns."""
    envs = gym.make_vec("rewardgym/Bandit-Bernoulli2-v0", num_envs=2, vectorization_mode="sync", horizon=50)
    agent = agent_for(tiny_lm, envs, max_invalid_turns=3, max_new_tokens=3)
    episodes, stats = agent.rollout(envs, [0, 1])
    for episode in episodes:
        if all(episode.invalid):
            assert episode.turns == 3 and episode.truncated and not episode.terminated
            assert episode.commands == ["", "", ""] and len(episode.observations) == 3
    envs.close()


def test_samples_reach_the_run_folder_with_a_cap(tmp_path, monkeypatch):
    import json

    from rewardgym.workflows import runs

    monkeypatch.setattr(runs, "SAMPLES_MAX_BYTES", 2000)
    logger = runs.RunLogger(tmp_path, tensorboard=True)
    sample = {"seed": 1, "group": 0, "return": 1.0, "success": True,
              "turns": [{"observation": "Pull 1 of 1.", "reply": "arm 1\nbecause", "command": "arm 1",
                         "invalid": False, "reward": 1.0, "advantage": 0.5}]}
    for step in range(20):
        logger.on_samples(step, [sample, sample])
    logger.close()
    lines = [json.loads(line) for line in (tmp_path / runs.SAMPLES_FILE).read_text().splitlines()]
    assert lines[0] == {"step": 0, **sample}
    assert "cap" in lines[-1]["note"] and sum("note" in line for line in lines) == 1
    assert (tmp_path / runs.SAMPLES_FILE).stat().st_size < 2000 + 600
    assert any(path.name.startswith("events.out.tfevents") for path in tmp_path.iterdir())
