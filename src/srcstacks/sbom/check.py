"""``srcstacks sbom check``: is a CycloneDX document valid, and complete for an auditor?

Three checks, every problem listed (the check does not stop at the first):

1. the official CycloneDX 1.6 JSON schema;
2. the minimum elements: NTIA's (supplier, component name, version, unique identifier,
   dependency relationships, SBOM author, timestamp) and BSI TR-03183-2's where they ask
   for more (a hash and a license for each component);
3. optionally, against the archive the SBOM describes: the archive's sha256, and every
   distribution in it has exactly one library component, and the other way round.

Works on the JSON, not on the cyclonedx-python-lib model, so hand-made or foreign SBOMs
are judged as they are written.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from srcstacks.archive_reader import ArchiveContents

_SCHEMA_ERRORS_SHOWN = 10
# Properties of a system library nested in a built CPython (srcstacks.sbom.runtime).
SYSTEM_LIBRARY_PACKAGE = "srcstacks:system_library:build_machine_package"
SYSTEM_LIBRARY_SONAME = "srcstacks:system_library:soname"


@dataclass(frozen=True)
class Problem:
    """One missing or wrong element: where it is, and what is missing."""

    where: str  # "document", "archive", or the component ("jinja2 3.1.6")
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class CheckResult:
    """The problems found in one SBOM file."""

    path: Path
    problems: list[Problem] = field(default_factory=list)
    components: int = 0
    document: dict[str, Any] | None = None  # the parsed JSON, when it could be read

    @property
    def ok(self) -> bool:
        """True when nothing required is missing."""
        return not self.problems


def check_document(path: Path, archive: ArchiveContents | None = None) -> CheckResult:
    """Check the SBOM at ``path``, and against the archive it describes when given."""
    result = CheckResult(path)
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text)
    except (OSError, ValueError) as exc:
        result.problems.append(Problem("document", f"not readable as JSON: {exc}"))
        return result
    if not isinstance(document, dict):
        result.problems.append(Problem("document", "not a CycloneDX JSON object"))
        return result
    result.document = document
    result.problems.extend(parsed_schema_problems(document))
    result.problems.extend(minimum_element_problems(document))
    result.components = len(as_objects(document.get("components")))
    if archive is not None:
        result.problems.extend(archive_problems(document, archive))
    return result


def schema_problems(text: str) -> list[Problem]:
    """Where the document (its JSON text) breaks the CycloneDX 1.6 JSON schema."""
    return parsed_schema_problems(json.loads(text))


def parsed_schema_problems(document: Any) -> list[Problem]:
    """Where the parsed document breaks the CycloneDX 1.6 JSON schema."""
    errors = _schema_validator().iter_errors(document)
    return [
        Problem("document", f"schema: {_json_path(error.instance_path)}: {_message(error)}")
        for error in itertools.islice(errors, _SCHEMA_ERRORS_SHOWN)
    ]


@functools.cache
def _schema_validator() -> Any:
    """The official CycloneDX 1.6 strict JSON schema, formats checked, as jsonschema-rs.

    The schema files are cyclonedx-python-lib's; the validator is jsonschema-rs, which
    checks a 30,000-component SBOM in under a second. The pure-Python jsonschema the
    library uses takes minutes to hours there: its ``uniqueItems`` compares every pair of
    components, and its ``iri-reference`` check is an Earley parser (~80 ms per URL).
    """
    # Imported here: only `sbom check`, `sbom` and `verify` need the schema.
    import jsonschema_rs
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.schema._res import BOM_JSON_STRICT, CRYPTOGRAPHY_DEFS, JSF, SPDX_JSON

    # The files cyclonedx-python-lib's JsonStrictValidator validates against.
    schema_file = BOM_JSON_STRICT[SchemaVersion.V1_6]
    prefix = "http://cyclonedx.org/schema/"
    referenced = {
        f"{prefix}spdx.SNAPSHOT.schema.json": SPDX_JSON,
        f"{prefix}cryptography-defs.SNAPSHOT.schema.json": CRYPTOGRAPHY_DEFS,
        f"{prefix}jsf-0.82.SNAPSHOT.schema.json": JSF,
    }
    registry = jsonschema_rs.Registry(
        [
            (uri, json.loads(Path(path).read_text(encoding="utf-8")))
            for uri, path in referenced.items()
        ]
    )
    schema = json.loads(Path(str(schema_file)).read_text(encoding="utf-8"))
    return jsonschema_rs.Draft7Validator(schema, registry=registry, validate_formats=True)


def _json_path(parts: list[str | int]) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)


def _message(error: Any) -> str:
    if error.kind.name == "uniqueItems":
        return "has non-unique elements"  # the message would repeat the whole array
    return str(error.message)[:200]


def as_object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (the schema check names it)."""
    return value if isinstance(value, dict) else {}


def as_objects(value: Any) -> list[dict[str, Any]]:
    """The JSON objects in ``value`` when it is a list (anything else the schema names)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def library_components(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's top-level ``library`` components."""
    return [
        item for item in as_objects(document.get("components")) if item.get("type") == "library"
    ]


def metadata_property(document: dict[str, Any], name: str) -> str | None:
    """The value of property ``name`` of the document's ``metadata``, if it has one."""
    for prop in as_objects(as_object(document.get("metadata")).get("properties")):
        if prop.get("name") == name:
            return str(prop.get("value"))
    return None


