"""Which layer archives the archives stage must build again, and why; merging the result.

Reads the spec, each layer's lock folder, the launch modules and the published output
dir (venvstacks' stack manifest and per-layer metadata); writes nothing but the merged
stack manifest it is asked to. A layer's archive inputs are: the stack's settings and
tool versions, the runtime's source, its own spec entry, its lock files, the sha256 of
each wheel its lock installs (``wheel:<project>``), its launch and support modules, and
for each layer below it what venvstacks builds the layer on (that layer's spec entry,
and its lock version when the layer is ``versioned``). A layer's outputs are its
archive, its venvstacks metadata and, for a runtime layer, its file list.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from srcstacks.errors import StateError
from srcstacks.layout import stack_manifest_path
from srcstacks.layout.ownership import inside
from srcstacks.lock.plan import lock_folder
from srcstacks.spec.config import Layer, StackConfig
from srcstacks.stage_inputs import common_inputs, runtime_inputs
from srcstacks.state.fingerprints import files_under
from srcstacks.state.layer_fingerprints import (
    LayerRecord,
    SpecTables,
    digest,
    layers_below,
    module_components,
    stale_reasons,
)
from srcstacks.state.lock_files import lock_file_path, read_layer_lock
from srcstacks.state.runtime_files import published_list_path

_CATEGORIES = {"runtime": "runtimes", "framework": "frameworks", "application": "applications"}


def read_published_manifest(output_dir: Path) -> dict[str, Any] | None:
    """venvstacks' stack manifest as published, or None (none yet, or unreadable)."""
    try:
        data = json.loads(stack_manifest_path(output_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("layers"), dict) else None


def published_entries(manifest: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Each published layer's manifest entry, by venvstacks layer name."""
    found: dict[str, dict[str, Any]] = {}
    if manifest is None:
        return found
    for entries in manifest["layers"].values():
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and "layer_name" in entry:
                found[str(entry["layer_name"])] = entry
    return found


def archive_components(config: StackConfig, layer: Layer, tables: SpecTables) -> dict[str, str]:
    """The named parts of a layer archive's inputs, as they are now."""
    folder = lock_folder(config, layer)
    lock_files = files_under("", folder)
    components = {
        "settings": digest([common_inputs(config), tables.settings(with_sbom=False)]),
        "runtime": digest(runtime_inputs(config)),
        "layer": digest(tables.layers.get(layer.env_name)),
        "lock": digest({key: path.read_bytes().hex() for key, path in lock_files.items()}),
        **module_components(config, layer),
    }
    try:
        entries, _ = read_layer_lock(lock_file_path(config, layer.env_name), layer)
    except StateError:  # the lock stage's check names it
        entries = []
    for entry in entries:
        components[f"wheel:{canonicalize_name(entry.project)}"] = entry.sha256
    for lower in layers_below(config, layer):
        table = tables.layers.get(lower.env_name) or {}
        version = _lock_version(config, lower) if table.get("versioned") else None
        components[f"lower:{lower.env_name}"] = digest([table, version])
    return components


def _lock_version(config: StackConfig, layer: Layer) -> Any:
    """venvstacks' lock version of a layer (it names a versioned layer's folder)."""
    for path in lock_folder(config, layer).glob("pylock.*.meta.json"):
        try:
            return json.loads(path.read_text(encoding="utf-8")).get("lock_version")
        except (OSError, ValueError, AttributeError):
            return None
    return None


def archive_outputs(
    config: StackConfig, layer: Layer, entry: dict[str, Any] | None
) -> dict[str, Path]:
    """The published files of one layer: archive, venvstacks metadata, runtime file list."""
    if entry is None:
        return {}
    output = config.output_dir
    metadata = inside(output / "__venvstacks__" / "env_metadata", f"{layer.env_name}.json", "layer")
    found = {
        "archive": inside(output, str(entry.get("archive_name", "")), "archive name"),
        "metadata": metadata,
    }
    if layer.kind == "runtime":
        found["runtime-files"] = published_list_path(output, layer.env_name)
    return found


def archive_reasons(
    components: dict[str, str],
    outputs: dict[str, Path],
    record: LayerRecord | None,
    entry: dict[str, Any] | None,
) -> list[str]:
    """Why a layer's archive must be built again (empty: it is kept as published)."""
    if entry is None:
        return ["no archive published yet"]
    return stale_reasons(record, components, outputs)


def merged_manifest(
    config: StackConfig,
    published: dict[str, Any] | None,
    staged: dict[str, Any] | None,
    rebuilt: set[str],
) -> str:
    """venvstacks' stack manifest for every layer: the staged entries of the layers
    rebuilt now, the published ones of the others, in venvstacks' order and format."""
    old, new = published_entries(published), published_entries(staged)
    layers: dict[str, list[dict[str, Any]]] = {name: [] for name in _CATEGORIES.values()}
    for layer in config.built_layers:
        entry = (new if layer.env_name in rebuilt else old).get(layer.env_name)
        if entry is None:
            raise StateError(
                f"{config.output_dir}: venvstacks published no archive for layer"
                f" {layer.env_name}; rerun 'srcstacks archives --force'"
            )
        layers[_CATEGORIES[layer.kind]].append(entry)
    # As venvstacks writes it (json.dumps, indent 2, sorted keys, a final newline).
    return json.dumps({"layers": layers}, indent=2, sort_keys=True) + "\n"
