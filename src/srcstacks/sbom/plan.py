"""Which layers' SBOMs the sbom stage must write again, and why.

Reads the spec, venvstacks' published metadata of each layer, ``build.json``, the
provenance manifest, the locks, the patch files and the SBOMs already written; writes
nothing. A layer SBOM's inputs are: the stack's settings (``[tool.srcstacks.sbom]``
included) and tool versions, its spec entry (its requirements are listed), its archive
as venvstacks recorded it (sha256, lock time), what ``build.json`` says of it (variant,
tools, its provenance pin, a runtime's origin and file list), the provenance record of
each wheel its lock installs (``wheel:<project>``) and the text of each patch those
records name (``patch:<path>``), and the sha256 of the SBOM of each layer below it
(``lower:<layer>``), which its BOM-Links pin.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from srcstacks.errors import StateError
from srcstacks.fsutil import sha256_file
from srcstacks.layout import sbom_path
from srcstacks.spec.config import Layer, StackConfig
from srcstacks.stage_inputs import common_inputs
from srcstacks.state.fingerprints import path_content, tree_content
from srcstacks.state.layer_fingerprints import SpecTables, digest, layers_below
from srcstacks.state.lock_files import lock_file_path, read_layer_lock
from srcstacks.state.provenance import Manifest
from srcstacks.state.records import BuildInfo


def sbom_components(
    config: StackConfig,
    layer: Layer,
    tables: SpecTables,
    meta_raw: dict[str, Any],
    build_info: BuildInfo,
    manifest: Manifest,
    archives: dict[str, Path],
) -> dict[str, str]:
    """The named parts of a layer SBOM's inputs, as they are now.

    ``archives``: each layer's published archive, by layer name (for the lower SBOMs).
    """
    name = layer.env_name  # build.json keys layers by env name (no "@N")
    runtime = build_info.runtime_of(layer.name) if layer.kind == "runtime" else None
    record: dict[str, Any] = {
        "variant": build_info.variant,
        "tools": build_info.tools,
        "provenance": build_info.provenance_pin(name),
        "runtime": None if runtime is None else runtime.to_json(),
        "runtime_files": build_info.runtime_files.get(name),
    }
    if runtime is not None and runtime.build is not None:
        record["runtime_patches"] = tree_content(config.patches_dir)
    components = {
        "settings": digest([common_inputs(config), tables.settings(with_sbom=True)]),
        "layer": digest(tables.layers.get(layer.env_name)),
        "archive": digest(meta_raw),
        "build-record": digest(record),
    }
    try:
        entries, _ = read_layer_lock(lock_file_path(config, layer.env_name), layer)
    except StateError:
        entries = []
    for entry in entries:
        wheel = manifest.wheels.get(entry.filename)
        provenance = None if wheel is None else asdict(wheel)
        components[f"wheel:{canonicalize_name(entry.project)}"] = digest(provenance)
        for patch in wheel.patches if wheel is not None else ():
            components[f"patch:{patch.path}"] = digest(path_content(config.spec_dir / patch.path))
    for lower in layers_below(config, layer):
        archive = archives.get(lower.env_name)
        sbom = None if archive is None else sbom_path(archive)
        sha = sha256_file(sbom) if sbom is not None and sbom.is_file() else None
        components[f"lower:{lower.env_name}"] = digest(sha)
    return components
