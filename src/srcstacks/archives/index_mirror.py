"""Fill the wheel dir from the private index with the wheels the committed locks name.

With a private index, the locks name wheels on the index, not files of this machine,
so they can be committed and used in a clean clone elsewhere. There ``srcstacks
archives`` needs no wheel built: venvstacks installs from the index's URLs, and this
module first copies each locked wheel that the wheel dir lacks, with its provenance
from the index, into the wheel dir (``provenance.json``), after the same checks as a
fetched wheel (:mod:`cache_check`); and so the build tools each of them was built with
(its record's ``build_environment``), and theirs, since provenance, SBOM formulation
and verify name each tool by its own provenance entry. Everything later (archives,
SBOMs, verify) then reads the wheel dir as usual. Reads the locks and the index; writes
the wheel dir, its publisher record and ``fetched-provenance.json``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

from srcstacks.build.cache_check import companion_record, mismatch, read_fetched_records
from srcstacks.errors import PrivateIndexError
from srcstacks.fsutil import atomic_path, write_json
from srcstacks.index.private import (
    PROVENANCE_PROJECT,
    IndexLocation,
    download,
    project_files,
)
from srcstacks.index.target import locked_index_url
from srcstacks.layout import Layout
from srcstacks.layout.ownership import claim_dir
from srcstacks.run_context import RunContext
from srcstacks.spec.config import StackConfig
from srcstacks.spec.settings import Settings
from srcstacks.state.lock_files import LockedWheel, read_locks
from srcstacks.state.provenance import (
    Manifest,
    WheelProvenance,
    read_manifest_or_empty,
    write_manifest,
)
from srcstacks.state.publishers import stack_wheels, write_publisher
from srcstacks.web import PageFile
from srcstacks.worklock import publishing_into


@dataclass(frozen=True, order=True)
class _Wanted:
    """A wheel the wheel dir must hold: locked for a layer, or a build tool of one."""

    filename: str
    project: str
    sha256: str
    why: str  # "locked for layer app-greeter", "build tool of markupsafe-3.0.4-...whl"


def mirror_locked_wheels(run: RunContext) -> int:
    """Copy the locked wheels the wheel dir lacks, and their build tools, from the
    index; return how many."""
    config, report, layout, target = run.config, run.report, run.layout, run.index
    if target is None:
        return 0
    location = target.location
    entries, _ = read_locks(config, locked_index_url(config))
    manifest = read_manifest_or_empty(config.wheel_dir)
    wanted = [_locked(entry) for entry in entries]
    if all(_present(layout, manifest, item) for item in _closure(wanted, manifest)):
        return 0
    settings = run.settings
    companions = project_files(location, PROVENANCE_PROJECT)
    fetched = read_fetched_records(config)
    wheel_dir = claim_dir(config.wheel_dir, "wheel dir")
    locked = sum(not _present(layout, manifest, item) for item in wanted)
    report(
        f"fetching {locked} locked wheel(s) from {location.simple_url}, and the build tools"
        " they were built with that the wheel dir lacks"
    )
    new: list[str] = []
    with publishing_into(wheel_dir):
        for item in _closure(wanted, manifest):
            if _present(layout, manifest, item):
                continue
            record = _fetch(config, location, settings, companions, item)
            fetched[item.filename] = manifest.wheels[item.filename] = record
            new.append(item.filename)
        write_manifest(wheel_dir, manifest)
        write_publisher(layout, set(stack_wheels(layout)) | set(new))
    write_json(
        layout.fetched_provenance,
        {name: asdict(record) for name, record in sorted(fetched.items())},
    )
    report(f"fetched {len(new)} wheel(s) ({len(new) - locked} of them build tools)")
    return len(new)


def _locked(entry: LockedWheel) -> _Wanted:
    return _Wanted(entry.filename, entry.project, entry.sha256, f"locked for layer {entry.layer}")


def _closure(wanted: list[_Wanted], manifest: Manifest) -> Iterator[_Wanted]:
    """``wanted``, then the build tools of each (as its record names them), and theirs.

    The manifest is read as it grows: a caller that fetches each item (adding its
    record) before asking for the next sees that item's tools next.
    """
    pending, seen = sorted(wanted), set()
    while pending:
        item = pending.pop(0)
        if item.filename in seen:
            continue
        seen.add(item.filename)
        yield item
        record = manifest.wheels.get(item.filename)
        environment = record.build_environment if record is not None else None
        for tool in environment.tools if environment is not None else ():
            why = f"build tool of {item.filename}"
            pending.append(_Wanted(tool.filename, tool.name, tool.sha256, why))


def _fetch(
    config: StackConfig,
    location: IndexLocation,
    settings: Settings,
    companions: dict[str, PageFile],
    entry: _Wanted,
) -> WheelProvenance:
    """Download one wheel into the wheel dir if its provenance fits this build."""
    on_index = project_files(location, entry.project).get(entry.filename)
    if on_index is None or on_index.sha256 != entry.sha256:
        found = "is not on the index" if on_index is None else "has other bytes on the index"
        raise PrivateIndexError(
            f"{location.simple_url}: {entry.filename}, {entry.why},"
            f" {found}; rerun 'srcstacks build' to build and publish it"
        )
    record = companion_record(companions, entry.filename)
    problem = mismatch(config, settings, entry.filename, entry.sha256, record, take_upstream=True)
    if problem:
        raise PrivateIndexError(
            f"{location.simple_url}: {entry.filename} cannot be used: {problem};"
            " rerun 'srcstacks build' to build it here"
        )
    with atomic_path(Layout.of(config).wheel(entry.filename)) as partial:
        partial.write_bytes(download(on_index))
    return WheelProvenance.from_dict(record["wheel"])


def _present(layout: Layout, manifest: Manifest, entry: _Wanted) -> bool:
    record = manifest.wheels.get(entry.filename)
    path = layout.wheel(entry.filename)
    return record is not None and record.sha256 == entry.sha256 and path.is_file()
