"""The GUI family: checkers, oracles, what is drawn against the element tree, bad input, determinism, text."""

from __future__ import annotations

import copy
import hashlib
import pickle
import re
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import rewardgym
from rewardgym.envs.gui import render
from rewardgym.envs.gui.env import GUIEnv
from rewardgym.envs.gui.screen import COORD_KINDS, VERBS
from rewardgym.envs.gui.experts import expert_for
from rewardgym.envs.gui.screen import Command
from rewardgym.envs.gui.text import cell_of, parse_command
from rewardgym.envs.gui.widgets import Role
from rewardgym.envs.language import InvalidCommand
from rewardgym.wrappers.text import TextInterface

GUI_IDS = [i for i, e in rewardgym.ENV_IDS.items() if e.family == "GUI"]
LOGIN = "rewardgym/GUI-LoginUser-v0"


def run_expert(env, seed):
    expert = expert_for(env)
    obs, info = env.reset(seed=seed)
    total = 0.0
    while True:
        obs, reward, terminated, truncated, info = env.step(expert.act(obs))
        total += reward
        if terminated or truncated:
            return info["success"], total, info


def ui_state(env):
    """The episode without its step counter: what a refused or malformed action must leave alone."""
    episode = copy.deepcopy(env.unwrapped.get_state()["episode"])
    episode.pop("t")
    return pickle.dumps(episode)


# -- the contract ----------------------------------------------------------------------------
def test_at_least_fifteen_tasks_registered():
    assert len(GUI_IDS) >= 15 and LOGIN in GUI_IDS


@pytest.mark.parametrize("env_id", GUI_IDS)
def test_gymnasium_and_sb3_checkers_pass(env_id):
    check_env(gym.make(env_id, render_mode="rgb_array").unwrapped, skip_render_check=False)
    sb3_check_env(gym.make(env_id), warn=False)


@pytest.mark.parametrize("action_mode", ["elements", "text"])
@pytest.mark.parametrize("observation", ["pixels", "elements"])
def test_checkers_pass_in_every_mode(action_mode, observation):
    env = gym.make(LOGIN, action_mode=action_mode, observation=observation, render_mode="rgb_array")
    check_env(env.unwrapped, skip_render_check=False)
    if action_mode != "text":  # SB3 takes no Text actions
        sb3_check_env(gym.make(LOGIN, action_mode=action_mode, observation=observation), warn=False)


def test_spaces_and_info():
    env = gym.make(LOGIN)
    obs, info = env.reset(seed=0)
    assert obs["screenshot"].shape == (210, 160, 3) and obs["elements"].shape == (64, 13)
    assert isinstance(env.action_space, gym.spaces.MultiDiscrete) and list(env.action_space.nvec) == [6, 32, 42, 12]
    assert info["task"].startswith("Log in with username") and info["success"] is False
    assert bytes(obs["element_text"][0]).rstrip(b"\0").decode() == info["task"]  # row 0: the heading
    elements = gym.make(LOGIN, action_mode="elements", observation="elements")
    obs, info = elements.reset(seed=0)
    assert set(obs) == {"elements", "element_text", "element_value", "instruction"}
    assert bytes(obs["instruction"]).rstrip(b"\0").decode() == info["task"]
    assert info["action_mask"].shape == (elements.action_space.n,) and info["action_mask"].any()
    long = gym.make("rewardgym/GUI-FillForm-v0", observation="elements", text_length=16)
    obs, info = long.reset(seed=0)  # the heading row is cut to text_length bytes; the instruction is whole
    assert len(info["task"]) > 16 and bytes(obs["instruction"]).rstrip(b"\0").decode() == info["task"]
    apps = gym.make("rewardgym/GUI-ShopCheckout-v0", observation="pixels")
    assert apps.reset(seed=0)[0]["screenshot"].shape == (320, 240, 3)


@pytest.mark.parametrize("env_id", GUI_IDS)
def test_the_expert_solves_every_task(env_id):
    env = gym.make(env_id)
    seeds = [*range(40), *range(1_000_000, 1_000_040)]  # training and held-out seeds
    results = [run_expert(env, seed) for seed in seeds]
    assert np.mean([ok for ok, _, _ in results]) >= 0.99
    assert all(0 < total <= 1 for ok, total, _ in results if ok)


