"""Fill the wheel dir from the private index with the wheels the committed locks name.

With a private index, the locks name wheels on the index, not files of this machine,
so they can be committed and used in a clean clone elsewhere. There ``srcstacks
archives`` needs no wheel built: venvstacks installs from the index's URLs, and this
module first copies each locked wheel that the wheel dir lacks, with its provenance
from the index, into the wheel dir (``provenance.json``), after the same checks as a
fetched wheel (:mod:`cache_check`). Everything later (archives, SBOMs, verify) then
reads the wheel dir as usual. Reads the locks and the index; writes the wheel dir,
its publisher record and ``fetched-provenance.json``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from srcstacks.config import StackConfig
from srcstacks.errors import PrivateIndexError
from srcstacks.fsutil import atomic_path, write_json
from srcstacks.index_target import index_target
from srcstacks.layout import Layout, claim_dir
from srcstacks.private_index import (
    PROVENANCE_PROJECT,
    IndexFile,
    IndexLocation,
    download,
    project_files,
)
from srcstacks.provenance import (
    Manifest,
    WheelProvenance,
    read_manifest_or_empty,
    write_manifest,
)
from srcstacks.publishers import stack_wheels, write_publisher
from srcstacks.settings import Settings, read_settings
from srcstacks.stages.cache_check import companion_record, mismatch, read_fetched_records
from srcstacks.stages.lock import LockedWheel, read_locks
from srcstacks.worklock import publishing_into

Report = Callable[[str], None]


def mirror_locked_wheels(config: StackConfig, report: Report = print) -> int:
    """Copy the locked wheels the wheel dir lacks from the index; return how many."""
    target = index_target(config)
    if target is None:
        return 0
    location = target.location
    entries, _ = read_locks(config, location.simple_url)
    layout = Layout.of(config)
    manifest = read_manifest_or_empty(config.wheel_dir)
    missing = {entry.filename: entry for entry in entries if not _present(layout, manifest, entry)}
    if not missing:
        return 0
    report(f"fetching {len(missing)} locked wheel(s) from {location.simple_url}")
    settings = read_settings(config.settings_dir)
    companions = project_files(location, PROVENANCE_PROJECT)
    fetched = read_fetched_records(config)
    wheel_dir = claim_dir(config.wheel_dir, "wheel dir")
    with publishing_into(wheel_dir):
        for name, entry in sorted(missing.items()):
            record = _fetch(config, location, settings, companions, entry)
            fetched[name] = record
            manifest.wheels[name] = record
        write_manifest(wheel_dir, manifest)
        write_publisher(layout, set(stack_wheels(layout)) | set(missing))
    write_json(
        layout.fetched_provenance,
        {name: asdict(record) for name, record in sorted(fetched.items())},
    )
    return len(missing)


def _fetch(
    config: StackConfig,
    location: IndexLocation,
    settings: Settings,
    companions: dict[str, IndexFile],
    entry: LockedWheel,
) -> WheelProvenance:
    """Download one locked wheel into the wheel dir if its provenance fits this build."""
    on_index = project_files(location, entry.project).get(entry.filename)
    if on_index is None or on_index.sha256 != entry.sha256:
        found = "is not on the index" if on_index is None else "has other bytes on the index"
        raise PrivateIndexError(
            f"{location.simple_url}: {entry.filename}, locked for layer {entry.layer},"
            f" {found}; rerun 'srcstacks build' to build and publish it"
        )
    record = companion_record(companions, entry.filename)
    problem = mismatch(config, settings, entry.filename, entry.sha256, record)
    if problem:
        raise PrivateIndexError(
            f"{location.simple_url}: {entry.filename} cannot be used: {problem};"
            " rerun 'srcstacks build' to build it here"
        )
    with atomic_path(Layout.of(config).wheel(entry.filename)) as partial:
        partial.write_bytes(download(on_index))
    return WheelProvenance.from_dict(record["wheel"])


def _present(layout: Layout, manifest: Manifest, entry: LockedWheel) -> bool:
    record = manifest.wheels.get(entry.filename)
    path = layout.wheel(entry.filename)
    return record is not None and record.sha256 == entry.sha256 and path.is_file()
