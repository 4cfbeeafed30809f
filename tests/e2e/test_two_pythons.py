"""End-to-end: one stack with a CPython 3.11 runtime and a CPython 3.12 runtime.

``tests/stacks/two_pythons``: a framework with markupsafe's C extension and an
application on each runtime. In one run srcstacks builds the 3.11 layers' wheels with a
Fromager on 3.11 and the 3.12 layers' with one on 3.12: the Python running the tests
uses its own environment, and for the other it finds that CPython on this machine and
installs a build toolchain from the locked ``srcstacks/toolchains/fromager-py3.X.txt``
into the work dir. The pure-Python build tool (setuptools) is built once and shared.
The stack deploys, both apps run on their own Python with their own compiled module,
provenance and SBOMs name the Python and Fromager that built each wheel, and the
stack verifies and rebuilds bit for bit. One build and one rebuild (about three minutes).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

from srcstacks.layout import Layout
from srcstacks.spec.config import load_config
from srcstacks.state.provenance import check_wheel_dir
from srcstacks.tools.toolchain import find_interpreter, locked_fromager
from tests.conftest import REPO_ROOT
from tests.conftest import cli_output as run_cli

pytestmark = pytest.mark.e2e

HERE = f"{sys.version_info.major}.{sys.version_info.minor}"
OTHER = "3.12" if HERE == "3.11" else "3.11"


def test_a_stack_with_a_311_and_a_312_runtime_builds_runs_and_rebuilds(tmp_path: Path) -> None:
    found = {minor: find_interpreter(minor) for minor in ("3.11", "3.12")}
    assert all(found.values()), f"this project's machines have CPython 3.11 and 3.12: {found}"
    stack = tmp_path / "stack"
    shutil.copytree(REPO_ROOT / "tests" / "stacks" / "two_pythons", stack)
    spec = stack / "venvstacks.toml"
    text = spec.read_text()
    for minor, interpreter in found.items():
        assert interpreter is not None
        text = re.sub(rf'"cpython@{minor}\.\d+"', f'"cpython@{interpreter.version}"', text)
    spec.write_text(text)

    build = run_cli("build", spec)
    other = found[OTHER]
    assert other is not None
    fromager = {minor: locked_fromager(minor) for minor in found}
    assert f"building the wheels of Python {OTHER} (runtime 'cpython-{OTHER}')" in build
    assert f"(Fromager {fromager[OTHER]})" in build
    config = load_config(spec)
    layout = Layout.of(config)
    assert (layout.toolchain(other.version) / "srcstacks-toolchain.json").is_file()
    record = json.loads(layout.wheels_record.read_text())
    assert sorted(item["python"] for item in record["toolchains"]) == sorted(
        interpreter.version for interpreter in found.values() if interpreter
    )

    # One markupsafe per Python, each built by a Fromager on that Python; setuptools once.
    manifest = check_wheel_dir(config.wheel_dir)
    builders = {
        name: (r.build_environment.python, r.build_environment.fromager)
        for name, r in manifest.wheels.items()
        if r.build_environment is not None
    }
    for minor, interpreter in found.items():
        assert interpreter is not None
        tag = f"cp{minor.replace('.', '')}"
        wheel = f"markupsafe-3.0.4-0-{tag}-{tag}-linux_x86_64.whl"
        assert builders[wheel] == (interpreter.version, fromager[minor])
        # The layer's SBOM says so too.
        sbom = json.loads((config.output_dir / f"framework-speedups-{tag[2:]}.tar.xz.cdx.json")
                          .read_text())  # fmt: skip
        (formula,) = sbom["formulation"]
        named = {c["name"]: c["version"] for c in formula["components"]
                 if c["type"] == "application"}  # fmt: skip
        assert (named["CPython"], named["fromager"]) == (interpreter.version, fromager[minor])
    assert len([name for name in manifest.wheels if name.startswith("setuptools-")]) == 1
    # The run summary lists markupsafe once per Python, setuptools once.
    summary = json.loads(layout.run_summary.read_text())
    listed = sorted((e["project"], e.get("python"), e["action"]) for e in summary["entries"])
    assert listed == [
        ("markupsafe", "3.11", "built"), ("markupsafe", "3.12", "built"),
        ("setuptools", "3.11", "built"),
    ]  # fmt: skip

    # What each Fromager did, from the step events its own process wrote as each step
    # began (the live progress reads them): markupsafe's wheel build under each Python.
    def wheel_steps(events: Path) -> set[str]:
        lines = [json.loads(line) for line in events.read_text().splitlines()]
        return {e["project"] for e in lines if e["event"] == "step" and e["step"] == "build_wheel"}

    stepped = [path for path in layout.run_logs.glob("*/*.events.jsonl")
               if "markupsafe" in wheel_steps(path)]  # fmt: skip
    assert len(stepped) == 2, stepped
    # Each requirement resolved, one numbered line per Python's group, from the
    # ``resolved`` events of each Fromager's dependency graph (0.77 and 0.101 alike).
    assert len(re.findall(r"\n  \[\d+\] markupsafe==3\.0\.4 \(toplevel\)\n", build)) == 2
    assert re.search(r"\n  \[\d+\] setuptools==\S+ \(build-system\)\n", build), build
    # The stack's record and every SBOM's tools name both Fromagers, in Python order.
    build_info = json.loads((config.output_dir / "__srcstacks__" / "build.json").read_text())
    assert build_info["tools"]["fromager"] == f"{fromager['3.11']}, {fromager['3.12']}"

    deployed = run_cli("deploy", spec, "--target", tmp_path / "deployed", "--run")
    for minor, interpreter in found.items():
        assert interpreter is not None
        module = f"_speedups.cpython-{minor.replace('.', '')}-x86_64-linux-gnu.so"
        assert f"{interpreter.version}: &lt;O&#39;Brien&gt; ({module})" in deployed

    assert "0 problem(s)" in run_cli("verify", spec)
    rebuilt = run_cli("verify", spec, "--rebuild")
    assert "DIFFERENT" not in rebuilt and "identical" in rebuilt
