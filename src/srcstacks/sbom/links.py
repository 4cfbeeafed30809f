"""BOM-Links from an upper layer's SBOM into the SBOMs of the layers below it.

An application's ``jinja2`` needs ``markupsafe``, which the framework layer's archive
holds, not the application's. The application's SBOM must keep that edge without
claiming to contain markupsafe, so it points at the framework's SBOM: by BOM-Link
(``urn:cdx:<serial>/<version>#<bom-ref>``, CycloneDX's registered URN for an element of
another BOM) and by the sha256 of that SBOM file, which pins the exact document.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from packaging.utils import canonicalize_name

from srcstacks.errors import SbomError
from srcstacks.fsutil import sha256_bytes


@dataclass(frozen=True)
class LinkedComponent:
    """A top-level component of a lower layer's SBOM, as an upper layer refers to it."""

    bom_ref: str
    name: str
    version: str
    purl: str | None
    sha256: str | None


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

    @property
    def document_link(self) -> str:
        """BOM-Link to the whole document: ``urn:cdx:<serial>/<version>``."""
        return f"urn:cdx:{self.serial}/{self.version}"

    def element_link(self, bom_ref: str) -> str:
        """BOM-Link to one element; the bom-ref (a purl here) is percent-encoded."""
        return f"{self.document_link}#{quote(bom_ref, safe='')}"


def read_layer_sbom(path: Path) -> LayerSbom:
    """Read a layer SBOM written by srcstacks; a missing or foreign one is an error."""
    try:
        data = path.read_bytes()
        document = json.loads(data)
        serial = str(document["serialNumber"]).removeprefix("urn:uuid:")
        layer = _linked(document["metadata"]["component"])
        layer_type = str(document["metadata"]["component"]["type"])
        libraries: dict[str, LinkedComponent] = {
            canonicalize_name(component["name"]): _linked(component)
            for component in document.get("components", [])
            if component.get("type") == "library"
        }
        return LayerSbom(
            path=path,
            file_sha256=sha256_bytes(data),
            serial=serial,
            version=int(document.get("version", 1)),
            layer=layer,
            layer_type=layer_type,
            libraries=libraries,
        )
    except FileNotFoundError:
        raise SbomError(
            f"{path}: the SBOM of a lower layer is missing (run 'srcstacks sbom')"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SbomError(f"{path}: unreadable layer SBOM: {exc}") from None


def _linked(component: dict[str, Any]) -> LinkedComponent:
    sha256 = next(
        (item["content"] for item in component.get("hashes", []) if item["alg"] == "SHA-256"),
        None,
    )
    return LinkedComponent(
        bom_ref=str(component["bom-ref"]),
        name=str(component["name"]),
        version=str(component.get("version", "")),
        purl=component.get("purl"),
        sha256=sha256,
    )
