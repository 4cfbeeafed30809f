"""What each layer's SBOM is made from, besides the archive itself: part of the sbom stage.

Reads the wheel dir's records (through the ``Manifest`` it is given), the patch files and
the runtime's build record; writes nothing. Also makes everything that goes into an SBOM
portable: this checkout's folders become ``<stack dir>``, ``<work dir>``, ... so an SBOM
names no folder of the machine that wrote it (:func:`check_portable` refuses one that
would).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime

from srcstacks.errors import ConfigError, SbomError, StageOrderError
from srcstacks.fsutil import sha512_file
from srcstacks.layout import Layout
from srcstacks.layout.ownership import inside
from srcstacks.reporting import Report
from srcstacks.sbom.components import DistInputs
from srcstacks.sbom.metadata import parse_metadata
from srcstacks.spec.config import Layer, StackConfig
from srcstacks.state.archive_reader import InstalledDist
from srcstacks.state.parity import ParityFinding
from srcstacks.state.provenance import Manifest
from srcstacks.state.records import BuildInfo, RuntimeRecord
from srcstacks.tools.venvstacks import LayerMetadata

TOOLS = ("srcstacks", "fromager", "venvstacks", "uv")
# venvstacks' layer metadata worth carrying into the layer component's properties.
LAYER_PROPERTIES = (
    "app_launch_module", "app_launch_module_hash", "archive_build", "lock_version",
    "locked_at", "python_implementation", "requirements_hash", "target_platform",
)  # fmt: skip


def layer_properties(meta: LayerMetadata, layer: Layer) -> dict[str, str]:
    raw = meta.raw
    found = {f"srcstacks:layer:{key}": str(raw[key]) for key in LAYER_PROPERTIES if key in raw}
    found["srcstacks:layer:kind"] = layer.kind
    return found


def dist_inputs(
    config: StackConfig, dist: InstalledDist, manifest: Manifest, report: Report
) -> DistInputs:
    record = manifest.installed_from(dist)
    if record is None:
        report(f"  warning: {dist.dist_info}: no provenance for this distribution")
        return DistInputs(dist, parse_metadata(dist.files.get("METADATA", "")), None)
    texts: dict[str, bytes] = {}
    for patch in record.patches:
        path = config.spec_dir / patch.path
        data = path.read_bytes() if path.is_file() else None
        if data is not None and hashlib.sha256(data).hexdigest() == patch.sha256:
            texts[patch.path] = data
        else:  # the SBOM still records the patch by path and sha256, without its text
            report(f"  warning: {path} changed since the build; its text is left out")
    wheel = Layout.of(config).wheel(record.filename)
    return DistInputs(
        dist=dist,
        metadata=parse_metadata(dist.files.get("METADATA", "")),
        provenance=replace(record, build_env=portable_env(record.build_env, config)),
        wheel_sha512=sha512_file(wheel) if wheel.is_file() else None,
        patch_texts=texts,
    )


def with_parity(inputs: DistInputs, parity: Mapping[str, ParityFinding]) -> DistInputs:
    """``inputs`` with what its wheel lacks of the upstream binary, if the parity check
    (``parity.json``, by wheel file name) found it degraded."""
    record = inputs.provenance
    found = parity.get(record.filename) if record is not None else None
    return replace(inputs, degraded=found.describe()) if found is not None else inputs


def sbom_timestamp(layer_meta: LayerMetadata) -> tuple[datetime, str]:
    """``SOURCE_DATE_EPOCH`` when set, else the layer's lock time; and which it was."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), UTC), "SOURCE_DATE_EPOCH"
        except (ValueError, OverflowError, OSError):
            raise ConfigError(
                f"SOURCE_DATE_EPOCH must be seconds since 1970, not {epoch!r}"
            ) from None
    try:
        return datetime.fromisoformat(str(layer_meta.locked_at)), "lock-time"
    except ValueError:
        raise SbomError(
            f"{layer_meta.install_target}: venvstacks recorded no lock time; set SOURCE_DATE_EPOCH"
        ) from None


def runtime_record(build_info: BuildInfo, layer: Layer) -> RuntimeRecord:
    if (record := build_info.runtime_of(layer.name)) is not None:
        return record
    raise StageOrderError(
        f"{layer.name}: the build record names no runtime for this layer (run 'srcstacks archives')"
    )


def portable_runtime(record: RuntimeRecord, config: StackConfig) -> RuntimeRecord:
    """A built runtime's settings and configure arguments with this checkout's folders
    replaced by placeholders, as for the wheels' build settings."""
    if record.build is None:
        return record
    build = record.build
    arguments = tuple(portable_text(argument, config) for argument in build.configure_args)
    return replace(
        record,
        build=replace(build, env=portable_env(build.env, config), configure_args=arguments),
    )


def runtime_patch_texts(
    config: StackConfig, build_info: BuildInfo, layer: Layer, report: Report
) -> dict[str, bytes]:
    """The text of each patch applied to a built runtime, read from the patches folder,
    when the file still has the sha256 the build recorded."""
    record = build_info.runtime_of(layer.name)
    if record is None or record.build is None:
        return {}
    texts: dict[str, bytes] = {}
    for patch in record.build.patches:
        path = inside(config.patches_dir, patch.name, "runtime patch")
        data = path.read_bytes() if path.is_file() else None
        if data is not None and hashlib.sha256(data).hexdigest() == patch.sha256:
            texts[patch.name] = data
        else:  # the SBOM still records the patch by name and sha256, without its text
            report(f"  warning: {path} changed since the runtime was built; its text is left out")
    return texts


def tool_versions(build_info: BuildInfo) -> dict[str, str]:
    """The tool versions the archives stage recorded when it built the archives."""
    return {name: build_info.tools[name] for name in TOOLS if name in build_info.tools}


def machine_paths(config: StackConfig) -> list[tuple[str, str]]:
    """This checkout's folders, deepest first, each with the placeholder that replaces it."""
    labelled = {
        str(config.spec_dir): "<stack dir>",
        str(config.work_dir): "<work dir>",
        str(config.wheel_dir): "<wheel dir>",
        str(config.output_dir): "<output dir>",
    }
    return sorted(labelled.items(), key=lambda item: len(item[0]), reverse=True)


def portable_env(env: dict[str, str], config: StackConfig) -> dict[str, str]:
    """Build settings with this checkout's folders replaced by placeholders."""
    return {key: portable_text(value, config) for key, value in env.items()}


def portable_text(value: str, config: StackConfig) -> str:
    for path, label in machine_paths(config):
        value = value.replace(path, label)
    return value


def check_portable(text: str, config: StackConfig) -> None:
    """Refuse to write an SBOM naming the build machine's folders (a bug if it happens)."""
    for path, _label in machine_paths(config):
        if re.search(r"(?<![\w.-])" + re.escape(path) + r"(?=[/\"\s]|$)", text):
            raise SbomError(f"internal error: an SBOM would name the build machine's {path}")
