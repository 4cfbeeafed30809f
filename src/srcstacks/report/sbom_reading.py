"""Read one layer's CycloneDX SBOM into the report's components.

Reads nothing from disk itself: it is handed the parsed JSON of a document written by
``srcstacks sbom`` (``<archive>.cdx.json``). It flattens nested components (the code
built into CPython, the system libraries it loads, the distributions a layer below
provides) and keeps every component, so the page lists all of them. It accepts both
forms of a lower-layer reference: a ``bom-ref`` that is itself a BOM-Link, or a local
``bom-ref`` whose ``bom`` external reference holds the BOM-Link.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from srcstacks.report.model import (
    BUNDLED,
    DISTRIBUTION,
    FROM_LOWER_LAYER,
    LOWER_LAYER,
    RUNTIME,
    SYSTEM_LIBRARY,
    BuildTools,
    Component,
    PatchText,
    SystemLibraryNeed,
    WheelOrigin,
)
from srcstacks.sbom.check import parsed_schema_problems
from srcstacks.sbom.profiles import profiles_met

SYSTEM_LIBRARIES = "srcstacks:system_libraries"
BOM_LINK_PREFIX = "urn:cdx:"
LAYER_TYPES = ("platform", "framework", "application")  # CycloneDX types of layer components


class WheelRecords(Protocol):
    """Finds a wheel's build tools and origin by its file name (its provenance record)."""

    def tools_for(self, wheel: str) -> BuildTools: ...

    def origin_for(self, wheel: str) -> WheelOrigin: ...


@dataclass(frozen=True)
class RawComponent:
    """A component as found in the document, with where it sits."""

    data: dict[str, Any]
    kind: str
    parent: dict[str, Any] | None


@dataclass(frozen=True)
class SbomDocument:
    """One parsed SBOM: its BOM-Link serial, the layer's ref, components and graph."""

    serial: str  # the uuid of ``urn:uuid:<uuid>``
    layer_ref: str
    components: tuple[RawComponent, ...]
    dependencies: tuple[tuple[str, tuple[str, ...]], ...]  # ref -> dependsOn
    layer_system_libraries: tuple[str, ...]
    profiles: tuple[str, ...] = ()  # the minimum-element profiles the document meets
    timestamp: str = ""  # metadata.timestamp: when the layer was locked, reproducibly


def parse_document(data: Any, where: str) -> SbomDocument:
    """The parts of a CycloneDX document the report uses; ValueError names what is wrong."""
    if not isinstance(data, dict) or data.get("bomFormat") != "CycloneDX":
        raise ValueError(f"{where}: not a CycloneDX document")
    metadata = _mapping(data.get("metadata"))
    layer = _mapping(metadata.get("component"))
    serial = str(data.get("serialNumber", "")).removeprefix("urn:uuid:")
    components = tuple(_walk(_list(data.get("components")), None))
    dependencies = tuple(
        (
            str(entry.get("ref", "")),
            tuple(str(target) for target in _list(entry.get("dependsOn"))),
        )
        for entry in map(_mapping, _list(data.get("dependencies")))
    )
    return SbomDocument(
        serial=serial,
        layer_ref=str(layer.get("bom-ref", "")),
        components=components,
        dependencies=dependencies,
        layer_system_libraries=_sonames(layer),
        # As `sbom check` judges: a document that breaks the schema meets no profile.
        profiles=() if parsed_schema_problems(data) else profiles_met(data),
        timestamp=str(metadata.get("timestamp", "")),
    )


def _walk(items: list[Any], parent: dict[str, Any] | None) -> Iterator[RawComponent]:
    for item in map(_mapping, items):
        yield RawComponent(item, _kind(item, parent), parent)
        yield from _walk(_list(item.get("components")), item)


def _kind(item: dict[str, Any], parent: dict[str, Any] | None) -> str:
    props = properties(item)
    if parent is None:
        if any(name.startswith("srcstacks:runtime:") for name in props):
            return RUNTIME
        # A layer's component: a wheel's own SBOM may be linked from a distribution too.
        if "srcstacks:sbom_file" in props or (
            item.get("type") in LAYER_TYPES and bom_link_of(item)
        ):
            return LOWER_LAYER
        return DISTRIBUTION
    if "srcstacks:provided_by" in props or _kind(parent, None) == LOWER_LAYER:
        return FROM_LOWER_LAYER
    if "srcstacks:system_library:soname" in props:
        return SYSTEM_LIBRARY
    return BUNDLED


def to_component(raw: RawComponent, node: str, records: WheelRecords) -> Component:
    """The page's view of one component."""
    item, props = raw.data, properties(raw.data)
    name, version = str(item.get("name", "")), str(item.get("version", ""))
    distribution = raw.kind == DISTRIBUTION
    wheel = props.get("srcstacks:wheel", "") if distribution else ""
    wheel_origin = records.origin_for(wheel) if distribution else None
    origin = _origin(raw, props)
    if not origin and wheel_origin is not None and wheel_origin.upstream is not None:
        origin = wheel_origin.upstream.url  # no sdist: the wheel's own file is its source
    return Component(
        name=name,
        version=version,
        kind=raw.kind,
        licences=licences(item),
        supplier=str(_mapping(item.get("supplier")).get("name", "")),
        origin=origin,
        description=str(item.get("description", "")),
        wheel=wheel,
        patches=_patches(item, props),
        system_libraries=_sonames(item),
        build=records.tools_for(wheel) if distribution else None,
        wheel_origin=wheel_origin,
        node=node,
        degraded=props.get("srcstacks:degraded", "") if distribution else "",
    )


