"""The report's data: typed values gathered from the stack's files, rendered to HTML.

Nothing here reads or writes files; :mod:`srcstacks.report.gather` fills these values in
and :mod:`srcstacks.report.page` renders them. Every text field holds text exactly as a
file gave it (unescaped): escaping is the renderer's job, once, at the point of output.
"""

from __future__ import annotations

from dataclasses import dataclass

from srcstacks.state.build_record import BuildEnvironment
from srcstacks.state.provenance import UpstreamRecord

# What a component is to its layer, as the page names it.
DISTRIBUTION = "distribution"
RUNTIME = "interpreter"
BUNDLED = "built into the interpreter"
SYSTEM_LIBRARY = "system library"
LOWER_LAYER = "layer below"
FROM_LOWER_LAYER = "from a layer below"


@dataclass(frozen=True)
class PatchText:
    """One patch applied to a component's source, with its text when recorded."""

    path: str  # as the SBOM names it: relative to the spec's folder (or patches folder)
    text: str  # the diff; "" when the SBOM records the patch without its text
    sha256: str = ""  # as the SBOM's ``srcstacks:patch:<path>:sha256`` records it


@dataclass(frozen=True)
class BuildTools:
    """The build environment behind one wheel, as its provenance record holds it."""

    # None: no record says (no provenance entry, or one without a build environment).
    environment: BuildEnvironment | None
    # True when the record says the wheel is an upstream binary: nothing was built here.
    upstream_binary: bool = False

    @property
    def recorded(self) -> bool:
        """False when no record says which tools built the wheel."""
        return self.environment is not None

    @property
    def source(self) -> str:
        """Where the page learnt it: ``provenance``, ``not recorded`` or not built here."""
        if self.upstream_binary:
            return NOT_BUILT_HERE
        return FROM_PROVENANCE if self.recorded else NOT_RECORDED


NOT_RECORDED = "not recorded"
FROM_PROVENANCE = "provenance"
NOT_BUILT_HERE = "not built here (upstream binary)"
BUILT_HERE = "built from source"


@dataclass(frozen=True)
class WheelOrigin:
    """Where one wheel came from, as its provenance record (``read_manifest``) says."""

    recorded: bool  # False: the wheel has no provenance record
    upstream: UpstreamRecord | None = None  # set only for an upstream binary
    sha256: str = ""  # the wheel's, as its record has it
    sdist: tuple[str, str] | None = None  # built here: the sdist's file name and sha256

    @property
    def label(self) -> str:
        """``built from source``, ``upstream binary from <index>`` or ``not recorded``."""
        if not self.recorded:
            return NOT_RECORDED
        if self.upstream is None:
            return BUILT_HERE
        return f"upstream binary from {self.upstream.index_url}"

    @property
    def details(self) -> tuple[str, ...]:
        """What the page shows below the label: for an upstream binary, the file URL and
        sha256 its index published; for a wheel built here, its sha256 and its sdist's."""
        if self.upstream is not None:
            return (f"file: {self.upstream.url}", f"sha256: {self.upstream.sha256}")
        found = [f"wheel sha256: {self.sha256}"] if self.sha256 else []
        if self.sdist is not None:
            found.append(f"sdist {self.sdist[0]} sha256: {self.sdist[1]}")
        return tuple(found)


@dataclass(frozen=True)
class Component:
    """One component of a layer's SBOM (nested ones included, flattened)."""

    name: str
    version: str
    kind: str  # one of the kinds above
    licences: tuple[str, ...]
    supplier: str
    origin: str  # sdist URL, runtime origin, bundled source folder, providing layer, ...
    description: str
    wheel: str  # the wheel file name, "" for anything but a distribution
    patches: tuple[PatchText, ...]
    system_libraries: tuple[str, ...]  # sonames its files load from the deploying machine
    build: BuildTools | None  # for distributions only
    wheel_origin: WheelOrigin | None  # for distributions only
    node: str  # graph node id, "" when the component is not drawn
    # What its wheel lacks of the upstream binary of its version (``srcstacks:degraded``).
    degraded: str = ""


