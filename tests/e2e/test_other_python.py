"""End-to-end: a stack on another Python than the one running srcstacks.

The demo stack with its runtime moved to the other CPython this machine has (3.12 when
the tests run on 3.11): srcstacks finds that interpreter, installs a build toolchain from
the locked ``srcstacks/toolchains/fromager-py3.12.txt`` (Fromager 0.101.0) into the work
dir, and every wheel, markupsafe's C extension included, is built by it for that Python.
The stack packs, deploys, runs, verifies and rebuilds bit for bit. One build (about a
minute and a half with the rebuild).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from srcstacks.config import load_config
from srcstacks.layout import Layout
from srcstacks.provenance import check_wheel_dir
from srcstacks.tools.toolchain import find_interpreter, locked_fromager
from tests.conftest import cli_output as run_cli
from tests.conftest import copy_demo_stack

pytestmark = pytest.mark.e2e

HERE = f"{sys.version_info.major}.{sys.version_info.minor}"
OTHER = "3.12" if HERE == "3.11" else "3.11"


def test_a_stack_on_another_python_is_built_by_a_toolchain_of_that_python(
    tmp_path: Path,
) -> None:
    other = find_interpreter(OTHER)
    assert other is not None, f"this project's machines have CPython {OTHER} (pyenv)"
    spec = copy_demo_stack(tmp_path / "stack")
    spec.write_text(re.sub(r'"cpython@[0-9.]+"', f'"cpython@{other.version}"', spec.read_text()))
    build = run_cli("build", spec)
    fromager = locked_fromager(OTHER)
    assert f"building the wheels of Python {OTHER} (runtime 'cpython-3.11') on CPython" in build
    assert f"(Fromager {fromager})" in build
    config = load_config(spec)
    layout = Layout.of(config)
    record = json.loads(layout.wheels_record.read_text())
    assert record["python_version"] == other.version and record["fromager_version"] == fromager
    tag = f"cp{OTHER.replace('.', '')}"
    assert (config.wheel_dir / f"markupsafe-3.0.4-0-{tag}-{tag}-linux_x86_64.whl").is_file()
    toolchain = layout.toolchain(other.version)
    assert (toolchain / "srcstacks-toolchain.json").is_file()
    # Who built it is on the record: in the wheel's provenance and in the layer's SBOM.
    manifest = check_wheel_dir(config.wheel_dir)
    (record,) = [r for r in manifest.wheels.values() if r.project == "markupsafe"]
    assert record.build_environment is not None
    assert (record.build_environment.python, record.build_environment.fromager) == (
        other.version, fromager
    )  # fmt: skip
    sbom = json.loads((config.output_dir / "framework-web.tar.xz.cdx.json").read_text())
    (formula,) = sbom["formulation"]
    builders = {
        c["name"]: c["version"] for c in formula["components"] if c["type"] == "application"
    }
    assert builders["CPython"] == other.version and builders["fromager"] == fromager

    deployed = run_cli("deploy", spec, "--target", tmp_path / "deployed", "--run")
    assert "<p>Hello, O&apos;Brien &lt;admin&gt;!</p>" in deployed  # the patch, compiled
    assert "markupsafe 3.0.4 (C speedups)" in deployed
    speedups = list((tmp_path / "deployed").rglob("markupsafe/_speedups.*.so"))
    assert [path.name for path in speedups] == [f"_speedups.cpython-{tag[2:]}-x86_64-linux-gnu.so"]

    assert "0 problem(s)" in run_cli("verify", spec)
    rebuilt = run_cli("verify", spec, "--rebuild")
    assert "DIFFERENT" not in rebuilt and "identical" in rebuilt
