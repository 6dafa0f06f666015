"""``GUIEnv``: a GUI task as a Gymnasium env — pixels and an element table in, mouse and keyboard out.

Observation (``observation="both"``, the default; ``"pixels"`` keeps only ``screenshot``,
``"elements"`` only the table, and then nothing is ever rendered): a ``Dict`` of

- ``screenshot``: ``Box(0, 255, (H, W, 3), uint8)``; 160 x 210 (W x H) for the MiniWoB-style
  tasks, 240 x 320 for the apps (``size=(W, H)`` changes it). The instruction is drawn in the
  band at the top, as in MiniWoB.
- ``elements``: ``Box(-1, 32767, (E, 13), int32)``, one row per element of the page in a stable
  order (row k is the page's k-th element; zero rows after the last; E = ``max_elements``,
  64), columns :data:`ELEMENT_COLUMNS`: id, role (:class:`~rewardgym.envs.gui.widgets.Role`),
  x, y, w, h, visible, enabled, focused, checked, expanded, value (a slider's value, a
  dropdown's option index or -1, a list's scroll offset), parent id.
- ``element_text`` and ``element_value``: ``Box(0, 255, (E, L), uint8)``, each element's text
  (label, button caption, option...) and value (what a text field holds), UTF-8, truncated to
  L = ``text_length`` (64) bytes and zero-padded. Bytes rather than hashed tokens: lossless for
  short labels and any tokenizer can be put on top.
- ``instruction``: ``Box(0, 255, (256,), uint8)``, the task's instruction, UTF-8, zero-padded
  (MiniWoB's utterance, BrowserGym's goal): row 0, the heading, shows it too, but cut to L bytes.

The instruction is also ``info["task"]``.

Action (``action_mode``):

- ``"coords"`` (default): ``MultiDiscrete([6, bx, by, 12])`` = (kind, column, row, argument)
  over a grid of ``coord_bins=(bx, by)`` cells (5-pixel cells by default: 32 x 42 for
  160 x 210). Kinds: 0 click, 1 scroll up, 2 scroll down (at the cell), 3 drag from the pointer
  to the cell, 4 press key ``KEYS[argument]``, 5 type word ``argument`` of the task's
  vocabulary into the focused field (replacing its text). Components a kind does not use are
  ignored.
- ``"elements"``: ``Discrete(E * 7 + 12)``: ``row * 7 + verb`` with verbs click, scroll up,
  scroll down, fill word 0..3 of the vocabulary; then ``E * 7 + k`` presses ``KEYS[k]``.
  ``info["action_mask"]`` (bool, same size) marks the actions that can do something.
- ``"text"``: ``Text``: BrowserGym-style commands (see :mod:`rewardgym.envs.gui.text`), e.g.
  ``click("12")``, ``fill("5", "alice")``, ``press("Enter")``, ``select_option("3", "Blue")``,
  ``scroll("4", 1)``. A command the parser does not understand changes nothing on screen; the
  step still counts, and ``info["feedback"]`` says what was wrong.

An action outside the space raises ``ValueError`` naming the space, before anything changes.
An action that cannot apply (filling a button) leaves the screen as it was, with feedback.

Reward (MiniWoB's): on success ``1 - elapsed / max_steps`` (elapsed = the steps taken before the
deciding one, so an instant solution earns 1); on failure (a wrong final click, a wrong
submit, a wrong checkout) -1, and -1 on reaching ``max_steps`` without success. With
``dense_click=c > 0`` each click also earns ``c * exp(-(dx^2 / (w/2)^2 + dy^2 / (h/2)^2) / 2)``,
a Gaussian around the centre of the element the scripted expert would click next (GUI-G²-style
shaping; 0 when the expert's next action is not a click).
Episode: terminated on success or failure; truncated at ``max_steps`` (the task's own limit);
stepping an ended episode raises ``RuntimeError`` (call ``reset``).
Info on every step: ``success`` (bool), ``task`` (the instruction), ``feedback`` (str, "" when
the action applied), ``page`` (the app's page), and ``action_mask`` in element mode.
Seeds: a task's parameters are drawn from the reset seed; seeds >= 1_000_000 are the held-out
test range. ``get_state``/``set_state`` copy the whole episode (picklable, exact).
Vectorisation: through Gymnasium's ``SyncVectorEnv`` (``gym.make_vec``); a batched core would
not pay here, since each step is a few widget updates in Python.
"""

