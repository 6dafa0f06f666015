"""Tiny random causal language models, built offline, for tests, smoke runs and benchmarks; and a
Ray cluster of several nodes on this machine's loopback (:func:`loopback_cluster`).

Nothing here downloads anything: the tokenizer is character-level over Python's printable
characters (so any prompt a rewardgym env writes encodes, one token per character), the model
a small randomly initialised Llama. ``save_tiny_causal_lm(folder)`` writes both with
``save_pretrained``, so whatever loads them afterwards goes through transformers' real
loading code, exactly as it would for a hub checkpoint::

    from rewardgym.testing import save_tiny_causal_lm
    folder = save_tiny_causal_lm("tiny-lm")
    # rewardgym train rewardgym/Bandit-Meta2-v0 --agent llm-grpo --model tiny-lm

The chat template is ChatML-like, with ``<|end|>`` closing every turn and serving as the
end-of-sequence token, as in most instruction-tuned models, so the multi-turn code paths that
depend on it (a generated turn that ends with the end token, the template's own markers
between turns) are exercised.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

from rewardgym._ray import loopback_cluster

__all__ = ["CHAT_TEMPLATE", "SPECIAL_TOKENS", "loopback_cluster", "save_tiny_causal_lm", "tiny_tokenizer"]

SPECIAL_TOKENS = ("<pad>", "<s>", "<|end|>", "<unk>", "<|system|>", "<|user|>", "<|assistant|>")

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def tiny_tokenizer():
    """A character-level ``PreTrainedTokenizerFast``: the special tokens, then ``string.printable``."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *string.printable])}
    characters = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    characters.decoder = decoders.Fuse()  # characters join without spaces
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=characters,
        bos_token="<s>", eos_token="<|end|>", pad_token="<pad>", unk_token="<unk>",
        additional_special_tokens=list(SPECIAL_TOKENS[4:]),
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def save_tiny_causal_lm(folder: str | os.PathLike, *, hidden_size: int = 32, num_layers: int = 2,
                        num_heads: int = 4, max_positions: int = 8192, seed: int = 0) -> Path:
    """Write a random Llama (``hidden_size`` wide, ``num_layers`` deep) and its tokenizer to ``folder``.

    Returns the folder, which ``AutoModelForCausalLM.from_pretrained`` and
    ``AutoTokenizer.from_pretrained`` (and so ``--model``) accept.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers, num_attention_heads=num_heads, num_key_value_heads=num_heads,
        max_position_embeddings=max_positions, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, tie_word_embeddings=False,
    )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
