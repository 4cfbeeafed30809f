"""Stage 5, ``srcstacks sbom``: a CycloneDX SBOM beside every published layer archive.

Reads the published archives and venvstacks' metadata (archives stage), the wheel dir's
provenance (publish stage), ``__srcstacks__/build.json`` (runtime origin, tool
versions) and the patch files. Writes ``<archive name>.cdx.json`` beside each archive,
lower layers first, because an upper layer's SBOM links to the SBOMs below it; then,
with a signing key, each archive's signed attestation (:mod:`srcstacks.attest.sign`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from srcstacks.attest.sign import sign_layers
from srcstacks.errors import SbomError, StageOrderError
from srcstacks.fsutil import atomic_write_text, finish_publish, sha256_file, sha512_file
from srcstacks.layout import Layout, runtime_file_list_published, sbom_path
from srcstacks.reporting import Report
from srcstacks.run_context import RunContext
from srcstacks.sbom.components import LayerInfo
from srcstacks.sbom.document import Document, LayerInputs, LowerLayer, build_document
from srcstacks.sbom.inputs import (
    check_portable,
    dist_inputs,
    layer_properties,
    portable_runtime,
    runtime_patch_texts,
    runtime_record,
    sbom_timestamp,
    tool_versions,
    with_parity,
)
from srcstacks.sbom.links import read_layer_sbom
from srcstacks.sbom.plan import sbom_components
from srcstacks.sbom.system_libs import system_libraries
from srcstacks.spec.config import Layer, StackConfig
from srcstacks.state.archive_reader import ArchiveContents, read_archive
from srcstacks.state.fingerprints import stamp_files
from srcstacks.state.layer_fingerprints import (
    LayerRecord,
    read_layer_records,
    say_plan,
    spec_tables,
    stale_reasons,
    write_layer_records,
)
from srcstacks.state.parity import read_parity
from srcstacks.state.provenance import Manifest, check_wheel_dir, records_digest
from srcstacks.state.publishers import stack_wheels
from srcstacks.state.records import BuildInfo, read_build_info
from srcstacks.state.sbom_identity import timeless
from srcstacks.tools.venvstacks import LayerMetadata, published_layers

STAGE = "sbom"


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


def write_sboms(run: RunContext, *, force: bool = False) -> list[Path]:
    """Write the SBOM of each published layer archive whose inputs changed (every one
    with ``force``), lower layers first; return every layer's SBOM path."""
    config, report, layout = run.config, run.report, run.layout
    if finish_publish(config.output_dir):
        report(f"  completed the interrupted publish of the archives in {config.output_dir}")
    layers = _published(config)
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
    check_portable(document.text, config)
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
        check_portable(document.text, config)
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
    parity = read_parity(Layout.of(config))
    # Compiled files no distribution installed: the interpreter's in a runtime layer.
    unowned = needs.get(None, ())
    is_runtime = item.layer.kind == "runtime"
    properties = layer_properties(meta, item.layer)
    if unowned and not is_runtime:
        properties["srcstacks:system_libraries"] = " ".join(unowned)
    if config.upload_cutoff:  # the spec's exclude-newer: the sources its wheels came from
        properties["srcstacks:sources_uploaded_by"] = config.upload_cutoff.describe()
    layer = LayerInfo(
        name=meta.install_target,
        kind=item.layer.kind,
        version=meta.lock_version,
        archive_name=item.archive.name,
        sha256=contents.sha256,
        sha512=sha512_file(item.archive),
        properties=properties,
    )
    timestamp, source = sbom_timestamp(meta)
    return LayerInputs(
        layer=layer,
        python_implementation=meta.python_implementation,
        target_platform=meta.target_platform,
        dists=tuple(
            with_parity(
                replace(
                    dist_inputs(config, dist, manifest, report),
                    system_libraries=needs.get(dist.name, ()),
                ),
                parity,
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
        runtime=portable_runtime(runtime_record(build_info, item.layer), config)
        if is_runtime
        else None,
        runtime_patch_texts=runtime_patch_texts(config, build_info, item.layer, report)
        if is_runtime
        else {},
        runtime_system_libraries=unowned if is_runtime else (),
        runtime_files_sha256=build_info.runtime_files.get(meta.layer_name, "")
        if is_runtime
        else "",
        runtime_files_sha512=_runtime_files_sha512(config, build_info, meta.layer_name)
        if is_runtime
        else "",
        provenance_sha256=build_info.provenance_pin(meta.layer_name),
        tools=tool_versions(build_info),
        variant=build_info.variant,
        mode=config.mode.name,
        timestamp=timestamp,
        timestamp_source=source,
        settings=config.sbom,
    )


def _runtime_files_sha512(config: StackConfig, build_info: BuildInfo, layer_name: str) -> str:
    """SHA-512 of the runtime's published file list, when it is the one ``build.json``
    pins (its SHA-256); "" otherwise (the SBOM then gives the pinned SHA-256 alone)."""
    listed = runtime_file_list_published(config.output_dir, layer_name)
    pinned = build_info.runtime_files.get(layer_name)
    if not pinned or not listed.is_file() or sha256_file(listed) != pinned:
        return ""
    return sha512_file(listed)
