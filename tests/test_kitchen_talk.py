"""The talking kitchen: what is said is heard, taking decides the game for both, free text never breaks it.

PettingZoo's API and seed tests and batched == single games run for every multi-agent id in
``test_multiagent.py``; these tests are this game's own rules, by hand.
"""

from __future__ import annotations

import string
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import parallel_api_test

from rewardgym.envs.multiagent import kitchen_talk_v0, make, make_vec
from rewardgym.envs.multiagent.kitchen_talk import FOOD_NAMES, KitchenTalkCore, heard_text
from rewardgym._text import hashed_words
from rewardgym.envs.textworlds.env import CHOICE_DIM

READER, COOK = "player_0", "player_1"


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():  # PettingZoo suggests Box observations; ours are Dicts and texts
        warnings.filterwarnings("ignore", message="Observation", category=UserWarning)
        yield


def _recipe(env) -> tuple[int, str]:
    """The recipe's food: its slot in the kitchen and its name."""
    core = env.core
    k = int(core.state.target[0])
    return k, FOOD_NAMES[core.state.items[0, k]]


def _bag(text: str, dim: int = CHOICE_DIM) -> np.ndarray:
    row = np.zeros(dim, np.float32)
    row[hashed_words(text, dim)] = 1.0
    return row


def test_the_reader_says_the_cook_hears_and_taking_the_recipe_food_wins_for_both():
    env = make("kitchen_talk_v0", n_items=4)
    obs, infos = env.reset(seed=3)
    k, food = _recipe(env)
    assert f"The recipe needs the {food}." in env.core.text(0, 0) and food not in infos[READER]["task"]
    assert infos[READER]["choices"][k] == f"say {food}" and infos[COOK]["choices"][k] == f"take {food}"
    assert infos[COOK]["choices"][-1] == "wait" and not obs[COOK]["heard"].any()
    # on the first step the cook is on its way to the kitchen: it can only wait (and a raw take is refused)
    assert infos[COOK]["action_mask"].tolist() == [0, 0, 0, 0, 1] and infos[READER]["action_mask"].all()
    assert "on your way to the kitchen" in env.core.text(0, 1) and food not in env.core.text(0, 1)
    obs, rewards, terms, truncs, infos = env.step({READER: k, COOK: 4})  # say the food; wait
    assert infos[COOK]["action_mask"].all()
    np.testing.assert_array_equal(obs[COOK]["heard"], _bag(food))  # heard, apart from the room's words
    assert f'Your partner says: "{food}"' in env.core.text(0, 1)
    assert rewards == {READER: 0.0, COOK: 0.0} and not any(terms.values()) and env.agents == [READER, COOK]
    assert env.core.heard_item()[0] == k and env.state()[4 + k] == 1.0 and env.state()[k] == 1.0
    obs, rewards, terms, truncs, infos = env.step({READER: 4, COOK: k})
    assert rewards == {READER: 1.0, COOK: 1.0} and all(terms.values()) and not any(truncs.values())
    assert infos[READER]["success"] and infos[COOK]["success"] and env.agents == []
    assert "*** You won! ***" in env.core.text(0, 0)


def test_a_wrong_take_ruins_the_meal_for_both_and_the_horizon_truncates():
    env = make("kitchen_talk_v0", n_items=3, horizon=3)
    env.reset(seed=5)
    k, _ = _recipe(env)
    _, rewards, terms, _, _ = env.step({READER: 3, COOK: (k + 1) % 3})  # not in the kitchen yet: refused
    assert "You are not in the kitchen yet." in env.core.text(0, 1) and not any(terms.values())
    _, rewards, terms, _, infos = env.step({READER: 3, COOK: (k + 1) % 3})
    assert rewards == {READER: -0.5, COOK: -0.5} and all(terms.values()) and not infos[COOK]["success"]  # -1/(3-1)
    assert "*** You lost! ***" in env.core.text(0, 1)

    env.reset(seed=5)
    for _ in range(3):
        _, rewards, terms, truncs, _ = env.step({READER: 3, COOK: 3})  # both wait
    assert all(truncs.values()) and not any(terms.values()) and rewards == {READER: 0.0, COOK: 0.0}

    free = make("kitchen_talk_v0", n_items=3, ruined=0.0)  # a ruined meal may also cost nothing
    free.reset(seed=5)
    k, _ = _recipe(free)
    free.step({READER: 3, COOK: 3})
    _, rewards, terms, _, _ = free.step({READER: 3, COOK: (k + 1) % 3})
    assert rewards == {READER: 0.0, COOK: 0.0} and all(terms.values())