@pytest.mark.parametrize("action_mode", ["elements", "text"])
@pytest.mark.parametrize("env_id", GUI_IDS)
def test_the_expert_solves_in_the_other_action_modes(env_id, action_mode):
    env = gym.make(env_id, action_mode=action_mode, observation="elements")
    assert all(run_expert(env, seed)[0] for seed in range(12))


def test_rewards_are_miniwob_s():
    env = gym.make("rewardgym/GUI-ClickButton-v0", action_mode="text")
    env.reset(seed=3)
    screen = env.unwrapped.screen
    target = env.unwrapped.params["target"]
    wrong = next(e for e in screen.elements if e.role == Role.BUTTON and e.text != target)
    right = next(e for e in screen.elements if e.role == Role.BUTTON and e.text == target)
    _, reward, terminated, _, info = env.step(f'click("{wrong.id}")')
    assert (reward, terminated, info["success"]) == (-1.0, True, False)
    env.reset(seed=3)
    env.step("noop()")
    _, reward, terminated, _, info = env.step(f'click("{right.id}")')
    assert terminated and info["success"] and reward == pytest.approx(1 - 1 / 5)  # one step spent before it
    env.reset(seed=3)
    for _ in range(5):
        _, reward, terminated, truncated, info = env.step("noop()")
    assert (reward, terminated, truncated, info["success"]) == (-1.0, False, True, False)  # timed out


def test_dense_click_reward_peaks_on_the_expert_s_target():
    env = gym.make("rewardgym/GUI-ClickCheckboxes-v0", action_mode="text", dense_click=0.1)
    env.reset(seed=5)
    target = expert_for(env).command()
    e = env.unwrapped.screen.by_id[target.element]
    state = env.unwrapped.get_state()
    _, on_target, *_ = env.step(f'click("{e.id}")')
    env.unwrapped.set_state(state)
    _, far_away, *_ = env.step(f"click_at({(e.x + 80) % 160}, 205)")
    assert on_target == pytest.approx(0.1) and 0 <= far_away < 0.01


# -- what is drawn agrees with the element tree --------------------------------------------------
def _busy_screens():
    """Screens with every kind of widget on them, popups open: (env, screen) after a few expert steps."""
    for env_id, steps in [("ChooseDate", 1), ("SelectOption", 1), ("ClickMenu", 2), ("FillForm", 0),
                          ("SearchAndClick", 0), ("NavigateTabs", 0), ("ClickDialog", 0), ("UseSlider", 0),
                          ("ClickOption", 0), ("ClickCheckboxes", 0), ("LoginUser", 0), ("ShopCheckout", 0)]:
        env = gym.make(f"rewardgym/GUI-{env_id}-v0", action_mode="text")
        env.reset(seed=11)
        if env_id == "ClickMenu":
            env.unwrapped.params["path"] = ["File", "Export", "PDF"]  # a path with a nested submenu
        expert = expert_for(env)
        for _ in range(steps):
            env.step(expert.act())
        yield env


FRAMED = {Role.BUTTON, Role.TEXTBOX, Role.COMBOBOX, Role.DATEFIELD, Role.OPTION, Role.LIST, Role.TAB, Role.DIALOG}


def test_every_element_is_drawn_inside_its_bbox():
    checked = 0
    for env in _busy_screens():
        screen = env.unwrapped.screen
        picture = env.unwrapped._renderer.draw(screen)
        visible = [e for e in screen.order if e.visible]
        for k, e in enumerate(visible):
            above = visible[k + 1:]
            covered = any(o.x < e.x + e.w and e.x < o.x + o.w and o.y < e.y + e.h and e.y < o.y + o.h for o in above
                          if o.parent != e.id and o.id != e.parent)
            if e.role not in FRAMED or covered or e.y + e.h > screen.height:
                continue
            region = picture[e.y: e.y + e.h, e.x: e.x + e.w].astype(int)
            # a frame of non-white pixels runs along the bbox's top and left edges
            assert (region[0, :].sum(-1) < 3 * 250).mean() > 0.9, (env.spec.id, e)
            assert (region[:, 0].sum(-1) < 3 * 250).mean() > 0.9, (env.spec.id, e)
            checked += 1
    assert checked > 30


