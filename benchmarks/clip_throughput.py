"""CLIP reward throughput: frames scored per second in batches of 64 against one frame at a time.

    python benchmarks/clip_throughput.py [--model FOLDER] [--frame-size 224] [--repeats 3]
                                         [--batch 64] [--devices cpu cuda]

What it measures: ``CLIPReward`` (the VLM-RM reward) scoring uint8 RGB frames, from the NumPy
array to the ``(B,)`` rewards: preprocessing on the device, the image tower, the formula.
"batched" scores ``--batch`` frames in one call (one forward pass; deferred scoring of a
rollout, as VLM-RM does); "one at a time" makes the same number of calls with one frame each
(scoring inside ``env.step``). Both run in the same process on the same model, interleaved,
``--repeats`` times; the median is shown, and the ratio is batched / one at a time. On CUDA
the model runs under bf16 (or fp16) autocast.

The model: with ``--model`` a real checkpoint folder (e.g. ``hf download
openai/clip-vit-base-patch32 --local-dir clip-vit-base-patch32``). Without it, a CLIP with
ViT-B/32's architecture (image 224, patch 32, 12 layers of width 768; text 12 layers of width
512; projection 512) and random weights is built from a ``CLIPConfig``, saved with
``save_pretrained`` to a temporary folder and loaded through ``CLIPReward(model=folder)``:
the weights are random, the compute is the real model's. Frames are random smooth images of
``--frame-size`` pixels (224 needs no resize; the humanoid renders 64 by default).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time

import numpy as np
import torch

from rewardgym.reward_models import Transitions
from rewardgym.reward_models.vlm import CLIPReward


def vit_b32_folder(folder: str) -> str:
    """Save a random-weight CLIP ViT-B/32 (with a character tokenizer) to ``folder``."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizer

    chars = [chr(i) for i in range(33, 127)]
    vocab = {token: i for i, token in enumerate(chars + [c + "</w>" for c in chars])}
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = len(vocab), len(vocab) + 1
    config = CLIPConfig(
        text_config=dict(
            vocab_size=49408, hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
            max_position_embeddings=77, bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
            pad_token_id=vocab["<|endoftext|>"],
        ),
        vision_config=dict(
            hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, image_size=224,
            patch_size=32,
        ),
        projection_dim=512,
    )
    CLIPModel(config).save_pretrained(folder)
    CLIPTokenizer(vocab=vocab, merges=[]).save_pretrained(folder)
    # OpenAI's preprocessing: shortest edge 224, centre crop 224, bicubic, CLIP's mean/std
    CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}).save_pretrained(folder)
    return folder


def smooth_frames(n: int, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (n, size // 16 + 1, size // 16 + 1, 3)).astype(np.uint8)
    return np.repeat(np.repeat(coarse, 16, axis=1), 16, axis=2)[:, :size, :size].copy()


def batch_of(frames: np.ndarray) -> Transitions:
    done = np.zeros(len(frames), dtype=bool)
    return Transitions(None, None, None, done, done, [{}] * len(frames), frames)


def frames_per_second(reward: CLIPReward, frames: np.ndarray, batched: bool) -> float:
    sync = torch.cuda.synchronize if reward.device.type == "cuda" else (lambda: None)
    start = time.perf_counter()
    if batched:
        reward(batch_of(frames))
    else:
        for i in range(len(frames)):
            reward(batch_of(frames[i : i + 1]))
    sync()
    return len(frames) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a CLIP/SigLIP checkpoint folder (default: random ViT-B/32)")
    parser.add_argument("--frame-size", type=int, default=224, help="frames are size x size RGB")
    parser.add_argument("--batch", type=int, default=64, help="frames per batched call")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved measurements (the median is shown)")
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"], help="devices to time (cuda when present)")
    args = parser.parse_args()

    devices = [d for d in args.devices if d != "cuda" or torch.cuda.is_available()]
    frames = smooth_frames(args.batch, args.frame_size)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or vit_b32_folder(tmp)
        name = args.model or "random-weight CLIP ViT-B/32"
        gpu = f", {torch.cuda.get_device_name()}" if "cuda" in devices else ""
        print(f"{platform.processor() or platform.machine()}{gpu}, {time.strftime('%Y-%m-%d')}")
        print(f"\n{name}, {args.frame_size}x{args.frame_size} frames, torch {torch.__version__},"
              f" {torch.get_num_threads()} CPU threads; frames/s, median of {args.repeats}")
        print(f"{'device':<8}{f'batched ({args.batch})':>16}{'one at a time':>16}{'ratio':>8}")
        for device in devices:
            reward = CLIPReward("a humanoid robot kneeling", "a humanoid robot", model=model, device=device,
                                batch_size=args.batch)
            frames_per_second(reward, frames[:8], batched=True)  # warm-up (allocations, kernels)
            frames_per_second(reward, frames[:2], batched=False)
            batched, single = [], []
            for _ in range(args.repeats):  # interleaved, so a busy moment of the machine hits both
                batched.append(frames_per_second(reward, frames, batched=True))
                single.append(frames_per_second(reward, frames, batched=False))
            fast, slow = statistics.median(batched), statistics.median(single)
            print(f"{device:<8}{fast:>16,.1f}{slow:>16,.1f}{fast / slow:>7.1f}x")
            del reward


if __name__ == "__main__":
    main()
