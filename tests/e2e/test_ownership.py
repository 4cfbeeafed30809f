"""End-to-end: srcstacks deletes only what it created, and stacks can share a wheel dir.

These tests work on copies of the session's built demo stack (its Fromager repos and
outputs), so they run the real publish and verify stages without building again.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.conftest import BuiltStack, copy_built_stack, run_cli

pytestmark = pytest.mark.e2e


def assert_one_error(stderr: str, *fragments: str) -> str:
    assert "Traceback" not in stderr
    (line,) = [line for line in stderr.splitlines() if line.startswith("srcstacks: error: ")]
    for fragment in fragments:
        assert fragment in line, line
    return line


def users_folder(path: Path) -> dict[str, bytes]:
    path.mkdir(parents=True)
    (path / "notes.txt").write_text("mine")
    (path / "project").mkdir()
    (path / "project" / "main.py").write_text("print('mine')")
    return snapshot(path)


def snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def test_rebuild_scratch_that_holds_a_users_files_is_refused(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    home = tmp_path / "home"
    before = users_folder(home)
    result = run_cli("verify", spec, "--rebuild", "--scratch", home, check=False)
    assert result.returncode == 1
    assert_one_error(result.stderr, str(home), "holds files srcstacks did not create")
    assert snapshot(home) == before


def test_work_dir_that_holds_a_users_files_is_refused(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    folder = tmp_path / "here"
    before = users_folder(folder)
    result = run_cli("wheels", spec, "--work-dir", folder, check=False)
    assert result.returncode == 1
    assert_one_error(result.stderr, str(folder), "work dir holds files srcstacks did not create")
    assert snapshot(folder) == before


def redate(wheel: Path) -> None:
    """Rewrite ``wheel`` with the same members and contents, dated 2001."""
    with zipfile.ZipFile(wheel) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as target:
        for info, data in members:
            info.date_time = (2001, 1, 1, 0, 0, 0)
            target.writestr(info, data)


def _drop_from_build_order(spec: Path, project: str) -> None:
    order_path = spec.parent / "_srcstacks" / "cpu" / "fromager" / "work-dir" / "build-order.json"
    order = json.loads(order_path.read_text())
    order_path.write_text(json.dumps([entry for entry in order if entry["dist"] != project]))


def test_two_stacks_share_one_wheel_dir(built_stack: BuiltStack, tmp_path: Path) -> None:
    stack_a = copy_built_stack(built_stack, tmp_path / "a")
    stack_b = copy_built_stack(built_stack, tmp_path / "b")
    shared = tmp_path / "team-wheels"
    run_cli("publish-wheels", stack_a, "--wheel-dir", shared)
    (idna,) = shared.glob("idna-*.whl")

    # Stack B does not use idna: publishing it must not remove stack A's idna.
    _drop_from_build_order(stack_b, "idna")
    result = run_cli("publish-wheels", stack_b, "--wheel-dir", shared)
    assert "removed" not in result.stderr
    assert "shared with 1 other stack(s)" in result.stderr
    assert idna.is_file()
    assert idna.name in json.loads((shared / "provenance.json").read_text())["wheels"]
    verified = run_cli("verify", stack_a, "--wheel-dir", shared, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # A wheel of the same name with other bytes (here: other zip dates, as another
    # SOURCE_DATE_EPOCH would give; its build evidence is intact) is refused.
    (markupsafe,) = (tmp_path / "b" / "_srcstacks/cpu/fromager/wheels-repo/downloads").glob(
        "markupsafe-*.whl"
    )
    redate(markupsafe)
    published = (shared / markupsafe.name).read_bytes()
    refused = run_cli("publish-wheels", stack_b, "--wheel-dir", shared, check=False)
    assert refused.returncode == 1
    assert_one_error(refused.stderr, markupsafe.name, str(stack_a), "give each stack its own")
    assert (shared / markupsafe.name).read_bytes() == published

    # Stack A drops idna too: now nobody needs it, and A removes the wheel it published.
    _drop_from_build_order(stack_a, "idna")
    result = run_cli("publish-wheels", stack_a, "--wheel-dir", shared)
    assert f"removed {idna.name}" in result.stderr
    assert not idna.exists()


def test_rebuild_scratch_that_is_another_srcstacks_folder_is_refused(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    published = spec.parent / "_srcstacks" / "cpu" / "artifacts"
    release = tmp_path / "release-v1"  # a copy of the outputs carries their marker
    shutil.copytree(published, release)
    for folder in (published, spec.parent / "_srcstacks", release):
        before = snapshot(folder)
        result = run_cli("verify", spec, "--rebuild", "--scratch", folder, check=False)
        assert result.returncode == 1
        assert_one_error(result.stderr, str(folder), "not as a rebuild scratch dir")
        assert snapshot(folder) == before


def test_deploy_never_overwrites_a_users_folder_and_redeploys_clean(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    mine = tmp_path / "mine"
    before = users_folder(mine)
    result = run_cli("deploy", built_stack.spec, "--target", mine, check=False)
    assert result.returncode == 1
    assert_one_error(result.stderr, str(mine), "holds files srcstacks did not create")
    assert snapshot(mine) == before

    target = tmp_path / "deployed"
    run_cli("deploy", built_stack.spec, "--target", target)
    site = target / "app-punycode" / "lib" / "python3.11" / "site-packages"
    (site / "zz_planted.pth").write_text("import sys; print('PLANTED CODE RAN')\n")
    result = run_cli("deploy", built_stack.spec, "--target", target, "--run")
    assert not (site / "zz_planted.pth").exists()
    assert "PLANTED CODE RAN" not in result.stdout + result.stderr


def test_deploy_waits_for_no_build_and_no_other_deploy_into_its_target(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    """Issue 23, a weak case: deploy took no lock, so it could unpack a set a build was
    publishing, and two deploys could mix in one folder."""
    target = tmp_path / "deployed"
    with (built_stack.config.work_dir / ".lock").open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a build holds it
        result = run_cli("deploy", built_stack.spec, "--target", target, check=False)
    assert result.returncode == 1
    assert_one_error(result.stderr, str(built_stack.config.work_dir), "is in use by srcstacks run")
    assert not target.exists()

    run_cli("deploy", built_stack.spec, "--target", target)
    before = snapshot(target)
    with (target / ".srcstacks-owned").open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as another deploy holds it
        result = run_cli("deploy", built_stack.spec, "--target", target, check=False)
    assert result.returncode == 1
    assert_one_error(result.stderr, str(target), "another srcstacks run is deploying into it")
    assert snapshot(target) == before


def test_two_specs_in_one_folder_never_share_an_output_dir(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    other = spec.with_name("other.toml")
    other.write_text(spec.read_text().replace("idna==3.11", "idna==3.10"))
    output = spec.parent / "_srcstacks" / "cpu" / "artifacts"
    before = snapshot(output)
    result = run_cli("archives", other, check=False)
    assert result.returncode == 1
    assert_one_error(result.stderr, str(output), "holds the archives of another stack")
    assert snapshot(output) == before
