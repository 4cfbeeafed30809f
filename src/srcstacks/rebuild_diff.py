"""Why a rebuilt wheel or archive differs: the kind of each difference, and where to look.

Reads two zip or tar files (the first build's and the rebuild's); writes nothing. Every
member whose content or header differs is sorted into one kind:

- ``timestamps``: same bytes, other dates (``SOURCE_DATE_EPOCH`` did not reach the tool);
- ``metadata order``: the same lines in another order (a file written from a set);
- ``paths``: equal once the folders the two builds ran in are taken out (a build path
  recorded in the file);
- ``compiled code``: an ELF object that differs otherwise (flags, ``__DATE__``, paths
  the prefix maps miss);
- ``content``: anything else;
- ``missing``: in one build only.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from srcstacks.archive_reader import record_digest

_MAX_LISTED = 10
# Folder names tempfile makes: two builds never get the same one.
_TEMPORARY = re.compile(rb"/tmp/[A-Za-z0-9_.-]+")


class DiffKind(StrEnum):
    """The kind of one differing member."""

    TIMESTAMPS = "timestamps"
    ORDER = "metadata order"
    PATHS = "paths"
    COMPILED = "compiled code"
    CONTENT = "content"
    MISSING = "missing"


HINTS = {
    DiffKind.TIMESTAMPS: "same bytes with other dates: SOURCE_DATE_EPOCH did not reach"
    " the tool that wrote them",
    DiffKind.ORDER: "the same lines in another order: the tool that wrote the file"
    " iterates an unordered set",
    DiffKind.PATHS: "equal once the build folders are taken out: the file records where"
    " it was built (map it away with -ffile-prefix-map, or rewrite it)",
    DiffKind.COMPILED: "compiled objects differ: compare them with diffoscope; look for"
    " __DATE__, build paths and flags (readelf -p .comment shows the compiler)",
    DiffKind.CONTENT: "the file's content differs: compare both with diffoscope",
    DiffKind.MISSING: "present in one build only",
}


@dataclass(frozen=True)
class MemberDiff:
    """One member of two builds' archives that is not the same in both."""

    name: str
    kind: DiffKind


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
        return DiffKind.COMPILED
    if sorted(first.splitlines()) == sorted(second.splitlines()):
        return DiffKind.ORDER
    if _without_paths(first, roots) == _without_paths(second, roots):
        return DiffKind.PATHS
    return DiffKind.CONTENT


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
                diffs.append(MemberDiff(name, classify(read_a(name), read_b(name), roots)))
    return diffs


def describe(diffs: Sequence[MemberDiff]) -> str:
    """One line: how many members differ, of which kinds, which, and where to look."""
    if not diffs:
        return "same members and contents; the container bytes differ (order or headers)"
    parts = []
    for kind in DiffKind:
        names = [diff.name for diff in diffs if diff.kind is kind]
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