def test_with_talk_off_nothing_said_is_heard():
    env = make("kitchen_talk_v0", talk=False)
    env.reset(seed=1)
    k, food = _recipe(env)
    obs, *_ = env.step({READER: k, COOK: 4})
    assert not obs[COOK]["heard"].any() and "says" not in env.core.text(0, 1)
    assert 'You say: "' in env.core.text(0, 0)  # the reader still spoke
    assert env.core.heard_item()[0] == 4  # the critic's state says the cook heard nothing


def test_free_text_commands():
    env = make("kitchen_talk_v0", action_mode="text", observation="text", n_items=len(FOOD_NAMES))  # every food
    obs, infos = env.reset(seed=0)
    assert isinstance(obs[READER], str) and "choices" not in infos[READER]
    k, food = _recipe(env)
    obs, *_ = env.step({READER: f"say  It's the {food}!\x00\n\tTrust me. " + "x" * 400, COOK: "take chicken"})
    assert "You are not in the kitchen yet." in obs[COOK]
    heard = env.core.state.heard[0, 1]
    assert heard.startswith(f"It's the {food}! Trust me. x") and len(heard) == 200 and heard == heard_text(heard)
    assert f'Your partner says: "{heard}"' in obs[COOK]
    obs, *_ = env.step({READER: "take the apple", COOK: "take chicken"})
    assert "you are in the study" in obs[READER] and "Which do you mean, the chicken " in obs[COOK]
    assert "or the chicken " in obs[COOK] and env.core.state.heard[0, 1] == ""  # nothing said: nothing heard
    obs, *_ = env.step({READER: "sing", COOK: "dance"})
    assert "I don't understand that." in obs[READER] and "I don't understand that." in obs[COOK]
    obs, *_ = env.step({READER: "say", COOK: "take the unicorn"})
    assert "Say what?" in obs[READER] and "You can't see any such thing." in obs[COOK]
    with pytest.raises(ValueError, match="player_1: a command must be a string, got int"):
        env.step({READER: "wait", COOK: 3})
    _, rewards, terms, _, _ = env.step({READER: "wait", COOK: f"pick up the {food}"})
    assert rewards == {READER: 1.0, COOK: 1.0} and all(terms.values())


def test_free_text_replies_are_read_like_the_text_worlds_and_the_first_view_says_how_to_play():
    env = make("kitchen_talk_v0", action_mode="text", observation="text")
    obs, infos = env.reset(seed=4)
    assert obs[READER].startswith(infos[READER]["task"]) and "Commands: say MESSAGE" in obs[READER]
    assert "Commands: take FOOD, say MESSAGE" in obs[COOK]
    k, food = _recipe(env)
    reply = f"The recipe wants the {food}, so I tell my partner.\n<answer>say {food}</answer>"
    obs, _, _, _, infos = env.step({READER: reply, COOK: "I think I will just stand here for a moment"})
    assert env.core.state.heard[0, 1] == food and infos[READER]["command"] == f"say {food}"
    assert not infos[READER]["invalid_action"]
    assert infos[COOK]["invalid_action"] and infos[COOK]["command"] == "" and "I don't understand that." in obs[COOK]
    assert "Commands:" not in obs[READER]  # only the first view explains
    _, rewards, terms, _, infos = env.step({READER: "wait. Nothing more to say", COOK: f"take {food}. Done!"})
    assert infos[COOK]["command"] == f"take {food}" and rewards == {READER: 1.0, COOK: 1.0} and all(terms.values())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=80), st.text(alphabet=string.printable, max_size=40)), min_size=1,
                max_size=10))
