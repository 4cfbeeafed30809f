"""Before any wheel is built: does every patch still apply, exactly, to the sdist it is for?

The daily loop is "edit a patch, build again". Fromager applies patches only when it
reaches the package, so a patch that no longer applies used to fail after the builds
before it had run. Here, before Fromager starts, every project version of the last
build (Fromager's build order, per Python) that has patches and whose sdist Fromager
keeps is unpacked into a scratch folder and patched, in Fromager's order, as srcstacks
patches it (:data:`srcstacks.spec.patches.PATCH_COMMAND`: no fuzz). The first patch that
does not apply stops the run naming the patch, project, file and hunk.

A project version the last build did not have (a new requirement or version) is left to
Fromager, which patches it as it builds; so is a patch to vendored Rust crates, which
applies only after they are vendored. Reads the build order, the sdists repo and the
patches; writes only in the scratch folder, removed afterwards.
"""

from __future__ import annotations

import re
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from srcstacks.build.sdist_check import DownloadedSdist, downloaded_sdists
from srcstacks.errors import PatchFailedError
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.reporting import Report
from srcstacks.spec.patches import PATCH_COMMAND, applicable_patches, patch_targets
from srcstacks.spec.settings import Settings
from srcstacks.tools.crate_patches import defers

_FAILED = re.compile(r"(Hunk #\d+ FAILED at \d+)")
_PATCHING = re.compile(r"^patching file (\S+)", re.MULTILINE)
_TIMEOUT = 120


def check_patch_paths(patches_dir: Path) -> None:
    """Refuse a patch that names a file outside the tree it applies to (``a/../x``).

    GNU patch skips such a file with a warning and fails later without saying why.
    """
    if not patches_dir.is_dir():
        return
    for patch in sorted(patches_dir.rglob("*.patch")):
        text = patch.read_text(encoding="utf-8", errors="replace")
        for target in patch_targets(text):
            if ".." in target.split("/"):
                raise PatchFailedError(
                    f"patch {patch} names {target!r}, a file outside the source tree it"
                    " applies to; a patch may change only files inside it"
                )


def check_patches(
    every_dirs: Sequence[FromagerDirs],
    settings: Settings,
    patches_dir: Path,
    variant: str,
    report: Report,
) -> int:
    """Apply each cached sdist's patches in a scratch copy; the number of patches checked.

    Raises :class:`PatchFailedError` for the first that does not apply.
    """
    checked = 0
    seen: set[Path] = set()
    for dirs in every_dirs:
        for sdist in downloaded_sdists(dirs, settings):
            if sdist.path in seen:
                continue
            seen.add(sdist.path)
            patches = [
                patch
                for patch in applicable_patches(patches_dir, sdist.project, sdist.version, variant)
                if not defers(patch)
            ]
            if patches:
                _check_one(sdist, patches, patches_dir)
                checked += len(patches)
    if checked:
        report(f"patches: {checked} patch(es) apply to the sources of the last build")
    return checked


def _check_one(sdist: DownloadedSdist, patches: list[Path], patches_dir: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="srcstacks-patch-check-") as scratch:
        root = _unpack(sdist.path, Path(scratch))
        for patch in patches:
            result = subprocess.run(
                [*PATCH_COMMAND, "-i", str(patch)], cwd=root, capture_output=True,
                text=True, timeout=_TIMEOUT, check=False,
            )  # fmt: skip
            if result.returncode != 0:
                raise PatchFailedError(
                    f"patch {patch} does not apply to {sdist.project} {sdist.version}:"
                    f" {_why(result.stdout + result.stderr)} (checked before building:"
                    " nothing was built)"
                )


def _why(output: str) -> str:
    failed = _FAILED.search(output)
    files = _PATCHING.findall(output[: failed.start()] if failed else output)
    where = f" in {files[-1]}" if files and failed else ""
    if failed:
        return f"{failed.group(1)}{where}"
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "patch failed"


def _unpack(sdist: Path, into: Path) -> Path:
    """The source tree of ``sdist`` (its one top folder), unpacked below ``into``."""
    if sdist.name.endswith(".zip"):
        with zipfile.ZipFile(sdist) as archive:
            archive.extractall(into)
    else:
        with tarfile.open(sdist) as archive:
            archive.extractall(into, filter="data")
    entries = [path for path in into.iterdir() if path.is_dir()]
    return entries[0] if len(entries) == 1 else into
