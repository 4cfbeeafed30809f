"""Small file-system helpers shared by the stages: hashing and atomic writes.

Temporary files of interrupted writes are removed through :mod:`srcstacks.layout`, the
only module that deletes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from srcstacks.layout import discard_temporary

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Return the hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it into place only on success.

    Readers of ``target`` see either the old file or the complete new one, never a
    half-written file, even if the process is killed part way.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600; published files are meant to be read by others.
        tmp.chmod(0o644)
        with tmp.open("rb") as stream:
            os.fsync(stream.fileno())
        os.replace(tmp, target)
    finally:
        discard_temporary(tmp)


def atomic_copy(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` atomically (see :func:`atomic_path`)."""
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def atomic_write_text(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` atomically (see :func:`atomic_path`)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def dump_json(data: Any) -> str:
    """Serialise ``data`` the way every srcstacks JSON file is written: sorted, stable."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(target: Path, data: Any) -> None:
    """Write ``data`` as sorted, indented JSON to ``target`` atomically."""
    atomic_write_text(target, dump_json(data))


def publish_tree(staging: Path, target_dir: Path) -> list[Path]:
    """Copy every file under ``staging`` into ``target_dir`` as one all-or-nothing step.

    Changed files are first copied beside their targets under temporary names; only when
    every copy succeeded are they renamed into place (renames need no space). A copy
    that fails, a full disk say, removes the temporaries and raises ``OSError``, leaving
    ``target_dir`` exactly as it was. Returns the published files.
    """
    sources = sorted(path for path in staging.rglob("*") if path.is_file())
    pending: list[tuple[Path, Path]] = []
    try:
        for source in sources:
            target = target_dir / source.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.{os.getpid()}.part")
            pending.append((temporary, target))
            shutil.copyfile(source, temporary)
            with temporary.open("rb") as stream:
                os.fsync(stream.fileno())
    except OSError:
        for temporary, _ in pending:
            discard_temporary(temporary)
        raise
    # Metadata files sort after the archives they describe only by luck; rename archives
    # first so a reader never sees metadata naming an archive that is not there yet.
    pending.sort(key=lambda item: item[1].suffix == ".json")
    for temporary, target in pending:
        os.replace(temporary, target)
    return [target for _, target in pending]
