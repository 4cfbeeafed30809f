"""BOM-Links from an upper layer's SBOM into the SBOMs of the layers below it.

An application's ``jinja2`` needs ``markupsafe``, which the framework layer's archive
holds, not the application's. The application's SBOM must keep that edge without
claiming to contain markupsafe, so it points at the framework's SBOM: by BOM-Link
(``urn:cdx:<serial>/<version>#<bom-ref>``, CycloneDX's registered URN for an element of
another BOM) and by the sha256 of that SBOM file, which pins the exact document.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cyclonedx.exception import CycloneDxException
from cyclonedx.model import (
    AttachedText,
    ExternalReference,
    ExternalReferenceType,
    XsUri,
)
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.contact import OrganizationalContact, OrganizationalEntity
from cyclonedx.model.license import (
    DisjunctiveLicense,
    License,
    LicenseAcknowledgement,
    LicenseExpression,
)
from packageurl import PackageURL
from packaging.utils import canonicalize_name

from srcstacks.errors import SbomError
from srcstacks.fsutil import sha256_bytes
from srcstacks.sbom.components import NS, hashes, properties_of


@dataclass(frozen=True)
class LinkedComponent:
    """A top-level component of a lower layer's SBOM, as an upper layer refers to it.

    The upper layer copies what a referenced component must carry (BSI TR-03183-2: its
    creator; NTIA: its supplier) and its licenses, read from that SBOM.
    """

    bom_ref: str
    name: str
    version: str
    purl: str | None
    sha256: str | None
    sha512: str | None = None
    supplier: OrganizationalEntity | None = None
    manufacturer: OrganizationalEntity | None = None
    licenses: tuple[License, ...] = ()
    authors: tuple[OrganizationalContact, ...] = ()
    copyright: str | None = None
    # The properties a stub keeps: bsi:component:*, and srcstacks:system_library:* (a
    # system library is named, not delivered, wherever it is described).
    bsi_properties: tuple[tuple[str, str], ...] = ()
    type: str = "library"  # its CycloneDX component type (CPython: "platform")
    cpe: str | None = None  # what vulnerability scanners match (CPython, its bundled code)
    nested: tuple[LinkedComponent, ...] = ()  # the components nested in it (bundled code)


_KEPT_PROPERTIES = ("bsi:component:", f"{NS}:system_library:")


@dataclass(frozen=True)
class LayerSbom:
    """A lower layer's SBOM file: its identity and the distributions it describes."""

    path: Path
    file_sha256: str
    serial: str  # the UUID alone, without "urn:uuid:"
    version: int
    layer: LinkedComponent  # its metadata.component: the layer archive itself
    layer_type: str  # the CycloneDX component type of that layer
    libraries: dict[str, LinkedComponent]  # canonical project name -> component
    # The interpreter a runtime layer's SBOM describes (CPython, with its bundled code
    # nested), which every layer above names too: a scanner given one SBOM alone must
    # still find CPython's, expat's or OpenSSL's vulnerabilities.
    platforms: tuple[LinkedComponent, ...] = ()

    @property
    def document_link(self) -> str:
        """BOM-Link to the whole document: ``urn:cdx:<serial>/<version>``."""
        return f"urn:cdx:{self.serial}/{self.version}"

    def element_link(self, bom_ref: str) -> str:
        """BOM-Link to one element; the bom-ref (a purl here) is percent-encoded."""
        return f"{self.document_link}#{quote(bom_ref, safe='')}"


def read_layer_sbom(path: Path, text: bytes | None = None) -> LayerSbom:
    """Read a layer SBOM written by srcstacks (``text``: its bytes, when known, in place
    of the file's); a missing or foreign one is an error."""
    try:
        data = path.read_bytes() if text is None else text
        document = json.loads(data)
        serial = str(document["serialNumber"]).removeprefix("urn:uuid:")
        layer = _linked(document["metadata"]["component"])
        layer_type = str(document["metadata"]["component"]["type"])
        components = document.get("components", [])
        libraries: dict[str, LinkedComponent] = {
            canonicalize_name(component["name"]): _linked(component)
            for component in components
            if component.get("type") == "library"
        }
        platforms = tuple(
            _linked(component)
            for component in components
            if component.get("type") == "platform" and not _links_elsewhere(component)
        )
        return LayerSbom(
            path=path,
            file_sha256=sha256_bytes(data),
            serial=serial,
            version=int(document.get("version", 1)),
            layer=layer,
            layer_type=layer_type,
            libraries=libraries,
            platforms=platforms,
        )
    except FileNotFoundError:
        raise SbomError(
            f"{path}: the SBOM of a lower layer is missing (run 'srcstacks sbom')"
        ) from None
    # CycloneDxException: a URL or license there that CycloneDX does not accept.
    except (OSError, ValueError, KeyError, TypeError, CycloneDxException) as exc:
        raise SbomError(f"{path}: unreadable layer SBOM: {exc}") from None


def _links_elsewhere(component: dict[str, Any]) -> bool:
    """True for a component that is itself a link to another SBOM (a layer below)."""
    return any(ref.get("type") == "bom" for ref in component.get("externalReferences", []))