from __future__ import annotations

import copy
import math
from functools import lru_cache
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rewardgym.envs.gui.apps import APP_CLASSES
from rewardgym.envs.gui.screen import COORD_KINDS, KEYS, SLOTS, VERBS, Command, Refused, Screen
from rewardgym.envs.gui.tasks import TASK_CLASSES, Task
from rewardgym.envs.gui.text import GUIText, describe_screen, encode_command, parse_command
from rewardgym.envs.gui.widgets import PageBuilder, Role
from rewardgym.envs.language import InvalidCommand

ELEMENT_COLUMNS = ("id", "role", "x", "y", "w", "h", "visible", "enabled", "focused", "checked", "expanded",
                   "value", "parent")
OBSERVATIONS = ("both", "pixels", "elements")
INSTRUCTION_BYTES = 256  # the ``instruction`` observation's length
ACTION_MODES = ("coords", "elements", "text")
HEADING_LINE = 12


def make_task(name: str) -> Task:
    if name in TASK_CLASSES:
        return TASK_CLASSES[name]()
    if name in APP_CLASSES:
        return APP_CLASSES[name]()
    raise ValueError(f"unknown GUI task {name!r}; tasks: {', '.join([*TASK_CLASSES, *APP_CLASSES])}")


@lru_cache(maxsize=4096)
def _encode(text: str, length: int) -> np.ndarray:
    raw = np.frombuffer(text.encode("utf-8")[:length], dtype=np.uint8)
    out = np.zeros(length, np.uint8)
    out[: len(raw)] = raw
    out.flags.writeable = False
    return out


class ElementTable:
    """The ``elements``/``element_text``/``element_value`` arrays of a screen, rewritten row by row
    only where an element changed since the last call."""

    def __init__(self, max_elements: int, text_length: int):
        self.numbers = np.zeros((max_elements, len(ELEMENT_COLUMNS)), np.int32)
        self.text = np.zeros((max_elements, text_length), np.uint8)
        self.value = np.zeros((max_elements, text_length), np.uint8)
        self._rows: list[tuple | None] = [None] * max_elements
        self._screen: Screen | None = None
        self._revision = -1

    def invalidate(self) -> None:
        self._screen = None

    def update(self, screen: Screen) -> None:
        if screen is self._screen and screen.revision == self._revision:
            return
        length = self.text.shape[1]
        elements = screen.elements[: len(self._rows)]
        for k, e in enumerate(elements):
            numeric = int(e.value) if e.role in (Role.SLIDER, Role.COMBOBOX, Role.LIST) else 0
            row = (e.id, int(e.role), e.x, e.y, e.w, e.h, e.visible, e.enabled, screen.focus == e.id, e.checked,
                   e.expanded, numeric, e.parent, e.text, e.value_text)
            if row != self._rows[k]:
                self.numbers[k] = row[:13]
                self.text[k] = _encode(e.text, length)
                self.value[k] = _encode(e.value_text, length)
                self._rows[k] = row
        for k in range(len(elements), len(self._rows)):
            if self._rows[k] is not None:
                self.numbers[k] = 0
                self.text[k] = 0
                self.value[k] = 0
                self._rows[k] = None
        self._screen, self._revision = screen, screen.revision


