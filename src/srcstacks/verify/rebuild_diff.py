"""Why a rebuilt wheel or archive differs: the kind of each difference, and where to look.

Reads two zip or tar files (the first build's and the rebuild's); writes nothing. Every
member whose content or header differs is sorted into one kind:

- ``timestamps``: same bytes, other dates (``SOURCE_DATE_EPOCH`` did not reach the tool);
- ``metadata order``: the same lines in another order (a file written from a set);
- ``paths``: equal once the folders the two builds ran in, and any ``/tmp`` folder, are
  taken out (a build path recorded in the file: in an ELF object, its debug info);
- ``compiled code``: an ELF object that differs otherwise (flags, ``__DATE__``, paths
  of other lengths than the prefix maps give);
- ``content``: anything else;
- ``missing``: in one build only;
- ``RECORD hashes``: a ``.dist-info/RECORD`` whose rows differ only for members that
  differ themselves (it follows them).
"""

from __future__ import annotations

import posixpath
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from srcstacks.state.archive_reader import parse_record, record_digest

_MAX_LISTED = 10
# Folder names tempfile makes: two builds never get the same one.
_TEMPORARY = re.compile(rb"/tmp/[A-Za-z0-9_.-]+")
# An ELF note (little-endian) holding the GNU build ID: name size 4, the ID's size,
# type 3 (NT_GNU_BUILD_ID), "GNU\0"; the ID follows.
_BUILD_ID_NOTE = re.compile(
    rb"\x04\x00\x00\x00([\x01-\x40])\x00\x00\x00\x03\x00\x00\x00GNU\x00", re.DOTALL
)


class DiffKind(StrEnum):
    """The kind of one differing member."""

    TIMESTAMPS = "timestamps"
    ORDER = "metadata order"
    PATHS = "paths"
    COMPILED = "compiled code"
    CONTENT = "content"
    MISSING = "missing"
    RECORD = "RECORD hashes"  # last: it follows the others


HINTS = {
    DiffKind.TIMESTAMPS: "same bytes with other dates: SOURCE_DATE_EPOCH did not reach"
    " the tool that wrote them",
    DiffKind.ORDER: "the same lines in another order: the tool that wrote the file"
    " iterates an unordered set",
    DiffKind.PATHS: "equal once the build folders are taken out: the file records where"
    " it was built; map the folder away with -ffile-prefix-map, or rewrite it; a random"
    " /tmp folder, from a build backend that compiles in a temporary copy, cannot be"
    " mapped in advance: make it build in place",
    DiffKind.COMPILED: "compiled objects differ: compare them with diffoscope; look for"
    " __DATE__, build paths and flags (readelf -p .comment shows the compiler)",
    DiffKind.RECORD: "RECORD lists each member's sha256 and differs only in the rows of"
    " the members above: it matches once they do",
    DiffKind.CONTENT: "the file's content differs: compare both with diffoscope",
    DiffKind.MISSING: "present in one build only",
}


@dataclass(frozen=True)
class MemberDiff:
    """One member of two builds' archives that is not the same in both."""

    name: str
    kind: DiffKind
    # For paths: the temporary folders the first build recorded and the rebuild did not.
    paths: tuple[str, ...] = ()

    def label(self) -> str:
        """The member's name, with the recorded temporary folders when known."""
        return f"{self.name} [{', '.join(self.paths)}]" if self.paths else self.name


@dataclass(frozen=True)
class _Member:
    digest: str
    header: str  # dates and modes: what the container records beside the bytes


Reader = Callable[[str], bytes]


def classify(first: bytes, second: bytes, roots: Sequence[str] = ()) -> DiffKind:
    """The kind of difference between two versions of one member's bytes."""
    if first == second:
        return DiffKind.TIMESTAMPS
    if first.startswith(b"\x7fELF") and second.startswith(b"\x7fELF"):
        # A path of the same length in debug info changes no offset, only its bytes and
        # the build ID the linker hashes from all of them.
        bare_a, bare_b = _without_build_id(first), _without_build_id(second)
        paths_only = bare_a != bare_b and _same_without_paths(bare_a, bare_b, roots)
        return DiffKind.PATHS if paths_only else DiffKind.COMPILED
    if sorted(first.splitlines()) == sorted(second.splitlines()):
        return DiffKind.ORDER
    if _same_without_paths(first, second, roots):
        return DiffKind.PATHS
    return DiffKind.CONTENT


def _without_build_id(data: bytes) -> bytes:
    """An ELF object with its GNU build ID (a hash of the rest) zeroed."""
    found = _BUILD_ID_NOTE.search(data)
    if not found:
        return data
    start, size = found.end(), found.group(1)[0]
    return data[:start] + bytes(size) + data[start + size :]


