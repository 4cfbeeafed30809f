"""Packing the local CPython into a relocatable install_only archive (real patchelf)."""

from __future__ import annotations

import platform
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from srcstacks.runtime.pack import pack_runtime, probe_interpreter
from srcstacks.tools import patchelf


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pack_runtime(sys.executable, tmp_path_factory.mktemp("pack")).archive


def test_archive_is_install_only_without_site_packages_or_wheels(packed: Path) -> None:
    with tarfile.open(packed) as tar:
        names = tar.getnames()
        members = tar.getmembers()
    assert all(name == "python" or name.startswith("python/") for name in names)
    assert "python/bin/python3" in names
    assert not [n for n in names if "/site-packages/" in n]
    assert not [n for n in names if n.endswith((".whl", ".pyc"))]
    assert not [n for n in names if "/test/" in n]
    assert {m.uid for m in members} == {0} and {m.mtime for m in members} == {0}


def test_unpacked_elsewhere_it_runs_with_relative_rpath(packed: Path, tmp_path: Path) -> None:
    with tarfile.open(packed) as tar:
        tar.extractall(tmp_path, filter="tar")
    python = tmp_path / "python" / "bin" / "python3"
    binary = python.resolve()
    for entry in patchelf.read_rpath(binary):
        assert entry.startswith("$ORIGIN"), entry
    result = subprocess.run(
        [str(python), "-I", "-c", "import sys, ssl, sqlite3; print(sys.prefix)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == str(tmp_path / "python")


def test_packing_twice_gives_identical_bytes(packed: Path, tmp_path: Path) -> None:
    again = pack_runtime(sys.executable, tmp_path).archive
    assert again.read_bytes() == packed.read_bytes()


def _debug_sections(path: Path) -> set[str]:
    with path.open("rb") as stream:
        names = {section.name for section in ELFFile(stream).iter_sections()}
    return {name for name in names if name.startswith(".debug_")}


def _packed(archive: Path, into: Path, library: str) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="tar")
    return into / "python" / "lib" / library


def test_debug_information_is_stripped_unless_kept(packed: Path, tmp_path: Path) -> None:
    own = (Path(sys.base_prefix) / "lib" / sysconfig.get_config_var("INSTSONAME")).resolve()
    stripped = _packed(packed, tmp_path / "stripped", own.name)
    assert _debug_sections(stripped) == set()
    assert stripped.stat().st_size <= own.stat().st_size
    kept = pack_runtime(sys.executable, tmp_path / "kept", keep_debug_info=True).archive
    assert kept.name == packed.name  # the same install_only archive, another cache entry
    assert _debug_sections(_packed(kept, tmp_path / "k", own.name)) == _debug_sections(own)


def test_the_interpreter_says_how_it_was_built_without_naming_its_folder() -> None:
    info = probe_interpreter(sys.executable)
    assert info.compiler == platform.python_compiler()
    assert info.configure_args == (sysconfig.get_config_var("CONFIG_ARGS") or "")
    portable = info.portable_configure_args()
    assert sys.base_prefix not in portable
    assert portable == info.configure_args.replace(sys.base_prefix, "<prefix>")
