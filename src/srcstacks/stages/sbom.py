"""Stage 5, ``srcstacks sbom``: a CycloneDX SBOM beside every published layer archive.

Reads the published archives and venvstacks' metadata (archives stage), the wheel dir's
provenance (publish stage), ``__srcstacks__/build.json`` (runtime origin, tool
versions) and the patch files. Writes ``<archive name>.cdx.json`` beside each archive,
lower layers first, because an upper layer's SBOM links to the SBOMs below it; then,
with a signing key, each archive's signed attestation (:mod:`srcstacks.stages.attest`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from srcstacks.archive_reader import ArchiveContents, InstalledDist, read_archive
from srcstacks.config import Layer, StackConfig
from srcstacks.errors import ConfigError, SbomError, StageOrderError
from srcstacks.fingerprints import stamp_files
from srcstacks.fsutil import atomic_write_text, finish_publish
from srcstacks.layer_fingerprints import (
    LayerRecord,
    read_layer_records,
    say_plan,
    spec_tables,
    stale_reasons,
    write_layer_records,
)
from srcstacks.layout import Layout, inside, sbom_path
from srcstacks.provenance import Manifest, check_wheel_dir, records_digest
from srcstacks.publishers import stack_wheels
from srcstacks.records import BuildInfo, RuntimeRecord, read_build_info
from srcstacks.sbom.components import DistInputs, LayerInfo
from srcstacks.sbom.document import (
    Document,
    LayerInputs,
    LowerLayer,
    build_document,
    timeless,
)
from srcstacks.sbom.links import read_layer_sbom
from srcstacks.sbom.metadata import parse_metadata
from srcstacks.sbom.system_libs import system_libraries
from srcstacks.stages.archives import published_layers
from srcstacks.stages.attest import sign_layers
from srcstacks.stages.sbom_plan import sbom_components
from srcstacks.tools.venvstacks import LayerMetadata

Report = Callable[[str], None]
STAGE = "sbom"

TOOLS = ("srcstacks", "fromager", "venvstacks", "uv")
# venvstacks' layer metadata worth carrying into the layer component's properties.
_LAYER_PROPERTIES = (
    "app_launch_module", "app_launch_module_hash", "archive_build", "lock_version",
    "locked_at", "python_implementation", "requirements_hash", "target_platform",
)  # fmt: skip


@dataclass(frozen=True)
class _Published:
    """One published layer: its spec entry, venvstacks' metadata and archive path."""

    layer: Layer
    meta: LayerMetadata
    archive: Path

    @property
    def depends_on(self) -> tuple[str, ...]:
        """Install targets of the layers directly below: its frameworks, else its runtime."""
        return () if self.layer.kind == "runtime" else self.meta.depends_on


def write_sboms(config: StackConfig, report: Report = print, *, force: bool = False) -> list[Path]:
    """Write the SBOM of each published layer archive whose inputs changed (every one
    with ``force``), lower layers first; return every layer's SBOM path."""
    if finish_publish(config.output_dir):
        report(f"  completed the interrupted publish of the archives in {config.output_dir}")
    layers = _published(config)
    layout = Layout.of(config)
    build_info = read_build_info(layout.build_info)
    manifest = check_wheel_dir(config.wheel_dir)
    pinned = records_digest(manifest, stack_wheels(layout) or None)
    if build_info.provenance_sha256 and pinned != build_info.provenance_sha256:
        raise SbomError(
            f"{layout.provenance}: this stack's provenance records changed since the archives"
            f" were built ({layout.build_info} pins another sha256); run 'srcstacks archives'"
        )
    records = {} if force else read_layer_records(config, STAGE)
    tables = spec_tables(config)
    archives = {item.layer.env_name: item.archive for item in layers.values()}
    written: list[Path] = []
    components: dict[str, dict[str, str]] = {}
    for item in _lower_layers_first(layers):
        name = item.layer.env_name
        target = sbom_path(item.archive)
        components[name] = sbom_components(
            config, item.layer, tables, item.meta.raw, build_info, manifest, archives
        )
        reasons = stale_reasons(records.get(name), components[name], {"sbom": target})
        say_plan(report, STAGE, {name: reasons}, "writing its SBOM", "SBOM kept")
        if reasons:
            _write_sbom(config, item, layers, manifest, build_info, report)
            written.append(target)
    write_layer_records(
        config,
        STAGE,
        {
            name: LayerRecord(parts, stamp_files({"sbom": sbom_path(archives[name])}, {}))
            for name, parts in components.items()
        },
    )
    hint = "" if config.sbom.supplier else " (set [tool.srcstacks.sbom] supplier to name it)"
    kept = len(layers) - len(written)
    report(f"wrote {len(written)} SBOM(s), kept {kept}, in {config.output_dir}{hint}")
    sign_layers(config, manifest, build_info, report)
    return [sbom_path(archive) for archive in archives.values()]


