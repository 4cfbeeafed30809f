"""``srcstacks collect DIR...``: merge wheel dirs built on other hosts into this stack's.

Reads each DIR (a wheel dir another machine published: its wheels and
``provenance.json``; nothing there is written) and this stack's wheel dir. Writes into
this stack's wheel dir only: the wheels it lacks, their records in ``provenance.json``
(each naming the host that built it, :class:`~srcstacks.state.provenance.HostRecord`), and the
publisher record ``.srcstacks-publishers/collected.json``, which keeps a later
``publish-wheels`` of this stack from dropping them and names them in its messages.

Everything is checked before anything is copied, and one refused wheel refuses the whole
run, so the wheel dir is either unchanged or holds every collected wheel:

- every wheel of every DIR must pass the check every stage applies to a wheel dir
  (:func:`~srcstacks.state.provenance.wheel_dir_problems`: a provenance entry, its sha256, the
  wheel's own build evidence and SBOM, each build tool published beside it);
- one file name must mean one content: two DIRs, or a DIR and the wheel dir, holding
  different bytes under one name are refused, naming both places and both sha256.

A wheel already in the wheel dir with the same bytes and a record is left as it is (a
rerun changes nothing). Wheels for other platforms are the point and are accepted: no
stage here installs them; lock and verify read only what the archives use.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from srcstacks.errors import CollectError, ProvenanceError, PublishError
from srcstacks.fsutil import atomic_path, sha256_file, write_json
from srcstacks.index.private import companion
from srcstacks.index.target import IndexTarget, index_target
from srcstacks.layout import Layout
from srcstacks.layout.ownership import claim_dir, remove_partial_files
from srcstacks.publish.index_upload import UploadPlan, plan_upload, upload_planned
from srcstacks.reporting import Report
from srcstacks.spec.config import StackConfig
from srcstacks.state.provenance import (
    HostRecord,
    Manifest,
    WheelProvenance,
    describe_wheel_problem,
    read_manifest,
    read_manifest_or_empty,
    wheel_dir_problems,
    write_manifest,
)
from srcstacks.state.publishers import read_publishers
from srcstacks.worklock import publishing_into

COLLECTED_PUBLISHER = "collected"  # .srcstacks-publishers/collected.json


@dataclass(frozen=True)
class Incoming:
    """One wheel of a DIR, checked, with the record it will have in the wheel dir."""

    source: Path  # the DIR it comes from
    record: WheelProvenance

    @property
    def path(self) -> Path:
        """The wheel file in its DIR."""
        return self.source / self.record.filename


@dataclass(frozen=True)
class CollectPlan:
    """What a collect run will do: wheels to copy, records to add, wheels already there."""

    to_copy: list[Incoming]
    to_record: list[Incoming]  # the same bytes are there already, without a record
    present: list[Incoming]  # the same bytes and a record are there already: skipped


def split_spec(paths: list[Path], default_spec: Path) -> tuple[list[Path], Path]:
    """``DIR... [SPEC]``: the last path is the spec when it is a ``.toml`` file or a folder
    holding ``venvstacks.toml`` (a wheel dir never does); else the spec is the default."""
    if paths:
        last = paths[-1]
        is_spec = (last.suffix == ".toml" and not last.is_dir()) or (
            last.is_dir() and (last / default_spec.name).is_file()
        )
        if is_spec:
            return paths[:-1], last
    return paths, default_spec


def run_collect(config: StackConfig, sources: list[Path], report: Report = print) -> CollectPlan:
    """Collect ``sources`` into the stack's wheel dir, and its private index if it has one."""
    target = index_target(config)
    if target is None:
        return collect(config, sources, report)
    from srcstacks import run_context

    # The managed index runs from the work dir, which one run at a time may use.
    with run_context.work_dir_held(config, report), run_context.index_running(config, report):
        return collect(config, sources, report, index=target)


