"""Gather what the report shows from the files a build left on disk.

Reads venvstacks' stack manifest (``__venvstacks__/venvstacks.json``: the layers and
how they stack), ``__srcstacks__/build.json`` (variant, tool versions, provenance pin),
each archive's SBOM (``<archive>.cdx.json``), the wheel dir's ``provenance.json``
(each wheel's origin and build tools, see :mod:`srcstacks.report.build_tools`), the
spec's ``[tool.srcstacks] mode`` and, for the layers and requirements other build hosts
build, the spec and lock files (:mod:`srcstacks.report.elsewhere`).
Writes nothing. A missing input is a one-line error naming the file and the command
that writes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import unquote

from srcstacks.errors import SbomError, StageOrderError
from srcstacks.fsutil import sha256_file
from srcstacks.layout import Layout, sbom_path
from srcstacks.report.attestation import attestation_status
from srcstacks.report.build_tools import BuildToolsIndex
from srcstacks.report.elsewhere import layers_elsewhere, other_platform_requirements
from srcstacks.report.model import (
    DISTRIBUTION,
    RUNTIME,
    Graph,
    GraphEdge,
    GraphNode,
    Layer,
    StackReport,
    VerifyOutcome,
)
from srcstacks.report.sbom_reading import (
    BOM_LINK_PREFIX,
    SbomDocument,
    bom_link_of,
    parse_document,
    properties,
    system_library_needs,
    to_component,
)
from srcstacks.spec.config import StackConfig
from srcstacks.spec.rules import BUILD_PLATFORM
from srcstacks.state.provenance import Manifest, read_manifest
from srcstacks.state.records import read_build_info
from srcstacks.tools.venvstacks import LayerMetadata, read_layer_metadata

# Components drawn as boxes in their layer's column; the others are listed only.
DRAWN = (DISTRIBUTION, RUNTIME)


def gather(config: StackConfig, verify: VerifyOutcome) -> StackReport:
    """Everything the page shows about ``config``'s stack, with ``verify``'s outcome."""
    layout = Layout.of(config)
    layers = read_layer_metadata(layout.stack_manifest)
    build_info = read_build_info(layout.build_info)
    manifest = read_manifest(layout.wheel_dir)
    records = BuildToolsIndex(manifest)
    documents = [(layer, _read_sbom(layout, layer)) for layer in layers]
    nodes = _NodeIds()
    for layer, document in documents:
        nodes.add_layer(layer, document, records)
    report_layers = tuple(
        Layer(
            name=layer.install_target,
            kind=_kind(layer),
            archive=layer.archive_name,
            archive_sha256=layer.archive_sha256,
            sbom_file=sbom_path(layout.archive(layer.archive_name)).name,
            sbom_serial=f"urn:uuid:{document.serial}" if document.serial else "",
            sbom_profiles=document.profiles,
            attestation=attestation_status(
                layout.archive(layer.archive_name),
                sbom_path(layout.archive(layer.archive_name)),
            ),
            depends_on=layer.depends_on,
            components=tuple(
                to_component(raw, nodes.own[document.serial].get(_ref(raw.data), ""), records)
                if raw.kind in DRAWN
                else to_component(raw, "", records)
                for raw in document.components
            ),
            system_libraries=system_library_needs(document, layer.install_target),
            node=nodes.header[document.serial],
        )
        for layer, document in documents
    )
    return StackReport(
        spec_name=config.spec_path.name,
        variant=build_info.variant,
        tools=tuple(sorted(build_info.tools.items())),
        provenance_sha256=build_info.provenance_sha256,
        layers=report_layers,
        graph=Graph(tuple(nodes.nodes), _edges(documents, nodes)),
        verify=verify,
        build_platform=BUILD_PLATFORM,
        layers_elsewhere=layers_elsewhere(config),
        other_platform_requirements=other_platform_requirements(config, manifest),
        mode=config.mode.name,
        build_from_source=config.mode.build_from_source,
        parity=config.parity.mode,
        parity_exceptions=tuple(sorted(config.parity.exceptions)),
        spec_sha256=sha256_file(config.spec_path),
        made_on=_build_hosts(manifest, BUILD_PLATFORM),
        made_at=max((document.timestamp for _, document in documents), default=""),
    )


def _build_hosts(manifest: Manifest, platform: str) -> str:
    """The build hosts the wheels' records name (``SRCSTACKS_BUILD_HOST``, or the wheel
    dirs ``collect`` took them from), with the archives' platform."""
    named = sorted({record.host.name for record in manifest.wheels.values() if record.host})
    hosts = ", ".join(named) or "not named (SRCSTACKS_BUILD_HOST names a build host)"
    return f"{hosts}; archives for {platform}"


