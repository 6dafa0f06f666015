"""The LLM-RL trainer: a transformers causal LM plays multi-turn text episodes and learns by GRPO and kin.

One batch is ``groups_per_batch`` groups of ``group_size`` episodes; the episodes of a group
start from the same seed, so their returns can be compared with each other instead of with a
value network. Top to bottom, one iteration of :meth:`LLMAgent.learn` is

1. **Rollout** (``episodes.collect_episodes``): every env plays its episode one turn at a time,
   the turns of all envs generated in one batch. Each episode is one token sequence whose
   generated tokens carry ``mask = 1``; the environment's text carries 0 and is never trained on.
2. **Rewards**: the env's reward per turn, minus ``format_penalty`` for a response the env
   could not parse; with ``kl_in="reward"``, minus β·Σ k1 over the turn's tokens (classic RLHF).
3. **Advantages** (``advantages.py``): ``grpo``, ``dr-grpo``, ``rloo`` or ``reinforce`` over
   episode returns, the same value on every generated token of an episode; or, with
   ``reward_level="turn"``, DeepSeekMath's process supervision over per-turn rewards (for
   learned process rewards). ``filter_groups`` drops groups whose returns are all equal
   (they carry no signal; DAPO's dynamic sampling without the resampling).
4. **Update**: the clipped surrogate −min(ρÂ, clip(ρ, 1 − ε_low, 1 + ε_high)Â) per generated
   token (ρ = π/π_old, at the sampling temperature), plus β·KL(π‖π_ref) per token with
   ``kl_in="loss"`` (k1 or k3), aggregated as GRPO (mean over each sequence's tokens, then
   over sequences), DAPO (mean over all tokens) or Dr.GRPO (sum over tokens divided by a
   constant), for ``update_epochs`` passes of ``minibatches`` optimiser steps. With one pass
   of one minibatch the data is exactly on-policy, ρ = 1, and π_old needs no forward pass.

Memory and speed: LoRA adapters through peft (``lora_rank > 0``; the frozen base then serves
as π_ref with the adapters switched off, so KL costs no second model), gradient
checkpointing (``"auto"``: on CUDA, and on the CPU for models of 10M parameters or more), bf16
autocast on CUDA (``"auto"``), micro-batches of ``micro_batch_size`` sequences for the forward
passes.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from rewardgym._torch import load_pretrained, locate_model, resolve_device
from rewardgym.agents.base import (
    AgentSpec,
    Callback,
    Progress,
    check_field_types,
    read_agent_file,
    seats_of,
    write_agent_file,
)
from rewardgym.agents.llm.advantages import (
    KL_ESTIMATORS,
    RunningBaseline,
    check_estimator,
    group_advantages,
    kl_estimate,
    turn_advantages,
)
from rewardgym.agents.llm.episodes import (
    ChatFormat,
    Episode,
    Generator,
    collect_episodes,
    token_advantages,
)

CHECKPOINTING_MIN_PARAMETERS = 10_000_000  # gradient_checkpointing="auto" turns it on from this size (or on CUDA)

DEFAULT_SYSTEM_PROMPT = (
    "You are playing a game in turns. Each turn you see what the game shows you; reply with your next "
    "move inside <answer></answer>, for example <answer>go north</answer>."
)
TRAIN_SEEDS = 500_000  # task seeds for training are drawn below this; evaluation starts at 1,000,000
EVAL_SEED = 1_000_000
MODEL_DIR, OPTIMIZER_FILE = "model", "optimizer.pt"
AGGREGATIONS = ("sequence", "token", "constant")
GENERATION_BACKENDS = ("transformers", "vllm")
_AUTO_AGGREGATION = {"grpo": "sequence", "dr-grpo": "constant", "rloo": "token", "reinforce": "token"}
_HINT = "Pass --model (model=) a local folder with a transformers causal LM and its tokenizer, or a hub id."


@dataclass
class LLMConfig:
    """Everything an :class:`LLMAgent` is built from (saved in ``agent.json``)."""

    model: str
    estimator: str = "grpo"
    group_size: int = 8
    groups_per_batch: int = 4
    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    max_turns: int | None = None
    max_invalid_turns: int | None = 3  # an episode ends (truncated) after this many unreadable replies in a row
    max_context_tokens: int = 4096
    system_prompt: str | None = DEFAULT_SYSTEM_PROMPT
    format_penalty: float = 0.1
    reward_level: str = "episode"  # or "turn"
    learning_rate: float = 1e-6
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    update_epochs: int = 1
    minibatches: int = 1
    micro_batch_size: int = 8
    clip_eps: float = 0.2
    clip_eps_high: float | None = None  # DAPO's clip-higher (0.28); None: clip_eps
    loss_aggregation: str = "auto"  # sequence (GRPO), token (DAPO), constant (Dr.GRPO); auto: by estimator
    length_normalizer: int | None = None  # Dr.GRPO's constant; None: max_new_tokens
    kl_coef: float = 0.0
    kl_estimator: str = "k3"
    kl_in: str = "loss"  # or "reward"
    baseline_momentum: float = 0.9
    filter_groups: bool = False
    lora_rank: int = 0
    lora_alpha: float | None = None
    lora_target_modules: str | list[str] = "all-linear"
    bf16: bool | str = "auto"
    gradient_checkpointing: bool | str = "auto"
    device: str = "auto"
    seed: int = 0
    samples_per_batch: int = 4  # episodes of each batch handed to callbacks' on_samples (samples.jsonl)
    generation_backend: str = "transformers"  # or "vllm" (CUDA; the vllm extra): rollouts sampled by a vLLM engine
    vllm_gpu_memory_utilization: float = 0.3  # the share of GPU memory the vLLM engine may take

    def check(self) -> None:
        check_field_types(self)
        check_estimator(self.estimator, self.group_size)
        positive = ("group_size", "groups_per_batch", "max_new_tokens", "max_context_tokens", "update_epochs",
                    "minibatches", "micro_batch_size")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_turns is not None and self.max_turns < 1:
            raise ValueError(f"max_turns must be >= 1 or None, got {self.max_turns}")
        if self.max_invalid_turns is not None and self.max_invalid_turns < 1:
            raise ValueError(f"max_invalid_turns must be >= 1 or None, got {self.max_invalid_turns}")
        if not self.temperature > 0:
            raise ValueError(f"training samples from the policy: temperature must be > 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.reward_level not in ("episode", "turn"):
            raise ValueError(f"reward_level must be 'episode' or 'turn', got {self.reward_level!r}")
        if self.reward_level == "turn" and self.estimator not in ("grpo", "dr-grpo"):
            raise ValueError(f"reward_level='turn' works with grpo or dr-grpo, not {self.estimator!r}")
        if self.loss_aggregation not in (*AGGREGATIONS, "auto"):
            raise ValueError(f"loss_aggregation must be auto or one of {', '.join(AGGREGATIONS)}")
        if self.kl_estimator not in KL_ESTIMATORS:
            raise ValueError(f"kl_estimator must be one of {', '.join(KL_ESTIMATORS)}, got {self.kl_estimator!r}")
        if self.kl_in not in ("loss", "reward"):
            raise ValueError(f"kl_in must be 'loss' or 'reward', got {self.kl_in!r}")
        if self.kl_coef < 0 or self.clip_eps <= 0 or (self.clip_eps_high is not None and self.clip_eps_high <= 0):
            raise ValueError("kl_coef must be >= 0 and the clip ranges > 0")
        if self.minibatches > self.group_size * self.groups_per_batch:
            raise ValueError(f"minibatches ({self.minibatches}) cannot exceed the episodes in a batch "
                             f"({self.group_size * self.groups_per_batch})")
        if self.lora_rank < 0:
            raise ValueError(f"lora_rank must be >= 0 (0: train every weight), got {self.lora_rank}")
        if self.generation_backend not in GENERATION_BACKENDS:
            raise ValueError(f"generation_backend must be one of {', '.join(GENERATION_BACKENDS)}, "
                             f"got {self.generation_backend!r}")
        if not 0 < self.vllm_gpu_memory_utilization < 1:
            raise ValueError(f"vllm_gpu_memory_utilization must be in (0, 1), got {self.vllm_gpu_memory_utilization}")

    @property
    def aggregation(self) -> str:
        return _AUTO_AGGREGATION[self.estimator] if self.loss_aggregation == "auto" else self.loss_aggregation


def text_envs(env: Any) -> gym.vector.VectorEnv:
    """The vector env of text envs an LLM agent plays, from what it was given.

    A vector env whose envs are text games (a ``SyncVectorEnv`` made with
    ``wrappers=[TextInterface]``, as ``rewardgym train`` makes it, maybe inside a
    :class:`~rewardgym.wrappers.vector.LearnedReward`) is played as it is, and so are the seats
    of a free-text multi-agent game (:class:`~rewardgym.wrappers.multiagent.AgentsAsEnvs` over a
    game whose observations and actions are text: self-play, one model in every seat). A bare
    ``SyncVectorEnv``, a list of envs or one env is rebuilt as a ``SyncVectorEnv`` of text
    envs, envs with a language interface wrapped in :class:`~rewardgym.wrappers.TextInterface`.
    """
    from rewardgym.wrappers.text import TextInterface

    if isinstance(env, gym.vector.VectorEnv):
        base = env.unwrapped
        if seats_of(env) > 1:
            if not (isinstance(env.single_observation_space, gym.spaces.Text)
                    and isinstance(env.single_action_space, gym.spaces.Text)):
                raise ValueError("an LLM plays a multi-agent game in its free-text form (text observations and "
                                 "actions); this one's are not text")
            return env
        if not isinstance(base, gym.vector.SyncVectorEnv):
            raise ValueError("the LLM agent plays each env on its own: give a list of envs or a SyncVectorEnv "
                             "(gym.make_vec(id, num_envs=N, vectorization_mode='sync')), not a natively batched "
                             f"{type(base).__name__}")
        if isinstance(env.single_observation_space, gym.spaces.Text):
            return env
        if env is not base:
            raise ValueError("the LLM agent plays text envs, and this vector env's wrappers see other observations: "
                             "make it with gym.make_vec(id, num_envs=N, vectorization_mode='sync', "
                             "wrappers=[TextInterface]) and wrap that")
        envs = list(base.envs)
    elif isinstance(env, gym.Env):
        envs = [env]
    elif isinstance(env, Sequence) and env and all(isinstance(e, gym.Env) for e in env):
        envs = list(env)
    else:
        raise TypeError(f"expected a gymnasium Env, a list of them or a SyncVectorEnv, got {type(env).__name__}")
    out = []
    for e in envs:
        if isinstance(e.observation_space, gym.spaces.Text):
            out.append(e)
        elif getattr(e.unwrapped, "text_adapter", None) is not None:
            out.append(TextInterface(e))
        else:
            raise ValueError(f"{e.unwrapped} has no language interface, so an LLM cannot play it")
    return gym.vector.SyncVectorEnv([lambda e=e: e for e in out])


class LLMAgent:
    """A causal LM trained with GRPO-family policy gradients on multi-turn text episodes.

    Args:
        env: what it will play (text envs, see :func:`text_envs`); only checked here.
        model: a local folder or hub id of a transformers causal LM with its tokenizer.
        adapter: a saved LoRA adapter folder to start from (with ``lora_rank > 0``).
        **config: the fields of :class:`LLMConfig`.

    ``learn(env, total_steps)`` counts env steps (turns, unparsable ones included), rounded up
    to whole batches. ``act(obs)`` answers a batch of observations, one turn each, without
    history; ``evaluate`` plays whole episodes greedily. ``save``/``load`` keep the weights
    (or only the LoRA adapter), the optimiser, the random state and the step count.
    """

    spec: ClassVar[AgentSpec] = AgentSpec(
        "llm-grpo", settings=frozenset(f.name for f in fields(LLMConfig)) | {"adapter"}, default_num_envs=32,
        env_interface="text", deferred_rewards=True, takes_device=True, takes_model=True)
    name: ClassVar[str] = spec.name
    estimator: ClassVar[str] = "grpo"

    def __init__(self, env: Any = None, *, model: str | os.PathLike, adapter: str | os.PathLike | None = None,
                 **config: Any):
        import torch

        config.setdefault("estimator", self.estimator)
        self.config = LLMConfig(model=os.fspath(model), **config)
        self.config.check()
        if env is not None:
            text_envs(env)
        c = self.config
        self.device = resolve_device(c.device)
        cuda = self.device.type == "cuda"
        self.bf16 = (cuda and torch.cuda.is_bf16_supported()) if c.bf16 == "auto" else bool(c.bf16)
        # "auto": on CUDA, and for real models on the CPU too (decided once the model is loaded)
        self.checkpointing: bool | None = (
            (True if cuda else None) if c.gradient_checkpointing == "auto" else bool(c.gradient_checkpointing))
        if adapter is not None and not c.lora_rank:
            raise ValueError("adapter= is a saved LoRA adapter: it needs lora_rank > 0")
        if c.generation_backend == "vllm":  # before the model loads: the likelier problems, said at once
            from rewardgym.agents.llm.vllm_generation import import_vllm

            import_vllm()
            if not cuda:
                raise ValueError(f'generation_backend="vllm" runs on a CUDA GPU; this agent is on '
                                 f'{self.device.type} (use generation_backend="transformers")')
        self.tokenizer, self.model = self._load_model(c.model, adapter=None if adapter is None else Path(adapter))
        self.reference = None
        if c.kl_coef > 0 and not c.lora_rank:
            self.reference = copy.deepcopy(self.model).eval().requires_grad_(False)
        self.optimizer = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad],
                                           lr=c.learning_rate, weight_decay=c.weight_decay)
        self.chat = ChatFormat(self.tokenizer, c.system_prompt)
        self.generator = self._generator()
        self.rng = np.random.default_rng(c.seed)
        self.baseline = RunningBaseline(c.baseline_momentum)
        self.global_step = 0
        self.updates = 0
        self._target_step: int | None = None
        self._turn_advantages: list[np.ndarray] = []  # the last update's, per episode and turn (for samples)
        self._rollouts = None  # Ray rollout workers (distribute_rollouts), or None: episodes played here

    # -- the model ----------------------------------------------------------------------
    def _load_model(self, name: str, adapter: Path | None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        c = self.config
        tokenizer = load_pretrained(AutoTokenizer.from_pretrained, name, "causal LM", _HINT)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        # A frozen LoRA base may be stored in bf16; trained weights stay fp32 (bf16 is autocast).
        dtype = torch.bfloat16 if (self.bf16 and c.lora_rank) else torch.float32
        loader = functools.partial(AutoModelForCausalLM.from_pretrained, dtype=dtype)
        model = load_pretrained(loader, name, "causal LM", _HINT)
        _without_dropout(model)
        if c.lora_rank:
            try:
                from peft import LoraConfig, PeftModel, get_peft_model
            except ImportError:
                raise ImportError('lora_rank > 0 needs peft: pip install "rewardgym[llm]"') from None
            if adapter is None:
                lora = LoraConfig(r=c.lora_rank, lora_alpha=c.lora_alpha or 2 * c.lora_rank, lora_dropout=0.0,
                                  target_modules=c.lora_target_modules, task_type="CAUSAL_LM")
                model = get_peft_model(model, lora)
            else:
                model = PeftModel.from_pretrained(model, str(adapter), is_trainable=True)
            for param in model.parameters():  # adapters train in fp32 even over a bf16 base
                if param.requires_grad:
                    param.data = param.data.float()
        if self.checkpointing is None:
            # Measured on SmolLM2-135M (8 sequences of 700 tokens, CPU): the update's peak memory
            # 8.9 GB -> 2.8 GB for about 2% more time; a tiny model has nothing to save.
            self.checkpointing = sum(p.numel() for p in model.parameters()) >= CHECKPOINTING_MIN_PARAMETERS
        if self.checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        return tokenizer, model.to(self.device)

    def _generator(self):
        """What samples the rollouts: the trained model itself, or a vLLM engine kept in sync with it."""
        c = self.config
        generator = Generator(self.model, self.tokenizer, max_new_tokens=c.max_new_tokens,
                              temperature=c.temperature, top_p=c.top_p, autocast=self._autocast)
        if c.generation_backend == "transformers":
            return generator
        from rewardgym.agents.llm.vllm_generation import VLLMGenerator

        vllm = VLLMGenerator(locate_model(c.model, "causal LM"), self.tokenizer, max_new_tokens=c.max_new_tokens,
                             temperature=c.temperature, top_p=c.top_p, end_ids=generator.end_ids,
                             dtype="bfloat16" if self.bf16 else "float32",
                             gpu_memory_utilization=c.vllm_gpu_memory_utilization,
                             max_model_len=c.max_context_tokens, seed=c.seed)
        vllm.weights_changed(self.model)  # a LoRA adapter or resumed weights differ from the folder's
        return vllm

    def _autocast(self):
        import torch

        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def _reference_context(self):
        """Where the frozen reference policy is evaluated: the LoRA base with adapters off, or the copy."""
        if self.config.lora_rank:
            return self.model.disable_adapter()
        return contextlib.nullcontext()

    def token_logprobs(self, model, ids, attention, first: int):
        """log π(token_t | tokens_<t) at the sampling temperature, for t >= ``first`` >= 1: shape (B, L − first).

        Only the logits that score those tokens are computed (``logits_to_keep``, as TRL does):
        a long prompt before the first generated token costs no vocabulary projection.
        """
        import torch

        keep = ids.shape[1] - first + 1
        with self._autocast():
            try:
                logits = model(input_ids=ids, attention_mask=attention, logits_to_keep=keep).logits
            except TypeError:  # a model class without logits_to_keep
                logits = model(input_ids=ids, attention_mask=attention).logits[:, first - 1:]
        logits = logits[:, :-1].float() / self.config.temperature
        chosen = logits.gather(-1, ids[:, first:, None]).squeeze(-1)
        return chosen - torch.logsumexp(logits, dim=-1)

    # -- acting -------------------------------------------------------------------------
    def act(self, obs, *, deterministic: bool = False, info: dict | None = None):
        """One turn for each observation in a batch (or one observation); returns the replies for a text env."""
        single = isinstance(obs, str)
        texts = [obs] if single else [str(o) for o in obs]
        responses = self.generator([self.chat.opening(t) for t in texts], greedy=deterministic)
        actions = [self.tokenizer.decode(r, skip_special_tokens=True) for r in responses]  # the env reads them
        return actions[0] if single else tuple(actions)

    def rollout(self, env, seeds: Sequence[int], *, greedy: bool = False, groups: Sequence[int] | None = None,
                torch_seed: int | None = None, on_episode=None) -> tuple[list[Episode], Any]:
        """Play one episode per seed on ``env`` (text envs); returns the episodes and timing stats.

        On the seats of a multi-agent game (self-play) a seed is one game, played by the model in every
        seat: one episode per seat, in game order, the episode of seat ``a`` in group ``g`` grouped as
        ``g * seats + a`` — so group-relative advantages compare a seat's play with the same seat's in
        the same game, never the reader's words with the cook's.
        """
        import torch

        envs = text_envs(env)
        seats = seats_of(envs)
        groups = groups if groups is not None else range(len(seeds))
        episodes = [Episode(group=int(g) * seats + a, seed=int(s), seat=a)
                    for g, s in zip(groups, seeds) for a in range(seats)]
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(int(self.rng.integers(2**31)) if torch_seed is None else torch_seed)
            stats = collect_episodes(envs, episodes, self.generator, self.chat,
                                     format_penalty=self.config.format_penalty, max_turns=self.config.max_turns,
                                     max_context_tokens=self.config.max_context_tokens, greedy=greedy,
                                     on_episode=on_episode, max_invalid_turns=self.config.max_invalid_turns)
        return episodes, stats

    def distribute_rollouts(self, env_id: str, env_kwargs: dict[str, Any] | None = None, num_workers: int = 2, *,
                            envs_per_worker: int | None = None, address: str | None = None,
                            num_gpus: float = 0.0, reward: dict[str, Any] | None = None,
                            placement: str = "spread"):
        """Play :meth:`learn`'s episodes on ``num_workers`` Ray actors from now on, each with a copy of the
        policy and its own text envs of ``env_id`` (``envs_per_worker``, default its share of a batch);
        weights are sent after every update. A local Ray on 127.0.0.1 unless ``address`` names a
        cluster; ``reward``: ``LearnedReward``'s arguments with the model as a spec string, built and
        scored on each worker; ``placement``: how the workers' resources are laid over the cluster's nodes
        (``"spread"``, ``"pack"``, ``"strict-spread"``; :class:`rewardgym._ray.Placement`). See
        :mod:`rewardgym.agents.llm.ray_rollouts`; :meth:`close_rollouts` stops them."""
        from rewardgym.agents.llm.ray_rollouts import RayRollouts

        self.close_rollouts()
        batch = self.config.groups_per_batch * self.config.group_size
        self._rollouts = RayRollouts(self, env_id, env_kwargs, num_workers,
                                     envs_per_worker or -(-batch // num_workers), address, num_gpus,
                                     reward=reward, placement=placement)
        return self._rollouts

    def close_rollouts(self) -> None:
        """Stop the Ray rollout workers, if any; episodes are played here again."""
        if self._rollouts is not None:
            self._rollouts.close()
            self._rollouts = None

    def evaluate(self, env, episodes: int, *, seed: int | None = None, deterministic: bool = True) -> dict:
        """Play ``episodes`` whole episodes (seeds ``seed``, ``seed + 1``, ...; default the test range)."""
        if episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {episodes}")
        first = EVAL_SEED if seed is None else int(seed)
        games = -(-episodes // seats_of(env))  # a multi-agent game is one episode per seat
        played, stats = self.rollout(env, [first + i for i in range(games)], greedy=deterministic,
                                     torch_seed=first)
        return {"episodes": len(played), **episode_metrics(played), "tokens_per_s": _rate(stats)}

    # -- learning -----------------------------------------------------------------------
    @property
    def unfinished_steps(self) -> int:
        """Env steps left in a run interrupted by a checkpoint (0 when there is none)."""
        return 0 if self._target_step is None else max(0, self._target_step - self.global_step)

    def learn(self, env, total_steps: int | None = None, *, callbacks: Iterable[Callback] = (),
              progress: bool = True) -> LLMAgent:
        """Train for ``total_steps`` more env steps (whole batches); ``None`` finishes a checkpointed run."""
        if total_steps is None:
            if not self.unfinished_steps:
                raise ValueError("nothing to resume: give total_steps (this agent holds no unfinished run)")
        elif total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        else:
            self._target_step = self.global_step + int(total_steps)
        envs = text_envs(env)
        callbacks = list(callbacks)
        started, steps_at_start, episodes = time.perf_counter(), self.global_step, 0
        with Progress(self._target_step, progress, desc=self.name) as bar:
            bar.update(self.global_step)
            while self.global_step < self._target_step:  # whole batches: at most one batch past the target
                metrics, samples = self._iteration(envs, on_episode=lambda episode: bar.update(episode.turns))
                episodes += metrics.pop("_episodes")
                metrics["episodes"] = float(episodes)
                metrics["steps_per_s"] = (self.global_step - steps_at_start) / max(time.perf_counter() - started, 1e-9)
                metrics.pop("_steps")
                bar.update(0, metrics)
                for callback in callbacks:  # what the model wrote, for the run folder (RunLogger.on_samples)
                    if samples and callable(getattr(callback, "on_samples", None)):
                        callback.on_samples(self.global_step, samples)
                if any(callback(metrics) is False for callback in callbacks):
                    break
        if self.global_step >= self._target_step:
            self._target_step = None
        return self

    def _iteration(self, envs: list[gym.Env], on_episode=None) -> tuple[dict[str, float], list[dict]]:
        """One batch: rollout, update; the batch's metrics (means over its episodes) and sampled episodes."""
        c = self.config
        seeds = self.rng.integers(0, TRAIN_SEEDS, size=c.groups_per_batch)
        began = time.perf_counter()
        batch_seeds, groups = np.repeat(seeds, c.group_size), np.repeat(np.arange(c.groups_per_batch), c.group_size)
        if self._rollouts is None:
            episodes, stats = self.rollout(envs, batch_seeds, groups=groups, on_episode=on_episode)
        else:  # played by the Ray workers, each with its copy of the policy
            episodes, stats = self._rollouts.rollout(batch_seeds, groups, torch_seed=int(self.rng.integers(2**31)))
            for episode in episodes if on_episode else ():
                on_episode(episode)
        rollout_s = time.perf_counter() - began
        episodes.sort(key=lambda episode: episode.group)  # group after group (self-play: seats in turn)
        began = time.perf_counter()
        update = self._update(episodes)
        if self._rollouts is not None:
            self._rollouts.sync(self.model)
        update_s = time.perf_counter() - began
        self.global_step += stats.turns
        returns = self._group_returns(episodes)
        samples = [episode_record(e, a) for e, a in zip(episodes[:c.samples_per_batch], self._turn_advantages)]
        return {
            "step": float(self.global_step), "updates": float(self.updates), "_steps": stats.turns,
            "_episodes": len(episodes), **episode_metrics(episodes),
            "group_return_std": float(returns.std(axis=1, ddof=1).mean()) if c.group_size > 1 else 0.0,
            "zero_variance_groups": float(np.mean(returns.std(axis=1) == 0)),
            **update, "tokens_per_s": _rate(stats), "env_steps_per_s": stats.turns / max(rollout_s + update_s, 1e-9),
            "rollout_s": rollout_s, "update_s": update_s,
            "update_tokens_per_s": sum(len(e.ids) for e in episodes) * c.update_epochs / max(update_s, 1e-9),
            "peak_memory_mb": self._peak_memory_mb(),
        }, samples

    def _peak_memory_mb(self) -> float:
        """The process's peak resident memory (CPU) or the device's peak allocation (CUDA), in MiB."""
        import torch

        if self.device.type == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        try:
            import resource
        except ImportError:  # not on this platform
            return float("nan")
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

    def _group_returns(self, episodes: list[Episode]) -> np.ndarray:
        """The batch's episode returns as (groups, group size); episodes are stored group after group."""
        return np.array([e.total_reward for e in episodes]).reshape(-1, self.config.group_size)

    def _advantages(self, episodes: list[Episode], kl_per_turn: list[np.ndarray] | None) -> list[np.ndarray]:
        """Per-token advantages of each episode (0 on tokens the policy did not generate)."""
        c = self.config
        rewards = [np.asarray(e.rewards, dtype=np.float64) for e in episodes]
        if kl_per_turn is not None:  # KL in the reward: every turn pays β Σ k1 over its tokens
            rewards = [r - c.kl_coef * k for r, k in zip(rewards, kl_per_turn)]
        if c.reward_level == "turn":
            per_turn = []
            for g in range(len(episodes) // c.group_size):
                members = rewards[g * c.group_size:(g + 1) * c.group_size]
                per_turn.extend(turn_advantages(members, c.estimator))
        else:
            returns = np.array([r.sum() for r in rewards]).reshape(-1, c.group_size)
            advantages = group_advantages(returns, c.estimator, baseline=self.baseline.value).reshape(-1)
            if c.estimator == "reinforce":
                self.baseline.update(returns)
            per_turn = [np.full(e.turns, a) for e, a in zip(episodes, advantages)]
        self._turn_advantages = [np.asarray(a, dtype=np.float64) for a in per_turn]
        return [token_advantages(e, a) for e, a in zip(episodes, per_turn)]

    def _batch(self, episodes: Sequence[Episode], *extra: Sequence[np.ndarray]):
        """Right-padded tensors on the device: ids, attention, the first generated position ``first``,
        then the loss mask and each per-token extra from position ``first`` on (B, L − first)."""
        import torch

        width = max(len(e.ids) for e in episodes)
        pad = self.generator.pad_id
        ids = torch.full((len(episodes), width), pad, dtype=torch.long)
        attention = torch.zeros((len(episodes), width), dtype=torch.long)
        mask = torch.zeros((len(episodes), width), dtype=torch.float32)
        extras = [torch.zeros((len(episodes), width), dtype=torch.float32) for _ in extra]
        for row, episode in enumerate(episodes):
            n = len(episode.ids)
            ids[row, :n] = torch.as_tensor(episode.ids)
            attention[row, :n] = 1
            mask[row, :n] = torch.as_tensor(episode.mask, dtype=torch.float32)
            for out, values in zip(extras, extra):
                out[row, :n] = torch.as_tensor(values[row], dtype=torch.float32)
        first = max(1, min(e.mask.index(1) if 1 in e.mask else len(e.ids) - 1 for e in episodes))
        to = functools.partial(torch.Tensor.to, device=self.device)
        return to(ids), to(attention), first, to(mask[:, first:]), *[to(x[:, first:]) for x in extras]

    def _frozen_logprobs(self, episodes: list[Episode], reference: bool) -> list[np.ndarray]:
        """Per-token log-probabilities under π_ref (``reference``) or the current π (as π_old), no gradients."""
        import torch

        model = self.reference if (reference and self.reference is not None) else self.model
        out: list[np.ndarray] = []
        context = self._reference_context() if reference else contextlib.nullcontext()
        with torch.no_grad(), context:
            for start in range(0, len(episodes), self.config.micro_batch_size):
                chunk = episodes[start:start + self.config.micro_batch_size]
                ids, attention, first, _ = self._batch(chunk)
                logp = self.token_logprobs(model, ids, attention, first).cpu().numpy()
                for row, episode in enumerate(chunk):  # index t holds the log-prob of token t (0 before first)
                    out.append(np.concatenate([np.zeros(first), logp[row, :len(episode.ids) - first]]))
        return out

    def _update(self, episodes: list[Episode]) -> dict[str, float]:
        c = self.config
        use_kl = c.kl_coef > 0
        ref_logp = self._frozen_logprobs(episodes, reference=True) if use_kl else None
        kl_per_turn = None
        if use_kl and c.kl_in == "reward":
            old_now = self._frozen_logprobs(episodes, reference=False)
            kl_per_turn = [np.array([kl_estimate(o[b:e], r[b:e], "k1").sum() for b, e in ep.turn_spans])
                           for ep, o, r in zip(episodes, old_now, ref_logp)]
        advantages = self._advantages(episodes, kl_per_turn)
        keep = list(range(len(episodes)))
        if c.filter_groups:
            returns = self._group_returns(episodes)
            varied = np.repeat(returns.std(axis=1) > 0, c.group_size)
            keep = [i for i in keep if varied[i]]
        on_policy = c.update_epochs == 1 and c.minibatches == 1
        old_logp = None if on_policy else self._frozen_logprobs(episodes, reference=False)
        totals = {"loss": 0.0, "clip_fraction": 0.0, "kl": 0.0, "grad_norm": 0.0}
        steps = 0
        self.model.train()
        for _ in range(c.update_epochs):
            order = self.rng.permutation(keep) if len(keep) else np.array([], dtype=int)
            for minibatch in np.array_split(order, min(c.minibatches, max(len(keep), 1))):
                if len(minibatch) == 0:
                    continue
                stats = self._optimizer_step([int(i) for i in minibatch], episodes, advantages, old_logp, ref_logp)
                if stats is None:
                    continue
                steps += 1
                for key in totals:
                    totals[key] += stats[key]
        self.model.eval()
        if steps:  # a separate generation engine (vLLM) takes the new weights; the model's own generate has them
            self.generator.weights_changed(self.model)
        out = {"filtered_episodes": float(len(episodes) - len(keep))}
        if steps:
            out.update({key: totals[key] / steps for key in ("loss", "clip_fraction", "grad_norm")})
            if use_kl:
                out["kl"] = totals["kl"] / steps
        out["learning_rate"] = float(self.optimizer.param_groups[0]["lr"])
        return out

    def _optimizer_step(self, members: list[int], episodes, advantages, old_logp, ref_logp) -> dict | None:
        import torch

        c = self.config
        tokens = sum(sum(episodes[i].mask) for i in members)
        if tokens == 0:
            return None
        low, high = c.clip_eps, c.clip_eps if c.clip_eps_high is None else c.clip_eps_high
        norm = {"token": tokens, "sequence": len(members),
                "constant": len(members) * (c.length_normalizer or c.max_new_tokens)}[c.aggregation]
        self.optimizer.zero_grad(set_to_none=True)
        sums = {"loss": 0.0, "clip": 0.0, "kl": 0.0}
        for start in range(0, len(members), c.micro_batch_size):
            chunk = members[start:start + c.micro_batch_size]
            extra = [[advantages[i] for i in chunk]]
            if old_logp is not None:
                extra.append([old_logp[i] for i in chunk])
            if ref_logp is not None:
                extra.append([ref_logp[i] for i in chunk])
            ids, attention, first, mask, adv, *rest = self._batch([episodes[i] for i in chunk], *extra)
            logp = self.token_logprobs(self.model, ids, attention, first)
            generated = mask > 0  # elsewhere the stored log-probs may be placeholders: keep exp() finite
            old = torch.where(generated, rest.pop(0), logp.detach()) if old_logp is not None else logp.detach()
            ratio = torch.exp(logp - old)
            per_token = clipped_surrogate(ratio, adv, low, high)
            if ref_logp is not None:
                kl = kl_estimate(logp, torch.where(generated, rest.pop(0), logp.detach()), c.kl_estimator)
                sums["kl"] += float((kl.detach() * mask).sum())
                if c.kl_in == "loss":
                    per_token = per_token + c.kl_coef * kl
            loss = aggregate(per_token, mask, c.aggregation, norm)
            loss.backward()
            sums["loss"] += float(loss.detach())
            sums["clip"] += float((((ratio - 1).abs() > low) * mask).sum())
        params = [p for p in self.model.parameters() if p.requires_grad]
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, c.max_grad_norm))
        self.optimizer.step()
        self.updates += 1
        return {"loss": sums["loss"], "clip_fraction": sums["clip"] / tokens, "kl": sums["kl"] / tokens,
                "grad_norm": grad_norm}

    # -- saving and loading -------------------------------------------------------------
    def save(self, path) -> None:
        """A folder: ``agent.json``, ``model/`` (the weights and tokenizer, or the LoRA adapter), ``optimizer.pt``."""
        import torch

        path = write_agent_file(path, self.name, asdict(self.config), global_step=self.global_step,
                                updates=self.updates, unfinished_steps=self.unfinished_steps,
                                target_step=self._target_step, baseline=self.baseline.value,
                                rng=self.rng.bit_generator.state)
        self.model.save_pretrained(path / MODEL_DIR)
        self.tokenizer.save_pretrained(path / MODEL_DIR)
        torch.save(self.optimizer.state_dict(), path / OPTIMIZER_FILE)

    @classmethod
    def load(cls, path, env=None, **overrides: Any) -> LLMAgent:
        """Rebuild a saved agent; ``overrides`` replace config entries (``device``, ...)."""
        import torch

        path = Path(path)
        meta = read_agent_file(path, cls.name)
        weights = path / MODEL_DIR
        if not weights.is_dir():
            raise FileNotFoundError(f"{path} has no {MODEL_DIR}/ folder with the weights")
        config = {**meta["config"], **overrides}
        lora = bool(config.get("lora_rank"))
        base = config.get("model")
        try:
            # A full fine-tune restarts from the saved weights; a LoRA run from its base plus the adapter.
            if lora:
                agent = cls(env, adapter=weights, **config)
            else:
                agent = cls(env, **{**config, "model": str(weights)})
        except (TypeError, KeyError) as exc:
            raise ValueError(f"{path / 'agent.json'} has a bad config: {exc}") from None
        agent.config.model = base  # the reference policy and the saved config stay the original model
        if agent.reference is not None and not lora:
            agent.reference = agent._load_model(base, adapter=None)[1].eval().requires_grad_(False)
        try:
            state = torch.load(path / OPTIMIZER_FILE, map_location=agent.device, weights_only=True)
            agent.optimizer.load_state_dict(state)
        except FileNotFoundError:
            raise FileNotFoundError(f"{path} has no {OPTIMIZER_FILE}") from None
        except Exception as exc:  # a truncated or foreign file: unpickling and shape errors of every kind
            raise ValueError(f"{path / OPTIMIZER_FILE} is corrupt or does not match the model: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        try:
            agent.rng.bit_generator.state = meta["rng"]
            agent.global_step, agent.updates = int(meta["global_step"]), int(meta["updates"])
            agent._target_step = None if meta.get("target_step") is None else int(meta["target_step"])
            agent.baseline.value = meta.get("baseline")
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path / 'agent.json'} is corrupt: {exc}") from None
        return agent


