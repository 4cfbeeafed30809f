"""``srcstacks verify`` with a private index: the index holds what the provenance records.

Reads the index's project pages and provenance companions (never writes). Every wheel
of this stack must be on the index with the sha256 its provenance records, with a
provenance companion that records the same sha256.
"""

from __future__ import annotations

from srcstacks.errors import PrivateIndexError
from srcstacks.index.private import (
    PROVENANCE_PROJECT,
    download,
    project_files,
    provenance_filename,
    read_companion,
)
from srcstacks.index.target import index_target
from srcstacks.spec.config import StackConfig
from srcstacks.state.provenance import Manifest
from srcstacks.web import PageFile


def index_problems(config: StackConfig, manifest: Manifest, ours: frozenset[str]) -> list[str]:
    """What the index lacks or holds differently from this stack's provenance."""
    target = index_target(config)
    if target is None:
        return []
    location = target.location
    try:
        companions = project_files(location, PROVENANCE_PROJECT)
        pages: dict[str, dict[str, PageFile]] = {}
        problems: list[str] = []
        for name in sorted(ours):
            record = manifest.wheels.get(name)
            if record is None:
                continue
            if record.project not in pages:
                pages[record.project] = project_files(location, record.project)
            on_index = pages[record.project].get(name)
            if on_index is None:
                problems.append(f"{location.simple_url}: {name} is not on the index")
            elif on_index.sha256 != record.sha256:
                problems.append(
                    f"{location.simple_url}: {name} on the index has sha256 {on_index.sha256},"
                    f" provenance records {record.sha256}"
                )
            companion = companions.get(provenance_filename(name))
            if companion is None:
                problems.append(f"{location.simple_url}: {name} has no provenance on the index")
                continue
            wheel = read_companion(download(companion), companion.url).get("wheel")
            if not isinstance(wheel, dict) or wheel.get("sha256") != record.sha256:
                problems.append(
                    f"{companion.url}: the provenance on the index does not record {name}"
                    " with the sha256 the local provenance records"
                )
    except PrivateIndexError as exc:
        return [str(exc)]
    return problems
