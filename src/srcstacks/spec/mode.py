"""``[tool.srcstacks] mode`` and ``build_from_source``: build everything from source (the
default), or only what has no binary wheel for this platform. Read by
:mod:`srcstacks.spec.config` when the spec is read; names are checked and canonicalised here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import InvalidName, canonicalize_name

from srcstacks.errors import ConfigError

FULL = "full"
SELECTIVE = "selective"
MODES = (FULL, SELECTIVE)


@dataclass(frozen=True)
class BuildMode:
    """How much of the stack is built from source.

    ``full``: every wheel, build tools included; ``verify`` fails on any upstream binary.
    ``selective``: only what the upstream index has no binary wheel of for this machine's
    platform, plus ``build_from_source``; every other wheel is the upstream binary,
    recorded as such in the provenance and the SBOMs (docs/howto.md).
    """

    name: str = FULL
    # Canonical project names always built from source in selective mode.
    build_from_source: tuple[str, ...] = ()

    @property
    def selective(self) -> bool:
        return self.name == SELECTIVE


def parse_mode(spec_path: Path, table: Mapping[str, Any]) -> BuildMode:
    """``mode`` and ``build_from_source`` of ``[tool.srcstacks]`` (types already checked)."""
    name = table.get("mode", FULL)
    if name not in MODES:
        raise ConfigError(
            f'{spec_path}: \'tool.srcstacks.mode\' must be "full" or "selective", not {name!r}'
        )
    projects = table.get("build_from_source", [])
    names: set[str] = set()
    for project in projects:
        try:
            if not isinstance(project, str):
                raise InvalidName(str(project))
            names.add(canonicalize_name(project, validate=True))
        except InvalidName:
            raise ConfigError(
                f"{spec_path}: 'tool.srcstacks.build_from_source' holds {project!r}, which is"
                " not a project name"
            ) from None
    if names and name != SELECTIVE:
        raise ConfigError(
            f"{spec_path}: 'tool.srcstacks.build_from_source' applies only to"
            ' mode = "selective" (in full mode everything is built from source)'
        )
    return BuildMode(name, tuple(sorted(names)))
