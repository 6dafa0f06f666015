"""Demonstrations: whole episodes of a policy (by default the family's scripted expert), kept on disk.

Progress models learn Φ(observation, task) from demonstrations, from the state or from pixels.
:func:`collect_demos` records episodes in the format below and :func:`load_demos` reads them
back as a :class:`DemoSet`, a sequence of :class:`Episode` loaded one at a time::

    demos = rewardgym.collect_demos("rewardgym/Manip-Push-v0", 100, "demos/push", frames=True)
    for episode in rewardgym.load_demos("demos/push"):
        episode.observations["observation"]   # (T+1, d): the reset observation, then one per step
        episode.frames                        # (T+1, H, W, 3) uint8
        episode.actions, episode.rewards      # (T, 4), (T,)

Seeds: episode ``i`` resets with seed ``seed + i``. In the manipulation family seeds >= 1_000_000
are the held-out test range (``rewardgym eval`` evaluates there), so training demos start at seed 0.

On-disk format, version 1
-------------------------
A folder holding ``demos.json`` and one ``episode_<i:06d>.npz`` per episode (``episode_000000.npz``,
``episode_000001.npz``, ...).

``demos.json``, one JSON object::

    format             "rewardgym-demos"
    version            1
    env_id             the id the episodes were collected on, e.g. "rewardgym/Manip-Push-v0"
    env_kwargs         the keyword arguments given to gym.make (without render_mode)
    rewardgym_version  the version that wrote the folder
    policy             what acted: "module:function" of a scripted expert, or the policy's qualified name
    observation_space  the env's observation space, as rewardgym.agents.spaces.describe_space writes it
    action_space       the env's action space, likewise
    frames             true when each episode file holds rendered frames
    episodes           one object per episode, in collection order:
        file     "episode_000000.npz"
        seed     the reset seed
        length   T, the number of steps
        return   the sum of the rewards
        success  info["success"] after the last step
        task     info["task"] at reset: the natural-language instruction (null when the env gives none)

``episode_<i:06d>.npz`` (``numpy.savez_compressed``, no pickled objects), for an episode of T steps:

    obs            (T+1, ...) observations: the reset observation, then the one after each step.
                   A Dict observation is stored one array per key as ``obs/<key>``, nested Dicts
                   as ``obs/<a>/<b>``; no plain ``obs`` array is stored then.
    actions        (T, ...) the actions passed to ``env.step``, as the policy returned them
                   (Dict actions likewise as ``actions/<key>``)
    rewards        (T,) float64
    terminated     (T,) bool
    truncated      (T,) bool
    success        (T,) bool, info["success"] after each step (false when the env reports none)
    frames         (T+1, H, W, 3) uint8, ``env.render()`` after reset and after each step;
                   only when ``frames`` is true (the env is made with ``render_mode="rgb_array"``)

Writes are atomic: each episode file and then the index are written to a temporary file and
renamed into place, so an interrupted collection leaves whole episodes and an index that lists
exactly those (an episode file the index does not list may remain, and is ignored).
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardgym._files import read_index
from rewardgym._version import __version__
from rewardgym.agents.spaces import describe_space, space_from_description
from rewardgym.workflows.experts import expert_for, expert_name
from rewardgym.workflows.rollout import run_episode

FORMAT = "rewardgym-demos"
VERSION = 1
INDEX_FILE = "demos.json"

_PASS_POLICY = "pass policy= (a callable obs -> action, or an object with act(obs)) to rewardgym.collect_demos"
_EPISODE_KEYS = ("rewards", "terminated", "truncated", "success")


class DemoFormatError(ValueError):
    """A demo folder or episode file that is missing, corrupt, or of a format version this rewardgym cannot read."""


@dataclass(repr=False)
class Episode:
    """One demonstration of T steps.

    ``observations`` has T+1 entries (the reset observation first) and is an array, or a dict of
    arrays for Dict observations; ``actions``, ``rewards``, ``terminated``, ``truncated`` and
    ``success`` have T; ``frames`` is ``(T+1, H, W, 3)`` uint8, or None when none were stored.
    """

    observations: np.ndarray | dict[str, Any]
    actions: np.ndarray | dict[str, Any]
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    success: np.ndarray
    frames: np.ndarray | None
    seed: int
    task: str | None

    @property
    def length(self) -> int:
        """T, the number of steps."""
        return len(self.rewards)

    def __repr__(self) -> str:
        ended = bool(self.success[-1]) if len(self.success) else False
        return f"Episode(seed={self.seed}, length={self.length}, success={ended}, task={self.task!r})"


class DemoSet(Sequence):
    """The episodes of a demo folder: ``len``, indexing (a slice gives a smaller DemoSet) and iteration.

    Each episode file is read when its episode is asked for. ``summaries`` gives every episode's
    seed, length, return, success and task from ``demos.json`` without reading the episode files;
    ``observation_space`` and ``action_space`` are the env's, rebuilt from their descriptions.
    """

    def __init__(self, path: str | Path, metadata: dict[str, Any], summaries: list[dict[str, Any]] | None = None):
        self.path = Path(path)
        self.metadata = metadata
        self.summaries: list[dict[str, Any]] = list(metadata["episodes"] if summaries is None else summaries)
        index = self.path / INDEX_FILE
        self.observation_space = _space(metadata["observation_space"], index, "observation_space")
        self.action_space = _space(metadata["action_space"], index, "action_space")

    @property
    def env_id(self) -> str:
        return self.metadata["env_id"]

    @property
    def env_kwargs(self) -> dict[str, Any]:
        return dict(self.metadata.get("env_kwargs") or {})

    @property
    def frames(self) -> bool:
        """Whether the episodes hold rendered frames."""
        return bool(self.metadata["frames"])

    @property
    def success_rate(self) -> float:
        """The fraction of episodes that ended in success (nan when there are none)."""
        return float(np.mean([bool(s["success"]) for s in self.summaries])) if self.summaries else float("nan")

    @property
    def mean_return(self) -> float:
        return float(np.mean([float(s["return"]) for s in self.summaries])) if self.summaries else float("nan")

    def __len__(self) -> int:
        return len(self.summaries)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return DemoSet(self.path, self.metadata, self.summaries[index])
        return _read_episode(self.path, self.summaries[index], self.frames)

    def __iter__(self) -> Iterator[Episode]:
        for summary in self.summaries:
            yield _read_episode(self.path, summary, self.frames)

    def __repr__(self) -> str:
        return f"DemoSet({str(self.path)!r}, env_id={self.env_id!r}, episodes={len(self)}, frames={self.frames})"


# -- collecting ---------------------------------------------------------------------------
def collect_demos(env_id: str, n: int, path: str | Path, *, seed: int = 0, policy: Any = None,
                  frames: bool = False, env_kwargs: dict[str, Any] | None = None, progress: bool = True,
                  overwrite: bool = False) -> DemoSet:
    """Run ``n`` episodes of ``policy`` on ``gym.make(env_id, **env_kwargs)`` and write them to the folder ``path``.

    Episode ``i`` resets with seed ``seed + i`` (manipulation seeds >= 1_000_000 are the test split).
    ``policy``: None for the family's scripted expert (ValueError for an env without one), a
    callable ``policy(obs) -> action``, or an object with ``act(obs)``; it sees one observation
    at a time. ``frames=True`` also stores ``env.render()`` images (the env is made with
    ``render_mode="rgb_array"``), which a pixel progress model needs even for state observations.
    ``env_kwargs`` go to ``gym.make``, so ``max_episode_steps`` can be among them.
    A ``path`` that holds anything raises FileExistsError unless ``overwrite``, which removes an
    earlier demo set there (its ``demos.json`` and episode files; other files are left alone).
    Returns the written set, as :func:`load_demos` would read it.
    """
    import gymnasium as gym


    n = _check_int(n, "n", minimum=1)
    seed = _check_int(seed, "seed", minimum=0)
    env_kwargs = dict(env_kwargs or {})
    folder = Path(path)
    _check_folder(folder, overwrite)
    if policy is None:
        try:
            policy_name = expert_name(env_id)
        except ValueError as exc:
            raise ValueError(f"{exc}; {_PASS_POLICY}") from None
    elif not (hasattr(policy, "act") or callable(policy)):
        raise TypeError(f"policy must be a callable obs -> action or have act(obs), got {type(policy).__name__}")

    make_kwargs = {**env_kwargs, "render_mode": "rgb_array"} if frames else env_kwargs
    try:
        if frames:
            check_renders_images(env_id)
        env = gym.make(env_id, **make_kwargs)
    except gym.error.Error as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    except TypeError as exc:
        raise ValueError(f"cannot make {env_id} with {make_kwargs}: {exc}") from None
    try:
        if policy is None:
            try:
                act = expert_for(env_id, env).act
            except ValueError as exc:  # an env of the family that has no expert
                raise ValueError(f"{exc}; {_PASS_POLICY}") from None
        else:
            act = policy.act if hasattr(policy, "act") else policy
            policy_name = _qualified_name(policy)
        index = {
            "format": FORMAT, "version": VERSION, "env_id": env_id, "env_kwargs": env_kwargs,
            "rewardgym_version": __version__, "policy": policy_name,
            "observation_space": describe_space(env.observation_space),
            "action_space": describe_space(env.action_space),
            "frames": bool(frames), "episodes": [],
        }
        _clear_folder(folder)
        _write_json(folder / INDEX_FILE, index)
        _collect(env, act, n, seed, frames, folder, index, progress)
    finally:
        env.close()
    return DemoSet(folder, index)


def _collect(env, act: Callable, n: int, seed: int, frames: bool, folder: Path, index: dict, progress: bool) -> None:
    from tqdm.auto import tqdm

    successes, returns = 0, 0.0
    with tqdm(range(n), disable=not progress, unit="episode", desc=index["env_id"].split("/")[-1],
              dynamic_ncols=True) as bar:
        for i in bar:
            arrays, summary = _run_episode(env, act, seed + i, frames)
            file = f"episode_{i:06d}.npz"
            _write_npz(folder / file, arrays)
            index["episodes"].append({"file": file, **summary})
            _write_json(folder / INDEX_FILE, index)
            successes += summary["success"]
            returns += summary["return"]
            bar.set_postfix({"success_rate": f"{successes / (i + 1):.2f}", "mean_return": f"{returns / (i + 1):.3g}"},
                            refresh=False)


def _run_episode(env, act: Callable, seed: int, frames: bool) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    record = run_episode(env, act, seed, frames)
    task = record.reset_info.get("task")
    if task is None and record.infos:
        task = record.infos[-1].get("task")
    success = record.success
    arrays = {**_stack([_flatten(o, "obs") for o in record.observations]),
              **_stack([_flatten(a, "actions") for a in record.actions]),
              "rewards": np.array(record.rewards, dtype=np.float64), "terminated": np.array(record.terminated),
              "truncated": np.array(record.truncated), "success": np.array(success)}
    if frames:
        arrays["frames"] = np.stack(record.frames)
    summary = {"seed": seed, "length": record.length, "return": float(np.sum(arrays["rewards"])),
               "success": success[-1], "task": None if task is None else str(task)}
    return arrays, summary


def _flatten(value: Any, prefix: str) -> dict[str, np.ndarray]:
    """``{"a": {"b": x}}`` -> ``{"<prefix>/a/b": copy of x}``; a non-dict -> ``{prefix: copy}``."""
    if isinstance(value, dict):
        out: dict[str, np.ndarray] = {}
        for key, sub in value.items():
            if "/" in str(key):
                raise ValueError(f"cannot store the key {key!r}: keys of stored dicts must not contain '/'")
            out.update(_flatten(sub, f"{prefix}/{key}"))
        return out
    return {prefix: np.array(value)}  # a copy: an env may reuse its buffers


def _stack(items: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {key: np.stack([item[key] for item in items]) for key in items[0]}


def check_renders_images(env_id: str) -> None:
    """ValueError unless the env class declares the ``rgb_array`` render mode (read as gym.make reads it)."""
    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    entry_point = gym.spec(env_id).entry_point
    creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    modes = (getattr(creator, "metadata", None) or {}).get("render_modes") or []
    if "rgb_array" not in modes:
        raise ValueError(f"frames=True needs an env that renders 'rgb_array'; {env_id} renders {modes}")


def _qualified_name(policy: Any) -> str:
    target = policy if callable(policy) and hasattr(policy, "__qualname__") else type(policy)
    return f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', type(target).__name__)}"


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _own_files(folder: Path) -> list[Path]:
    """The files a demo set (or an interrupted write of one) leaves in ``folder``."""
    return [p for pattern in (INDEX_FILE, "episode_*.npz", f".{INDEX_FILE}.*.tmp", ".episode_*.npz.*.tmp")
            for p in folder.glob(pattern)]


def _check_folder(folder: Path, overwrite: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"{folder} is not empty (overwrite=True, or --overwrite, replaces a demo set there)")


def _clear_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for file in _own_files(folder):
        file.unlink()


def _write_atomic(file: Path, write: Callable[[Any], None]) -> None:
    """Write through a temporary file in the same folder and rename it over ``file``."""
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, file)
    finally:
        tmp.unlink(missing_ok=True)


def _write_npz(file: Path, arrays: dict[str, np.ndarray]) -> None:
    _write_atomic(file, lambda f: np.savez_compressed(f, **arrays))


def _write_json(file: Path, data: dict[str, Any]) -> None:
    _write_atomic(file, lambda f: f.write(json.dumps(data, indent=2, default=str).encode()))


# -- reading ------------------------------------------------------------------------------
def load_demos(path: str | Path) -> DemoSet:
    """The demo set in folder ``path`` (episodes are read when asked for); DemoFormatError when it cannot be read."""
    folder = Path(path)
    file = folder / INDEX_FILE
    try:
        metadata = read_index(file, f"{file} not found: {folder} is not a demo folder", FORMAT, VERSION,
                              "a rewardgym demo index")
    except (FileNotFoundError, ValueError) as exc:
        raise DemoFormatError(str(exc)) from None
    for key in ("env_id", "observation_space", "action_space", "frames", "episodes"):
        if key not in metadata:
            raise DemoFormatError(f"{file} has no {key!r}")
    episodes = metadata["episodes"]
    if not isinstance(episodes, list):
        raise DemoFormatError(f"{file}: 'episodes' must be a list")
    for i, entry in enumerate(episodes):
        if not (isinstance(entry, dict) and all(k in entry for k in ("file", "seed", "length", "return", "success"))
                and isinstance(entry["file"], str) and Path(entry["file"]).name == entry["file"]):
            raise DemoFormatError(f"{file}: episode {i} needs a plain file name, seed, length, return and success")
    return DemoSet(folder, metadata)


def _space(description: Any, file: Path, key: str):
    try:
        return space_from_description(description)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DemoFormatError(f"{file}: cannot rebuild the {key}: {exc}") from None


def _read_episode(folder: Path, summary: dict[str, Any], frames: bool) -> Episode:
    file = folder / summary["file"]
    try:
        with np.load(file, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise DemoFormatError(f"{file} is missing (listed in {folder / INDEX_FILE})") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DemoFormatError(f"{file} is corrupt: {exc}") from None

    missing = [k for k in _EPISODE_KEYS if k not in arrays]
    if missing or not any(_under(k, "obs") for k in arrays) or not any(_under(k, "actions") for k in arrays):
        raise DemoFormatError(f"{file} is corrupt: it lacks {', '.join(missing) or 'obs or actions'}")
    if frames and "frames" not in arrays:
        raise DemoFormatError(f"{file} is corrupt: the demo set has frames but this episode has none")
    length = len(arrays["rewards"])
    if length != summary["length"]:
        raise DemoFormatError(f"{file} has {length} steps; {INDEX_FILE} says {summary['length']}")
    for key, value in arrays.items():
        want = length + 1 if _under(key, "obs") or key == "frames" else length
        if value.ndim == 0 or len(value) != want:
            raise DemoFormatError(f"{file} is corrupt: {key!r} has shape {value.shape}, expected {want} entries")
    return Episode(
        observations=_unflatten(arrays, "obs"), actions=_unflatten(arrays, "actions"),
        rewards=arrays["rewards"], terminated=arrays["terminated"], truncated=arrays["truncated"],
        success=arrays["success"], frames=arrays.get("frames") if frames else None,
        seed=int(summary["seed"]), task=summary.get("task"),
    )


def _under(key: str, prefix: str) -> bool:
    return key == prefix or key.startswith(prefix + "/")


def _unflatten(arrays: dict[str, np.ndarray], prefix: str) -> np.ndarray | dict[str, Any]:
    """The inverse of :func:`_flatten` over the stacked arrays stored under ``prefix``."""
    if prefix in arrays:
        return arrays[prefix]
    out: dict[str, Any] = {}
    for key, value in arrays.items():
        if not key.startswith(prefix + "/"):
            continue
        *parents, leaf = key[len(prefix) + 1:].split("/")
        node = out
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return out
