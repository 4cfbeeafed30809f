"""What each pipeline stage reads and writes, as :mod:`srcstacks.state.fingerprints` sees it.

Reads (never writes) the spec, the settings and patches folders, the launch modules,
the installed tool versions, the runtime's origin and the files each stage leaves:

- ``wheels``: Fromager's build order and built wheels, ``wheels.json``, the per-wheel
  ``build-inputs.json``, the checked sdists and fetched-wheel records; in selective
  mode also the plan and the upstream wheels with their record.
- ``publish-wheels``: the wheel dir's wheels, ``provenance.json``, this stack's
  publisher record.
- ``lock``: every layer's lock folder beside the spec, ``runtime.json``.
- ``archives``: every file of the output dir but the SBOMs.
- ``sbom``: the SBOMs (``*.cdx.json``) and signed attestations (``*.intoto.json``) of
  the output dir; the signing key's public id is one of its inputs.

A stage's inputs include the output contents of every stage before it, so a changed
wheel makes lock, archives and sbom run again, while a stage that ran again and left
the same bytes lets the later ones stay skipped. Paths enter a fingerprint relative to
the spec's folder, so a stack folder copied or moved whole stays up to date.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import srcstacks
from srcstacks.layout import ATTESTATION_SUFFIX, Layout
from srcstacks.layout.ownership import inside
from srcstacks.runtime.interpreters import (
    fromager_dirs_of,
    runtime_interpreter,
    wheel_pythons,
)
from srcstacks.spec.config import Layer, RuntimeSource, StackConfig
from srcstacks.state.fingerprints import files_under, path_content, tree_content
from srcstacks.tools.toolchain import TOOLCHAINS

SBOM_SUFFIX = ".cdx.json"


def _relative(config: StackConfig, path: Path | None) -> str | None:
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
            _relative(config, folder)
            for folder in (config.work_dir, config.wheel_dir, config.output_dir)
        ],
    }


def _build_inputs(config: StackConfig) -> dict[str, Any]:
    """What Fromager's result depends on beyond the common inputs."""
    requirements = [
        [layer.env_name, [str(req) for req in layer.requirements]] for layer in config.layers
    ]
    return {
        "requirements": requirements,
        # Selective mode builds other wheels, and takes the rest from upstream.
        "mode": [config.mode.name, list(config.mode.build_from_source)],
        "settings": tree_content(config.settings_dir),
        "patches": tree_content(config.patches_dir),
        # The Python the wheels are for, and the locked toolchains that build them.
        "pythons": sorted(wheel_pythons(config)),
        "toolchains": tree_content(TOOLCHAINS),
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
        "path": _relative(config, source.path),
        "interpreter": source.interpreter,
        "tarball": source.tarball_url or _relative(config, source.tarball_path),
        "sha256": source.sha256,
    }
    if source.kind == "local" and source.path is not None:
        described["content"] = path_content(source.path)
    if source.kind == "pack":
        # The packed archive is made from the interpreter's prefix; its version and
        # the binary itself say whether that interpreter changed.
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


def _spec_inputs(config: StackConfig) -> dict[str, Any]:
    """The spec's bytes and the application modules venvstacks copies into archives."""
    modules = {
        module: path_content(config.module_file(module))
        for layer in config.layers
        for module in layer.modules
    }
    return {"spec": path_content(config.spec_path), "modules": modules}


InputsOf = Callable[[StackConfig], dict[str, Any]]

_STAGE_INPUTS: dict[str, InputsOf] = {
    "wheels": _build_inputs,
    "publish-wheels": lambda config: {
        **_build_inputs(config),
        "stack": Layout.of(config).stack_id,
    },
    "lock": lambda config: {**_spec_inputs(config), "runtime": runtime_inputs(config)},
    "archives": lambda config: {**_spec_inputs(config), "runtime": runtime_inputs(config)},
    "sbom": lambda config: {
        **_spec_inputs(config),
        "patches": tree_content(config.patches_dir),
        "settings": tree_content(config.settings_dir),
        "runtime": runtime_inputs(config),
        "signing_key": _signing_key_id(),
    },
}


def _signing_key_id() -> str | None:
    """The public id of the key the attestations are signed with (never the key)."""
    from srcstacks.attest.keys import key_id, signing_key

    key = signing_key(os.environ)
    return None if key is None else key_id(key.public_key())


def stage_inputs(
    stage: str, config: StackConfig, earlier_outputs: dict[str, str]
) -> dict[str, Any]:
    """Everything ``stage`` reads, with ``earlier_outputs``: the earlier stages' output
    digests by stage name (see :func:`srcstacks.state.fingerprints.content_digest`)."""
    return {
        "stage": stage,
        **common_inputs(config),
        **_STAGE_INPUTS[stage](config),
        "earlier_outputs": earlier_outputs,
    }


def stage_outputs(stage: str, config: StackConfig) -> dict[str, Path]:
    """The files ``stage`` leaves for the stages after it, keyed as recorded."""
    layout = Layout.of(config)
    if stage == "wheels":
        found = files_under("fromager-sdists", layout.fromager.downloaded_sdists)
        for dirs in fromager_dirs_of(config):
            label = f"fromager-wheels-{dirs.python}" if dirs.python else "fromager-wheels"
            found.update(files_under(label, dirs.built_wheels))
        found.update(files_under("upstream-wheels", layout.upstream_wheels))
        for label, path in (
            ("work/build-order.json", dirs.build_order),
            ("work/wheels.json", layout.wheels_record),
            ("work/build-inputs.json", layout.build_inputs),
            ("work/sdists-checked.json", layout.sdists_checked),
            ("work/fetched-provenance.json", layout.fetched_provenance),
            ("work/selective.json", layout.selective_plan),
            ("work/upstream.json", layout.upstream_record),
        ):
            found[label] = path
        return found
    if stage == "publish-wheels":
        found = {
            key: path
            for key, path in files_under("wheels", config.wheel_dir).items()
            if path.suffix == ".whl" or path in (layout.provenance, layout.publisher_record)
        }
        if config.index is not None and config.index.managed:
            # The index's identity: one started afresh (``index reset``) holds nothing yet.
            found["index/devpi/.nodeinfo"] = layout.index_node_info
        return found
    if stage == "lock":
        from srcstacks.spec.variants import venvstacks_spec_dir

        requirements = venvstacks_spec_dir(config) / "requirements"
        found = {"work/runtime.json": layout.runtime_record}
        for layer in config.layers:
            folder = inside(requirements, layer.env_name, "layer")
            found.update(files_under(f"locks/{layer.env_name}", folder))
        return found
    if stage == "archives":
        return files_under("output", config.output_dir, skip=(SBOM_SUFFIX, ATTESTATION_SUFFIX))
    if stage == "sbom":
        return {
            key: path
            for key, path in files_under("output", config.output_dir).items()
            if key.endswith((SBOM_SUFFIX, ATTESTATION_SUFFIX))
        }
    raise KeyError(stage)
