"""The talking kitchen: two players who must talk to cook — one reads the recipe, the other is in the kitchen.

``player_0``, the reader, sits in the study with the cookbook: the recipe names one food.
``player_1``, the cook, stands in the kitchen among ``n_items`` foods (the text worlds' foods)
and cannot see the recipe. Only the cook can take a food; only the reader knows which. Both act
every step, at once; the cook reaches the kitchen on the first step, while the reader opens the
cookbook, so a word said on the first step is heard before anything can be taken:

- the reader says something (``say carrot``; in free text anything: ``say the recipe wants the
  carrot``), which the cook hears on the next step (``Your partner says: "carrot"``);
- the cook takes a food (``take carrot``), waits, or (in free text) says something back.

Taking the recipe's food wins the game for both (each is paid 1: one shared, cooperative
reward); taking another food ruins the meal (each is paid ``ruined``; by default
``-1 / (n_items - 1)``, so that a blind guess is worth 0 on average, as much as never taking);
``horizon`` steps without a take end it truncated (0). Both players always leave together.
A cook who hears nothing can do no better than one game in ``n_items``: ``talk=False`` (what
is said is not heard) is that control — the success rate communication has to beat.

Interfaces, as the single-player text worlds':

- ``action_mode="choice"`` (default): ``Discrete(n_items + 1)``, an index into the seat's
  commands ``info["choices"]`` — the reader's ``say FOOD`` for each food in the kitchen, the
  cook's ``take FOOD``, then ``wait``; ``info["action_mask"]`` marks what can be done (on the
  first step the cook can only wait). The foods come in the game's own random order, so a slot
  says nothing about the recipe: the words do (PPO's choice scoring reads them).
- ``action_mode="text"``: ``Text``, any string: ``say ...`` (at most 200 printable characters
  are heard), ``take FOOD`` (any of its words), ``wait``; anything else is answered ("I don't
  understand that.") and changes nothing but the clock. A reply is read as the single-player
  text interface reads one (``read_reply``: the last ``<answer>...</answer>``, else the reply's
  leading command), so an LLM's whole reply can be the action; ``info["command"]`` is what was
  read and ``info["invalid_action"]`` marks a reply with no command in it. The first view
  states the seat's task and commands. A non-string raises ``ValueError``.
- ``observation="vector"`` (default): ``view`` (512,), a hashed bag of words of the seat's
  text; ``heard`` (64,), of what the partner said on the last step (apart, since a bag of the
  whole text could not tell "you see an apple" from "your partner says apple"); ``choices``
  (n_items + 1, 64), each command's, in the same 64 buckets; ``seat``, a one-hot.
  ``observation="text"``: the seat's text itself.

``info[agent]``: ``success``, ``task``, ``feedback`` (the game's answer to the agent's last
command — what a message-reading reward such as ``llm-feedback`` or ``novelty:key=message``
scores, per agent), and in choice mode ``choices`` and ``action_mask``.

``state()`` (for a centralised critic): the recipe's food and the food the cook last heard
named (one-hots over the kitchen's foods, the latter with a slot for "nothing a food's name"),
and the share of the steps left.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from rewardgym.envs import rng
from rewardgym.envs.multiagent.core import MultiAgentCore
from rewardgym.envs.textworlds.content import FOODS
from rewardgym._text import word_bag, words_of
from rewardgym.envs.language import InvalidCommand, read_reply
from rewardgym.envs.textworlds.env import CHOICE_DIM, VIEW_DIM
from rewardgym.envs.textworlds.parser import DONT_UNDERSTAND, MAX_CHARS, PARDON

READER, COOK = 0, 1
FOOD_NAMES = tuple(name for name, _ in FOODS)
FOOD_WORDS = tuple(frozenset(words_of(name)) for name in FOOD_NAMES)
MESSAGE_CHARS = 200
OBS_CHARS = 1024
ACTION_MODES, OBSERVATIONS = ("choice", "text"), ("vector", "text")
TEXT_COMMANDS = ("Commands: say MESSAGE (your partner hears it next turn), wait.",
                 "Commands: take FOOD, say MESSAGE (your partner hears it next turn), wait.")
_INSTANCE = 0  # counter-RNG stream of the game's draw
_PRINTABLE = frozenset(string.printable) - frozenset("\t\n\r\x0b\x0c")


def _a(name: str) -> str:
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _listed(names: list[str]) -> str:
    names = [_a(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def heard_text(raw: str) -> str:
    """What a listener hears of ``raw``: printable characters only, whitespace collapsed, at most 200."""
    clean = "".join(c if c in _PRINTABLE else " " for c in raw[: 4 * MESSAGE_CHARS])
    return " ".join(clean.split())[:MESSAGE_CHARS]


def _command(text: str, items: np.ndarray | None = None) -> tuple[str, object]:
    """The kitchen's command in ``text``: (``say``, what is said), (``take``, the index among ``items``
    of the food named; -1 when ``items`` is None, a player who cannot reach the food) or (``wait``,
    None). A text that is no command, or takes no single food of ``items``, raises
    :class:`InvalidCommand` with the game's answer."""
    if len(text) > MAX_CHARS:
        raise InvalidCommand(DONT_UNDERSTAND)
    words = words_of(text)
    if not words:
        raise InvalidCommand(PARDON)
    verb = words[0]
    if verb in ("say", "tell", "shout", "ask"):
        parts = text.split(None, 1)
        message = heard_text(parts[1]) if len(parts) > 1 else ""
        if not message:
            raise InvalidCommand("Say what?")
        return "say", message
    if verb in ("wait", "z") and len(words) == 1:
        return "wait", None
    if verb in ("take", "get", "pick", "grab"):
        named = set(words[1:]) - {"up"}
        if not named:
            raise InvalidCommand("Take what?")
        if items is None:
            return "take", -1
        matches = [k for k, i in enumerate(items) if named <= FOOD_WORDS[i]]
        if len(matches) > 1:
            raise InvalidCommand(f"Which do you mean, {' or '.join('the ' + FOOD_NAMES[items[k]] for k in matches)}?")
        if not matches:
            raise InvalidCommand("You can't see any such thing.")
        return "take", matches[0]
    raise InvalidCommand(DONT_UNDERSTAND)