def clipped_surrogate(ratio, advantage, clip_low: float, clip_high: float):
    """PPO's per-token loss −min(ρÂ, clip(ρ, 1 − ε_low, 1 + ε_high)Â) (DAPO's clip-higher when the two differ)."""
    import torch

    return -torch.minimum(ratio * advantage, torch.clamp(ratio, 1 - clip_low, 1 + clip_high) * advantage)


def aggregate(per_token, mask, aggregation: str, norm: float):
    """A (micro-)batch's share of the loss; ``norm`` is the whole minibatch's normaliser.

    ``sequence`` (GRPO): each sequence's mean over its tokens, summed, over ``norm`` sequences;
    ``token`` (DAPO): the sum over tokens over ``norm`` tokens; ``constant`` (Dr.GRPO): the sum
    over tokens over ``norm`` = sequences × a constant length. Micro-batches of one minibatch
    add up to the minibatch's loss.
    """
    masked = per_token * mask
    if aggregation == "sequence":
        return (masked.sum(1) / mask.sum(1).clamp(min=1)).sum() / norm
    return masked.sum() / norm


def episode_record(episode: Episode, advantages: Sequence[float]) -> dict:
    """One episode as a JSON-ready record: each turn's observation, reply, the command read, reward, advantage."""
    turns = [{"observation": o, "reply": r, "command": c, "invalid": bool(i), "reward": float(w),
              "advantage": float(a)}
             for o, r, c, i, w, a in zip(episode.observations, episode.responses, episode.commands, episode.invalid,
                                         episode.rewards, advantages)]
    return {"seed": int(episode.seed), "group": int(episode.group), "return": episode.total_reward,
            "success": episode.success, "turns": turns}