def _linked(component: dict[str, Any]) -> LinkedComponent:
    digests = {item["alg"]: item["content"] for item in component.get("hashes", [])}
    return LinkedComponent(
        bom_ref=str(component["bom-ref"]),
        name=str(component["name"]),
        version=str(component.get("version", "")),
        purl=component.get("purl"),
        sha256=digests.get("SHA-256"),
        sha512=digests.get("SHA-512"),
        supplier=entity_from_json(component.get("supplier")),
        manufacturer=entity_from_json(component.get("manufacturer")),
        licenses=tuple(license_from_json(item) for item in component.get("licenses", [])),
        authors=tuple(_contact(item) for item in component.get("authors", [])),
        copyright=component.get("copyright"),
        bsi_properties=tuple(
            (str(item["name"]), str(item["value"]))
            for item in component.get("properties", [])
            if str(item.get("name", "")).startswith(_KEPT_PROPERTIES)
        ),
        type=str(component.get("type", "library")),
        cpe=component.get("cpe"),
        nested=tuple(_linked(item) for item in component.get("components", [])),
    )


def lower_layer_component(lower: LayerSbom, stubs: Iterable[Component]) -> Component:
    """A layer below this one, described by its own SBOM, which this one links to.

    Its bom-ref is local (the bom-ref it has in its own SBOM); its ``bom`` external
    reference holds the BOM-Link of that document. The distributions of it that this
    layer's dependency graph reaches are nested in it (:func:`linked_stub`).
    """
    layer = lower.layer
    return Component(
        type=ComponentType(lower.layer_type),
        name=layer.name,
        version=layer.version,
        bom_ref=layer.bom_ref,
        external_references=[ExternalReference(
            type=ExternalReferenceType.BOM, url=XsUri(lower.document_link),
            hashes=hashes(lower.file_sha256), comment=f"SBOM file {lower.path.name}",
        )],
        components=stubs,
        **_linked_fields(layer),
        properties=properties_of(
            {f"{NS}:sbom_file": lower.path.name, **dict(layer.bsi_properties)}
        ),
    )  # fmt: skip


def linked_stub(lower: LayerSbom, linked: LinkedComponent) -> Component:
    """A distribution (or the interpreter) a lower layer provides: its identity (CPE
    too), supplier and licenses copied from that layer's SBOM, with the BOM-Link to its
    component there as a ``bom`` external reference (the bom-ref stays local: the one it
    has there), and what is nested in it there, as stubs too."""
    return Component(
        type=ComponentType(linked.type),
        name=linked.name,
        version=linked.version,
        bom_ref=linked.bom_ref,
        cpe=linked.cpe,
        components=[linked_stub(lower, nested) for nested in linked.nested],
        external_references=[ExternalReference(
            type=ExternalReferenceType.BOM, url=XsUri(lower.element_link(linked.bom_ref)),
            hashes=hashes(lower.file_sha256), comment=f"component in SBOM file {lower.path.name}",
        )],
        **_linked_fields(linked),
        properties=properties_of(
            {f"{NS}:provided_by": lower.layer.name, **dict(linked.bsi_properties)}
        ),
    )  # fmt: skip


def _linked_fields(linked: LinkedComponent) -> dict[str, Any]:
    """The fields a component of a lower layer's SBOM keeps when this one refers to it."""
    return {
        "purl": PackageURL.from_string(linked.purl) if linked.purl else None,
        "hashes": hashes(linked.sha256, linked.sha512),
        "supplier": linked.supplier,
        "manufacturer": linked.manufacturer,
        "licenses": linked.licenses,
        "authors": linked.authors,
        "copyright": linked.copyright,
    }


def entity_from_json(data: Any) -> OrganizationalEntity | None:
    """An organisation as another SBOM wrote it (name, url, contact)."""
    if not data:
        return None
    if not isinstance(data, Mapping):
        raise TypeError(f"an organisation is an object, not {data!r}")
    contacts = [_contact(item) for item in data.get("contact", [])]
    urls = [XsUri(url) for url in data.get("url", [])]
    return OrganizationalEntity(name=data.get("name"), urls=urls, contacts=contacts)


def _contact(item: Any) -> OrganizationalContact:
    if not isinstance(item, Mapping):
        raise TypeError(f"a contact is an object, not {item!r}")
    return OrganizationalContact(
        name=item.get("name"), email=item.get("email"), phone=item.get("phone")
    )


def license_from_json(item: Any) -> License:
    """A license entry as another SBOM wrote it."""
    if not isinstance(item, Mapping):
        raise TypeError(f"a license entry is an object, not {item!r}")
    ack = item.get("acknowledgement") or item.get("license", {}).get("acknowledgement")
    acknowledgement = LicenseAcknowledgement(ack) if ack else None
    if "expression" in item:
        return LicenseExpression(item["expression"], acknowledgement=acknowledgement)
    data = item["license"]
    text = AttachedText(content=data["text"]["content"]) if "text" in data else None
    if "id" in data:
        return DisjunctiveLicense(id=data["id"], text=text, acknowledgement=acknowledgement)
    return DisjunctiveLicense(name=data["name"], text=text, acknowledgement=acknowledgement)
