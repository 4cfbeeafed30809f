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
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import srcstacks
from srcstacks.accounting import VENVSTACKS_FILES
from srcstacks.config import StackConfig
from srcstacks.errors import PublishError
from srcstacks.fsutil import (
    atomic_write_text,
    finish_publish,
    publish_tree,
    sha256_file,
    write_json,
)
from srcstacks.index_target import wheel_source
from srcstacks.layout import (
    Layout,
    claim_dir,
    inside,
    remove_file,
    remove_partial_files,
    remove_tree,
    sbom_path,
    stack_manifest_path,
)
from srcstacks.provenance import check_wheel_dir, records_digest
from srcstacks.publishers import stack_wheels
from srcstacks.records import BuildInfo
from srcstacks.runtime_files import (
    list_sha256,
    list_tree,
    published_list_path,
    read_list,
    work_list_path,
    write_list,
)
from srcstacks.stages.index_mirror import mirror_locked_wheels
from srcstacks.stages.lock import check_locks
from srcstacks.stages.runtime import discard_layer_envs, prepare_runtimes, runtime_env
from srcstacks.stages.variant_spec import venvstacks_spec
from srcstacks.tools import fromager, venvstacks
from srcstacks.tools.venvstacks import LayerMetadata, read_layer_metadata

Report = Callable[[str], None]


def published_layers(output_dir: Path) -> list[LayerMetadata]:
    """venvstacks' metadata of each published layer: runtimes, frameworks, applications."""
    return read_layer_metadata(stack_manifest_path(output_dir))


def build_archives(config: StackConfig, report: Report = print) -> list[Path]:
    """Build every layer from its lock and publish the archives; return their paths."""
    layout = Layout.of(config)
    claim_dir(config.output_dir, "output dir")
    _claim_for_this_stack(layout)
    # With a private index, committed locks need no wheel built here: fetch them.
    mirror_locked_wheels(config, report)
    manifest = check_wheel_dir(config.wheel_dir)
    check_locks(config, manifest, wheel_source(config).index_url)
    runtimes = prepare_runtimes(config, report)
    discard_layer_envs(config)
    report(f"building and compressing {len(config.layers)} layer archive(s) (xz is slow)")
    log_path = layout.log("venvstacks-build")
    # venvstacks writes archives in place; it writes into a staging folder instead, and
    # the finished set is then published all at once, so the output dir never holds a
    # half-written archive, even if this run is killed or the disk fills up.
    staged = replace(layout, output_dir=layout.staging)
    # venvstacks keeps an archive already in its output folder when the lock did not
    # change, even if a launch module did: every build starts from an empty staging.
    remove_tree(staged.output_dir)
    venvstacks.build(
        venvstacks_spec(config),
        build_dir=layout.venvstacks_build,
        source=wheel_source(config),
        output_dir=staged.output_dir,
        log_path=log_path,
        env=runtime_env(config),
        on_line=venvstacks.progress_filter(report),
    )
    tools = {
        "srcstacks": srcstacks.__version__,
        "fromager": fromager.version(),
        "venvstacks": venvstacks.version(),
        "uv": venvstacks.uv_version(),
    }
    build_info = BuildInfo(
        config.variant,
        tuple(runtimes),
        tools,
        provenance_sha256=records_digest(manifest, stack_wheels(layout) or None),
        runtime_files=_publish_runtime_files(config, staged),
    )
    write_json(staged.build_info, build_info.to_json())
    if finish_publish(config.output_dir):
        report(f"  completed the interrupted publish of the previous set in {config.output_dir}")
    remove_partial_files(config.output_dir)
    try:
        publish_tree(staged.output_dir, config.output_dir, retire=_retired_files(layout, staged))
    except OSError as exc:
        raise PublishError(
            f"{config.output_dir}: cannot publish the archives ({exc.strerror or exc});"
            " the archives already there are intact"
        ) from None
    archives = [layout.archive(layer.archive_name) for layer in published_layers(config.output_dir)]
    report(f"published {len(archives)} archive(s) to {config.output_dir}; log: {log_path}")
    _remove_stale_sboms(archives, report)
    return archives


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
    with other bytes, and everything of layers the spec no longer has.

    They go in the same step as the new set, so no SBOM ever stands beside an archive it
    does not describe and no dropped layer lingers, even when a publish is cut off.
    """
    staged_names = {layer.install_target for layer in published_layers(staged.output_dir)}
    retired = _replaced_sboms(published, staged)
    if published.stack_manifest.is_file():
        for layer in published_layers(published.output_dir):
            if layer.install_target in staged_names:
                continue
            archive = published.archive(layer.archive_name)
            metadata = inside(
                published.stack_manifest.parent / "env_metadata",
                f"{layer.install_target}.json",
                "layer",
            )
            runtime_files = published_list_path(published.output_dir, layer.install_target)
            candidates = [archive, sbom_path(archive), metadata, runtime_files]
            retired.extend(path for path in candidates if path.is_file())
    return retired


def _replaced_sboms(published: Layout, staged: Layout) -> list[Path]:
    """SBOMs of published archives the staged set replaces with other bytes."""
    replaced = []
    for layer in published_layers(staged.output_dir):
        old = published.archive(layer.archive_name)
        sbom = sbom_path(old)
        if not sbom.exists():
            continue
        if not old.exists() or sha256_file(staged.archive(layer.archive_name)) != sha256_file(old):
            replaced.append(sbom)
    return replaced


def _publish_runtime_files(config: StackConfig, staged: Layout) -> dict[str, str]:
    """Put each runtime layer's file list beside the archives; return their sha256s.

    A seeded runtime (pack, local) was listed when it was seeded; a downloaded one is
    listed from the runtime layer venvstacks unpacked, without venvstacks' own files.
    """
    layout = Layout.of(config)
    digests = {}
    for layer in config.layers_of("runtime"):
        if config.runtime.kind in ("pack", "local"):
            entries = read_list(work_list_path(layout, layer.env_name)) or {}
        else:
            entries = list_tree(layout.layer_env(layer.env_name), frozenset(VENVSTACKS_FILES))
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
