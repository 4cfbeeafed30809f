"""The fields independent checkers ask of each component (NTIA, BSI TR-03183-2, CRA),
on SBOMs built from hand-made inputs (no real build)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from srcstacks.errors import SbomError
from srcstacks.sbom.components import DistInputs
from srcstacks.sbom.document import LowerLayer, build_document
from srcstacks.sbom.links import read_layer_sbom
from srcstacks.sbom.metadata import parse_metadata
from srcstacks.spec.config import SbomParty, SbomSettings
from tests.conftest import copy_demo_stack, run_cli
from tests.test_sbom_document import RUNTIME, by_name, dist, layer_inputs, load, write

FIXTURES = Path(__file__).parent / "fixtures" / "licenses"
BSD3 = (FIXTURES / "markupsafe-LICENSE.txt").read_text(encoding="utf-8")
LIBC = ("libc.so.6",)
SETTINGS = SbomSettings(
    supplier=SbomParty("ACME builds"),
    manufacturer=SbomParty("ACME", url="https://acme.example", email="sbom@acme.example"),
    security_contact="mailto:security@acme.example",
    copyright="Copyright 2026 ACME",
    license="LicenseRef-ACME-Proprietary",
)


def with_license_files(inputs: DistInputs, files: dict[str, str], metadata: str = "") -> DistInputs:
    installed = replace(inputs.dist, license_files=files)
    meta = parse_metadata(metadata) if metadata else inputs.metadata
    return replace(inputs, dist=installed, metadata=meta)


def classifier_only(name: str, version: str) -> str:
    return (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        "Classifier: License :: OSI Approved :: BSD License\n"
    )


def properties(component: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in component.get("properties", [])}


def stack(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """Runtime, framework (markupsafe, BSD-3 file) and app (jinja2, "BSD License" only)."""
    runtime = write(
        tmp_path / "cpython-3.11.tar.xz.cdx.json",
        build_document(layer_inputs("cpython-3.11", "runtime", runtime=RUNTIME, settings=SETTINGS)),
    )
    runtime_link = LowerLayer(read_layer_sbom(runtime), ())
    markupsafe = with_license_files(
        dist("MarkupSafe", "3.0.4"), {"licenses/LICENSE.txt": BSD3}
    )  # fmt: skip
    framework = write(
        tmp_path / "framework-web.tar.xz.cdx.json",
        build_document(
            layer_inputs(
                "framework-web", "framework", (replace(markupsafe, system_libraries=LIBC),),
                ("markupsafe==3.0.4",), (runtime_link,), ("cpython-3.11",), settings=SETTINGS,
            )
        ),
    )  # fmt: skip
    jinja2 = with_license_files(
        dist("Jinja2", "3.1.6", "MarkupSafe>=2.0"),
        {"licenses/LICENSE.txt": BSD3.replace("2010", "2007")},
        classifier_only("Jinja2", "3.1.6") + "Requires-Dist: MarkupSafe>=2.0\n",
    )
    app = write(
        tmp_path / "app-greeter.tar.xz.cdx.json",
        build_document(
            layer_inputs(
                "app-greeter", "application", (jinja2,), ("jinja2==3.1.6",),
                (LowerLayer(read_layer_sbom(framework), ("cpython-3.11",)), runtime_link),
                ("framework-web",), settings=SETTINGS,
            )
        ),
    )  # fmt: skip
    return {"runtime": load(runtime), "framework": load(framework), "app": load(app)}


def test_licenses_declared_and_concluded_with_copyright(tmp_path: Path) -> None:
    documents = stack(tmp_path)
    jinja2 = by_name(documents["app"])["Jinja2"]
    # "BSD License" names no license; the file says which one.
    assert jinja2["licenses"] == [
        {"license": {"acknowledgement": "concluded", "id": "BSD-3-Clause"}},
        {"license": {"acknowledgement": "declared", "name": "BSD License"}},
    ]
    assert jinja2["copyright"] == "Copyright 2007 Pallets"
    assert properties(jinja2)["srcstacks:license_file:licenses/LICENSE.txt"] == "BSD-3-Clause"
    markupsafe = by_name(documents["framework"])["MarkupSafe"]
    assert {"license": {"acknowledgement": "concluded", "id": "BSD-3-Clause"}} in markupsafe[
        "licenses"
    ]


def test_without_license_files_only_the_declared_license(tmp_path: Path) -> None:
    """Negative control: nothing concluded when the wheel ships no license file, or one
    the matcher does not recognise (which is then named)."""
    bare = json.loads(build_document(layer_inputs("fw", "framework", (dist("idna", "3.11"),))).text)
    idna = by_name(bare)["idna"]
    assert idna["licenses"] == [{"license": {"acknowledgement": "declared", "id": "BSD-3-Clause"}}]
    assert "copyright" not in idna
    odd = with_license_files(dist("idna", "3.11"), {"licenses/LICENSE": "Do what you like.\n"})
    document = json.loads(build_document(layer_inputs("fw", "framework", (odd,))).text)
    idna = by_name(document)["idna"]
    assert [item["license"]["acknowledgement"] for item in idna["licenses"]] == ["declared"]
    assert properties(idna)["srcstacks:license_file:licenses/LICENSE"] == "unrecognised"


def test_a_compound_declared_expression_is_kept_as_a_property(tmp_path: Path) -> None:
    metadata = (
        "Metadata-Version: 2.4\nName: packaging\nVersion: 26.0\n"
        "License-Expression: Apache-2.0 OR BSD-2-Clause\n"
    )
    files = {
        f"licenses/LICENSE.{kind}": (FIXTURES / f"packaging-LICENSE.{kind}").read_text()
        for kind in ("APACHE", "BSD")
    }
    packaging = with_license_files(dist("packaging", "26.0"), files, metadata)
    document = json.loads(build_document(layer_inputs("fw", "framework", (packaging,))).text)
    component = by_name(document)["packaging"]
    assert component["licenses"] == [
        {"acknowledgement": "concluded", "expression": "Apache-2.0 OR BSD-2-Clause"}
    ]
    assert properties(component)["srcstacks:license:declared"] == "Apache-2.0 OR BSD-2-Clause"


def test_linked_components_carry_supplier_license_and_local_refs(tmp_path: Path) -> None:
    documents = stack(tmp_path)
    app, framework = documents["app"], documents["framework"]
    layer = by_name(app)["framework-web"]
    (stub,) = layer["components"]
    original = by_name(framework)["MarkupSafe"]
    for component, source in ((stub, original), (layer, framework["metadata"]["component"])):
        assert component["bom-ref"] == source["bom-ref"]  # local, not a BOM-Link
        assert not component["bom-ref"].startswith("urn:cdx:")
        for key in ("supplier", "licenses", "purl", "hashes", "manufacturer", "authors"):
            assert component.get(key) == source.get(key), key
        bsi = {k: v for k, v in properties(source).items() if k.startswith("bsi:")}
        assert bsi and bsi.items() <= properties(component).items()
    assert stub["supplier"] == {"name": "ACME builds"}
    assert stub["authors"] == [{"email": "dev@example.org", "name": "Dev"}]
    assert stub["copyright"] == "Copyright 2010 Pallets"
    (link,) = stub["externalReferences"]
    serial = framework["serialNumber"].removeprefix("urn:uuid:")
    assert link["type"] == "bom" and link["url"].startswith(f"urn:cdx:{serial}/1#pkg%3Apypi")


def test_layer_license_manufacturer_and_security_contact(tmp_path: Path) -> None:
    """The layer's licence and copyright are the supplier's own, never a component's
    (issue 23's audit: app-punycode said "Copyright (c) 2013-2025, Kim Davies")."""
    documents = stack(tmp_path)
    root = documents["app"]["metadata"]["component"]
    assert root["licenses"] == [
        {"acknowledgement": "declared", "expression": "LicenseRef-ACME-Proprietary"}
    ]
    assert root["copyright"] == "Copyright 2026 ACME"
    assert "Pallets" not in json.dumps(root)
    assert root["manufacturer"] == {
        "contact": [{"email": "sbom@acme.example"}],
        "name": "ACME",
        "url": ["https://acme.example"],
    }
    assert documents["app"]["metadata"]["manufacturer"] == root["manufacturer"]
    assert root["externalReferences"] == [
        {
            "comment": "where to report a vulnerability",
            "type": "security-contact",
            "url": "mailto:security@acme.example",
        }
    ]
    runtime_root = documents["runtime"]["metadata"]["component"]
    assert runtime_root["licenses"] == root["licenses"]
    (cpython,) = [c for c in documents["runtime"]["components"] if c["name"] == "cpython"]
    assert cpython["licenses"][0]["license"]["id"] == "Python-2.0"


def test_security_txt_is_also_an_rfc_9116_reference() -> None:
    settings = replace(SETTINGS, security_contact="https://acme.example/.well-known/security.txt")
    document = json.loads(build_document(layer_inputs("fw", "framework", settings=settings)).text)
    references = document["metadata"]["component"]["externalReferences"]
    assert [item["type"] for item in references] == ["rfc-9116", "security-contact"]


def test_bsi_file_properties(tmp_path: Path) -> None:
    documents = stack(tmp_path)
    expected = {
        "bsi:component:executable": "executable",
        "bsi:component:archive": "archive",
        "bsi:component:structured": "structured",
    }
    root = documents["app"]["metadata"]["component"]
    jinja2 = by_name(documents["app"])["Jinja2"]
    assert (
        properties(root).items()
        >= {**expected, "bsi:component:filename": "app-greeter.tar.xz"}.items()
    )
    assert properties(jinja2).items() >= {
        **expected, "bsi:component:filename": "jinja2-3.1.6-0-py3-none-any.whl"
    }.items()  # fmt: skip


def test_every_layers_sbom_names_its_interpreter_with_its_cpe(tmp_path: Path) -> None:
    """Issue 23's audit: given the app's SBOM alone, grype or trivy missed every CPython
    vulnerability: it named no interpreter and no CPE."""
    documents = stack(tmp_path)
    (cpython,) = [c for c in documents["runtime"]["components"] if c["type"] == "platform"]
    for layer in ("framework", "app"):
        runtime_layer = by_name(documents[layer])["cpython-3.11"]
        (interpreter,) = runtime_layer["components"]
        assert (
            interpreter["cpe"] == cpython["cpe"] == "cpe:2.3:a:python:python:3.11.7:*:*:*:*:*:*:*"
        )
        assert (interpreter["name"], interpreter["version"]) == ("cpython", "3.11.7")
        (link,) = interpreter["externalReferences"]
        assert link["type"] == "bom" and link["url"].endswith(
            "#" + quote(cpython["bom-ref"], safe="")
        )


def test_compositions_say_what_is_complete(tmp_path: Path) -> None:
    documents = stack(tmp_path)
    app = documents["app"]
    refs = {name: component["bom-ref"] for name, component in by_name(app).items()}
    root = app["metadata"]["component"]["bom-ref"]
    (stub,) = by_name(app)["framework-web"]["components"]
    (stub_libc,) = stub["components"]  # the system library markupsafe loads, from below
    (interpreter,) = by_name(app)["cpython-3.11"]["components"]
    below = sorted([refs["framework-web"], refs["cpython-3.11"]])
    assert app["compositions"] == [
        {"aggregate": "complete", "assemblies": [root], "dependencies": [root, refs["Jinja2"]]},
        # Issue 23's audit: the layers below were claimed "complete" with an entry that
        # lists no dependencies, where their own SBOMs list them.
        {"aggregate": "incomplete", "assemblies": below, "dependencies": below},
        {
            "aggregate": "unknown",
            "dependencies": sorted([stub["bom-ref"], stub_libc["bom-ref"], interpreter["bom-ref"]]),
        },
    ]
    entries = {entry["ref"]: entry for entry in app["dependencies"]}
    assert entries[refs["cpython-3.11"]]["dependsOn"] == [interpreter["bom-ref"]]
    assert entries[refs["framework-web"]]["dependsOn"] == [refs["cpython-3.11"]]
    # markupsafe loads libc: a component nested in it, with an edge to it, so its
    # dependencies are complete; libc's own are unknown here.
    framework = documents["framework"]
    markupsafe = by_name(framework)["MarkupSafe"]
    (libc,) = markupsafe["components"]
    assert properties(libc)["srcstacks:system_library:soname"] == "libc.so.6"
    entries = {entry["ref"]: entry for entry in framework["dependencies"]}
    assert entries[markupsafe["bom-ref"]]["dependsOn"] == [libc["bom-ref"]]
    aggregates = {c["aggregate"]: c.get("dependencies", []) for c in framework["compositions"]}
    assert markupsafe["bom-ref"] in aggregates["complete"]
    assert libc["bom-ref"] in aggregates["unknown"]
    assert libc["bom-ref"] not in entries  # no entry: "not described here", not "none"


def test_a_lower_sbom_with_a_malformed_license_or_supplier_is_named(tmp_path: Path) -> None:
    """Hand-edited lower SBOMs: an error naming the file, not a traceback."""
    stack(tmp_path)
    path = tmp_path / "framework-web.tar.xz.cdx.json"
    original = path.read_text()
    for damage in (
        lambda d: by_name(d)["MarkupSafe"].__setitem__("licenses", [{"license": {}}]),
        lambda d: d["metadata"]["component"].__setitem__("supplier", "ACME"),
        lambda d: by_name(d)["MarkupSafe"].__setitem__("licenses", ["MIT"]),
    ):
        document = json.loads(original)
        damage(document)
        path.write_text(json.dumps(document))
        with pytest.raises(SbomError, match=f"^{re.escape(str(path))}: unreadable layer SBOM"):
            read_layer_sbom(path)


def test_a_bad_security_contact_is_one_error_line_before_anything_runs(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    spec.write_text(
        spec.read_text().replace(
            'security_contact = "mailto:security@srcstacks.example"',
            'security_contact = "security@srcstacks.example"',
        )
    )
    result = run_cli("build", spec, check=False)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert line == (
        f"srcstacks: error: {spec}: 'tool.srcstacks.sbom.security_contact' must be"
        " 'mailto:<address>' or an https:// URL, not 'security@srcstacks.example'"
    )
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "_srcstacks").exists()  # nothing ran