@dataclass(frozen=True)
class SystemLibraryNeed:
    """A shared library a layer loads from the machine it is deployed on."""

    soname: str
    needed_by: tuple[str, ...]  # component names
    build_machine_package: str  # what provided it where the layer was built, "" if unknown


@dataclass(frozen=True)
class Layer:
    """One layer archive and what its SBOM says it holds."""

    name: str  # venvstacks' install target, e.g. "framework-web"
    kind: str  # runtime, framework or application
    archive: str
    archive_sha256: str
    sbom_file: str
    sbom_serial: str
    sbom_profiles: tuple[str, ...]  # the profiles `sbom check` finds it meets
    attestation: str  # one line: signed by which key, or why not (report/attestation.py)
    depends_on: tuple[str, ...]  # install targets of the layers directly below
    components: tuple[Component, ...]
    system_libraries: tuple[SystemLibraryNeed, ...]
    node: str  # graph node id of the layer itself


@dataclass(frozen=True)
class GraphNode:
    """A box in the dependency picture."""

    node: str  # id, "n<number>": never text from a file
    label: str
    layer: str  # the layer whose column holds it
    is_layer: bool  # the layer's own header box
    upstream: bool = False  # a wheel taken as an upstream binary (drawn dashed)
    patched: bool = False  # built from patched source (drawn with a thick border)


@dataclass(frozen=True)
class GraphEdge:
    """An arrow from a component (or layer) to what it needs."""

    source: str
    target: str
    between_layers: bool  # layer stacking rather than a requirement


@dataclass(frozen=True)
class Graph:
    """The dependency graph: layers as columns, packages as boxes."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]


@dataclass(frozen=True)
class VerifyOutcome:
    """What ``srcstacks verify`` found when the report ran it (or that it did not run)."""

    ran: bool
    problems: tuple[str, ...] = ()
    summary: str = ""

    @property
    def ok(self) -> bool:
        """True when verify ran and found nothing wrong."""
        return self.ran and not self.problems


@dataclass(frozen=True)
class LayerElsewhere:
    """A layer whose ``platforms`` leave out this machine's: locked here, built elsewhere."""

    name: str  # the deployed folder, e.g. "app-win-only"
    kind: str  # runtime, framework or application
    platforms: tuple[str, ...]  # () : venvstacks builds it nowhere
    lock_file: str  # relative to the spec's folder; "" when not locked yet


@dataclass(frozen=True)
class OtherPlatformRequirement:
    """A requirement whose marker is true only on platforms this machine does not build."""

    layer: str  # the deployed folder of the layer that declares it
    requirement: str  # as the spec writes it, marker included
    wheels: tuple[str, ...]  # the wheel dir's wheels of it (collected from other hosts)


@dataclass(frozen=True)
class StackReport:
    """Everything the page shows."""

    spec_name: str
    variant: str
    tools: tuple[tuple[str, str], ...]  # name, version: what build.json records
    provenance_sha256: str
    layers: tuple[Layer, ...]
    graph: Graph
    verify: VerifyOutcome
    build_platform: str = ""  # the platform this machine builds archives for
    layers_elsewhere: tuple[LayerElsewhere, ...] = ()
    other_platform_requirements: tuple[OtherPlatformRequirement, ...] = ()
    mode: str = "full"  # [tool.srcstacks] mode: "full" or "selective"
    build_from_source: tuple[str, ...] = ()  # selective mode: projects always built here
    parity: str = "report"  # [tool.srcstacks] parity: "report", "require" or "off"
    parity_exceptions: tuple[str, ...] = ()
    spec_sha256: str = ""  # of the spec file as it is when the report is made
    # The host that built the wheels, as their records name it (SRCSTACKS_BUILD_HOST,
    # opt-in) and the platform the archives are for; never this machine's own name, so
    # the page is the same bytes wherever it is made.
    made_on: str = ""
    made_at: str = ""  # the SBOMs' latest timestamp: when the layers were locked