def _same_without_paths(first: bytes, second: bytes, roots: Sequence[str]) -> bool:
    return _without_paths(first, roots) == _without_paths(second, roots)


def _without_paths(data: bytes, roots: Sequence[str]) -> bytes:
    # Longest first: a root inside another root must not leave a piece behind.
    for root in sorted(roots, key=len, reverse=True):
        data = data.replace(root.encode(), b"<build>")
    return _TEMPORARY.sub(b"<tmp>", data)


def compare_members(first: Path, second: Path, roots: Sequence[str] = ()) -> list[MemberDiff]:
    """Every member of two zip (wheel) or tar archives that differs, with its kind."""
    with _opened(first) as (a_members, read_a), _opened(second) as (b_members, read_b):
        differing = sorted(
            name
            for name in a_members.keys() | b_members.keys()
            if a_members.get(name) != b_members.get(name)
        )
        diffs = []
        for name in differing:
            if name not in a_members or name not in b_members:
                diffs.append(MemberDiff(name, DiffKind.MISSING))
            else:
                a, b = read_a(name), read_b(name)
                kind = classify(a, b, roots)
                paths = _temporary_folders(a, b) if kind is DiffKind.PATHS else ()
                diffs.append(MemberDiff(name, kind, paths))
        return _records_that_follow(diffs, read_a, read_b)


def _temporary_folders(first: bytes, second: bytes) -> tuple[str, ...]:
    """The ``/tmp`` folders named in ``first`` and not in ``second`` (at most two)."""
    found = set(_TEMPORARY.findall(first)) - set(_TEMPORARY.findall(second))
    return tuple(path.decode("ascii") for path in sorted(found)[:2])


def _records_that_follow(
    diffs: list[MemberDiff], read_a: Reader, read_b: Reader
) -> list[MemberDiff]:
    """Mark a RECORD whose rows differ only for members that differ themselves."""
    others = {diff.name for diff in diffs if not _is_record(diff.name)}
    marked = []
    for diff in diffs:
        if diff.kind is DiffKind.CONTENT and _is_record(diff.name):
            rows_a = _record_rows(diff.name, read_a(diff.name))
            rows_b = _record_rows(diff.name, read_b(diff.name))
            changed = {
                path
                for path in rows_a.keys() | rows_b.keys()
                if rows_a.get(path) != rows_b.get(path)
            }
            if rows_a.keys() == rows_b.keys() and changed and changed <= others:
                diff = replace(diff, kind=DiffKind.RECORD)
        marked.append(diff)
    return marked


def _is_record(name: str) -> bool:
    return name.endswith(".dist-info/RECORD")


def _record_rows(record_name: str, data: bytes) -> dict[str, str]:
    """A RECORD's hashed rows, keyed by the member name each row stands for.

    Rows are relative to the folder holding the ``.dist-info`` (the wheel's root, or
    site-packages in a layer archive), so they are joined to it.
    """
    base = posixpath.dirname(posixpath.dirname(record_name))
    rows = parse_record(data.decode("utf-8", errors="replace"), record_name)
    return {posixpath.normpath(posixpath.join(base, path)): digest for path, digest in rows.items()}


def describe(diffs: Sequence[MemberDiff]) -> str:
    """One line: how many members differ, of which kinds, which, and where to look."""
    if not diffs:
        return "same members and contents; the container bytes differ (order or headers)"
    parts = []
    for kind in DiffKind:
        names = [diff.label() for diff in diffs if diff.kind is kind]
        if not names:
            continue
        listed = ", ".join(names[:_MAX_LISTED])
        more = f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else ""
        parts.append(f"{kind} in {listed}{more} ({HINTS[kind]})")
    return f"{len(diffs)} member(s) differ: " + "; ".join(parts)


@contextmanager
def _opened(path: Path) -> Iterator[tuple[dict[str, _Member], Reader]]:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            members = {
                info.filename: _Member(record_digest(archive.read(info)), str(info.date_time))
                for info in archive.infolist()
            }
            yield members, archive.read
        return
    with tarfile.open(path) as tar:
        entries = {member.name: member for member in tar}
        members = {name: _tar_member(tar, member) for name, member in entries.items()}

        def read(name: str) -> bytes:
            stream = tar.extractfile(entries[name])
            return stream.read() if stream else entries[name].linkname.encode()

        yield members, read


def _tar_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> _Member:
    stream = tar.extractfile(member) if member.isfile() else None
    content = record_digest(stream.read()) if stream else member.linkname
    return _Member(content, f"{member.mode:o} {member.mtime}")
