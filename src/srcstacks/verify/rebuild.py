"""``srcstacks verify --rebuild``: build the stack again in a scratch folder, compare bytes.

The rebuild uses the same sdists (copied from the first build's sdists repo), the same
settings, patches and variant, the versions the first build resolved (as Fromager
constraints), the committed locks and the same runtime source. It then compares, file
by file: wheels, the provenance manifest, layer archives (naming the members that
differ and how: :mod:`srcstacks.verify.rebuild_diff`), the SBOMs, venvstacks' archive metadata
and srcstacks' build record.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from srcstacks.archives.stage import build_archives
from srcstacks.build.sdist_check import checked_record_path
from srcstacks.build.selective import read_upstream_wheels
from srcstacks.build.stage import build_wheels
from srcstacks.fsutil import atomic_write_text, dump_json
from srcstacks.layout import PROVENANCE_NAME, Layout, sbom_path
from srcstacks.layout.ownership import claim_dir, empty_dir, inside
from srcstacks.publish.stage import publish_wheels
from srcstacks.reporting import Report
from srcstacks.run_context import RunContext
from srcstacks.runtime.interpreters import fromager_dirs_of
from srcstacks.sbom.stage import write_sboms
from srcstacks.spec.config import StackConfig
from srcstacks.spec.parity import Parity
from srcstacks.state.provenance import Manifest, read_manifest
from srcstacks.state.publishers import stack_wheels
from srcstacks.tools.fromager_files import read_build_order
from srcstacks.tools.venvstacks import published_layers
from srcstacks.verify.rebuild_diff import compare_members, describe

_LISTED_RECORDS = 5


@dataclass(frozen=True)
class Comparison:
    """One artifact of the first build set against its rebuilt twin."""

    artifact: str  # e.g. "wheels/markupsafe-3.0.4-0-cp311-cp311-linux_x86_64.whl"
    identical: bool
    detail: str = ""

    def describe(self) -> str:
        """One line: ``identical <artifact>`` or ``DIFFERENT <artifact>: <detail>``."""
        if self.identical:
            return f"identical  {self.artifact}"
        return f"DIFFERENT  {self.artifact}: {self.detail}"


def rebuild_and_compare(
    config: StackConfig, scratch: Path, report: Report = print
) -> list[Comparison]:
    """Rebuild the finished build of ``config`` under ``scratch`` and compare artifacts.

    ``scratch`` must be new, empty, or a scratch dir srcstacks made before (whose old
    contents are then discarded): a folder of the user's is refused, never emptied.
    """
    empty_dir(claim_dir(scratch, "rebuild scratch dir", only_as=True))
    again = replace(
        config,
        work_dir=scratch / "work",
        wheel_dir=scratch / "wheels",
        output_dir=scratch / "artifacts",
        # Rebuilt here, never fetched from the index, and never uploaded to it.
        index=None,
        # Compared with the upstream binaries once, by the first build: its findings are
        # copied below, so the rebuilt SBOMs mark the same degraded wheels.
        parity=Parity("off"),
    )
    report(f"rebuilding wheels in {scratch} from the same sdists and pinned versions")
    _seed_sdists(config, again)
    rerun = RunContext(again, report)
    build_wheels(rerun, pins=_pin_versions(config, again))
    publish_wheels(rerun)
    if Layout.of(config).parity_record.is_file():
        shutil.copyfile(Layout.of(config).parity_record, rerun.layout.parity_record)
    # The wheel dir may be shared with other stacks: compare this stack's wheels only.
    ours = stack_wheels(Layout.of(config)) or None
    # Where the two builds ran: a difference that goes away without them is a path.
    roots = _build_roots(config, again)
    results = _compare_wheel_dirs(config.wheel_dir, again.wheel_dir, ours, roots)
    if not all(result.identical for result in results):
        results.append(
            Comparison("archives", False, "not rebuilt: the rebuilt wheels already differ")
        )
        return results
    # The locks name the published wheel dir; its wheels were just shown byte-identical
    # to the rebuilt ones, so the archives are rebuilt from the locks as committed.
    report("rebuilding archives from the committed locks")
    rebuilt = replace(again, wheel_dir=config.wheel_dir, index=config.index)
    rebuilt_run = RunContext(rebuilt, report, index_of=config)
    build_archives(rebuilt_run)
    write_sboms(rebuilt_run)
    results.extend(_compare_outputs(config.output_dir, again.output_dir, roots))
    return results


def _seed_sdists(config: StackConfig, again: StackConfig) -> None:
    # One sdists repo, whatever Pythons the stack builds for.
    source = Layout.of(config).fromager.downloaded_sdists
    target = Layout.of(again).fromager.downloaded_sdists
    shutil.copytree(source, target)
    # The sdists were checked against their index once; the rebuild need not ask again.
    checked = checked_record_path(config)
    if checked.exists():
        shutil.copy2(checked, checked_record_path(again))


def _pin_versions(config: StackConfig, again: StackConfig) -> Path:
    """Constraints pinning every project the first build resolved to one version."""
    versions: dict[str, set[str]] = {}
    for dirs in fromager_dirs_of(config):
        for entry in read_build_order(dirs) or []:
            versions.setdefault(entry.project, set()).add(entry.version)
    if config.mode.selective:
        # The upstream binaries too: the rebuild's plan resolves what the first one did.
        for wheel in read_upstream_wheels(config):
            versions.setdefault(wheel.project, set()).add(wheel.version)
    # A project built at two versions (conflicting layers) is pinned by the spec itself.
    lines = [
        f"{name}=={next(iter(found))}\n"
        for name, found in sorted(versions.items())
        if len(found) == 1
    ]
    pins = Layout.of(again).rebuild_pins
    atomic_write_text(pins, "".join(lines))
    return pins


def _build_roots(config: StackConfig, again: StackConfig) -> tuple[str, ...]:
    folders = {config.work_dir, config.wheel_dir, config.output_dir, again.work_dir}
    folders |= {again.wheel_dir, again.output_dir}
    return tuple(sorted(str(folder.resolve()) for folder in folders))


def _compare_wheel_dirs(
    first: Path,
    second: Path,
    only: frozenset[str] | None = None,
    roots: tuple[str, ...] = (),
) -> list[Comparison]:
    """Compare two wheel dirs file by file; ``only`` limits it to those wheels of a
    shared first dir, and the provenance manifests to their records."""
    results = []
    names = sorted({p.name for p in first.glob("*.whl")} | {p.name for p in second.glob("*.whl")})
    if only is not None:
        names = [name for name in names if name in only]
        results.append(_compare_manifests(first, second, only))
    for name in names if only is not None else [*names, PROVENANCE_NAME]:
        label = f"wheels/{name}"
        a, b = first / name, second / name
        if not a.exists() or not b.exists():
            missing = "first build" if not a.exists() else "rebuild"
            results.append(Comparison(label, False, f"missing from the {missing}"))
        elif a.read_bytes() == b.read_bytes():
            results.append(Comparison(label, True))
        elif name.endswith(".whl"):
            results.append(Comparison(label, False, describe(compare_members(a, b, roots))))
        else:
            results.append(Comparison(label, False, "content differs"))
    return results


def _compare_manifests(first: Path, second: Path, only: frozenset[str]) -> Comparison:
    """The provenance records of ``only`` in both wheel dirs, compared as written."""
    texts, records = [], []
    for folder in (first, second):
        wheels = read_manifest(folder).wheels
        subset = Manifest({name: record for name, record in wheels.items() if name in only})
        texts.append(dump_json(subset.to_json()))
        records.append(subset.to_json()["wheels"])
    same = texts[0] == texts[1]
    detail = "" if same else f"content differs (this stack's records){_differing_records(*records)}"
    return Comparison(f"wheels/{PROVENANCE_NAME}", same, detail)


def _differing_records(first: dict[str, Any], second: dict[str, Any]) -> str:
    """``: <wheel> (<keys>), ...`` for each record that differs; the ``sha256`` key
    follows its wheel, whose own line says why it differs."""
    parts = []
    for name in sorted(first.keys() | second.keys()):
        a, b = first.get(name), second.get(name)
        if a == b:
            continue
        if a is None or b is None:
            parts.append(f"{name} (only in the {'rebuild' if a is None else 'first build'})")
            continue
        keys = sorted(key for key in a.keys() | b.keys() if a.get(key) != b.get(key))
        parts.append(f"{name} ({', '.join(keys)})")
    if not parts:
        return ""
    listed = ", ".join(parts[:_LISTED_RECORDS])
    more = f" and {len(parts) - _LISTED_RECORDS} more" if len(parts) > _LISTED_RECORDS else ""
    return f": {len(parts)} record(s) differ: {listed}{more}"


def _compare_outputs(first: Path, second: Path, roots: tuple[str, ...] = ()) -> list[Comparison]:
    results = []
    for layer in published_layers(first):
        name = layer.archive_name
        a, b = inside(first, name, "archive name"), inside(second, name, "archive name")
        if not b.exists():
            results.append(Comparison(f"archives/{name}", False, "missing from the rebuild"))
        elif a.read_bytes() == b.read_bytes():
            results.append(Comparison(f"archives/{name}", True))
        else:
            diff = describe(compare_members(a, b, roots))
            results.append(Comparison(f"archives/{name}", False, diff))
    records = [
        *(
            sbom_path(inside(first, layer.archive_name, "archive name"))
            for layer in published_layers(first)
        ),
        *sorted(first.glob("__venvstacks__/**/*.json")),
        *sorted(first.glob("__srcstacks__/*.json")),
    ]
    for metadata in records:
        relative = metadata.relative_to(first)
        twin = second / relative
        same = twin.exists() and twin.read_bytes() == metadata.read_bytes()
        results.append(Comparison(str(relative), same, "" if same else "content differs"))
    return results