class GUIEnv(gym.Env):
    __doc__ = __doc__
    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 10}

    def __init__(self, task: str = "click-button", observation: str = "both", action_mode: str = "coords",
                 size: tuple[int, int] | None = None, coord_bins: tuple[int, int] | None = None,
                 max_steps: int | None = None, max_elements: int = 64, text_length: int = 64,
                 dense_click: float = 0.0, render_mode: str | None = None):
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {OBSERVATIONS}, got {observation!r}")
        if action_mode not in ACTION_MODES:
            raise ValueError(f"action_mode must be one of {ACTION_MODES}, got {action_mode!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        for name, given, used, where in (
                ("coord_bins", coord_bins is not None, action_mode == "coords", "the grid of action_mode='coords'"),
                ("text_length", text_length != 64, observation != "pixels",
                 "the element_text and element_value rows of observation='elements' or 'both'"),
                ("max_elements", max_elements != 64, observation != "pixels" or action_mode == "elements",
                 "the element table (observation='elements' or 'both') and action_mode='elements'")):
            if given and not used:
                raise ValueError(f"{name} does nothing with observation={observation!r} and action_mode="
                                 f"{action_mode!r}: it sizes {where}")
        self.task_name = task
        self.task = make_task(task)
        self.observation_mode, self.action_mode, self.render_mode = observation, action_mode, render_mode
        self.width, self.height = (int(v) for v in (size or self.task.size))
        self.max_steps = int(max_steps or self.task.max_steps)
        self.max_elements, self.text_length = int(max_elements), int(text_length)
        self.coord_bins = tuple(int(v) for v in (coord_bins or (math.ceil(self.width / 5), math.ceil(self.height / 5))))
        self.dense_click = float(dense_click)

        obs: dict[str, spaces.Space] = {}
        if observation in ("both", "pixels"):
            obs["screenshot"] = spaces.Box(0, 255, (self.height, self.width, 3), np.uint8)
        if observation in ("both", "elements"):
            e, length = self.max_elements, self.text_length
            obs["elements"] = spaces.Box(-1, 32767, (e, len(ELEMENT_COLUMNS)), np.int32)
            obs["element_text"] = spaces.Box(0, 255, (e, length), np.uint8)
            obs["element_value"] = spaces.Box(0, 255, (e, length), np.uint8)
            obs["instruction"] = spaces.Box(0, 255, (INSTRUCTION_BYTES,), np.uint8)
        self.observation_space = spaces.Dict(obs)
        if action_mode == "coords":
            self.action_space = spaces.MultiDiscrete([len(COORD_KINDS), *self.coord_bins, len(KEYS)])
        elif action_mode == "elements":
            self.action_space = spaces.Discrete(self.max_elements * VERBS + len(KEYS))
        else:
            self.action_space = spaces.Text(max_length=256, charset=_CHARSET)

        from rewardgym.envs.gui.render import ScreenRenderer  # Pillow, only for envs that draw

        self._renderer = ScreenRenderer(self.width, self.height)
        self._table = ElementTable(self.max_elements, self.text_length)
        self._episode: dict[str, Any] | None = None
        self._mask, self._mask_of = None, None

    # -- the episode ----------------------------------------------------------------------
    @property
    def screen(self) -> Screen:
        return self._episode["screen"]

    @property
    def instruction(self) -> str:
        return self._episode["instruction"] if self._episode else ""

    @property
    def vocabulary(self) -> tuple[str, ...]:
        return tuple(self._episode["vocabulary"]) if self._episode else ()

    @property
    def page(self) -> str:
        return self._episode["page"]

    @property
    def params(self) -> dict:
        return self._episode["params"]

    @property
    def app(self) -> dict:
        return self._episode["app"]

    @property
    def text_adapter(self):
        """The language interface (:class:`~rewardgym.envs.gui.text.GUIText`): the element tree as
        text, BrowserGym-style commands; ``rewardgym.wrappers.TextInterface(env)`` plays through it."""
        return GUIText(self)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
            raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
        super().reset(seed=seed)
        params = self.task.sample(self.np_random)
        instruction = self.task.instruction(params)
        self._episode = {"params": params, "instruction": instruction,
                         "instruction_bytes": _encode(instruction, INSTRUCTION_BYTES),
                         "vocabulary": list(self.task.vocabulary(params))[:SLOTS],
                         "app": self.task.initial_app(params), "page": self.task.first_page, "screen": None,
                         "t": 0, "result": 0}
        self._build_page()
        return self._observe(), self._info("")

    def _build_page(self) -> None:
        from rewardgym.envs.gui.render import wrap

        ep = self._episode
        builder = PageBuilder(self.width, self.height)
        lines = len(wrap(ep["instruction"], self.width - 6))
        builder.heading(ep["instruction"], h=max(50, 6 + HEADING_LINE * lines))
        self.task.build(builder, ep["params"], ep["app"], ep["page"])
        ep["screen"] = Screen(self.width, self.height, builder.elements)

    def step(self, action):
        if self._episode is None:
            raise RuntimeError("call reset() before step()")
        command, feedback = self._decode(action)
        ep = self._episode
        if ep["result"] or ep["t"] >= self.max_steps:
            raise RuntimeError("the episode has ended: call reset()")
        shaping = self._click_shaping(command) if self.dense_click and command is not None else 0.0
        events = []
        if command is not None:
            try:
                events = self._apply(command)
            except Refused as refusal:
                feedback = str(refusal)
        ep["t"] += 1
        result, page = self.task.react(self.screen, events, ep["params"], ep["app"])
        if page is not None:
            ep["page"] = page
            self._build_page()
        ep["result"] = result
        terminated = result != 0
        truncated = not terminated and ep["t"] >= self.max_steps
        if result > 0:
            reward = 1.0 - (ep["t"] - 1) / self.max_steps
        elif result < 0 or truncated:
            reward = -1.0
        else:
            reward = 0.0
        return self._observe(), reward + shaping, terminated, truncated, self._info(feedback)

    def _apply(self, c: Command) -> list:
        s = self.screen
        if c.verb == "click":
            return s.click(c.element)
        if c.verb == "click_at":
            return s.click_at(c.x, c.y)
        if c.verb == "fill":
            return s.fill(c.element, c.text)
        if c.verb == "type":
            return s.type(c.text)
        if c.verb == "press":
            return s.press(c.text, c.element)
        if c.verb == "select":
            return s.select(c.element, c.text)
        if c.verb == "scroll":
            return s.scroll(c.element, c.amount)
        if c.verb == "scroll_at":
            return s.scroll_at(c.x, c.y, c.amount)
        if c.verb == "drag":
            return s.drag(c.element, c.x, c.y)
        if c.verb == "drag_at":
            return s.drag_at(c.x, c.y)
        return []  # noop

    # -- actions --------------------------------------------------------------------------
    def _decode(self, action) -> tuple[Command | None, str]:
        """The command an action names, or (None, feedback) for text that names none; ValueError outside the space."""
        if self.action_mode == "text":
            if not isinstance(action, str) or not self.action_space.contains(action):
                raise ValueError(f"action {action!r} is not in the action space {self.action_space}")
            try:
                return parse_command(action), ""
            except InvalidCommand as error:
                return None, str(error)
        if self.action_mode == "elements":
            if isinstance(action, np.ndarray) and action.shape == ():
                action = action[()]  # a 0-d array, as samplers and vector envs hand out
            integral = isinstance(action, (int, np.integer)) and not isinstance(action, (bool, np.bool_))
            if not integral or not 0 <= action < self.action_space.n:
                raise ValueError(f"action {action!r} is not in the action space {self.action_space}")
            return self._element_command(int(action))
        arr = np.asarray(action)
        if arr.shape != (4,) or arr.dtype.kind not in "iu" or not self.action_space.contains(arr.astype(np.int64)):
            raise ValueError(f"action {action!r} is not in the action space {self.action_space}")
        return self._coord_command(*(int(v) for v in arr))

    def _element_command(self, index: int) -> tuple[Command | None, str]:
        keys_at = self.max_elements * VERBS
        if index >= keys_at:
            return Command("press", text=KEYS[index - keys_at]), ""
        row, verb = divmod(index, VERBS)
        elements = self.screen.elements
        if row >= len(elements):
            return None, f"There is no element in row {row}."
        e = elements[row]
        if verb == 0:
            return Command("click", e.id), ""
        if verb in (1, 2):
            return Command("scroll", e.id, amount=-1 if verb == 1 else 1), ""
        slot = verb - 3
        if slot >= len(self.vocabulary):
            return None, f"The task has no word {slot} to type."
        return Command("fill", e.id, self.vocabulary[slot]), ""

    def cell_centre(self, column: int, row: int) -> tuple[float, float]:
        bx, by = self.coord_bins
        return (column + 0.5) * self.width / bx, (row + 0.5) * self.height / by

    def _coord_command(self, kind: int, column: int, row: int, argument: int) -> tuple[Command | None, str]:
        x, y = self.cell_centre(column, row)
        name = COORD_KINDS[kind]
        if name == "click":
            return Command("click_at", x=x, y=y), ""
        if name in ("scroll_up", "scroll_down"):
            return Command("scroll_at", x=x, y=y, amount=-1 if name == "scroll_up" else 1), ""
        if name == "drag":
            return Command("drag_at", x=x, y=y), ""
        if name == "press":
            return Command("press", text=KEYS[argument]), ""
        if argument >= len(self.vocabulary):
            return None, f"The task has no word {argument} to type."
        focused = self.screen.by_id.get(self.screen.focus)
        if focused is None:
            return None, "No text field has the focus: click one first."
        return Command("fill", focused.id, self.vocabulary[argument]), ""

    def encode(self, command: Command):
        """The action of this env's action mode that performs ``command`` (for experts and the text
        adapter); raises :class:`~rewardgym.envs.language.InvalidCommand` when the mode cannot express it."""
        return encode_command(self, command)

    def action_mask(self) -> np.ndarray:
        """Element mode: which actions can do something (a visible, enabled element; a list to scroll;
        a text field and a word to fill it with; every key)."""
        screen = self.screen
        if self._mask_of != (screen, screen.revision):  # recomputed only when the screen changed
            self._mask, self._mask_of = self._compute_mask(), (screen, screen.revision)
        return self._mask.copy()

    def _compute_mask(self) -> np.ndarray:
        mask = np.zeros(self.action_space.n, dtype=bool)
        mask[self.max_elements * VERBS:] = True
        words = len(self.vocabulary)
        for row, e in enumerate(self.screen.elements[: self.max_elements]):
            if not (e.visible and e.enabled):
                continue
            base = row * VERBS
            mask[base] = e.role not in (Role.HEADING, Role.LABEL, Role.GROUP)
            scrolls = e.role == Role.LIST or e.role == Role.LISTITEM
            mask[base + 1] = mask[base + 2] = scrolls
            if e.role == Role.TEXTBOX:
                mask[base + 3: base + 3 + words] = True
        return mask

    def _click_shaping(self, command: Command) -> float:
        if command.verb == "click":
            point = self.screen.by_id[command.element].centre if command.element in self.screen.by_id else None
        elif command.verb == "click_at":
            point = (command.x, command.y)
        else:
            return 0.0
        from rewardgym.envs.gui.experts import plan

        target = plan(self)
        e = self.screen.by_id.get(target.element) if target.verb == "click" else None
        if e is None and target.verb == "click_at":
            e = self.screen.hit(target.x, target.y)
        if e is None or point is None:
            return 0.0
        cx, cy = e.centre
        d2 = ((point[0] - cx) / (e.w / 2)) ** 2 + ((point[1] - cy) / (e.h / 2)) ** 2
        return self.dense_click * math.exp(-0.5 * d2)

    # -- observations ---------------------------------------------------------------------
    def _observe(self) -> dict[str, np.ndarray]:
        obs = {}
        if "screenshot" in self.observation_space.spaces:
            obs["screenshot"] = self._renderer.draw(self.screen).copy()
        if "elements" in self.observation_space.spaces:
            self._table.update(self.screen)
            obs["elements"] = self._table.numbers.copy()
            obs["element_text"] = self._table.text.copy()
            obs["element_value"] = self._table.value.copy()
            obs["instruction"] = self._episode["instruction_bytes"].copy()
        return obs

    def _info(self, feedback: str) -> dict[str, Any]:
        info = {"success": self._episode["result"] > 0, "task": self.instruction, "feedback": feedback,
                "page": self.page}
        if self.action_mode == "elements":
            info["action_mask"] = self.action_mask()
        return info

    def render(self):
        if self.render_mode == "rgb_array":
            return self._renderer.draw(self.screen).copy()
        if self.render_mode == "ansi":
            return describe_screen(self.screen)
        return None

    # -- state ----------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """The whole episode (screen, app data, step count, the generator of later episodes), picklable."""
        if self._episode is None:
            raise RuntimeError("call reset() before get_state()")
        return copy.deepcopy({"task": self.task_name, "episode": self._episode,
                              "rng": self.np_random.bit_generator.state})

    def set_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or set(state) != {"task", "episode", "rng"}:
            raise ValueError("state must be a dict from GUIEnv.get_state()")
        if state["task"] != self.task_name:
            raise ValueError(f"state is of task {state['task']!r}, this env runs {self.task_name!r}")
        screen = state["episode"]["screen"]
        if (screen.width, screen.height) != (self.width, self.height):
            raise ValueError(f"state is of a {screen.width}x{screen.height} screen, this env draws "
                             f"{self.width}x{self.height}")
        self._episode = copy.deepcopy(state["episode"])
        self.np_random.bit_generator.state = copy.deepcopy(state["rng"])
        self._renderer.invalidate()
        self._table.invalidate()
        self._mask_of = None


_CHARSET = "".join(chr(c) for c in range(32, 127)) + "\n\t"
