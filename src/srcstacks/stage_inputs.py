"""The inputs several stages' fingerprints share: what every stage depends on, where the
runtimes come from, the spec and the modules it names.

Reads (never writes) the spec, the launch modules, the installed tool versions and the
runtime's origin. Each stage's own inputs and outputs are in :mod:`srcstacks.stages`;
the per-layer plans of lock, archives and sbom use these too. Paths enter a fingerprint
relative to the spec's folder, so a stack folder copied or moved whole stays up to date.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

import srcstacks
from srcstacks.spec.config import Layer, RuntimeSource, StackConfig
from srcstacks.state.fingerprints import path_content, tree_content


def relative_to_spec(config: StackConfig, path: Path | None) -> str | None:
    return None if path is None else os.path.relpath(path, config.spec_dir)


def _versions() -> dict[str, str]:
    from importlib import metadata

    names = ("fromager", "venvstacks", "uv", "pbs-installer")
    found = {"srcstacks": srcstacks.__version__}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = ""
    return found


def common_inputs(config: StackConfig) -> dict[str, Any]:
    """What every stage depends on: the variant, the tools, this interpreter, the index."""
    index = config.index
    return {
        "variant": config.variant,
        "tools": _versions(),
        "python": sys.version,
        "machine": platform.machine(),
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH"),
        # Not a managed index's port: where it listens changes no output (the locks
        # name no host or port).
        "index": None if index is None else [index.url, index.managed],
        "dirs": [
            relative_to_spec(config, folder)
            for folder in (config.work_dir, config.wheel_dir, config.output_dir)
        ],
    }


def runtime_inputs(config: StackConfig) -> dict[str, Any]:
    """Where each runtime layer's interpreter comes from, and what that is now."""
    return {
        "implementations": [layer.python_implementation for layer in config.layers_of("runtime")],
        "sources": [
            _runtime_source_inputs(config, layer, source)
            for layer, source in config.runtime_sources
        ],
    }


def _runtime_source_inputs(
    config: StackConfig, layer: Layer, source: RuntimeSource
) -> dict[str, Any]:
    described: dict[str, Any] = {
        "layer": layer.name,
        "kind": source.kind,
        "mirror_url": source.mirror_url,
        "path": relative_to_spec(config, source.path),
        "interpreter": source.interpreter,
        "tarball": source.tarball_url or relative_to_spec(config, source.tarball_path),
        "sha256": source.sha256,
    }
    if source.kind == "local" and source.path is not None:
        described["content"] = path_content(source.path)
    if source.kind == "pack":
        # The packed archive is made from the interpreter's prefix; its version and
        # the binary itself say whether that interpreter changed.
        from srcstacks.runtime.interpreters import runtime_interpreter  # finds interpreters

        binary = runtime_interpreter(config, layer, exact=True).path.resolve()
        stat = binary.stat() if binary.exists() else None
        described["binary"] = [
            str(binary), stat.st_size if stat else 0, stat.st_mtime_ns if stat else 0
        ]  # fmt: skip
    if source.kind == "build":
        # CPython's own patches and build settings live in the stack's folders.
        described["patches"] = tree_content(config.patches_dir)
        described["settings"] = tree_content(config.settings_dir)
    return described


def spec_inputs(config: StackConfig) -> dict[str, Any]:
    """The spec's bytes and the application modules venvstacks copies into archives."""
    modules = {
        module: path_content(config.module_file(module))
        for layer in config.layers
        for module in layer.modules
    }
    return {"spec": path_content(config.spec_path), "modules": modules}