def _write_sbom(
    config: StackConfig,
    item: _Published,
    layers: dict[str, _Published],
    manifest: Manifest,
    build_info: BuildInfo,
    report: Report,
) -> None:
    """Make, write and check one layer's SBOM (the SBOMs below it are written already)."""
    from srcstacks.sbom.check import check_document  # the validator is slow to import

    contents = read_archive(item.archive)
    inputs = _layer_inputs(config, item, contents, layers, manifest, build_info, report)
    document = build_document(inputs)
    _check_portable(document.text, config)
    target = sbom_path(item.archive)
    try:
        atomic_write_text(target, document.text)
    except OSError as exc:
        raise SbomError(f"{target}: cannot write the SBOM ({exc.strerror or exc})") from None
    for unresolved in document.unresolved:
        report(f"  warning: {target.name}: requirement found in no layer: {unresolved}")
    result = check_document(target, contents)
    state = "complete" if result.ok else (
        f"{len(result.problems)} missing element(s), see 'srcstacks sbom check {target}'"
    )  # fmt: skip
    report(f"  {target.name}: {len(inputs.dists)} distribution(s), {state}")


def _documents(
    config: StackConfig, layers: dict[str, _Published], manifest: Manifest, report: Report
) -> Iterator[tuple[_Published, ArchiveContents, LayerInputs, Document]]:
    """Each layer's SBOM as srcstacks makes it, lower layers first (nothing written).

    An upper layer links to a lower layer's SBOM file as it is on disk, unless that file
    was edited: then to the one srcstacks makes, so that the edit is blamed on the lower
    layer's SBOM alone, not on every SBOM above it that pins its sha256.
    """
    build_info = read_build_info(Layout.of(config).build_info)
    linked: dict[Path, bytes] = {}
    for item in _lower_layers_first(layers):
        contents = read_archive(item.archive)
        inputs = _layer_inputs(config, item, contents, layers, manifest, build_info, report, linked)
        document = build_document(inputs)
        _check_portable(document.text, config)
        linked[sbom_path(item.archive)] = _as_linked(sbom_path(item.archive), document.text)
        yield item, contents, inputs, document


def _as_linked(path: Path, made: str) -> bytes:
    """The SBOM file an upper layer links to: ``path`` as it is unless it was edited
    (other than in when it was written), else the document srcstacks makes."""
    try:
        on_disk = path.read_bytes()
        if timeless(json.loads(on_disk)) == timeless(json.loads(made)):
            return on_disk
    except (OSError, ValueError):
        pass
    return made.encode("utf-8")


def expected_sboms(config: StackConfig, manifest: Manifest) -> dict[Path, str]:
    """The SBOM each published archive should have beside it, by path, as the sbom stage
    would write it now from the archives and records (for ``verify``; writes nothing).

    An upper layer's document links to the lower layers' SBOMs as they are on disk.
    """
    layers = _published(config)
    return {
        sbom_path(item.archive): document.text
        for item, _, _, document in _documents(config, layers, manifest, lambda _: None)
    }


def _published(config: StackConfig) -> dict[str, _Published]:
    """Each published layer by install target (a versioned layer's carries ``@N``)."""
    by_env_name = {layer.env_name: layer for layer in config.built_layers}
    found: dict[str, _Published] = {}
    layout = Layout.of(config)
    for meta in published_layers(config.output_dir):
        archive = layout.archive(meta.archive_name)
        if meta.layer_name not in by_env_name or not archive.is_file():
            raise StageOrderError(
                f"{archive}: the published archives do not match {config.spec_path}"
                " (run 'srcstacks archives')"
            )
        found[meta.install_target] = _Published(by_env_name[meta.layer_name], meta, archive)
    missing = sorted(set(by_env_name) - {item.layer.env_name for item in found.values()})
    if missing:
        raise StageOrderError(
            f"{config.output_dir}: no archive for layer(s) {', '.join(missing)}"
            " (run 'srcstacks archives')"
        )
    return found


def _lower_layers_first(layers: dict[str, _Published]) -> list[_Published]:
    ordered: list[_Published] = []
    done: set[str] = set()
    while len(ordered) < len(layers):
        ready = [item for name, item in layers.items()
                 if name not in done and set(item.depends_on) <= done]  # fmt: skip
        if not ready:
            raise SbomError(f"layers {sorted(set(layers) - done)} depend on each other in a cycle")
        ordered.extend(ready)
        done.update(item.meta.install_target for item in ready)
    return ordered


def _stack_below(item: _Published, layers: dict[str, _Published]) -> list[_Published]:
    """Every layer below ``item`` in import order: frameworks first, the runtime last."""
    below: list[_Published] = []
    pending = list(item.depends_on)
    while pending:
        current = layers[pending.pop(0)]
        if current not in below:
            below.append(current)
            pending.extend(current.depends_on)
    return sorted(below, key=lambda lower: lower.layer.kind == "runtime")