def minimum_element_problems(document: dict[str, Any]) -> list[Problem]:
    """Which minimum elements the document and each of its components lack."""
    problems: list[Problem] = []
    metadata = as_object(document.get("metadata"))
    if not document.get("serialNumber"):
        problems.append(Problem("document", "no serialNumber"))
    if not metadata.get("timestamp"):
        problems.append(Problem("document", "no metadata.timestamp"))
    if not (metadata.get("authors") or metadata.get("supplier") or metadata.get("manufacturer")):
        problems.append(
            Problem("document", "no SBOM author: metadata.authors, supplier or manufacturer")
        )
    dependencies = {str(item.get("ref")): item for item in as_objects(document.get("dependencies"))}
    refs = set(_all_refs(document))
    for ref, item in dependencies.items():
        targets = item.get("dependsOn")
        for target in targets if isinstance(targets, list) else []:
            if not isinstance(target, str) or target not in refs:
                problems.append(Problem(ref, f"depends on unknown bom-ref {target!r}"))
    root = as_object(metadata.get("component"))
    if not root:
        problems.append(Problem("document", "no metadata.component (what the SBOM describes)"))
    else:
        problems.extend(_component_problems(root, dependencies, root=True))
    for component in as_objects(document.get("components")):
        problems.extend(_component_problems(component, dependencies, root=False))
        for nested in as_objects(component.get("components")):
            problems.extend(_nested_problems(nested))
    return problems


def _component_problems(
    component: dict[str, Any], dependencies: dict[str, Any], *, root: bool
) -> list[Problem]:
    where = _describe(component, root)
    missing = []
    if not component.get("name"):
        missing.append("name")
    if not component.get("version"):
        missing.append("version")
    if not (component.get("purl") or component.get("cpe") or component.get("swid")):
        missing.append("unique identifier (purl, cpe or swid)")
    if not any(item.get("alg") == "SHA-256" for item in as_objects(component.get("hashes"))):
        missing.append("sha256 hash")
    # A layer below this one is described, licenses and all, by its own linked SBOM;
    # the layer itself is the sum of its components' licenses.
    linked = _linked_bom(component)
    if not root and linked is None and not as_objects(component.get("licenses")):
        missing.append("license")
    makers = ("supplier", "authors", "manufacturer", "author")
    if linked is None and not any(component.get(key) for key in makers):
        missing.append("supplier or author")
    if str(component.get("bom-ref")) not in dependencies:
        missing.append("dependency relationships (no entry in dependencies)")
    if linked is not None and not any(
        h.get("alg") == "SHA-256" for h in as_objects(linked.get("hashes"))
    ):
        missing.append("sha256 of the linked SBOM")
    problems = [Problem(where, f"missing {item}") for item in missing]
    for prop in as_objects(component.get("properties")):
        if prop.get("name") == "srcstacks:unresolved_requirement":
            problems.append(Problem(where, f"dependency found in no layer: {prop.get('value')}"))
    return problems


def _nested_problems(component: dict[str, Any]) -> list[Problem]:
    where = _describe(component, root=False)
    required = ["name", "version", "bom-ref"]
    if _unidentified_system_library(component):
        required.remove("version")
    missing = [key for key in required if not component.get(key)]
    return [Problem(where, f"missing {item}") for item in missing]


def _unidentified_system_library(component: dict[str, Any]) -> bool:
    """A system library a built CPython loads whose package the build machine could not
    name: it has no version to give (it is named by soname, and is not in the archive)."""
    properties = {
        str(prop.get("name")): prop.get("value") for prop in as_objects(component.get("properties"))
    }
    return (
        properties.get(SYSTEM_LIBRARY_PACKAGE) == "unknown"
        and properties.get(SYSTEM_LIBRARY_SONAME) == component.get("name")
        and not component.get("purl")
    )


def archive_problems(document: dict[str, Any], archive: ArchiveContents) -> list[Problem]:
    """Does the SBOM describe exactly what the archive holds?"""
    archive_name = archive.archive.name
    problems = []
    root = as_object(as_object(document.get("metadata")).get("component"))
    recorded = {
        str(item.get("alg")): item.get("content") for item in as_objects(root.get("hashes"))
    }
    if recorded.get("SHA-256") != archive.sha256:
        problems.append(
            Problem("archive", f"{archive_name}: sha256 differs from metadata.component's")
        )
    dists = Counter((dist.name, dist.version) for dist in archive.dists)
    libraries: Counter[tuple[str, str]] = Counter(
        (canonicalize_name(str(item.get("name", ""))), str(item.get("version", "")))
        for item in library_components(document)
    )
    for name, version in sorted(dists):
        found = libraries.get((name, version), 0)
        if found != 1:
            problems.append(Problem(
                f"{name} {version}", f"in {archive_name} but has {found} library components",
            ))  # fmt: skip
    for name, version in sorted(libraries):
        if (name, version) not in dists:
            problems.append(Problem(f"{name} {version}", f"not a distribution in {archive_name}"))
    return problems


def _describe(component: dict[str, Any], root: bool) -> str:
    label = f"{component.get('name', '?')} {component.get('version', '?')}"
    return f"metadata.component {label}" if root else label


def _linked_bom(component: dict[str, Any]) -> dict[str, Any] | None:
    for reference in as_objects(component.get("externalReferences")):
        if reference.get("type") == "bom":
            return dict(reference)
    return None


def _all_refs(document: dict[str, Any]) -> Iterator[str]:
    root = as_object(as_object(document.get("metadata")).get("component"))
    pending = [root] if root else []
    pending.extend(as_objects(document.get("components")))
    while pending:
        component = pending.pop()
        if "bom-ref" in component:
            yield str(component["bom-ref"])
        pending.extend(as_objects(component.get("components")))
    for service in as_objects(document.get("services")):
        if "bom-ref" in service:
            yield str(service["bom-ref"])
