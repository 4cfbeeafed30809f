"""One layer archive's CycloneDX 1.6 document, from inputs already read from disk.

No file access here: :mod:`srcstacks.sbom.stage` gathers the inputs, this module turns
them into JSON text. Same inputs, same bytes: the serial number is derived from the
archive's sha256, the timestamp is an input, every bom-ref is explicit, and the library
sorts every list it writes.
"""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.lifecycle import LifecyclePhase, PredefinedLifecycle
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output.json import JsonV1Dot6

from srcstacks.sbom import components as parts
from srcstacks.sbom import links
from srcstacks.sbom.links import LayerSbom
from srcstacks.sbom.markers import RequiredDist, marker_environment, resolve
from srcstacks.sbom.runtime import runtime_component
from srcstacks.spec.config import SbomSettings
from srcstacks.state.build_record import BuildEnvironment, Crate
from srcstacks.state.records import CPythonBuild, RuntimeRecord
from srcstacks.state.sbom_crates import add_crates
from srcstacks.state.sbom_formulation import Built, add_formulation
from srcstacks.state.sbom_identity import (
    MODE_PROPERTY,
    SERIAL_NAMESPACE,
    TIMESTAMP_SOURCE_PROPERTY,
    content_serial,
)

_TOP_LEVEL_ORDER = (
    "$schema", "bomFormat", "specVersion", "serialNumber", "version", "metadata",
    "components", "dependencies", "compositions",
)  # fmt: skip
# uuid5 namespace of srcstacks SBOM serial numbers (itself uuid5(URL, "srcstacks:sbom")).


@dataclass(frozen=True)
class LowerLayer:
    """A layer below the one being described, with the SBOM already written for it."""

    sbom: LayerSbom
    depends_on: tuple[str, ...]  # install targets of the layers directly below it


@dataclass(frozen=True)
class LayerInputs:
    """Everything one layer's SBOM is made from."""

    layer: parts.LayerInfo
    python_implementation: str  # cpython@3.11.7: the Python markers are evaluated for
    target_platform: str  # linux_x86_64
    dists: tuple[parts.DistInputs, ...]
    requirements: tuple[str, ...]  # the layer's own requirements, from the spec
    depends_on: tuple[str, ...]  # install targets of the layers directly below it
    lower: tuple[LowerLayer, ...]  # every layer below, in import order (frameworks, runtime)
    runtime: RuntimeRecord | None  # runtime layers: where the interpreter came from
    tools: Mapping[str, str]  # tool name -> version
    variant: str
    timestamp: datetime
    timestamp_source: str  # SOURCE_DATE_EPOCH or lock-time
    settings: SbomSettings
    # Runtime layers: system libraries the interpreter and standard library load.
    runtime_system_libraries: tuple[str, ...] = ()
    # Runtime layers: sha256 of the runtime's file list published beside the archives.
    runtime_files_sha256: str = ""
    runtime_files_sha512: str = ""  # of the same list, when the stage could read it
    # sha256 of this stack's provenance records, as pinned in build.json.
    provenance_sha256: str = ""
    # Runtime layers built by srcstacks: patch name -> text, for each patch whose file
    # still has the sha256 the build recorded.
    runtime_patch_texts: Mapping[str, bytes] = field(default_factory=dict)
    # The stack's build mode (``[tool.srcstacks] mode``): "full" or "selective".
    mode: str = "full"


@dataclass(frozen=True)
class Document:
    """The serialised SBOM and what could not be resolved while making it."""

    text: str
    serial: str
    unresolved: tuple[str, ...]  # "<dist>: <requirement>" found in no layer of the stack


def _placeholder_serial(archive_sha256: str) -> uuid.UUID:
    """The serial the document is made with, replaced at the end by :func:`content_serial`
    of the finished document (two documents of one archive, from another supplier or
    ``SOURCE_DATE_EPOCH``, must not share a serial)."""
    return uuid.uuid5(SERIAL_NAMESPACE, "placeholder:" + archive_sha256)


