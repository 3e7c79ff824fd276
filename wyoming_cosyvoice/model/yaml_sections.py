"""Small readers shared by the `from_yaml` constructors of the flow and vocoder configurations.

Owns the check that a cosyvoice.yaml node names the upstream class an implementation reproduces, and the
conversion of (nested) lists of numbers to tuples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .blocks import YAML_CLASS_KEY, ConfigError


def require_class(section: Any, name: str, where: str) -> None:
    """`section` must be a mapping whose `!new:` tag names the upstream class `name` (module path ignored)."""
    found = str(section.get(YAML_CLASS_KEY, "")).rsplit(".", 1)[-1] if isinstance(section, Mapping) else ""
    if found != name:
        raise ConfigError(f"unsupported {where} class {found or '(none)'!r} (only {name})")


def int_tuple(values: Sequence[Any]) -> tuple[int, ...]:
    return tuple(int(value) for value in values)


def nested_int_tuple(values: Sequence[Sequence[Any]]) -> tuple[tuple[int, ...], ...]:
    return tuple(int_tuple(inner) for inner in values)
