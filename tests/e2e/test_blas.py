"""End-to-end: a compiled extension on the system's BLAS, built from source with
meson-python (itself built from source), Fortran included, with the system packages it
used on the record.

tinyblas (``tests/fixtures/packages/tinyblas``: a C extension calling a Fortran routine
that calls BLAS's ``ddot``, linked against Debian's OpenBLAS found by pkg-config) is
served as an sdist on loopback; meson, meson-python and what they need come from PyPI
as sdists, like every other build tool. The science stacks of venvstacks' sample project
(numpy, SciPy) build the same way, in ``benchmarks/`` (the suite never builds them).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from srcstacks.layout import Layout
from srcstacks.spec.config import StackConfig, load_config
from srcstacks.state.provenance import check_wheel_dir
from srcstacks.tools.toolchain import find_interpreter
from tests.conftest import REPO_ROOT
from tests.conftest import cli_output as cli
from tests.index_server import serve_sdist
from tests.sdists import make_sdist

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class BlasStack:
    spec: Path
    config: StackConfig
    deployed: Path


def dpkg_version(package: str) -> str:
    command = ["dpkg-query", "-W", "-f=${Version}", package]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlasStack]:
    folder = tmp_path_factory.mktemp("blas")
    sdist = make_sdist("tinyblas", folder / "sdists")
    with serve_sdist("tinyblas", sdist) as index_url:
        shutil.copytree(REPO_ROOT / "tests" / "stacks" / "blas_ext", folder / "stack")
        spec = folder / "stack" / "venvstacks.toml"
        interpreter = find_interpreter("3.11")
        assert interpreter is not None, "this project's machines have CPython 3.11"
        spec.write_text(
            re.sub(r'"cpython@3\.11\.\d+"', f'"cpython@{interpreter.version}"', spec.read_text())
        )
        (folder / "stack" / "build-settings").mkdir()
        (folder / "stack" / "build-settings" / "tinyblas.yaml").write_text(
            f"resolver_dist:\n  sdist_server_url: {index_url}\n"
        )
        # Two at a time: the resolve step reads tinyblas' install requirements from its
        # pyproject.toml instead of building it to read its metadata (meson-python has
        # no prepare_metadata_for_build_wheel), and the parallel builds compile it once.
        cli("build", spec, "--jobs", "2")
        resolve = next(Layout.of(load_config(spec)).run_logs.glob("*/fromager-resolve.log"))
        assert "tinyblas: install requirements read from pyproject.toml" in resolve.read_text()
        deployed = folder / "deployed"
        output = cli("deploy", spec, "--target", deployed, "--run")
        assert "blas dot: 32.0" in output  # 1*4 + 2*5 + 3*6, by OpenBLAS's ddot
        yield BlasStack(spec, load_config(spec), deployed)


def test_the_build_names_the_fortran_compiler_and_the_blas_it_linked(built: BlasStack) -> None:
    manifest = check_wheel_dir(built.config.wheel_dir)
    by_project = {record.project: record for record in manifest.wheels.values()}
    # meson-python and meson were built from source as build tools, like any other.
    assert {"meson", "meson-python", "tinyblas"} <= set(by_project)
    environment = by_project["tinyblas"].build_environment
    assert environment is not None
    tools = {tool.name for tool in environment.tools}
    assert {"meson", "meson-python"} <= tools
    used = {package.name: package for package in environment.system_packages}
    roles = {name: package.roles for name, package in used.items()}
    # gfortran compiled the routine (libgfortran is linked), OpenBLAS through Debian's
    # alternatives: the -dev package that installed the link, and the library itself.
    assert roles["gfortran"] == ("compiler",)
    assert roles["libopenblas-pthread-dev"] == ("development",)
    assert roles["libopenblas0-pthread"] == ("runtime",)
    assert "libopenblas.so.0" in used["libopenblas0-pthread"].provides
    assert "runtime" in roles["libgfortran5"]
    for name, package in used.items():
        assert package.version == dpkg_version(name), name


def test_the_sbom_and_system_deps_name_the_blas_a_deploy_host_needs(built: BlasStack) -> None:
    sbom = json.loads((built.config.output_dir / "app-blasdot.tar.xz.cdx.json").read_text())
    (tinyblas,) = [c for c in sbom["components"] if c["name"] == "tinyblas"]
    nested = {c["name"]: c for c in tinyblas["components"]}
    assert nested["libopenblas0-pthread"]["purl"].startswith("pkg:deb/debian/libopenblas0-pthread@")
    assert nested["libopenblas0-pthread"]["supplier"]["name"] == "Debian Science Team"
    text = cli("system-deps", built.spec)
    lines = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    assert {"libopenblas0-pthread", "libgfortran5"} <= set(
        lines["app-blasdot"].split(" (")[0].split()
    )
    build = set(lines["a build host needs"].removeprefix("apt-get install ").split())
    assert {"gfortran", "libopenblas-pthread-dev"} <= build