def system_library_needs(document: SbomDocument, layer_name: str) -> tuple[SystemLibraryNeed, ...]:
    """Every soname the layer loads from the deploying machine, and who needs it."""
    needed: dict[str, set[str]] = {}
    packages: dict[str, str] = {}
    for soname in document.layer_system_libraries:
        needed.setdefault(soname, set()).add(layer_name)
    for raw in document.components:
        if raw.kind in (LOWER_LAYER, FROM_LOWER_LAYER):
            continue  # the layer below lists its own
        props = properties(raw.data)
        if raw.kind == SYSTEM_LIBRARY:
            soname = props.get("srcstacks:system_library:soname", "")
            package = props.get("srcstacks:system_library:build_machine_package", "")
            if soname and package and package != "unknown":
                packages[soname] = package
            continue
        for soname in _sonames(raw.data):
            needed.setdefault(soname, set()).add(str(raw.data.get("name", "")))
    return tuple(
        SystemLibraryNeed(soname, tuple(sorted(users)), packages.get(soname, ""))
        for soname, users in sorted(needed.items())
    )


def licences(item: dict[str, Any]) -> tuple[str, ...]:
    """Each licence as ``id``, ``name`` or expression, with how it was found."""
    found = []
    for entry in map(_mapping, _list(item.get("licenses"))):
        licence = _mapping(entry.get("license"))
        text = entry.get("expression") or licence.get("id") or licence.get("name") or ""
        how = entry.get("acknowledgement") or licence.get("acknowledgement") or ""
        if text:
            found.append(f"{text} ({how})" if how else str(text))
    return tuple(found)


def properties(item: dict[str, Any]) -> dict[str, str]:
    """A component's properties by name (the first value of a repeated name)."""
    found: dict[str, str] = {}
    for prop in map(_mapping, _list(item.get("properties"))):
        found.setdefault(str(prop.get("name", "")), str(prop.get("value", "")))
    return found


def bom_link_of(item: dict[str, Any]) -> str:
    """The BOM-Link a component stands for: its bom-ref, or its ``bom`` reference's URL."""
    ref = str(item.get("bom-ref", ""))
    if ref.startswith(BOM_LINK_PREFIX):
        return ref
    for reference in map(_mapping, _list(item.get("externalReferences"))):
        url = str(reference.get("url", ""))
        if reference.get("type") == "bom" and url.startswith(BOM_LINK_PREFIX):
            return url
    return ""


def _origin(raw: RawComponent, props: dict[str, str]) -> str:
    item = raw.data
    if raw.kind == DISTRIBUTION:
        return _sdist_url(item)
    if raw.kind == RUNTIME:
        return props.get("srcstacks:runtime:origin", "")
    if raw.kind == LOWER_LAYER:
        return f"SBOM {props.get('srcstacks:sbom_file', bom_link_of(item))}"
    if raw.kind == FROM_LOWER_LAYER:
        parent = raw.parent or {}
        return f"layer {props.get('srcstacks:provided_by', parent.get('name', ''))}"
    if raw.kind == SYSTEM_LIBRARY:
        return "the deploying machine (not in the archive)"
    where, module = props.get("srcstacks:bundled:where", ""), props.get("srcstacks:bundled:module")
    return f"{where} (in {module})" if module else where


def _sdist_url(item: dict[str, Any]) -> str:
    references = list(map(_mapping, _list(item.get("externalReferences"))))
    for wanted in ("source-distribution", "distribution"):
        for reference in references:
            if reference.get("type") == wanted and reference.get("url"):
                return str(reference["url"])
    for ancestor in map(_mapping, _list(_mapping(item.get("pedigree")).get("ancestors"))):
        for reference in map(_mapping, _list(ancestor.get("externalReferences"))):
            if reference.get("url"):
                return str(reference["url"])
    return ""


def _patches(item: dict[str, Any], props: dict[str, str]) -> tuple[PatchText, ...]:
    found: dict[str, str] = {}
    for patch in map(_mapping, _list(_mapping(item.get("pedigree")).get("patches"))):
        diff = _mapping(patch.get("diff"))
        path = str(diff.get("url", "")) or "(unnamed patch)"
        found[path] = _text(_mapping(diff.get("text")))
    # A patch whose file changed since the build keeps only its sha256 property.
    for name in props:
        if name.startswith("srcstacks:patch:") and name.endswith(":sha256"):
            found.setdefault(name.removeprefix("srcstacks:patch:").removesuffix(":sha256"), "")
    return tuple(
        PatchText(path, text, props.get(f"srcstacks:patch:{path}:sha256", ""))
        for path, text in sorted(found.items())
    )


def _text(attachment: dict[str, Any]) -> str:
    content = str(attachment.get("content", ""))
    if attachment.get("encoding") == "base64":
        try:
            return base64.b64decode(content).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            return ""
    return content


def _sonames(item: dict[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(set(properties(item).get(SYSTEM_LIBRARIES, "").split())))


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
