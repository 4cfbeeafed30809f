"""Stage 2, ``srcstacks publish-wheels``: publish built wheels with their provenance.

Reads Fromager's ``build-order.json`` and repos (written by the wheels stage); copies
each built wheel into the wheel directory atomically and writes ``provenance.json``
beside them. The wheel dir may be shared by several stacks (see :mod:`publishers`):
publishing holds the wheel dir's lock, refuses to replace another stack's wheel with
different bytes, and removes only wheels this stack published before that no stack
needs any more. Files nobody published are left for the provenance check to flag.
"""

from __future__ import annotations

import os
import sysconfig
import tomllib
import zipfile
from dataclasses import replace
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from srcstacks.build.cache_check import read_fetched_records
from srcstacks.build.selective import (
    planned_from_source,
    read_upstream_wheels,
    upstream_wheel_path,
)
from srcstacks.errors import ProvenanceError, PublishError, StageOrderError, StateError
from srcstacks.fsutil import atomic_copy, sha256_bytes, sha256_file
from srcstacks.index.target import index_target
from srcstacks.layout import Layout, claim_dir, remove_file, remove_partial_files
from srcstacks.publish.index_upload import publish_to_index
from srcstacks.reporting import Report
from srcstacks.runtime.interpreters import fromager_dirs_of
from srcstacks.spec.config import StackConfig
from srcstacks.spec.patches import applicable_patches
from srcstacks.spec.settings import effective_env, read_settings
from srcstacks.state.provenance import (
    HostRecord,
    Manifest,
    PatchRecord,
    SdistRecord,
    UpstreamRecord,
    WheelProvenance,
    read_manifest_or_empty,
    write_manifest,
)
from srcstacks.state.publishers import Publisher, read_publishers, write_publisher
from srcstacks.state.wheel_evidence import read_evidence
from srcstacks.tools.fromager import BuildOrderEntry, read_build_order
from srcstacks.tools.fromager_dirs import FromagerDirs
from srcstacks.worklock import publishing_into

# Names this machine in the provenance of the wheels it builds (opt-in: HostRecord).
BUILD_HOST_VARIABLE = "SRCSTACKS_BUILD_HOST"


def publish_wheels(config: StackConfig, report: Report = print) -> Manifest:
    """Copy the wheels of the last Fromager run into the wheel dir; record provenance."""
    layout = Layout.of(config)
    selective = config.mode.selective
    # Selective mode may build nothing from source: then no build order is the run's.
    building = not selective or planned_from_source(config)
    fetched = read_fetched_records(config)
    records: dict[str, tuple[Path, WheelProvenance]] = {}
    # One Fromager per Python the stack builds for; a pure-Python wheel in several of
    # their build orders is the same file (built by the first, seeded into the others).
    for dirs in fromager_dirs_of(config) if building else ():
        for entry in _read_build_order(dirs):
            wheel, record = describe_wheel(config, dirs, entry, fetched)
            records.setdefault(wheel.name, (wheel, record))
    if selective:
        records.update(upstream_records(config))
    wheel_dir = claim_dir(config.wheel_dir, "wheel dir")
    # Two stacks publishing into one wheel dir at once must not interleave.
    with publishing_into(wheel_dir):
        remove_partial_files(wheel_dir)
        previous = read_manifest_or_empty(wheel_dir)
        publishers = read_publishers(layout)
        others = [item for key, item in publishers.items() if key != layout.stack_id]
        _refuse_conflicts(records, previous, others, wheel_dir)
        copied = 0
        for name, (source, record) in sorted(records.items()):
            target = layout.wheel(name)
            if target.exists() and sha256_file(target) == record.sha256:
                continue
            atomic_copy(source, target)
            copied += 1
        needed_by_others = {name for item in others for name in item.wheels}
        mine = publishers.get(layout.stack_id)
        # A wheel dir from before publisher records: everything in it was this stack's.
        published_before = mine.wheels if mine else set() if publishers else set(previous.wheels)
        for name in sorted(set(published_before) - set(records) - needed_by_others):
            remove_file(layout.wheel(name))
            report(f"  removed {name}: no longer part of the build")
        kept = {
            name: record
            for name, record in previous.wheels.items()
            if name in needed_by_others and name not in records
        }
        manifest = Manifest({**kept, **{name: record for name, (_, record) in records.items()}})
        write_manifest(wheel_dir, manifest)
        write_publisher(layout, set(records))
    shared = f", shared with {len(others)} other stack(s)" if others else ""
    upstream = sum(1 for _, record in records.values() if record.upstream is not None)
    origins = (
        f" ({len(records) - upstream} built from source, {upstream} upstream binaries)"
        if selective
        else ""
    )
    report(
        f"published {len(records)} wheel(s){origins} ({copied} new or changed) to {wheel_dir}"
        f" with provenance.json{shared}"
    )
    index = index_target(config)
    if index is not None:
        built = {name: record for name, (_, record) in records.items()}
        publish_to_index(config, index, built, read_settings(config.settings_dir), report)
    return manifest


