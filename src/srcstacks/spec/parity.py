"""``[tool.srcstacks] parity`` and ``parity_exceptions``: what a wheel built here that
lacks what the upstream binary of its version ships does to the run.

``"report"`` (the default) names it in the run, the SBOM and the report; ``"require"``
also stops the run (after recording it) unless the project is one of
``parity_exceptions``; ``"off"`` compares nothing (no download from PyPI). Read by
:mod:`srcstacks.spec.config` when the spec is read; the check is
:mod:`srcstacks.build.parity`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from packaging.utils import canonicalize_name

from srcstacks.errors import ConfigError

PARITY_KEY = "parity"
EXCEPTIONS_KEY = "parity_exceptions"
ParityMode = Literal["report", "require", "off"]
PARITY_MODES: tuple[ParityMode, ...] = ("report", "require", "off")


@dataclass(frozen=True)
class Parity:
    """What a degraded build does, and the projects for which it only reports."""

    mode: ParityMode = "report"
    exceptions: frozenset[str] = frozenset()  # canonical project names


def parse_parity(spec_path: Path, table: Mapping[str, Any]) -> Parity:
    """The parity settings ``[tool.srcstacks]`` holds (their types were checked)."""
    mode = table.get(PARITY_KEY, "report")
    chosen = next((item for item in PARITY_MODES if item == mode), None)
    if chosen is None:
        raise ConfigError(
            f"{spec_path}: 'tool.srcstacks.{PARITY_KEY}' must be one of"
            f" {', '.join(PARITY_MODES)}, not {mode!r}"
        )
    exceptions = table.get(EXCEPTIONS_KEY, [])
    if not all(isinstance(item, str) and item.strip() for item in exceptions):
        raise ConfigError(f"{spec_path}: 'tool.srcstacks.{EXCEPTIONS_KEY}' must list project names")
    return Parity(chosen, frozenset(canonicalize_name(item) for item in exceptions))
