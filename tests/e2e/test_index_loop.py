"""End-to-end: the daily loop against a managed index. Edit a patch, build, go back, reset.

A copy of the shared build gets a managed index (no port in its spec: a free one). A
patch edit rebuilds markupsafe under a build tag naming the new patch, so the wheel on
the index is never replaced and the lock takes the new one, though the index still
offers the old one; going back to the first patch fetches the first wheel, bit for bit,
and verify passes, and so does a rebuild bit for bit against the managed index.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import tomlkit

from srcstacks.index.managed import managed_index, recorded_port
from srcstacks.index.private import IndexLocation, project_files
from srcstacks.layout import Layout
from srcstacks.spec.config import load_config
from tests.conftest import BuiltStack, copy_built_stack, run_cli

pytestmark = pytest.mark.e2e

LOCK = "requirements/framework-web/pylock.framework-web.toml"
PATCHED_LINE = '+        .replace("\'", "&apos;")'


def _markupsafe(wheel_dir: Path) -> tuple[str, str]:
    (wheel,) = wheel_dir.glob("markupsafe-*.whl")
    return wheel.name, hashlib.sha256(wheel.read_bytes()).hexdigest()


def _actions(config_path: Path) -> dict[str, str]:
    summary = json.loads(Layout.of(load_config(config_path)).run_summary.read_text())
    return {entry["project"]: entry["action"] for entry in summary["entries"]}


def test_a_patch_edited_and_undone_against_a_managed_index(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    document = tomlkit.parse(spec.read_text())
    document["tool"]["srcstacks"]["index"] = {"managed": True}
    spec.write_text(tomlkit.dumps(document))
    config = load_config(spec)

    run_cli("build", spec)  # publishes the shared build's wheels to the new index
    first_name, first_sha = _markupsafe(config.wheel_dir)
    assert first_name.startswith("markupsafe-3.0.4-0_")  # a tag naming its patch
    state_dir = Layout.of(config).index_state
    assert recorded_port(state_dir) is not None  # it ran on a port of its own

    # (1) The patch edited: a wheel of its own name; the index keeps both builds.
    patch = next((spec.parent / "patches" / "markupsafe").glob("*.patch"))
    first_patch = patch.read_text()
    assert PATCHED_LINE in first_patch
    patch.write_text(first_patch.replace(PATCHED_LINE, PATCHED_LINE.replace("apos", "#x27")))
    edited = run_cli("build", spec)
    assert "already on the index" not in edited.stderr
    second_name, _ = _markupsafe(config.wheel_dir)
    assert second_name != first_name and second_name.startswith("markupsafe-3.0.4-0_")
    assert _actions(spec)["markupsafe"] == "built"
    lock = (spec.parent / LOCK).read_text()
    assert second_name in lock and first_name not in lock  # uv saw only this build's wheel
    with managed_index(state_dir, index_name="cpu", report=print) as index:
        on_index = project_files(IndexLocation.parse(index.base_url), "markupsafe")
    assert {first_name, second_name} <= set(on_index)

    # (2) The first patch again: its wheel comes back from the index, bit for bit.
    patch.write_text(first_patch)
    undone = run_cli("build", spec)
    assert _markupsafe(config.wheel_dir) == (first_name, first_sha)
    assert _actions(spec)["markupsafe"] == "fetched", undone.stderr
    lock = (spec.parent / LOCK).read_text()
    assert first_name in lock and second_name not in lock
    verified = run_cli("verify", spec, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "0 problem(s)" in verified.stderr
    # The rebuild, in a scratch work dir of its own, locks and archives against the
    # managed index this work dir runs (it once looked for one in the scratch dir).
    rebuilt = run_cli("verify", spec, "--rebuild", check=False)
    output = rebuilt.stdout + rebuilt.stderr
    assert rebuilt.returncode == 0, output
    assert "rebuilt bit for bit" in output and "DIFFERENT" not in output

    # (3) The index started afresh: the next build publishes every wheel again.
    reset = run_cli("index", "reset", spec)
    assert reset.stdout.startswith(f"removed the managed index in {state_dir} (")
    assert not state_dir.exists()
    again = run_cli("build", spec)
    assert "uploaded 5 wheel(s) and 5 provenance record(s)" in again.stderr
    assert "wheels: up to date" in again.stderr and "lock: up to date" not in again.stderr
    assert _markupsafe(config.wheel_dir) == (first_name, first_sha)
