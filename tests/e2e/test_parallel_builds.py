"""End-to-end: ``--jobs 2`` builds with Fromager's bootstrap-parallel, and a rerun reuses.

A tiny stack of its own (the runtime and the demo's idna application: idna and its build
backend flit_core, both pure Python), so the one build it needs stays a few seconds.
"""

from __future__ import annotations

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

from srcstacks.config import load_config
from srcstacks.layout import Layout
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
requirements = ["idna==3.11"]

[tool.srcstacks.runtime]
source = "pack"
"""


def tiny_stack(folder: Path) -> Path:
    (folder / "launch_modules").mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "launch_modules" / "punycode.py", folder / "launch_modules")
    spec = folder / "venvstacks.toml"
    spec.write_text(SPEC)
    return spec


def summary_actions(layout: Layout) -> dict[str, tuple[str, Any]]:
    data = json.loads(layout.run_summary.read_text())
    return {e["project"]: (e["action"], e["seconds"]) for e in data["entries"]}


def test_two_jobs_build_publish_and_a_rerun_reuses(tmp_path: Path) -> None:
    spec = tiny_stack(tmp_path)
    config = load_config(spec)
    layout = Layout.of(config)

    first = run_cli("wheels", spec, "--jobs", "2")
    assert "(variant 'cpu', up to 2 packages at a time)" in first.stderr
    assert "building 2 package(s) from the dependency graph, up to 2 at a time" in first.stderr
    assert "  building idna 3.11 from source" in first.stderr
    assert "  built idna 3.11 in " in first.stderr
    assert "slowest builds:" in first.stderr
    log = layout.log("fromager-bootstrap").read_text()
    assert "bootstrap-parallel --max-workers 2" in log.splitlines()[0]
    assert "*** finished build-parallel" in log
    first_summary = summary_actions(layout)
    assert set(first_summary) == {"flit-core", "idna"}
    for action, seconds in first_summary.values():
        assert action == "built" and isinstance(seconds, int)

    run_cli("publish-wheels", spec)
    published = sorted(path.name for path in config.wheel_dir.glob("*.whl"))
    assert published == ["flit_core-3.12.0-0-py3-none-any.whl", "idna-3.11-0-py3-none-any.whl"]
    built = layout.fromager.built_wheels / "idna-3.11-0-py3-none-any.whl"
    mtime = built.stat().st_mtime_ns

    again = run_cli("wheels", spec, "--jobs", "2")
    assert "  reused idna 3.11 in " in again.stderr
    assert not [line for line in again.stderr.splitlines() if line.startswith("  building ")]
    assert {action for action, _ in summary_actions(layout).values()} == {"reused"}
    assert built.stat().st_mtime_ns == mtime  # the same file, not rebuilt


# A C compiler that first records its process id and sleeps: a compile that is still
# running when the test presses Ctrl-C. Build settings give it to markupsafe as CC.
SLOW_CC = """#!/bin/sh
echo $$ >> "{pids}"
sleep 600
exec gcc "$@"
"""

MARKUPSAFE_SPEC = SPEC.replace(
    'requirements = ["idna==3.11"]', 'requirements = ["markupsafe==3.0.4"]'
)


def test_ctrl_c_during_a_parallel_compile_stops_it_keeps_the_rest_and_a_rerun_resumes(
    tmp_path: Path,
) -> None:
    spec = tiny_stack(tmp_path)
    spec.write_text(MARKUPSAFE_SPEC + '\n[tool.srcstacks]\nsettings_dir = "build-settings"\n')
    pids = tmp_path / "compiler-pids"
    slow_cc = tmp_path / "slow-cc"
    slow_cc.write_text(SLOW_CC.format(pids=pids))
    slow_cc.chmod(0o755)
    settings = tmp_path / "build-settings" / "markupsafe.yaml"
    settings.parent.mkdir()
    settings.write_text(f'env:\n  CC: "{slow_cc}"\n  CIBUILDWHEEL: "1"\n')
    layout = Layout.of(load_config(spec))
    built = layout.fromager.built_wheels

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
    kept = {path.name: path.stat().st_mtime_ns for path in built.glob("*.whl")}
    assert any(name.startswith("setuptools-") for name in kept), kept
    assert not any(name.startswith("markupsafe-") for name in kept), kept
    assert summary_actions(layout)["markupsafe"] == ("unfinished", None)

    settings.write_text('env:\n  CIBUILDWHEEL: "1"\n')
    again = run_cli("wheels", spec, "--jobs", "2")
    assert "  built markupsafe 3.0.4 in " in again.stderr
    for name, mtime in kept.items():
        assert (built / name).stat().st_mtime_ns == mtime, f"{name} was rebuilt"
    assert summary_actions(layout)["markupsafe"][0] == "built"
