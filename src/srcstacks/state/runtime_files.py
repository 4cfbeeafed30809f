"""The runtime's own file list: every file and symlink of a runtime layer's interpreter.

A runtime layer archive holds the interpreter srcstacks packed or was given, plus the
few files venvstacks writes; no wheel's ``RECORD`` names the interpreter's files, so
verify needs this list to account for each of them.

- The runtime stage writes ``<work_dir>/<variant>/runtime-files/<layer>.json`` when it
  seeds a ``pack`` or ``local`` runtime, listing the seeded folder before venvstacks
  sees it.
- The archives stage copies it into the output dir as
  ``__srcstacks__/<layer>.runtime-files.json`` (for ``download`` and ``mirror`` it
  lists the runtime layer venvstacks unpacked, venvstacks' own files left out) and
  pins its sha256 in ``build.json``.
- ``srcstacks verify`` reads it.

Each entry maps a path relative to the runtime's root to ``sha256=<urlsafe b64>`` (a
file, RECORD notation) or ``symlink:<target>``.
"""

from __future__ import annotations

import os
from pathlib import Path

from srcstacks.errors import StateError
from srcstacks.fsutil import dump_json, sha256_bytes, write_json
from srcstacks.layout import Layout, runtime_file_list_published
from srcstacks.state.archive_reader import record_digest
from srcstacks.state.records import read_json_state

FORMAT = 1


def list_tree(folder: Path, leave_out: frozenset[str] = frozenset()) -> dict[str, str]:
    """Every file and symlink under ``folder`` (relative POSIX paths), but ``leave_out``.

    ``__pycache__`` folders are left out: venvstacks never puts them in an archive.
    """
    entries: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if relative in leave_out or "__pycache__" in path.relative_to(folder).parts:
            continue
        if path.is_symlink():
            entries[relative] = "symlink:" + os.readlink(path)
        elif path.is_file():
            entries[relative] = record_digest(path.read_bytes())
    return entries


def work_list_path(layout: Layout, env_name: str) -> Path:
    """Where the runtime stage records the list of a seeded runtime."""
    return layout.runtime_file_list(env_name)


def published_list_path(output_dir: Path, env_name: str) -> Path:
    """Where the list of a runtime layer is published beside the archives."""
    return runtime_file_list_published(output_dir, env_name)


def list_text(entries: dict[str, str]) -> str:
    """The list as written to disk."""
    return dump_json({"format": FORMAT, "files": entries})


def list_sha256(entries: dict[str, str]) -> str:
    """sha256 of the list as written: what ``build.json`` and the SBOM pin."""
    return sha256_bytes(list_text(entries).encode("utf-8"))


def write_list(path: Path, entries: dict[str, str]) -> None:
    """Write a runtime's file list atomically."""
    write_json(path, {"format": FORMAT, "files": entries})


def read_list(path: Path) -> dict[str, str] | None:
    """Read a runtime's file list; None when there is none."""
    data = read_json_state(path, "runtime file list", "srcstacks archives")
    if data is None:
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StateError(f"{path}: malformed runtime file list; rerun 'srcstacks archives'")
    files = data.get("files")
    if not isinstance(files, dict):
        raise StateError(f"{path}: malformed runtime file list; rerun 'srcstacks archives'")
    return {str(key): str(value) for key, value in files.items()}