@dataclass
class KitchenState:
    key: np.ndarray  # (G,) episode key
    t: np.ndarray  # (G,) steps so far
    items: np.ndarray  # (G, K) indices into FOOD_NAMES, in the game's order
    target: np.ndarray  # (G,) which of the K items the recipe needs
    heard: np.ndarray  # (G, 2) object: what each player heard on the last step ("" for nothing)
    heard_item: np.ndarray  # (G,) the kitchen food the cook last heard named (the first one), K for none
    feedback: np.ndarray  # (G, 2) object: the answer to each player's last command
    won: np.ndarray  # (G,)


class KitchenTalkCore(MultiAgentCore):
    """``num_games`` talking kitchens stepped together (see the module docstring)."""

    def __init__(self, num_games: int, n_items: int = 4, horizon: int = 8, talk: bool = True,
                 action_mode: str = "choice", observation: str = "vector", ruined: float | None = None):
        super().__init__(num_games, 2)
        if not 2 <= n_items <= len(FOOD_NAMES):
            raise ValueError(f"n_items must be in 2..{len(FOOD_NAMES)}, got {n_items}")
        if horizon < 2:
            raise ValueError(f"horizon must be >= 2 (one step to speak, one to act on it), got {horizon}")
        for name, value, allowed in (("action_mode", action_mode, ACTION_MODES),
                                     ("observation", observation, OBSERVATIONS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        self.n_items, self.horizon, self.talk = int(n_items), int(horizon), bool(talk)
        self.ruined = -1.0 / (self.n_items - 1) if ruined is None else float(ruined)
        self.action_mode, self.observation = action_mode, observation
        g, k = self.num_games, self.n_items
        self.state = KitchenState(key=np.zeros(g, np.uint64), t=np.zeros(g, np.int64),
                                  items=np.zeros((g, k), np.int64), target=np.zeros(g, np.int64),
                                  heard=np.full((g, 2), "", object), heard_item=np.full(g, k, np.int64),
                                  feedback=np.full((g, 2), "", object), won=np.zeros(g, bool))
        # what each seat may do, fixed for an episode: drawn at reset, not every step
        self._choices = np.empty((g, 2), object)  # (G, 2) tuples of command texts
        self._choice_rows = np.zeros((g, 2, k + 1, CHOICE_DIM), np.float32)  # their hashed bags of words
        # text mode: whether each seat's last reply held no command, and the command read in it
        self._invalid, self._command = np.zeros((g, 2), bool), np.full((g, 2), "", object)
        if action_mode == "choice":
            self.single_action_space = spaces.Discrete(k + 1)
        else:
            self.single_action_space = spaces.Text(max_length=MAX_CHARS, charset=string.printable)
        if observation == "vector":
            self.single_observation_space = spaces.Dict({
                "view": spaces.Box(0.0, 1.0, (VIEW_DIM,), np.float32),
                "choices": spaces.Box(0.0, 1.0, (k + 1, CHOICE_DIM), np.float32),
                "heard": spaces.Box(0.0, 1.0, (CHOICE_DIM,), np.float32),
                "seat": spaces.Box(0.0, 1.0, (2,), np.float32),
            })
        else:
            self.single_observation_space = spaces.Text(max_length=OBS_CHARS, charset=string.printable)
        self.state_space = spaces.Box(0.0, 1.0, (2 * k + 2,), np.float32)
        self.tasks = ("Cook together: your partner in the kitchen must take the food the recipe needs, and only "
                      "you can read the recipe. Tell them which (say ...).",
                      "Cook together: take the food the recipe needs. Only your partner in the study can read the "
                      "recipe: listen to what they say.")
        self._task = np.array([self.tasks] * g, dtype=object)
        self._seats = np.broadcast_to(np.eye(2, dtype=np.float32), (g, 2, 2))

    # -- the game ------------------------------------------------------------------------
    def reset(self, mask: np.ndarray, keys: np.ndarray) -> None:
        s = self.state
        s.key[mask] = keys
        draw = rng.uniform(keys, 0, _INSTANCE, (len(FOOD_NAMES) + 1,))  # (n, F + 1): a shuffle and the target
        s.items[mask] = np.argsort(draw[:, :-1], axis=1, kind="stable")[:, : self.n_items]
        s.target[mask] = np.minimum((draw[:, -1] * self.n_items).astype(np.int64), self.n_items - 1)
        s.t[mask] = 0
        s.heard[mask] = ""
        s.heard_item[mask] = self.n_items
        s.feedback[mask] = ""
        s.won[mask] = False
        self._invalid[mask], self._command[mask] = False, ""
        for g in np.flatnonzero(mask):
            for seat, verb in ((READER, "say"), (COOK, "take")):
                commands = (*(f"{verb} {FOOD_NAMES[i]}" for i in s.items[g]), "wait")
                self._choices[g, seat] = commands
                for row, command in enumerate(commands):
                    self._choice_rows[g, seat, row] = word_bag(command, CHOICE_DIM)

    def step(self, actions: np.ndarray, acting: np.ndarray):
        s, g_all = self.state, self.num_games
        reward = np.zeros((g_all, 2))
        terminated = np.zeros((g_all, 2), bool)
        truncated = np.zeros((g_all, 2), bool)
        for g in np.flatnonzero(acting.any(axis=1)):
            said, took = ["", ""], -1
            for seat in (READER, COOK):
                if not acting[g, seat]:
                    continue
                verb, value, s.feedback[g, seat] = self._play(g, seat, actions[g, seat])
                if verb == "say":
                    said[seat] = value
                elif verb == "take":
                    took = value
            s.heard[g] = (said[COOK], said[READER]) if self.talk else ("", "")
            s.heard_item[g] = self._named(g, s.heard[g, COOK])
            s.t[g] += 1
            if took >= 0:
                s.won[g] = took == s.target[g]
                if not s.won[g]:
                    s.feedback[g, COOK] += "\nThat is not what the recipe needs: the meal is ruined.\n*** You lost! ***"
                    s.feedback[g, READER] = "Your partner took the wrong food.\n*** You lost! ***"
                else:
                    s.feedback[g, COOK] += "\n*** You won! ***"
                    s.feedback[g, READER] = "Your partner took the right food.\n*** You won! ***"
                reward[g] = 1.0 if s.won[g] else self.ruined
                terminated[g] = acting[g]
            elif s.t[g] >= self.horizon:
                truncated[g] = acting[g]
        return reward, terminated, truncated

    def _play(self, g: int, seat: int, action) -> tuple[str, object, str]:
        """(verb, what it carries, the game's answer) of one command: ``say`` carries the words heard,
        ``take`` the item's index; ``wait`` and anything refused carry nothing. In text mode the
        command is read out of the reply first (:func:`read_reply`: an ``<answer>`` tag, else the
        reply's leading command), and ``invalid``/``command`` record what was read."""
        items = self.state.items[g]
        if self.action_mode == "choice":
            k = int(action)
            if k == self.n_items:
                return "wait", None, "You wait."
            name = FOOD_NAMES[items[k]]
            if seat == READER:
                return "say", name, f'You say: "{name}".'
            if self.state.t[g] == 0:
                return "", None, "You are not in the kitchen yet."  # masked out: only a raw index gets here
            return "take", k, f"You take the {name}."
        reach = items if seat == COOK and self.state.t[g] > 0 else None  # only a cook in the kitchen takes
        try:
            (verb, value), command = read_reply(action, lambda text: _command(text, reach))
        except InvalidCommand as unreadable:
            self._invalid[g, seat], self._command[g, seat] = True, ""
            return "", None, str(unreadable)
        self._invalid[g, seat], self._command[g, seat] = False, command
        if verb == "say":
            return "say", value, f'You say: "{value}".'
        if verb == "wait":
            return "wait", None, "You wait."
        if seat == READER:
            return "", None, "The food is in the kitchen, and you are in the study."
        if value < 0:
            return "", None, "You are not in the kitchen yet."
        return "take", value, f"You take the {FOOD_NAMES[items[value]]}."

    # -- what the players see --------------------------------------------------------------
    def choices(self, g: int, seat: int) -> tuple[str, ...]:
        return self._choices[g, seat]

    def text(self, g: int, seat: int) -> str:
        s = self.state
        if seat == READER:
            lines = ["-= Study =-", f"You are in the study, reading the cookbook. The recipe needs the "
                                    f"{FOOD_NAMES[s.items[g, s.target[g]]]}. Your partner is in the kitchen and "
                                    f"cannot see the recipe."]
        elif s.t[g] == 0:
            lines = ["-= Hallway =-", "You are on your way to the kitchen. Your partner is in the study with the "
                                      "cookbook."]
        else:
            foods = _listed([FOOD_NAMES[i] for i in s.items[g]])
            lines = ["-= Kitchen =-", f"You are in the kitchen. You see {foods}. Your partner is in the study "
                                      f"with the cookbook."]
        if s.t[g] == 0 and self.action_mode == "text":  # the first view of a free-text game says how to play
            lines = [self.tasks[seat], TEXT_COMMANDS[seat], "", *lines]
        if s.feedback[g, seat]:
            lines.append(s.feedback[g, seat])
        if s.heard[g, seat]:
            lines.append(f'Your partner says: "{s.heard[g, seat]}"')
        return "\n".join(lines)

    def observe(self):
        g_all = self.num_games
        if self.observation == "text":
            out = np.empty((g_all, 2), object)
            for g in range(g_all):
                out[g] = (self.text(g, READER), self.text(g, COOK))
            return out
        view = np.zeros((g_all, 2, VIEW_DIM), np.float32)
        heard = np.zeros((g_all, 2, CHOICE_DIM), np.float32)
        for g in range(g_all):
            for seat in (READER, COOK):
                view[g, seat] = word_bag(self.text(g, seat), VIEW_DIM)
                heard[g, seat] = word_bag(self.state.heard[g, seat], CHOICE_DIM)
        return {"view": view, "choices": self._choice_rows.copy(), "heard": heard, "seat": self._seats.copy()}

    def _named(self, g: int, message: str) -> int:
        """The first of game ``g``'s foods that ``message`` names (all of its words), n_items for none."""
        said = set(words_of(message)) if message else ()
        for k, i in enumerate(self.state.items[g]):
            if said and FOOD_WORDS[i] <= said:
                return k
        return self.n_items

    def heard_item(self) -> np.ndarray:
        """(G,) the kitchen food the cook last heard named (the first one a message names), n_items for none."""
        return self.state.heard_item.copy()

    def global_state(self) -> np.ndarray:
        s, k = self.state, self.n_items
        out = np.zeros((self.num_games, 2 * k + 2), np.float32)
        rows = np.arange(self.num_games)
        out[rows, s.target] = 1.0
        out[rows, k + s.heard_item] = 1.0
        out[:, -1] = (self.horizon - s.t) / self.horizon
        return out

    def info(self) -> dict[str, np.ndarray]:
        s = self.state
        info = {"success": np.repeat(s.won[:, None], 2, axis=1), "task": self._task, "feedback": s.feedback.copy()}
        if self.action_mode == "choice":
            info["choices"] = self._choices.copy()
            mask = np.ones((self.num_games, 2, self.n_items + 1), np.int8)
            mask[s.t == 0, COOK, : self.n_items] = 0  # on its way to the kitchen, the cook can only wait
            info["action_mask"] = mask
        else:
            info["invalid_action"], info["command"] = self._invalid.copy(), self._command.copy()
        return info

    def render_seat(self, game: int, agent: int) -> str:
        return self.text(game, agent)

    def render_text(self, game: int) -> str:
        return "\n\n".join(f"player_{seat} ({'reader' if seat == READER else 'cook'}):\n{self.text(game, seat)}"
                           for seat in (READER, COOK))

    # -- free-text actions ---------------------------------------------------------------------
    def noop_action(self):
        return 0 if self.action_mode == "choice" else ""

    def empty_actions(self) -> np.ndarray:
        if self.action_mode == "choice":
            return super().empty_actions()
        return np.full((self.num_games, self.n_agents), "", dtype=object)

    def check_action(self, action) -> str | None:
        if self.action_mode == "choice":
            return super().check_action(action)
        return None if isinstance(action, str) else f"a command must be a string, got {type(action).__name__}"

    def check_actions(self, actions: np.ndarray, active: np.ndarray) -> None:
        if self.action_mode == "choice":
            return super().check_actions(actions, active)
        if actions.shape != (self.num_games, self.n_agents):
            raise ValueError(f"actions must be an array of shape ({self.num_games}, {self.n_agents}), "
                             f"got {actions.shape}")
        wrong = [a for a in actions[active] if not isinstance(a, str)]
        if wrong:
            raise ValueError(f"a command must be a string, got {type(wrong[0]).__name__}")
