"""Registries of named things (agents, reward models, scripted experts), in one style.

A :class:`Registry` maps a name to an object or to a ``"package.module:attr"`` string that is
imported on first use, so registering a torch-backed agent or reward model does not import
torch. Unknown names are a ``ValueError`` listing the known ones.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["Registry", "import_target"]

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")


def import_target(target: str) -> Any:
    """Import ``"package.module:attr"`` (``attr`` may be dotted); errors become one-line ValueErrors."""
    module_name, colon, attr = target.partition(":")
    module_name, attr = module_name.strip(), attr.strip()
    if not colon or not module_name or not attr:
        raise ValueError(f"expected 'package.module:attr', got {target!r}")
    try:
        obj = importlib.import_module(module_name)
    except Exception as error:  # the user's module may fail in any way while importing
        raise ValueError(f"cannot import {module_name!r}: {type(error).__name__}: {error}".replace("\n", " ")) from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


class Registry:
    """Names to objects, or to ``"module:attr"`` targets imported when first asked for.

    ``kind`` names what is registered in error messages ("agent", "reward", "expert").
    """

    def __init__(self, kind: str, entries: dict[str, Any] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, Any] = {}  # as registered: an object or a "module:attr" str
        self._loaded: dict[str, Any] = {}   # the "module:attr" targets imported so far
        for name, target in (entries or {}).items():
            self.register(name, target)

    def register(self, name: str, target: Any, *, override: bool = False) -> Any:
        """Register ``target`` (an object, or a ``"module:attr"`` str) under ``name``; returns ``target``.

        Raises ``ValueError`` for a name that is not letters, digits, ``_``, ``.``, ``-`` (starting
        with a letter), or that is taken and ``override`` is false.
        """
        if not isinstance(name, str) or not NAME.fullmatch(name):
            raise ValueError(f"invalid {self.kind} name {name!r}: use letters, digits, '_', '.', '-',"
                             " starting with a letter")
        if name in self._entries and not override:
            raise ValueError(f"{self.kind} {name!r} is already registered; pass override=True to replace it")
        self._entries[name] = target
        self._loaded.pop(name, None)
        return target

    def get(self, name: str) -> Any:
        """The object registered as ``name``, imported on first use."""
        try:
            target = self._entries[name]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}; available: {', '.join(self.names())}") from None
        if not isinstance(target, str):
            return target
        if name not in self._loaded:
            self._loaded[name] = import_target(target)
        return self._loaded[name]

    def target(self, name: str) -> Any:
        """What is registered as ``name``, without importing it (a ``"module:attr"`` str or the object)."""
        return self._entries[name]

    def items(self) -> list[tuple[str, Any]]:
        """``(name, what was registered)`` pairs, sorted by name; nothing is imported."""
        return [(name, self._entries[name]) for name in self.names()]

    def copy(self) -> Registry:
        """A registry with the same entries, to change without touching this one."""
        return Registry(self.kind, self._entries)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
