"""Which patches Fromager applies to a project, by Fromager's own layout rules.

``patches/<name_with_underscores>/*.patch`` apply to every version,
``patches/<name_with_underscores>-<version>/*.patch`` to one version, and a ``<variant>/``
subfolder of either to that variant only. They are applied sorted by file name.

A patch whose files lie in a ``vendor/<crate>/`` folder changes a Rust crate that
Fromager vendors after applying the patches (:func:`vendored_crate_dir`); srcstacks
applies it once the crates are there (:mod:`srcstacks.tools.crate_patches`).
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


def unused_patch_dirs(
    patches_dir: Path,
    built: set[tuple[str, str]],
    variants: set[str],
    scope: str = "this build",
) -> list[str]:
    """Warnings for patch folders that no built project and version, or no variant, uses.

    ``built`` holds ``(canonical project name, version)`` pairs from the build graph
    (``scope`` says which); ``variants`` the variant names the settings define plus the
    one being built. A typo in a folder name is a common way to ship an unpatched build.
    """
    if not patches_dir.is_dir():
        return []
    names = {patch_dir_name(project) for project, _ in built}
    versions = {(patch_dir_name(project), Version(version)) for project, version in built}
    warnings: list[str] = []
    for folder in sorted(path for path in patches_dir.iterdir() if path.is_dir()):
        matched = folder.name in names
        if not matched:
            base, _, version = folder.name.rpartition("-")
            try:
                matched = (base, Version(version)) in versions
            except InvalidVersion:
                matched = False
        if not matched:
            count = len(list(folder.rglob("*.patch")))
            warnings.append(
                f"{folder}: {count} patch(es) for no project or version in {scope}"
                " (check the folder name: <name_with_underscores>[-<version>])"
            )
            continue
        for sub in sorted(path for path in folder.iterdir() if path.is_dir()):
            if sub.name not in variants:
                warnings.append(
                    f"{sub}: patches for variant {sub.name!r}, which no build setting defines"
                )
    return warnings


# How every patch is applied, to a package's sdist and to CPython's source: exactly (no
# fuzz: a hunk whose context lines do not match fails rather than lands elsewhere), never
# reversed (a patch upstream already has fails rather than being undone), in batch mode
# (never a question), with no .orig files left beside the patched ones.
PATCH_COMMAND = ("patch", "-p1", "--fuzz=0", "--forward", "--batch", "--no-backup-if-mismatch")

VENDOR_DIR = "vendor"  # where Fromager's ``cargo vendor`` puts a Rust project's crates


def patch_targets(text: str) -> tuple[str, ...]:
    """The files a unified diff changes, as ``patch -p1`` finds them (first folder dropped).

    A file the diff deletes is named by its ``---`` line.
    """
    targets: list[str] = []
    old = ""
    for line in text.splitlines():
        if line.startswith("--- "):
            old = _diff_path(line)
        elif line.startswith("+++ "):
            new = _diff_path(line)
            path = old if new == "/dev/null" else new
            if path != "/dev/null" and "/" in path:
                targets.append(path.split("/", 1)[1])
    return tuple(dict.fromkeys(targets))


def _diff_path(line: str) -> str:
    return line[4:].split("\t", 1)[0].strip()


def vendored_crate_dir(target: str) -> str | None:
    """The crate folder (``vendor/<crate>``, below the Rust root) a patched file is in, if any."""
    parts = target.split("/")
    for index, part in enumerate(parts[:-2]):
        if part == VENDOR_DIR:
            return "/".join(parts[: index + 2])
    return None
