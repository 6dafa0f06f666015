"""Reading the small JSON files rewardgym writes (run configs, saved agents, folder indexes), with clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(file: Path, missing: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON object in ``file``; FileNotFoundError(``missing``) when absent, ValueError when corrupt."""
    if not file.is_file():
        raise FileNotFoundError(missing)
    try:
        data = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{file} is corrupt: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{file} is corrupt: expected a JSON object")
    for key in required:
        if key not in data:
            raise ValueError(f"{file} has no {key!r}")
    return data


def read_index(file: Path, missing: str, fmt: str, version: int, what: str) -> dict[str, Any]:
    """A folder's index file: :func:`read_json`, then its ``"format"`` and ``"version"`` checked.

    ``what`` names the kind of file in the error ("a rewardgym demo index"); a newer version
    than this rewardgym reads says to upgrade.
    """
    data = read_json(file, missing)
    if data.get("format") != fmt:
        raise ValueError(f'{file} is not {what} (no "format": "{fmt}")')
    found = data.get("version")
    if found != version:
        newer = isinstance(found, int) and found > version
        raise ValueError(f"{file} has format version {found!r}; this rewardgym reads version {version}"
                         + (" (upgrade rewardgym)" if newer else ""))
    return data
