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
import signal
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from srcstacks.errors import StateError
from srcstacks.layout.ownership import discard_temporary, inside, remove_file

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha512_file(path: Path) -> str:
    """The hex SHA-512 of the file at ``path`` (read in blocks)."""
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha512").hexdigest()


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


PUBLISH_JOURNAL = ".srcstacks-publishing.json"


def publish_tree(staging: Path, target_dir: Path, *, retire: Sequence[Path] = ()) -> list[Path]:
    """Copy every file under ``staging`` into ``target_dir`` as one all-or-nothing step.

    Changed files are first copied beside their targets under temporary names; only when
    every copy succeeded are they renamed into place (renames need no space). A copy
    that fails, a full disk say, removes the temporaries and raises ``OSError``, leaving
    ``target_dir`` exactly as it was. Files in ``retire`` (records describing what is
    being replaced) are removed together with the renames. Returns the published files.

    The renames cannot all happen at once, so they are listed first in a journal
    (:data:`PUBLISH_JOURNAL`) and Ctrl-C is held off while they run. A run killed part
    way (SIGKILL, power loss) leaves the journal behind: :func:`finish_publish`, which
    the next publish calls first, completes the set, and readers refuse a folder with a
    journal (:func:`interrupted_publish`), so nobody acts on a mix of two sets.
    """
    finish_publish(target_dir)
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
    journal = [
        [temporary.relative_to(target_dir).as_posix(), target.relative_to(target_dir).as_posix()]
        for temporary, target in pending
    ]
    retired = [path.relative_to(target_dir).as_posix() for path in retire]
    write_json(target_dir / PUBLISH_JOURNAL, {"renames": journal, "retire": retired})
    with _interrupts_held():
        _rename_all(target_dir, journal, retired)
    return [target for _, target in pending]


def interrupted_publish(target_dir: Path) -> Path | None:
    """The journal of a publish into ``target_dir`` that was killed part way, if any."""
    journal = target_dir / PUBLISH_JOURNAL
    return journal if journal.is_file() else None


def finish_publish(target_dir: Path) -> bool:
    """Complete the renames of a publish that was killed part way; True if there was one."""
    journal = interrupted_publish(target_dir)
    if journal is None:
        return False
    try:
        data = json.loads(journal.read_text(encoding="utf-8"))
        renames, retired = data["renames"], data["retire"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StateError(
            f"{journal}: unreadable publish journal ({exc}); the archives in {target_dir}"
            " may be a mix of two builds: remove it and rerun 'srcstacks archives'"
        ) from None
    with _interrupts_held():
        _rename_all(target_dir, renames, retired)
    return True


def _rename_all(target_dir: Path, renames: list[list[str]], retired: list[str]) -> None:
    for temporary_name, target_name in renames:
        temporary = inside(target_dir, temporary_name, "journal entry")
        if temporary.exists():  # else renamed already, before the run was killed
            os.replace(temporary, inside(target_dir, target_name, "journal entry"))
    for name in retired:
        remove_file(inside(target_dir, name, "journal entry"))
    remove_file(target_dir / PUBLISH_JOURNAL)


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done; they are delivered afterwards."""
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