def test_fuzzed_text_never_raises_and_observations_stay_in_their_space(commands):
    env = make("kitchen_talk_v0", action_mode="text", observation="text")
    env.reset(seed=len(commands))
    space = env.observation_space(READER)
    for reader, cook in commands:
        if not env.agents:
            env.reset()
        obs, *_ = env.step({READER: reader, COOK: cook})
        assert all(space.contains(o) for o in obs.values())


def test_text_mode_passes_pettingzoo_api_tests_and_the_batch_takes_strings():
    parallel_api_test(kitchen_talk_v0.parallel_env(action_mode="text", observation="text"), num_cycles=100)
    # PettingZoo's AEC api_test reads every observation's ``.dtype``, which a string has not: the turn-based
    # form of text mode is played by hand instead
    aec = kitchen_talk_v0.env(action_mode="text", observation="text")
    aec.reset(seed=2)
    k, food = _recipe(aec.unwrapped)
    script = {READER: iter([f"say {food}", "wait"]), COOK: iter(["wait", f"take {food}"])}
    for agent in aec.agent_iter():
        obs, reward, terminated, truncated, info = aec.last()
        assert isinstance(obs, str)
        aec.step(None if terminated or truncated else next(script[agent]))
    assert aec.unwrapped.core.state.won[0] and aec.unwrapped.core.state.t[0] == 2
    vec = make_vec("kitchen_talk_v0", 3, action_mode="text", observation="text")
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (3, 2) and all(isinstance(o, str) for o in obs.ravel())
    obs, rewards, *_ = vec.step(np.array([["say hello", "wait"]] * 3, dtype=object))
    assert all('Your partner says: "hello"' in o for o in obs[:, 1])
    with pytest.raises(ValueError, match="a command must be a string"):
        vec.step(np.array([["wait", 1]] * 3, dtype=object))


def test_bad_arguments_are_clear_errors():
    for kwargs, match in (({"n_items": 1}, f"n_items must be in 2..{len(FOOD_NAMES)}"),
                          ({"horizon": 1}, "horizon must be >= 2"),
                          ({"action_mode": "voice"}, "action_mode must be one of"),
                          ({"observation": "pixels"}, "observation must be one of")):
        with pytest.raises(ValueError, match=match):
            KitchenTalkCore(1, **kwargs)


def test_every_seat_of_the_kitchen_is_a_row_for_a_shared_policy():
    from rewardgym.wrappers.multiagent import AgentsAsEnvs

    rows = AgentsAsEnvs(make_vec("kitchen_talk_v0", 2), state_key="state")
    obs, info = rows.reset(seed=0)
    assert obs["choices"].shape == (4, 5, CHOICE_DIM) and obs["state"].shape == (4, 10)
    assert info["choices"][0][0].startswith("say ") and info["choices"][1][0].startswith("take ")
    np.testing.assert_array_equal(obs["seat"], np.tile(np.eye(2, dtype=np.float32), (2, 1)))


def test_a_message_reward_scores_each_agent_on_its_own_answers():
    """Learned rewards work per seat: each row of the seat-per-row env is scored on its own agent's text."""
    from rewardgym.wrappers.multiagent import AgentsAsEnvs
    from rewardgym.wrappers.vector import LearnedReward

    rows = LearnedReward(AgentsAsEnvs(make_vec("kitchen_talk_v0", 2)), "novelty:key=message", mode="replace")
    rows.reset(seed=0)
    _, reward, *_ = rows.step(np.array([0, 4, 0, 4]))  # the readers speak, the cooks wait
    np.testing.assert_allclose(reward, 1.0)  # every agent's first answer is new to it
    _, reward, _, _, info = rows.step(np.array([4, 4, 4, 4]))  # everyone waits
    assert info["feedback"][1] == "You wait."
    np.testing.assert_allclose(reward, [1.0, 2 ** -0.5, 1.0, 2 ** -0.5])  # a cook's second "You wait."


