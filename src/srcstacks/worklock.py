"""One srcstacks run at a time per work directory."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from srcstacks.errors import BusyError


@contextlib.contextmanager
def exclusive(work_dir: Path) -> Iterator[None]:
    """Hold the work dir's lock for the duration; refuse at once if another run holds it.

    The lock is an ``flock`` on ``<work_dir>/.lock``: the kernel drops it when the
    holder exits, however it exits, so a killed run never leaves a stale lock.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / ".lock"
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise BusyError(
                f"{work_dir} is in use by srcstacks run {holder}; wait for it to finish"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
