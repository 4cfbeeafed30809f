"""End-to-end: conflicting layers, compiler variants and patches, built for real."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from srcstacks.layout import Layout
from srcstacks.spec.config import Overrides, load_config
from srcstacks.state.provenance import read_manifest
from tests.conftest import REPO_ROOT, BuiltStack, copy_built_stack, copy_demo_stack, run_cli

pytestmark = pytest.mark.e2e


def tree_digest(*folders: Path) -> dict[str, str]:
    """sha256 of every file under ``folders`` (to prove nothing was touched)."""
    digests = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def recorded_compiler_flags(wheel: Path, tmp_path: Path) -> str:
    target = tmp_path / wheel.stem
    shutil.unpack_archive(wheel, target, format="zip")
    (shared_object,) = target.glob("markupsafe/_speedups*.so")
    result = subprocess.run(
        ["readelf", "-p", ".GCC.command.line", str(shared_object)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout


def test_two_apps_pinning_different_versions(tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    shutil.copytree(REPO_ROOT / "tests" / "stacks" / "two_versions", stack)
    spec = stack / "venvstacks.toml"
    result = run_cli("build", spec)
    assert "--skip-constraints" in result.stderr
    assert "markupsafe: layer 'app-old' wants 'markupsafe==3.0.2'" in result.stderr
    config = load_config(spec)
    assert json.loads(Layout.of(config).wheels_record.read_text())["skip_constraints"]

    published = {(r.project, r.version) for r in read_manifest(config.wheel_dir).wheels.values()}
    assert {("jinja2", "3.1.5"), ("jinja2", "3.1.6")} <= published
    assert {("markupsafe", "3.0.2"), ("markupsafe", "3.0.3")} <= published

    deployed = tmp_path / "deployed"
    run_cli("deploy", spec, "--target", deployed)
    for app, jinja2, markupsafe in [("old", "3.1.5", "3.0.2"), ("new", "3.1.6", "3.0.3")]:
        lock = (stack / "requirements" / f"app-{app}" / f"pylock.app-{app}.toml").read_text()
        assert f'version = "{markupsafe}"' in lock and f'version = "{jinja2}"' in lock
        python = deployed / f"app-{app}" / "bin" / "python"
        output = subprocess.run(
            [str(python), "-m", f"show_{app}"], capture_output=True, text=True, check=True
        ).stdout
        assert f"jinja2 {jinja2} from {deployed / f'app-{app}'}" in output
        assert f"markupsafe {markupsafe} from {deployed / f'app-{app}'}" in output


def test_stack_without_conflicts_does_not_skip_constraints(built_stack: BuiltStack) -> None:
    wheels = json.loads(Layout.of(built_stack.config).wheels_record.read_text())
    assert wheels["skip_constraints"] is False
    assert "--skip-constraints" not in built_stack.build_output


def test_impossible_conflict_is_reported_before_anything_is_built(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    spec.write_text(spec.read_text().replace('"jinja2==3.1.6"', '"jinja2==3.1.6", "markupsafe<3"'))
    result = run_cli("build", spec, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert "layer 'framework-web' wants 'markupsafe==3.0.4'" in error
    assert "layer 'app-greeter' wants 'markupsafe<3'" in error
    assert not (tmp_path / "_srcstacks" / "cpu" / "fromager").exists()


def test_second_variant_builds_apart_with_its_flags(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    # A second variant is built beside the first in a copy: the shared build is read-only.
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    cpu = load_config(spec)
    cpu_outputs = [cpu.wheel_dir, cpu.output_dir, cpu.spec_dir / "requirements"]
    before = tree_digest(*cpu_outputs)

    run_cli("build", spec, "--variant", "hardened")
    hardened = load_config(spec, Overrides(variant="hardened"))

    assert tree_digest(*cpu_outputs) == before, "building 'hardened' changed the cpu outputs"
    assert hardened.wheel_dir != cpu.wheel_dir and hardened.output_dir != cpu.output_dir
    assert (cpu.spec_dir / "variants" / "hardened" / "requirements" / "framework-web").is_dir()
    assert (hardened.output_dir / "framework-web.tar.xz").is_file()

    flags = {}
    for config in (cpu, hardened):
        manifest = read_manifest(config.wheel_dir)
        (record,) = [r for r in manifest.wheels.values() if r.project == "markupsafe"]
        assert record.variant == config.variant
        flags[config.variant] = recorded_compiler_flags(
            config.wheel_dir / record.filename, tmp_path
        )
        if config.variant == "hardened":
            assert "-D_FORTIFY_SOURCE=2 -fstack-protector-strong" in record.build_env["CFLAGS"]
            assert "${CFLAGS}" not in record.build_env["CFLAGS"]
    assert "-fstack-protector-strong" in flags["hardened"]
    assert "-fstack-protector-strong" not in flags["cpu"]
    assert "-O2" in flags["cpu"] and "-O2" in flags["hardened"]

    for config in (cpu, hardened):
        properties = sbom_properties(
            config.output_dir / "framework-web.tar.xz.cdx.json", "MarkupSafe"
        )
        assert properties["srcstacks:variant"] == config.variant
        hardening = "-D_FORTIFY_SOURCE=2 -fstack-protector-strong"
        assert (hardening in properties["srcstacks:build_env:CFLAGS"]) == (
            config.variant == "hardened"
        )


def sbom_properties(sbom: Path, component: str) -> dict[str, str]:
    """The properties of one top-level component of an SBOM."""
    document = json.loads(sbom.read_text())
    (found,) = [item for item in document["components"] if item["name"] == component]
    return {item["name"]: item["value"] for item in found.get("properties", [])}


def test_variants_command_lists_the_demo_variants() -> None:
    result = run_cli("variants", REPO_ROOT / "venvstacks.toml")
    assert result.stdout.splitlines()[0] == "cpu (selected)"
    assert "hardened" in result.stdout
    assert "-fstack-protector-strong" in result.stdout


IDNA_PATCH = """--- a/idna/package_data.py
+++ b/idna/package_data.py
@@ -1 +1,2 @@
 __version__ = "3.11"