def build_document(inputs: LayerInputs) -> Document:
    """Build and serialise the SBOM of one layer archive."""
    settings = inputs.settings
    edges, extras, roots = resolve(
        {dist.dist.name: dist.metadata.requires_dist for dist in inputs.dists},
        inputs.requirements,
        marker_environment(inputs.python_implementation, inputs.target_platform),
    )
    libraries = {
        dist.dist.name: parts.library_component(
            dist, extras[dist.dist.name], settings.supplier, settings.repository_url
        )
        for dist in inputs.dists
    }
    runtime = None
    if inputs.runtime is not None:
        runtime = runtime_component(
            inputs.runtime,
            settings.supplier,
            inputs.runtime_system_libraries,
            inputs.runtime_files_sha256,
            inputs.runtime_patch_texts,
            inputs.runtime_files_sha512,
        )
    root = parts.layer_component(inputs.layer, settings)
    lower = _LowerLayers(inputs.lower)
    unresolved: list[str] = []

    def targets(owner: Component, dependencies: tuple[RequiredDist, ...]) -> list[Component]:
        found = []
        for dependency in dependencies:
            target = libraries.get(dependency.name) or lower.provider(dependency.name)
            if target is not None:
                found.append(target)
                continue
            # Never dropped in silence: recorded on the component, reported, and flagged
            # by `srcstacks sbom check`.
            owner.properties.add(
                Property(name=f"{parts.NS}:unresolved_requirement", value=dependency.requirement)
            )
            unresolved.append(f"{owner.name}: {dependency.requirement}")
        return found

    # The whole graph is worked out before any component goes into the Bom: the Bom
    # keeps components in sorted sets keyed on all their fields, so a component must
    # not change (a property, a nested stub) once it is in one.
    graph = {name: targets(component, edges[name]) for name, component in libraries.items()}
    graph_root = targets(root, roots) + lower.layers(inputs.depends_on)
    members = [*libraries.values(), *lower.components()]
    if runtime is not None:
        members.append(runtime)
        graph_root.append(runtime)
    bom = Bom(
        serial_number=_placeholder_serial(inputs.layer.sha256),
        metadata=_metadata(inputs, root),
        components=members,
    )
    # Dependency entries are added directly: Bom.register_dependency would also give
    # every target an empty entry, claiming that a lower layer's distribution has no
    # dependencies, where its own SBOM is the one that knows.
    _depend(bom, root, graph_root)
    for name, component in libraries.items():
        # Its dependencies in the archive, and the system libraries it loads (nested in it).
        _depend(bom, component, [*graph[name], *component.components])
    if runtime is not None:
        # CPython needs nothing from the archive's packages; a built one depends on the
        # code compiled into it and the system libraries it loads (nested in it).
        _depend(bom, runtime, list(runtime.components))
    for below in inputs.lower:  # the layers' stacking, as far as this layer sees it
        interpreters = lower.interpreters(below)
        _depend(bom, lower.layer(below), lower.layers(below.depends_on) + interpreters)
        for interpreter in interpreters:  # CPython and the code compiled into it
            _depend(bom, interpreter, list(interpreter.components))
    for stub in lower.distribution_stubs():  # and the system libraries one loads
        if stub.components:
            _depend(bom, stub, list(stub.components))
    with warnings.catch_warnings():
        # A layer none of whose requirements it holds itself (all come from below) has a
        # root with only layer edges; `sbom check` judges the graph, not this warning.
        warnings.filterwarnings("ignore", message=".*has no defined dependencies")
        serialised = JsonV1Dot6(bom).output_as_string()
    # Nested in CPython, its bundled code and system libraries have dependencies that
    # are not described here (unknown), not none.
    # So have the system libraries nested in a distribution.
    nested = {str(part.bom_ref) for part in runtime.components} if runtime is not None else set()
    nested |= {str(part.bom_ref) for c in libraries.values() for part in c.components}
    compositions = _compositions(inputs, root, libraries, runtime, lower, nested)
    # A layer below with no layer under it would get an empty entry: "depends on nothing",
    # where its own SBOM lists what it holds. No entry says "not described here".
    layers_below = {str(component.bom_ref) for component in lower.components()}
    unknown = lower.stub_refs() | nested | layers_below
    text = _finish(serialised, unknown, {"compositions": compositions})
    # The Rust crates compiled into each wheel, nested in its component (state/sbom_crates.py).
    text = add_crates(text, _compiled_crates(inputs, libraries))
    # How each wheel was built: its build tools, compilers and flags (state/sbom_formulation.py).
    built: list[Built] = [*parts.built_wheels(inputs.dists, libraries)]
    if runtime is not None and inputs.runtime is not None and inputs.runtime.build is not None:
        # A CPython built here from source: its compiler, flags and system packages.
        built.append(_runtime_build(str(runtime.bom_ref), inputs.runtime.build))
    text = add_formulation(text, built)
    serial = content_serial(json.loads(text), SERIAL_NAMESPACE)
    text = text.replace(f"urn:uuid:{bom.serial_number}", serial)
    return Document(
        text=text, serial=serial.removeprefix("urn:uuid:"), unresolved=tuple(unresolved)
    )