def test_clicking_an_element_s_centre_activates_it():
    activated = 0
    for env in _busy_screens():
        base = env.unwrapped.get_state()
        for e in list(env.unwrapped.screen.elements):
            if not (e.visible and e.enabled) or e.role in (Role.HEADING, Role.LABEL, Role.GROUP, Role.LIST,
                                                           Role.DIALOG):
                continue
            env.unwrapped.set_state(base)
            screen = env.unwrapped.screen
            cx, cy = e.centre
            assert screen.hit(cx, cy).id == e.id, (env.spec.id, e)
            events = screen.click_at(cx, cy)
            element = screen.by_id[e.id]
            parent = screen.by_id.get(element.parent)
            if e.role == Role.DAY:
                field = screen.by_id[screen.by_id[e.parent].parent]
                assert field.value.split("/")[1] == f"{e.value:02d}"
            elif e.role == Role.OPTION:
                assert parent.value == e.value and parent.text == e.text
            elif e.action.startswith("calendar:"):
                assert screen.by_id[parent.parent].view != screen_view(base, parent.parent)
            else:
                assert screen.focus == e.id, (env.spec.id, e)
                if e.role in (Role.BUTTON, Role.LISTITEM) or (e.role == Role.MENUITEM and not screen.children[e.id]):
                    assert ("press", element) in events
                if e.role in (Role.CHECKBOX, Role.RADIO, Role.TAB, Role.SLIDER):
                    assert ("change", element) in events
            activated += 1
    assert activated > 60


def screen_view(state, element_id):
    return state["episode"]["screen"].by_id[element_id].view


def test_coordinate_clicks_land_where_the_grid_says():
    env = gym.make("rewardgym/GUI-ClickCheckboxes-v0")
    env.reset(seed=2)
    screen = env.unwrapped.screen
    box = next(e for e in screen.elements if e.role == Role.CHECKBOX)
    column, row = cell_of(env.unwrapped, *box.centre)
    env.step(np.array([COORD_KINDS.index("click"), column, row, 0]))
    assert screen.by_id[box.id].checked and screen.focus == box.id


def test_the_same_seed_draws_the_same_bytes():
    a, b = gym.make("rewardgym/GUI-FillForm-v0"), gym.make("rewardgym/GUI-FillForm-v0")
    a.action_space.seed(0)
    actions = [a.action_space.sample() for _ in range(30)]
    for env in (a, b):
        env.reset(seed=9)
    for action in actions:
        oa, *ra = a.step(action)
        ob, *rb = b.step(action)
        assert oa["screenshot"].tobytes() == ob["screenshot"].tobytes() and ra[:3] == rb[:3]
        for key in ("elements", "element_text", "element_value", "instruction"):
            np.testing.assert_array_equal(oa[key], ob[key])
        if ra[1] or ra[2]:
            a.reset()
            b.reset()
    assert a.reset(seed=10)[0]["screenshot"].tobytes() != b.reset(seed=9)[0]["screenshot"].tobytes()


