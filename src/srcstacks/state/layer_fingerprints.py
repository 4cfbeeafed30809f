"""Per-layer fingerprints: which layers the lock, archives and sbom stages must redo.

Reads the spec (its layer tables and its other settings), the locks, the provenance
manifest and the files each layer's stage left; reads and writes
``<work_dir>/<variant>/layer-fingerprints.json``: for each of those stages and each
layer, the named parts of its inputs (``components``: a sha256 each, e.g.
``wheel:markupsafe`` or ``lower:framework-web``) and a stamp of each file it left.

A layer is up to date when its components are the recorded ones and its files are
exactly the recorded ones (see :func:`srcstacks.state.fingerprints.stamp_files`). Otherwise
the components that differ say why, in words (:func:`stale_reasons`): "wheel
markupsafe changed", "lower layer framework-web changed". A record file that cannot
be read counts as no record: every layer is redone.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srcstacks.fsutil import write_json
from srcstacks.layout import Layout
from srcstacks.spec.config import Layer, StackConfig
from srcstacks.state.fingerprints import Stamp, fingerprint_of, path_content, stamp_files

_SECTIONS = ("runtimes", "frameworks", "applications")


@dataclass(frozen=True)
class LayerRecord:
    """What one layer's last successful run of a stage saw (components) and left."""

    components: dict[str, str]
    outputs: dict[str, Stamp]

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "components": dict(sorted(self.components.items())),
            "outputs": {key: list(stamp) for key, stamp in sorted(self.outputs.items())},
        }

    @classmethod
    def from_json(cls, data: Any) -> LayerRecord:
        """Parse :meth:`to_json`; raises KeyError, TypeError or ValueError when malformed."""
        components = {str(key): str(value) for key, value in data["components"].items()}
        outputs: dict[str, Stamp] = {}
        for key, (sha, size, mtime) in data["outputs"].items():
            outputs[str(key)] = (str(sha), int(size), int(mtime))
        return cls(components, outputs)


def records_path(config: StackConfig) -> Path:
    """``<work_dir>/<variant>/layer-fingerprints.json``."""
    return Layout.of(config).layer_fingerprints


def read_layer_records(config: StackConfig, stage: str) -> dict[str, LayerRecord]:
    """One stage's records by layer; an unreadable or malformed file gives none."""
    try:
        data = json.loads(records_path(config).read_text(encoding="utf-8"))
        return {str(name): LayerRecord.from_json(item) for name, item in data[stage].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def write_layer_records(
    config: StackConfig, stage: str, records: Mapping[str, LayerRecord]
) -> None:
    """Replace one stage's records (the other stages' are kept)."""
    path = records_path(config)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data[stage] = {name: record.to_json() for name, record in sorted(records.items())}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, data)


def digest(value: Any) -> str:
    """sha256 of any JSON-able value (see :func:`fingerprint_of`)."""
    return fingerprint_of({"value": value})


@dataclass(frozen=True)
class SpecTables:
    """The spec as tables: each layer's own, and everything else (per stage)."""

    layers: dict[str, dict[str, Any]]  # env name -> its [[runtimes]]/... table
    shared: dict[str, Any]  # the spec without its layer tables

    def settings(self, *, with_sbom: bool) -> dict[str, Any]:
        """The shared tables; ``[tool.srcstacks.sbom]`` only where SBOMs are made."""
        if with_sbom:
            return self.shared
        tool = dict(self.shared.get("tool", {}))
        srcstacks = {k: v for k, v in dict(tool.get("srcstacks", {})).items() if k != "sbom"}
        return {**self.shared, "tool": {**tool, "srcstacks": srcstacks}}


def spec_tables(config: StackConfig) -> SpecTables:
    """Split the spec into each layer's table and the rest (venvstacks.uv.toml included)."""
    data = tomllib.loads(config.spec_path.read_text(encoding="utf-8"))
    by_name: dict[tuple[str, str], dict[str, Any]] = {}
    for section, kind in zip(_SECTIONS, ("runtime", "framework", "application"), strict=True):
        for table in data.pop(section, []) or []:
            if isinstance(table, dict):
                by_name[(kind, str(table.get("name", "")))] = table
    layers = {layer.env_name: by_name.get((layer.kind, layer.name), {}) for layer in config.layers}
    data["venvstacks.uv.toml"] = path_content(config.spec_dir / "venvstacks.uv.toml")
    return SpecTables(layers, data)