def _compositions(
    inputs: LayerInputs,
    root: Component,
    libraries: Mapping[str, Component],
    runtime: Component | None,
    lower: _LowerLayers,
    nested: set[str],
) -> list[dict[str, Any]]:
    """What this document describes completely, and what it does not (CycloneDX
    ``compositions``, which cyclonedx-python-lib does not model).

    Complete: the layer's components (every distribution in the archive is one) and the
    dependencies of the layer and of its distributions (the system libraries a
    distribution loads are components nested in it). Incomplete: the components of a
    layer below (only those this layer uses are nested in it) and its dependencies (its
    stacking only: its own SBOM has the rest), and the dependencies of the layer or a
    packed runtime when it loads system libraries, which are named in
    ``srcstacks:system_libraries`` but are not components here. Unknown: the
    dependencies of the components nested in a lower layer (its own SBOM has them), in a
    built CPython and in a distribution (the system libraries).
    """
    complete: list[str] = []
    incomplete: list[str] = []
    root_loads = f"{parts.NS}:system_libraries" in inputs.layer.properties
    (incomplete if root_loads else complete).append(str(root.bom_ref))
    complete += [str(component.bom_ref) for component in libraries.values()]
    if runtime is not None:
        system = inputs.runtime_system_libraries
        (incomplete if system else complete).append(str(runtime.bom_ref))
    # A layer below is described here by its stacking alone: its own SBOM has the edges
    # to its components, so its dependencies are incomplete here, never "complete".
    layers_below = [str(component.bom_ref) for component in lower.components()]
    entries = [
        ("complete", [str(root.bom_ref)], complete),
        ("incomplete", layers_below, incomplete + layers_below),
        ("unknown", [], sorted(lower.stub_refs() | nested)),
    ]
    return [
        {"aggregate": aggregate}
        | ({"assemblies": sorted(assemblies)} if assemblies else {})
        | ({"dependencies": sorted(dependencies)} if dependencies else {})
        for aggregate, assemblies, dependencies in entries
        if assemblies or dependencies
    ]


def _finish(text: str, unknown_refs: set[str], sections: Mapping[str, Any]) -> str:
    """Final touches to the library's JSON: top-level ``sections`` the library does not
    model (``compositions``), entry order, and no false "no dependencies".

    The library flattens the graph and so gives each BOM-Link stub (and each component
    nested in a built CPython) an empty dependency entry, which in CycloneDX means
    "depends on nothing"; their dependencies are unknown here (a stub's own SBOM has
    them), which the spec spells as "no entry". The
    identity fields go first so a reader sees what the document is at once.
    """
    document = json.loads(text)
    document.update({key: value for key, value in sections.items() if value})
    document["dependencies"] = [
        entry for entry in document.get("dependencies", [])
        if entry.get("dependsOn") or entry["ref"] not in unknown_refs
    ]  # fmt: skip
    first = [key for key in _TOP_LEVEL_ORDER if key in document]
    ordered = {key: document[key] for key in [*first, *sorted(set(document) - set(first))]}
    return json.dumps(ordered, indent=2, ensure_ascii=False) + "\n"


def _compiled_crates(
    inputs: LayerInputs, libraries: Mapping[str, Component]
) -> dict[str, tuple[Crate, ...]]:
    """``{component bom-ref: crates}`` of the layer's wheels built here from Rust sources."""
    found = {}
    for dist in inputs.dists:
        component = libraries.get(dist.dist.name)
        if dist.provenance is not None and dist.provenance.crates and component is not None:
            found[str(component.bom_ref.value)] = dist.provenance.crates
    return found


