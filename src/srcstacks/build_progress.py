"""Live progress of the build-parallel phase, as plain lines, and the slowest-builds table.

Reads Fromager's output line by line (through :class:`srcstacks.parallel_log.ParallelReader`);
writes progress lines through the stage's ``report``: a line per requirement resolved
(the serial part, which also builds the build tools), a line when a package starts
compiling from source, one when a package is finished (built, reused, fetched) with its
duration and what is still running, and, while builds run and nothing else was said for
``heartbeat`` seconds, a line naming every running build with its elapsed time, so that
a ten-minute compile never looks like a hang.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from srcstacks.parallel_log import (
    Compiling,
    Failed,
    Finished,
    Key,
    ParallelReader,
    Started,
    Total,
)

Report = Callable[[str], None]
HEARTBEAT_SECONDS = 30.0


def duration(seconds: float) -> str:
    """``7s``, ``2m05s``, ``1h02m``: short and unambiguous."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _name(key: Key) -> str:
    return f"{key[0]} {key[1]}"


@dataclass
class _State:
    total: int | None = None
    done: int = 0
    failed: int = 0
    last_said: float = 0.0


class BuildProgress:
    """Feeds on Fromager's lines (:meth:`line`); reports builds; stop it with :meth:`close`.

    ``clock`` is this process's monotonic clock: elapsed times are measured here, when
    each line arrives, so they keep growing while Fromager is silent.
    """

    def __init__(
        self,
        report: Report,
        jobs: int,
        *,
        heartbeat: float = HEARTBEAT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._report = report
        self._jobs = jobs
        self._clock = clock
        self._reader = ParallelReader()
        self._running: dict[Key, float] = {}
        self._began = clock()
        self._resolved = 0
        self._state = _State(last_said=self._began)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if heartbeat > 0:
            self._ticker = threading.Thread(
                target=self._tick, args=(heartbeat,), name="srcstacks-progress", daemon=True
            )
            self._ticker.start()

    def resolved(self, item: str) -> None:
        """Fromager resolved one more requirement (``name==version (kind)``)."""
        with self._lock:
            self._resolved += 1
            self._say(f"  [{self._resolved}] {item}")

    def line(self, text: str) -> None:
        """One line of Fromager's output."""
        event = self._reader.feed(text)
        if event is None:
            return
        with self._lock:
            now = self._clock()
            if isinstance(event, Total):
                self._state.total = event.count
                self._say(
                    f"building {event.count} package(s) from the dependency graph,"
                    f" up to {self._jobs} at a time"
                )
            elif isinstance(event, Started):
                self._running[event.key] = now
            elif isinstance(event, Compiling):
                self._say(f"  building {_name(event.key)} from source")
            elif isinstance(event, Finished):
                self._finished(event.key, event.outcome, now, earlier=event.earlier)
            elif isinstance(event, Failed):
                self._finished(event.key, "FAILED", now)

    def _finished(self, key: Key, outcome: str, now: float, *, earlier: bool = False) -> None:
        started = self._running.pop(key, now)
        self._state.done += 1
        # A wheel the serial part built or fetched: its time was spent there.
        when = "before the parallel builds" if earlier else f"in {duration(now - started)}"
        self._say(f"  {outcome} {_name(key)} {when} [{self._counts()}{self._running_text(now)}]")

    def _counts(self) -> str:
        total = self._state.total
        if total is None:
            return f"{self._state.done} done"
        waiting = max(0, total - self._state.done - len(self._running))
        return f"{self._state.done}/{total} done, {waiting} waiting"

    def _running_text(self, now: float) -> str:
        if not self._running:
            return ""
        items = sorted(self._running.items(), key=lambda item: item[1])
        return "; running: " + ", ".join(
            f"{_name(key)} {duration(now - since)}" for key, since in items
        )

    def _say(self, message: str) -> None:
        self._state.last_said = self._clock()
        self._report(message)

    def _tick(self, interval: float) -> None:
        while not self._stop.wait(min(interval, 5.0)):
            with self._lock:
                now = self._clock()
                if now - self._state.last_said < interval:
                    continue
                if self._running:
                    self._say(f"  still working [{self._counts()}{self._running_text(now)}]")
                elif not self._reader.in_parallel:
                    # The serial part: resolving, downloading, building the build tools.
                    self._say(f"  still working ({duration(now - self._began)} so far)")

    def close(self) -> None:
        """Stop the heartbeat (call it whether the build succeeded or not)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()


@dataclass(frozen=True)
class TimedWheel:
    """One wheel of the run with the seconds Fromager spent on it."""

    project: str
    version: str
    action: str
    seconds: int


def slowest_table(wheels: Iterable[TimedWheel], limit: int = 5) -> list[str]:
    """Lines of a table of the ``limit`` slowest wheels (none when no wheel took a second)."""
    slow = sorted(
        (wheel for wheel in wheels if wheel.seconds > 0),
        key=lambda wheel: (-wheel.seconds, wheel.project),
    )[:limit]
    if not slow:
        return []
    width = max(len(f"{wheel.project} {wheel.version}") for wheel in slow)
    lines = ["slowest builds:"]
    for wheel in slow:
        label = f"{wheel.project} {wheel.version}"
        lines.append(f"  {label:<{width}}  {wheel.action:<8}  {duration(wheel.seconds):>6}")
    return lines