def _read_sbom(layout: Layout, layer: LayerMetadata) -> SbomDocument:
    path = sbom_path(layout.archive(layer.archive_name))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StageOrderError(f"{path}: no SBOM for this archive (run 'srcstacks sbom')") from None
    except (OSError, ValueError) as exc:
        raise SbomError(f"{path}: unreadable SBOM ({exc}); rerun 'srcstacks sbom'") from None
    try:
        return parse_document(data, str(path))
    except ValueError as exc:
        raise SbomError(f"{exc}; rerun 'srcstacks sbom'") from None


def _kind(layer: LayerMetadata) -> str:
    if layer.runtime_layer == layer.install_target:
        return "runtime"
    return "application" if layer.app_launch_module else "framework"


def _ref(item: dict[str, object]) -> str:
    return str(item.get("bom-ref", ""))


@dataclass
class _NodeIds:
    """Graph node ids (``n0``, ``n1``, ...) for each layer and each drawn component."""

    nodes: list[GraphNode] = field(default_factory=list)
    header: dict[str, str] = field(default_factory=dict)  # serial -> layer node
    by_layer: dict[str, str] = field(default_factory=dict)  # install target -> layer node
    own: dict[str, dict[str, str]] = field(default_factory=dict)  # serial -> bom-ref -> node

    def add_layer(
        self, layer: LayerMetadata, document: SbomDocument, records: BuildToolsIndex
    ) -> None:
        name = layer.install_target
        self.header[document.serial] = self.by_layer[name] = self._new(name, name, True)
        own = self.own.setdefault(document.serial, {})
        for raw in document.components:
            if raw.kind in DRAWN:
                label = f"{raw.data.get('name', '')} {raw.data.get('version', '')}".strip()
                wheel = properties(raw.data).get("srcstacks:wheel", "")
                upstream = raw.kind == DISTRIBUTION and records.origin_for(wheel).upstream
                pedigree = raw.data.get("pedigree")
                patched = isinstance(pedigree, dict) and bool(pedigree.get("patches"))
                own[_ref(raw.data)] = self._new(
                    label, name, False, upstream=bool(upstream), patched=patched
                )

    def node_of(self, document: SbomDocument, item: dict[str, object]) -> str:
        """The node of one of ``document``'s own drawn components ("" for the others)."""
        return self.own[document.serial].get(_ref(item), "")

    def _new(
        self,
        label: str,
        layer: str,
        is_layer: bool,
        *,
        upstream: bool = False,
        patched: bool = False,
    ) -> str:
        node = f"n{len(self.nodes)}"
        self.nodes.append(GraphNode(node, label, layer, is_layer, upstream, patched))
        return node

    def resolve(self, ref: str, document: SbomDocument, links: dict[str, str]) -> str:
        """The node ``ref`` stands for in ``document`` ("" when it is not drawn)."""
        if ref == document.layer_ref:
            return self.header[document.serial]
        if ref in self.own[document.serial]:
            return self.own[document.serial][ref]
        link = links.get(ref, ref)
        if not link.startswith(BOM_LINK_PREFIX):
            return ""
        target, _, fragment = link.removeprefix(BOM_LINK_PREFIX).partition("#")
        serial = target.rsplit("/", 1)[0]
        if serial not in self.header:
            return ""
        if not fragment:
            return self.header[serial]
        return self.own[serial].get(unquote(fragment), "")


def _edges(
    documents: list[tuple[LayerMetadata, SbomDocument]], nodes: _NodeIds
) -> tuple[GraphEdge, ...]:
    headers = set(nodes.header.values())
    edges: set[GraphEdge] = set()
    for layer, document in documents:
        links = {_ref(raw.data): bom_link_of(raw.data) for raw in document.components}
        links = {ref: link for ref, link in links.items() if link}
        for ref, targets in document.dependencies:
            source = nodes.resolve(ref, document, links)
            for target in (nodes.resolve(item, document, links) for item in targets):
                if not source or not target or source == target:
                    continue
                if source in headers and target not in headers:
                    continue  # a layer's own requirements: its column says so already
                edges.add(GraphEdge(source, target, source in headers))
        for below in layer.depends_on:
            if below in nodes.by_layer:
                edges.add(
                    GraphEdge(nodes.by_layer[layer.install_target], nodes.by_layer[below], True)
                )
    return tuple(sorted(edges, key=lambda edge: (_number(edge.source), _number(edge.target))))


def _number(node: str) -> int:
    return int(node[1:])
