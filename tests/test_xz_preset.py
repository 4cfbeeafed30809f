"""``[tool.srcstacks] xz_preset``: read from the spec, and handed to venvstacks' archiver."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from srcstacks.errors import ConfigError
from srcstacks.spec.archive import XZ_PRESET_VARIABLE
from srcstacks.spec.config import load_config
from tests.xz_header import xz_dictionary_size

SPEC = """
[[runtimes]]
name = "cpython-3.11"
python_implementation = "cpython@3.11.7"
requirements = []

[tool.srcstacks]
"""
MiB = 1 << 20


def spec_with(tmp_path: Path, line: str) -> Path:
    spec = tmp_path / "venvstacks.toml"
    spec.write_text(SPEC + line + "\n")
    return spec


def test_the_default_is_xz_own_and_a_preset_is_read(tmp_path: Path) -> None:
    assert load_config(spec_with(tmp_path, "")).xz_preset == 6
    assert load_config(spec_with(tmp_path, "xz_preset = 1")).xz_preset == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("xz_preset = 10", "must be a number from 0 (fastest) to 9 (smallest archives), not 10"),
        ("xz_preset = -1", "must be a number from 0 (fastest) to 9 (smallest archives), not -1"),
        (
            "xz_preset = true",
            "must be a number from 0 (fastest) to 9 (smallest archives), not True",
        ),
        ('xz_preset = "1"', "must be a number, not str"),
    ],
)
def test_a_preset_out_of_range_names_the_key(tmp_path: Path, line: str, message: str) -> None:
    spec = spec_with(tmp_path, line)
    with pytest.raises(ConfigError) as caught:
        load_config(spec)
    assert str(caught.value) == f"{spec}: 'tool.srcstacks.xz_preset' {message}"


def _archive_written_by_venvstacks_main(target: Path, preset: str | None) -> Path:
    """An xz tar written in a process running srcstacks' venvstacks entry point, as
    venvstacks' archiver writes one (it imports tarfile inside its function)."""
    script = (
        "import srcstacks.tools.venvstacks_main, venvstacks.pack_venv as p, sys;"
        " p._make_tar_archive(sys.argv[1], sys.argv[2], 'data', compress='xz')"
    )
    (target / "data").mkdir(parents=True)
    (target / "data" / "payload.txt").write_text("srcstacks " * 1000)
    env = {"PATH": "/usr/bin:/bin"} | ({XZ_PRESET_VARIABLE: preset} if preset else {})
    subprocess.run(
        [sys.executable, "-c", script, str(target / "layer"), str(target)], check=True, env=env
    )
    return target / "layer.tar.xz"


def test_venvstacks_archives_are_written_at_the_preset_given(tmp_path: Path) -> None:
    assert xz_dictionary_size(_archive_written_by_venvstacks_main(tmp_path / "a", "1")) == MiB
    assert xz_dictionary_size(_archive_written_by_venvstacks_main(tmp_path / "b", "9")) == 64 * MiB
    # Without the variable: xz's default, as venvstacks alone writes.
    assert xz_dictionary_size(_archive_written_by_venvstacks_main(tmp_path / "c", None)) == 8 * MiB
