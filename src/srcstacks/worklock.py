"""One srcstacks run at a time per work directory, and none while an old one's tools live.

Reads and writes ``<work_dir>/.lock``; reads ``/proc/<pid>/environ`` of other processes
to find tools a killed run left behind (they carry ``SRCSTACKS_WORK_DIR=<work_dir>``).
Readers of a run's outputs (verify, report, deploy) take the same lock shared, so they
never read a half-published set; a deploy also locks its target folder's marker.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from srcstacks.errors import BusyError
from srcstacks.layout import lock_path
from srcstacks.tools.process import marker_entry, run_marked


def _say(message: str) -> None:
    print(message, file=sys.stderr)


@contextlib.contextmanager
def publishing_into(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock while publishing into it; refuse at once if another run does.

    For a folder several stacks share (a wheel dir): no tools run under this lock, so it
    neither marks nor stops processes, unlike :func:`exclusive`.
    """
    with _locked(folder / ".lock"):
        yield


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An ``flock`` on ``path`` naming this process, refused at once if another holds it."""
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise BusyError(
                f"{path.parent} is in use by srcstacks run {holder}; wait for it to finish"
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


@contextlib.contextmanager
def held_for_reading(work_dir: Path) -> Iterator[None]:
    """Wait for no srcstacks run to be writing, without writing anything ourselves.

    A shared ``flock`` on the work dir's lock file when it exists and can be opened;
    reading a read-only copy (or without a work dir) proceeds without one.
    """
    path = lock_path(work_dir)
    try:
        handle = path.open("rb")
    except OSError:
        yield
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = handle.read().decode("utf-8", errors="replace").strip() or "another process"
            raise BusyError(
                f"{work_dir} is in use by srcstacks run {holder}; wait for it to finish"
            ) from None
        except OSError:
            pass  # a file system without locks: read anyway
        yield


@contextlib.contextmanager
def only_user_of(folder: Path, marker: Path, what: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``marker`` (a file srcstacks wrote in ``folder``, left
    unchanged), refused at once while another srcstacks run holds it: ``what`` says what
    that run is doing there."""
    with marker.open("rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BusyError(
                f"{folder}: another srcstacks run is {what}; wait for it to finish"
            ) from None
        except OSError:
            pass  # a file system without locks
        yield


@contextlib.contextmanager
def exclusive(work_dir: Path, report: Callable[[str], None] = _say) -> Iterator[None]:
    """Hold the work dir's lock for the duration; refuse at once if another run holds it.

    The lock is an ``flock`` on ``<work_dir>/.lock``: the kernel drops it when the
    holder exits, however it exits, so a killed run never leaves a stale lock. Tools
    such a run started normally die with it (see :mod:`srcstacks.tools.reaper`); any
    that did not are killed here before the lock is granted, and named.
    Every tool started inside carries the work dir's marker.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    marker = work_dir.resolve()
    with _locked(lock_path(work_dir)):
        stop_leftovers(marker, report)
        with run_marked(marker):
            yield


def leftover_processes(work_dir: Path) -> list[int]:
    """Processes (not this one, nor its ancestors) whose environment names ``work_dir``'s run.

    With the lock held no live run owns them: they belong to a run that was killed.
    """
    entry = marker_entry(work_dir)
    spared = _ancestors()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in spared:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as environ:
                entries = environ.read().split(b"\0")
        except OSError:  # gone, or not ours to read
            continue
        if entry in entries:
            found.append(int(name))
    return sorted(found)


def stop_leftovers(work_dir: Path, report: Callable[[str], None]) -> None:
    """Kill the tools a killed run on ``work_dir`` left running, and wait until they are gone.

    Killing rather than refusing: the lock proves their run is dead, nothing will read
    what they produce, and they could still write into the work dir under the new run.
    """
    pids = leftover_processes(work_dir)
    if not pids:
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while (alive := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive:
        raise BusyError(
            f"{work_dir}: processes left by an earlier srcstacks run do not stop"
            f" (pids {', '.join(map(str, alive))}); stop them and rerun"
        )
    report(
        f"note: stopped {len(pids)} process(es) an earlier, killed srcstacks run on"
        f" {work_dir} left running (pids {', '.join(map(str, pids))})"
    )


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting for its parent."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read()
    except OSError:
        return False
    return text[text.rfind(b")") + 2 :].split()[0] != b"Z"


def _ancestors() -> set[int]:
    pid, found = os.getpid(), set()
    while pid > 1:
        found.add(pid)
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                text = stat.read()
        except OSError:
            break
        pid = int(text[text.rfind(b")") + 2 :].split()[1])
    return found
