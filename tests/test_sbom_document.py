"""SBOM documents built from hand-made inputs, and `sbom check` on them (no real build)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import canonicalize_name
from typer.testing import CliRunner, Result

from srcstacks.cli import app
from srcstacks.sbom.check import check_document
from srcstacks.sbom.components import DistInputs, LayerInfo, library_component
from srcstacks.sbom.document import (
    Document,
    LayerInputs,
    LowerLayer,
    build_document,
)
from srcstacks.sbom.links import read_layer_sbom
from srcstacks.sbom.metadata import parse_metadata
from srcstacks.spec.config import LayerKind, SbomParty, SbomSettings
from srcstacks.state.archive_reader import InstalledDist, read_archive
from srcstacks.state.provenance import PatchRecord, SdistRecord, UpstreamRecord, WheelProvenance
from srcstacks.state.records import RuntimeRecord
from srcstacks.state.sbom_identity import serial_problem

SETTINGS = SbomSettings(supplier=SbomParty("ACME builds"))
PATCH = b"--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n"
PATCH_PATH = "patches/markupsafe/0001-fix.patch"


def dist(
    name: str, version: str, *requires: str, patched: bool = False, from_source: bool = True
) -> DistInputs:
    text = (
        f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\nSummary: {name} here\n"
        "License-Expression: BSD-3-Clause\nAuthor-email: Dev <dev@example.org>\n"
        + "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    )
    project = canonicalize_name(name)
    record = WheelProvenance(
        filename=f"{project}-{version}-0-py3-none-any.whl",
        project=project,
        version=version,
        build_tag="0",
        sha256=hashlib.sha256(f"wheel {name}".encode()).hexdigest(),
        variant="cpu",
        sdist=SdistRecord(
            url=f"https://files.example.org/{project}-{version}.tar.gz",
            filename=f"{project}-{version}.tar.gz",
            sha256=hashlib.sha256(f"sdist {name}".encode()).hexdigest(),
        ),
        patches=(PatchRecord(PATCH_PATH, hashlib.sha256(PATCH).hexdigest()),) if patched else (),
        build_env={"CFLAGS": "-O2"},
        built_from_source=from_source,
    )
    installed = InstalledDist(
        project, version, f"{project}-{version}.dist-info", {"METADATA": text}
    )
    texts = {PATCH_PATH: PATCH} if patched else {}
    return DistInputs(installed, parse_metadata(text), record, "f" * 128, texts)


def layer_inputs(
    name: str,
    kind: LayerKind,
    dists: tuple[DistInputs, ...] = (),
    requirements: tuple[str, ...] = (),
    lower: tuple[LowerLayer, ...] = (),
    depends_on: tuple[str, ...] = (),
    runtime: RuntimeRecord | None = None,
    archive_sha256: str | None = None,
    settings: SbomSettings = SETTINGS,
) -> LayerInputs:
    layer = LayerInfo(
        name=name,
        kind=kind,
        version="1",
        archive_name=f"{name}.tar.xz",
        sha256=archive_sha256 or hashlib.sha256(name.encode()).hexdigest(),
        sha512="e" * 128,
        properties={"srcstacks:layer:kind": kind},
    )
    return LayerInputs(
        layer=layer,
        python_implementation="cpython@3.11.7",
        target_platform="linux_x86_64",
        dists=dists,
        requirements=requirements,
        depends_on=depends_on,
        lower=lower,
        runtime=runtime,
        tools={"srcstacks": "0.1.0", "uv": "0.8.0"},
        variant="cpu",
        timestamp=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        timestamp_source="lock-time",
        settings=settings,
    )


RUNTIME = RuntimeRecord(
    layer="cpython-3.11",
    python_implementation="cpython@3.11.7",
    source="local",
    origin="/home/someone/pythons/cpython-3.11.7-install_only.tar.gz",
    filename="cpython-3.11.7-install_only.tar.gz",
    sha256="d" * 64,
)


def write(path: Path, document: Document) -> Path:
    path.write_text(document.text, encoding="utf-8")
    return path


@pytest.fixture
def stack(tmp_path: Path) -> dict[str, Path]:
    """Runtime, framework (patched markupsafe) and app (jinja2) SBOMs written to tmp_path."""
    runtime = write(
        tmp_path / "cpython-3.11.tar.xz.cdx.json",
        build_document(layer_inputs("cpython-3.11", "runtime", runtime=RUNTIME)),
    )
    runtime_link = LowerLayer(read_layer_sbom(runtime), ())
    framework = write(
        tmp_path / "framework-web.tar.xz.cdx.json",
        build_document(
            layer_inputs(
                "framework-web", "framework", (dist("MarkupSafe", "3.0.4", patched=True),),
                ("markupsafe==3.0.4",), (runtime_link,), ("cpython-3.11",),
            )
        ),
    )  # fmt: skip
    framework_link = LowerLayer(read_layer_sbom(framework), ("cpython-3.11",))
    app = write(
        tmp_path / "app-greeter.tar.xz.cdx.json",
        build_document(
            layer_inputs(
                "app-greeter", "application", (dist("Jinja2", "3.1.6", "MarkupSafe>=2.0"),),
                ("jinja2==3.1.6",), (framework_link, runtime_link), ("framework-web",),
            )
        ),
    )  # fmt: skip
    return {"runtime": runtime, "framework": framework, "app": app}


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {component["name"]: component for component in document["components"]}


def test_every_document_passes_the_check(stack: dict[str, Path]) -> None:
    for path in stack.values():
        result = check_document(path)
        assert result.ok, [str(problem) for problem in result.problems]


def test_cross_layer_edge_is_a_bom_link_into_the_lower_sbom(stack: dict[str, Path]) -> None:
    app, framework = load(stack["app"]), load(stack["framework"])
    framework_serial = framework["serialNumber"].removeprefix("urn:uuid:")
    markupsafe_ref = by_name(framework)["MarkupSafe"]["bom-ref"]
    layer = by_name(app)["framework-web"]
    # bom-refs are local (the one each has in its own SBOM); the BOM-Links are references.
    assert layer["bom-ref"] == framework["metadata"]["component"]["bom-ref"]
    (reference,) = layer["externalReferences"]
    assert reference["type"] == "bom" and reference["url"] == f"urn:cdx:{framework_serial}/1"
    framework_sha256 = hashlib.sha256(stack["framework"].read_bytes()).hexdigest()
    assert reference["hashes"] == [{"alg": "SHA-256", "content": framework_sha256}]
    (stub,) = layer["components"]
    assert stub["bom-ref"] == stub["purl"] == markupsafe_ref
    (stub_link,) = stub["externalReferences"]
    assert stub_link["type"] == "bom"
    assert stub_link["url"].startswith(f"urn:cdx:{framework_serial}/1#pkg%3Apypi%2Fmarkupsafe")
    assert stub_link["hashes"] == [{"alg": "SHA-256", "content": framework_sha256}]
    graph = {entry["ref"]: entry.get("dependsOn", []) for entry in app["dependencies"]}
    assert graph[by_name(app)["Jinja2"]["bom-ref"]] == [stub["bom-ref"]]
    # The stub's own dependencies are unknown here (its SBOM has them): no entry at all.
    assert stub["bom-ref"] not in graph
    # The layers stack: app -> framework -> runtime.
    assert graph[layer["bom-ref"]] == [by_name(app)["cpython-3.11"]["bom-ref"]]


def test_library_components_are_what_the_layer_holds(stack: dict[str, Path]) -> None:
    libraries = [c["name"] for c in load(stack["app"])["components"] if c["type"] == "library"]
    assert libraries == ["Jinja2"]


def test_patch_and_provenance(stack: dict[str, Path]) -> None:
    markupsafe = by_name(load(stack["framework"]))["MarkupSafe"]
    (patch,) = markupsafe["pedigree"]["patches"]
    assert patch["type"] == "unofficial"
    assert patch["diff"]["url"] == PATCH_PATH
    assert patch["diff"]["text"]["content"] == PATCH.decode()
    (ancestor,) = markupsafe["pedigree"]["ancestors"]
    assert ancestor["purl"] == "pkg:pypi/markupsafe@3.0.4?file_name=markupsafe-3.0.4.tar.gz"
    properties = {item["name"]: item["value"] for item in markupsafe["properties"]}
    assert properties[f"srcstacks:patch:{PATCH_PATH}:sha256"] == hashlib.sha256(PATCH).hexdigest()
    assert properties["srcstacks:build_env:CFLAGS"] == "-O2"
    assert properties["srcstacks:built_from_source"] == "true"
    # A single SPDX id declared as an expression is written as an id (CycloneDX 1.6 cannot
    # hold an expression beside a concluded license).
    assert markupsafe["licenses"] == [
        {"license": {"acknowledgement": "declared", "id": "BSD-3-Clause"}}
    ]
    sdist = [r for r in markupsafe["externalReferences"] if r["type"] == "source-distribution"]
    assert sdist[0]["url"] == "https://files.example.org/markupsafe-3.0.4.tar.gz"


def test_built_from_source_is_what_the_provenance_says() -> None:
    """Negative control for the "true" above: a record without the claim says "false"."""
    document = build_document(
        layer_inputs("fw", "framework", (dist("MarkupSafe", "3.0.4", from_source=False),))
    )
    markupsafe = by_name(json.loads(document.text))["MarkupSafe"]
    properties = {item["name"]: item["value"] for item in markupsafe["properties"]}
    assert properties["srcstacks:built_from_source"] == "false"


def test_runtime_component_keeps_no_local_path(stack: dict[str, Path]) -> None:
    text = stack["runtime"].read_text()
    assert "/home/someone" not in text
    cpython = by_name(json.loads(text))["cpython"]
    assert (
        cpython["purl"] == "pkg:generic/cpython@3.11.7?file_name=cpython-3.11.7-install_only.tar.gz"
    )
    assert cpython["hashes"] == [{"alg": "SHA-256", "content": "d" * 64}]
    properties = {item["name"]: item["value"] for item in cpython["properties"]}
    assert properties["srcstacks:runtime:source"] == "local"
    # Issue 23's audit: the interpreter archive was marked non-executable.
    assert properties["bsi:component:executable"] == "executable"
    assert properties["srcstacks:runtime:origin"] == "cpython-3.11.7-install_only.tar.gz"


def test_same_inputs_same_bytes_and_a_serial_from_the_whole_content() -> None:
    """Issue 23's audit: the serial was the archive's uuid5, so two documents of one
    archive (another supplier, another SOURCE_DATE_EPOCH) shared serial and version."""
    inputs = layer_inputs("fw", "framework", (dist("idna", "3.11"),))
    first, second = build_document(inputs), build_document(inputs)
    assert first.text == second.text
    document = json.loads(first.text)
    assert document["serialNumber"] == f"urn:uuid:{first.serial}"
    assert serial_problem(document) is None
    others = [
        replace(inputs, settings=SbomSettings(supplier=SbomParty("Another supplier"))),
        replace(inputs, timestamp=inputs.timestamp.replace(year=2030)),
        layer_inputs("fw", "framework", (dist("idna", "3.11"),), archive_sha256="0" * 64),
    ]
    serials = {build_document(other).serial for other in others}
    assert len(serials) == 3 and first.serial not in serials
    document["serialNumber"] = f"urn:uuid:{build_document(others[0]).serial}"
    assert "the one its content gives (edited)" in str(serial_problem(document))


def test_unresolved_requirement_is_kept_and_flagged(tmp_path: Path) -> None:
    document = build_document(
        layer_inputs("app", "application", (dist("Jinja2", "3.1.6", "MarkupSafe>=2.0"),))
    )
    assert document.unresolved == ("Jinja2: MarkupSafe>=2.0",)
    result = check_document(write(tmp_path / "app.cdx.json", document))
    assert [str(problem) for problem in result.problems] == [
        "Jinja2 3.1.6: dependency found in no layer: MarkupSafe>=2.0"
    ]


def edited(path: Path, change: Any) -> Path:
    document = load(path)
    change(document)
    target = path.with_name("edited-" + path.name)
    target.write_text(json.dumps(document))
    return target


def problems(path: Path, archive: Path | None = None, profile: str | None = None) -> list[str]:
    contents = read_archive(archive) if archive is not None else None
    return [str(problem) for problem in check_document(path, contents, profile).problems]


def drop_hashes(component: dict[str, Any]) -> None:
    """No hash of the component, nor of its distribution (which a checker may take)."""
    component["hashes"] = []
    for reference in component.get("externalReferences", []):
        reference.pop("hashes", None)


def test_check_names_a_component_without_hash(stack: dict[str, Path]) -> None:
    def drop_hash(document: dict[str, Any]) -> None:
        drop_hashes(by_name(document)["MarkupSafe"])

    found = problems(edited(stack["framework"], drop_hash), profile="cisa")
    assert "MarkupSafe 3.0.4: missing cryptographic hash ($.components[0].hashes)" in found
    assert not any("MarkupSafe" in item for item in problems(stack["framework"], profile="cisa"))


def test_check_lists_every_missing_element(stack: dict[str, Path]) -> None:
    def strip(document: dict[str, Any]) -> None:
        del document["metadata"]["timestamp"], document["metadata"]["supplier"]
        jinja2 = by_name(document)["Jinja2"]
        for key in ("licenses", "purl", "supplier", "authors"):
            del jinja2[key]
        document["dependencies"] = [
            entry for entry in document["dependencies"] if entry["ref"] != jinja2["bom-ref"]
        ]
        document["dependencies"][0]["dependsOn"].append("nowhere")

    found = problems(edited(stack["app"], strip))  # held to NTIA's: it meets no profile
    assert "document: missing timestamp ($.metadata.timestamp)" in found
    assert "document: missing SBOM author name ($.metadata.authors[].name)" in found
    for missing in (
        "unique identifier (purl, cpe or swid) ($.components[1].purl)",
        "supplier name ($.components[1].supplier.name)",
    ):  # fmt: skip
        assert f"Jinja2 3.1.6: missing {missing}" in found
    assert any("depends on unknown bom-ref 'nowhere'" in problem for problem in found)
    # Jinja2 is still a dependency of the layer, so it has a dependency relationship.
    assert not any("Jinja2 3.1.6: missing dependency relationship" in item for item in found)
    licensed = problems(edited(stack["app"], strip), profile="bsi")
    assert (
        "Jinja2 3.1.6: missing license as an SPDX identifier or expression"
        " ($.components[1].licenses[].license.id)" in licensed
    )


def test_check_fails_a_distribution_without_provenance(stack: dict[str, Path]) -> None:
    def unbuilt(document: dict[str, Any]) -> None:
        jinja2 = by_name(document)["Jinja2"]
        jinja2["properties"].append({"name": "srcstacks:provenance", "value": "missing"})

    assert problems(stack["app"]) == []  # negative control
    assert problems(edited(stack["app"], unbuilt)) == [
        "Jinja2 3.1.6: no provenance record (not built here)"
    ]


def test_check_reports_schema_errors_and_bad_json(stack: dict[str, Path], tmp_path: Path) -> None:
    def break_schema(document: dict[str, Any]) -> None:
        document["components"][0]["type"] = "gadget"

    assert any("schema:" in problem for problem in problems(edited(stack["app"], break_schema)))
    bad = tmp_path / "bad.cdx.json"
    bad.write_text("{not json")
    assert problems(bad)[0].startswith("document: not readable as JSON")


def make_archive(path: Path, *dists: tuple[str, str]) -> Path:
    with tarfile.open(path, "w:xz") as tar:
        for name, version in dists:
            data = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode()
            info = tarfile.TarInfo(
                f"fw/lib/python3.11/site-packages/{name}-{version}.dist-info/METADATA"
            )
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_check_against_the_archive(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "fw.tar.xz", ("markupsafe", "3.0.4"))
    sha256 = hashlib.sha256(archive.read_bytes()).hexdigest()
    sbom = write(
        tmp_path / "fw.tar.xz.cdx.json",
        build_document(
            layer_inputs("fw", "framework", (dist("MarkupSafe", "3.0.4"),), archive_sha256=sha256)
        ),
    )
    assert problems(sbom, archive) == []
    other = make_archive(tmp_path / "other.tar.xz", ("markupsafe", "3.0.4"), ("idna", "3.11"))
    assert problems(sbom, other) == [
        "archive: other.tar.xz: sha256 differs from metadata.component's",
        "idna 3.11: in other.tar.xz but has 0 library components",
    ]
    extra = make_archive(tmp_path / "empty.tar.xz")
    assert "markupsafe 3.0.4: not a distribution in empty.tar.xz" in problems(sbom, extra)


def test_cli_check_exit_codes(stack: dict[str, Path]) -> None:
    def check(*args: str | Path) -> Result:
        return CliRunner().invoke(app, ["sbom", "check", *map(str, args)])

    ok = check(*stack.values())
    assert ok.exit_code == 0, ok.output
    assert "app-greeter.tar.xz.cdx.json: OK (3 component(s))" in ok.stdout

    def drop_hash(document: dict[str, Any]) -> None:
        drop_hashes(by_name(document)["Jinja2"])

    broken = edited(stack["app"], drop_hash)
    assert check(broken).exit_code == 0  # NTIA's minimum elements ask for no hash
    failed = check(stack["framework"], broken, "--profile", "cisa")
    assert failed.exit_code == 1
    assert "Jinja2 3.1.6: missing cryptographic hash ($.components[1].hashes)" in failed.stdout
    # The hand-made documents have no compositions: neither meets CISA's.
    assert "2 of 2 SBOM(s) lack required elements" in failed.stderr
    mismatch = check(broken, "--archive", "a", "--archive", "b")
    assert mismatch.exit_code == 1 and "give one --archive per FILE" in mismatch.stderr


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: d["components"][0].pop("name"), "missing name"),
        (lambda d: d.__setitem__("metadata", "not an object"), "missing primary component"),
        (lambda d: d.__setitem__("components", {"a": 1}), "schema:"),
        (lambda d: d["components"][0].__setitem__("hashes", "abc"), "schema:"),
        (lambda d: d["dependencies"][0].__setitem__("dependsOn", [{"x": 1}]), "unknown bom-ref"),
        (lambda d: d["metadata"]["component"].__setitem__("hashes", [{"alg": []}]), "schema:"),
    ],
)
def test_check_names_malformed_documents_without_a_traceback(
    stack: dict[str, Path], damage: Any, expected: str, tmp_path: Path
) -> None:
    found = problems(edited(stack["app"], damage))
    assert any(expected in problem for problem in found), found
    archive = make_archive(tmp_path / "fw.tar.xz", ("jinja2", "3.1.6"))
    # Against an archive too: the archive comparison must not trip over the damage.
    assert problems(edited(stack["app"], damage), archive)


def test_cli_check_names_a_corrupt_archive(stack: dict[str, Path], tmp_path: Path) -> None:
    corrupt = tmp_path / "app-greeter.tar.xz"
    corrupt.write_bytes(b"\xfd7zXZ\x00 not really xz")
    result = CliRunner().invoke(
        app, ["sbom", "check", str(stack["app"]), "--archive", str(corrupt)]
    )
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"srcstacks: error: {corrupt}: unreadable archive")


def test_a_schema_invalid_document_meets_no_profile_and_its_errors_keep_whole_words(
    stack: dict[str, Path],
) -> None:
    """Issue 23's audit: `sbom check` called a schema-invalid SBOM "meets cra" and cut
    schema messages mid-word."""
    long_value = " ".join(f"word{index}" for index in range(80))

    def break_schema(document: dict[str, Any]) -> None:
        document["components"][0]["type"] = long_value

    result = CliRunner().invoke(app, ["sbom", "check", str(edited(stack["app"], break_schema))])
    assert result.exit_code == 1
    (schema_line,) = [line for line in result.stdout.splitlines() if "schema:" in line]
    assert schema_line.endswith(" [...]")
    last_word = schema_line.removesuffix(" [...]").rsplit(" ", 1)[1].strip("'\"")
    assert last_word in long_value.split()  # a whole word, not a cut one
    assert "not a valid CycloneDX 1.6 document (schema errors listed above): meets no" in (
        result.stdout
    )
    assert "meets cra" not in result.stdout


def test_a_wheels_purl_names_the_index_that_holds_it() -> None:
    """A wheel built here: the spec's repository_url (its file name, with a build tag, is
    that index's); an upstream binary: the index it came from, unless that is PyPI."""
    built = dist("MarkupSafe", "3.0.4")
    assert built.provenance is not None
    component = library_component(built, (), None, "https://pypi.acme.example/simple/")
    assert str(component.purl) == (
        "pkg:pypi/markupsafe@3.0.4?file_name=markupsafe-3.0.4-0-py3-none-any.whl"
        "&repository_url=https://pypi.acme.example/simple/"
    )
    assert "repository_url" not in str(library_component(built, (), None).purl)
    for index, shown in (("https://mirror.acme.example/simple/", True),
                         ("https://pypi.org/simple/", False)):  # fmt: skip
        upstream = UpstreamRecord(index, f"{index}idna/idna-3.11-py3-none-any.whl", "a" * 64)
        record = WheelProvenance.upstream_binary(
            "idna-3.11-py3-none-any.whl", "idna", "3.11", "cpu", upstream
        )
        taken = replace(dist("idna", "3.11"), provenance=record)
        purl = str(library_component(taken, (), None, "https://pypi.acme.example/simple/").purl)
        assert ("repository_url=https://mirror.acme.example/simple/" in purl) is shown, purl
        assert "pypi.acme.example" not in purl
