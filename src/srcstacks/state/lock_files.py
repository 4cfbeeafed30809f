"""What venvstacks' lock files say: the wheels each layer installs, checked against provenance.

Reads the ``pylock.*.toml`` files in ``requirements/<layer>/`` beside the spec venvstacks
sees, and the provenance manifest; writes nothing.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from srcstacks.errors import ProvenanceError, StageOrderError, StateError
from srcstacks.layout.ownership import inside
from srcstacks.spec.config import Layer, StackConfig
from srcstacks.spec.variants import venvstacks_spec_dir
from srcstacks.state.provenance import Manifest


@dataclass(frozen=True)
class LockedWheel:
    """One wheel a layer's lock file installs."""

    layer: str
    project: str
    version: str
    filename: str
    sha256: str


def lock_file_path(config: StackConfig, env_name: str) -> Path:
    """The pylock file venvstacks writes for the layer deployed as ``env_name``."""
    folder = inside(venvstacks_spec_dir(config) / "requirements", env_name, "layer")
    matches = sorted(folder.glob("pylock.*.toml"))
    if not matches:
        raise StageOrderError(
            f"{folder}: layer {env_name!r} is not locked (run 'srcstacks lock' first)"
        )
    return matches[0]


def read_locks(
    config: StackConfig, index_url: str | None = None
) -> tuple[list[LockedWheel], list[str]]:
    """Every wheel the layers' locks install (names as locked), and what is wrong with them.

    A package with no wheel that no lower layer provides is a problem; so is, with
    ``index_url``, a package locked from another index, and without it, a package
    locked from any index server (the wheel dir alone is used).
    """
    entries: list[LockedWheel] = []
    problems: list[str] = []
    for layer in config.layers:
        found, wrong = read_layer_lock(lock_file_path(config, layer.env_name), layer, index_url)
        entries.extend(found)
        problems.extend(wrong)
    return entries, problems


def lock_packages(path: Path) -> list[dict[str, Any]]:
    """The ``[[packages]]`` of one pylock file; an unreadable one is a :class:`StateError`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise StateError(f"{path}: unreadable lock file ({exc}); rerun 'srcstacks lock'") from None
    packages = data.get("packages", [])
    return [package for package in packages if isinstance(package, dict)]


def read_layer_lock(
    path: Path, layer: Layer, index_url: str | None = None
) -> tuple[list[LockedWheel], list[str]]:
    """The wheels one layer's lock installs, and what is wrong with them (see read_locks)."""
    entries: list[LockedWheel] = []
    problems: list[str] = []
    for package in lock_packages(path):
        wheels = package.get("wheels", [])
        if not wheels:
            if "from_lower_layer" not in package.get("marker", ""):
                problems.append(f"{layer.env_name}: {package.get('name')} has no wheel")
            continue
        locked_from = str(package.get("index", ""))
        if index_url is not None and locked_from != index_url:
            problems.append(
                f"{layer.env_name}: {package.get('name')} is locked from"
                f" {locked_from}, not {index_url}"
            )
            continue
        if index_url is None and locked_from.startswith(("http://", "https://")):
            # --no-index (or no index configured): nothing may come from a server.
            problems.append(
                f"{layer.env_name}: {package.get('name')} is locked from {locked_from},"
                " but this stack uses its wheel dir alone"
            )
            continue
        for wheel in wheels:
            location = wheel.get("path") or wheel.get("name") or wheel.get("url") or ""
            entries.append(
                LockedWheel(
                    layer=layer.env_name,
                    project=str(package.get("name", "")),
                    version=str(package.get("version", "")),
                    filename=unquote(Path(urlsplit(location).path).name),
                    sha256=wheel.get("hashes", {}).get("sha256", ""),
                )
            )
    return entries, problems


def wheel_problems(manifest: Manifest, entries: list[LockedWheel]) -> list[str]:
    """Each locked wheel that is not a published wheel with the sha256 recorded for it."""
    problems = []
    for entry in entries:
        record = manifest.wheels.get(entry.filename)
        if record is None:
            problems.append(f"{entry.layer}: {entry.filename} is not a published wheel")
        elif record.sha256 != entry.sha256:
            problems.append(f"{entry.layer}: {entry.filename} hash differs from provenance")
    return problems


def check_locks(
    config: StackConfig, manifest: Manifest, index_url: str | None = None
) -> list[LockedWheel]:
    """Every wheel in every layer's lock must be a published wheel with its recorded hash.

    With ``index_url``, every locked package must also come from that index (a lock
    made against another index, or against the wheel dir, is stale).
    """
    entries, problems = read_locks(config, index_url)
    unpublished = wheel_problems(manifest, entries)
    problems.extend(unpublished)
    if problems:
        # The lock stage locks against the view of the index that lists this stack's
        # wheels alone (stages.lock_view): an unpublished wheel here is a stale lock.
        raise ProvenanceError(
            "the locks do not match the published wheels (run 'srcstacks lock'): "
            + "; ".join(problems)
        )
    return [
        replace(
            entry,
            project=manifest.wheels[entry.filename].project,
            version=manifest.wheels[entry.filename].version,
        )
        for entry in entries
    ]
