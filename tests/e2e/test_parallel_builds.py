"""End-to-end: ``--jobs 2`` builds two packages at once with real Fromager.

A tiny stack of its own: the runtime and one application needing idna (pure Python,
flit_core backend) and markupsafe (a C extension, setuptools backend). The resolve step
builds the two build tools; the scheduler then builds idna and markupsafe side by side.
Each test here needs builds of its own (the shared demo build is a serial one), so the
stack is kept this small: a cold run takes well under a minute.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from srcstacks.layout import Layout
from srcstacks.spec.config import load_config
from tests.conftest import REPO_ROOT, run_cli

pytestmark = pytest.mark.e2e

SPEC = """\
[[runtimes]]
name = "cpython-3.11"
python_implementation = "cpython@3.11.7"
requirements = []
platforms = ["linux_x86_64"]

[[applications]]
name = "punycode"
launch_module = "launch_modules/punycode.py"
runtime = "cpython-3.11"
requirements = ["idna==3.11", "markupsafe==3.0.4"]

[tool.srcstacks]
settings_dir = "build-settings"

[tool.srcstacks.runtime]
source = "pack"
"""

# CIBUILDWHEEL: markupsafe's setup.py then fails when its C extension does not compile,
# instead of quietly making a pure-Python wheel.
SETTINGS = 'env:\n  CIBUILDWHEEL: "1"\n'


def tiny_stack(folder: Path, markupsafe_settings: str = SETTINGS) -> Path:
    (folder / "launch_modules").mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "launch_modules" / "punycode.py", folder / "launch_modules")
    (folder / "build-settings").mkdir()
    (folder / "build-settings" / "markupsafe.yaml").write_text(markupsafe_settings)
    spec = folder / "venvstacks.toml"
    spec.write_text(SPEC)
    return spec


def summary(layout: Layout) -> dict[str, dict[str, Any]]:
    data = json.loads(layout.run_summary.read_text())
    return {entry["project"]: entry for entry in data["entries"]}


def wheel_hashes(layout: Layout) -> dict[str, str]:
    return {
        wheel.name: hashlib.sha256(wheel.read_bytes()).hexdigest()
        for wheel in sorted(layout.fromager.built_wheels.glob("*.whl"))
    }


def run_logs(stderr: str) -> Path:
    line = next(line for line in stderr.splitlines() if line.startswith("this run's logs: "))
    return Path(line.removeprefix("this run's logs: "))


def test_two_jobs_build_side_by_side_the_same_wheels_as_one_job(tmp_path: Path) -> None:
    spec = tiny_stack(tmp_path / "parallel")
    layout = Layout.of(load_config(spec))

    first = run_cli("wheels", spec, "--jobs", "2")
    err = first.stderr
    assert "(variant 'cpu', up to 2 packages at a time)" in err
    assert "building 2 package(s) from source, up to 2 at a time" in err
    assert "  building idna 3.11 from source" in err
    assert "  building markupsafe 3.0.4 from source" in err
    # Whichever finished first says the other was still running then: they overlapped.
    finished = [line for line in err.splitlines() if line.startswith("  built ") and "[" in line]
    assert len(finished) == 2, err
    assert "; running: " in finished[0], finished
    entries = summary(layout)
    for project in ("idna", "markupsafe"):
        assert entries[project]["action"] == "built"
        assert entries[project]["worker"] == "local"
        assert isinstance(entries[project]["seconds"], int)
    # The build tools came from the resolve step, built here too.
    assert entries["setuptools"]["action"] == entries["flit-core"]["action"] == "built"
    assert "slowest builds:" in err
    logs = run_logs(err)
    assert (logs / "fromager-resolve.log").is_file()
    assert (logs / "fromager-bootstrap.log").is_file()
    for package in ("idna-3.11", "markupsafe-3.0.4"):
        assert (
            " build --wheel-server-url http://127.0.0.1:"
            in (logs / "packages" / f"{package}.log").read_text().splitlines()[0]
        )

    # The same stack with one job (one fromager bootstrap): byte for byte the same wheels.
    serial_spec = tiny_stack(tmp_path / "serial")
    serial = run_cli("wheels", serial_spec, "--jobs", "1")
    assert "one package at a time" in serial.stderr
    assert "running: " not in serial.stderr  # the negative control of the overlap check
    parallel_wheels = wheel_hashes(layout)
    assert len(parallel_wheels) == 4
    assert wheel_hashes(Layout.of(load_config(serial_spec))) == parallel_wheels

    # A rerun of the parallel stack finds every wheel: reused, nothing built.
    mtimes = {p.name: p.stat().st_mtime_ns for p in layout.fromager.built_wheels.glob("*.whl")}
    again = run_cli("wheels", spec, "--jobs", "2", "--force")
    assert "  reused markupsafe 3.0.4" in again.stderr
    assert "every wheel is there: nothing to build" in again.stderr
    assert not [line for line in again.stderr.splitlines() if line.startswith("  building ")]
    assert {entry["action"] for entry in summary(layout).values()} == {"reused"}
    assert run_logs(again.stderr) != logs  # its own log folder; the first run's is kept
    assert (logs / "fromager-resolve.log").is_file()
    for wheel in layout.fromager.built_wheels.glob("*.whl"):
        assert wheel.stat().st_mtime_ns == mtimes[wheel.name], f"{wheel.name} was rebuilt"


# A C compiler that records its process id and sleeps: a compile still running when
# the test presses Ctrl-C.
SLOW_CC = """#!/bin/sh
echo $$ >> "{pids}"
sleep 600
exec gcc "$@"
"""


def test_a_failure_keeps_the_other_wheel_ctrl_c_publishes_nothing_half_built_reruns_resume(
    tmp_path: Path,
) -> None:
    spec = tiny_stack(tmp_path, 'env:\n  CC: "false"\n  CIBUILDWHEEL: "1"\n')
    settings = tmp_path / "build-settings" / "markupsafe.yaml"
    layout = Layout.of(load_config(spec))
    built = layout.fromager.built_wheels

    # 1. markupsafe's compile fails: idna, built beside it, is kept; one line names both.
    failed = run_cli("wheels", spec, "--jobs", "2", check=False)
    assert failed.returncode == 1, failed.stderr
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("srcstacks: error: building markupsafe")
    assert last.endswith("/packages/markupsafe-3.0.4.build.log)"), last  # the compiler's output
    assert "Traceback" not in failed.stderr
    assert "  FAILED markupsafe 3.0.4 after " in failed.stderr
    kept = {path.name: path.stat().st_mtime_ns for path in built.glob("*.whl")}
    assert any(name.startswith("idna-3.11-") for name in kept), kept
    assert not any(name.startswith("markupsafe-") for name in kept), kept
    entries = summary(layout)
    assert entries["idna"]["action"] == "built" and entries["idna"]["worker"] == "local"
    assert entries["markupsafe"]["action"] == "unfinished"

    # 2. Ctrl-C during markupsafe's compile: the compiler dies, no markupsafe wheel.
    pids = tmp_path / "compiler-pids"
    slow_cc = tmp_path / "slow-cc"
    slow_cc.write_text(SLOW_CC.format(pids=pids))
    slow_cc.chmod(0o755)
    settings.write_text(f'env:\n  CC: "{slow_cc}"\n  CIBUILDWHEEL: "1"\n')
    process = subprocess.Popen(
        [sys.executable, "-m", "srcstacks", "wheels", str(spec), "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Ctrl-C reaches the whole foreground process group
    )
    deadline = time.monotonic() + 300
    while not pids.exists():
        assert time.monotonic() < deadline, "markupsafe's compile never started"
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == (
        "srcstacks: error: interrupted; finished work is kept, rerun the same command to resume"
    )
    assert "Traceback" not in stderr
    for pid in pids.read_text().split():
        assert not Path(f"/proc/{pid}").exists(), f"the compiler {pid} still runs"
    assert {path.name: path.stat().st_mtime_ns for path in built.glob("*.whl")} == kept
    assert summary(layout)["markupsafe"]["action"] == "unfinished"

    # 3. Fixed: the rerun builds markupsafe alone and leaves every other wheel as it was.
    settings.write_text(SETTINGS)
    again = run_cli("wheels", spec, "--jobs", "2")
    assert "building 1 package(s) from source" in again.stderr
    assert "  built markupsafe 3.0.4 in " in again.stderr
    for name, mtime in kept.items():
        assert (built / name).stat().st_mtime_ns == mtime, f"{name} was rebuilt"
    entries = summary(layout)
    assert entries["markupsafe"]["action"] == "built"
    assert entries["idna"]["action"] == "reused"
