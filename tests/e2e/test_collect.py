"""End-to-end: ``srcstacks collect`` merges wheel dirs built by other work dirs.

Two real wheel dirs stand in for two build hosts: the shared demo build's (read only)
and one of a tiny stack built here (six, pure Python, and its build backend setuptools:
about 10 s), published with ``SRCSTACKS_BUILD_HOST`` set as a build host would. A second
build of that stack with another ``SOURCE_DATE_EPOCH`` gives the honest clash: the same
file names with other bytes. They are collected into a third stack's wheel dir, and into
a copy of the demo stack, which ``srcstacks verify`` then passes.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from srcstacks.build.wheel_records import local_platform_tag
from srcstacks.index.managed import ManagedIndex
from srcstacks.index.private import (
    PROVENANCE_PROJECT,
    IndexLocation,
    download,
    project_files,
    provenance_filename,
    read_companion,
    upload,
)
from srcstacks.spec.config import load_config
from srcstacks.state.provenance import HostRecord, check_wheel_dir, read_manifest
from srcstacks.web import Credentials
from tests.conftest import BuiltStack, copy_built_stack, run_cli
from tests.e2e.test_private_index import credentials_env, fresh_index

pytestmark = pytest.mark.e2e

SPEC = """\
[[runtimes]]
name = "cpython-3.11"
python_implementation = "cpython@3.11.7"
requirements = []
platforms = ["linux_x86_64"]

[[applications]]
name = "six"
launch_module = "launch_modules/sixapp.py"
runtime = "cpython-3.11"
requirements = ["six==1.17.0"]

[tool.srcstacks.runtime]
source = "pack"
"""
SIX = "six-1.17.0-0-py2.py3-none-any.whl"


def six_stack(folder: Path) -> Path:
    (folder / "launch_modules").mkdir(parents=True)
    (folder / "launch_modules" / "sixapp.py").write_text("import six\nprint(six.PY3)\n")
    (folder / "venvstacks.toml").write_text(SPEC)
    return folder / "venvstacks.toml"


def built_six(folder: Path, env: dict[str, str]) -> Path:
    """Build and publish the six stack in ``folder``; its wheel dir."""
    spec = six_stack(folder)
    run_cli("wheels", spec, env=env)
    run_cli("publish-wheels", spec, env=env)
    return load_config(spec).wheel_dir


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ".lock"
    }


def refused(*args: str | Path) -> str:
    """Run a collect that must be refused: exit 1, one error line; that line."""
    result = run_cli("collect", *args, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("srcstacks:")]
    assert line.startswith("srcstacks: error: nothing collected, "), line
    assert "Traceback" not in result.stderr
    return line


@pytest.fixture(scope="module")
def six_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel dir of a build host that names itself (read only: copy it to change it)."""
    folder = tmp_path_factory.mktemp("six-host")
    return built_six(folder, {"SRCSTACKS_BUILD_HOST": "six-builder"})


