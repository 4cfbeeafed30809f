"""End-to-end failures: bad input and failed builds give one clear line, and lose nothing."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from tests.conftest import BuiltStack, copy_built_stack, copy_demo_stack, run_cli

pytestmark = pytest.mark.e2e


def assert_one_clear_error(stderr: str, *fragments: str) -> str:
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("srcstacks: error: ")]
    assert len(errors) == 1, stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def test_requirement_no_index_has(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    text = spec.read_text().replace('"idna==3.11"', '"srcstacks-no-such-project-anywhere"')
    spec.write_text(text)
    result = run_cli("build", spec, check=False)
    assert result.returncode == 1
    line = assert_one_clear_error(
        result.stderr,
        "srcstacks-no-such-project-anywhere",
        "https://pypi.org/simple/srcstacks-no-such-project-anywhere/",
        "log: ",
    )
    log = Path(line.rsplit("log: ", 1)[1].rstrip(")"))
    assert log.is_file()


def test_compile_error_names_package_and_build_log_and_a_rerun_resumes(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    settings = tmp_path / "build-settings" / "markupsafe.yaml"
    good_settings = settings.read_text()
    # A header of a Debian package this machine does not have (libtiff-dev).
    assert not list(Path("/usr/include").rglob("tiffio.h")), "libtiff-dev is installed here"
    settings.write_text(good_settings.replace("-O2", "-O2 -include tiffio.h"))
    result = run_cli("build", spec, check=False)
    assert result.returncode == 1
    # The cause from the package's build log, and the package that provides the header.
    line = assert_one_clear_error(
        result.stderr, "markupsafe", "the header tiffio.h is not installed",
        "apt-get install libtiff-dev", "build.log",
    )  # fmt: skip
    build_log = Path(line.rsplit("log: ", 1)[1].rstrip(")"))
    assert "tiffio.h: No such file or directory" in build_log.read_text()

    wheels_repo = tmp_path / "_srcstacks" / "cpu" / "fromager" / "wheels-repo" / "downloads"
    kept = {path.name: path.stat().st_mtime_ns for path in wheels_repo.glob("*.whl")}
    assert any(name.startswith("setuptools-") for name in kept), kept

    settings.write_text(good_settings)
    run_cli("wheels", spec)
    after = {path.name: path.stat().st_mtime_ns for path in wheels_repo.glob("*.whl")}
    for name, mtime in kept.items():
        assert after[name] == mtime, f"{name} was rebuilt instead of reused"
    assert any(name.startswith("markupsafe-") for name in after)


def test_version_with_no_sdist(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    # torch publishes wheels only: there is nothing to build it from.
    spec.write_text(spec.read_text().replace('"idna==3.11"', '"torch==2.9.1"'))
    result = run_cli("wheels", spec, check=False)
    assert result.returncode == 1
    assert_one_clear_error(result.stderr, "no source distribution", "torch==2.9.1", "log: ")


def _bad_runtime_lock(stack: BuiltStack, runtime: Path) -> str:
    # A private copy: a failed lock must keep the locks, and the shared build stays read-only.
    spec = copy_built_stack(stack, runtime.parent / "stack")
    locks = spec.parent / "requirements"
    before = {p: p.read_bytes() for p in sorted(locks.rglob("*")) if p.is_file()}
    assert before
    result = run_cli(
        "lock", spec, "--runtime-source", "local", "--runtime-path", runtime, check=False
    )
    assert result.returncode == 1
    after = {p: p.read_bytes() for p in sorted(locks.rglob("*")) if p.is_file()}
    assert after == before, "a failed runtime check changed the locks"
    return assert_one_clear_error(result.stderr, str(runtime))


def test_runtime_archive_missing(built_stack: BuiltStack, tmp_path: Path) -> None:
    line = _bad_runtime_lock(built_stack, tmp_path / "cpython-3.11.7.tar.gz")
    assert "runtime archive not found" in line


def test_runtime_archive_corrupt(built_stack: BuiltStack, tmp_path: Path) -> None:
    runtime = tmp_path / "cpython-3.11.7.tar.gz"
    runtime.write_bytes(b"\x1f\x8b\x08\x00 cut off mid-download")
    assert "corrupt runtime archive" in _bad_runtime_lock(built_stack, runtime)


def test_runtime_of_another_python_version(built_stack: BuiltStack, tmp_path: Path) -> None:
    fake = tmp_path / "python"
    (fake / "bin").mkdir(parents=True)
    interpreter = fake / "bin" / "python3"
    interpreter.write_text("#!/bin/sh\necho 3.12.1\n")
    interpreter.chmod(0o755)
    runtime = tmp_path / "cpython-3.12.1-install_only.tar.gz"
    with tarfile.open(runtime, "w:gz") as tar:
        tar.add(fake, arcname="python")
    line = _bad_runtime_lock(built_stack, runtime)
    assert "runtime is Python 3.12.1 but layer 'cpython-3.11' wants cpython@3.11.7" in line