def _layer_inputs(
    config: StackConfig,
    item: _Published,
    contents: ArchiveContents,
    layers: dict[str, _Published],
    manifest: Manifest,
    build_info: BuildInfo,
    report: Report,
    linked: dict[Path, bytes] | None = None,
) -> LayerInputs:
    """What the SBOM of ``item`` is made from; ``linked``: the lower layers' SBOM bytes to
    link to, by path, where they are not to be read from disk."""
    meta = item.meta
    needs = system_libraries(contents)
    # Compiled files no distribution installed: the interpreter's in a runtime layer.
    unowned = needs.get(None, ())
    is_runtime = item.layer.kind == "runtime"
    properties = _layer_properties(meta, item.layer)
    if unowned and not is_runtime:
        properties["srcstacks:system_libraries"] = " ".join(unowned)
    layer = LayerInfo(
        name=meta.install_target,
        kind=item.layer.kind,
        version=meta.lock_version,
        archive_name=item.archive.name,
        sha256=contents.sha256,
        sha512=_sha512(item.archive),
        properties=properties,
    )
    timestamp, source = sbom_timestamp(meta)
    return LayerInputs(
        layer=layer,
        python_implementation=meta.python_implementation,
        target_platform=meta.target_platform,
        dists=tuple(
            replace(
                _dist_inputs(config, dist, manifest, report),
                system_libraries=needs.get(dist.name, ()),
            )
            for dist in contents.dists
        ),
        requirements=tuple(str(requirement) for requirement in item.layer.requirements),
        depends_on=item.depends_on,
        lower=tuple(
            LowerLayer(
                read_layer_sbom(
                    sbom_path(lower.archive), (linked or {}).get(sbom_path(lower.archive))
                ),
                lower.depends_on,
            )
            for lower in _stack_below(item, layers)
        ),
        runtime=_portable_runtime(_runtime_record(build_info, item.layer), config)
        if is_runtime
        else None,
        runtime_patch_texts=_runtime_patch_texts(config, build_info, item.layer, report)
        if is_runtime
        else {},
        runtime_system_libraries=unowned if is_runtime else (),
        runtime_files_sha256=build_info.runtime_files.get(meta.layer_name, "")
        if is_runtime
        else "",
        provenance_sha256=build_info.provenance_pin(meta.layer_name),
        tools=_tool_versions(build_info),
        variant=build_info.variant,
        mode=config.mode.name,
        timestamp=timestamp,
        timestamp_source=source,
        settings=config.sbom,
    )


def _layer_properties(meta: LayerMetadata, layer: Layer) -> dict[str, str]:
    raw = meta.raw
    found = {f"srcstacks:layer:{key}": str(raw[key]) for key in _LAYER_PROPERTIES if key in raw}
    found["srcstacks:layer:kind"] = layer.kind
    return found


def _dist_inputs(
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
    wheel = config.wheel_dir / record.filename
    return DistInputs(
        dist=dist,
        metadata=parse_metadata(dist.files.get("METADATA", "")),
        provenance=replace(record, build_env=_portable_env(record.build_env, config)),
        wheel_sha512=_sha512(wheel) if wheel.is_file() else None,
        patch_texts=texts,
    )


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


def _runtime_record(build_info: BuildInfo, layer: Layer) -> RuntimeRecord:
    if (record := build_info.runtime_of(layer.name)) is not None:
        return record
    raise StageOrderError(
        f"{layer.name}: the build record names no runtime for this layer (run 'srcstacks archives')"
    )


def _portable_runtime(record: RuntimeRecord, config: StackConfig) -> RuntimeRecord:
    """A built runtime's settings and configure arguments with this checkout's folders
    replaced by placeholders, as for the wheels' build settings."""
    if record.build is None:
        return record
    build = record.build
    arguments = tuple(_portable_text(argument, config) for argument in build.configure_args)
    return replace(
        record,
        build=replace(build, env=_portable_env(build.env, config), configure_args=arguments),
    )


def _runtime_patch_texts(
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


def _tool_versions(build_info: BuildInfo) -> dict[str, str]:
    """The tool versions the archives stage recorded when it built the archives."""
    return {name: build_info.tools[name] for name in TOOLS if name in build_info.tools}


def _sha512(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha512").hexdigest()


def _machine_paths(config: StackConfig) -> list[tuple[str, str]]:
    """This checkout's folders, deepest first, each with the placeholder that replaces it."""
    labelled = {
        str(config.spec_dir): "<stack dir>",
        str(config.work_dir): "<work dir>",
        str(config.wheel_dir): "<wheel dir>",
        str(config.output_dir): "<output dir>",
    }
    return sorted(labelled.items(), key=lambda item: len(item[0]), reverse=True)


def _portable_env(env: dict[str, str], config: StackConfig) -> dict[str, str]:
    """Build settings with this checkout's folders replaced by placeholders."""
    return {key: _portable_text(value, config) for key, value in env.items()}


def _portable_text(value: str, config: StackConfig) -> str:
    for path, label in _machine_paths(config):
        value = value.replace(path, label)
    return value


def _check_portable(text: str, config: StackConfig) -> None:
    """Refuse to write an SBOM naming the build machine's folders (a bug if it happens)."""
    for path, _label in _machine_paths(config):
        if re.search(r"(?<![\w.-])" + re.escape(path) + r"(?=[/\"\s]|$)", text):
            raise SbomError(f"internal error: an SBOM would name the build machine's {path}")
