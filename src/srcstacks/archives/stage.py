"""Stage 4, ``srcstacks archives``: build and publish the layer archives with venvstacks.

Reads the lock files (lock stage) and the wheel dir; runs ``venvstacks build --publish``
with the same index flags, into a staging folder. Publishes ``<layer>.tar.xz``,
venvstacks' metadata (``__venvstacks__/``), ``__srcstacks__/build.json`` (the variant,
the runtime's origin, the tool versions and the sha256 of this stack's provenance
records, for the SBOM stage and verify) and each runtime layer's file list
(``__srcstacks__/<layer>.runtime-files.json``, for verify) into the output dir as one
all-or-nothing step.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import srcstacks
from srcstacks.archives.index_mirror import mirror_locked_wheels
from srcstacks.archives.plan import (
    archive_components,
    archive_outputs,
    archive_reasons,
    merged_manifest,
    published_entries,
    read_published_manifest,
)
from srcstacks.errors import PublishError, SrcstacksError
from srcstacks.fsutil import (
    atomic_write_text,
    finish_publish,
    publish_tree,
    sha256_file,
    write_json,
)
from srcstacks.index.target import locked_index_url, wheel_source
from srcstacks.layout import Layout, sbom_path
from srcstacks.layout.ownership import (
    claim_dir,
    inside,
    remove_file,
    remove_partial_files,
    remove_tree,
)
from srcstacks.reporting import Report
from srcstacks.run_context import RunContext
from srcstacks.runtime.prepare import (
    discard_layer_envs,
    prepare_runtimes,
    runtime_env,
    runtimes_for,
    with_bundled_code,
)
from srcstacks.spec.archive import XZ_PRESET_VARIABLE
from srcstacks.spec.config import StackConfig
from srcstacks.spec.platforms import fits_here
from srcstacks.spec.variants import venvstacks_spec
from srcstacks.state.fingerprints import stamp_files
from srcstacks.state.layer_fingerprints import (
    LayerRecord,
    lower_first,
    read_layer_records,
    say_plan,
    spec_tables,
    write_layer_records,
)
from srcstacks.state.lock_files import LockedWheel, check_locks
from srcstacks.state.provenance import Manifest, check_wheel_dir, records_digest
from srcstacks.state.publishers import stack_wheels
from srcstacks.state.records import BuildInfo, RuntimeRecord, read_build_info, read_json_state
from srcstacks.state.runtime_files import (
    list_sha256,
    list_tree,
    published_list_path,
    read_list,
    work_list_path,
    write_list,
)
from srcstacks.tools import fromager, venvstacks
from srcstacks.tools.venvstacks import LayerMetadata, published_layers
from srcstacks.tools.venvstacks_writes import IN_EVERY_LAYER

STAGE = "archives"


def build_archives(run: RunContext, *, force: bool = False) -> list[Path]:
    """Build the archives of the layers whose inputs changed (all with ``force``) and
    publish them with the stack's records; return every layer's archive path.

    An archive kept as published keeps its bytes, its metadata and its SBOM, untouched.
    """
    config, report, layout = run.config, run.report, run.layout
    claim_dir(config.output_dir, "output dir")
    _claim_for_this_stack(layout)
    if finish_publish(config.output_dir):
        report(f"  completed the interrupted publish of the previous set in {config.output_dir}")
    remove_partial_files(config.output_dir)
    # With a private index, committed locks need no wheel built here: fetch them.
    mirror_locked_wheels(run)
    manifest = check_wheel_dir(config.wheel_dir)
    locked = check_locks(config, manifest, locked_index_url(config))
    published = read_published_manifest(config.output_dir)
    records = {} if force else read_layer_records(config, STAGE)
    plan = _plan(config, published, records)
    say_plan(report, STAGE, plan, "building its archive", "archive kept")
    for layer in config.layers_elsewhere:
        report(f"  {STAGE}: no archive here: {layer.elsewhere_note}")
    rebuilt = [name for name, reasons in plan.items() if reasons]
    staged = replace(layout, output_dir=layout.staging)
    # venvstacks keeps an archive already in its output folder when the lock did not
    # change, even if a launch module did: every build starts from an empty staging.
    remove_tree(staged.output_dir)
    staged.output_dir.mkdir(parents=True, exist_ok=True)
    log_path = layout.log("venvstacks-build")
    runtimes = (
        runtimes_for(config, rebuilt, report) if rebuilt else _published_runtimes(config, layout)
    )
    if rebuilt:
        discard_layer_envs(config, rebuilt)
        report(
            f"building and compressing {len(rebuilt)} layer archive(s)"
            f" (xz preset {config.xz_preset})"
        )
        # venvstacks writes archives in place; it writes into a staging folder instead,
        # and the set is then published all at once, so the output dir never holds a
        # half-written archive, even if this run is killed or the disk fills up.
        venvstacks.build(
            venvstacks_spec(config),
            build_dir=layout.venvstacks_build,
            source=wheel_source(config.wheel_dir, run.index),
            output_dir=staged.output_dir,
            log_path=log_path,
            env={**runtime_env(config), XZ_PRESET_VARIABLE: str(config.xz_preset)},
            include=rebuilt,
            on_line=venvstacks.progress_filter(report),
        )
    staged_manifest = read_published_manifest(staged.output_dir)
    atomic_write_text(
        staged.stack_manifest, merged_manifest(config, published, staged_manifest, set(rebuilt))
    )
    _write_build_info(config, layout, staged, manifest, locked, runtimes, set(rebuilt))
    # Only what changed is published: files with the bytes already there stay untouched.
    _drop_unchanged(staged.output_dir, config.output_dir)
    try:
        publish_tree(staged.output_dir, config.output_dir, retire=_retired_files(layout, staged))
    except OSError as exc:
        raise PublishError(
            f"{config.output_dir}: cannot publish the archives ({exc.strerror or exc});"
            " the archives already there are intact"
        ) from None
    _record(config)
    archives = [layout.archive(layer.archive_name) for layer in published_layers(config.output_dir)]
    what = f"{len(rebuilt)} rebuilt" if rebuilt else "none rebuilt"
    report(f"published {len(archives)} archive(s) ({what}) to {config.output_dir}; log: {log_path}")
    _remove_stale_sboms(archives, report)
    return archives


def _plan(
    config: StackConfig, published: dict[str, Any] | None, records: dict[str, LayerRecord]
) -> dict[str, list[str]]:
    """Why each layer's archive must be built again (lower layers first; empty: kept)."""
    tables = spec_tables(config)
    entries = published_entries(published)
    plan: dict[str, list[str]] = {}
    for layer in lower_first(config):
        if not layer.built_here:
            continue
        entry = entries.get(layer.env_name)
        plan[layer.env_name] = archive_reasons(
            archive_components(config, layer, tables),
            archive_outputs(config, layer, entry),
            records.get(layer.env_name),
            entry,
        )
    return plan


