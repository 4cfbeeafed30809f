"""The shared libraries an ELF file needs (``DT_NEEDED``), the name it provides, and
the compilers that built it (the ``.comment`` section).

A layer archive's compiled extensions and interpreter load system libraries (libc,
libssl, libffi, ...) that no SBOM component describes; the SBOM names them so an auditor
sees every binary the deployed archive takes on trust. Parsing is elfdeps' (the library
Fromager itself uses for the same job).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import elfdeps
from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

ELF_MAGIC = b"\x7fELF"


@dataclass(frozen=True)
class ElfLinks:
    """What one ELF file says about dynamic linking."""

    soname: str | None  # DT_SONAME, for a shared library that has one
    needs: tuple[str, ...]  # DT_NEEDED sonames, sorted, without duplicates


def read_links(data: bytes, name: str) -> ElfLinks | None:
    """Parse ``data`` as an ELF file; None when it is not one (or is damaged)."""
    if not data.startswith(ELF_MAGIC):
        return None
    try:
        info = elfdeps.analyze_elffile(
            ELFFile(io.BytesIO(data)), filename=Path(name), is_exec=False
        )
    except (ELFError, ValueError, EOFError):
        return None
    # elfdeps also lists pseudo-requirements such as "rtld(GNU_HASH)": keep sonames only.
    needs = sorted({item.soname for item in info.requires if ".so" in item.soname})
    return ElfLinks(soname=info.soname, needs=tuple(needs))


def read_compilers(data: bytes) -> tuple[str, ...]:
    """The strings of the ``.comment`` section of an ELF file, where compilers (GCC,
    clang) and some linkers write their name and version; () when ``data`` is no ELF
    file or has no such section."""
    if not data.startswith(ELF_MAGIC):
        return ()
    try:
        section = ELFFile(io.BytesIO(data)).get_section_by_name(".comment")
        if section is None:
            return ()
        raw = section.data()
    except (ELFError, ValueError, EOFError):
        return ()
    strings = (part.decode("utf-8", errors="replace").strip() for part in raw.split(b"\0"))
    return tuple(sorted({text for text in strings if text}))
