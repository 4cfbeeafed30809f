"""CPython's source tarball for ``[tool.srcstacks.runtime] source = "build"``: fetch, check, unpack.

Reads the spec's ``tarball`` (a URL, or a local file) and ``sha256``. A URL is
downloaded once into ``<work_dir>/runtime-sources/`` and kept there for later runs.
Nothing is unpacked before its sha256 equals the spec's: a tarball that differs is
refused, and a download that differs is not kept. Unpacking writes the source tree into
a build folder the caller owns and checks that it is CPython, of the version the
runtime layer asks for.
"""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from srcstacks import web
from srcstacks.errors import RuntimeSourceError, SourceIntegrityError
from srcstacks.fsutil import atomic_path, sha256_file
from srcstacks.layout import Layout
from srcstacks.layout.ownership import inside, remove_file
from srcstacks.spec.runtime import RuntimeSource

_PY_VERSION = re.compile(r'^#define\s+PY_VERSION\s+"(?P<version>[^"]+)"', re.MULTILINE)


@dataclass(frozen=True)
class Tarball:
    """CPython's source tarball, checked against the spec's sha256."""

    path: Path
    origin: str  # the URL, or the local file's name (no machine path in any output)
    sha256: str

    @property
    def filename(self) -> str:
        """The tarball's file name."""
        return self.path.name


@dataclass(frozen=True)
class SourceTree:
    """An unpacked CPython source tree."""

    root: Path
    version: str  # PY_VERSION from Include/patchlevel.h, e.g. "3.11.2"


def obtain_tarball(runtime: RuntimeSource, layout: Layout) -> Tarball:
    """The spec's tarball, downloaded if need be, its sha256 checked before any use."""
    assert runtime.sha256 is not None
    if runtime.tarball_path is not None:
        path = runtime.tarball_path
        if not path.is_file():
            raise RuntimeSourceError(
                f"{path}: CPython source tarball not found ([tool.srcstacks.runtime] tarball)"
            )
        _check_sha256(path, runtime.sha256, str(path))
        return Tarball(path, path.name, runtime.sha256)
    assert runtime.tarball_url is not None
    return _download(runtime.tarball_url, runtime.sha256, layout)


def _download(url: str, sha256: str, layout: Layout) -> Tarball:
    name = PurePosixPath(urlsplit(url).path).name
    if not name:
        raise RuntimeSourceError(f"{url}: the tarball URL names no file")
    cached = inside(layout.runtime_sources, name, "tarball file name")
    if cached.is_file() and sha256_file(cached) == sha256:
        return Tarball(cached, url, sha256)
    if cached.exists():
        remove_file(cached)  # an earlier download of another file by that name
    try:
        with atomic_path(cached) as part:
            web.download(url, part)
            _check_sha256(part, sha256, url)
    except web.CutOffError as exc:
        # Said as a sha256 mismatch, it would invite pasting the cut file's hash into
        # the spec.
        raise RuntimeSourceError(f"{url}: {exc.reason}; nothing was kept, run again") from None
    except web.WebError as exc:
        raise RuntimeSourceError(f"{url}: cannot download CPython's source: {exc.reason}") from None
    return Tarball(cached, url, sha256)


def _check_sha256(path: Path, expected: str, label: str) -> None:
    found = sha256_file(path)
    if found != expected:
        raise SourceIntegrityError(
            f"{label}: sha256 is {found} but [tool.srcstacks.runtime] sha256 says {expected};"
            " refused before unpacking (check the tarball and the hash published beside it)"
        )


def unpack(tarball: Tarball, dest: Path) -> SourceTree:
    """Unpack ``tarball`` into the empty folder ``dest``; return the CPython tree in it.

    Every member must sit in one top folder; links and paths that would leave ``dest``
    are refused by tarfile's ``data`` filter.
    """
    label = tarball.origin
    try:
        with tarfile.open(tarball.path, "r:*") as tar:
            # A leading "/" or "./" is dropped, as tarfile's filter drops it on extraction.
            tops = {
                parts[0]
                for parts in (PurePosixPath(m.name.lstrip("/")).parts for m in tar.getmembers())
                if parts
            }
            if len(tops) != 1:
                raise RuntimeSourceError(
                    f"{label}: not a CPython source tarball (expected one top folder such as"
                    f" Python-3.11.2/, found {len(tops)})"
                )
            tar.extractall(dest, filter="data")
    except tarfile.FilterError as exc:
        raise RuntimeSourceError(f"{label}: unsafe member refused, nothing used: {exc}") from None
    except (tarfile.TarError, EOFError) as exc:
        # tarfile's "r:*" lists each compression it tried on a line of its own.
        reason = " ".join(str(exc).split())
        raise RuntimeSourceError(f"{label}: corrupt source tarball: {reason}") from None
    root = inside(dest, tops.pop(), "the tarball's top folder")
    return SourceTree(root, _source_version(root, label))


def _source_version(root: Path, label: str) -> str:
    patchlevel = root / "Include" / "patchlevel.h"
    if not (root / "configure").is_file() or not patchlevel.is_file():
        raise RuntimeSourceError(
            f"{label}: not a CPython source tree (no configure and Include/patchlevel.h"
            f" in {root.name}/)"
        )
    found = _PY_VERSION.search(patchlevel.read_text(encoding="utf-8", errors="replace"))
    if found is None:
        raise RuntimeSourceError(f"{label}: Include/patchlevel.h defines no PY_VERSION")
    return found["version"]
