"""End-to-end: a rerun with nothing changed does nothing, offline; one patch changed
rebuilds that package, and only the lock, archive and SBOMs that hold it.

Works on a private copy of the shared build (no build from scratch): the no-op run is
offline (``unshare -n``: no network at all), and so is a forced build, which must stop
at once; the patch change uses the network (Fromager resolves online).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from srcstacks.layout import Layout
from srcstacks.spec.config import load_config
from srcstacks.stages import SBOM, STAGES
from tests.conftest import BuiltStack, copy_built_stack, run_cli

pytestmark = pytest.mark.e2e


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
        assert f"{stage.name}: up to date (nothing changed since the last run)" in offline.stderr
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

    # A forced build, still offline: the sources' index is out of reach. One line at once
    # (Fromager alone retried for minutes), and nothing built before is lost. (The
    # timeout only keeps a hang from stalling the suite.)
    forced = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "srcstacks", "build", str(spec), "--force"],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert forced.returncode == 1, forced.stderr
    errors = [line for line in forced.stderr.splitlines() if line.startswith("srcstacks: error")]
    assert len(errors) == 1 and "Traceback" not in forced.stderr, forced.stderr
    assert errors[0].startswith(
        "srcstacks: error: cannot reach https://pypi.org/simple/: the name pypi.org does not"
        " resolve ("
    ), errors
    assert _digests(config.wheel_dir, "*.whl") == wheels

    # (2) One patch changed: markupsafe is rebuilt, and only what holds it is made again.
    before = _published(config.output_dir)
    locks_before = _times(spec.parent / "requirements")
    patch = next((spec.parent / "patches" / "markupsafe").glob("*.patch"))
    text = patch.read_text()
    assert '+        .replace("\'", "&apos;")' in text
    patch.write_text(
        text.replace('+        .replace("\'", "&apos;")', '+        .replace("\'", "&#x27;")')
    )
    rebuilt = run_cli("build", spec)
    out = rebuilt.stderr
    assert "markupsafe 3.0.4: patches or build settings changed; rebuilding it" in out
    summary = json.loads(layout.run_summary.read_text())
    actions = {entry["project"]: entry["action"] for entry in summary["entries"]}
    assert actions["markupsafe"] == "built"
    assert actions["jinja2"] == "reused" and actions["idna"] == "reused", actions
    now = _digests(config.wheel_dir, "*.whl")
    changed_wheels = {name for name in wheels if now.get(name) != wheels[name]}
    assert changed_wheels == {n for n in wheels if n.startswith("markupsafe-")}, changed_wheels

    # Each layer says whether it is redone and why; only the web framework is locked
    # again (the lock stage resolves no other layer) and only its archive is rebuilt.
    assert "lock: layer framework-web: wheel markupsafe changed" in out
    assert "archives: layer framework-web: " in out and "wheel markupsafe changed" in out
    for layer in ("cpython-3.11", "app-greeter", "app-punycode"):
        assert f"lock: layer {layer}: up to date, lock kept" in out
        assert f"archives: layer {layer}: up to date, archive kept" in out
    assert "sbom: layer app-greeter: lower layer framework-web changed; writing its SBOM" in out
    for layer in ("cpython-3.11", "app-punycode"):
        assert f"sbom: layer {layer}: up to date, SBOM kept" in out
    lock_log = layout.log("venvstacks-lock").read_text()
    assert "--include framework-web" in lock_log
    locked = lock_log.partition("Locked environments:")[2]
    assert "framework-web/" in locked and "app-" not in locked, locked
    locks_now = _times(spec.parent / "requirements")
    touched_locks = {Path(p).parent.name for p in locks_now if locks_now[p] != locks_before.get(p)}
    assert "app-punycode" not in touched_locks and "app-greeter" not in touched_locks

    # What holds markupsafe changed: its archive and SBOM, and the SBOM of the app that
    # links to it; every other archive, metadata file and SBOM is untouched (bytes and
    # mtime). The stack-wide records (venvstacks.json, build.json) are written again.
    after = _published(config.output_dir)
    changed = {name for name in before if after.get(name) != before[name]}
    assert changed == {
        "framework-web.tar.xz",
        "framework-web.tar.xz.cdx.json",
        "__venvstacks__/env_metadata/framework-web.json",
        "app-greeter.tar.xz.cdx.json",
        "__venvstacks__/venvstacks.json",
        "__srcstacks__/build.json",
    }, changed
    document = json.loads((config.output_dir / "framework-web.tar.xz.cdx.json").read_text())
    hashes = {h["alg"]: h["content"] for h in document["metadata"]["component"]["hashes"]}
    archive = config.output_dir / "framework-web.tar.xz"
    assert hashes["SHA-256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert len(SBOM.outputs(config)) == 4
    verified = run_cli("verify", spec, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "0 problem(s)" in verified.stderr

    # Negative control: the same comparison sees a kept archive that was rewritten.
    kept = config.output_dir / "app-punycode.tar.xz"
    os.utime(kept, ns=(kept.stat().st_atime_ns, kept.stat().st_mtime_ns + 1_000_000_000))
    assert _published(config.output_dir)["app-punycode.tar.xz"] != after["app-punycode.tar.xz"]


def _published(output_dir: Path) -> dict[str, tuple[str, int]]:
    """sha256 and mtime of every archive, SBOM and metadata file of the output dir."""
    return {
        path.relative_to(output_dir).as_posix(): (
            hashlib.sha256(path.read_bytes()).hexdigest(),
            path.stat().st_mtime_ns,
        )
        for path in output_dir.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    }


def test_clean_gives_back_what_a_build_makes_again_and_the_next_build_works(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    config = load_config(spec)
    layout = Layout.of(config)
    archives = _digests(config.output_dir, "*.tar.xz")
    wheels = _digests(config.wheel_dir, "*.whl")
    locks = _times(spec.parent / "requirements")
    assert layout.venvstacks_build.is_dir()

    cleaned = run_cli("clean", spec)
    assert f"clean: removed {layout.venvstacks_build} (" in cleaned.stderr
    assert cleaned.stdout.startswith("cleaned: ") and " MB freed" in cleaned.stdout
    assert not layout.venvstacks_build.exists() and not layout.staging.exists()
    # What the build published is all there.
    assert _digests(config.output_dir, "*.tar.xz") == archives
    assert _digests(config.wheel_dir, "*.whl") == wheels
    assert _times(spec.parent / "requirements") == locks
    assert layout.fromager.built_wheels.is_dir(), "Fromager's wheels go with --all only"

    # Nothing changed: every stage is still up to date (no environment is needed).
    again = run_cli("build", spec)
    for stage in STAGES:
        assert f"{stage.name}: up to date" in again.stderr
    # An edited launch module: its archive is built again, every environment made anew.
    module = spec.parent / "launch_modules" / "punycode.py"
    module.write_text(module.read_text() + "# edited after clean\n")
    run_cli("build", spec)
    after = _digests(config.output_dir, "*.tar.xz")
    assert after["app-punycode.tar.xz"] != archives["app-punycode.tar.xz"]
    assert "0 problem(s)" in run_cli("verify", spec).stderr
