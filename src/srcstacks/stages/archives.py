"""Stage 4, ``srcstacks archives``: build and publish the layer archives with venvstacks.

Reads the lock files (lock stage) and the wheel dir; runs ``venvstacks build --publish``
with the same index flags, into a staging folder. Publishes ``<layer>.tar.xz``,
venvstacks' metadata (``__venvstacks__/``) and ``__srcstacks__/build.json`` (the
variant, the runtime's origin and the tool versions, for the SBOM stage) into the output
dir as one all-or-nothing step.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import srcstacks
from srcstacks.config import StackConfig
from srcstacks.errors import PublishError, StageOrderError
from srcstacks.fsutil import publish_tree, remove_partial_files, sha256_file, write_json
from srcstacks.provenance import check_wheel_dir
from srcstacks.stages.lock import check_locks
from srcstacks.stages.runtime import (
    discard_layer_envs,
    prepare_runtimes,
    runtime_env,
    venvstacks_build_dir,
)
from srcstacks.stages.variant_spec import venvstacks_spec
from srcstacks.tools import fromager, venvstacks

Report = Callable[[str], None]


def build_info_path(output_dir: Path) -> Path:
    """Where the archives stage records how the archives were made."""
    return output_dir / "__srcstacks__" / "build.json"


def sbom_path(archive: Path) -> Path:
    """Where the SBOM of ``archive`` is written: ``<archive name>.cdx.json`` beside it."""
    return archive.with_name(archive.name + ".cdx.json")


def stack_manifest_path(output_dir: Path) -> Path:
    """venvstacks' manifest of the published layers."""
    return output_dir / "__venvstacks__" / "venvstacks.json"


def build_archives(config: StackConfig, report: Report = print) -> list[Path]:
    """Build every layer from its lock and publish the archives; return their paths."""
    manifest = check_wheel_dir(config.wheel_dir)
    check_locks(config, manifest)
    runtimes = prepare_runtimes(config, report)
    discard_layer_envs(config)
    report(f"building and compressing {len(config.layers)} layer archive(s) (xz is slow)")
    log_path = config.variant_dir / "logs" / "venvstacks-build.log"
    # venvstacks writes archives in place; it writes into a staging folder instead, and
    # the finished set is then published all at once, so the output dir never holds a
    # half-written archive, even if this run is killed or the disk fills up.
    staging = config.variant_dir / "staging"
    venvstacks.build(
        venvstacks_spec(config),
        build_dir=venvstacks_build_dir(config),
        wheel_dir=config.wheel_dir,
        output_dir=staging,
        log_path=log_path,
        env=runtime_env(config),
        on_line=venvstacks.progress_filter(report),
    )
    write_json(
        build_info_path(staging),
        {
            "variant": config.variant,
            "runtimes": [asdict(record) for record in runtimes],
            "tools": {
                "srcstacks": srcstacks.__version__,
                "fromager": fromager.version(),
                "venvstacks": venvstacks.version(),
                "uv": venvstacks.uv_version(),
            },
        },
    )
    remove_partial_files(config.output_dir)
    try:
        publish_tree(staging, config.output_dir)
    except OSError as exc:
        raise PublishError(
            f"{config.output_dir}: cannot publish the archives ({exc.strerror or exc});"
            " the archives already there are intact"
        ) from None
    archives = [
        config.output_dir / layer["archive_name"] for layer in published_layers(config.output_dir)
    ]
    report(f"published {len(archives)} archive(s) to {config.output_dir}; log: {log_path}")
    _remove_stale_sboms(archives, report)
    return archives


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
            sbom.unlink()
            report(f"  removed {sbom.name}: it described an earlier {archive.name}")


def published_layers(output_dir: Path) -> list[dict[str, Any]]:
    """venvstacks' metadata of each published layer: runtimes, frameworks, applications."""
    path = stack_manifest_path(output_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StageOrderError(
            f"{path}: no archives published yet (run 'srcstacks archives')"
        ) from None
    layers = data["layers"]
    return [
        *layers.get("runtimes", []),
        *layers.get("frameworks", []),
        *layers.get("applications", []),
    ]