def test_collect_merges_two_hosts_refuses_clashes_and_verify_passes(
    built_stack: BuiltStack, six_wheels: Path, tmp_path: Path
) -> None:
    demo_wheels = built_stack.config.wheel_dir
    # The builder named itself: its records say so, with this machine's platform.
    host = HostRecord("six-builder", local_platform_tag(), "builder")
    assert read_manifest(six_wheels).wheels[SIX].host == host

    # A third stack collects both: every wheel of both, each with its host.
    third = six_stack(tmp_path / "third")
    result = run_cli("collect", demo_wheels, six_wheels, third)
    target = load_config(third).wheel_dir
    manifest = check_wheel_dir(target)  # what lock, sbom and verify check first
    demo = read_manifest(demo_wheels).wheels
    assert set(manifest.wheels) == set(demo) | set(read_manifest(six_wheels).wheels)
    assert manifest.wheels[SIX].host == host
    markupsafe = next(name for name in manifest.wheels if name.startswith("markupsafe-"))
    assert manifest.wheels[markupsafe].host == HostRecord(
        str(demo_wheels), "linux_x86_64", "collect"
    )
    # setuptools is in both, with the same bytes: collected once, from the first dir.
    setuptools = next(name for name in manifest.wheels if name.startswith("setuptools-"))
    assert manifest.wheels[setuptools].host == manifest.wheels[markupsafe].host
    count = len(manifest.wheels)
    assert f"collected {count} wheel(s) from 2 wheel dir(s) into {target}" in result.stderr

    # A rerun changes nothing and says so.
    before = snapshot(target)
    again = run_cli("collect", demo_wheels, six_wheels, third)
    assert f"collected 0 wheel(s) from 2 wheel dir(s) into {target} ({count} already there)" in (
        again.stderr
    )
    assert f"  {SIX}: already in {target} with the same bytes; skipped" in again.stderr
    assert snapshot(target) == before

    # The same names with other bytes (another SOURCE_DATE_EPOCH): refused, nothing changes.
    other = built_six(tmp_path / "other-host", {"SOURCE_DATE_EPOCH": "1700000000"})
    other_sha = hashlib.sha256((other / SIX).read_bytes()).hexdigest()
    line = refused(other, third)
    assert f"{other}: {SIX} has sha256 {other_sha}, but {target} already holds {SIX}" in line
    assert manifest.wheels[SIX].sha256 in line
    line = refused(six_wheels, other, third)  # two inputs clash
    assert f"{other}: {SIX} has sha256 {other_sha}, but {six_wheels} has {SIX} with" in line
    # Unproven wheels: a stray wheel, a tampered one, no provenance at all.
    for damage, fragment in [
        ("stray", f"{markupsafe} has no provenance entry"),
        ("tampered", f"{SIX} does not match the sha256 recorded for it"),
        ("no manifest", "provenance.json: no provenance manifest"),
    ]:
        bad = tmp_path / f"bad-{damage.replace(' ', '-')}"
        shutil.copytree(six_wheels, bad)
        if damage == "stray":
            shutil.copy2(demo_wheels / markupsafe, bad)
        elif damage == "tampered":
            (bad / SIX).write_bytes((bad / SIX).read_bytes() + b"\0")
        else:
            (bad / "provenance.json").unlink()
        line = refused(bad, third)
        assert str(bad) in line and fragment in line, line
    assert snapshot(target) == before

    # Collected into a built stack: verify does not trip on wheels no archive uses, and
    # a later publish of that stack keeps them.
    stack = copy_built_stack(built_stack, tmp_path / "copy")
    run_cli("collect", six_wheels, stack)
    assert "verified: every archive matches its records" in run_cli("verify", stack).stdout
    run_cli("publish-wheels", stack, "--force")
    assert read_manifest(load_config(stack).wheel_dir).wheels[SIX].host == host
    assert "verified: every archive matches its records" in run_cli("verify", stack).stdout
    # Negative control: verify does check the collected wheels, though no archive uses them.
    collected = load_config(stack).wheel_dir / SIX
    collected.write_bytes(collected.read_bytes() + b"\0")
    failed = run_cli("verify", stack, check=False)
    assert failed.returncode == 1
    assert f"{SIX} does not match the sha256 recorded for it" in failed.stdout


def test_collect_into_a_private_index_uploads_checked_wheels_and_refuses_other_bytes(
    six_wheels: Path, devpi_index: ManagedIndex, tmp_path: Path
) -> None:
    url = fresh_index(devpi_index, "collect")
    location = IndexLocation.parse(url)
    env = credentials_env(devpi_index)
    stack = six_stack(tmp_path / "stack")
    result = run_cli("collect", six_wheels, stack, "--index", url, env=env)
    names = sorted(read_manifest(six_wheels).wheels)
    assert f"uploaded {len(names)} wheel(s) and {len(names)} provenance record(s)" in result.stderr
    assert sorted(project_files(location, "six")) == [SIX]
    companions = project_files(location, PROVENANCE_PROJECT)
    companion = read_companion(download(companions[provenance_filename(SIX)]), url)
    assert companion["wheel"]["host"] == {
        "name": "six-builder", "platform": local_platform_tag(), "named_by": "builder"
    }  # fmt: skip
    # Never taken as this machine's own cached build: its settings file is not known.
    assert companion["inputs"]["settings_sha256"] == "unknown (collected from six-builder)"
    again = run_cli("collect", six_wheels, stack, "--index", url, env=env)
    assert f"uploaded 0 wheel(s) and 0 provenance record(s) to {location.simple_url}" in (
        again.stderr
    )

    # An index holding one of the names with other bytes: refused before anything changes.
    clash_url = fresh_index(devpi_index, "collect-clash")
    clash = IndexLocation.parse(clash_url)
    credentials = Credentials(devpi_index.user, devpi_index.password)
    upload(clash, credentials, SIX, b"not the wheel", project="six", version="1.17.0")
    other = six_stack(tmp_path / "other")
    result = run_cli("collect", six_wheels, other, "--index", clash_url, env=env, check=False)
    assert result.returncode == 1, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("srcstacks:")]
    assert line.startswith("srcstacks: error: nothing collected: ")
    assert f"{SIX} is already on the index with sha256" in line
    assert not load_config(other).wheel_dir.exists()  # the wheel dir was not touched
    assert [name for name in project_files(clash, "setuptools")] == []  # nothing uploaded
