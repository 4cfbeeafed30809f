"""Read what a layer archive really holds: its distributions, the digests of their files,
and the shared libraries its ELF files need.

One pass over the (xz-compressed) tar, nothing extracted to disk. Used by verification
and by the SBOM, which both describe an archive from its contents, not from the lock.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from packaging.utils import canonicalize_name

from srcstacks.elf import ELF_MAGIC, ElfLinks, read_links
from srcstacks.fsutil import sha256_file

_DIST_INFO_FILES = ("METADATA", "RECORD", "WHEEL")


def record_digest(data: bytes) -> str:
    """A file's hash in RECORD's notation: ``sha256=<urlsafe base64, unpadded>``."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def parse_record(text: str) -> dict[str, str]:
    """RECORD rows that carry a hash, as ``{path: "sha256=..."}``."""
    return {row[0]: row[1] for row in csv.reader(io.StringIO(text)) if len(row) > 1 and row[1]}


@dataclass(frozen=True)
class InstalledDist:
    """One ``*.dist-info`` found in an archive's site-packages."""

    name: str  # canonical project name
    version: str
    dist_info: str  # folder name, relative to site-packages
    files: dict[str, str] = field(default_factory=dict)  # METADATA/RECORD/WHEEL texts


@dataclass(frozen=True)
class ElfFile:
    """A compiled file in the archive (extension module, shared library, executable)."""

    path: str  # inside the layer, e.g. "lib/python3.11/lib-dynload/_ssl.cpython-311-....so"
    site_path: str | None  # relative to site-packages, when it is there
    links: ElfLinks


@dataclass(frozen=True)
class ArchiveContents:
    """The distributions in one layer archive and the digest of every site-packages file."""

    archive: Path
    sha256: str  # of the archive file itself
    dists: tuple[InstalledDist, ...]
    # Path relative to site-packages -> record_digest of its content.
    digests: dict[str, str]
    elf_files: tuple[ElfFile, ...] = ()


def read_archive(archive: Path) -> ArchiveContents:
    """Read ``archive`` once and describe its site-packages."""
    digests: dict[str, str] = {}
    texts: dict[str, dict[str, str]] = {}
    elf_files: list[ElfFile] = []
    with tarfile.open(archive) as tar:
        for member in tar:
            if not member.isfile():
                continue
            relative = _site_packages_path(member.name)
            stream = tar.extractfile(member)
            assert stream is not None
            head = stream.read(len(ELF_MAGIC))
            if relative is None and head != ELF_MAGIC:
                continue  # outside site-packages only compiled files matter
            data = head + stream.read()
            if (links := read_links(data, member.name)) is not None:
                inside = member.name.split("/", 1)[1] if "/" in member.name else member.name
                elf_files.append(ElfFile(inside, relative, links))
            if relative is None:
                continue
            digests[relative] = record_digest(data)
            parts = PurePosixPath(relative).parts
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in _DIST_INFO_FILES:
                texts.setdefault(parts[0], {})[parts[1]] = data.decode("utf-8", errors="replace")
    dists = tuple(_dist(folder, files) for folder, files in sorted(texts.items()))
    return ArchiveContents(
        archive=archive,
        sha256=sha256_file(archive),
        dists=dists,
        digests=digests,
        elf_files=tuple(elf_files),
    )


def wheel_record(wheel: Path) -> dict[str, str]:
    """The hashed RECORD rows of a wheel file."""
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.count("/") == 1 and name.endswith(".dist-info/RECORD"):
                return parse_record(archive.read(name).decode("utf-8"))
    return {}


def _site_packages_path(name: str) -> str | None:
    marker = "/site-packages/"
    if marker not in name:
        return None
    return name.split(marker, 1)[1]


def _dist(folder: str, files: dict[str, str]) -> InstalledDist:
    name, version = _name_and_version(files.get("METADATA", ""), folder)
    return InstalledDist(canonicalize_name(name), version, folder, files)


def _name_and_version(metadata: str, folder: str) -> tuple[str, str]:
    name = version = ""
    for line in metadata.splitlines():
        if not line.strip():
            break  # headers end at the first blank line
        key, _, value = line.partition(":")
        if key == "Name":
            name = value.strip()
        elif key == "Version":
            version = value.strip()
    if not name or not version:
        stem = folder.removesuffix(".dist-info")
        name, _, version = stem.rpartition("-")
    return name, version
