"""Read what a layer archive really holds: its distributions, the digests of their files,
and the shared libraries its ELF files need.

One pass over the (xz-compressed) tar, nothing extracted to disk. Used by verification
and by the SBOM, which both describe an archive from its contents, not from the lock.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import lzma
import re
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from installer.records import InvalidRecordEntry, parse_record_file
from packaging.utils import canonicalize_name

from srcstacks.errors import ArchiveError
from srcstacks.fsutil import sha256_file
from srcstacks.state.elf import ElfLinks, read_links

_DIST_INFO_FILES = ("METADATA", "RECORD", "WHEEL")
# License files a wheel ships in its .dist-info: anything under licenses/ (PEP 639), or,
# from older backends, a LICENSE/COPYING/NOTICE file at its top (the SBOM reads them).
_LICENSE_NAMES = re.compile(r"^(LICEN[CS]E|COPYING|COPYRIGHT|NOTICE)", re.IGNORECASE)


def record_digest(data: bytes) -> str:
    """A file's hash in RECORD's notation: ``sha256=<urlsafe base64, unpadded>``."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def parse_record(text: str, source: str = "RECORD") -> dict[str, str]:
    """RECORD rows that carry a hash, as ``{path: "sha256=..."}`` (read by installer).

    A row that is not ``path,hash,size`` is :class:`ArchiveError` naming ``source``.
    """
    try:
        return {path: digest for path, digest, _size in parse_record_file(text.splitlines())
                if digest}  # fmt: skip
    except InvalidRecordEntry as exc:
        raise ArchiveError(f"{source}: a malformed RECORD ({'; '.join(exc.issues)})") from None


@dataclass(frozen=True)
class InstalledDist:
    """One ``*.dist-info`` found in an archive's site-packages."""

    name: str  # canonical project name
    version: str
    dist_info: str  # folder name, relative to site-packages
    files: dict[str, str] = field(default_factory=dict)  # METADATA/RECORD/WHEEL texts
    # License files, by path relative to the .dist-info folder -> text.
    license_files: dict[str, str] = field(default_factory=dict)


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
    # Every member by its name in the archive -> what it is: "sha256=..." (a file, its
    # content in RECORD notation), "symlink:<target>", "dir", or "other:<tar type>".
    members: dict[str, str] = field(default_factory=dict)
    # Members whose mode a build never gives: setuid/setgid, or writable by group or
    # others (a deployer extracting with ``tar -p`` as root would keep it).
    unsafe_modes: dict[str, int] = field(default_factory=dict)


def read_archive(archive: Path) -> ArchiveContents:
    """Read ``archive`` once and describe its site-packages and every member.

    An archive that cannot be read (not a tar, truncated, corrupt compression) is an
    :class:`ArchiveError` naming it. Within one process, an archive file not changed
    since it was read (same inode, size and mtime) is not read again: ``verify`` reads
    each archive for its own checks and again for the SBOM it regenerates, and a runtime
    layer's archive takes a second or more (decompressing, hashing every file).
    """
    try:
        status = archive.stat()
        return _read_unchanged(archive, status.st_ino, status.st_size, status.st_mtime_ns)
    # KeyError: a hard link to a member the archive does not hold.
    except (tarfile.TarError, EOFError, lzma.LZMAError, zlib.error, OSError, KeyError) as exc:
        # tarfile lists every compression it tried on lines of their own: keep one line.
        detail = " ".join(str(exc).split())
        raise ArchiveError(
            f"{archive}: unreadable archive ({type(exc).__name__}: {detail});"
            " rebuild it with 'srcstacks archives'"
        ) from None


_UNSAFE_MODE_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_IWGRP | stat.S_IWOTH


def _member_kind(member: tarfile.TarInfo) -> str | None:
    """What a non-file member is; None for a file (or hard link) whose content is read."""
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink:" + member.linkname
    if member.isfile() or member.islnk():
        return None
    return f"other:{member.type.decode('ascii', errors='replace')}"


@functools.lru_cache(maxsize=32)
def _read_unchanged(archive: Path, inode: int, size: int, mtime_ns: int) -> ArchiveContents:
    return _read(archive)


def _read(archive: Path) -> ArchiveContents:
    digests: dict[str, str] = {}
    texts: dict[str, dict[str, str]] = {}
    licenses: dict[str, dict[str, str]] = {}
    elf_files: list[ElfFile] = []
    members: dict[str, str] = {}
    unsafe_modes: dict[str, int] = {}
    with tarfile.open(archive) as tar:
        for member in tar:
            if not member.issym() and member.mode & _UNSAFE_MODE_BITS:
                unsafe_modes[member.name] = member.mode
            kind = _member_kind(member)
            if kind is not None:
                members[member.name] = kind
                continue
            relative = _site_packages_path(member.name)
            stream = tar.extractfile(member)
            assert stream is not None
            data = stream.read()
            members[member.name] = record_digest(data)
            if (links := read_links(data, member.name)) is not None:
                inside = member.name.split("/", 1)[1] if "/" in member.name else member.name
                elf_files.append(ElfFile(inside, relative, links))
            if relative is None:
                continue
            digests[relative] = members[member.name]
            parts = PurePosixPath(relative).parts
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in _DIST_INFO_FILES:
                texts.setdefault(parts[0], {})[parts[1]] = data.decode("utf-8", errors="replace")
            elif _is_license_file(parts):
                text = data.decode("utf-8", errors="replace")
                licenses.setdefault(parts[0], {})["/".join(parts[1:])] = text
    dists = tuple(
        _dist(folder, files, licenses.get(folder, {})) for folder, files in sorted(texts.items())
    )
    return ArchiveContents(
        archive=archive,
        sha256=sha256_file(archive),
        dists=dists,
        digests=digests,
        elf_files=tuple(elf_files),
        members=members,
        unsafe_modes=unsafe_modes,
    )


def wheel_record(wheel: Path) -> dict[str, str]:
    """The hashed RECORD rows of a wheel file."""
    return read_wheel_files(wheel).record


@dataclass(frozen=True)
class WheelFiles:
    """What installing a wheel puts where: its RECORD."""

    record: dict[str, str]  # path in the wheel -> "sha256=..."


def read_wheel_files(wheel: Path) -> WheelFiles:
    """Read a wheel's RECORD (empty when it cannot be read)."""
    record: dict[str, str] = {}
    try:
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.count("/") == 1 and name.endswith(".dist-info/RECORD"):
                    record = parse_record(archive.read(name).decode("utf-8", errors="replace"))
    except (OSError, zipfile.BadZipFile, ValueError):
        return WheelFiles({})
    return WheelFiles(record)


def _site_packages_path(name: str) -> str | None:
    marker = "/site-packages/"
    if marker not in name:
        return None
    return name.split(marker, 1)[1]


def _is_license_file(parts: tuple[str, ...]) -> bool:
    if len(parts) < 2 or not parts[0].endswith(".dist-info"):
        return False
    if parts[1] == "licenses":
        return len(parts) > 2
    return len(parts) == 2 and _LICENSE_NAMES.match(parts[1]) is not None


def _dist(folder: str, files: dict[str, str], licenses: dict[str, str]) -> InstalledDist:
    name, version = _name_and_version(files.get("METADATA", ""), folder)
    return InstalledDist(canonicalize_name(name), version, folder, files, licenses)


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