def test_a_fresh_process_draws_the_same_bytes():
    code = ("import gymnasium as gym, hashlib, rewardgym; e = gym.make('rewardgym/GUI-ChooseDate-v0'); "
            "o, _ = e.reset(seed=4); o, *_ = e.step([0, 5, 14, 0]); print(hashlib.sha256(o['screenshot']).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    env = gym.make("rewardgym/GUI-ChooseDate-v0")
    env.reset(seed=4)
    obs, *_ = env.step(np.array([0, 5, 14, 0]))
    assert out == hashlib.sha256(obs["screenshot"]).hexdigest()


def test_incremental_drawing_equals_drawing_from_scratch():
    env = gym.make("rewardgym/GUI-FillForm-v0")
    env.action_space.seed(1)
    env.reset(seed=1)
    for _ in range(60):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        fresh = render.ScreenRenderer(env.unwrapped.width, env.unwrapped.height).draw(env.unwrapped.screen)
        np.testing.assert_array_equal(obs["screenshot"], fresh)
        if terminated or truncated:
            env.reset()


def test_element_observations_never_render(monkeypatch):
    env = gym.make("rewardgym/GUI-SearchAndClick-v0", observation="elements", action_mode="elements")

    def refuse(*args, **kwargs):
        raise AssertionError("drew a picture")

    monkeypatch.setattr(render.ScreenRenderer, "draw", refuse)
    monkeypatch.setattr(render, "text_mask", refuse)
    env.action_space.seed(0)
    env.reset(seed=0)
    for _ in range(50):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()


# -- state -------------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", ["rewardgym/GUI-ShopCheckout-v0", "rewardgym/GUI-ChooseDate-v0"])
def test_get_state_set_state_continues_identically(env_id):
    env = gym.make(env_id)
    env.reset(seed=3)
    expert = expert_for(env)
    env.step(expert.act())
    state = env.unwrapped.get_state()
    assert pickle.loads(pickle.dumps(state)).keys() == state.keys()
    env.action_space.seed(5)
    actions = [env.action_space.sample() for _ in range(25)]

    def replay():
        out = []
        for action in actions:
            obs, reward, terminated, truncated, _ = env.step(action)
            out.append((obs["screenshot"].tobytes(), obs["elements"].tobytes(), reward, terminated, truncated))
            if terminated or truncated:
                obs, _ = env.reset()
                out.append(obs["screenshot"].tobytes())
        return out

    first = replay()
    env.unwrapped.set_state(pickle.loads(pickle.dumps(state)))
    assert replay() == first  # the next episodes' seeds come back too


def test_set_state_rejects_foreign_states():
    env = gym.make(LOGIN)
    env.reset(seed=0)
    other = gym.make("rewardgym/GUI-ClickButton-v0")
    other.reset(seed=0)
    with pytest.raises(ValueError, match="task"):
        env.unwrapped.set_state(other.unwrapped.get_state())
    with pytest.raises(ValueError):
        env.unwrapped.set_state({"nope": 1})


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("action_mode, bad", [
    ("coords", np.array([6, 0, 0, 0])), ("coords", np.array([0, 32, 0, 0])), ("coords", [0, 0, 0]),
    ("coords", np.array([0.5, 0, 0, 0])), ("elements", 64 * VERBS + 12), ("elements", -1), ("elements", 1.5),
    ("elements", True), ("text", 3), ("text", "x" * 300), ("text", "click(\"1\")\u00e9"),
])
def test_actions_outside_the_space_raise_value_error_naming_it(action_mode, bad):
    env = gym.make(LOGIN, action_mode=action_mode)
    env.reset(seed=0)
    before = pickle.dumps(env.unwrapped.get_state())
    with pytest.raises(ValueError, match="action space"):
        env.step(bad)
    assert pickle.dumps(env.unwrapped.get_state()) == before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(env_id=st.sampled_from(GUI_IDS), mode=st.sampled_from(["coords", "elements"]), seed=st.integers(0, 10**6),
       steps=st.integers(1, 40))
def test_random_valid_actions_never_raise(env_id, mode, seed, steps):
    env = gym.make(env_id, action_mode=mode)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs) and -1.0 <= reward <= 1.0
        assert isinstance(info["success"], bool) and info["task"] and isinstance(info["feedback"], str)
        if terminated or truncated:
            assert info["success"] == (reward > 0)
            obs, _ = env.reset()


_ARG = st.one_of(st.integers(-5, 80), st.text(max_size=6), st.floats(allow_nan=True), st.sampled_from(
    ['"3"', "'Enter'", "1e999", "[1]", "None", "lambda: 1", "__import__('os')"]))
_VERB = st.sampled_from(["click", "fill", "type", "press", "select_option", "scroll", "drag", "click_at", "noop",
                         "rm", "Click", ""])


@st.composite
def commands(draw):
    if draw(st.booleans()):
        return draw(st.text(max_size=40))
    args = draw(st.lists(_ARG, max_size=4))
    text = ", ".join(a if isinstance(a, str) and a[:1] in "\"'1[Nl_" else repr(a) for a in args)
    return f"{draw(_VERB)}({text}){draw(st.sampled_from(['', ')', ';', '(']))}"


@settings(max_examples=150, deadline=None)
@given(text=commands(), env_id=st.sampled_from([LOGIN, "rewardgym/GUI-ChooseDate-v0", "rewardgym/GUI-ClickMenu-v0"]))
def test_text_commands_never_raise_and_malformed_ones_change_nothing(text, env_id):
    env = gym.make(env_id, action_mode="text")
    env.reset(seed=1)
    before = ui_state(env)
    try:
        parse_command(text)
        malformed = False
    except InvalidCommand:
        malformed = True
    if not env.action_space.contains(text):
        with pytest.raises(ValueError, match="action space"):
            env.step(text)
        return
    _, reward, _, _, info = env.step(text)
    if malformed:
        assert info["feedback"] and ui_state(env) == before and reward in (0.0, -1.0)


