"""Reading a language model's free-form reply the way a person would, for every family.

``read_reply`` takes the ``<answer>`` tag first, else the first command at the start of the
reply that the family's parser accepts. Whatever the reply, the result is an action in the
env's action space or ``InvalidCommand``, and an unreadable reply never steps the env.
"""

from __future__ import annotations

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardgym  # noqa: F401 - registers the ids
from rewardgym.envs.language import InvalidCommand, read_reply
from rewardgym.wrappers.text import TextInterface

# One env per family, and a command its parser reads.
FAMILIES = {
    "rewardgym/Bandit-Bernoulli5-v0": "arm 3",
    "rewardgym/Dungeon-Gold-v0": "north",
    "rewardgym/Text-Treasure-v0": "look",
    "rewardgym/GUI-ClickButton-v0": "click_at(10, 20)",
    "rewardgym/Manip-Reach-v0": "open",
}


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def family(request):
    env = gym.make(request.param)
    env.reset(seed=0)
    yield request.param, env, env.unwrapped.text_adapter
    env.close()


def test_every_family_reads_its_command(family):
    env_id, env, adapter = family
    command = FAMILIES[env_id]
    action = adapter.parse(command)
    assert env.action_space.contains(action)
    for reply in [command, f"<answer>{command}</answer>", f"I choose: <answer>{command}</answer>.",
                  f"{command}\nThat seems best because the other option looked worse.",
                  f"{command}. It is the best move now.", f"  {command.upper()}  ", f"{command}, then I will see."]:
        read, text = read_reply(reply, adapter.parse)
        assert _same(read, action), (env_id, reply)
        assert text.lower() == command.lower()


def test_the_answer_tag_wins_and_only_it_counts(family):
    env_id, _, adapter = family
    command = FAMILIES[env_id]
    assert _same(read_reply(f"blah\n<answer>{command}</answer>", adapter.parse)[0], adapter.parse(command))
    with pytest.raises(InvalidCommand):  # a tag that holds no command is not rescued by the text around it
        read_reply(f"{command}\n<answer>zzz qqq</answer>", adapter.parse)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reply=st.one_of(st.text(max_size=200), st.sampled_from(sorted(set(FAMILIES.values()))).flatmap(
    lambda command: st.tuples(st.just(command), st.text(max_size=60)).map(lambda p: p[0] + p[1]))))
def test_any_reply_is_an_action_in_the_space_or_invalid(family, reply):
    env_id, env, adapter = family
    try:
        action, text = read_reply(reply, adapter.parse)
    except InvalidCommand as feedback:
        assert str(feedback)  # feedback the player can act on
        return
    assert env.action_space.contains(action), (env_id, reply, action)
    assert isinstance(text, str) and text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reply=st.text(max_size=120))
def test_an_unreadable_reply_never_steps_the_env(reply):
    env = TextInterface(gym.make("rewardgym/Bandit-Bernoulli5-v0"))
    env.reset(seed=1)
    steps = []
    inner_step = env.env.step
    env.env.step = lambda action: steps.append(action) or inner_step(action)
    _, reward, _, _, info = env.step(reply)
    assert bool(steps) != info["invalid_action"]
    if info["invalid_action"]:
        assert reward == 0.0 and info["command"] == "" and info["feedback"]
    else:
        assert info["command"] and steps[0] == env.unwrapped.text_adapter.parse(info["command"])


def test_smollm2_style_replies_pull_the_arm_they_start_with():
    env = TextInterface(gym.make("rewardgym/Bandit-Bernoulli5-v0"))
    env.reset(seed=0)
    for reply, arm in [("1\nThere are 2 plates on the table.", 1), ("Arm 4 because it paid 1.", 4),
                       ("pull 2, then see", 2), ("3.", 3)]:
        _, _, _, _, info = env.step(reply)
        assert not info["invalid_action"] and env.unwrapped.text_adapter.parse(info["command"]) == arm, reply
    for reply in ["I think arm 1", "There are five arms", "", "arm 9\nno, arm 1"]:
        _, _, _, _, info = env.step(reply)
        assert info["invalid_action"], reply


def test_a_lone_letter_prefix_is_not_a_nethack_key():
    adapter = gym.make("rewardgym/Dungeon-Gold-v0").unwrapped.text_adapter
    with pytest.raises(InvalidCommand):
        read_reply("I would like to explore the room", adapter.parse)
    assert read_reply("k", adapter.parse)[1] == "k"  # a key on its own still counts


def _same(a, b) -> bool:
    import numpy as np

    if isinstance(a, str) and isinstance(b, str):  # a text env's command: the env reads it, case aside
        return a.strip().lower() == b.strip().lower()
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def test_the_text_interface_passes_gymnasiums_checker(family):
    import warnings

    from gymnasium.utils.env_checker import check_env

    env_id, _, _ = family
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Text spaces' sampling warnings
        check_env(TextInterface(gym.make(env_id)), skip_render_check=True)


def test_text_interfaces_in_a_vector_env_read_replies_as_a_single_one_does():
    def make():
        return TextInterface(gym.make("rewardgym/Text-Treasure-v0"))

    single, vector = make(), gym.vector.SyncVectorEnv([make, make])
    text, _ = single.reset(seed=3)
    assert list(vector.reset(seed=[3, 3])[0]) == [text, text]
    for reply in ["look\nIt is dark.", "zzz", "<answer>go north</answer> maybe", "inventory, then look"]:
        text, reward, _, _, info = single.step(reply)
        texts, rewards, _, _, infos = vector.step((reply, reply))
        assert list(texts) == [text, text] and list(rewards) == [reward, reward]
        assert list(infos["command"]) == [info["command"]] * 2 and list(infos["invalid_action"]) == [
            info["invalid_action"]] * 2
