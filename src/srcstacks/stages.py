"""The pipeline's five stages, one :class:`Stage` object each: its name, the command that
runs it, what it runs, what it reads and what it leaves.

:mod:`srcstacks.pipeline` runs them in order and skips one whose inputs and outputs are
as its last run left them (:mod:`srcstacks.state.fingerprints`); the command line makes
one command of each. Reads nothing itself: each stage's ``inputs`` and ``outputs`` read
the files named below when called. Importing this module imports no stage (each is
imported when it runs), so ``srcstacks --help`` stays fast.

What each stage leaves for the ones after it:

- ``wheels``: Fromager's build order and built wheels, ``wheels.json``, the per-wheel
  ``build-inputs.json``, the checked sdists and fetched-wheel records; in selective
  mode also the plan and the upstream wheels with their record.
- ``publish-wheels``: the wheel dir's wheels, ``provenance.json``, this stack's
  publisher record (with a managed index, the index's identity).
- ``lock``: every layer's lock folder beside the spec, ``runtime.json``.
- ``archives``: every file of the output dir but the SBOMs and attestations.
- ``sbom``: the SBOMs (``*.cdx.json``) and signed attestations (``*.intoto.json``) of
  the output dir; the signing key's public id is one of its inputs.

A stage's inputs include the output contents of every stage before it (the pipeline
adds them), so a changed wheel makes lock, archives and sbom run again, while a stage
that ran again and left the same bytes lets the later ones stay skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srcstacks.layout import ATTESTATION_SUFFIX, SBOM_SUFFIX, Layout
from srcstacks.layout.ownership import inside
from srcstacks.spec.config import StackConfig
from srcstacks.stage_inputs import runtime_inputs, spec_inputs
from srcstacks.state.fingerprints import files_under, tree_content

if TYPE_CHECKING:
    from srcstacks.run_context import RunContext

Run = Callable[["RunContext", bool], Any]  # (the run, force)


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline."""

    name: str  # as the records and the command line name it
    command: tuple[str, ...]  # the CLI command that runs it alone
    summary: str  # that command's help
    run: Run
    inputs: Callable[[StackConfig], dict[str, Any]]  # beyond the common inputs
    outputs: Callable[[StackConfig], dict[str, Path]]  # keyed as recorded
    layered: bool = False  # redoes only the layers whose inputs changed (force: all)
    builds_wheels: bool = False  # takes --jobs and --executor


# --- wheels ---------------------------------------------------------------------------


def _run_wheels(run: RunContext, force: bool) -> Any:
    from srcstacks.build.stage import build_wheels

    return build_wheels(run)


def _wheels_inputs(config: StackConfig) -> dict[str, Any]:
    """What Fromager's result depends on beyond the common inputs."""
    from srcstacks.runtime.interpreters import wheel_pythons
    from srcstacks.tools.toolchain import TOOLCHAINS

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
        # The spec's exclude-newer: which sources Fromager may take (absent when unset,
        # so work dirs of stacks without one keep their fingerprints).
        **({"upload_cutoff": config.upload_cutoff.to_json()} if config.upload_cutoff else {}),
    }


def _wheels_outputs(config: StackConfig) -> dict[str, Path]:
    from srcstacks.runtime.interpreters import fromager_dirs_of

    layout = Layout.of(config)
    found = files_under("fromager-sdists", layout.fromager.downloaded_sdists)
    groups = fromager_dirs_of(config)
    for dirs in groups:
        label = f"fromager-wheels-{dirs.python}" if dirs.python else "fromager-wheels"
        found.update(files_under(label, dirs.built_wheels))
    found.update(files_under("upstream-wheels", layout.upstream_wheels))
    for label, path in (
        ("work/build-order.json", groups[-1].build_order),
        ("work/wheels.json", layout.wheels_record),
        ("work/build-inputs.json", layout.build_inputs),
        ("work/sdists-checked.json", layout.sdists_checked),
        ("work/fetched-provenance.json", layout.fetched_provenance),
        ("work/selective.json", layout.selective_plan),
        ("work/upstream.json", layout.upstream_record),
        ("work/parity.json", layout.parity_record),
    ):
        found[label] = path
    return found