def test_refused_commands_give_feedback_and_change_nothing():
    env = gym.make(LOGIN, action_mode="text")
    env.reset(seed=0)
    before = ui_state(env)
    for command in ['fill("1", "x")', 'type("abc")', 'select_option("3", "Blue")', 'scroll("3", 1)',
                    'click("999")', 'drag("3", 10, 10)', 'press("1", "Enter")']:
        _, reward, terminated, _, info = env.step(command)
        assert info["feedback"] and reward == 0.0 and not terminated, command
        assert ui_state(env) == before, command


# -- the toolkit through text commands ------------------------------------------------------------
def test_text_field_cursor_typing_and_backspace():
    env = gym.make("rewardgym/GUI-EnterText-v0", action_mode="text", max_steps=20)
    env.reset(seed=0)
    field = env.unwrapped.screen.named("text")
    for command in [f'click("{field.id}")', 'type("helo")', 'press("ArrowLeft")', 'type("l")', 'press("End")',
                    'press("Backspace")', 'type("o!")']:
        env.step(command)
    field = env.unwrapped.screen.named("text")
    assert field.value == "hello!" and field.cursor == 6


def test_dropdown_slider_tabs_and_keys():
    env = gym.make("rewardgym/GUI-FillForm-v0", action_mode="text")
    env.reset(seed=0)
    s = env.unwrapped.screen
    plan = s.named("plan")
    env.step(f'select_option("{plan.id}", "team")')
    assert env.unwrapped.screen.named("plan").text == "Team"
    env.step(f'press("{plan.id}", "ArrowUp")')
    assert env.unwrapped.screen.named("plan").text == "Pro"
    env.step('press("Tab")')
    assert env.unwrapped.screen.focus == env.unwrapped.screen.named("news").id
    env.step('press("Space")')
    assert env.unwrapped.screen.named("news").checked
    slider = gym.make("rewardgym/GUI-UseSlider-v0", action_mode="text")
    slider.reset(seed=0)
    s = slider.unwrapped.screen.named("slider")
    slider.step(f'press("{s.id}", "End")')
    slider.step('press("ArrowLeft")')
    assert slider.unwrapped.screen.named("slider").value == s.hi - 1
    slider.step(f'drag("{s.id}", {slider.unwrapped.screen.slider_x(s, 0)}, {s.centre[1]})')
    assert slider.unwrapped.screen.named("slider").value == 0


def test_lists_scroll_and_filter():
    env = gym.make("rewardgym/GUI-SearchAndClick-v0", action_mode="text", max_steps=60)
    env.reset(seed=0)
    s = env.unwrapped.screen
    box = s.named("names")
    count = len(s.children[box.id])
    for _ in range(30):
        env.step(f'scroll("{box.id}", 1)')
    assert s.named("names").value == count - 5  # clamped at the end
    target = env.unwrapped.params["target"]
    env.step(f'fill("{s.named("search").id}", "{target}")')
    shown = [e.text for e in s.children[box.id] if e.visible]
    assert target in shown and len(shown) <= 2 and s.named("names").value == 0


def test_calendar_crosses_years_and_menus_close_on_outside_clicks():
    env = gym.make("rewardgym/GUI-ChooseDate-v0", action_mode="text", max_steps=60)
    env.reset(seed=0)
    s = env.unwrapped.screen
    field = s.named("date")
    env.step(f'click("{field.id}")')
    prev = next(e for e in s.elements if e.action == "calendar:prev")
    for _ in range(14):
        env.step(f'click("{prev.id}")')
    month = s.named("month").text
    assert month.endswith(str(divmod(s.named("date").view, 12)[0])) and s.named("date").expanded
    env.step("click_at(150, 205)")
    assert not s.named("date").expanded
    menu = gym.make("rewardgym/GUI-ClickMenu-v0", action_mode="text")
    menu.reset(seed=0)
    m = menu.unwrapped.screen
    file_ = next(e for e in m.elements if e.role == Role.MENUITEM and e.text == "File")
    menu.step(f'click("{file_.id}")')
    assert any(e.visible for e in m.children[file_.id])
    menu.step("click_at(80, 200)")
    assert not any(e.visible for e in m.children[file_.id])