def test_a_person_plays_the_cook_seeing_only_the_kitchen(monkeypatch, capsys):
    from rewardgym.cli import main

    probe = make("kitchen_talk_v0")
    probe.reset(seed=3)
    k, food = _recipe(probe)
    typed = iter(["0", "4", str(k)])  # a take before reaching the kitchen, a wait, then the recipe's food
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    assert main(["play", "kitchen_talk_v0", "--seat", "player_1", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "0 cannot be done now; the numbers that can: 4" in out
    assert "on your way to the kitchen" in out and "The recipe needs" not in out  # the reader's room is not shown
    assert f"  {k}: take {food}" in out and f"You take the {food}." in out
    assert "Episode over. Your total reward 1. success." in out

    typed = iter(["say the " + food, "quit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(typed))
    assert main(["play", "kitchen_talk_v0", "--seat", "player_0", "--seed", "3",
                 "--env-kwargs", "action_mode=text", "observation=text"]) == 0
    out = capsys.readouterr().out
    assert "Type a command each turn" in out and f'You say: "the {food}".' in out


@pytest.mark.slow
def test_mappo_learns_to_take_what_it_hears_from_a_reader_that_names_the_food():
    """The listening half of the task is learnable: with a scripted reader that always names the recipe's
    food, MAPPO's shared actor learns, as the cook, to take the food it hears (docs/multiagent.md: from
    scratch the pair stays at guessing, 25%)."""
    import torch

    from rewardgym.agents import make_agent
    from rewardgym.envs.multiagent.core import MultiAgentVectorEnv
    from rewardgym.envs.multiagent.kitchen_talk import READER
    from rewardgym.wrappers.multiagent import AgentsAsEnvs

    class NamingReader(KitchenTalkCore):
        def _play(self, g, seat, action):
            return super()._play(g, seat, int(self.state.target[g]) if seat == READER else action)

    def envs():
        return AgentsAsEnvs(MultiAgentVectorEnv(NamingReader(8)), state_key="state")

    torch.set_num_threads(1)
    train = envs()
    agent = make_agent("mappo", train, seed=0, device="cpu")
    agent.learn(train, 150_000, progress=False)
    result = agent.evaluate(envs(), 200, deterministic=True, seed=1_000_000)
    assert result["success_rate"] >= 0.8, result  # guessing: 0.25


def test_bag_of_words_caches_stay_bounded_under_endless_free_text(monkeypatch):
    """Free text (a player's speech, every room's view) brings new texts and words for ever: the caches
    start over at their bound instead of growing, and a bag is still right after they did."""
    from rewardgym import _text

    monkeypatch.setattr(_text, "_MAX_BAG_FLOATS", 64 * 100)
    monkeypatch.setattr(_text, "_MAX_WORDS", 500)
    monkeypatch.setattr(_text, "_BAGS", {})
    monkeypatch.setattr(_text, "_WORD_INDEX", {})
    monkeypatch.setattr(_text, "_bag_floats", 0)
    for k in range(2_000):
        bag = _text.word_bag(f"say zq{k} xv{k}", 64)
        assert sum(b.size for b in _text._BAGS.values()) <= 64 * 100
        assert len(_text._WORD_INDEX) <= 500
    assert sorted(np.flatnonzero(bag)) == sorted(set(hashed_words("say zq1999 xv1999", 64)))
    assert not bag.flags.writeable


@pytest.mark.slow
def test_mappo_learns_to_talk_and_its_success_rests_on_being_heard():
    """150k agent-steps of MAPPO (16-step rollouts: a game lasts about two steps, so the run makes ~1,200
    updates): held out, the pair cooks the right food far more often than the one game in four that a
    cook who hears nothing can reach — and silencing the reader takes the success back down to a guess."""
    from rewardgym.agents import make_agent
    from rewardgym.agents.mappo import MAPPO
    from rewardgym.workflows.training import make_envs

    envs = make_envs(MAPPO.spec, "kitchen_talk_v0", 8)
    agent = make_agent("mappo", envs, seed=0, device="cpu", num_steps=16, learning_rate=1e-3, norm_obs=True)
    agent.learn(envs, 150_000, progress=False)
    heard = agent.evaluate(make_envs(MAPPO.spec, "kitchen_talk_v0", 8), 200, seed=1_000_000)["success_rate"]
    muted = agent.evaluate(make_envs(MAPPO.spec, "kitchen_talk_v0", 8, {"talk": False}), 200,
                           seed=1_000_000)["success_rate"]
    assert heard > 0.6 and muted < 0.35, (heard, muted)
