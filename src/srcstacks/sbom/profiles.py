"""The fields each SBOM standard requires, as checks on a CycloneDX JSON document.

Four profiles, from the least to the most demanding (``sbom check --profile``):

- ``ntia``: NTIA's 2021 minimum elements: supplier name, component name, version, other
  unique identifiers, dependency relationship, author of the SBOM data, timestamp.
- ``cisa``: CISA's 2024 "Framing Software Component Transparency" (third edition)
  minimum expectations: NTIA's, plus the primary component, a cryptographic hash of
  every component, relationship completeness (``compositions``) for the primary
  component, and a license and copyright notice of the primary component.
- ``bsi``: BSI TR-03183-2 v2.0.0's required fields (5.2) and the additional ones that
  exist here (5.3): the SBOM creator's and each component creator's email or URL, a
  timestamp, the SBOM-URI (``serialNumber``), per component name, version, filename,
  dependencies with their completeness, licenses as SPDX identifiers or expressions, a
  SHA-512 of the deployable form, the ``bsi:component:executable``/``archive``/
  ``structured`` properties, and another unique identifier (purl, cpe or swid).
- ``cra``: the EU Cyber Resilience Act (Regulation 2024/2847) for which TR-03183-2 is
  the technical guideline: BSI's fields, plus the manufacturer's name and contact
  (Annex II 1) and the single point of contact for vulnerabilities (Annex II 2), as a
  ``security-contact`` (or RFC 9116 ``security.txt``) reference of the product.

Reads nothing: it is given the parsed document. Each missing field is a
:class:`Missing` naming the component, the field and its JSON path.

Not every component carries every field. A component whose record is another SBOM,
linked by BOM-Link (a ``bom`` external reference, or a nested component whose
``bom-ref`` is a BOM-Link into it) needs only name, version and identifier here: its
supplier, licenses, hashes and file properties are in that SBOM, which ``sbom check``
checks on its own. A system library nested in a CPython srcstacks built is not in the
archive (``srcstacks:system_library:location``): it is named, not delivered, so it needs
a name, its place in the graph and a version (none when the build machine could not name
its package), not a supplier, hash, license or file properties of srcstacks'.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

PROFILES = ("ntia", "cisa", "bsi", "cra")  # least to most demanding
STANDARDS = {
    "ntia": "NTIA minimum elements (2021)",
    "cisa": "CISA Framing Software Component Transparency (2024)",
    "bsi": "BSI TR-03183-2 v2.0.0",
    "cra": "EU Cyber Resilience Act (BSI TR-03183-2 fields + manufacturer, security contact)",
}
ALL = frozenset(PROFILES)
BSI = frozenset({"bsi", "cra"})
BSI_VALUES = {
    "bsi:component:executable": ("executable", "non-executable"),
    "bsi:component:archive": ("archive", "no archive"),
    "bsi:component:structured": ("structured", "unstructured"),
}
SYSTEM_LIBRARY_LOCATION = "srcstacks:system_library:location"
SYSTEM_LIBRARY_PACKAGE = "srcstacks:system_library:build_machine_package"
SYSTEM_LIBRARY_SONAME = "srcstacks:system_library:soname"
_STRONG_HASHES = {"SHA-256", "SHA-384", "SHA-512", "SHA3-256", "SHA3-384", "SHA3-512", "BLAKE3"}


@dataclass(frozen=True)
class Missing:
    """One required field a document lacks."""

    where: str  # "document", or the component ("jinja2 3.1.6")
    field: str  # what is missing ("supplier name")
    path: str  # its JSON path ("$.components[2].supplier.name")

    def __str__(self) -> str:
        return f"{self.where}: missing {self.field} ({self.path})"


@dataclass(frozen=True)
class _Component:
    """A component of the document, where it is, and what kind of record it is."""

    data: dict[str, Any]
    path: str
    root: bool  # metadata.component, the SBOM's primary component
    linked: bool  # described by another SBOM (BOM-Link)
    outside: bool  # a system library, not in the archive

    @property
    def label(self) -> str:
        name = f"{self.data.get('name', '?')} {self.data.get('version', '?')}"
        return f"metadata.component {name}" if self.root else name


@dataclass(frozen=True)
class _Graph:
    """What the document's ``dependencies`` and ``compositions`` say."""

    refs: frozenset[str]  # components with an entry of their own
    related: frozenset[str]  # those, and the components some entry depends on
    completeness: frozenset[str]  # components a composition declares the completeness of


