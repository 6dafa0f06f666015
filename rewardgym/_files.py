"""Reading the small JSON files rewardgym writes (run configs, saved agents), with clear errors."""

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
