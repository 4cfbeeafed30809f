"""The runtime layer built from CPython's source tarball (``source = "build"``), for real.

The slow part of the suite, kept in one place: one CPython 3.11.2 build from the upstream
tarball (Debian's ``python3.11_3.11.2.orig.tar.gz``, fetched by
``tests/tools/fetch-cpython-source.sh``) runs the demo stack, and one ``verify --rebuild``
compiles it again to compare the bytes. The fault tests stop before or early in the
compile, with ``srcstacks runtime build``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomlkit

from tests.conftest import REPO_ROOT, copy_demo_stack, run_cli

pytestmark = pytest.mark.e2e

TARBALL_SHA256 = "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849"
FETCH_SCRIPT = REPO_ROOT / "tests" / "tools" / "fetch-cpython-source.sh"
# Set by .ci/run; otherwise the script fetches into the user's cache once.
TARBALL_VARIABLE = "SRCSTACKS_TEST_CPYTHON_TARBALL"


@pytest.fixture(scope="session")
def cpython_tarball() -> Path:
    """CPython 3.11.2's upstream source tarball (26 MB), fetched once and cached."""
    given = os.environ.get(TARBALL_VARIABLE)
    if given:
        return Path(given)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "srcstacks-tests"
    result = subprocess.run(
        ["bash", str(FETCH_SCRIPT), str(cache)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"fetching CPython's source failed:\n{result.stderr}"
    return Path(result.stdout.strip().splitlines()[-1])


def built_runtime_spec(
    target: Path, tarball: Path, *, sha256: str = TARBALL_SHA256, version: str = "3.11.2"
) -> Path:
    """The demo stack with its runtime built from ``tarball`` (the wheel dir, no index)."""
    spec = copy_demo_stack(target)
    document = tomlkit.parse(spec.read_text(encoding="utf-8"))
    document["runtimes"][0]["python_implementation"] = f"cpython@{version}"
    runtime = tomlkit.table()
    runtime.update({"source": "build", "tarball": str(tarball), "sha256": sha256})
    document["tool"]["srcstacks"]["runtime"] = runtime
    spec.write_text(tomlkit.dumps(document), encoding="utf-8")
    # A quick compile: no optimisation, no debug information (configure takes OPT from
    # the environment). What these tests check (built from source, relocatable, the demo
    # runs on it, it rebuilds bit for bit) holds at any optimisation level, and the two
    # compiles are the suite's longest steps. It exercises cpython.yaml's env too.
    (spec.parent / "build-settings" / "cpython.yaml").write_text(
        "env:\n  OPT: -DNDEBUG -g0 -O0 -fwrapv\n", encoding="utf-8"
    )
    return spec


@dataclass(frozen=True)
class BuiltRuntimeStack:
    spec: Path
    output: Path
    deployed: Path
    build_log: str


@pytest.fixture(scope="module")
def runtime_stack(
    tmp_path_factory: pytest.TempPathFactory, cpython_tarball: Path
) -> BuiltRuntimeStack:
    root = tmp_path_factory.mktemp("built-runtime")
    spec = built_runtime_spec(root / "stack", cpython_tarball)
    result = run_cli("build", spec)
    deployed = root / "deployed"
    run_cli("deploy", spec, "--target", deployed)
    return BuiltRuntimeStack(
        spec, root / "stack" / "_srcstacks" / "cpu" / "artifacts", deployed, result.stderr
    )


def test_the_demo_runs_on_a_cpython_built_from_its_source(
    runtime_stack: BuiltRuntimeStack,
) -> None:
    assert "built CPython 3.11.2 in" in runtime_stack.build_log
    python = runtime_stack.deployed / "cpython-3.11" / "bin" / "python3"
    version = subprocess.run(
        [str(python), "-c", "import sys, ssl, sqlite3, ctypes, lzma; print(sys.version)"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert version.startswith("3.11.2 "), version
    # SOURCE_DATE_EPOCH (1980-01-01 by default) is the build date the interpreter reports.
    assert "Jan  1 1980, 00:00:00" in version
    greeter = runtime_stack.deployed / "app-greeter" / "bin" / "python"
    out = subprocess.run(
        [str(greeter), "-m", "greeter"], capture_output=True, text=True, check=True
    ).stdout
    assert "Hello, O&apos;Brien &lt;admin&gt;!" in out
    assert "C speedups" in out  # markupsafe's extension loads in the built interpreter
    punycode = runtime_stack.deployed / "app-punycode" / "bin" / "python"
    out = subprocess.run(
        [str(punycode), "-m", "punycode"], capture_output=True, text=True, check=True
    ).stdout
    assert "xn--bcher-kva.example" in out


def dpkg_version(package: str) -> str:
    command = ["dpkg-query", "-W", "-f=${Version}", package]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


def test_the_runtime_is_relocatable_and_records_how_it_was_built(
    runtime_stack: BuiltRuntimeStack,
) -> None:
    with tarfile.open(runtime_stack.output / "cpython-3.11.tar.xz") as tar:
        names = tar.getnames()
        sysconfig = next(name for name in names if "/_sysconfigdata_" in name)
        stream = tar.extractfile(sysconfig)
        assert stream is not None
        text = stream.read().decode()
    assert "/build/Python-3.11.2" in text  # the build folder, mapped
    assert str(runtime_stack.spec.parent) not in text
    assert not any("__pycache__" in name or "site-packages/" in name for name in names)
    build = json.loads((runtime_stack.output / "__srcstacks__" / "build.json").read_text())
    record = build["runtimes"][0]
    assert record["source"] == "build"
    assert record["build"]["tarball_sha256"] == TARBALL_SHA256
    assert record["build"]["configure_args"][:2] == ["--prefix=/install", "--enable-shared"]
    bundled = {item["name"]: item["version"] for item in record["build"]["bundled"]}
    assert bundled == {"expat": "2.5.0", "mpdecimal": "2.5.1"}  # read from the built interpreter
    sonames = {item["soname"] for item in record["build"]["system_libraries"]}
    assert {"libc.so.6", "libssl.so.3"} <= sonames
    # The Debian packages the build used, at the versions installed here, and why.
    used = {item["name"]: item for item in record["build"]["system_packages"]}
    assert "development" in used["libssl-dev"]["roles"]  # linked against libssl.so
    assert "runtime" in used["libssl3"]["roles"] and "libssl.so.3" in used["libssl3"]["provides"]
    assert used["gcc"]["roles"] == ["compiler"] and used["binutils"]["roles"] == ["linker"]
    for name, item in used.items():
        assert item["version"] == dpkg_version(name), name
    sbom = json.loads((runtime_stack.output / "cpython-3.11.tar.xz.cdx.json").read_text())
    cpython = next(c for c in sbom["components"] if c["name"] == "cpython")
    assert cpython["cpe"] == "cpe:2.3:a:python:python:3.11.2:*:*:*:*:*:*:*"
    nested = {c["name"]: c.get("version") for c in cpython["components"]}
    assert nested["expat"] == "2.5.0" and nested["mpdecimal"] == "2.5.1"
    assert any(
        c.get("purl", "").startswith("pkg:deb/debian/libssl3@") for c in cpython["components"]
    )
    # The built archive's SHA-512 beside its SHA-256, and the code inside it read again
    # from the seeded interpreter, each with the module file it is in and its digests.
    # The built install_only archive never ships: the component's hash is that of its
    # file list (every file's sha256 as the layer archive holds it), the archive's
    # digests are properties.
    files_list = runtime_stack.output / "__srcstacks__" / "cpython-3.11.runtime-files.json"
    assert cpython["hashes"] == [
        {"alg": "SHA-256", "content": hashlib.sha256(files_list.read_bytes()).hexdigest()},
        {"alg": "SHA-512", "content": hashlib.sha512(files_list.read_bytes()).hexdigest()},
    ]
    properties = {item["name"]: item["value"] for item in cpython["properties"]}
    assert properties["srcstacks:runtime:archive_sha256"] == record["sha256"]
    assert properties["srcstacks:runtime:archive_sha512"] == record["sha512"]
    assert len(record["sha512"]) == 128
    inside = {item["name"]: item for item in record["bundled"]}
    assert {name: item["version"] for name, item in inside.items()} == bundled
    assert inside["expat"]["filename"].startswith("pyexpat.cpython-311-")
    expat = next(c for c in cpython["components"] if c["name"] == "expat")
    assert {h["alg"]: h["content"] for h in expat["hashes"]} == {
        "SHA-256": inside["expat"]["sha256"],
        "SHA-512": inside["expat"]["sha512"],
    }
    assert expat["supplier"]["name"] == "libexpat project"
    (formula,) = sbom["formulation"]  # how it was built, with those packages as pkg:deb
    assert {c["name"] for c in formula["components"]} >= {"libssl-dev", "gcc", "binutils"}
    run_cli("sbom", "check", runtime_stack.output / "cpython-3.11.tar.xz.cdx.json")
    run_cli("verify", runtime_stack.spec)


def test_system_deps_names_what_the_cpython_build_needs_on_a_build_host(
    runtime_stack: BuiltRuntimeStack,
) -> None:
    """configure and make ran, and the development packages the build linked with."""
    report = json.loads(run_cli("system-deps", runtime_stack.spec, "--json").stdout)
    build_host = report["build_host"]
    assert build_host["builds_cpython"] is True
    assert {"gcc", "make"} <= set(build_host["commands"])
    packages = {item["name"]: item["version"] for item in build_host["packages"]}
    # libssl-dev: only the CPython build links against OpenSSL (markupsafe does not).
    assert packages["libssl-dev"] == dpkg_version("libssl-dev")
    assert packages["make"] == dpkg_version("make")
    text = run_cli("system-deps", runtime_stack.spec).stdout
    assert "to build the wheels and the runtime: gcc" in text


def test_a_rerun_reuses_the_cpython_built_from_the_same_inputs(
    runtime_stack: BuiltRuntimeStack,
) -> None:
    result = run_cli("runtime", "build", runtime_stack.spec)
    assert "reusing CPython 3.11.2 built from python3.11_3.11.2.orig.tar.gz" in result.stderr
    assert "building CPython" not in result.stderr
    assert result.stdout.strip().endswith("-srcstacks-install_only.tar.gz")


def test_the_runtime_archive_rebuilds_bit_for_bit(runtime_stack: BuiltRuntimeStack) -> None:
    # Compiles CPython again, in the rebuild's own scratch folder (other paths).
    result = run_cli("verify", runtime_stack.spec, "--rebuild", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical  archives/cpython-3.11.tar.xz" in result.stdout + result.stderr
    assert "built CPython 3.11.2 in" in result.stderr  # really built again, not reused


# --- faults: each stops before the compile, or early in it -------------------------


def _fails(spec: Path) -> str:
    result = run_cli("runtime", "build", spec, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("srcstacks: error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_tarball_with_another_sha256_is_refused_before_unpacking(
    tmp_path: Path, cpython_tarball: Path
) -> None:
    spec = built_runtime_spec(tmp_path / "stack", cpython_tarball, sha256="0" * 64)
    error = _fails(spec)
    assert f"sha256 is {TARBALL_SHA256}" in error and "refused before unpacking" in error
    assert not (tmp_path / "stack" / "_srcstacks" / "runtime-build").exists()


def test_a_tarball_that_is_not_cpython_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "not-python.tar.gz"
    source = tmp_path / "src" / "project-1.0"
    source.mkdir(parents=True)
    (source / "setup.py").write_text("print('hi')\n")
    with tarfile.open(fake, "w:gz") as tar:
        tar.add(source, arcname="project-1.0")
    import hashlib

    digest = hashlib.sha256(fake.read_bytes()).hexdigest()
    spec = built_runtime_spec(tmp_path / "stack", fake, sha256=digest)
    error = _fails(spec)
    assert "not-python.tar.gz: not a CPython source tree" in error


def test_a_tarball_of_another_version_than_the_layer_is_refused(
    tmp_path: Path, cpython_tarball: Path
) -> None:
    spec = built_runtime_spec(tmp_path / "stack", cpython_tarball, version="3.11.7")
    error = _fails(spec)
    assert "is CPython 3.11.2, but the runtime layer wants 3.11.7" in error


def _add_cpython_patch(spec: Path, name: str, text: str) -> None:
    patches = spec.parent / "patches" / "cpython"
    patches.mkdir(parents=True, exist_ok=True)
    (patches / name).write_text(text)


def test_a_patch_that_does_not_apply_is_named(tmp_path: Path, cpython_tarball: Path) -> None:
    spec = built_runtime_spec(tmp_path / "stack", cpython_tarball)
    _add_cpython_patch(
        spec,
        "0001-wrong.patch",
        "--- a/README.rst\n+++ b/README.rst\n@@ -1,3 +1,3 @@\n-No such line here\n"
        "+Another line\n context\n context\n",
    )
    error = _fails(spec)
    assert "patch cpython/0001-wrong.patch does not apply to CPython's source" in error
    assert "cpython-patch.log" in error


def test_an_option_srcstacks_owns_is_refused_in_the_settings(
    tmp_path: Path, cpython_tarball: Path
) -> None:
    spec = built_runtime_spec(tmp_path / "stack", cpython_tarball)
    settings = spec.parent / "build-settings" / "cpython.yaml"
    settings.write_text("config_settings:\n  configure: ['--prefix=/opt/python']\n")
    error = _fails(spec)
    assert f"{settings}: configure option '--prefix=/opt/python' is set by srcstacks" in error


def test_a_failed_compile_names_its_log_and_error(tmp_path: Path, cpython_tarball: Path) -> None:
    spec = built_runtime_spec(tmp_path / "stack", cpython_tarball)
    # Programs/python.c is among the first files make compiles.
    _add_cpython_patch(
        spec,
        "0001-break.patch",
        "--- a/Programs/python.c\n+++ b/Programs/python.c\n@@ -1,3 +1,4 @@\n"
        " /* Minimal main program -- everything is loaded from the library */\n"
        '+#error srcstacks test: this build must fail\n \n #include "Python.h"\n',
    )
    error = _fails(spec)
    assert "CPython's make failed" in error and "srcstacks test: this build must fail" in error
    assert "cpython-make.log" in error
    # The folder stays for a look at the failure; nothing was cached as built.
    work = spec.parent / "_srcstacks"
    assert any((work / "runtime-build").iterdir())
    assert not (work / "runtimes" / "built").exists()
