"""End-to-end: the SBOMs `srcstacks build` writes for the demo stack describe it exactly."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import sysconfig
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from packaging.utils import canonicalize_name

from srcstacks.fsutil import sha256_file
from srcstacks.layout import Layout, build_info_path, sbom_path
from srcstacks.sbom.check import schema_problems
from srcstacks.spec.config import load_config
from srcstacks.state.archive_reader import read_archive
from srcstacks.tools.venvstacks import published_layers
from tests.conftest import BuiltStack, copy_built_stack, run_cli

pytestmark = pytest.mark.e2e

PATCH = "patches/markupsafe/0001-escape-apostrophe-as-named-entity.patch"


def archives(stack: BuiltStack) -> dict[str, Path]:
    output = stack.config.output_dir
    return {layer.install_target: output / layer.archive_name for layer in published_layers(output)}


def sbom(stack: BuiltStack, layer: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(sbom_path(archives(stack)[layer]).read_text())
    return data


def libraries(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        canonicalize_name(component["name"]): component
        for component in document["components"]
        if component["type"] == "library"
    }


def test_every_archive_has_a_schema_valid_sbom(built_stack: BuiltStack) -> None:
    found = archives(built_stack)
    assert set(found) == {"cpython-3.11", "framework-web", "app-greeter", "app-punycode"}
    for archive in found.values():
        path = sbom_path(archive)
        assert path.is_file(), f"no SBOM beside {archive.name}"
        assert schema_problems(path.read_text()) == []
    assert "wrote 4 SBOM(s)" in built_stack.build_output


def test_components_are_exactly_the_distributions_in_the_archive(built_stack: BuiltStack) -> None:
    for layer, archive in archives(built_stack).items():
        document = sbom(built_stack, layer)
        listed = [
            (canonicalize_name(c["name"]), c["version"])
            for c in document["components"]
            if c["type"] == "library"
        ]
        in_archive = [(dist.name, dist.version) for dist in read_archive(archive).dists]
        assert sorted(listed) == sorted(in_archive), layer
        assert document["metadata"]["component"]["hashes"][0] == {
            "alg": "SHA-256",
            "content": sha256_file(archive),
        }
    assert set(libraries(sbom(built_stack, "app-greeter"))) == {"jinja2"}


def test_patched_markupsafe_carries_its_patch(built_stack: BuiltStack) -> None:
    markupsafe = libraries(sbom(built_stack, "framework-web"))["markupsafe"]
    patch_file = built_stack.spec.parent / PATCH
    (patch,) = markupsafe["pedigree"]["patches"]
    assert patch["type"] == "unofficial"
    assert patch["diff"]["url"] == PATCH
    assert patch["diff"]["text"]["content"] == patch_file.read_text()
    properties = {item["name"]: item["value"] for item in markupsafe["properties"]}
    assert properties[f"srcstacks:patch:{PATCH}:sha256"] == sha256_file(patch_file)
    assert properties["srcstacks:build_env:CFLAGS"] == "-O2 -g0 -frecord-gcc-switches"
    assert properties["srcstacks:built_from_source"] == "true"
    assert properties["srcstacks:variant"] == "cpu"
    (upstream,) = markupsafe["pedigree"]["ancestors"]
    assert upstream["purl"] == "pkg:pypi/markupsafe@3.0.4?file_name=markupsafe-3.0.4.tar.gz"
    assert markupsafe["licenses"] == [
        {"license": {"acknowledgement": "concluded", "id": "BSD-3-Clause"}},
        {"license": {"acknowledgement": "declared", "id": "BSD-3-Clause"}},
    ]


def test_wheel_hashes_are_those_of_the_wheel_dir(built_stack: BuiltStack) -> None:
    checked = 0
    for layer in archives(built_stack):
        for component in libraries(sbom(built_stack, layer)).values():
            wheel_name = component["purl"].split("file_name=", 1)[1]
            wheel = built_stack.config.wheel_dir / wheel_name
            hashes = {item["alg"]: item["content"] for item in component["hashes"]}
            assert hashes["SHA-256"] == sha256_file(wheel), wheel_name
            checked += 1
    assert checked == 3  # markupsafe, jinja2, idna


def test_runtime_sbom_has_cpython(built_stack: BuiltStack) -> None:
    document = sbom(built_stack, "cpython-3.11")
    (cpython,) = [c for c in document["components"] if c["name"] == "cpython"]
    assert (cpython["type"], cpython["version"]) == ("platform", "3.11.7")
    build_info = json.loads(build_info_path(built_stack.config.output_dir).read_text())
    (runtime,) = build_info["runtimes"]
    packed = Layout.of(built_stack.config).packed_runtimes / runtime["filename"]
    assert runtime["sha512"] == hashlib.sha512(packed.read_bytes()).hexdigest()
    assert runtime["sha256"] == sha256_file(packed)
    # The packed archive never ships: the component is hashed by the runtime's file list
    # (every file's sha256 as the layer archive holds it), the archive's digests are
    # properties.
    listed = built_stack.config.output_dir / "__srcstacks__" / "cpython-3.11.runtime-files.json"
    assert cpython["hashes"] == [
        {"alg": "SHA-256", "content": sha256_file(listed)},
        {"alg": "SHA-512", "content": hashlib.sha512(listed.read_bytes()).hexdigest()},
    ]
    properties = {item["name"]: item["value"] for item in cpython["properties"]}
    assert properties["srcstacks:runtime:archive_sha256"] == runtime["sha256"]
    assert properties["srcstacks:runtime:archive_sha512"] == runtime["sha512"]
    assert cpython["cpe"] == "cpe:2.3:a:python:python:3.11.7:*:*:*:*:*:*:*"
    properties = {item["name"]: item["value"] for item in cpython["properties"]}
    assert properties["srcstacks:runtime:source"] == "pack"
    # The packed interpreter's binaries lost their debug information (docs/runtime.md).
    assert properties["srcstacks:runtime:debug_info"] == "stripped"
    # How the packed interpreter was built, as it says itself, naming no folder of ours.
    configure_args = sysconfig.get_config_var("CONFIG_ARGS") or ""
    expected = configure_args.replace(sys.base_prefix, "<prefix>")
    assert properties.get("srcstacks:runtime:configure_args", "") == expected
    assert properties["srcstacks:runtime:compiler"] == platform.python_compiler()
    assert properties["bsi:component:filename"] == runtime["filename"]
    assert document["metadata"]["component"]["type"] == "platform"


def test_code_compiled_into_the_packed_cpython_is_listed_with_its_versions(
    built_stack: BuiltStack,
) -> None:
    """The demo packs the interpreter running the tests: what it reports is what the
    SBOM must say (expat and libmpdec from CPython's tree; its SQLite, zlib and OpenSSL
    are the system's, named in srcstacks:system_libraries instead)."""
    import _decimal
    import pyexpat

    document = sbom(built_stack, "cpython-3.11")
    (cpython,) = [c for c in document["components"] if c["name"] == "cpython"]
    nested = {item["name"]: item for item in cpython["components"]}
    assert set(nested) == {"expat", "mpdecimal"}
    expat, mpdecimal = nested["expat"], nested["mpdecimal"]
    assert expat["version"] == pyexpat.EXPAT_VERSION.removeprefix("expat_")
    assert mpdecimal["version"] == _decimal.__libmpdec_version__
    assert expat["cpe"] == f"cpe:2.3:a:libexpat_project:libexpat:{expat['version']}:*:*:*:*:*:*:*"
    assert expat["licenses"] == [{"license": {"acknowledgement": "concluded", "id": "MIT"}}]
    assert mpdecimal["supplier"]["name"] == "bytereef.org"
    # Hashed as the module file that carries it, in the archive as in the seeded runtime.
    module = Path(pyexpat.__file__)
    digests = {item["alg"]: item["content"] for item in expat["hashes"]}
    properties = {item["name"]: item["value"] for item in expat["properties"]}
    assert properties["bsi:component:filename"] == module.name
    assert len(digests["SHA-512"]) == 128 and len(digests["SHA-256"]) == 64
    graph = {entry["ref"]: entry.get("dependsOn", []) for entry in document["dependencies"]}
    assert sorted(graph[cpython["bom-ref"]]) == sorted(item["bom-ref"] for item in nested.values())


def test_system_libraries_loaded_from_the_deploying_machine_are_named(
    built_stack: BuiltStack,
) -> None:
    runtime = sbom(built_stack, "cpython-3.11")
    (cpython,) = [c for c in runtime["components"] if c["name"] == "cpython"]
    cpython_properties = {item["name"]: item["value"] for item in cpython["properties"]}
    system = cpython_properties["srcstacks:system_libraries"].split()
    # The packed runtime's _ssl loads the system's OpenSSL; libpython is in the archive.
    assert {"libc.so.6", "libssl.so.3", "libcrypto.so.3"} <= set(system)
    assert not [name for name in system if name.startswith("libpython")]
    assert system == sorted(system)
    markupsafe = libraries(sbom(built_stack, "framework-web"))["markupsafe"]
    properties = {item["name"]: item["value"] for item in markupsafe["properties"]}
    assert properties["srcstacks:system_libraries"] == "libc.so.6"
    jinja2 = libraries(sbom(built_stack, "app-greeter"))["jinja2"]
    assert "srcstacks:system_libraries" not in {item["name"] for item in jinja2["properties"]}


def test_cross_layer_edge_points_into_the_framework_sbom(built_stack: BuiltStack) -> None:
    greeter, web = sbom(built_stack, "app-greeter"), sbom(built_stack, "framework-web")
    web_link = "urn:cdx:" + web["serialNumber"].removeprefix("urn:uuid:") + "/1"
    (web_layer,) = [c for c in greeter["components"] if c["name"] == "framework-web"]
    # bom-refs are local; the BOM-Links are in the `bom` external references.
    assert web_layer["bom-ref"] == web["metadata"]["component"]["bom-ref"]
    (reference,) = web_layer["externalReferences"]
    web_file = sbom_path(archives(built_stack)["framework-web"])
    assert (reference["type"], reference["url"]) == ("bom", web_link)
    assert reference["hashes"] == [{"alg": "SHA-256", "content": sha256_file(web_file)}]
    (stub,) = web_layer["components"]
    assert stub["purl"] == stub["bom-ref"] == libraries(web)["markupsafe"]["purl"]
    (stub_reference,) = stub["externalReferences"]
    assert stub_reference["type"] == "bom"
    assert stub_reference["url"] == web_link + "#" + quote(stub["bom-ref"], safe="")
    graph = {entry["ref"]: entry.get("dependsOn", []) for entry in greeter["dependencies"]}
    assert graph[libraries(greeter)["jinja2"]["bom-ref"]] == [stub["bom-ref"]]


def test_metadata_tools_timestamp_and_supplier(built_stack: BuiltStack) -> None:
    document = sbom(built_stack, "app-punycode")
    metadata = document["metadata"]
    tools = {tool["name"]: tool["version"] for tool in metadata["tools"]["components"]}
    assert set(tools) == {"srcstacks", "fromager", "venvstacks", "uv"}
    assert tools["fromager"] == "0.77.0"
    assert metadata["supplier"]["name"] == "srcstacks demo"
    layer = next(
        item
        for item in published_layers(built_stack.config.output_dir)
        if item.install_target == "app-punycode"
    )
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    expected = (
        datetime.fromtimestamp(int(epoch), UTC)
        if epoch
        else datetime.fromisoformat(str(layer.locked_at))
    )
    assert datetime.fromisoformat(metadata["timestamp"]) == expected


def test_no_build_machine_paths(built_stack: BuiltStack) -> None:
    stack_dir = str(built_stack.spec.parent)
    for archive in archives(built_stack).values():
        text = sbom_path(archive).read_text()
        assert stack_dir not in text
        assert str(Path.home()) + "/" not in text


def test_rerun_gives_identical_bytes(built_stack: BuiltStack, tmp_path: Path) -> None:
    # Rerun in a copy of the stack: the shared build is read-only (the stage records
    # what it wrote in the work dir).
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    output = load_config(spec).output_dir
    paths = [output / sbom_path(archive).name for archive in archives(built_stack).values()]
    before = [path.read_bytes() for path in paths]
    for path in paths:
        path.unlink()
    run_cli("sbom", spec)
    assert [path.read_bytes() for path in paths] == before


def test_check_passes_on_the_demo_and_fails_without_a_hash(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    found = archives(built_stack)
    args: list[str | Path] = [sbom_path(archive) for archive in found.values()]
    for archive in found.values():
        args += ["--archive", archive]
    result = run_cli("sbom", "check", *args, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": OK (") == 4
    assert result.stdout.count("(the most demanding profile it meets)") == 4

    missing = (
        "MarkupSafe 3.0.4: missing SHA-512 hash of the deployable form"
        " ($.components[0].hashes[alg=SHA-512])"
    )
    whole = sbom_path(found["framework-web"])
    assert missing not in run_cli("sbom", "check", whole, "--profile", "bsi", check=False).stdout
    document = sbom(built_stack, "framework-web")
    for component in document["components"]:
        if component["name"] == "MarkupSafe":
            del component["hashes"]
    broken = tmp_path / "framework-web.tar.xz.cdx.json"
    broken.write_text(json.dumps(document, indent=2))
    result = run_cli("sbom", "check", broken, "--profile", "bsi", check=False)
    assert result.returncode == 1
    assert missing in result.stdout


def properties(component: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in component.get("properties", [])}


def every_component(document: dict[str, Any]) -> list[dict[str, Any]]:
    """metadata.component, each top-level component and each one nested in them, except
    CPython's component and what is nested in it (sbom/runtime.py describes those) and
    the system libraries a distribution loads (named, not delivered: no supplier of
    ours, :func:`test_a_wheels_system_libraries_are_the_build_hosts_packages`)."""
    found, pending = [], [document["metadata"]["component"], *document["components"]]
    while pending:
        component = pending.pop()
        if component["name"] == "cpython" and component["type"] == "platform":
            continue
        if "srcstacks:system_library:soname" in properties(component):
            continue
        found.append(component)
        pending.extend(component.get("components", []))
    return found


def test_licenses_concluded_from_the_wheels_license_files(built_stack: BuiltStack) -> None:
    """Every distribution of the demo ships a BSD-3-Clause LICENSE; jinja2 declares only
    the classifier "BSD License", which names no license."""
    for layer, name, notice in (
        ("framework-web", "markupsafe", "Copyright 2010 Pallets"),
        ("app-greeter", "jinja2", "Copyright 2007 Pallets"),
        ("app-punycode", "idna", "Copyright (c) 2013-2025, Kim Davies and contributors."),
    ):
        component = libraries(sbom(built_stack, layer))[name]
        concluded = [
            item["license"]
            for item in component["licenses"]
            if item["license"]["acknowledgement"] == "concluded"
        ]
        assert concluded == [{"acknowledgement": "concluded", "id": "BSD-3-Clause"}], name
        assert component["copyright"] == notice
    jinja2 = libraries(sbom(built_stack, "app-greeter"))["jinja2"]
    assert {"license": {"acknowledgement": "declared", "name": "BSD License"}} in jinja2["licenses"]


# The demo's supplier, with the URL and contact cdxgen's CRA check asks of a supplier.
SUPPLIER = {
    "contact": [{"email": "sbom@srcstacks.example"}],
    "name": "srcstacks demo",
    "url": ["https://srcstacks.example"],
}


def test_every_component_has_supplier_license_and_bsi_properties(built_stack: BuiltStack) -> None:
    """What sbomaudit (NTIA) and BSI TR-03183-2 ask of each component, on every SBOM;
    CPython's own component is the runtime SBOM's business (sbom/runtime.py)."""
    bsi = ("filename", "executable", "archive", "structured")
    checked = 0
    for layer in archives(built_stack):
        for component in every_component(sbom(built_stack, layer)):
            label = f"{layer}: {component['name']}"
            assert component["supplier"] == SUPPLIER, label
            if component["type"] == "library":
                assert any(
                    item.get("acknowledgement", item.get("license", {}).get("acknowledgement"))
                    == "concluded"
                    for item in component["licenses"]
                ), label
            else:  # a layer archive: the supplier's own licence, never a distribution's
                assert component["licenses"] == [
                    {"license": {"acknowledgement": "declared", "id": "Apache-2.0"}}
                ], label
            assert {f"bsi:component:{key}" for key in bsi} <= set(properties(component)), label
            assert not component["bom-ref"].startswith("urn:cdx:"), label
            checked += 1
    assert checked == 12  # 4 layers, 3 libraries, 4 lower layers, 1 stub


def test_a_wheels_system_libraries_are_the_build_hosts_packages(built_stack: BuiltStack) -> None:
    """markupsafe's extension loads libc: a pkg:deb component nested in markupsafe's, the
    package and version its build used here (from provenance), with an edge to it."""
    document = sbom(built_stack, "framework-web")
    (markupsafe,) = [c for c in document["components"] if c["name"].lower() == "markupsafe"]
    (libc,) = markupsafe["components"]
    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "libc6"], check=True, capture_output=True, text=True
    ).stdout
    assert (libc["name"], libc["version"]) == ("libc6", version)
    assert libc["supplier"]["name"] == "GNU Libc Maintainers"  # as Debian names them
    release = platform.freedesktop_os_release()
    architecture = subprocess.run(
        ["dpkg", "--print-architecture"], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert libc["purl"] == (
        f"pkg:deb/{release['ID']}/libc6@{quote(version, safe='.:')}"
        f"?arch={architecture}&distro={release['VERSION_CODENAME']}"
    )
    assert properties(libc)["srcstacks:system_library:soname"] == "libc.so.6"
    entries = {entry["ref"]: entry for entry in document["dependencies"]}
    assert libc["bom-ref"] in entries[markupsafe["bom-ref"]]["dependsOn"]
    # The app layer above names it too, in its stub of markupsafe, with the same edge.
    app = sbom(built_stack, "app-greeter")
    stubs = [c for layer in app["components"] for c in layer.get("components", [])]
    (stub,) = [c for c in stubs if c["name"].lower() == "markupsafe"]
    (stub_libc,) = stub["components"]
    assert stub_libc["purl"] == libc["purl"]


def test_manufacturer_security_contact_and_compositions(built_stack: BuiltStack) -> None:
    document = sbom(built_stack, "app-greeter")
    root = document["metadata"]["component"]
    manufacturer = {
        "contact": [{"email": "sbom@srcstacks.example"}],
        "name": "srcstacks demo",
        "url": ["https://srcstacks.example"],
    }
    assert document["metadata"]["manufacturer"] == root["manufacturer"] == manufacturer
    # CISA's copyright notice of the primary component: the supplier's own (the spec's),
    # never one of its distributions' (issue 23's audit: "Copyright 2007 Pallets").
    assert root["copyright"] == "Copyright 2026 srcstacks demo"
    (contact,) = root["externalReferences"]
    assert (contact["type"], contact["url"]) == (
        "security-contact",
        "mailto:security@srcstacks.example",
    )
    aggregates = {entry["aggregate"]: entry for entry in document["compositions"]}
    assert aggregates["complete"]["assemblies"] == [root["bom-ref"]]
    assert libraries(document)["jinja2"]["bom-ref"] in aggregates["complete"]["dependencies"]
    (web,) = [c for c in document["components"] if c["name"] == "framework-web"]
    assert web["bom-ref"] in aggregates["incomplete"]["assemblies"]
    (stub,) = [c for c in web["components"] if c["name"].lower() == "markupsafe"]
    assert stub["bom-ref"] in aggregates["unknown"]["dependencies"]
    # The runtime's interpreter, with its CPE, for a scanner given this SBOM alone.
    (runtime,) = [c for c in document["components"] if c["name"] == "cpython-3.11"]
    (interpreter,) = runtime["components"]
    assert interpreter["cpe"] == "cpe:2.3:a:python:python:3.11.7:*:*:*:*:*:*:*"
    assert web["bom-ref"] in aggregates["incomplete"]["dependencies"]
