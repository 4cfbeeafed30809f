"""Account for every file in a layer archive: each must come from somewhere we can name.

Reads nothing itself: it is given an archive's members (:mod:`archive_reader`), the
wheels its distributions were installed from, the runtime's file list
(:mod:`runtime_files`) and what venvstacks writes into the layer, regenerated from the
spec (:mod:`srcstacks.tools.venvstacks_writes`). Every file and symlink of the archive
must be one of, compared by content (or link target) unless said otherwise:

1. a file of a published wheel, by that wheel's ``RECORD``, or a file the installer
   writes into an installed wheel's ``.dist-info`` (:data:`INSTALLER_FILES`, by name:
   none of them is code). A wheel's own ``__pycache__`` files (numpy 2.3's
   ``numpy/distutils`` ships one) are not expected: venvstacks leaves every
   ``__pycache__`` folder out of its archives;
2. a file of the runtime's own file list;
3. a file venvstacks writes: ``postinstall.py``, the layer config, the ``bin/python``
   wrapper and its links, and an application's launch and support modules, compared
   with the spec's own files (never with the hashes in the archive's metadata).

Anything else (a ``.pth`` file, a ``sitecustomize.py``, a stray ``__pycache__``, a
module added inside a launch package, an entry-point script venvstacks never ships) is
unaccounted, and named.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from srcstacks.state.archive_reader import ArchiveContents, InstalledDist, WheelFiles
from srcstacks.tools.venvstacks import LayerMetadata
from srcstacks.tools.venvstacks_writes import LayerFiles

# Files an installer (uv) adds to or rewrites in an installed wheel's .dist-info.
INSTALLER_FILES = {
    "INSTALLER": "names the installer",
    "REQUESTED": "marks a requested distribution",
    "RECORD": "rewritten by the installer with the installed paths",
    "direct_url.json": "where the installer got the wheel",
    "uv_cache.json": "uv's cache key for the installed wheel",
}
_MAX_LISTED = 20


@dataclass(frozen=True)
class InstalledWheel:
    """One distribution in the archive with the published wheel it was installed from."""

    dist: InstalledDist
    wheel_name: str
    files: WheelFiles


@dataclass(frozen=True)
class _Expected:
    entry: str | None  # "sha256=..." or "symlink:<target>"; None: accounted by name only
    source: str  # what put it there, for messages
    wheel_path: str | None = None  # its path in the wheel, when a wheel put it there

    def differs(self, shown: str) -> str:
        """``<path> differs from <where it came from>``."""
        if self.wheel_path is not None:
            return f"{self.wheel_path} differs from the file in {self.source}"
        return f"{shown} differs from {self.source}"

    def missing(self, shown: str) -> str:
        """``<path> from <where it came from> is missing``."""
        return f"{self.wheel_path or shown} from {self.source} is missing"


def account_for_files(
    contents: ArchiveContents,
    layer: LayerMetadata,
    wheels: list[InstalledWheel],
    runtime_files: dict[str, str] | None,
    written: LayerFiles,
) -> list[str]:
    """Every problem with the archive's files: unaccounted, differing or missing ones.

    ``runtime_files`` is the runtime's own file list (runtime layers only); ``written``
    what venvstacks writes into this layer, regenerated from the spec.
    """
    name = contents.archive.name
    root = layer.install_target
    site = written.site_dir
    expected: dict[str, _Expected] = {}
    for relative, entry in (runtime_files or {}).items():
        expected[relative] = _Expected(entry, "the runtime's file list")
    for relative, file in written.files.items():
        expected[relative] = _Expected(file.entry, file.what)
    for wheel in wheels:
        expected.update(_wheel_files(wheel, site))
    problems: list[str] = []
    found: dict[str, str] = {}
    for member, entry in sorted(contents.members.items()):
        top, _, relative = member.partition("/")
        if top != root or (not relative.strip("/") and entry != "dir"):
            problems.append(f"{name}: {member} lies outside the layer's folder {root}/")
        elif entry != "dir" and relative:
            found[relative.rstrip("/")] = entry
    unaccounted = []
    for relative, entry in sorted(found.items()):
        want = expected.get(relative)
        if want is None:
            unaccounted.append(relative)
        elif not _matches(want, entry):
            problems.append(f"{name}: {want.differs(f'{root}/{relative}')}")
    for relative in unaccounted[:_MAX_LISTED]:
        problems.append(
            f"{name}: {root}/{relative} is unaccounted for (in no wheel's RECORD, not in the"
            " runtime's file list, not a file venvstacks writes)"
        )
    if len(unaccounted) > _MAX_LISTED:
        problems.append(f"{name}: and {len(unaccounted) - _MAX_LISTED} more unaccounted file(s)")
    for relative, want in sorted(expected.items()):
        if relative not in found and want.entry is not None:
            problems.append(f"{name}: {want.missing(f'{root}/{relative}')}")
    return problems


def _wheel_files(wheel: InstalledWheel, site: str) -> dict[str, _Expected]:
    files: dict[str, _Expected] = {}
    source = wheel.wheel_name
    data_dir = f"{wheel.dist.dist_info.removesuffix('.dist-info')}.data/"
    for path, digest in wheel.files.record.items():
        if "__pycache__" in PurePosixPath(path).parts:
            continue  # venvstacks leaves every __pycache__ folder out of an archive
        if path.startswith(data_dir):
            scheme, _, rest = path[len(data_dir) :].partition("/")
            target = {
                "purelib": f"{site}/{rest}",
                "platlib": f"{site}/{rest}",
                "data": rest,
                "headers": f"include/site/{site.split('/')[1]}/{wheel.dist.name}/{rest}",
            }.get(scheme)
            # A wheel's scripts go to bin/, which venvstacks empties of all but python*.
            if target is not None:
                files[target] = _Expected(digest, source, path)
            continue
        in_dist_info = path.startswith(wheel.dist.dist_info + "/")
        if in_dist_info and PurePosixPath(path).name == "RECORD":
            continue
        files[f"{site}/{path}"] = _Expected(digest, source, path)
    for name, reason in INSTALLER_FILES.items():
        files[f"{site}/{wheel.dist.dist_info}/{name}"] = _Expected(
            None, f"the installer ({reason})"
        )
    return files


def _matches(want: _Expected, entry: str) -> bool:
    return want.entry is None or want.entry == entry
