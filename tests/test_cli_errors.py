"""Bad input found before any tool runs: one clear error line, non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import copy_demo_stack, run_cli


def error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("srcstacks: error: ")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("stage", ["build", "wheels", "lock"])
def test_malformed_toml(tmp_path: Path, stage: str) -> None:
    spec = copy_demo_stack(tmp_path)
    spec.write_text(spec.read_text() + "\n[[applications]\n")
    result = run_cli(stage, spec, check=False)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert str(spec) in line and "malformed TOML" in line


def test_layer_naming_unknown_layer(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    spec.write_text(spec.read_text().replace('frameworks = ["web"]', 'frameworks = ["webb"]'))
    result = run_cli("build", spec, check=False)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert "'greeter'" in line and "'webb'" in line


def test_unknown_tool_key(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    spec.write_text(spec.read_text().replace('patches_dir = "patches"', 'patch_dir = "patches"'))
    result = run_cli("build", spec, check=False)
    assert result.returncode == 1
    assert "tool.srcstacks.patch_dir" in error_line(result.stderr)


def test_missing_spec(tmp_path: Path) -> None:
    result = run_cli("build", tmp_path / "nowhere.toml", check=False)
    assert result.returncode == 1
    assert "nowhere.toml" in error_line(result.stderr)


def test_invalid_yaml_in_build_settings(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    (tmp_path / "build-settings" / "idna.yaml").write_text("env: [unclosed\n")
    result = run_cli("wheels", spec, check=False)
    assert result.returncode == 1
    assert "idna.yaml:" in error_line(result.stderr)


def test_stage_run_out_of_order(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    result = run_cli("publish-wheels", spec, check=False)
    assert result.returncode == 1
    assert "srcstacks wheels" in error_line(result.stderr)


def test_sbom_before_archives(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    result = run_cli("sbom", spec, check=False)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert "venvstacks.json: no archives published yet" in line and "srcstacks archives" in line


def test_sbom_check_of_a_missing_file(tmp_path: Path) -> None:
    result = run_cli("sbom", "check", tmp_path / "nowhere.cdx.json", check=False)
    assert result.returncode == 1
    assert "nowhere.cdx.json: document: not readable as JSON" in result.stdout