def layers_below(config: StackConfig, layer: Layer) -> list[Layer]:
    """Every layer ``layer`` is built on, directly or not (its frameworks, their runtime)."""
    by_env = {item.env_name: item for item in config.layers}
    found: list[Layer] = []
    pending = list(layer.depends_on)
    while pending:
        lower = by_env.get(pending.pop(0))
        if lower is not None and lower not in found:
            found.append(lower)
            pending.extend(lower.depends_on)
    return found


def lower_first(config: StackConfig, names: Iterable[str] | None = None) -> list[Layer]:
    """The layers (all, or those named), each after every layer it is built on."""
    wanted = None if names is None else set(names)
    ordered: list[Layer] = []
    done: set[str] = set()
    layers = list(config.layers)
    while len(done) < len(layers):
        ready = [
            layer
            for layer in layers
            if layer.env_name not in done
            and all(lower.env_name in done for lower in layers_below(config, layer))
        ]
        if not ready:  # a cycle: the spec check refuses these; keep going in spec order
            ready = [layer for layer in layers if layer.env_name not in done]
        for layer in ready:
            done.add(layer.env_name)
            if wanted is None or layer.env_name in wanted:
                ordered.append(layer)
    return ordered


def module_components(config: StackConfig, layer: Layer) -> dict[str, str]:
    """``module:<path>``: the content of each launch or support module of an application."""
    return {
        f"module:{module}": digest(path_content(config.module_file(module)))
        for module in layer.modules
    }


_MESSAGES = {
    "settings": "the stack's settings or tool versions changed",
    "runtime": "the runtime's source changed",
    "layer": "its entry in the spec changed",
    "lock": "its lock changed",
    "archive": "its archive changed",
    "build-record": "the build record (build.json) changed",
}
_PREFIXED = {
    "wheel": "wheel {}",
    "module": "launch module {}",
    "lower": "lower layer {}",
    "patch": "patch {}",
}


def _describe(key: str, change: str) -> str:
    prefix, _, rest = key.partition(":")
    if rest and prefix in _PREFIXED:
        return f"{_PREFIXED[prefix].format(rest)} {change}"
    return _MESSAGES.get(key, f"{key} changed")


def stale_reasons(
    record: LayerRecord | None,
    components: Mapping[str, str],
    outputs: Mapping[str, Path],
) -> list[str]:
    """Why a layer must be redone (empty: it is up to date).

    ``outputs`` are the files the layer's last run should have left; one that is
    missing, or whose content differs from its stamp, is a reason too.
    """
    if record is None:
        return ["no earlier run recorded"]
    reasons: list[str] = []
    for key in sorted(components.keys() | record.components.keys()):
        old, new = record.components.get(key), components.get(key)
        if old == new:
            continue
        if old is not None and new is not None:
            reasons.append(_describe(key, "changed"))
        elif key.partition(":")[1]:
            reasons.append(_describe(key, "added" if old is None else "removed"))
        else:
            reasons.append(_describe(key, "changed"))
    current = stamp_files(outputs, record.outputs)
    if {k: v[0] for k, v in current.items()} != {k: v[0] for k, v in record.outputs.items()}:
        reasons.append("its files changed or were removed since the last run")
    elif not current:
        reasons.append("it left no files")
    return reasons


def say_plan(
    report: Callable[[str], None],
    stage: str,
    plan: Mapping[str, list[str]],
    redo: str,
    kept: str,
) -> None:
    """One line per layer: why it is redone (at most three reasons), or that it is not.

    ``  archives: layer framework-web: wheel markupsafe changed; rebuilding it``
    """
    for name, reasons in plan.items():
        if not reasons:
            report(f"  {stage}: layer {name}: up to date, {kept}")
            continue
        more = f" (and {len(reasons) - 3} more)" if len(reasons) > 3 else ""
        report(f"  {stage}: layer {name}: {', '.join(reasons[:3])}{more}; {redo}")
