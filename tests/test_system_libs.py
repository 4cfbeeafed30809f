"""System libraries named in the SBOM: what an archive's ELF files need and do not carry.

The inputs are real ELF files of the interpreter running the tests (this project's
machines run a CPython built with --enable-shared): its executable, which needs
libpython, libpython itself, and the _ssl extension, which loads libssl from the system.
"""

from __future__ import annotations

import _ssl
import io
import sys
import tarfile
from pathlib import Path

from srcstacks.sbom.system_libs import system_libraries
from srcstacks.state.archive_reader import read_archive, record_digest
from srcstacks.state.elf import read_links

SSL_EXTENSION = Path(_ssl.__file__)
VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"
LIBPYTHON = Path(sys.base_prefix) / "lib" / f"libpython{VERSION}.so.1.0"
EXECUTABLE = Path(sys.base_prefix) / "bin" / f"python{VERSION}"


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def needs_of(path: Path) -> set[str]:
    links = read_links(path.read_bytes(), path.name)
    assert links is not None, path
    return set(links.needs)


def test_needs_are_read_from_elf_files_and_nothing_else() -> None:
    assert {"libssl.so.3", "libc.so.6"} <= needs_of(SSL_EXTENSION)
    assert LIBPYTHON.name in needs_of(EXECUTABLE)
    assert read_links(b"#!/bin/sh\n", "script") is None
    assert read_links(b"\x7fELF but broken", "broken.so") is None


def test_needs_go_to_their_owner_and_libraries_the_archive_holds_are_left_out(
    tmp_path: Path,
) -> None:
    site = "layer/lib/python3.11/site-packages"
    extension = SSL_EXTENSION.read_bytes()
    record = f"demo/_ssl.so,{record_digest(extension)},{len(extension)}\n"
    archive = tmp_path / "layer.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        add(tar, f"{site}/demo/_ssl.so", extension)
        add(tar, f"{site}/demo-1.0.dist-info/METADATA", b"Name: demo\nVersion: 1.0\n\n")
        add(tar, f"{site}/demo-1.0.dist-info/RECORD", record.encode())
        # Installed by no distribution: the interpreter, and the libpython it needs.
        add(tar, f"layer/bin/{EXECUTABLE.name}", EXECUTABLE.read_bytes())
        add(tar, f"layer/lib/{LIBPYTHON.name}", LIBPYTHON.read_bytes())

    needs = system_libraries(read_archive(archive))

    assert set(needs) == {"demo", None}
    assert set(needs["demo"]) == needs_of(SSL_EXTENSION)
    unowned = (needs_of(EXECUTABLE) | needs_of(LIBPYTHON)) - {LIBPYTHON.name}
    assert set(needs[None]) == unowned
    assert "libc.so.6" in needs[None] and LIBPYTHON.name not in needs[None]
    assert list(needs["demo"]) == sorted(needs["demo"])


def test_an_archive_is_read_again_only_once_it_changed(tmp_path: Path) -> None:
    site = "layer/lib/python3.11/site-packages"
    archive = tmp_path / "layer.tar.gz"

    def write(content: bytes) -> None:
        with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
            add(tar, f"{site}/demo/data.txt", content)

    write(b"first")
    first = read_archive(archive)
    assert read_archive(archive) is first  # unchanged: not read again
    write(b"other")  # same size, new content: read again
    changed = read_archive(archive)
    assert changed is not first
    assert changed.digests["demo/data.txt"] == record_digest(b"other")