def upstream_records(config: StackConfig) -> dict[str, tuple[Path, WheelProvenance]]:
    """The binary wheels selective mode took upstream, each with an upstream-binary record."""
    records: dict[str, tuple[Path, WheelProvenance]] = {}
    for wheel in read_upstream_wheels(config):
        path = upstream_wheel_path(config, wheel)
        if not path.is_file() or sha256_file(path) != wheel.sha256:
            raise StageOrderError(
                f"{path}: missing, or not the bytes {wheel.index_url} published;"
                " rerun 'srcstacks wheels'"
            )
        records[wheel.filename] = (
            path,
            WheelProvenance.upstream_binary(
                wheel.filename,
                wheel.project,
                wheel.version,
                config.variant,
                UpstreamRecord(wheel.index_url, wheel.url, wheel.sha256),
            ),
        )
    return records


def _refuse_conflicts(
    records: dict[str, tuple[Path, WheelProvenance]],
    previous: Manifest,
    others: list[Publisher],
    wheel_dir: Path,
) -> None:
    """Refuse to replace a wheel another stack published with one of other bytes."""
    for name, (_, record) in sorted(records.items()):
        existing = previous.wheels.get(name)
        owners = [item for item in others if name in item.wheels]
        if existing is not None and owners and existing.sha256 != record.sha256:
            raise PublishError(
                f"{wheel_dir}: {name} was published there by {owners[0].describe()} with"
                " other bytes (another variant, patch or setting); give each stack its own"
                " --wheel-dir, or build both with the same settings, patches and variant"
            )


def _read_build_order(dirs: FromagerDirs) -> list[BuildOrderEntry]:
    entries = read_build_order(dirs)
    if entries is None:
        raise StageOrderError(
            f"{dirs.build_order}: no Fromager build yet (run 'srcstacks wheels' first)"
        )
    if not entries:
        # Publishing nothing would prune every wheel this stack published before.
        raise StateError(
            f"{dirs.build_order}: the build order lists no wheel; rerun 'srcstacks wheels'"
        )
    return entries


def describe_wheel(
    config: StackConfig,
    dirs: FromagerDirs,
    entry: BuildOrderEntry,
    fetched: dict[str, WheelProvenance],
) -> tuple[Path, WheelProvenance]:
    """The wheel Fromager left for ``entry`` and its provenance record."""
    project, version = entry.project, entry.version
    if entry.prebuilt:
        raise ProvenanceError(
            f"{project}=={version} is marked pre_built in {config.settings_dir}:"
            " srcstacks publishes only wheels built from source"
        )
    wheel = _find_wheel(dirs.built_wheels, project, version)
    from_index = fetched.get(wheel.name)
    if from_index is not None and from_index.sha256 == sha256_file(wheel):
        # Fetched from the private index and checked against its provenance there
        # (build/cache_check.py): no sdist was downloaded here to describe it from.
        return wheel, from_index
    sdist = _sdist_record(dirs, project, version, entry.source_url)
    patches = tuple(
        PatchRecord(path=_relative(patch, config.spec_dir), sha256=sha256_file(patch))
        for patch in applicable_patches(config.patches_dir, project, version, config.variant)
    )
    record = built_wheel_record(wheel, project, version, config.variant, sdist, patches)
    return wheel, with_build_host(record)


def with_build_host(record: WheelProvenance) -> WheelProvenance:
    """``record`` naming this machine as its host, if ``SRCSTACKS_BUILD_HOST`` names it.

    Opt-in, never the default: provenance is compared byte for byte by ``verify
    --rebuild``, and a host name is machine-specific (docs/howto.md, "Wheels from other
    build hosts"). A build host whose wheels another machine collects sets it.
    """
    name = os.environ.get(BUILD_HOST_VARIABLE, "").strip()
    if not name:
        return record
    return replace(record, host=HostRecord(name=name, platform=local_platform_tag()))


def local_platform_tag() -> str:
    """This machine's platform tag as wheels spell it: ``linux_x86_64``, ``macosx_14_0_arm64``."""
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")


def built_wheel_record(
    wheel: Path,
    project: str,
    version: str,
    variant: str,
    sdist: SdistRecord,
    patches: tuple[PatchRecord, ...],
) -> WheelProvenance:
    """The provenance of ``wheel``, which Fromager just built from ``sdist`` with ``patches``.

    Here or on a Dask worker (build/executors/dask_task.py): both describe a wheel alike.
    """
    # Built from source means: Fromager built it here from the sdist just recorded, and
    # the wheel carries Fromager's build metadata and agrees with its own file name.
    evidence = read_evidence(wheel)
    if not evidence.built_from_source:
        raise ProvenanceError(
            f"{wheel}: no evidence Fromager built it from source: {'; '.join(evidence.problems)}"
        )
    settings_text = _read_dist_info_file(wheel, "fromager-build-settings")
    _, _, build_tag, _ = parse_wheel_filename(wheel.name)
    return WheelProvenance(
        filename=wheel.name,
        project=project,
        version=version,
        build_tag="".join(str(part) for part in build_tag),
        sha256=sha256_file(wheel),
        variant=variant,
        sdist=sdist,
        patches=patches,
        build_settings_sha256=sha256_bytes(settings_text.encode("utf-8")),
        build_env=_settings_env(settings_text, variant),
        built_from_source=evidence.built_from_source,
        # As the wheel's own SBOM records it (tools.wheel_sbom_hook wrote it at build time).
        build_environment=evidence.sbom.environment if evidence.sbom else None,
        crates=evidence.sbom.crates if evidence.sbom else (),
    )


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