# A component rule: the profiles that require it, and the paths it finds missing.
_Rule = tuple[frozenset[str], str, Callable[[_Component, _Graph], list[str]]]


def profile_problems(document: dict[str, Any], profile: str) -> list[Missing]:
    """Every field ``profile`` requires that ``document`` lacks."""
    return problems_by_profile(document)[profile]


def profiles_met(document: dict[str, Any]) -> tuple[str, ...]:
    """The profiles ``document`` meets, least demanding first."""
    found = problems_by_profile(document)
    return tuple(profile for profile in PROFILES if not found[profile])


def problems_by_profile(document: dict[str, Any]) -> dict[str, list[Missing]]:
    """What ``document`` lacks for each profile, in one walk (each rule asked once)."""
    graph = _graph(document)
    found: dict[str, list[Missing]] = {profile: [] for profile in PROFILES}
    for profiles, field, check in _DOCUMENT_RULES:
        missing = [Missing("document", field, path) for path in check(document, graph)]
        for profile in profiles:
            found[profile].extend(missing)
    for component in _components(document):
        for profiles, field, rule in _component_rules(component):
            paths = rule(component, graph)
            if not paths:
                continue
            missing = [Missing(component.label, field, path) for path in paths]
            for profile in profiles:
                found[profile].extend(missing)
    return found


# -- the document ----------------------------------------------------------------------


def _metadata(document: dict[str, Any]) -> dict[str, Any]:
    return _object(document.get("metadata"))


def _needs(found: bool, path: str) -> list[str]:
    return [] if found else [path]


def _timestamp(document: dict[str, Any], graph: _Graph) -> list[str]:
    return _needs(bool(_metadata(document).get("timestamp")), "$.metadata.timestamp")


def _sbom_author(document: dict[str, Any], graph: _Graph) -> list[str]:
    metadata = _metadata(document)
    named = any(item.get("name") for item in _objects(metadata.get("authors"))) or any(
        _object(metadata.get(key)).get("name") for key in ("supplier", "manufacturer")
    )
    return _needs(named, "$.metadata.authors[].name")


def _sbom_creator_contact(document: dict[str, Any], graph: _Graph) -> list[str]:
    metadata = _metadata(document)
    found = any(item.get("email") for item in _objects(metadata.get("authors"))) or any(
        _party_contact(_object(metadata.get(key))) for key in ("supplier", "manufacturer")
    )
    return _needs(found, "$.metadata.authors[].email")


def _serial_number(document: dict[str, Any], graph: _Graph) -> list[str]:
    return _needs(bool(document.get("serialNumber")), "$.serialNumber")


def _primary(document: dict[str, Any], graph: _Graph) -> list[str]:
    return _needs(bool(_object(_metadata(document).get("component"))), "$.metadata.component")


def _primary_completeness(document: dict[str, Any], graph: _Graph) -> list[str]:
    root = _object(_metadata(document).get("component"))
    declared = bool(root) and str(root.get("bom-ref")) in graph.completeness
    return _needs(declared, "$.compositions[].assemblies")


def _manufacturer_name(document: dict[str, Any], graph: _Graph) -> list[str]:
    return _needs(
        bool(_object(_metadata(document).get("manufacturer")).get("name")),
        "$.metadata.manufacturer.name",
    )


def _manufacturer_contact(document: dict[str, Any], graph: _Graph) -> list[str]:
    manufacturer = _object(_metadata(document).get("manufacturer"))
    return _needs(_party_contact(manufacturer), "$.metadata.manufacturer.contact[].email")


def _security_contact(document: dict[str, Any], graph: _Graph) -> list[str]:
    root = _object(_metadata(document).get("component"))
    found = any(
        reference.get("type") in ("security-contact", "rfc-9116") and reference.get("url")
        for reference in _objects(root.get("externalReferences"))
    )
    return _needs(found, "$.metadata.component.externalReferences[type=security-contact]")