def _runtime_build(ref: str, build: CPythonBuild) -> Built:
    """The formula input of a CPython srcstacks built (``configure`` and ``make``)."""
    environment = BuildEnvironment(
        compilers=(build.compiler,) if build.compiler else (),
        env=dict(build.env),
        system_packages=build.system_packages,
    ).normalised()
    return ref, f"CPython {build.version}", environment, "configure and make"


def _depend(bom: Bom, component: Component, targets: list[Component]) -> None:
    bom.dependencies.add(
        Dependency(
            ref=component.bom_ref,
            dependencies=[Dependency(ref=target.bom_ref) for target in targets],
        )
    )


def _metadata(inputs: LayerInputs, root: Component) -> BomMetaData:
    settings = inputs.settings
    tools = [parts.tool_component(name, version) for name, version in sorted(inputs.tools.items())]
    return BomMetaData(
        timestamp=inputs.timestamp,
        component=root,
        tools=ToolRepository(components=tools),
        supplier=parts.organization(settings.supplier),
        manufacturer=parts.organization(settings.manufacturer),
        authors=[parts.contact(author) for author in settings.authors],
        lifecycles=[
            PredefinedLifecycle(LifecyclePhase.BUILD),
            PredefinedLifecycle(LifecyclePhase.POST_BUILD),
        ],
        properties=[
            # cdx:reproducible: the same archive and inputs give the same bytes.
            Property(name="cdx:reproducible", value="true"),
            Property(name=f"{parts.NS}:variant", value=inputs.variant),
            Property(name=MODE_PROPERTY, value=inputs.mode),
            Property(name=TIMESTAMP_SOURCE_PROPERTY, value=inputs.timestamp_source),
            *(
                [Property(name=f"{parts.NS}:provenance_sha256", value=inputs.provenance_sha256)]
                if inputs.provenance_sha256
                else []
            ),
        ],
    )


class _LowerLayers:
    """The layers below, as components of this document, with stubs for what is used."""

    def __init__(self, lower: tuple[LowerLayer, ...]) -> None:
        self._order = [item.sbom for item in lower]
        self._stubs: dict[str, dict[str, Component]] = {sbom.layer.name: {} for sbom in self._order}
        self._interpreters = {
            sbom.layer.name: [links.linked_stub(sbom, platform) for platform in sbom.platforms]
            for sbom in self._order
        }
        self._built: dict[str, Component] | None = None

    def provider(self, name: str) -> Component | None:
        """The stub of the first lower layer (in import order) that holds ``name``."""
        assert self._built is None, "stubs are added before the layer components are built"
        for sbom in self._order:
            linked = sbom.libraries.get(name)
            if linked is not None:
                stubs = self._stubs[sbom.layer.name]
                if name not in stubs:
                    stubs[name] = links.linked_stub(sbom, linked)
                return stubs[name]
        return None

    def components(self) -> list[Component]:
        """Every lower layer's component, holding the stubs of its that were used and of
        the interpreter it describes (a runtime layer's CPython, named in every SBOM)."""
        if self._built is None:
            self._built = {
                sbom.layer.name: links.lower_layer_component(
                    sbom,
                    [*self._interpreters[sbom.layer.name], *self._stubs[sbom.layer.name].values()],
                )
                for sbom in self._order
            }
        return list(self._built.values())

    def interpreters(self, lower: LowerLayer) -> list[Component]:
        """The stubs of the interpreter (and what it bundles) a lower layer describes."""
        return self._interpreters[lower.sbom.layer.name]

    def distribution_stubs(self) -> list[Component]:
        """The stubs of the lower layers' distributions handed out."""
        return [stub for stubs in self._stubs.values() for stub in stubs.values()]

    def stub_refs(self) -> set[str]:
        """The bom-refs of every stub handed out, nested ones included."""
        pending = [
            *(stub for stubs in self._stubs.values() for stub in stubs.values()),
            *(stub for stubs in self._interpreters.values() for stub in stubs),
        ]
        found: set[str] = set()
        while pending:
            stub = pending.pop()
            found.add(str(stub.bom_ref))
            pending.extend(stub.components)
        return found

    def layers(self, names: tuple[str, ...]) -> list[Component]:
        """The components of the lower layers named (install targets)."""
        built = {component.name: component for component in self.components()}
        return [built[name] for name in names if name in built]

    def layer(self, lower: LowerLayer) -> Component:
        """The component of one lower layer."""
        return self.layers((lower.sbom.layer.name,))[0]
