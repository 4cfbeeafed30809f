"""End-to-end: a rerun with nothing changed does nothing, offline; one patch changed
rebuilds that package and the archive holding it, and nothing else.

Works on a private copy of the shared build (no build from scratch): the no-op run is
offline (``unshare -n``: no network at all), the patch change uses the network
(Fromager resolves online).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from srcstacks.config import load_config
from srcstacks.layout import Layout
from srcstacks.stage_inputs import stage_outputs
from tests.conftest import BuiltStack, copy_built_stack, run_cli

pytestmark = pytest.mark.e2e

STAGES = ("wheels", "publish-wheels", "lock", "archives", "sbom")


def _digests(folder: Path, pattern: str) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob(pattern)}


def _times(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
def test_noop_rerun_offline_then_one_patch_changed(built_stack: BuiltStack, tmp_path: Path) -> None:
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    config = load_config(spec)
    layout = Layout.of(config)
    logs = layout.log("x").parent
    log_times = _times(logs)
    archives = _digests(config.output_dir, "*.tar.xz")
    wheels = _digests(config.wheel_dir, "*.whl")

    # (1) Nothing changed, and no network at all: every stage is up to date.
    offline = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "srcstacks", "build", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert offline.returncode == 0, offline.stderr
    for stage in STAGES:
        assert f"{stage}: up to date (nothing changed since the last run)" in offline.stderr
    assert _times(logs) == log_times, "a tool ran (its log was rewritten)"
    assert _digests(config.output_dir, "*.tar.xz") == archives

    # Negative control: an archive deleted by hand is not taken as up to date.
    shutil.copy2(config.output_dir / "app-punycode.tar.xz", tmp_path / "kept.tar.xz")
    (config.output_dir / "app-punycode.tar.xz").unlink()
    broken = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "srcstacks", "build", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "archives: up to date" not in broken.stderr
    shutil.copy2(tmp_path / "kept.tar.xz", config.output_dir / "app-punycode.tar.xz")

    # (2) One patch changed: markupsafe is rebuilt, and the archive holding it changes.
    patch = next((spec.parent / "patches" / "markupsafe").glob("*.patch"))
    text = patch.read_text()
    assert '+        .replace("\'", "&apos;")' in text
    patch.write_text(
        text.replace('+        .replace("\'", "&apos;")', '+        .replace("\'", "&#x27;")')
    )
    rebuilt = run_cli("build", spec)
    assert "markupsafe 3.0.4: patches or build settings changed; rebuilding it" in rebuilt.stderr
    summary = json.loads(layout.run_summary.read_text())
    actions = {entry["project"]: entry["action"] for entry in summary["entries"]}
    assert actions["markupsafe"] == "built"
    assert actions["jinja2"] == "reused" and actions["idna"] == "reused", actions
    now = _digests(config.wheel_dir, "*.whl")
    changed_wheels = {name for name in wheels if now.get(name) != wheels[name]}
    assert changed_wheels == {n for n in wheels if n.startswith("markupsafe-")}, changed_wheels
    after = _digests(config.output_dir, "*.tar.xz")
    changed = {name for name in archives if after.get(name) != archives[name]}
    # markupsafe is in the web framework alone. In place, the other archives come out
    # byte-identical (venvstacks relocks only the changed layer); in this copy every
    # application's lock names the shared build's wheel dir (see copy_built_stack), so
    # venvstacks relocks them and their lock time changes: only the runtime stays.
    assert "framework-web.tar.xz" in changed, changed
    assert "cpython-3.11.tar.xz" not in changed, changed
    sboms = stage_outputs("sbom", config)
    assert len(sboms) == len(archives)
    document = json.loads((config.output_dir / "framework-web.tar.xz.cdx.json").read_text())
    hashes = {h["alg"]: h["content"] for h in document["metadata"]["component"]["hashes"]}
    assert hashes["SHA-256"] == after["framework-web.tar.xz"]
