"""Verify's check of the stack's build mode (``[tool.srcstacks] mode``).

Reads nothing from disk: it judges the provenance records of the wheels installed in
the archives (``full`` mode: every one built from source; ``selective``: no project of
``build_from_source`` taken as an upstream binary), the ``srcstacks:origin`` of each
SBOM component against its record, and the mode an SBOM says it was written in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from srcstacks.spec.mode import BuildMode
from srcstacks.state.provenance import BUILT_FROM_SOURCE, UPSTREAM_BINARY, WheelProvenance
from srcstacks.state.sbom_identity import MODE_PROPERTY

ORIGIN_PROPERTY = "srcstacks:origin"


@dataclass
class OriginCounts:
    """The distinct wheels installed in the archives, by origin."""

    built: set[str] = field(default_factory=set)
    upstream: set[str] = field(default_factory=set)

    def add(self, record: WheelProvenance) -> None:
        (self.upstream if record.upstream is not None else self.built).add(record.filename)

    def summary(self, mode: BuildMode) -> str:
        """``selective mode: 2 built from source, 5 upstream binaries``."""
        upstream = len(self.upstream)
        noun = "upstream binary" if upstream == 1 else "upstream binaries"
        return f"{mode.name} mode: {len(self.built)} built from source, {upstream} {noun}"


def mode_problems(archive: str, record: WheelProvenance, mode: BuildMode) -> list[str]:
    """Why the wheel of ``record``, installed in ``archive``, breaks the stack's mode."""
    upstream = record.upstream
    if upstream is None:
        return []
    if not mode.selective:
        return [
            f"{archive}: {record.filename} is an upstream binary (from {upstream.index_url}),"
            " but the stack is in full mode: every wheel must be built from source"
            ' (set mode = "selective" or rebuild)'
        ]
    if record.project in mode.build_from_source:
        return [
            f"{archive}: {record.filename} is an upstream binary (from {upstream.index_url}),"
            f" but 'tool.srcstacks.build_from_source' lists {record.project}: it must be built"
            " from source (rerun 'srcstacks build')"
        ]
    return []


def origin_problems(
    sbom: str, name: str, version: str, claimed: str | None, records: Iterable[WheelProvenance]
) -> list[str]:
    """An SBOM component whose ``srcstacks:origin`` is not its provenance record's.

    ``records``: the records whose wheel sha256 the component names (one, normally).
    """
    problems = []
    for record in records:
        if claimed is None:
            problems.append(
                f"{sbom}: {name} {version} has no {ORIGIN_PROPERTY} property, but its"
                f" provenance says {record.origin}"
            )
        elif claimed != record.origin:
            problems.append(
                f"{sbom}: {name} {version} is marked {ORIGIN_PROPERTY} = {claimed}, but its"
                f" provenance ({record.filename}) says {record.origin}"
            )
    if claimed not in (None, BUILT_FROM_SOURCE, UPSTREAM_BINARY):
        problems.append(
            f"{sbom}: {name} {version} has {ORIGIN_PROPERTY} = {claimed!r}, which is neither"
            f" {BUILT_FROM_SOURCE} nor {UPSTREAM_BINARY}"
        )
    return problems


def sbom_mode_problems(sbom: str, written: str | None, mode: BuildMode) -> list[str]:
    """An SBOM written in another mode (``written``: its ``srcstacks:mode``) than the
    spec's now says."""
    if written is None:
        return [f"{sbom}: has no {MODE_PROPERTY} property (rerun 'srcstacks sbom')"]
    if written != mode.name:
        return [
            f"{sbom}: was written in {written} mode, but the stack is now in {mode.name} mode"
            " (rerun 'srcstacks build')"
        ]
    return []
