"""Which build tools made each wheel, as its provenance record says.

Reads the wheel dir's ``provenance.json`` through :func:`srcstacks.provenance.read_manifest`
(so a missing or malformed manifest is the same one-line error as in every other stage)
and takes each wheel's ``build_environment``: the build tools with their wheels' sha256,
the compilers and the flags. A wheel without a record, or whose record has no build
environment, shows "not recorded". Writes nothing.
"""

from __future__ import annotations

from pathlib import Path

from srcstacks.provenance import Manifest, read_manifest
from srcstacks.report.model import BuildTools


class BuildToolsIndex:
    """Looks up the build environment of a wheel by its file name."""

    def __init__(self, manifest: Manifest) -> None:
        self._manifest = manifest

    @classmethod
    def read(cls, wheel_dir: Path) -> BuildToolsIndex:
        """Read the wheel dir's manifest; a missing or unreadable one is an error naming it."""
        return cls(read_manifest(wheel_dir))

    def tools_for(self, wheel: str) -> BuildTools:
        """The build environment of ``wheel``; not recorded when no record holds one."""
        record = self._manifest.wheels.get(wheel)
        return BuildTools(record.build_environment if record is not None else None)
