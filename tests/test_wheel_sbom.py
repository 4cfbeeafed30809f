"""Each wheel's own SBOM (PEP 770), the formulation in it, and verify's checks of it."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from srcstacks.sbom.profiles import profile_problems
from srcstacks.state.build_record import BuildEnvironment, BuildTool
from srcstacks.state.elf import read_compilers
from srcstacks.state.provenance import Manifest, build_tool_problems, read_manifest, write_manifest
from srcstacks.state.sbom_formulation import add_formulation, environment_of, formula
from srcstacks.state.wheel_about import Party, Vendored, read_about
from srcstacks.state.wheel_evidence import read_evidence
from srcstacks.state.wheel_sbom import Patch, WheelSbom, WheelSbomError, parse, render
from tests.test_provenance import make_wheel, publish, wheel_sbom

SETUPTOOLS = BuildTool(
    name="setuptools",
    version="80.9.0",
    filename="setuptools-80.9.0-0-py3-none-any.whl",
    sha256="a" * 64,
    requirement_type="build-system",
)
GCC = "GCC: (Debian 12.2.0-14+deb12u1) 12.2.0"
ENVIRONMENT = BuildEnvironment(
    tools=(SETUPTOOLS,),
    compilers=(GCC,),
    env={"CFLAGS": "-O2", "CPPFLAGS": "-I<work-dir>/x"},
    python="3.12.1",
    fromager="0.101.0",
)
SBOM = WheelSbom("demo", "1.0", "cpu", "demo-1.0.tar.gz", "b" * 64, (), ENVIRONMENT)
PATCH = Patch("demo/0001-fix.patch", b"--- a/x\n+++ b/x\n")


def test_the_sbom_reads_back_as_written_and_is_the_same_bytes_twice() -> None:
    data = render(SBOM, (PATCH,), "0.77.0", 315532800)
    assert data == render(SBOM, (PATCH,), "0.77.0", 315532800)
    found = parse(data)
    assert found.environment == ENVIRONMENT
    assert (found.project, found.version, found.variant) == ("demo", "1.0", "cpu")
    assert (found.sdist_filename, found.sdist_sha256) == ("demo-1.0.tar.gz", "b" * 64)
    (patch,) = found.patches
    assert patch[0] == "demo/0001-fix.patch"
    document = json.loads(data)
    assert document["metadata"]["timestamp"] == "1980-01-01T00:00:00Z"
    # Another build environment is another document, with another serial number.
    other = render(replace(SBOM, environment=BuildEnvironment()), (PATCH,), "0.77.0", 315532800)
    assert json.loads(other)["serialNumber"] != document["serialNumber"]


def test_the_sbom_and_a_layer_formulation_are_valid_cyclonedx_1_6() -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    validator = JsonStrictValidator(SchemaVersion.V1_6)
    assert validator.validate_str(render(SBOM, (PATCH,), "0.77.0", 0).decode()) is None
    layer = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
             "components": [{"type": "library", "name": "demo", "version": "1.0",
                             "bom-ref": "pkg:pypi/demo@1.0"}]}  # fmt: skip
    text = add_formulation(json.dumps(layer), [("pkg:pypi/demo@1.0", "demo 1.0", ENVIRONMENT)])
    assert validator.validate_str(text) is None
    (found,) = json.loads(text)["formulation"]
    assert found["workflows"][0]["outputs"] == [{"resource": {"ref": "pkg:pypi/demo@1.0"}}]
    # Negative control: a workflow without its required task types is refused.
    broken = json.loads(text)
    del broken["formulation"][0]["workflows"][0]["taskTypes"]
    assert validator.validate_str(json.dumps(broken)) is not None


def test_a_formula_names_each_tool_by_its_wheel_and_reads_back() -> None:
    found = formula("pkg:pypi/demo@1.0", "demo 1.0", ENVIRONMENT)
    tool, compiler, python, fromager = found["components"]
    assert tool["purl"] == f"pkg:pypi/setuptools@80.9.0?file_name={SETUPTOOLS.filename}"
    assert (python["name"], python["version"], python["purl"]) == (
        "CPython", "3.12.1", "pkg:generic/cpython@3.12.1"
    )  # fmt: skip
    assert (fromager["version"], fromager["purl"]) == ("0.101.0", "pkg:pypi/fromager@0.101.0")
    assert tool["hashes"] == [{"alg": "SHA-256", "content": "a" * 64}]
    assert {"name": "srcstacks:wheel", "value": SETUPTOOLS.filename} in tool["properties"]
    assert (compiler["name"], compiler["version"]) == ("GCC", "12.2.0")
    assert environment_of(found) == ENVIRONMENT
    # With the wheel's SHA-512 recorded (every build since srcstacks keeps it), both.
    both = replace(SETUPTOOLS, sha512="f" * 128)
    found = formula("pkg:pypi/demo@1.0", "demo 1.0", replace(ENVIRONMENT, tools=(both,)))
    assert found["components"][0]["hashes"] == [
        {"alg": "SHA-256", "content": "a" * 64},
        {"alg": "SHA-512", "content": "f" * 128},
    ]
    assert environment_of(found).tools == (both,)
    # A document without wheels to describe is left as it was.
    assert add_formulation('{"a": 1}', []) == '{"a": 1}'


def test_an_edited_sbom_is_caught() -> None:
    data = render(SBOM, (), "0.77.0", 0)
    edited = data.replace(b'"a' + b"a" * 63, b'"c' + b"c" * 63)
    assert edited != data
    with pytest.raises(WheelSbomError, match="serial number does not match its content"):
        parse(edited)
    with pytest.raises(WheelSbomError, match="not an SBOM srcstacks wrote"):
        parse(b"[]")


def test_a_wheel_without_its_sbom_or_with_an_edited_one_has_no_evidence(tmp_path: Path) -> None:
    good = make_wheel(tmp_path / "six-1.17.0-0-py3-none-any.whl")
    assert read_evidence(good).problems == ()
    assert read_evidence(good).sbom is not None
    (tmp_path / "gone").mkdir()
    missing = _without_sbom(good, tmp_path / "gone" / good.name)
    assert read_evidence(missing).problems == (
        "no SBOM of its own (six-1.17.0.dist-info/sboms/six.cdx.json missing)",
    )
    (tmp_path / "other").mkdir()
    other = make_wheel(tmp_path / "other" / good.name, sbom=wheel_sbom("idna", "3.11"))
    assert "its SBOM describes idna 3.11, not this wheel" in read_evidence(other).problems


def _without_sbom(source: Path, target: Path) -> Path:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            if "/sboms/" not in info.filename:
                data = old.read(info)
                if info.filename.endswith("RECORD"):
                    lines = data.decode().splitlines(keepends=True)
                    data = "".join(ln for ln in lines if "/sboms/" not in ln).encode()
                new.writestr(info, data)
    return target


def test_the_sbom_must_name_the_compilers_of_the_wheels_elf_files(tmp_path: Path) -> None:
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed (it builds the demo's C extension too)")
    source = tmp_path / "x.c"
    source.write_text("int answer(void) { return 42; }\n")
    subprocess.run(["gcc", "-c", str(source), "-o", str(tmp_path / "x.o")], check=True)
    elf = (tmp_path / "x.o").read_bytes()
    (compiler,) = read_compilers(elf)
    assert compiler.startswith("GCC: ")
    assert read_compilers(b"not an ELF file") == ()
    name = "six-1.17.0-0-py3-none-any.whl"
    (tmp_path / "a").mkdir()
    silent = make_wheel(tmp_path / "a" / name, extra={"six/x.o": elf})
    assert read_evidence(silent).problems == (
        f"its SBOM names the compilers [], its ELF files ['{compiler}']",
    )
    (tmp_path / "b").mkdir()
    named = BuildEnvironment(compilers=(compiler,))
    honest = make_wheel(tmp_path / "b" / name, extra={"six/x.o": elf},
                        sbom=wheel_sbom("six", "1.17.0", named))  # fmt: skip
    assert read_evidence(honest).problems == ()


def test_each_build_requirement_fromager_recorded_needs_a_tool_in_the_sbom(tmp_path: Path) -> None:
    name = "six-1.17.0-0-py3-none-any.whl"
    listed = "six-1.17.0.dist-info/fromager-build-system-requirements.txt"
    requirement = {listed: b"setuptools>=77\n"}
    (tmp_path / "a").mkdir()
    without = make_wheel(tmp_path / "a" / name, extra=requirement)
    assert read_evidence(without).problems == (
        "its SBOM names no build tool meeting 'setuptools>=77'"
        " (from its fromager-build-system-requirements.txt)",
    )
    (tmp_path / "b").mkdir()
    tooled = BuildEnvironment(tools=(SETUPTOOLS,))
    with_tool = make_wheel(tmp_path / "b" / name, extra=requirement,
                           sbom=wheel_sbom("six", "1.17.0", tooled))  # fmt: skip
    assert read_evidence(with_tool).problems == ()
    # One installed tool meets the same requirement from several steps (trove-classifiers
    # asks for calver as a build-system and a build-backend requirement).
    both = {**requirement, listed.replace("system", "backend"): b"setuptools\n"}
    (tmp_path / "c").mkdir()
    shared = make_wheel(tmp_path / "c" / name, extra=both,
                        sbom=wheel_sbom("six", "1.17.0", tooled))  # fmt: skip
    assert read_evidence(shared).problems == ()
    too_old = {listed.replace("system", "backend"): b"setuptools>=99\n"}
    (tmp_path / "d").mkdir()
    unmet = make_wheel(tmp_path / "d" / name, extra=too_old,
                       sbom=wheel_sbom("six", "1.17.0", tooled))  # fmt: skip
    assert read_evidence(unmet).problems == (
        "its SBOM names no build tool meeting 'setuptools>=99'"
        " (from its fromager-build-backend-requirements.txt)",
    )


def test_provenance_keeps_the_build_environment_and_checks_the_tools_sha256(
    tmp_path: Path,
) -> None:
    wheel_name = "six-1.17.0-0-py3-none-any.whl"
    tool_wheel = publish(tmp_path, SETUPTOOLS.filename)
    record = replace(publish(tmp_path, wheel_name), build_environment=ENVIRONMENT)
    tool = replace(SETUPTOOLS, sha256=tool_wheel.sha256)
    record = replace(record, build_environment=replace(ENVIRONMENT, tools=(tool,)))
    manifest = Manifest({wheel_name: record, tool_wheel.filename: tool_wheel})
    write_manifest(tmp_path, manifest)
    assert read_manifest(tmp_path).wheels[wheel_name].build_environment == record.build_environment
    written = json.loads((tmp_path / "provenance.json").read_text())["wheels"]
    assert written[wheel_name]["build_environment"]["tools"][0]["sha256"] == tool_wheel.sha256
    assert build_tool_problems(record, manifest) == []
    other = replace(tool_wheel, sha256="f" * 64)
    assert build_tool_problems(record, Manifest({tool_wheel.filename: other})) == [
        f"its build tool {SETUPTOOLS.filename} had sha256 {tool_wheel.sha256[:12]}..., the"
        " published one has ffffffffffff..."
    ]
    assert build_tool_problems(record, Manifest({})) == [
        f"its build tool {SETUPTOOLS.filename} has no provenance entry"
    ]


def test_a_record_written_before_has_no_build_environment_key(tmp_path: Path) -> None:
    record = replace(publish(tmp_path, "six-1.17.0-0-py3-none-any.whl"), build_environment=None)
    write_manifest(tmp_path, Manifest({record.filename: record}))
    written = json.loads((tmp_path / "provenance.json").read_text())["wheels"]
    assert "build_environment" not in written[record.filename]
    assert read_manifest(tmp_path).wheels[record.filename].build_environment is None


METADATA = """\
Metadata-Version: 2.4
Name: Demo
Version: 1.0
Author-email: Pallets <contact@palletsprojects.com>
License-Expression: bsd-3-clause
Requires-Dist: MarkupSafe>=2.0
Requires-Dist: Babel>=2.7; extra == "i18n"
"""


def unpacked_wheel(root: Path) -> Path:
    """An unpacked wheel vendoring one distribution by its .dist-info, two by vendor.txt."""
    dist_info = root / "demo-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(METADATA)
    vendor = root / "demo" / "_vendor"
    (vendor / "packaging-24.2.dist-info").mkdir(parents=True)
    (vendor / "packaging-24.2.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.3\nName: packaging\nVersion: 24.2\n"
        "Author-email: Donald Stufft <donald@stufft.io>\n"
    )
    (vendor / "vendor.txt").write_text("tomli==2.0.1  # pinned\nrich>=13\n")
    return dist_info


def test_what_a_wheel_says_of_itself(tmp_path: Path) -> None:
    about = read_about(unpacked_wheel(tmp_path))
    assert about.supplier == Party("Pallets", ("contact@palletsprojects.com",))
    assert about.license_expression == "BSD-3-Clause"  # canonical SPDX
    assert about.requires == ('Babel>=2.7; extra == "i18n"', "MarkupSafe>=2.0")
    assert about.vendored == (
        Vendored("packaging", "24.2", "demo/_vendor/packaging-24.2.dist-info",
                 Party("Donald Stufft", ("donald@stufft.io",))),
        Vendored("tomli", "2.0.1", "demo/_vendor/vendor.txt"),  # rich>=13 is no pin
    )  # fmt: skip


def test_a_free_form_license_or_a_name_only_author_is_said_as_it_is(tmp_path: Path) -> None:
    dist_info = tmp_path / "x-1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: x\nVersion: 1\nAuthor: Jane Roe\n"
        "Home-page: https://x.example\nLicense: BSD License\n"
    )
    about = read_about(dist_info)
    assert about.supplier == Party("Jane Roe", (), ("https://x.example",))
    assert about.license_expression == ""  # "BSD License" names no SPDX licence
    assert about.vendored == ()


def test_the_wheels_own_sbom_meets_ntia_with_what_the_wheel_says(tmp_path: Path) -> None:
    about = read_about(unpacked_wheel(tmp_path))
    bare = json.loads(render(SBOM, (), "0.101.0", 315532800))
    assert profile_problems(bare, "ntia") != []  # no supplier said: NTIA is not met
    document = json.loads(render(replace(SBOM, about=about), (), "0.101.0", 315532800))
    # All but the supplier of tomli, which only a vendor.txt pin names: nothing says who.
    (missing,) = profile_problems(document, "ntia")
    assert (missing.where, missing.field) == ("tomli 2.0.1", "supplier name")
    without_pin = replace(about, vendored=about.vendored[:1])
    complete = json.loads(render(replace(SBOM, about=without_pin), (), "0.101.0", 315532800))
    assert profile_problems(complete, "ntia") == []
    component = document["metadata"]["component"]
    assert document["metadata"]["authors"] == [{"name": "srcstacks"}]
    assert component["supplier"] == {
        "name": "Pallets", "contact": [{"email": "contact@palletsprojects.com"}]
    }  # fmt: skip
    assert component["licenses"] == [{"expression": "BSD-3-Clause", "acknowledgement": "declared"}]
    vendored = {item["name"]: item for item in component["components"]}
    assert vendored["packaging"]["purl"] == "pkg:pypi/packaging@24.2"
    (entry,) = document["dependencies"]
    assert entry["ref"] == component["bom-ref"]
    assert entry["dependsOn"] == sorted(item["bom-ref"] for item in vendored.values())
    requires = [
        p["value"] for p in component["properties"] if p["name"] == "srcstacks:requires_dist"
    ]
    assert requires == list(about.requires)
    # Still what parse reads, and valid CycloneDX 1.6.
    assert parse(json.dumps(document).encode()).environment == ENVIRONMENT
