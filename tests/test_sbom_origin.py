"""The SBOM of a layer holding an upstream binary wheel (selective mode), from hand-made
inputs: its origin, distribution reference and supplier, and that checkers accept it."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from srcstacks.sbom.check import check_document
from srcstacks.sbom.components import DistInputs
from srcstacks.sbom.document import build_document
from srcstacks.sbom.metadata import parse_metadata
from srcstacks.spec.config import SbomParty, SbomSettings
from srcstacks.state.provenance import UpstreamRecord, WheelProvenance
from tests.test_sbom_document import by_name, dist, layer_inputs

INDEX = "https://pypi.org/simple/"
WHEEL_URL = "https://files.pythonhosted.org/packages/ab/cd/idna-3.11-py3-none-any.whl"


def upstream(item: DistInputs, *, authors: bool = True) -> DistInputs:
    """``item`` as an upstream binary: no sdist, no build, the index's sha256."""
    record = item.provenance
    assert record is not None
    taken = WheelProvenance.upstream_binary(
        record.filename.replace("-0-", "-"),
        record.project,
        record.version,
        record.variant,
        UpstreamRecord(INDEX, WHEEL_URL, record.sha256),
    )
    metadata = item.metadata
    if not authors:
        text = f"Metadata-Version: 2.4\nName: {item.dist.name}\nVersion: {item.dist.version}\n"
        metadata = parse_metadata(text + "License-Expression: BSD-3-Clause\n")
    return replace(item, provenance=taken, metadata=metadata)


# Every party the CRA profile asks of the document itself, so only components can fail.
SETTINGS = SbomSettings(
    supplier=SbomParty("ACME builds", url="https://acme.example.org/"),
    manufacturer=SbomParty("ACME", url="https://acme.example.org/"),
    authors=(SbomParty("ACME builds", email="sbom@acme.example.org"),),
    security_contact="mailto:security@acme.example.org",
    copyright="Copyright 2026 ACME",
    license="Apache-2.0",
)


def layer(*dists: DistInputs, mode: str = "selective") -> dict[str, Any]:
    requirements = tuple(f"{item.dist.name}=={item.dist.version}" for item in dists)
    inputs = layer_inputs("fw", "framework", dists, requirements, settings=SETTINGS)
    inputs = replace(inputs, mode=mode)
    document: dict[str, Any] = json.loads(build_document(inputs).text)
    return document


def properties(component: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in component.get("properties", [])}


def test_an_upstream_binary_has_a_distribution_reference_and_no_pedigree() -> None:
    document = layer(upstream(dist("idna", "3.11")), dist("MarkupSafe", "3.0.4", patched=True))
    idna, markupsafe = by_name(document)["idna"], by_name(document)["MarkupSafe"]
    found = properties(idna)
    assert found["srcstacks:origin"] == "upstream-binary"
    assert found["srcstacks:built_from_source"] == "false"
    assert found["srcstacks:upstream_index"] == INDEX
    assert "pedigree" not in idna
    references = {item["type"]: item for item in idna["externalReferences"]}
    assert "source-distribution" not in references
    distribution = references["distribution"]
    assert distribution["url"] == WHEEL_URL
    assert distribution["hashes"] == [{"alg": "SHA-256", "content": idna["hashes"][0]["content"]}]
    assert "https://pypi.org/simple/ (PyPI)" in distribution["comment"]
    # Its supplier is who made it (METADATA's author), not the stack's supplier.
    assert idna["supplier"] == {"name": "Dev", "contact": [{"email": "dev@example.org"}]}
    # Negative control: the wheel built from source keeps its pedigree, sdist and supplier.
    assert properties(markupsafe)["srcstacks:origin"] == "built-from-source"
    assert markupsafe["pedigree"]["ancestors"]
    assert markupsafe["supplier"]["name"] == "ACME builds"
    assert any(r["type"] == "source-distribution" for r in markupsafe["externalReferences"])


def test_an_upstream_binary_has_no_formula() -> None:
    built = dist("MarkupSafe", "3.0.4")
    assert built.provenance is not None and built.provenance.sdist is not None
    from srcstacks.state.build_record import BuildEnvironment

    environment = BuildEnvironment(tools=(), compilers=("GCC: (GNU) 13.2.0",))
    built = replace(built, provenance=replace(built.provenance, build_environment=environment))
    taken = upstream(dist("idna", "3.11"))
    document = layer(taken, built)
    subjects = [formula["bom-ref"] for formula in document.get("formulation", [])]
    assert subjects == [f"formula:{by_name(document)['MarkupSafe']['bom-ref']}"]


def test_without_named_authors_the_index_is_the_supplier() -> None:
    idna = by_name(layer(upstream(dist("idna", "3.11"), authors=False)))["idna"]
    assert idna["supplier"] == {"name": "PyPI", "url": [INDEX]}


def test_each_layer_sbom_says_the_stacks_mode() -> None:
    for mode in ("full", "selective"):
        found = properties(layer(dist("idna", "3.11"), mode=mode)["metadata"])
        assert found["srcstacks:mode"] == mode


def test_an_sbom_with_upstream_binaries_meets_every_profile(tmp_path: Path) -> None:
    for authors in (True, False):
        path = tmp_path / f"fw-{authors}.cdx.json"
        document = layer(upstream(dist("idna", "3.11"), authors=authors), dist("six", "1.17.0"))
        path.write_text(json.dumps(document))
        result = check_document(path, profile="cra")
        assert result.ok, [str(problem) for problem in result.problems]
        assert check_document(path, profile="ntia").ok
    # Negative control: without a supplier, it fails.
    del by_name(document)["idna"]["supplier"]
    path.write_text(json.dumps(document))
    assert "idna 3.11: missing supplier name ($.components[0].supplier.name)" in [
        str(problem) for problem in check_document(path, profile="ntia").problems
    ]


def sbomaudit(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sbomaudit.cli", "--offline", "-i", str(path)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def test_sbomaudit_finds_an_upstream_binarys_supplier(tmp_path: Path) -> None:
    """sbomaudit's NTIA check, on the supplier chosen for an upstream binary (author or
    index), with a negative control."""
    for authors in (True, False):
        document = layer(upstream(dist("idna", "3.11"), authors=authors))
        path = tmp_path / "fw.tar.xz.cdx.json"
        path.write_text(json.dumps(document))
        result = sbomaudit(path)
        assert "NTIA conformant: FAILED" not in result.stdout, result.stdout
    del by_name(document)["idna"]["supplier"]
    path.write_text(json.dumps(document))
    assert "[ ] Supplier included for package idna: MISSING" in sbomaudit(path).stdout


def test_authors_without_email_give_the_projects_website() -> None:
    text = (
        "Metadata-Version: 2.4\nName: idna\nVersion: 3.11\nAuthor: Kim Davies\n"
        "License-Expression: BSD-3-Clause\nProject-URL: Homepage, https://idna.example.org/\n"
    )
    item = replace(upstream(dist("idna", "3.11")), metadata=parse_metadata(text))
    idna = by_name(layer(item))["idna"]
    assert idna["supplier"] == {"name": "Kim Davies", "url": ["https://idna.example.org/"]}
