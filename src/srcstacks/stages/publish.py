"""Stage 2, ``srcstacks publish-wheels``: publish built wheels with their provenance.

Reads Fromager's ``build-order.json`` and repos (written by the wheels stage); copies
each built wheel into the wheel directory atomically and writes ``provenance.json``
beside them. Wheels this stage published before that are no longer part of the build
are removed; files it did not publish are left for the provenance check to flag.
"""

from __future__ import annotations

import json
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from srcstacks.config import StackConfig
from srcstacks.errors import ProvenanceError, StageOrderError
from srcstacks.fsutil import atomic_copy, remove_partial_files, sha256_bytes, sha256_file
from srcstacks.patches import applicable_patches
from srcstacks.provenance import (
    Manifest,
    PatchRecord,
    SdistRecord,
    WheelProvenance,
    read_manifest,
    write_manifest,
)
from srcstacks.settings import effective_env
from srcstacks.stages.wheels import fromager_dirs
from srcstacks.tools.fromager import FromagerDirs

Report = Callable[[str], None]


def publish_wheels(config: StackConfig, report: Report = print) -> Manifest:
    """Copy the wheels of the last Fromager run into the wheel dir; record provenance."""
    dirs = fromager_dirs(config)
    build_order = _read_build_order(dirs)
    records: dict[str, tuple[Path, WheelProvenance]] = {}
    for entry in build_order:
        wheel, record = _describe(config, dirs, entry)
        records[wheel.name] = (wheel, record)
    wheel_dir = config.wheel_dir
    wheel_dir.mkdir(parents=True, exist_ok=True)
    remove_partial_files(wheel_dir)
    previous = _previous_manifest(wheel_dir)
    copied = 0
    for name, (source, record) in sorted(records.items()):
        target = wheel_dir / name
        if target.exists() and sha256_file(target) == record.sha256:
            continue
        atomic_copy(source, target)
        copied += 1
    for name in sorted(set(previous.wheels) - set(records)):
        (wheel_dir / name).unlink(missing_ok=True)
        report(f"  removed {name}: no longer part of the build")
    manifest = Manifest({name: record for name, (_, record) in records.items()})
    write_manifest(wheel_dir, manifest)
    report(
        f"published {len(records)} wheel(s) ({copied} new or changed) to {wheel_dir}"
        " with provenance.json"
    )
    return manifest


def _read_build_order(dirs: FromagerDirs) -> list[dict[str, Any]]:
    try:
        data = json.loads(dirs.build_order.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StageOrderError(
            f"{dirs.build_order}: no Fromager build yet (run 'srcstacks wheels' first)"
        ) from None
    if not isinstance(data, list):
        raise StageOrderError(f"{dirs.build_order}: not a Fromager build order")
    return data


def _previous_manifest(wheel_dir: Path) -> Manifest:
    try:
        return read_manifest(wheel_dir)
    except ProvenanceError:
        return Manifest({})


def _describe(
    config: StackConfig, dirs: FromagerDirs, entry: dict[str, Any]
) -> tuple[Path, WheelProvenance]:
    project = canonicalize_name(entry["dist"])
    version = entry["version"]
    if entry.get("prebuilt"):
        raise ProvenanceError(
            f"{project}=={version} is marked pre_built in {config.settings_dir}:"
            " srcstacks publishes only wheels built from source"
        )
    wheel = _find_wheel(dirs.built_wheels, project, version)
    sdist = _sdist_record(dirs, project, version, entry.get("source_url", ""))
    patches = tuple(
        PatchRecord(path=_relative(patch, config.spec_dir), sha256=sha256_file(patch))
        for patch in applicable_patches(config.patches_dir, project, version, config.variant)
    )
    settings_text = _read_dist_info_file(wheel, "fromager-build-settings")
    _, _, build_tag, _ = parse_wheel_filename(wheel.name)
    record = WheelProvenance(
        filename=wheel.name,
        project=project,
        version=version,
        build_tag="".join(str(part) for part in build_tag),
        sha256=sha256_file(wheel),
        variant=config.variant,
        sdist=sdist,
        patches=patches,
        build_settings_sha256=sha256_bytes(settings_text.encode("utf-8")),
        build_env=_settings_env(settings_text, config.variant),
    )
    return wheel, record


def _find_wheel(folder: Path, project: str, version: str) -> Path:
    wanted = Version(version)
    matches: list[tuple[tuple[int | str, ...], Path]] = []
    for path in folder.glob("*.whl"):
        try:
            name, found_version, build_tag, _ = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            continue
        if name == project and found_version == wanted:
            matches.append((tuple(build_tag), path))
    if not matches:
        raise StageOrderError(
            f"{folder}: no wheel built for {project}=={version} (rerun 'srcstacks wheels')"
        )
    # A bumped changelog gives a higher build tag: the newest build wins.
    return max(matches, key=lambda match: match[0])[1]


def _sdist_record(dirs: FromagerDirs, project: str, version: str, url: str) -> SdistRecord:
    path = dirs.downloaded_sdist(url) if url else None
    if path is None or not path.is_file():
        raise ProvenanceError(
            f"{project}=={version}: the sdist it was built from is not in"
            f" {dirs.downloaded_sdists} (source: {url or 'unknown'})"
        )
    return SdistRecord(url=url, filename=path.name, sha256=sha256_file(path))


def _read_dist_info_file(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            parts = member.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == name:
                return archive.read(member).decode("utf-8", errors="replace")
    return ""


def _settings_env(settings_text: str, variant: str) -> dict[str, str]:
    """The build env from Fromager's recorded settings (TOML): base env, then the variant's."""
    try:
        settings = tomllib.loads(settings_text)
    except tomllib.TOMLDecodeError:
        return {}
    base = {str(k): str(v) for k, v in (settings.get("env") or {}).items()}
    variant_settings = (settings.get("variants") or {}).get(variant) or {}
    overrides = {str(k): str(v) for k, v in (variant_settings.get("env") or {}).items()}
    return effective_env(base, overrides)


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
