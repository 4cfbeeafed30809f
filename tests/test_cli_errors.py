"""Bad input found before any tool runs: one clear error line, non-zero exit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomlkit

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


def test_a_runtime_to_pack_that_this_machine_lacks_stops_the_build_before_any_wheel(
    tmp_path: Path,
) -> None:
    """The demo as committed names CPython 3.12.1: a machine with another 3.12 (or none)
    hears so before minutes of builds, not at the lock stage after them."""
    spec = copy_demo_stack(tmp_path, both_pythons=True)
    document = tomlkit.parse(spec.read_text())
    (second,) = [item for item in document["runtimes"] if item["name"] == "cpython-3.12"]
    second["python_implementation"] = "cpython@3.12.99"  # the first may be 3.12 too
    spec.write_text(tomlkit.dumps(document))
    result = run_cli("build", spec, check=False)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert (
        "runtime 'cpython-3.12' is cpython@3.12.99, but this machine has no CPython 3.12.99" in line
    )
    assert 'set [tool.srcstacks.runtime."cpython-3.12"] interpreter' in line
    assert "==> [1/5] wheels" not in result.stderr
    assert not (tmp_path / "_srcstacks" / "cpu" / "fromager").exists()


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


def test_python_implementation_leading_outside_is_refused_and_nothing_deleted(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    spec = copy_demo_stack(tmp_path / "stack")
    spec.write_text(re.sub(r'"(cpython@[0-9.]+)"', r'"\1/../../../../precious"', spec.read_text()))
    result = run_cli("lock", spec, check=False)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert f"{spec}: runtime layer 'cpython-3.11': 'python_implementation'" in line
    assert (outside / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("name", ["../web", "a/b"])
def test_layer_name_with_a_path_is_refused_before_building(tmp_path: Path, name: str) -> None:
    spec = copy_demo_stack(tmp_path)
    text = spec.read_text().replace('name = "web"', f'name = "{name}"')
    spec.write_text(text.replace('frameworks = ["web"]', f'frameworks = ["{name}"]'))
    result = run_cli("wheels", spec, check=False)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert str(spec) in line and f"'name' '{name}' must be one folder name" in line
    assert not (tmp_path / "_srcstacks").exists()  # refused before anything was built


def test_mistyped_patches_dir_option_is_an_error(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    result = run_cli("build", spec, "--patches-dir", "patchs", cwd=tmp_path, check=False)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert line.startswith(f"srcstacks: error: --patches-dir names {tmp_path / 'patchs'}")
    assert "does not exist" in line
    assert not (tmp_path / "_srcstacks").exists()


def test_missing_settings_dir_named_in_the_spec_is_an_error(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    text = spec.read_text()
    spec.write_text(text.replace('settings_dir = "build-settings"', 'settings_dir = "bs"'))
    result = run_cli("wheels", spec, check=False)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert f"{spec}: 'tool.srcstacks.settings_dir' names {tmp_path / 'bs'}" in line


def test_url_requirement_is_refused(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    url = "idna @ https://example.invalid/idna-3.11.tar.gz"
    spec.write_text(spec.read_text().replace('"idna==3.11"', f'"{url}"'))
    result = run_cli("build", spec, check=False)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert f"{spec}: application layer 'punycode': requirement '{url}' is a direct URL" in line


def test_index_setting_in_the_spec_is_refused(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path)
    spec.write_text(spec.read_text() + '\n[tool.uv]\nfind-links = ["/srv/wheels"]\n')
    result = run_cli("lock", spec, check=False)
    assert result.returncode == 1
    assert f"{spec}: 'tool.uv.find-links' is not allowed" in error_line(result.stderr)


@pytest.mark.parametrize("command", [["build"], ["index", "serve"], ["verify"]])
def test_help_prints_spec_tables_as_written_and_no_type_on_flags(command: list[str]) -> None:
    from typer.testing import CliRunner

    from srcstacks.cli import app

    result = CliRunner().invoke(app, [*command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "[tool.srcstacks.index]" in result.output, "a spec table is not markup"
    assert "<bool>" not in result.output
