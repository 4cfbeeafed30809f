"""Where each wheel came from and which build tools made it, as its provenance record says.

Reads the wheel dir's ``provenance.json`` through :func:`srcstacks.state.provenance.read_manifest`
(so a missing or malformed manifest is the same one-line error as in every other stage).
From each wheel's record it takes the origin (built from source, or an upstream binary
with its index, file URL and sha256) and the ``build_environment``: the build tools with
their wheels' sha256, the compilers and the flags. A wheel without a record, or whose
record has no build environment, shows "not recorded"; an upstream binary shows "not
built here (upstream binary)". Writes nothing.
"""

from __future__ import annotations

from pathlib import Path

from srcstacks.report.model import BuildTools, WheelOrigin
from srcstacks.state.provenance import Manifest, read_manifest


class BuildToolsIndex:
    """Looks up the origin and build environment of a wheel by its file name."""

    def __init__(self, manifest: Manifest) -> None:
        self._manifest = manifest

    @classmethod
    def read(cls, wheel_dir: Path) -> BuildToolsIndex:
        """Read the wheel dir's manifest; a missing or unreadable one is an error naming it."""
        return cls(read_manifest(wheel_dir))

    def tools_for(self, wheel: str) -> BuildTools:
        """The build environment of ``wheel``; not recorded when no record holds one."""
        record = self._manifest.wheels.get(wheel)
        if record is None:
            return BuildTools(None)
        # An upstream binary was built elsewhere: its record holds no environment by design.
        return BuildTools(record.build_environment, upstream_binary=record.upstream is not None)

    def origin_for(self, wheel: str) -> WheelOrigin:
        """Built from source or taken from an upstream index; not recorded without a record."""
        record = self._manifest.wheels.get(wheel)
        if record is None:
            return WheelOrigin(recorded=False)
        sdist = (record.sdist.filename, record.sdist.sha256) if record.sdist else None
        return WheelOrigin(
            recorded=True, upstream=record.upstream, sha256=record.sha256, sdist=sdist
        )
