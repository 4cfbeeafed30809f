"""End-to-end failures: bad input and failed builds give one clear line, and lose nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import copy_demo_stack, run_cli

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
    assert result.returncode != 0
    line = assert_one_clear_error(result.stderr, "srcstacks-no-such-project-anywhere", "log: ")
    log = Path(line.rsplit("log: ", 1)[1].rstrip(")"))
    assert log.is_file()


def test_compile_error_names_package_and_build_log_and_a_rerun_resumes(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    settings = tmp_path / "build-settings" / "markupsafe.yaml"
    good_settings = settings.read_text()
    settings.write_text(good_settings.replace("-O2", "-O2 -include srcstacks-missing-header.h"))
    result = run_cli("build", spec, check=False)
    assert result.returncode != 0
    line = assert_one_clear_error(result.stderr, "markupsafe", "build.log")
    build_log = Path(line.rsplit("log: ", 1)[1].rstrip(")"))
    assert "srcstacks-missing-header.h" in build_log.read_text()

    wheels_repo = tmp_path / "_srcstacks" / "cpu" / "fromager" / "wheels-repo" / "downloads"
    kept = {path.name: path.stat().st_mtime_ns for path in wheels_repo.glob("*.whl")}
    assert any(name.startswith("setuptools-") for name in kept), kept

    settings.write_text(good_settings)
    run_cli("wheels", spec)
    after = {path.name: path.stat().st_mtime_ns for path in wheels_repo.glob("*.whl")}
    for name, mtime in kept.items():
        assert after[name] == mtime, f"{name} was rebuilt instead of reused"
    assert any(name.startswith("markupsafe-") for name in after)
