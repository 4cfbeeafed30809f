"""Stage 2, second half: upload the published wheels and their provenance to the index.

Reads the wheels and records the publish stage just put in the wheel dir; writes to the
private index only. Every wheel is checked against the index before anything is
uploaded, so a conflict (same file name, other bytes) stops the stage with nothing
published half way. Wheels go up first, then each wheel's provenance companion
(:mod:`srcstacks.index.private`); an upload cut off half way is completed by the rerun,
since the same bytes again are a no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from srcstacks.build.wheel_records import companion_for
from srcstacks.errors import PublishError
from srcstacks.index.private import (
    PROVENANCE_PROJECT,
    check_private,
    download,
    project_files,
    provenance_filename,
    publish_companion,
    read_companion,
    upload,
)
from srcstacks.index.target import IndexTarget
from srcstacks.layout import Layout
from srcstacks.reporting import Report
from srcstacks.spec.config import StackConfig
from srcstacks.spec.settings import Settings
from srcstacks.state.provenance import WheelProvenance
from srcstacks.web import PageFile


def publish_to_index(
    config: StackConfig,
    target: IndexTarget,
    records: dict[str, WheelProvenance],
    settings: Settings,
    report: Report,
) -> None:
    """Upload every wheel in ``records`` (from the wheel dir) with its provenance."""
    plan = plan_upload(target, records, report)
    upload_planned(
        config, target, plan, lambda record: companion_for(config, settings, record), report
    )


@dataclass(frozen=True)
class UploadPlan:
    """What an index lacks of some records: their wheels, their companions."""

    records: dict[str, WheelProvenance]
    missing: list[WheelProvenance]
    stale: list[WheelProvenance]


def plan_upload(
    target: IndexTarget, records: dict[str, WheelProvenance], report: Report
) -> UploadPlan:
    """Check the index is private and holds no wheel of ``records`` with other bytes.

    Uploads nothing: a conflict raises :class:`PublishError` before anything changes.
    """
    location = target.location
    privacy = check_private(location)
    if not privacy.checked:
        report(
            f"warning: {location.base_url} is {privacy.kind}: srcstacks cannot check that it"
            " has no upstream and never replaces a file; make sure of both"
        )
    on_index: dict[str, dict[str, PageFile]] = {}
    missing: list[WheelProvenance] = []
    for name, record in sorted(records.items()):
        if record.project not in on_index:
            on_index[record.project] = project_files(location, record.project)
        existing = on_index[record.project].get(name)
        if existing is None:
            missing.append(record)
        elif existing.sha256 != record.sha256:
            raise PublishError(
                f"{location.base_url}: {name} is already on the index with sha256"
                f" {existing.sha256}, this build made {record.sha256}; a published wheel is"
                " never replaced (rebuild with the inputs it was built with, or use another"
                " index)"
            )
    companions = project_files(location, PROVENANCE_PROJECT)
    return UploadPlan(records, missing, _companions_to_upload(companions, records))


def upload_planned(
    config: StackConfig,
    target: IndexTarget,
    plan: UploadPlan,
    describe: Callable[[WheelProvenance], dict[str, Any]],
    report: Report,
) -> None:
    """Upload the wheels (from the wheel dir), then the companions (``describe``) ``plan`` lacks."""
    location = target.location
    layout = Layout.of(config)
    if plan.missing:
        report(f"uploading {len(plan.missing)} wheel(s) to {location.simple_url}")
    for record in plan.missing:
        upload(
            location,
            target.credentials,
            record.filename,
            layout.wheel(record.filename).read_bytes(),
            project=record.project,
            version=record.version,
        )
    for record in plan.stale:
        publish_companion(location, target.credentials, describe(record))
    report(
        f"uploaded {len(plan.missing)} wheel(s) and {len(plan.stale)} provenance record(s) to"
        f" {location.simple_url} ({len(plan.records) - len(plan.missing)} already there)"
    )


def _companions_to_upload(
    companions: dict[str, PageFile], records: dict[str, WheelProvenance]
) -> list[WheelProvenance]:
    """The records whose companion is not on the index yet; refuse one that disagrees."""
    pending: list[WheelProvenance] = []
    for name, record in sorted(records.items()):
        companion = companions.get(provenance_filename(name))
        if companion is None:
            pending.append(record)
            continue
        found = read_companion(download(companion), companion.url)
        recorded = found.get("wheel", {}) if isinstance(found.get("wheel"), dict) else {}
        if recorded.get("sha256") != record.sha256:
            raise PublishError(
                f"{companion.url}: the provenance on the index records another sha256 for"
                f" {name} than the wheel this build published; the index is inconsistent:"
                " ask its owner to check it"
            )
    return pending
