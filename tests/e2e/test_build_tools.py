"""End-to-end: every wheel records the build tools, compilers and flags it was built with.

Reads the shared demo build (``built_stack``); the tamper tests work on private copies
of its wheel dir and output dir and update every hash a careful attacker would update,
so that only the check under test can catch them.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import subprocess
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.metadata import parse_email
from packaging.utils import canonicalize_name

from srcstacks.layout import sbom_path
from srcstacks.sbom.check import schema_problems
from srcstacks.sbom.profiles import profile_problems
from srcstacks.state.archive_reader import parse_record, record_digest
from srcstacks.state.provenance import check_wheel_dir
from srcstacks.state.wheel_sbom import parse, serial_of
from srcstacks.tools.venvstacks import published_layers
from tests.conftest import BuiltStack, run_cli

pytestmark = pytest.mark.e2e


def _members(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def dpkg_version(package: str) -> str:
    """The version of ``package`` this machine has installed."""
    command = ["dpkg-query", "-W", "-f=${Version}", package]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def properties_of(component: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in component.get("properties", [])}


def _own_sbom(wheel: Path) -> tuple[str, bytes]:
    (found,) = [(n, d) for n, d in _members(wheel).items() if "/sboms/" in n]
    return found


def test_every_wheel_carries_its_own_sbom_listed_in_its_record(built_stack: BuiltStack) -> None:
    wheel_dir = built_stack.config.wheel_dir
    manifest = check_wheel_dir(wheel_dir)
    assert len(manifest.wheels) == 5
    for name, record in manifest.wheels.items():
        member, data = _own_sbom(wheel_dir / name)
        dist_info = member.split("/")[0]
        assert member == f"{dist_info}/sboms/{record.project}.cdx.json"  # PEP 770's folder
        record_file = _members(wheel_dir / name)[f"{dist_info}/RECORD"].decode()
        assert parse_record(record_file)[member] == record_digest(data)
        assert schema_problems(data.decode()) == []
        sbom = parse(data)
        assert (sbom.project, sbom.version) == (record.project, record.version)
        assert record.sdist is not None and sbom.sdist_sha256 == record.sdist.sha256
        assert sbom.environment == record.build_environment
        assert str(built_stack.spec.parent) not in data.decode()  # no machine path


def test_setuptools_sbom_names_what_it_vendors(built_stack: BuiltStack) -> None:
    """setuptools vendors distributions under ``setuptools/_vendor``: its own SBOM lists
    each, at the version its ``.dist-info`` says, with the authors its METADATA names."""
    manifest = check_wheel_dir(built_stack.config.wheel_dir)
    (record,) = [r for r in manifest.wheels.values() if r.project == "setuptools"]
    members = _members(built_stack.config.wheel_dir / record.filename)
    own = f"setuptools-{record.version}.dist-info/METADATA"
    inside = {
        canonicalize_name(raw["name"]): (raw["version"], raw)
        for name, data in members.items()
        if name.endswith(".dist-info/METADATA") and name != own
        for raw in [parse_email(data.decode())[0]]
    }
    assert len(inside) >= 5, sorted(inside)  # setuptools vendors a dozen or so
    _, data = _own_sbom(built_stack.config.wheel_dir / record.filename)
    document = json.loads(data)
    root = document["metadata"]["component"]
    listed = {c["name"]: c for c in root["components"]}
    assert {name: c["version"] for name, c in listed.items()} == {
        name: version for name, (version, _) in inside.items()
    }
    assert root["supplier"]["name"]  # setuptools' own METADATA names its authors
    # srcstacks' own NTIA check: met, but for a vendored distribution whose METADATA
    # names nobody (then nothing in the wheel says who supplied it).
    people = ("author", "author_email", "maintainer", "maintainer_email")
    nameless = {
        f"{name} {version}"
        for name, (version, raw) in inside.items()
        if not any(raw.get(key) for key in people)
    }
    problems = profile_problems(document, "ntia")
    assert {(m.where, m.field) for m in problems} == {(n, "supplier name") for n in nameless}


def test_provenance_names_each_build_tool_as_the_published_wheel(built_stack: BuiltStack) -> None:
    wheel_dir = built_stack.config.wheel_dir
    manifest = check_wheel_dir(wheel_dir)
    by_project = {record.project: record for record in manifest.wheels.values()}
    for project, backend in [("markupsafe", "setuptools"), ("jinja2", "flit-core"),
                             ("idna", "flit-core")]:  # fmt: skip
        environment = by_project[project].build_environment
        assert environment is not None, project
        (tool,) = environment.tools
        assert (tool.name, tool.requirement_type) == (backend, "build-system")
        assert tool.filename == by_project[backend].filename
        published = hashlib.sha256((wheel_dir / tool.filename).read_bytes()).hexdigest()
        assert tool.sha256 == by_project[backend].sha256 == published
    # The backends themselves build with nothing installed (they bootstrap themselves).
    assert by_project["setuptools"].build_environment is not None
    assert by_project["setuptools"].build_environment.tools == ()
    markupsafe = by_project["markupsafe"].build_environment
    assert markupsafe is not None
    (compiler,) = markupsafe.compilers
    assert compiler.startswith("GCC: (") and compiler.split()[-1][0].isdigit()
    assert markupsafe.env["CFLAGS"] == "-O2 -g0 -frecord-gcc-switches"
    assert markupsafe.env["CPPFLAGS"].startswith("-ffile-prefix-map=<python>=/python")
    assert by_project["idna"].build_environment.compilers == ()  # type: ignore[union-attr]
    # The system packages markupsafe's build used, at the versions installed here; a
    # pure-Python wheel's build used none.
    packages = {package.name: package for package in markupsafe.system_packages}
    assert {"gcc", "libc6", "libc6-dev"} <= set(packages)
    assert all(p.version == dpkg_version(p.name) for p in packages.values())
    assert by_project["idna"].build_environment.system_packages == ()  # type: ignore[union-attr]
    text = (wheel_dir / "provenance.json").read_text()
    assert str(built_stack.config.work_dir) not in text


def test_layer_sbom_formulation_links_each_library_to_its_build_tools(
    built_stack: BuiltStack,
) -> None:
    output = built_stack.config.output_dir
    manifest = check_wheel_dir(built_stack.config.wheel_dir)
    layers = {
        layer.install_target: output / layer.archive_name for layer in published_layers(output)
    }
    text = sbom_path(layers["framework-web"]).read_text()
    assert schema_problems(text) == []
    document: dict[str, Any] = json.loads(text)
    (markupsafe,) = [c for c in document["components"] if c["name"].lower() == "markupsafe"]
    (formula,) = document["formulation"]
    (workflow,) = formula["workflows"]
    assert workflow["taskTypes"] == ["build"]
    assert workflow["outputs"] == [{"resource": {"ref": markupsafe["bom-ref"]}}]
    tool, compiler, python, fromager, *system = formula["components"]
    properties = {item["name"]: item["value"] for item in tool["properties"]}
    own_record = manifest.wheels[properties["srcstacks:wheel"]]  # its own provenance entry
    assert own_record.project == "setuptools"
    assert (
        tool["purl"] == f"pkg:pypi/setuptools@{own_record.version}?file_name={own_record.filename}"
    )
    wheel_bytes = (built_stack.config.wheel_dir / own_record.filename).read_bytes()
    assert tool["hashes"] == [
        {"alg": "SHA-256", "content": own_record.sha256},
        {"alg": "SHA-512", "content": hashlib.sha512(wheel_bytes).hexdigest()},
    ]
    assert compiler["name"] == "GCC"
    # The builder: the CPython Fromager ran on (the tests' own) and Fromager.
    assert (python["name"], python["version"]) == ("CPython", platform.python_version())
    assert (fromager["name"], fromager["version"]) == ("fromager", metadata.version("fromager"))
    # So does the wheel's provenance record.
    (record,) = [r for r in manifest.wheels.values() if r.project == "markupsafe"]
    assert record.build_environment is not None
    assert record.build_environment.python == platform.python_version()
    assert record.build_environment.fromager == metadata.version("fromager")
    # The Debian packages the build used: the compiler, the C library it links and the
    # C library's development files, as pkg:deb components at this machine's versions.
    roles = {item["name"]: properties_of(item)["srcstacks:system_package:roles"]
             for item in system}  # fmt: skip
    assert {"gcc", "libc6", "libc6-dev"} <= set(roles)
    assert (roles["gcc"], roles["libc6"], roles["libc6-dev"]) == (
        "compiler",
        "runtime",
        "development",
    )
    for item in system:
        assert item["purl"].startswith(f"pkg:deb/debian/{item['name']}@"), item["purl"]
        assert item["version"] == dpkg_version(item["name"])
    refs = {ref["ref"] for ref in workflow["resourceReferences"]}
    assert refs == {part["bom-ref"] for part in (tool, compiler, python, fromager, *system)}
    variables = {item["name"]: item["value"] for item in workflow["inputs"][0]["environmentVars"]}
    assert variables["CFLAGS"] == "-O2 -g0 -frecord-gcc-switches"
    # The runtime layer has no wheels, so no formulation.
    assert "formulation" not in json.loads(sbom_path(layers["cpython-3.11"]).read_text())


def _rewrite_wheel(wheel: Path, change: dict[str, bytes | None]) -> None:
    """Replace (bytes) or drop (None) members, with RECORD updated as a careful attacker would."""
    members = _members(wheel)
    for name, data in change.items():
        if data is None:
            members.pop(name)
        else:
            members[name] = data
    (record_name,) = [name for name in members if name.endswith(".dist-info/RECORD")]
    lines = [f"{name},{record_digest(data)},{len(data)}" for name, data in members.items()
             if name != record_name]  # fmt: skip
    members[record_name] = ("\n".join([*lines, f"{record_name},,"]) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    wheel.write_bytes(buffer.getvalue())


def _rehash_everywhere(wheels: Path, output: Path, wheel: Path, old: str) -> None:
    new = hashlib.sha256(wheel.read_bytes()).hexdigest()
    manifest = wheels / "provenance.json"
    manifest.write_text(manifest.read_text().replace(old, new))
    for sbom in output.glob("*.cdx.json"):
        sbom.write_text(sbom.read_text().replace(old, new))


def test_a_wheel_whose_sbom_is_removed_or_edited_fails_verify(
    copied_outputs: tuple[Path, Path, list[str]],
) -> None:
    wheels, output, args = copied_outputs
    (idna,) = wheels.glob("idna-*.whl")
    (jinja2,) = wheels.glob("jinja2-*.whl")
    # idna: its SBOM taken out. jinja2: its SBOM claims another flit_core wheel, with the
    # serial number recomputed so that the SBOM reads as unedited.
    old_idna, old_jinja2 = (hashlib.sha256(w.read_bytes()).hexdigest() for w in (idna, jinja2))
    _rewrite_wheel(idna, {_own_sbom(idna)[0]: None})
    member, data = _own_sbom(jinja2)
    document = json.loads(data)
    real = document["formulation"][0]["components"][0]["hashes"][0]["content"]
    document["formulation"][0]["components"][0]["hashes"][0]["content"] = "0" * 64
    document["serialNumber"] = serial_of(document)
    _rewrite_wheel(jinja2, {member: json.dumps(document, indent=2).encode()})
    manifest = wheels / "provenance.json"
    records = json.loads(manifest.read_text())
    claimed = records["wheels"][jinja2.name]["build_environment"]["tools"][0]
    assert claimed["sha256"] == real
    claimed["sha256"] = "0" * 64
    manifest.write_text(json.dumps(records, indent=2))
    _rehash_everywhere(wheels, output, idna, old_idna)
    _rehash_everywhere(wheels, output, jinja2, old_jinja2)
    result = run_cli("verify", *args, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 1
    out = result.stdout
    assert (
        f"{idna.name}: no SBOM of its own (idna-3.11.dist-info/sboms/idna.cdx.json missing)" in out
    )
    assert f"{jinja2.name}: its build tool flit_core-3.12.0-0-py3-none-any.whl had sha256" in out
    assert "srcstacks: error: verification failed" in result.stderr
