"""End-to-end: corrupt state files and file-system refusals are one-line errors.

Each case works on a copy of the session's built demo stack and fails before Fromager or
venvstacks would run, so no build is repeated.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BuiltStack, copy_built_stack, run_cli
from tests.e2e.test_ownership import assert_one_error

pytestmark = pytest.mark.e2e

VARIANT_DIR = Path("_srcstacks") / "cpu"


@pytest.mark.parametrize(
    ("state_file", "command", "fragment"),
    [
        ("build-inputs.json", "wheels", "unreadable record of build inputs"),
        ("fromager/work-dir/build-order.json", "publish-wheels", "unreadable Fromager build order"),
        ("artifacts/__srcstacks__/build.json", "sbom", "unreadable build record"),
        ("artifacts/__venvstacks__/venvstacks.json", "verify", "unreadable venvstacks manifest"),
    ],
)
def test_corrupt_state_file_is_named(
    built_stack: BuiltStack, tmp_path: Path, state_file: str, command: str, fragment: str
) -> None:
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    path = spec.parent / VARIANT_DIR / state_file
    path.write_text('{"cut off')
    result = run_cli(command, spec, check=False)
    assert result.returncode == 1, result.stderr
    assert_one_error(result.stderr, str(path), fragment)


def test_work_dir_that_is_a_file(built_stack: BuiltStack, tmp_path: Path) -> None:
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    not_a_folder = tmp_path / "work"
    not_a_folder.write_text("a file")
    result = run_cli("lock", spec, "--work-dir", not_a_folder, check=False)
    assert result.returncode == 1
    assert_one_error(result.stderr, str(not_a_folder), "must be a folder")
    assert not_a_folder.read_text() == "a file"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "disk"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_output_dir_on_a_read_only_disk(
    built_stack: BuiltStack, tmp_path: Path, small_disk: Path
) -> None:
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    output = small_disk / "artifacts"
    shutil.copytree(built_stack.config.output_dir, output)
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    result = run_cli("sbom", spec, "--output-dir", output, check=False)
    assert result.returncode == 1
    assert_one_error(result.stderr, str(output), "Read-only file system")


def test_empty_build_order_never_prunes_the_published_wheels(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    (spec.parent / VARIANT_DIR / "fromager/work-dir/build-order.json").write_text("[]")
    wheels = spec.parent / VARIANT_DIR / "wheels"
    before = sorted(path.name for path in wheels.glob("*.whl"))
    result = run_cli("publish-wheels", spec, check=False)
    assert result.returncode == 1
    assert_one_error(result.stderr, "the build order lists no wheel")
    assert sorted(path.name for path in wheels.glob("*.whl")) == before