def collect(
    config: StackConfig,
    sources: list[Path],
    report: Report = print,
    *,
    index: IndexTarget | None = None,
) -> CollectPlan:
    """Merge the wheel dirs ``sources`` into ``config.wheel_dir``; refuse on any problem.

    With ``index``, the index is checked too (before anything changes) and the collected
    wheels and their provenance companions are uploaded after the wheel dir is merged.
    """
    if not sources:
        raise CollectError("name at least one wheel dir to collect from")
    incoming = read_sources(sources)
    upload = None if index is None else _plan_index(index, incoming, report)
    layout = Layout.of(config)
    wheel_dir = claim_dir(config.wheel_dir, "wheel dir")
    with publishing_into(wheel_dir):
        remove_partial_files(wheel_dir)
        existing = read_manifest_or_empty(wheel_dir)
        plan = plan_merge(incoming, layout, existing)
        for item in plan.to_copy:
            _checked_copy(item, layout.wheel(item.record.filename))
        added = {item.record.filename: item.record for item in plan.to_copy + plan.to_record}
        if added:
            write_manifest(wheel_dir, Manifest({**existing.wheels, **added}))
        _record_publisher(layout, config.variant, {item.record.filename for item in incoming})
    for item in plan.present:
        report(f"  {item.record.filename}: already in {wheel_dir} with the same bytes; skipped")
    for item in plan.to_copy + plan.to_record:
        host = item.record.host
        built_by = f" (built by {host.name}, {host.platform})" if host else ""
        report(f"  {item.record.filename}: collected from {item.source}{built_by}")
    report(
        f"collected {len(plan.to_copy) + len(plan.to_record)} wheel(s) from"
        f" {len(sources)} wheel dir(s) into {wheel_dir} ({len(plan.present)} already there)"
    )
    if index is not None and upload is not None:
        upload_planned(config, index, upload, collected_companion, report)
    return plan


def _plan_index(index: IndexTarget, incoming: list[Incoming], report: Report) -> UploadPlan:
    """What the index lacks of ``incoming``; refuse a wheel it holds with other bytes."""
    try:
        return plan_upload(index, {item.record.filename: item.record for item in incoming}, report)
    except PublishError as exc:
        raise CollectError(f"nothing collected: {exc}") from None


def collected_companion(record: WheelProvenance) -> dict[str, Any]:
    """The index companion of a collected wheel.

    Its ``inputs`` are what the record says (variant, patches); the sha256 of the
    settings file it was built with is unknown here, and is recorded as such, so this
    stack's build never takes the wheel from the index as its own cached build.
    """
    inputs = {
        "variant": record.variant,
        "patches": [[Path(patch.path).name, patch.sha256] for patch in record.patches],
        "settings_sha256": f"unknown (collected from {record.host.name if record.host else '?'})",
    }
    return companion(record, inputs)


def read_sources(sources: list[Path]) -> list[Incoming]:
    """Every wheel of every DIR, checked; refuse all of them if any fails or two clash."""
    problems: list[str] = []
    incoming: dict[str, Incoming] = {}
    for source in sources:
        for item in _read_source(source.absolute(), problems):
            earlier = incoming.get(item.record.filename)
            if earlier is None:
                incoming[item.record.filename] = item
            elif earlier.record.sha256 != item.record.sha256:
                problems.append(_clash(item.record.filename, earlier, item.source, item.record))
    _refuse(problems)
    return [incoming[name] for name in sorted(incoming)]


def plan_merge(incoming: list[Incoming], layout: Layout, existing: Manifest) -> CollectPlan:
    """Sort ``incoming`` against the wheel dir; refuse a name it holds with other bytes."""
    plan = CollectPlan([], [], [])
    problems: list[str] = []
    for item in incoming:
        name = item.record.filename
        target = layout.wheel(name)
        found = sha256_file(target) if target.is_file() else None
        recorded = existing.wheels.get(name)
        for sha256, what in ((found, "holds"), (recorded and recorded.sha256, "records")):
            if sha256 is not None and sha256 != item.record.sha256:
                problems.append(
                    f"{item.source}: {name} has sha256 {item.record.sha256}, but {layout.wheel_dir}"
                    f" already {what} {name} with sha256 {sha256}; a published wheel is never"
                    " replaced (one file name must mean one content)"
                )
                break
        else:
            if found is None:
                plan.to_copy.append(item)
            elif recorded is None:
                plan.to_record.append(item)  # a copy cut off before its record was written
            else:
                plan.present.append(item)
    _refuse(problems)
    return plan


