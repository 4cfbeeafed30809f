"""Run one tool so that it, and every process it starts, dies with srcstacks.

Started by :func:`srcstacks.tools.process.run_logged` as
``python -I -m srcstacks.tools.reaper SRCSTACKS_PID COMMAND...``; reads and writes
nothing but its stdio, which the tool inherits.

- ``PR_SET_PDEATHSIG``: the kernel sends this process SIGTERM when srcstacks exits,
  even when srcstacks is killed with SIGKILL and runs no cleanup of its own.
- ``PR_SET_CHILD_SUBREAPER``: a process the tool started whose parent exits is
  re-parented here rather than to init, so none can slip away.
- On SIGTERM, SIGINT or SIGHUP, and when the tool exits, every process still below this
  one gets SIGKILL and is waited for. Only the standard library is used: this starts
  before every tool and must be quick.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import time
from types import FrameType

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
CANNOT_START_CODE = 127  # keep in step with srcstacks.tools.process
CANNOT_START_PREFIX = "srcstacks-reaper: cannot start "


class _Stop(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signum)


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                text = stat.read()
        except OSError:
            continue
        # Fields after the command name, which is in parentheses and may hold spaces.
        fields = text[text.rfind(b")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
    return parents


def descendants(root: int) -> list[int]:
    """Every process below ``root``, its children first."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    found: list[int] = []
    queue = list(children.get(root, []))
    while queue:
        pid = queue.pop(0)
        found.append(pid)
        queue.extend(children.get(pid, []))
    return found


def kill_descendants() -> None:
    """SIGKILL everything below this process and reap it, until nothing is left."""
    for _ in range(100):
        found = descendants(os.getpid())
        if not found:
            return
        for pid in found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        # Reap what died; its own orphans are re-parented here and found next round.
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
        time.sleep(0.01)


def _run(srcstacks_pid: int, command: list[str]) -> int:
    if os.getppid() != srcstacks_pid:  # srcstacks died before PR_SET_PDEATHSIG was set
        return 128 + signal.SIGTERM
    try:
        tool = subprocess.Popen(command)
    except OSError as exc:
        print(f"{CANNOT_START_PREFIX}{command[0]!r}: {exc}", flush=True)
        return CANNOT_START_CODE
    code = tool.wait()
    return code if code >= 0 else 128 - code


def main(argv: list[str]) -> int:
    srcstacks_pid, command = int(argv[0]), argv[1:]
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _stop)
    try:
        code = _run(srcstacks_pid, command)
    except _Stop as stop:
        code = 128 + stop.signum
    try:
        for signum in _STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
    except _Stop as stop:  # a second signal just before the line above
        code = 128 + stop.signum
    kill_descendants()  # also whatever the tool left running in the background
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
