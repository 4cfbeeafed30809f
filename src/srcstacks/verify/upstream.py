"""``srcstacks verify`` in selective mode: each upstream binary is what its index publishes,
and each wheel's origin is the one the selective plan gave it.

Reads the provenance records of this stack's wheels, the last selective plan
(``selective.json``) and the upstream indexes' project pages (never writes). An
upstream-binary record vouches only that the index listed these bytes under this name:
so the index must still list the file with the recorded sha256, and a project the plan
built from source must not be recorded as an upstream binary (a public wheel swapped in
with a record edited to match). Without the index, nothing is vouched for: an index that
cannot be read is a problem, not a pass.
"""

from __future__ import annotations

from srcstacks.build.selective import planned_from_source
from srcstacks.errors import StageOrderError
from srcstacks.index.client import (
    IndexReadError,
    published_files,
)
from srcstacks.layout import Layout
from srcstacks.spec.config import StackConfig
from srcstacks.state.provenance import Manifest
from srcstacks.web import PageFile


def upstream_problems(config: StackConfig, manifest: Manifest, ours: frozenset[str]) -> list[str]:
    """What contradicts the upstream-binary records of this stack's wheels."""
    if not config.mode.selective:
        return []  # full mode refuses every upstream binary (verify/stage.py)
    try:
        planned = planned_from_source(config)
    except StageOrderError:
        # verify may run where the build's work dir is not (a copied wheel and output
        # dir): the index check still holds; the plan check needs the work dir.
        planned = set()
    problems: list[str] = []
    pages: dict[tuple[str, str], dict[str, PageFile] | str] = {}
    for name in sorted(ours):
        record = manifest.wheels.get(name)
        if record is None or record.upstream is None:
            continue
        if record.project in planned:
            problems.append(
                f"{name}: recorded as an upstream binary, but the selective plan built"
                f" {record.project} from source ({Layout.of(config).selective_plan.name})"
            )
        key = (record.upstream.index_url, record.project)
        if key not in pages:
            try:
                pages[key] = published_files(*key)
            except IndexReadError as exc:
                pages[key] = str(exc)
        page = pages[key]
        if isinstance(page, str):
            problems.append(f"{name}: cannot check it against its upstream index: {page}")
        elif name not in page:
            problems.append(f"{name}: {record.upstream.index_url} no longer lists it")
        elif page[name].sha256 != record.sha256:
            problems.append(
                f"{name}: {record.upstream.index_url} publishes sha256"
                f" {page[name].sha256[:12]}..., its provenance records {record.sha256[:12]}..."
            )
    return problems
