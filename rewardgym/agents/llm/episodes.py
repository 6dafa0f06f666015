"""Multi-turn episodes as token sequences: the chat format, batched generation, the rollout loop.

An episode is *one* token sequence, the way the model reads it: the system prompt and the
first observation in the chat template, then each turn's generated tokens followed by the
template's markers and the next observation. ``Episode.mask`` is 1 exactly on the tokens the
policy generated, so environment text never enters the loss (RAGEN, verl, OpenRLHF).

The generated tokens are kept as generated, never decoded and re-encoded: re-tokenising a
response can split it differently, and the loss would then score tokens the policy never
sampled. The text between turns comes from the chat template, rendered once with placeholder
messages (:class:`ChatFormat`), so any template that writes history verbatim works, and the
model always sees exactly the tokens it is trained on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium.vector import VectorEnv

from rewardgym._batch import VectorInfos
from rewardgym.envs.language import answer_in
from rewardgym.wrappers.vector import deferred_reward

# Used when a tokenizer has no chat template (a base model): plain "Role: text" lines.
FALLBACK_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] | capitalize }}: {{ m['content'] }}\n\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)
_USER, _ASSISTANT, _OBSERVATION = "\x1fUSER\x1f", "\x1fASSISTANT\x1f", "\x1fOBSERVATION\x1f"


def extract_action(response: str) -> str:
    """The last ``<answer>...</answer>`` of a response when there is one, else the whole text.

    Training and :meth:`LLMAgent.act` hand the whole reply to the env, which reads the command in
    it (:func:`rewardgym.envs.language.read_reply`); this is for callers that want the tag alone.
    """
    answer = answer_in(response)
    return (response if answer is None else answer).strip()


class ChatFormat:
    """Token ids of an episode's opening and of the text between two turns, from the chat template.

    ``opening(observation)`` is the template applied to [system, user: observation] with the
    generation prompt; ``between(observation, ended)`` is what follows a generated turn: the
    template's end-of-turn marker (left out when the model already ended its turn with it),
    the next user message and the generation prompt. Templates that reject a system message
    (Gemma's) get the system prompt at the head of the first user message instead.
    """

    def __init__(self, tokenizer, system_prompt: str | None):
        self.tokenizer = tokenizer
        if not getattr(tokenizer, "chat_template", None):
            tokenizer.chat_template = FALLBACK_TEMPLATE
        self.system_prompt = system_prompt or None
        self.system_role = self.system_prompt is not None and self._accepts_system()
        full = self._render([*self._head(_USER), {"role": "assistant", "content": _ASSISTANT},
                             {"role": "user", "content": _OBSERVATION}], generation_prompt=True)
        after = full[full.index(_ASSISTANT) + len(_ASSISTANT):]
        self.turn_end, _, self.turn_start = after.partition(_OBSERVATION)
        self.end_text = tokenizer.eos_token or ""

    def _accepts_system(self) -> bool:
        try:
            self._render([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}], True)
            return True
        except Exception:  # templates raise their own error types (jinja2's TemplateError, ValueError)
            return False

    def _head(self, observation: str) -> list[dict]:
        if self.system_prompt is None:
            return [{"role": "user", "content": observation}]
        if self.system_role:
            return [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": observation}]
        return [{"role": "user", "content": f"{self.system_prompt}\n\n{observation}"}]

    def _render(self, messages: list[dict], generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def opening(self, observation: str) -> list[int]:
        return self.encode(self._render(self._head(observation), generation_prompt=True))

    def between(self, observation: str, ended: bool) -> list[int]:
        """Ids after a generated turn; ``ended``: the turn's last token was an end token."""
        end = self.turn_end
        if ended and self.end_text and end.startswith(self.end_text):
            end = end[len(self.end_text):]
        return self.encode(end + observation + self.turn_start)


@dataclass
class Episode:
    """One multi-turn episode: its token sequence, the policy's share of it, and what the env said."""

    group: int
    seed: int
    seat: int = 0  # the seat played, in a multi-agent game (self-play); 0 otherwise
    ids: list[int] = field(default_factory=list)
    mask: list[int] = field(default_factory=list)
    turn_spans: list[tuple[int, int]] = field(default_factory=list)  # [start, end) of each turn's generation
    rewards: list[float] = field(default_factory=list)  # per turn, format penalty included
    observations: list[str] = field(default_factory=list)  # what the env said before each turn
    responses: list[str] = field(default_factory=list)  # what the model wrote
    commands: list[str] = field(default_factory=list)  # what the env read in it ("" when nothing)
    invalid: list[bool] = field(default_factory=list)
    success: bool | None = None
    terminated: bool = False
    truncated: bool = False

    def extend(self, ids: Sequence[int], generated: bool) -> None:
        self.ids.extend(int(i) for i in ids)
        self.mask.extend([int(generated)] * len(ids))

    @property
    def total_reward(self) -> float:
        return float(sum(self.rewards))

    @property
    def turns(self) -> int:
        return len(self.rewards)

    @property
    def generated_tokens(self) -> int:
        return int(sum(self.mask))


@dataclass
class RolloutStats:
    turns: int = 0
    generated_tokens: int = 0
    generate_s: float = 0.0
    env_s: float = 0.0


class Generator:
    """Batched sampling from a causal LM: left-padded prompts in, each row's new tokens out.

    Sampling follows the policy exactly (softmax of logits / temperature, no top-k, top-p only
    when asked), since the policy gradient assumes the tokens came from the policy it scores.
    ``temperature <= 0`` decodes greedily (evaluation).
    """

    def __init__(self, model, tokenizer, *, max_new_tokens: int, temperature: float, top_p: float = 1.0,
                 autocast: Callable[[], Any] | None = None):
        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens, self.temperature, self.top_p = int(max_new_tokens), float(temperature), float(top_p)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        ends = {tokenizer.eos_token_id}
        configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
        ends.update(configured if isinstance(configured, list) else [configured])
        self.end_ids = sorted(i for i in ends if i is not None)
        self.autocast = autocast

    def generation_config(self, greedy: bool):
        from transformers import GenerationConfig

        sampling = ({"do_sample": False} if greedy or self.temperature <= 0 else
                    {"do_sample": True, "temperature": self.temperature, "top_p": self.top_p, "top_k": 0})
        return GenerationConfig(max_new_tokens=self.max_new_tokens, pad_token_id=self.pad_id,
                                eos_token_id=self.end_ids or None, **sampling)

    def __call__(self, prompts: Sequence[Sequence[int]], *, greedy: bool = False) -> list[list[int]]:
        import contextlib

        import torch

        device = next(self.model.parameters()).device
        width = max(len(p) for p in prompts)
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, prompt in enumerate(prompts):  # left padding: every prompt ends where generation starts
            ids[row, width - len(prompt):] = torch.as_tensor(prompt, dtype=torch.long)
            attention[row, width - len(prompt):] = 1
        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode(), (self.autocast() if self.autocast else contextlib.nullcontext()):
            out = self.model.generate(input_ids=ids.to(device), attention_mask=attention.to(device),
                                      generation_config=self.generation_config(greedy))
        self.model.train(was_training)
        return cut_after_end(out[:, width:].tolist(), self.end_ids)  # what follows an end token is padding

    def ended(self, response: Sequence[int]) -> bool:
        return bool(response) and response[-1] in self.end_ids

    def weights_changed(self, model) -> None:
        """The trainer updated the weights: nothing to do, this generator samples from the trained model itself."""


def cut_after_end(rows: Sequence[Sequence[int]], end_ids: Sequence[int]) -> list[list[int]]:
    """Each row of generated tokens up to and including its first end token."""
    ends = set(end_ids)
    return [list(row[: next((k + 1 for k, token in enumerate(row) if token in ends), len(row))]) for row in rows]


def collect_episodes(envs: VectorEnv, episodes: list[Episode], generate: Generator, chat: ChatFormat, *,
                     format_penalty: float, max_turns: int | None, max_context_tokens: int,
                     greedy: bool = False, on_episode: Callable[[Episode], None] | None = None,
                     max_invalid_turns: int | None = None) -> RolloutStats:
    """Play ``episodes`` (each resets with its own seed) on the text envs of ``envs``, one generation batch per turn.

    ``envs`` is a vector env of text envs (:func:`~rewardgym.agents.llm.grpo.text_envs` makes one).
    The episodes are played in waves of ``num_envs``: a wave resets every env with its episode's
    seed, and each turn generates one response for every episode still playing and steps the
    vector env once; an env whose episode is over gets ``None``, which a text env answers as
    unparsed text without stepping (a NEXT_STEP env first autoresets, which is no transition
    either). A response the env cannot parse (``info["invalid_action"]``) costs
    ``format_penalty``; the episode goes on from the env's feedback. An episode ends when the
    env ends it, after ``max_turns`` turns, after ``max_invalid_turns`` unreadable replies in a
    row (an env that is never stepped would otherwise never end it), or when another turn would
    not fit in ``max_context_tokens`` (all three counted as truncation).

    A learned reward on ``envs`` reaches the episodes as every reward does: in each step's
    reward, or, when it is deferred (``LearnedReward(defer=True)``), from one ``flush()`` at the
    end that scores every turn of every wave in one batch.
    """
    stats = RolloutStats()
    num_envs = envs.num_envs
    reward_wrapper = deferred_reward(envs)
    turns: list[tuple[Episode, int, int]] = []  # (episode, vector step, env) of every turn, for a deferred reward
    step = 0
    for first in range(0, len(episodes), num_envs):
        wave: list[Episode | None] = list(episodes[first:first + num_envs])
        wave += [None] * (num_envs - len(wave))
        began = time.perf_counter()
        observations, _ = envs.reset(seed=[None if e is None else e.seed for e in wave])
        stats.env_s += time.perf_counter() - began
        for slot, episode in enumerate(wave):
            if episode is None:
                continue
            episode.extend(chat.opening(observations[slot]), generated=False)
            if len(episode.ids) + generate.max_new_tokens > max_context_tokens:
                raise ValueError(f"the first observation alone takes {len(episode.ids)} tokens: raise "
                                 f"max_context_tokens (now {max_context_tokens}) above that plus max_new_tokens")
        while any(episode is not None for episode in wave):
            slots = [k for k, episode in enumerate(wave) if episode is not None]
            began = time.perf_counter()
            responses = generate([wave[k].ids for k in slots], greedy=greedy)
            stats.generate_s += time.perf_counter() - began
            texts = [generate.tokenizer.decode(response, skip_special_tokens=True) for response in responses]
            actions: list[str | None] = [None] * num_envs
            for slot, text in zip(slots, texts):  # the env reads the command in the reply (read_reply)
                actions[slot] = text
                wave[slot].observations.append(str(observations[slot]))
            began = time.perf_counter()
            observations, reward, terminated, truncated, info = envs.step(tuple(actions))
            stats.env_s += time.perf_counter() - began
            infos = VectorInfos(info, num_envs)
            for slot, response, text in zip(slots, responses, texts):
                episode = wave[slot]
                begin = len(episode.ids)
                episode.extend(response, generated=True)
                episode.turn_spans.append((begin, len(episode.ids)))
                step_info = infos[slot]
                invalid = bool(step_info.get("invalid_action", False))
                episode.rewards.append(float(reward[slot]) - (format_penalty if invalid else 0.0))
                episode.responses.append(text)
                episode.commands.append(str(step_info.get("command", "")))
                episode.invalid.append(invalid)
                if "success" in step_info:
                    episode.success = bool(step_info["success"])
                turns.append((episode, step, slot))
                stats.turns += 1
                stats.generated_tokens += len(response)
                ended = bool(terminated[slot] or truncated[slot])
                following = [] if ended else chat.between(observations[slot], generate.ended(response))
                out_of_room = len(episode.ids) + len(following) + generate.max_new_tokens > max_context_tokens
                out_of_turns = max_turns is not None and episode.turns >= max_turns
                stuck = bool(max_invalid_turns) and episode.turns >= max_invalid_turns and all(
                    episode.invalid[-max_invalid_turns:])
                if ended or out_of_room or out_of_turns or stuck:
                    episode.terminated = bool(terminated[slot])
                    episode.truncated = not episode.terminated
                    if on_episode is not None:
                        on_episode(episode)
                    wave[slot] = None
                else:
                    episode.extend(following, generated=False)
            step += 1
    if reward_wrapper is not None:  # the deferred learned reward: every turn scored in one batch
        total = reward_wrapper.flush().total
        done_turns: dict[int, int] = {}  # turns are in order, so an episode's k-th entry is its turn k
        for episode, t, slot in turns:
            k = done_turns.get(id(episode), 0)
            done_turns[id(episode)] = k + 1
            episode.rewards[k] = float(total[t, slot]) - (format_penalty if episode.invalid[k] else 0.0)
    return stats


def token_advantages(episode: Episode, turn_values: Sequence[float]) -> np.ndarray:
    """A per-token array that holds ``turn_values[t]`` on the tokens of turn t and 0 elsewhere."""
    out = np.zeros(len(episode.ids), dtype=np.float32)
    for (begin, end), value in zip(episode.turn_spans, turn_values):
        out[begin:end] = value
    return out