def _record(config: StackConfig) -> None:
    """Record every layer's archive inputs and published files as they are now."""
    tables = spec_tables(config)
    entries = published_entries(read_published_manifest(config.output_dir))
    old = read_layer_records(config, STAGE)
    records: dict[str, LayerRecord] = {}
    for layer in config.built_layers:
        outputs = archive_outputs(config, layer, entries.get(layer.env_name))
        known = old[layer.env_name].outputs if layer.env_name in old else {}
        records[layer.env_name] = LayerRecord(
            archive_components(config, layer, tables), stamp_files(outputs, known)
        )
    write_layer_records(config, STAGE, records)


def _published_runtimes(config: StackConfig, layout: Layout) -> list[RuntimeRecord]:
    """The runtime records of the published set (no layer rebuilt: the runtime is as it
    was); prepared again when there is no readable build record."""
    try:
        return list(read_build_info(layout.build_info).runtimes)
    except SrcstacksError:
        return prepare_runtimes(config)


def _fromager_versions(layout: Layout) -> str:
    """The Fromager that built the stack's wheels, from ``wheels.json`` (its toolchains:
    ``0.101.0``, or ``0.77.0, 0.101.0`` for a stack of two Pythons); the installed one
    for a record from before toolchains."""
    record = read_json_state(layout.wheels_record, "wheels record", "srcstacks wheels")
    toolchains = record.get("toolchains") if isinstance(record, dict) else None
    if not isinstance(toolchains, list) or not toolchains:
        return fromager.version()
    versions = dict.fromkeys(str(item.get("fromager")) for item in toolchains)
    return ", ".join(versions)


def _write_build_info(
    config: StackConfig,
    layout: Layout,
    staged: Layout,
    manifest: Manifest,
    locked: list[LockedWheel],
    runtimes: list[RuntimeRecord],
    rebuilt: set[str],
) -> None:
    """``__srcstacks__/build.json`` (and the file lists of rebuilt runtime layers)."""
    tools = {
        "srcstacks": srcstacks.__version__,
        "fromager": _fromager_versions(layout),
        "venvstacks": venvstacks.version(),
        "uv": venvstacks.uv_version(),
    }
    built = {layer.env_name: layer for layer in config.built_layers}
    layer_wheels: dict[str, set[str]] = {name: set() for name in built}
    for entry in locked:
        # A layer built elsewhere has no archive here; a wheel for another platform is
        # in the lock but not in this platform's archive.
        if entry.layer in built and fits_here(config, built[entry.layer], entry.filename):
            layer_wheels[entry.layer].add(entry.filename)
    build_info = BuildInfo(
        config.variant,
        tuple(with_bundled_code(config, runtimes)),  # a downloaded runtime's, read now
        tools,
        provenance_sha256=records_digest(manifest, stack_wheels(layout) or None),
        runtime_files=_publish_runtime_files(config, layout, staged, rebuilt),
        layer_provenance_sha256={
            name: records_digest(manifest, names) for name, names in layer_wheels.items()
        },
    )
    write_json(staged.build_info, build_info.to_json())


