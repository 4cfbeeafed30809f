"""End-to-end: ``--jobs 2`` builds with Fromager's bootstrap-parallel, and a rerun reuses.

A tiny stack of its own (the runtime and the demo's idna application: idna and its build
backend flit_core, both pure Python), so the one build it needs stays a few seconds.
"""

from __future__ import annotations

import json
import shutil
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
