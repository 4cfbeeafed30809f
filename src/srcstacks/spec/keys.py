"""Checking the keys and value types of a table of the spec (``[tool.srcstacks]`` and
the tables in it): one error naming the spec, the key and what it must be."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from srcstacks.errors import ConfigError

_KIND_NAMES: dict[type, str] = {
    dict: "a table",
    str: "a string",
    list: "a list",
    bool: "true or false",
    int: "a number",
}


def check_keys(
    spec_path: Path,
    table: Mapping[str, Any],
    allowed: Mapping[str, type | tuple[type, ...]],
    prefix: str,
) -> None:
    """Every key of ``table`` is ``allowed``, with a value of its type."""
    for key, value in table.items():
        if key not in allowed:
            raise ConfigError(
                f"{spec_path}: unknown key '{prefix}.{key}' (known: {', '.join(sorted(allowed))})"
            )
        expected = allowed[key]
        if not isinstance(value, expected):
            kinds = expected if isinstance(expected, tuple) else (expected,)
            kind = " or ".join(_KIND_NAMES[item] for item in kinds)
            raise ConfigError(
                f"{spec_path}: '{prefix}.{key}' must be {kind}, not {type(value).__name__}"
            )