# -- the language interface ---------------------------------------------------------------------
def test_text_interface_plays_login_user():
    env = TextInterface(gym.make(LOGIN, action_mode="text"))
    text, info = env.reset(seed=0)
    user, password = env.unwrapped.params["username"], env.unwrapped.params["password"]
    assert user in text and 'fill("id", "text")' in text and "[3] textbox" in text
    s = env.unwrapped.screen
    text, reward, _, _, info = env.step("please log me in")
    assert info["invalid_action"] and "don't understand" in text and reward == 0
    env.step(f'fill("{s.named("username").id}", "{user}")')
    text, *_ = env.step(f'fill("{s.named("password").id}", "{password}")')
    assert f'value="{password}"' in text
    login = next(e for e in s.elements if e.text == "Login")
    _, reward, terminated, _, info = env.step(f'<answer>click("{login.id}")</answer>')
    assert terminated and info["success"] and reward == pytest.approx(1 - 2 / 8)


def test_text_interface_maps_commands_onto_discrete_modes():
    for mode in ("elements", "coords"):
        env = TextInterface(gym.make(LOGIN, action_mode=mode))
        env.reset(seed=0)
        s = env.unwrapped.screen
        user = env.unwrapped.params["username"]
        field = s.named("username").id
        if mode == "coords":
            _, _, _, _, info = env.step(f'fill("{field}", "{user}")')
            assert info["invalid_action"] and "first" in info["feedback"]
            env.step(f'click("{field}")')
        env.step(f'fill("{field}", "{user}")')
        assert env.unwrapped.screen.named("username").value == user
        _, _, _, _, info = env.step(f'fill("{field}", "not a task word")')
        assert info["invalid_action"] and "action_mode='text'" in info["feedback"]


def test_vector_env_and_demos(tmp_path):
    envs = gym.make_vec(LOGIN, num_envs=3)
    obs, info = envs.reset(seed=0)
    assert obs["screenshot"].shape == (3, 210, 160, 3) and len(set(info["task"])) == 3
    single = gym.make(LOGIN)
    first, single_info = single.reset(seed=2)
    assert single_info["task"] == info["task"][2]
    for key in first:  # the vector's row 2 is the single env seeded 2, key for key (instruction included)
        np.testing.assert_array_equal(obs[key][2], first[key])
    demos = rewardgym.collect_demos(LOGIN, 2, tmp_path / "demos", progress=False,
                                    env_kwargs={"observation": "elements"})
    assert demos.success_rate == 1.0 and demos[0].observations["elements"].shape[1:] == (64, 13)


def test_bad_kwargs():
    for kwargs in ({"task": "nope"}, {"observation": "nope"}, {"action_mode": "nope"}, {"render_mode": "human"}):
        with pytest.raises(ValueError):
            GUIEnv(**kwargs)
    with pytest.raises(ValueError):
        gym.make(LOGIN).reset(seed=-1)
    assert Command("noop").verb == "noop"


@pytest.mark.slow
def test_ppo_with_the_gui_preset_reads_the_instruction_and_clicks_the_named_button(tmp_path, capsys):
    """ClickButton: six words on six buttons in shuffled places, the instruction names one. With the
    preset (words as hashed bags, each element scored against the instruction) PPO clicks the named
    one on held-out pages; chance is about 1 in 7 clickable elements."""
    import json

    from rewardgym.cli import main

    assert main(["train", "rewardgym/GUI-ClickButton-v0", "--agent", "ppo", "--steps", "20000", "--seed", "0",
                 "--out", str(tmp_path), "--no-progress", "--threads", "1"]) == 0
    (run,) = tmp_path.iterdir()
    capsys.readouterr()
    assert main(["eval", str(run), "--episodes", "100", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["success_rate"] >= 0.8


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"action_mode": "elements", "coord_bins": (10, 10)}, "coord_bins does nothing with observation='both' and "
                                                          "action_mode='elements'"),
    ({"observation": "pixels", "text_length": 10}, "text_length does nothing with observation='pixels'"),
    ({"observation": "pixels", "max_elements": 10}, "max_elements does nothing with observation='pixels' and "
                                                    "action_mode='coords'"),
])  # fmt: skip
def test_arguments_that_would_do_nothing_are_errors(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        gym.make("rewardgym/GUI-ClickButton-v0", **kwargs)
    for fine in ({"coord_bins": (10, 10)}, {"observation": "pixels", "max_elements": 10, "action_mode": "elements"},
                 {"observation": "elements", "text_length": 10}):
        gym.make("rewardgym/GUI-ClickButton-v0", **fine).close()  # where they size something they count
