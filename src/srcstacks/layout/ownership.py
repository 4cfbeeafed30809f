"""The only code that deletes anything, and only inside a folder srcstacks created.

Each folder srcstacks creates (the work dir, the wheel dir, the output dir, a rebuild
scratch dir) holds a marker file, :data:`OWNER_MARKER`, written when srcstacks created
it. A folder that already holds files but no marker is refused, by name, before anything
is written into it, so a mistyped ``--scratch ~`` or ``--work-dir .`` can never empty a
user's folder. Paths read from files (archive names, layer names) are checked by
:func:`inside` to stay inside their folder.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from srcstacks.errors import OwnershipError

OWNER_MARKER = ".srcstacks-owned"
# Leftovers of interrupted atomic writes (fsutil.atomic_path, fsutil.publish_tree).
_TEMPORARY = re.compile(r"^\..+\.part$")


def inside(base: Path, relative: str | Path, what: str) -> Path:
    """``base / relative``, refused unless it stays inside ``base`` (no ``..``, no root).

    For any path built from text that came from a spec, a command line or a file.
    """
    root = Path(os.path.normpath(base))
    candidate = Path(os.path.normpath(root / relative))
    if candidate == root or not candidate.is_relative_to(root):
        raise OwnershipError(f"{what} {str(relative)!r} points outside {base}")
    return candidate


def claim_dir(folder: Path, purpose: str, *, only_as: bool = False) -> Path:
    """Create ``folder`` (with parents) for srcstacks' use, or accept one it made before.

    A folder that exists, is not empty and has no :data:`OWNER_MARKER` was not made by
    srcstacks: it is refused, so nothing in it is ever overwritten or deleted. With
    ``only_as`` (folders srcstacks empties: a rebuild scratch dir, a deploy target), a
    folder srcstacks made for another purpose is refused too: a work, wheel or output
    dir, or a copy of one, is never emptied as scratch.
    """
    marker = folder / OWNER_MARKER
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise OwnershipError(f"{folder}: the {purpose} must be a folder, not a file or link")
    if marker.is_file():
        made_as = _purpose_of(marker)
        if only_as and made_as != purpose:
            raise OwnershipError(
                f"{folder}: srcstacks made this folder as the {made_as or 'unknown'}, not as"
                f" a {purpose}; name a new or empty folder for the {purpose}"
            )
        return folder
    if folder.is_dir() and any(folder.iterdir()):
        raise OwnershipError(
            f"{folder}: the {purpose} holds files srcstacks did not create (no {OWNER_MARKER});"
            " name an empty or new folder instead"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"created by srcstacks as the {purpose}\n", encoding="utf-8")
    except OSError as exc:
        raise OwnershipError(
            f"{folder}: cannot create the {purpose}: {exc.strerror or exc}"
        ) from None
    return folder


def _purpose_of(marker: Path) -> str:
    """What srcstacks made a folder for, from its marker ("" when unreadable)."""
    try:
        text = marker.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return text.removeprefix("created by srcstacks as the ")


def is_owned(folder: Path) -> bool:
    """Whether srcstacks created ``folder`` (it holds the marker)."""
    return (folder / OWNER_MARKER).is_file()


def _owner_of(path: Path) -> Path:
    """The nearest folder above ``path`` that srcstacks created; refuse if none.

    Strictly above: a folder srcstacks made (a wheel dir in a rebuild scratch dir, say)
    may go with the folder that holds it, never on its own.
    """
    resolved = Path(os.path.realpath(path.parent)) / path.name
    for folder in resolved.parents:
        if is_owned(folder):
            return folder
    if is_owned(resolved):
        raise OwnershipError(f"{path}: refusing to delete a whole srcstacks folder")
    raise OwnershipError(f"{path}: not inside a folder srcstacks created; refusing to delete it")


def remove_tree(path: Path) -> None:
    """Delete ``path`` (a folder or a file) if it lies inside a folder srcstacks created."""
    if not path.exists() and not path.is_symlink():
        return
    _owner_of(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def remove_owned_dir(folder: Path) -> None:
    """Delete ``folder`` itself, which srcstacks must have created (its marker says so)."""
    empty_dir(folder)
    (folder / OWNER_MARKER).unlink()
    folder.rmdir()


def empty_dir(folder: Path) -> None:
    """Delete everything in ``folder`` but its marker; ``folder`` must be srcstacks'."""
    if not is_owned(folder):
        raise OwnershipError(f"{folder}: not a folder srcstacks created; refusing to empty it")
    for entry in folder.iterdir():
        if entry.name != OWNER_MARKER:
            remove_tree(entry)


def remove_file(path: Path) -> None:
    """Delete one file inside a folder srcstacks created (missing is fine)."""
    if path.is_dir() and not path.is_symlink():
        raise OwnershipError(f"{path}: expected a file, found a folder")
    remove_tree(path)


def move_into(source: Path, target: Path) -> Path:
    """Move ``source`` to ``target``; both must be inside folders srcstacks created."""
    _owner_of(source)
    _owner_of(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(source, target)
    return target


def discard_temporary(path: Path) -> None:
    """Delete a temporary file of an atomic write (``.<name>.<...>.part``), nothing else."""
    if not _TEMPORARY.match(path.name):
        raise OwnershipError(f"{path}: not a srcstacks temporary file; refusing to delete it")
    path.unlink(missing_ok=True)


def remove_partial_files(folder: Path) -> None:
    """Delete leftovers of interrupted atomic writes (``.*.part``) anywhere in ``folder``."""
    if folder.is_dir():
        for leftover in folder.rglob(".*.part"):
            discard_temporary(leftover)