WHEELS = Stage(
    "wheels",
    ("wheels",),
    "Build every layer's dependencies from source with Fromager;"
    " check each sdist against its index's sha256.",
    _run_wheels,
    _wheels_inputs,
    _wheels_outputs,
    builds_wheels=True,
)


# --- publish-wheels -------------------------------------------------------------------


def _run_publish(run: RunContext, force: bool) -> Any:
    from srcstacks.publish.stage import publish_wheels

    return publish_wheels(run)


def _publish_outputs(config: StackConfig) -> dict[str, Path]:
    layout = Layout.of(config)
    found = {
        key: path
        for key, path in files_under("wheels", config.wheel_dir).items()
        if path.suffix == ".whl" or path in (layout.provenance, layout.publisher_record)
    }
    if config.index is not None and config.index.managed:
        # The index's identity: one started afresh (``index reset``) holds nothing yet.
        found["index/devpi/.nodeinfo"] = layout.index_node_info
    return found


PUBLISH_WHEELS = Stage(
    "publish-wheels",
    ("publish-wheels",),
    "Publish built wheels and their provenance to the wheel dir.",
    _run_publish,
    lambda config: {**_wheels_inputs(config), "stack": Layout.of(config).stack_id},
    _publish_outputs,
)


# --- lock -----------------------------------------------------------------------------


def _run_lock(run: RunContext, force: bool) -> Any:
    from srcstacks.lock.stage import lock_layers

    return lock_layers(run, force=force)


def _lock_outputs(config: StackConfig) -> dict[str, Path]:
    from srcstacks.spec.variants import venvstacks_spec_dir

    requirements = venvstacks_spec_dir(config) / "requirements"
    found = {"work/runtime.json": Layout.of(config).runtime_record}
    for layer in config.layers:
        folder = inside(requirements, layer.env_name, "layer")
        found.update(files_under(f"locks/{layer.env_name}", folder))
    return found


def _layer_inputs(config: StackConfig) -> dict[str, Any]:
    return {**spec_inputs(config), "runtime": runtime_inputs(config)}


LOCK = Stage(
    "lock",
    ("lock",),
    "Lock every layer with venvstacks against the wheel dir only.",
    _run_lock,
    _layer_inputs,
    _lock_outputs,
    layered=True,
)


# --- archives -------------------------------------------------------------------------


def _run_archives(run: RunContext, force: bool) -> Any:
    from srcstacks.archives.stage import build_archives

    return build_archives(run, force=force)


ARCHIVES = Stage(
    "archives",
    ("archives",),
    "Build and publish the layer archives with venvstacks.",
    _run_archives,
    _layer_inputs,
    lambda config: files_under("output", config.output_dir, skip=(SBOM_SUFFIX, ATTESTATION_SUFFIX)),
    layered=True,
)


# --- sbom -----------------------------------------------------------------------------


def _run_sbom(run: RunContext, force: bool) -> Any:
    from srcstacks.sbom.stage import write_sboms

    return write_sboms(run, force=force)


def _sbom_inputs(config: StackConfig) -> dict[str, Any]:
    return {
        **spec_inputs(config),
        "patches": tree_content(config.patches_dir),
        "settings": tree_content(config.settings_dir),
        "runtime": runtime_inputs(config),
        "signing_key": _signing_key_id(),
    }


def _signing_key_id() -> str | None:
    """The public id of the key the attestations are signed with (never the key)."""
    from srcstacks.attest.keys import key_id, signing_key

    key = signing_key(os.environ)
    return None if key is None else key_id(key.public_key())


SBOM = Stage(
    "sbom",
    ("sbom", "generate"),
    "Write <archive>.cdx.json, a CycloneDX SBOM, beside every archive.",
    _run_sbom,
    _sbom_inputs,
    lambda config: {
        key: path
        for key, path in files_under("output", config.output_dir).items()
        if key.endswith((SBOM_SUFFIX, ATTESTATION_SUFFIX))
    },
    layered=True,
)

# In order: each stage reads what the ones before it wrote to disk.
STAGES: tuple[Stage, ...] = (WHEELS, PUBLISH_WHEELS, LOCK, ARCHIVES, SBOM)


def stage_named(name: str) -> Stage:
    """The stage called ``name`` (a :class:`KeyError` names an unknown one)."""
    for stage in STAGES:
        if stage.name == name:
            return stage
    raise KeyError(name)