def _drop_unchanged(staging: Path, output_dir: Path) -> None:
    """Remove from staging each file the output dir already holds with the same bytes."""
    for path in sorted(staging.rglob("*")):
        target = inside(output_dir, path.relative_to(staging), "staged file")
        if not path.is_file() or not target.is_file():
            continue
        if path.stat().st_size == target.stat().st_size and sha256_file(path) == sha256_file(
            target
        ):
            remove_file(path)


def _claim_for_this_stack(layout: Layout) -> None:
    """Refuse an output dir holding another stack's archives (two specs in one folder
    share the default one); record this stack as its owner otherwise."""
    mine = layout.spec_seen_from(layout.output_dir)
    owner = layout.output_owner
    if owner.is_file():
        recorded = owner.read_text(encoding="utf-8", errors="replace").strip()
        if recorded != mine:
            raise PublishError(
                f"{layout.output_dir}: holds the archives of another stack ({recorded}, seen"
                f" from there; this is {mine}); give this stack its own --output-dir or"
                f" work_dir (if that stack is gone, remove {owner})"
            )
        return
    atomic_write_text(owner, mine + "\n")


def _retired_files(published: Layout, staged: Layout) -> list[Path]:
    """Published files the staged set makes stale: the SBOMs of archives it replaces
    with other bytes, everything of layers the spec no longer has (or no longer builds
    here), and the archive and SBOM of a versioned layer's earlier version
    (``framework-x@1.tar.xz`` once ``framework-x@2.tar.xz`` is staged).

    They go in the same step as the new set, so no SBOM ever stands beside an archive it
    does not describe and no dropped layer lingers, even when a publish is cut off.
    """
    staged_archives = {
        layer.layer_name: layer.archive_name for layer in _staged_layers(published, staged)
    }
    retired = _replaced_sboms(published, staged)
    if published.stack_manifest.is_file():
        for layer in published_layers(published.output_dir):
            archive = published.archive(layer.archive_name)
            if layer.layer_name in staged_archives:
                if staged_archives[layer.layer_name] != layer.archive_name:
                    retired.extend(p for p in (archive, sbom_path(archive)) if p.is_file())
                continue
            metadata = inside(
                published.stack_manifest.parent / "env_metadata",
                f"{layer.layer_name}.json",
                "layer",
            )
            runtime_files = published_list_path(published.output_dir, layer.layer_name)
            candidates = [archive, sbom_path(archive), metadata, runtime_files]
            retired.extend(path for path in candidates if path.is_file())
    return retired


def _staged_layers(published: Layout, staged: Layout) -> list[LayerMetadata]:
    """The layers of the set being published (its manifest was left out of staging
    when it has the bytes already published)."""
    manifest = staged if staged.stack_manifest.is_file() else published
    return published_layers(manifest.output_dir)


def _replaced_sboms(published: Layout, staged: Layout) -> list[Path]:
    """SBOMs of published archives the staged set replaces with other bytes."""
    replaced = []
    for layer in _staged_layers(published, staged):
        new, old = staged.archive(layer.archive_name), published.archive(layer.archive_name)
        sbom = sbom_path(old)
        # An archive not in staging is kept as published (see _drop_unchanged).
        if sbom.exists() and new.exists():
            replaced.append(sbom)
    return replaced


def _publish_runtime_files(
    config: StackConfig, layout: Layout, staged: Layout, rebuilt: set[str]
) -> dict[str, str]:
    """Put each rebuilt runtime layer's file list beside the archives; return the
    sha256 of every runtime layer's list (a kept layer's as published).

    A seeded runtime (pack, local) was listed when it was seeded; a downloaded one is
    listed from the runtime layer venvstacks unpacked, without venvstacks' own files.
    """
    digests = {}
    for layer in config.layers_of("runtime"):
        if layer.env_name not in rebuilt:
            kept = read_list(published_list_path(config.output_dir, layer.env_name)) or {}
            digests[layer.env_name] = list_sha256(kept)
            continue
        if config.runtime_of(layer).kind in ("pack", "local"):
            entries = read_list(work_list_path(layout, layer.env_name)) or {}
        else:
            entries = list_tree(layout.layer_env(layer.env_name), IN_EVERY_LAYER)
        write_list(published_list_path(staged.output_dir, layer.env_name), entries)
        digests[layer.env_name] = list_sha256(entries)
    return digests


def _remove_stale_sboms(archives: list[Path], report: Report) -> None:
    """Remove an SBOM left beside an archive it no longer describes.

    An auditor must never find a document that names another archive's contents next to
    a new archive; the sbom stage (which ``srcstacks build`` runs next) writes a new one.
    """
    for archive in archives:
        sbom = sbom_path(archive)
        if not sbom.exists():
            continue
        try:
            component = json.loads(sbom.read_text(encoding="utf-8"))["metadata"]["component"]
            hashes = {item["alg"]: item["content"] for item in component["hashes"]}
        except (ValueError, KeyError, TypeError):
            hashes = {}
        if hashes.get("SHA-256") != sha256_file(archive):
            remove_file(sbom)
            report(f"  removed {sbom.name}: it described an earlier {archive.name}")