_DocumentRule = tuple[frozenset[str], str, Callable[[dict[str, Any], _Graph], list[str]]]
_DOCUMENT_RULES: tuple[_DocumentRule, ...] = (
    (ALL, "timestamp", _timestamp),
    (ALL, "primary component (what the SBOM describes)", _primary),
    (frozenset({"ntia", "cisa"}), "SBOM author name", _sbom_author),
    (BSI, "SBOM creator email or URL", _sbom_creator_contact),
    (BSI, "SBOM-URI (serialNumber)", _serial_number),
    (frozenset({"cisa", "bsi", "cra"}), "dependency completeness of the primary component",
     _primary_completeness),
    (frozenset({"cra"}), "manufacturer name", _manufacturer_name),
    (frozenset({"cra"}), "manufacturer email or URL", _manufacturer_contact),
    (frozenset({"cra"}), "security contact (where vulnerabilities are reported)",
     _security_contact),
)  # fmt: skip


# -- each component --------------------------------------------------------------------


def _field(key: str) -> Callable[[_Component, _Graph], list[str]]:
    def check(component: _Component, graph: _Graph) -> list[str]:
        return _needs(bool(component.data.get(key)), f"{component.path}.{key}")

    return check


def _identifier(component: _Component, graph: _Graph) -> list[str]:
    found = any(component.data.get(key) for key in ("purl", "cpe", "swid"))
    return _needs(found, f"{component.path}.purl")


def _supplier_name(component: _Component, graph: _Graph) -> list[str]:
    return _needs(
        bool(_object(component.data.get("supplier")).get("name")), f"{component.path}.supplier.name"
    )


def _creator_contact(component: _Component, graph: _Graph) -> list[str]:
    data = component.data
    found = any(item.get("email") for item in _objects(data.get("authors"))) or any(
        _party_contact(_object(data.get(key))) for key in ("supplier", "manufacturer")
    )
    return _needs(found, f"{component.path}.supplier.url")


def _relationship(component: _Component, graph: _Graph) -> list[str]:
    ref = str(component.data.get("bom-ref"))
    # The primary component needs an entry listing what it depends on; any other is
    # related when it has an entry or something depends on it ("X is included in Y").
    related = ref in (graph.refs if component.root else graph.related)
    return _needs(related, f"$.dependencies[ref={ref}]")


def _any_hash(component: _Component, graph: _Graph) -> list[str]:
    found = any(str(item.get("alg")) in _STRONG_HASHES for item in _hashes(component.data))
    return _needs(found, f"{component.path}.hashes")


def _sha512(component: _Component, graph: _Graph) -> list[str]:
    found = any(
        item.get("alg") == "SHA-512" and item.get("content") for item in _hashes(component.data)
    )
    return _needs(found, f"{component.path}.hashes[alg=SHA-512]")


def _any_license(component: _Component, graph: _Graph) -> list[str]:
    return _needs(bool(_objects(component.data.get("licenses"))), f"{component.path}.licenses")


def _spdx_license(component: _Component, graph: _Graph) -> list[str]:
    """BSI 5.2.2: licenses as SPDX identifiers or expressions (``LicenseRef-`` for one
    that has none); a free-text name such as "BSD License" is not one."""
    found = False
    for item in _objects(component.data.get("licenses")):
        license_ = _object(item.get("license"))
        name = str(license_.get("name", ""))
        if item.get("expression") or license_.get("id") or name.startswith("LicenseRef-"):
            found = True
    return _needs(found, f"{component.path}.licenses[].license.id")


def _bsi_property(name: str) -> Callable[[_Component, _Graph], list[str]]:
    allowed = BSI_VALUES.get(name)

    def check(component: _Component, graph: _Graph) -> list[str]:
        values = [
            str(item.get("value", ""))
            for item in _objects(component.data.get("properties"))
            if item.get("name") == name
        ]
        ok = len(values) == 1 and bool(values[0]) and (allowed is None or values[0] in allowed)
        return _needs(ok, f"{component.path}.properties[name={name}]")

    return check