+PATCHED_BY = "{marker}"
"""

# Removes a line idna 3.11 does not have: the hunk cannot apply, whatever the fuzz.
BROKEN_IDNA_PATCH = """--- a/idna/package_data.py
+++ b/idna/package_data.py
@@ -1 +1 @@
-__version__ = "9.99"
+__version__ = "9.99.1"
"""


def run_summary_actions(stack: Path) -> dict[str, str]:
    summary = json.loads((stack / "_srcstacks" / "cpu" / "run-summary.json").read_text())
    return {entry["project"]: entry["action"] for entry in summary["entries"]}


def test_patches_fail_warn_list_and_rebuild(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    patch = tmp_path / "patches" / "idna" / "0001-mark.patch"
    patch.parent.mkdir(parents=True)
    patch.write_text(BROKEN_IDNA_PATCH)
    (tmp_path / "patches" / "idnaa").mkdir()
    (tmp_path / "patches" / "idnaa" / "0001-typo.patch").write_text(IDNA_PATCH)
    (tmp_path / "build-settings" / "six.yaml").write_text("env:\n  CFLAGS: -O3\n")

    failed = run_cli("wheels", spec, check=False)
    assert failed.returncode == 1
    error = failed.stderr.strip().splitlines()[-1]
    assert "patches/idna/0001-mark.patch does not apply to idna" in error
    assert "Hunk #1 FAILED" in error and "idna/package_data.py" in error
    built = tmp_path / "_srcstacks" / "cpu" / "fromager" / "wheels-repo" / "downloads"
    assert list(built.glob("markupsafe-3.0.4-*.whl")), "wheels built before the failure were lost"
    assert "1 unfinished (run summary:" in failed.stderr
    assert run_summary_actions(tmp_path)["idna"] == "unfinished"

    patch.write_text(IDNA_PATCH.format(marker="first"))
    result = run_cli("wheels", spec)
    assert "patches/idnaa: 1 patch(es) for no project or version in this build" in result.stderr
    assert "build-settings/six.yaml: settings for six, which is not in this build" in result.stderr
    listing = run_cli("patches", spec).stdout
    assert "idna 3.11\n  patches/idna/0001-mark.patch" in listing
    assert "markupsafe 3.0.4\n  patches/markupsafe/0001-" in listing
    run_cli("publish-wheels", spec)
    config = load_config(spec)
    first = next(r for r in read_manifest(config.wheel_dir).wheels.values() if r.project == "idna")

    patch.write_text(IDNA_PATCH.format(marker="second"))
    rebuilt = run_cli("wheels", spec)
    assert "idna 3.11: patches or build settings changed; rebuilding it" in rebuilt.stderr
    # Only the wheel whose patch changed was built again; the run summary says so.
    actions = run_summary_actions(tmp_path)
    assert actions.pop("idna") == "built"
    assert actions and set(actions.values()) == {"reused"}, actions
    run_cli("publish-wheels", spec)
    second = next(r for r in read_manifest(config.wheel_dir).wheels.values() if r.project == "idna")
    assert second.patches[0].sha256 == hashlib.sha256(patch.read_bytes()).hexdigest()
    assert second.patches[0].sha256 != first.patches[0].sha256
    assert second.sha256 != first.sha256
    wheel = config.wheel_dir / second.filename
    target = tmp_path / "unpacked"
    shutil.unpack_archive(wheel, target, format="zip")
    assert 'PATCHED_BY = "second"' in (target / "idna" / "package_data.py").read_text()

    # The archive and its SBOM follow: the pedigree names the changed patch's hash.
    run_cli("build", spec)
    sbom = config.output_dir / "app-punycode.tar.xz.cdx.json"
    key = "srcstacks:patch:patches/idna/0001-mark.patch:sha256"
    assert sbom_properties(sbom, "idna")[key] == second.patches[0].sha256
    (idna,) = [c for c in json.loads(sbom.read_text())["components"] if c["name"] == "idna"]
    (applied,) = idna["pedigree"]["patches"]
    assert applied["type"] == "unofficial"
    assert 'PATCHED_BY = "second"' in applied["diff"]["text"]["content"]

    # The patch broken again, now that its sdist is here: the run stops before Fromager
    # starts, naming patch and hunk, and nothing is built or lost.
    wheels = {path.name: path.stat().st_mtime_ns for path in built.glob("*.whl")}
    patch.write_text(BROKEN_IDNA_PATCH)
    stopped = run_cli("wheels", spec, check=False)
    assert stopped.returncode == 1
    error = stopped.stderr.strip().splitlines()[-1]
    assert error == (
        f"srcstacks: error: patch {patch} does not apply to idna 3.11: Hunk #1 FAILED at 1"
        " in idna/package_data.py (checked before building: nothing was built)"
    )
    assert {path.name: path.stat().st_mtime_ns for path in built.glob("*.whl")} == wheels
    # The misspelt patch folder was named before anything started, too.
    assert (
        f"warning: before building: {tmp_path / 'patches' / 'idnaa'}: 1 patch(es) for no"
        " project or version in the last build or the spec's requirements"
    ) in stopped.stderr