def episode_metrics(episodes: Sequence[Episode]) -> dict[str, float]:
    """Means over episodes: return, turns, success, format errors, response tokens per turn."""
    turns = sum(e.turns for e in episodes)
    out = {"mean_return": float(np.mean([e.total_reward for e in episodes])),
           "mean_length": float(np.mean([e.turns for e in episodes])),
           "format_error_rate": sum(sum(e.invalid) for e in episodes) / max(turns, 1),
           "response_tokens": sum(e.generated_tokens for e in episodes) / max(turns, 1)}
    successes = [e.success for e in episodes if e.success is not None]
    if len(successes) == len(episodes):
        out["success_rate"] = float(np.mean(successes))
    seats = sorted({e.seat for e in episodes})
    if len(seats) > 1:  # self-play: how each seat fares
        for seat in seats:
            mine = [e for e in episodes if e.seat == seat]
            out[f"mean_return_player_{seat}"] = float(np.mean([e.total_reward for e in mine]))
            out[f"format_error_rate_player_{seat}"] = (sum(sum(e.invalid) for e in mine)
                                                       / max(sum(e.turns for e in mine), 1))
    return out


def _rate(stats) -> float:
    return stats.generated_tokens / max(stats.generate_s, 1e-9)


def _without_dropout(model) -> None:
    """RL on language models trains without dropout (it would make π_old and π differ at ratio 1)."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if isinstance(getattr(module, "attention_dropout", None), float):
            module.attention_dropout = 0.0


class LLMDrGRPO(LLMAgent):
    """Dr.GRPO: no std division, token sums divided by a constant."""

    spec = dataclasses.replace(LLMAgent.spec, name="llm-dr-grpo")
    name = spec.name
    estimator = "dr-grpo"


class LLMRLOO(LLMAgent):
    """RLOO: each episode's baseline is the mean return of the rest of its group."""

    spec = dataclasses.replace(LLMAgent.spec, name="llm-rloo")
    name = spec.name
    estimator = "rloo"


class LLMReinforce(LLMAgent):
    """REINFORCE with a running-mean baseline."""

    spec = dataclasses.replace(LLMAgent.spec, name="llm-reinforce")
    name = spec.name
    estimator = "reinforce"