def _component_rules(component: _Component) -> list[_Rule]:
    if component.outside:  # named, not delivered: no supplier, hash or license of ours
        rules_outside: list[_Rule] = [
            (ALL, "name", _field("name")),
            (ALL, "dependency relationship", _relationship),
        ]
        if not _unidentified_system_library(component.data):
            rules_outside.append((ALL, "version", _field("version")))
        return rules_outside
    rules: list[_Rule] = [
        (ALL, "name", _field("name")),
        (ALL, "version", _field("version")),
        (ALL, "unique identifier (purl, cpe or swid)", _identifier),
        (ALL, "dependency relationship", _relationship),
    ]
    if component.linked:  # its other fields are in the SBOM it links to
        return rules
    rules += [
        (frozenset({"ntia", "cisa"}), "supplier name", _supplier_name),
        (frozenset({"cisa"}), "cryptographic hash", _any_hash),
        (BSI, "component creator email or URL", _creator_contact),
        (BSI, "SHA-512 hash of the deployable form", _sha512),
        (BSI, "license as an SPDX identifier or expression", _spdx_license),
        *((BSI, f"property {name}", _bsi_property(name))
          for name in ("bsi:component:filename", *BSI_VALUES)),
    ]  # fmt: skip
    if component.root:  # CISA asks these of the primary component only
        rules += [
            (frozenset({"cisa"}), "license", _any_license),
            (frozenset({"cisa"}), "copyright notice", _field("copyright")),
        ]
    return rules


def _components(document: dict[str, Any]) -> Iterator[_Component]:
    """Every component, nested ones included, with its JSON path."""
    root = _object(_metadata(document).get("component"))
    if root:
        yield _Component(root, "$.metadata.component", True, False, False)
    # What is nested in the primary component is part of the document too (a wheel's own
    # SBOM nests the code it vendors and the crates compiled into it there).
    within_root = root.get("components") if root else None
    pending = deque(
        [
            *((item, f"$.metadata.component.components[{index}]", False)
              for index, item in enumerate(within_root if isinstance(within_root, list) else [])
              if isinstance(item, dict)),
            *((item, f"$.components[{index}]", False)
              for index, item in enumerate(document.get("components") or [])
              if isinstance(item, dict)),
        ]
    )  # fmt: skip
    while pending:
        data, path, in_linked = pending.popleft()
        linked = in_linked or _links_a_bom(data)
        outside = any(
            item.get("name") == SYSTEM_LIBRARY_LOCATION for item in _objects(data.get("properties"))
        )
        yield _Component(data, path, False, linked, outside)
        nested = data.get("components")
        for index, item in enumerate(nested if isinstance(nested, list) else []):
            if isinstance(item, dict):
                pending.append((item, f"{path}.components[{index}]", linked))


def _unidentified_system_library(data: dict[str, Any]) -> bool:
    """A system library whose package the build machine could not name: named by its
    soname, without purl or version (there is none to give)."""
    properties = {
        str(item.get("name")): item.get("value") for item in _objects(data.get("properties"))
    }
    return (
        properties.get(SYSTEM_LIBRARY_PACKAGE) == "unknown"
        and properties.get(SYSTEM_LIBRARY_SONAME) == data.get("name")
        and not data.get("purl")
    )


def _links_a_bom(data: dict[str, Any]) -> bool:
    return any(
        reference.get("type") == "bom" for reference in _objects(data.get("externalReferences"))
    ) or str(data.get("bom-ref", "")).startswith("urn:cdx:")


def _graph(document: dict[str, Any]) -> _Graph:
    refs: set[str] = set()
    targets: set[str] = set()
    complete: set[str] = set()
    for entry in _objects(document.get("dependencies")):
        refs.add(str(entry.get("ref")))
        depends = entry.get("dependsOn")
        targets.update(str(item) for item in (depends if isinstance(depends, list) else []))
    for composition in _objects(document.get("compositions")):
        if not composition.get("aggregate"):
            continue
        for key in ("assemblies", "dependencies"):
            listed = composition.get(key)
            complete.update(str(item) for item in (listed if isinstance(listed, list) else []))
    return _Graph(frozenset(refs), frozenset(refs | targets), frozenset(complete))


def _party_contact(party: dict[str, Any]) -> bool:
    """An organisation with a URL, or a contact with an email address."""
    urls = party.get("url")
    return bool(urls) or any(item.get("email") for item in _objects(party.get("contact")))


def _hashes(data: dict[str, Any]) -> list[dict[str, Any]]:
    """A component's hashes, and those of its ``distribution`` references (its
    deployable form, where a document puts them there)."""
    found = _objects(data.get("hashes"))
    for reference in _objects(data.get("externalReferences")):
        if reference.get("type") in ("distribution", "distribution-intake"):
            found += _objects(reference.get("hashes"))
    return found


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
