"""The provenance manifest: where each published wheel came from.

It lives beside the wheels as ``provenance.json`` and is the contract between the
publish stage (which writes it) and every later stage (lock, SBOM, verify), which trust
a wheel only if it has an entry here whose sha256 matches the file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_version, parse_wheel_filename

from srcstacks.archive_reader import InstalledDist
from srcstacks.errors import ProvenanceError
from srcstacks.fsutil import sha256_file, write_json

MANIFEST_NAME = "provenance.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class PatchRecord:
    """One patch applied to the source before building."""

    path: str  # relative to the stack spec's folder
    sha256: str


@dataclass(frozen=True)
class SdistRecord:
    """The upstream source distribution a wheel was built from."""

    url: str
    filename: str
    sha256: str


@dataclass(frozen=True)
class WheelProvenance:
    """Everything recorded about how one wheel was built."""

    filename: str
    project: str
    version: str
    build_tag: str
    sha256: str
    variant: str
    sdist: SdistRecord
    patches: tuple[PatchRecord, ...] = ()
    # sha256 of the Fromager build settings that were in force (from the wheel itself).
    build_settings_sha256: str = ""
    # The environment Fromager's settings put in force for the build (CFLAGS, ...).
    build_env: dict[str, str] = field(default_factory=dict)
    built_from_source: bool = True

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WheelProvenance:
        """Rebuild a record from its JSON form."""
        values = dict(data)
        values["sdist"] = SdistRecord(**values["sdist"])
        values["patches"] = tuple(PatchRecord(**patch) for patch in values.get("patches", ()))
        return cls(**values)


@dataclass(frozen=True)
class Manifest:
    """All provenance records of one wheel directory, keyed by wheel file name."""

    wheels: dict[str, WheelProvenance]

    def records_for(self, project: str, version: str) -> list[WheelProvenance]:
        """Every record of ``project`` (canonical name) at ``version``: one per build."""
        wanted = canonicalize_version(version)
        return [
            record
            for record in self.wheels.values()
            if record.project == project and canonicalize_version(record.version) == wanted
        ]

    def installed_from(self, dist: InstalledDist) -> WheelProvenance | None:
        """The record of the wheel ``dist`` was installed from, or None if there is none.

        Several builds of one version (build tags, platform tags) are told apart by the
        ``Build`` and ``Tag`` lines of the installed ``WHEEL`` file.
        """
        candidates = self.records_for(dist.name, dist.version)
        if len(candidates) > 1:
            wheel_lines = dist.files.get("WHEEL", "").splitlines()
            build = next(
                (line[6:].strip() for line in wheel_lines if line.startswith("Build:")), ""
            )
            tags = {line[4:].strip() for line in wheel_lines if line.startswith("Tag:")}
            candidates = [
                record
                for record in candidates
                if record.build_tag == build
                and {str(tag) for tag in parse_wheel_filename(record.filename)[3]} == tags
            ]
        return candidates[0] if len(candidates) == 1 else None

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to ``provenance.json``."""
        return {
            "format": FORMAT_VERSION,
            "wheels": {name: asdict(record) for name, record in sorted(self.wheels.items())},
        }


def manifest_path(wheel_dir: Path) -> Path:
    """Where the manifest of ``wheel_dir`` lives."""
    return wheel_dir / MANIFEST_NAME


def write_manifest(wheel_dir: Path, manifest: Manifest) -> None:
    """Write the manifest atomically."""
    write_json(manifest_path(wheel_dir), manifest.to_json())


def read_manifest(wheel_dir: Path) -> Manifest:
    """Read the manifest of ``wheel_dir``; a missing or unreadable one is an error."""
    path = manifest_path(wheel_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProvenanceError(
            f"{path}: no provenance manifest (run 'srcstacks publish-wheels' first)"
        ) from None
    except (OSError, ValueError) as exc:
        raise ProvenanceError(f"{path}: unreadable provenance manifest: {exc}") from None
    if data.get("format") != FORMAT_VERSION:
        raise ProvenanceError(f"{path}: unsupported manifest format {data.get('format')!r}")
    try:
        wheels = {
            name: WheelProvenance.from_dict(record) for name, record in data["wheels"].items()
        }
    except (KeyError, TypeError) as exc:
        raise ProvenanceError(f"{path}: malformed provenance entry: {exc}") from None
    return Manifest(wheels)


def check_wheel_dir(wheel_dir: Path) -> Manifest:
    """Check every wheel in ``wheel_dir`` against the manifest; return the manifest.

    Raises :class:`ProvenanceError` listing every wheel without an entry, with a hash
    that differs from its entry, and every entry whose wheel is missing.
    """
    manifest = read_manifest(wheel_dir)
    problems: list[str] = []
    present = {path.name: path for path in wheel_dir.glob("*.whl")}
    for name, path in sorted(present.items()):
        record = manifest.wheels.get(name)
        if record is None:
            problems.append(f"{name} has no provenance entry")
        elif sha256_file(path) != record.sha256:
            problems.append(f"{name} does not match the sha256 recorded for it")
    for name in sorted(set(manifest.wheels) - set(present)):
        problems.append(f"{name} is recorded but missing")
    if problems:
        raise ProvenanceError(
            f"{wheel_dir}: {len(problems)} wheel(s) fail the provenance check: "
            + "; ".join(problems)
        )
    return manifest
