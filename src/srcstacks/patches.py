"""Which patches Fromager applies to a project, by Fromager's own layout rules.

``patches/<name_with_underscores>/*.patch`` apply to every version,
``patches/<name_with_underscores>-<version>/*.patch`` to one version, and a ``<variant>/``
subfolder of either to that variant only. They are applied sorted by file name.
"""

from __future__ import annotations

from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version


def patch_dir_name(project: str) -> str:
    """The folder name Fromager looks for: the canonical name with ``_`` for ``-``."""
    return canonicalize_name(project).replace("-", "_")


def applicable_patches(patches_dir: Path, project: str, version: str, variant: str) -> list[Path]:
    """The patch files Fromager applies to ``project`` ``version`` for ``variant``, in order."""
    base = patch_dir_name(project)
    wanted = Version(Version(version).public)
    folders: list[Path] = []
    if (patches_dir / base).is_dir():
        folders.append(patches_dir / base)
    for candidate in sorted(patches_dir.glob(f"{base}-*")):
        try:
            if Version(candidate.name[len(base) + 1 :]) == wanted:
                folders.append(candidate)
        except InvalidVersion:
            continue
    found: list[Path] = []
    for folder in folders:
        found.extend(folder.glob("*.patch"))
        found.extend((folder / variant).glob("*.patch"))
    return sorted(found, key=lambda path: path.name)
