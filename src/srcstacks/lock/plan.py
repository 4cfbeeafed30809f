"""Which layers the lock stage must lock again, and why.

Reads the spec, the provenance manifest, each layer's lock folder and the lock stage's
per-layer records (:mod:`srcstacks.state.layer_fingerprints`); writes nothing. A layer's
lock inputs are: the stack's settings and tool versions, the runtime's source, its
own spec entry, the published wheels of each (project, version) its lock installs
(``wheel:<project>``: file name and sha256), and the packages each layer below it
pins (``lower:<layer>``: name, version and marker, what venvstacks constrains it
with). A wheel rebuilt with another patch changes the ``wheel:`` part of the layers
that install it, and of no other: a layer that takes that package from a lower layer
pins only its name and version.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from srcstacks.errors import StageOrderError, StateError
from srcstacks.layout.ownership import inside
from srcstacks.spec.config import Layer, StackConfig
from srcstacks.spec.variants import venvstacks_spec_dir
from srcstacks.stage_inputs import common_inputs, runtime_inputs
from srcstacks.state.fingerprints import files_under
from srcstacks.state.layer_fingerprints import (
    LayerRecord,
    SpecTables,
    digest,
    layers_below,
    spec_tables,
    stale_reasons,
)
from srcstacks.state.lock_files import (
    lock_file_path,
    lock_packages,
    read_layer_lock,
    wheel_problems,
)
from srcstacks.state.provenance import Manifest


@dataclass(frozen=True)
class LayerLockState:
    """One layer's lock now: its inputs, its files, and what is wrong with it."""

    layer: Layer
    components: dict[str, str]
    outputs: dict[str, Path]
    problems: list[str]  # empty when every locked wheel is published as locked


def lock_folder(config: StackConfig, layer: Layer) -> Path:
    """``requirements/<layer>/`` beside the spec venvstacks sees."""
    return inside(venvstacks_spec_dir(config) / "requirements", layer.env_name, "layer")


def _lock_path(config: StackConfig, layer: Layer) -> Path | None:
    try:
        return lock_file_path(config, layer.env_name)
    except StageOrderError:
        return None


def _pins(path: Path | None) -> str:
    """What a layer's lock pins for the layers above it: names, versions, markers."""
    if path is None:
        return digest(None)
    try:
        packages = lock_packages(path)
    except StateError:
        return digest("unreadable")
    pins = sorted(
        (str(p.get("name", "")), str(p.get("version", "")), str(p.get("marker", "")))
        for p in packages
    )
    return digest(pins)


def layer_lock_state(
    config: StackConfig,
    layer: Layer,
    manifest: Manifest,
    index_url: str | None,
    tables: SpecTables | None = None,
) -> LayerLockState:
    """A layer's lock inputs and problems as they are now (reads its current lock)."""
    tables = tables or spec_tables(config)
    components = {
        "settings": digest([common_inputs(config), tables.settings(with_sbom=False)]),
        "runtime": digest(runtime_inputs(config)),
        "layer": digest(tables.layers.get(layer.env_name)),
    }
    for lower in layers_below(config, layer):
        components[f"lower:{lower.env_name}"] = _pins(_lock_path(config, lower))
    path = _lock_path(config, layer)
    problems: list[str] = []
    if path is None:
        problems.append("it is not locked yet")
    else:
        try:
            entries, problems = read_layer_lock(path, layer, index_url)
        except StateError as exc:
            entries, problems = [], [str(exc)]
        problems.extend(wheel_problems(manifest, entries))
        for entry in entries:
            project = canonicalize_name(entry.project)
            published = manifest.records_for(project, entry.version)
            components[f"wheel:{project}"] = digest(
                sorted((record.filename, record.sha256) for record in published)
            )
    outputs = files_under(f"locks/{layer.env_name}", lock_folder(config, layer))
    return LayerLockState(layer, components, outputs, problems)


def lock_reasons(state: LayerLockState, record: LayerRecord | None) -> list[str]:
    """Why a layer must be locked again (empty: its lock is kept as it is)."""
    reasons = stale_reasons(record, state.components, state.outputs)
    # A changed wheel already says why its lock no longer fits; anything else is named.
    if state.problems and not any(reason.startswith("wheel ") for reason in reasons):
        reasons.append("its lock does not fit the published wheels: " + "; ".join(state.problems))
    return reasons


def needs_reset(state: LayerLockState, record: LayerRecord | None) -> bool:
    """Whether the layer's lock must be made from scratch (``--reset-lock``).

    venvstacks keeps a lock it finds valid for the spec; one naming a wheel that was
    rebuilt, or made on lower layers that now pin something else, is valid for it
    but not for srcstacks. A layer never locked here, or whose spec entry changed,
    is left to venvstacks' own check (committed locks stay as they are).
    """
    if state.problems:
        return True
    if record is None:
        return False
    changed = {
        key
        for key in state.components.keys() | record.components.keys()
        if state.components.get(key) != record.components.get(key)
    }
    return any(key.startswith(("wheel:", "lower:")) for key in changed) or not changed
