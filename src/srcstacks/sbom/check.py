"""``srcstacks sbom check``: is a CycloneDX document valid, and complete for an auditor?

Four checks, every problem listed (the check does not stop at the first):

1. the official CycloneDX 1.6 JSON schema;
2. what makes a document wrong under any standard: edges to unknown bom-refs,
   requirements no layer satisfies, BOM-Links without the linked SBOM's hash, a
   distribution srcstacks did not build (``srcstacks:provenance = missing``);
3. the fields a standard requires (:mod:`srcstacks.sbom.profiles`): the profile asked
   for, or the most demanding one of NTIA, CISA, BSI TR-03183-2 and the CRA that the
   document meets (failing on NTIA's minimum elements when it meets none);
4. optionally, against the archive the SBOM describes: the archive's sha256, and every
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

from srcstacks.sbom.profiles import (
    PROFILES,
    STANDARDS,
    Missing,
    problems_by_profile,
)
from srcstacks.state.archive_reader import ArchiveContents

_SCHEMA_ERRORS_SHOWN = 10
_SCHEMA_MESSAGE_LIMIT = 200


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
    requested: str | None = None  # the profile asked for (--profile), if any
    # The profile it was held to: the one asked for, else the most demanding one it
    # meets; None when it meets none (it then fails on NTIA's minimum elements).
    profile: str | None = None

    @property
    def ok(self) -> bool:
        """True when nothing required is missing."""
        return not self.problems


def check_document(
    path: Path, archive: ArchiveContents | None = None, profile: str | None = None
) -> CheckResult:
    """Check the SBOM at ``path``, and against the archive it describes when given.

    ``profile``: the standard to hold it to (``ntia``, ``cisa``, ``bsi``, ``cra``); by
    default the most demanding one it meets (see :func:`chosen_profile`).
    """
    if profile is not None and profile not in PROFILES:
        raise ValueError(f"unknown SBOM profile {profile!r} (one of {', '.join(PROFILES)})")
    result = CheckResult(path, requested=profile)
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
    result.problems.extend(structural_problems(document))
    result.profile, missing = chosen_profile(document, profile)
    result.problems.extend(missing)
    result.components = len(as_objects(document.get("components")))
    if archive is not None:
        result.problems.extend(archive_problems(document, archive))
    return result


def describe_outcome(result: CheckResult) -> str:
    """One line: OK or not, and which standard's fields the document was held to."""
    profile = result.profile
    standard = f"{profile}: {STANDARDS[profile]}" if profile is not None else ""
    if result.ok:
        how = "as asked" if result.requested else "the most demanding profile it meets"
        return f"OK ({result.components} component(s)), meets {standard} ({how})"
    if any(problem.what.startswith("schema: ") for problem in result.problems):
        # A profile's fields mean nothing in a document CycloneDX tools cannot read.
        return "not a valid CycloneDX 1.6 document (schema errors listed above): meets no profile"
    if profile is None:
        return (
            f"meets none of the profiles {', '.join(PROFILES)}; what it lacks for the"
            " least demanding one (ntia) is listed above"
        )
    if result.requested:
        return f"does not meet {standard} (what it lacks is listed above)"
    return f"meets {standard}, but has the problems listed above"


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
    return shortened(str(error.message), _SCHEMA_MESSAGE_LIMIT)


def shortened(text: str, limit: int) -> str:
    """``text``, or its first words up to ``limit`` characters and " [...]" (never a cut
    word: a value cut mid-word reads as another value)."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    return (head.rsplit(" ", 1)[0] if " " in head else head) + " [...]"


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


def structural_problems(document: dict[str, Any]) -> list[Problem]:
    """What makes the document wrong whatever standard it is held to: edges to unknown
    bom-refs, requirements no layer satisfies, BOM-Links without the linked SBOM's hash,
    distributions srcstacks did not build (``srcstacks:provenance = missing``)."""
    problems: list[Problem] = []
    refs = set(_all_refs(document))
    for item in as_objects(document.get("dependencies")):
        targets = item.get("dependsOn")
        for target in targets if isinstance(targets, list) else []:
            if not isinstance(target, str) or target not in refs:
                problems.append(
                    Problem(str(item.get("ref")), f"depends on unknown bom-ref {target!r}")
                )
    root = as_object(as_object(document.get("metadata")).get("component"))
    for component in [root, *as_objects(document.get("components"))]:
        where = _describe(component, component is root)
        linked = _linked_bom(component)
        if linked is not None and not any(
            h.get("alg") == "SHA-256" for h in as_objects(linked.get("hashes"))
        ):
            problems.append(Problem(where, "missing sha256 of the linked SBOM"))
        for prop in as_objects(component.get("properties")):
            if prop.get("name") == "srcstacks:unresolved_requirement":
                problems.append(
                    Problem(where, f"dependency found in no layer: {prop.get('value')}")
                )
            if prop.get("name") == "srcstacks:provenance" and prop.get("value") == "missing":
                # In the archive, but not a wheel srcstacks built: no hash, no origin.
                problems.append(Problem(where, "no provenance record (not built here)"))
    return problems


def chosen_profile(
    document: dict[str, Any], requested: str | None
) -> tuple[str | None, list[Problem]]:
    """The profile the document is held to, and what it lacks for it.

    ``requested`` (``--profile``) is enforced as asked. Without one, the document is held
    to the most demanding profile it meets together with every less demanding one: the
    standards do not nest (CISA asks for the primary component's copyright notice, BSI
    does not), so "meets cra" by default also means it meets ntia, cisa and bsi. One that
    meets not even NTIA's minimum elements is held to them, and fails on what it lacks.
    """
    found = problems_by_profile(document)
    if requested is not None:
        return requested, _as_problems(found[requested])
    met = None
    for profile in PROFILES:
        if found[profile]:
            break
        met = profile
    if met is not None:
        return met, []
    return None, _as_problems(found[PROFILES[0]])


def _as_problems(found: list[Missing]) -> list[Problem]:
    return [Problem(item.where, f"missing {item.field} ({item.path})") for item in found]


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
