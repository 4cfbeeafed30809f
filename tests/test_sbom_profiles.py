"""`sbom check --profile`: each standard's required fields, with a negative control each.

A hand-made CycloneDX 1.6 document that has every field of every profile; each test
takes one field away and expects exactly the profiles that require it to name it, with
its JSON path and component (no real build).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from srcstacks.cli import app
from srcstacks.sbom.check import check_document
from srcstacks.sbom.profiles import PROFILES, profile_problems, profiles_met

ROOT = "pkg:generic/app@1?file_name=app.tar.xz"
IDNA = "pkg:pypi/idna@3.11?file_name=idna-3.11-0-py3-none-any.whl"
LOWER = "urn:cdx:00000000-0000-5000-8000-000000000001/1"
STUB = LOWER + "#pkg%3Apypi%2Fmarkupsafe%403.0.4"
CPYTHON = "pkg:generic/cpython@3.11.7?file_name=cpython.tar.gz"
EXPAT = CPYTHON + "::bundled:expat:Modules/expat"
LIBC = CPYTHON + "::system:libc.so.6"


def bsi(filename: str, *, archive: bool) -> list[dict[str, str]]:
    return [
        {"name": "bsi:component:archive", "value": "archive" if archive else "no archive"},
        {"name": "bsi:component:executable", "value": "non-executable"},
        {"name": "bsi:component:filename", "value": filename},
        {"name": "bsi:component:structured", "value": "structured" if archive else "unstructured"},
    ]


def hashes() -> list[dict[str, str]]:
    return [{"alg": "SHA-256", "content": "a" * 64}, {"alg": "SHA-512", "content": "b" * 128}]


SUPPLIER = {"name": "ACME builds", "url": ["https://acme.example"]}
MIT = [{"license": {"id": "MIT", "acknowledgement": "concluded"}}]


def complete() -> dict[str, Any]:
    """A document with every field of every profile (it meets cra, the most demanding)."""
    return {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": "urn:uuid:00000000-0000-5000-8000-000000000002",
        "version": 1,
        "metadata": {
            "timestamp": "2025-01-02T03:04:05+00:00",
            "authors": [{"name": "Jo Doe", "email": "jo@acme.example"}],
            "manufacturer": {
                "name": "ACME", "url": ["https://acme.example"],
                "contact": [{"email": "info@acme.example"}],
            },
            "supplier": SUPPLIER,
            "component": {
                "type": "application", "bom-ref": ROOT, "name": "app", "version": "1",
                "purl": ROOT, "hashes": hashes(), "supplier": SUPPLIER,
                "licenses": [{"expression": "MIT AND Python-2.0"}],
                "copyright": "Copyright ACME",
                "externalReferences": [
                    {"type": "security-contact", "url": "mailto:security@acme.example"}
                ],
                "properties": bsi("app.tar.xz", archive=True),
            },
        },
        "components": [
            {
                "type": "library", "bom-ref": IDNA, "name": "idna", "version": "3.11",
                "purl": IDNA, "hashes": hashes(), "supplier": SUPPLIER, "licenses": MIT,
                "properties": bsi("idna-3.11-0-py3-none-any.whl", archive=True),
            },
            {
                "type": "framework", "bom-ref": LOWER, "name": "framework", "version": "1",
                "purl": "pkg:generic/framework@1",
                "externalReferences": [{
                    "type": "bom", "url": LOWER,
                    "hashes": [{"alg": "SHA-256", "content": "c" * 64}],
                }],
                "components": [{
                    "type": "library", "bom-ref": STUB, "name": "MarkupSafe",
                    "version": "3.0.4", "purl": "pkg:pypi/markupsafe@3.0.4",
                }],
            },
            {
                "type": "platform", "bom-ref": CPYTHON, "name": "cpython", "version": "3.11.7",
                "purl": CPYTHON, "cpe": "cpe:2.3:a:python:python:3.11.7:*:*:*:*:*:*:*",
                "hashes": hashes(), "supplier": SUPPLIER,
                "licenses": [{"license": {"id": "Python-2.0"}}],
                "properties": bsi("cpython.tar.gz", archive=True),
                "components": [
                    {
                        "type": "library", "bom-ref": EXPAT, "name": "expat",
                        "version": "2.5.0", "purl": "pkg:generic/expat@2.5.0",
                        "hashes": hashes(), "supplier": SUPPLIER, "licenses": MIT,
                        "properties": bsi("pyexpat.so", archive=False),
                    },
                    {
                        "type": "library", "bom-ref": LIBC, "name": "libc.so.6",
                        "properties": [
                            {"name": "srcstacks:system_library:build_machine_package",
                             "value": "unknown"},
                            {"name": "srcstacks:system_library:location",
                             "value": "deploying machine (not in the archive)"},
                            {"name": "srcstacks:system_library:soname", "value": "libc.so.6"},
                        ],
                    },
                ],
            },
        ],
        "dependencies": [
            {"ref": ROOT, "dependsOn": [IDNA, LOWER, CPYTHON]},
            {"ref": IDNA, "dependsOn": []},
            {"ref": LOWER, "dependsOn": [STUB]},
            {"ref": CPYTHON, "dependsOn": [EXPAT, LIBC]},
        ],
        "compositions": [
            {"aggregate": "complete", "assemblies": [ROOT, IDNA, CPYTHON]},
            {"aggregate": "unknown", "assemblies": [LOWER]},
        ],
    }  # fmt: skip


def components(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {"root": document["metadata"]["component"]}
    pending = list(document["components"])
    while pending:
        item = pending.pop()
        found[item["name"]] = item
        pending.extend(item.get("components", []))
    return found


def drop(name: str, key: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        components(document)[name].pop(key)

    return change


def drop_property(name: str, prop: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        component = components(document)[name]
        component["properties"] = [p for p in component["properties"] if p["name"] != prop]

    return change


def drop_metadata(key: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        document["metadata"].pop(key)

    return change


def set_value(path: tuple[str | int, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        target: Any = document
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


def only_sha256(name: str) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        components(document)[name]["hashes"] = [{"alg": "SHA-256", "content": "a" * 64}]

    return change


def free_text_license(document: dict[str, Any]) -> None:
    components(document)["idna"]["licenses"] = [{"license": {"name": "BSD License"}}]


def no_contact(document: dict[str, Any]) -> None:
    components(document)["idna"]["supplier"] = {"name": "ACME builds"}


def no_sbom_contact(document: dict[str, Any]) -> None:
    metadata = document["metadata"]
    metadata["authors"] = [{"name": "Jo Doe"}]
    metadata["manufacturer"] = {"name": "ACME"}
    metadata["supplier"] = {"name": "ACME builds"}


def no_author(document: dict[str, Any]) -> None:
    for key in ("authors", "manufacturer", "supplier"):
        document["metadata"].pop(key)


def no_security_contact(document: dict[str, Any]) -> None:
    document["metadata"]["component"]["externalReferences"] = [
        {"type": "website", "url": "https://acme.example"}
    ]


def no_completeness(document: dict[str, Any]) -> None:
    document["compositions"] = [{"aggregate": "unknown", "assemblies": [LOWER]}]


def no_relationship(document: dict[str, Any]) -> None:
    document["dependencies"] = [e for e in document["dependencies"] if e["ref"] != IDNA]
    document["dependencies"][0]["dependsOn"].remove(IDNA)


def root_without_entry(document: dict[str, Any]) -> None:
    document["dependencies"] = [e for e in document["dependencies"] if e["ref"] != ROOT]


def no_identifier(document: dict[str, Any]) -> None:
    components(document)["cpython"].pop("purl")
    components(document)["cpython"].pop("cpe")


NTIA_CISA = {"ntia", "cisa"}
BSI_CRA = {"bsi", "cra"}
EVERY = set(PROFILES)

# (change, profiles that must fail, the line each of them prints)
CASES = [
    (drop_metadata("timestamp"), EVERY, "document: missing timestamp ($.metadata.timestamp)"),
    (drop_metadata("component"), EVERY,
     "document: missing primary component (what the SBOM describes) ($.metadata.component)"),
    (no_author, NTIA_CISA,
     "document: missing SBOM author name ($.metadata.authors[].name)"),
    (no_sbom_contact, BSI_CRA,
     "document: missing SBOM creator email or URL ($.metadata.authors[].email)"),
    (set_value(("serialNumber",), ""), BSI_CRA,
     "document: missing SBOM-URI (serialNumber) ($.serialNumber)"),
    (no_completeness, {"cisa", "bsi", "cra"},
     "document: missing dependency completeness of the primary component"
     " ($.compositions[].assemblies)"),
    (set_value(("metadata", "manufacturer", "name"), ""), {"cra"},
     "document: missing manufacturer name ($.metadata.manufacturer.name)"),
    (set_value(("metadata", "manufacturer"), {"name": "ACME"}), {"cra"},
     "document: missing manufacturer email or URL ($.metadata.manufacturer.contact[].email)"),
    (no_security_contact, {"cra"},
     "document: missing security contact (where vulnerabilities are reported)"
     " ($.metadata.component.externalReferences[type=security-contact])"),
    (drop("idna", "name"), EVERY, "? 3.11: missing name ($.components[0].name)"),
    (drop("idna", "version"), EVERY, "idna ?: missing version ($.components[0].version)"),
    (drop("expat", "version"), EVERY,
     "expat ?: missing version ($.components[2].components[0].version)"),
    (no_identifier, EVERY,
     "cpython 3.11.7: missing unique identifier (purl, cpe or swid) ($.components[2].purl)"),
    (no_relationship, EVERY,
     f"idna 3.11: missing dependency relationship ($.dependencies[ref={IDNA}])"),
    (root_without_entry, EVERY,
     f"metadata.component app 1: missing dependency relationship ($.dependencies[ref={ROOT}])"),
    (drop("idna", "supplier"), NTIA_CISA,
     "idna 3.11: missing supplier name ($.components[0].supplier.name)"),
    (drop("expat", "supplier"), NTIA_CISA,
     "expat 2.5.0: missing supplier name ($.components[2].components[0].supplier.name)"),
    (no_contact, BSI_CRA,
     "idna 3.11: missing component creator email or URL ($.components[0].supplier.url)"),
    (drop("idna", "hashes"), {"cisa"},
     "idna 3.11: missing cryptographic hash ($.components[0].hashes)"),
    (only_sha256("idna"), BSI_CRA,
     "idna 3.11: missing SHA-512 hash of the deployable form"
     " ($.components[0].hashes[alg=SHA-512])"),
    (drop("idna", "licenses"), BSI_CRA,
     "idna 3.11: missing license as an SPDX identifier or expression"
     " ($.components[0].licenses[].license.id)"),
    (free_text_license, BSI_CRA,
     "idna 3.11: missing license as an SPDX identifier or expression"
     " ($.components[0].licenses[].license.id)"),
    (drop("root", "licenses"), {"cisa"},
     "metadata.component app 1: missing license ($.metadata.component.licenses)"),
    (drop("root", "copyright"), {"cisa"},
     "metadata.component app 1: missing copyright notice ($.metadata.component.copyright)"),
    *((drop_property("idna", prop), BSI_CRA,
       f"idna 3.11: missing property {prop} ($.components[0].properties[name={prop}])")
      for prop in ("bsi:component:filename", "bsi:component:executable",
                   "bsi:component:archive", "bsi:component:structured")),
    (set_value(("components", 0, "properties", 1, "value"), "yes"), BSI_CRA,
     "idna 3.11: missing property bsi:component:executable"
     " ($.components[0].properties[name=bsi:component:executable])"),
]  # fmt: skip


def test_the_complete_document_meets_every_profile() -> None:
    document = complete()
    for profile in PROFILES:
        assert [str(item) for item in profile_problems(document, profile)] == [], profile
    assert profiles_met(document) == PROFILES


@pytest.mark.parametrize(("change", "failing", "line"), CASES)
def test_each_required_field_is_named_by_the_profiles_that_require_it(
    change: Callable[[dict[str, Any]], None], failing: set[str], line: str
) -> None:
    document = copy.deepcopy(complete())
    change(document)
    for profile in PROFILES:
        found = [str(item) for item in profile_problems(document, profile)]
        if profile in failing:
            assert line in found, (profile, found)
        else:  # the same field without its path: another profile may name another one
            field = line.rsplit(" ($", 1)[0]
            assert field not in [item.rsplit(" ($", 1)[0] for item in found], (profile, found)


def test_a_component_described_by_its_linked_sbom_needs_only_its_identity() -> None:
    """The linked layer and its stub carry no supplier, hash, license or BSI property:
    their own SBOM does. Negative control: the same fields are required of idna."""
    document = complete()
    for profile in PROFILES:
        assert not [str(p) for p in profile_problems(document, profile) if "ramework" in str(p)]
    components(document)["MarkupSafe"].pop("version")
    assert "MarkupSafe ?: missing version ($.components[1].components[0].version)" in [
        str(item) for item in profile_problems(document, "ntia")
    ]


def test_a_system_library_not_in_the_archive_is_named_only() -> None:
    document = complete()
    libc = components(document)["libc.so.6"]
    assert "hashes" not in libc and "supplier" not in libc and "licenses" not in libc
    assert profiles_met(document) == PROFILES
    libc.pop("name")
    assert "? ?: missing name ($.components[2].components[1].name)" in [
        str(item) for item in profile_problems(document, "ntia")
    ]


def write(tmp_path: Path, document: dict[str, Any], name: str = "app.cdx.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_the_default_is_the_most_demanding_profile_met(tmp_path: Path) -> None:
    path = write(tmp_path, complete())
    result = check_document(path)
    assert result.ok, [str(problem) for problem in result.problems]
    assert result.profile == "cra"
    document = complete()
    no_security_contact(document)  # not CRA any more, still BSI
    assert check_document(write(tmp_path, document)).profile == "bsi"
    # CISA asks for the copyright, BSI does not: meeting BSI but not CISA is held to NTIA
    # by default, since "meets bsi" is read as meeting every less demanding one too.
    drop("root", "copyright")(document)
    assert check_document(write(tmp_path, document), profile="bsi").ok
    assert check_document(write(tmp_path, document)).profile == "ntia"
    no_sbom_contact(document)  # not BSI either: still NTIA
    assert check_document(write(tmp_path, document)).profile == "ntia"
    drop("idna", "supplier")(document)  # meets none: held to NTIA's, and fails
    result = check_document(write(tmp_path, document))
    assert result.profile is None
    assert [str(problem) for problem in result.problems] == [
        "idna 3.11: missing supplier name ($.components[0].supplier.name)"
    ]


def invoke(*args: str | Path) -> Any:
    return CliRunner().invoke(app, ["sbom", "check", *map(str, args)])


def test_cli_says_which_profile_and_names_each_missing_field(tmp_path: Path) -> None:
    path = write(tmp_path, complete())
    ok = invoke(path)
    assert ok.exit_code == 0, ok.output
    assert ok.stdout == (
        "app.cdx.json: OK (3 component(s)), meets cra: EU Cyber Resilience Act"
        " (BSI TR-03183-2 fields + manufacturer, security contact)"
        " (the most demanding profile it meets)\n"
    )
    document = complete()
    only_sha256("idna")(document)
    broken = write(tmp_path, document, "broken.cdx.json")
    assert invoke(broken, "--profile", "ntia").exit_code == 0
    failed = invoke(path, broken, "--profile", "bsi")
    assert failed.exit_code == 1
    assert failed.stdout.splitlines()[1:] == [
        "broken.cdx.json: idna 3.11: missing SHA-512 hash of the deployable form"
        " ($.components[0].hashes[alg=SHA-512])",
        "broken.cdx.json: does not meet bsi: BSI TR-03183-2 v2.0.0 (what it lacks is listed above)",
    ]
    assert failed.stderr == (
        "srcstacks: error: 1 of 2 SBOM(s) lack required elements (listed above)\n"
    )
    drop("idna", "supplier")(document)  # meets no profile now
    lacking = invoke(write(tmp_path, document, "lacking.cdx.json"))
    assert lacking.exit_code == 1
    assert lacking.stdout.splitlines() == [
        "lacking.cdx.json: idna 3.11: missing supplier name ($.components[0].supplier.name)",
        "lacking.cdx.json: meets none of the profiles ntia, cisa, bsi, cra; what it lacks for"
        " the least demanding one (ntia) is listed above",
    ]


def test_cli_refuses_an_unknown_profile(tmp_path: Path) -> None:
    result = invoke(write(tmp_path, complete()), "--profile", "iso")
    assert result.exit_code == 1
    assert result.stderr == (
        "srcstacks: error: --profile must be one of ntia, cisa, bsi, cra, not 'iso'\n"
    )
    assert result.stdout == ""  # nothing checked
