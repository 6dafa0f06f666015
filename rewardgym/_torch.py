"""What every torch-backed part of rewardgym shares: the device, and loading a checkpoint with a clear error.

Importing this module imports nothing heavy; torch and transformers load when a function runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["resolve_device", "load_pretrained"]


def resolve_device(device: Any) -> Any:
    """A ``torch.device``: ``"auto"`` is CUDA when torch sees one, else the CPU.

    Anything else is read by ``torch.device``; a malformed name, or CUDA asked for where torch
    sees none, is a ``ValueError`` in one line (every agent, reward model and ``fit-progress``
    goes through here, so ``--device cuda`` on a CPU-only machine fails the same way everywhere).
    """
    import torch

    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"bad device {device!r}: {str(exc).splitlines()[0]} (use auto, cpu, cuda or cuda:N)") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but torch sees no CUDA device (use --device cpu or auto)")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"device {device!r} asked for, but torch sees {torch.cuda.device_count()} CUDA device(s)")
    return resolved


def load_pretrained(loader: Callable[..., Any], model: str | os.PathLike, what: str, hint: str) -> Any:
    """``loader(model)`` (a ``from_pretrained``), turning "not found" into one clear error.

    A path that looks local (absolute, ``./``, ``~`` or an existing folder) is loaded with
    ``local_files_only=True``, so a typo never turns into a download attempt. A hub id is
    tried as transformers would (its cache first); when that fails, e.g. offline, the
    error says what to download and how to point ``model=`` at a local copy instead of
    surfacing a traceback from deep inside transformers.
    """
    name = os.fspath(model)
    path = Path(name).expanduser()
    local = path.exists() or path.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1
    if local and not path.is_dir():
        problem = "is a file, not a checkpoint folder" if path.exists() else "does not exist"
        raise FileNotFoundError(f"{what} checkpoint folder {name!r} {problem}. {hint}")
    try:
        if local:
            return loader(str(path), local_files_only=True)
        return loader(name)
    except (OSError, ValueError) as error:  # transformers raises OSError for missing files
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OSError(f"cannot load {what} checkpoint {name!r} ({first_line}). {hint}") from None