def _read_source(source: Path, problems: list[str]) -> list[Incoming]:
    """The wheels of one DIR, each with its host; add what is wrong with it to ``problems``."""
    if not source.is_dir():
        problems.append(f"{source}: not a folder (a wheel dir with provenance.json is expected)")
        return []
    try:
        manifest = read_manifest(source)
    except ProvenanceError as exc:
        problems.append(str(exc))  # names DIR/provenance.json
        return []
    found = wheel_dir_problems(source, manifest)
    problems.extend(
        f"{source}: {describe_wheel_problem(name, problem)}"
        for name, listed in sorted(found.items())
        for problem in listed
    )
    if found:
        return []
    shared = _platforms(manifest.wheels)
    host_platform = shared.pop() if len(shared) == 1 else "any" if not shared else None
    return [
        Incoming(source, _with_host(record, source, host_platform))
        for _, record in sorted(manifest.wheels.items())
    ]


def _with_host(record: WheelProvenance, source: Path, platform: str | None) -> WheelProvenance:
    """``record`` with its host: the builder's own (``SRCSTACKS_BUILD_HOST``) when it
    recorded one, else the DIR it was collected from (the builder named no host, and
    guessing its name would be claiming what nobody recorded) and the platform its wheels
    were built for (``platform``; None when the DIR mixes several: then the wheel's own)."""
    if record.host is not None:
        return record
    if platform is None:
        platform = ".".join(sorted(_platforms([record.filename]))) or "any"
    host = HostRecord(name=str(source), platform=platform, named_by="collect")
    return replace(record, host=host)


def _platforms(names: Iterable[str]) -> set[str]:
    """The platform tags (other than ``any``) of the wheels ``names``.

    Fromager builds for the platform it runs on, so a builder's wheel dir holds wheels
    for its platform and pure-Python ones (``any``, which say nothing about the host).
    """
    platforms: set[str] = set()
    for name in names:
        try:
            tags = parse_wheel_filename(name)[3]
        except InvalidWheelFilename:
            continue
        platforms.update(tag.platform for tag in tags if tag.platform != "any")
    return platforms


def _checked_copy(item: Incoming, target: Path) -> None:
    """Copy a wheel into place only if the copy still has the sha256 that was checked."""
    with atomic_path(target) as copy:
        shutil.copyfile(item.path, copy)
        if sha256_file(copy) != item.record.sha256:
            raise CollectError(
                f"{item.path}: changed while it was being collected (its sha256 is no longer"
                f" {item.record.sha256}); rerun 'srcstacks collect' once its DIR is complete"
            )


def _clash(name: str, earlier: Incoming, source: Path, record: WheelProvenance) -> str:
    return (
        f"{source}: {name} has sha256 {record.sha256}, but {earlier.source} has {name} with"
        f" sha256 {earlier.record.sha256}; one file name must mean one content"
        " (collect one of them, or rebuild so both agree)"
    )


def _refuse(problems: list[str]) -> None:
    if problems:
        raise CollectError(f"nothing collected, {len(problems)} problem(s): " + "; ".join(problems))


def _record_publisher(layout: Layout, variant: str, names: set[str]) -> None:
    """Add ``names`` to the wheel dir's record of collected wheels (see :mod:`publishers`)."""
    path = layout.publisher_file(COLLECTED_PUBLISHER)
    before: set[str] = set()
    if path.is_file():
        collected = read_publishers(layout).get(COLLECTED_PUBLISHER)
        before = set(collected.wheels) if collected else set()
    if names <= before:
        return
    write_json(
        path, {"spec": "srcstacks collect", "variant": variant, "wheels": sorted(before | names)}
    )
