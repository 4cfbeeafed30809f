"""Live progress of the wheels stage's builds, and the slowest-builds table.

Reads the events of a parallel run (:class:`~srcstacks.build.executors.base.BuildEvent`:
a build started or finished) and what the resolve step decided; writes progress through
the stage's ``report``: a line per requirement resolved, a line per wheel that needed
no build (reused, fetched) or that the resolve step built (the build tools), a line
when a build starts and one when it finishes, with its duration, how many are done,
waiting and running. While builds run and nothing else was said for ``heartbeat``
seconds, a ``still building`` line names every running build with its elapsed time, so
a ten-minute compile never looks like a hang; in a serial run (one Fromager process)
it names what Fromager does now, from its log (``still building regex 2026.11.19
(1m05s)``). On a terminal, a live display (rich,
imported only then) also shows the running builds and their elapsed time, and every
line of the run prints above it (:mod:`srcstacks.live_output`), never into it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from srcstacks import live_output
from srcstacks.build.executors.base import BuildEvent, Key, Status
from srcstacks.reporting import Report, duration

HEARTBEAT_SECONDS = 30.0


def _name(key: Key) -> str:
    return f"{key[0]} {key[1]}"


class BuildProgress:
    """Says what the builds do; stop it with :meth:`close` (also after a failure).

    ``clock`` is this process's monotonic clock: elapsed times are measured here, so
    they keep growing while a build is silent.
    """

    def __init__(
        self,
        report: Report,
        jobs: int,
        *,
        heartbeat: float = HEARTBEAT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        live: bool = False,
    ) -> None:
        self._report = report
        self._jobs = jobs
        self._clock = clock
        self._began = clock()
        self._last_said = self._began
        self._resolved = 0
        self._total: int | None = None
        self._done = 0
        self._running: dict[Key, float] = {}
        self._activity: tuple[str, float] | None = None  # what a serial run does, since
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._live: _LiveView | None = _LiveView(self) if live else None
        self._ticker: threading.Thread | None = None
        if heartbeat > 0 and self._live is None:
            self._ticker = threading.Thread(
                target=self._tick, args=(heartbeat,), name="srcstacks-progress", daemon=True
            )
            self._ticker.start()

    def resolved(self, item: str) -> None:
        """Fromager resolved one more requirement (``name==version (kind)``)."""
        with self._lock:
            self._resolved += 1
            self._say(f"  [{self._resolved}] {item}")

    def activity(self, doing: str) -> None:
        """A serial run's Fromager started ``doing`` (``building regex 2026.11.19``)."""
        with self._lock:
            self._activity = (doing, self._clock())

    def ready(self, key: Key, action: str, seconds: float | None) -> None:
        """A wheel that needs no build in the parallel part (reused, fetched, a build tool)."""
        when = f" in {duration(seconds)}" if action == "built" and seconds else ""
        with self._lock:
            self._say(f"  {action} {_name(key)}{when}")

    def planned(self, total: int) -> None:
        """The parallel part builds ``total`` packages."""
        with self._lock:
            self._total = total
            if total == 0:
                self._say("every wheel is there: nothing to build")
            else:
                self._say(f"building {total} package(s) from source, up to {self._jobs} at a time")
        if self._live is not None and total:
            self._live.start()

    def builds_ended(self) -> None:
        """Every build has ended: the live display goes (progress lines stay)."""
        if self._live is not None:
            self._live.stop()

    def event(self, event: BuildEvent) -> None:
        """A build started or finished."""
        with self._lock:
            now = self._clock()
            key = event.build.key
            if event.kind == "started":
                self._running[key] = now
                self._say(f"  building {_name(key)} from source")
                return
            started = self._running.pop(key, now)
            self._done += 1
            outcome = event.outcome
            if outcome is not None and outcome.status != Status.BUILT:
                why = f": {outcome.message}" if outcome.message else ""
                self._say(f"  FAILED {_name(key)} after {duration(now - started)}{why}")
                return
            self._say(
                f"  built {_name(key)} in {duration(now - started)}"
                f" [{self._counts()}{self._running_text(now)}]"
            )

    def _counts(self) -> str:
        if self._total is None:
            return f"{self._done} done"
        waiting = max(0, self._total - self._done - len(self._running))
        return f"{self._done}/{self._total} done, {waiting} waiting"

    def _running_text(self, now: float) -> str:
        if not self._running:
            return ""
        return "; running: " + self.running_names(now)

    def running_names(self, now: float | None = None) -> str:
        """``x 1.0 3m10s, y 2.0 12s``: every running build, the longest first."""
        when = self._clock() if now is None else now
        items = sorted(self._running.items(), key=lambda item: item[1])
        return ", ".join(f"{_name(key)} ({duration(when - since)})" for key, since in items)

    def status_line(self) -> str:
        """The live display's line: counts and what runs."""
        with self._lock:
            return f"[{self._counts()}] building: {self.running_names() or '-'}"

    def _say(self, message: str) -> None:
        self._last_said = self._clock()
        self._report(message)

    def _tick(self, interval: float) -> None:
        while not self._stop.wait(min(interval, 5.0)):
            with self._lock:
                now = self._clock()
                if now - self._last_said < interval:
                    continue
                if self._running:
                    self._say(f"  still building {self.running_names(now)} [{self._counts()}]")
                elif self._activity is not None:
                    doing, since = self._activity
                    self._say(
                        f"  still {doing} ({duration(now - since)};"
                        f" {duration(now - self._began)} so far)"
                    )
                else:
                    self._say(f"  still working ({duration(now - self._began)} so far)")

    def close(self) -> None:
        """Stop the heartbeat and the live display (call it whether the run succeeded)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self._live is not None:
            self._live.stop()


class _LiveView:
    """rich's live display of the running builds, on stderr (a terminal)."""

    def __init__(self, progress: BuildProgress) -> None:
        self._progress = progress
        self._live: Any = None

    def start(self) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        progress = self._progress

        class _Status:
            def __rich__(self) -> Text:
                return Text(progress.status_line())

        console = Console(stderr=True)
        self._live = Live(_Status(), console=console, refresh_per_second=2, transient=True)
        self._live.start()
        live_output.hold(console)  # every line now prints above the status line

    def stop(self) -> None:
        if self._live is not None:
            live_output.release()
            self._live.stop()
            self._live = None


@dataclass(frozen=True)
class TimedWheel:
    """One wheel of the run with the seconds spent on it."""

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
