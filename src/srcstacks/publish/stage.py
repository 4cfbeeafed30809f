"""Stage 2, ``srcstacks publish-wheels``: publish built wheels with their provenance.

Reads Fromager's ``build-order.json`` and repos (written by the wheels stage); copies
each built wheel into the wheel directory atomically and writes ``provenance.json``
beside them. The wheel dir may be shared by several stacks (see :mod:`publishers`):
publishing holds the wheel dir's lock, refuses to replace another stack's wheel with
different bytes, and removes only wheels this stack published before that no stack
needs any more. Files nobody published are left for the provenance check to flag.
"""

from __future__ import annotations

from pathlib import Path

from srcstacks.build.cache_check import read_fetched_records
from srcstacks.build.selective import (
    planned_from_source,
    read_upstream_wheels,
    upstream_wheel_path,
)
from srcstacks.build.wheel_records import describe_wheel
from srcstacks.errors import PublishError, StageOrderError, StateError
from srcstacks.fsutil import atomic_copy, sha256_file
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.layout.ownership import claim_dir, remove_file, remove_partial_files
from srcstacks.publish.index_upload import publish_to_index
from srcstacks.run_context import RunContext
from srcstacks.runtime.interpreters import fromager_dirs_of
from srcstacks.spec.config import StackConfig
from srcstacks.state.provenance import (
    Manifest,
    UpstreamRecord,
    WheelProvenance,
    read_manifest_or_empty,
    write_manifest,
)
from srcstacks.state.publishers import Publisher, read_publishers, write_publisher
from srcstacks.tools.fromager_files import BuildOrderEntry, read_build_order
from srcstacks.worklock import publishing_into


def publish_wheels(run: RunContext) -> Manifest:
    """Copy the wheels of the last Fromager run into the wheel dir; record provenance."""
    config, report, layout = run.config, run.report, run.layout
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
    if run.index is not None:
        built = {name: record for name, (_, record) in records.items()}
        publish_to_index(config, run.index, built, run.settings, report)
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
