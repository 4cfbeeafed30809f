"""Fromager's own output files, read into typed values: its ``build-order.json`` and the
events file srcstacks' hook writes beside each run's log.

Reads only; what Fromager does with each package is :mod:`srcstacks.tools.fromager_events`'
to write, and :mod:`srcstacks.build.run_summary`'s to sum up.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from srcstacks.errors import StateError
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.state.records import read_json_state


@dataclass(frozen=True)
class BuildOrderEntry:
    """One entry of Fromager's ``build-order.json``: a project and version it built."""

    project: str  # canonical name
    version: str
    prebuilt: bool
    source_url: str
    source_url_type: str


def read_build_order(dirs: FromagerDirs) -> list[BuildOrderEntry] | None:
    """Fromager's bottom-up build order of the last run; ``None`` before any run.

    A file that is not a build order (cut off, edited) is a one-line :class:`StateError`.
    """
    path = dirs.build_order
    data = read_json_state(path, "Fromager build order", "srcstacks wheels")
    if data is None:
        return None
    if not isinstance(data, list):
        raise StateError(
            f"{path}: not a Fromager build order (a JSON list); rerun 'srcstacks wheels'"
        )
    try:
        return [
            BuildOrderEntry(
                project=canonicalize_name(str(entry["dist"])),
                version=str(entry["version"]),
                prebuilt=bool(entry.get("prebuilt")),
                source_url=str(entry.get("source_url") or ""),
                source_url_type=str(entry.get("source_url_type") or ""),
            )
            for entry in data
        ]
    except (KeyError, TypeError, AttributeError) as exc:
        raise StateError(
            f"{path}: malformed Fromager build order ({type(exc).__name__}: {exc});"
            " rerun 'srcstacks wheels'"
        ) from None


def events_path(log_path: Path) -> Path:
    """The events file a Fromager run logging to ``log_path`` writes beside it."""
    return log_path.with_name(f"{log_path.stem}.events.jsonl")


@dataclass(frozen=True)
class FailedStep:
    """The step of one package version Fromager raised in (its ``failed`` event)."""

    project: str  # canonical name
    version: str
    step: str  # Fromager's override method: download_source, prepare_source, build_wheel...
    error: str


def first_failure(events: Path) -> FailedStep | None:
    """The first step that failed in a Fromager run's events file, if any."""
    try:
        lines = events.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "failed":
            return FailedStep(
                str(event.get("project")),
                str(event.get("version")),
                str(event.get("step")),
                str(event.get("error")),
            )
    return None


# What a step of Fromager's is doing, in a progress line ("building numpy 2.4.6").
_STEP_ACTIVITY = {
    "download_source": "downloading",
    "prepare_source": "preparing",
    "build_sdist": "building the sdist of",
    "build_wheel": "building",
}


@dataclass(frozen=True)
class Followed:
    """What a running Fromager wrote to its events file since the last look."""

    resolved: tuple[str, ...]  # each requirement resolved: ``idna==3.11 (toplevel)``
    doing: str  # the newest step begun (``building numpy 2.4.6``), or ``""``


class EventFollower:
    """What a running Fromager does, from the events its process writes (its ``resolved``
    and ``step`` events, :mod:`srcstacks.tools.fromager_events`).

    Each :meth:`read` reads only what was appended since the last call; a line still
    being written is read the next time.
    """

    def __init__(self, events: Path) -> None:
        self._events = events
        self._offset = 0

    def read(self) -> Followed:
        """The requirements resolved and the newest step begun since the last call."""
        try:
            with self._events.open("rb") as stream:
                stream.seek(self._offset)
                data = stream.read()
        except OSError:
            return Followed((), "")
        whole = data[: data.rfind(b"\n") + 1]
        self._offset += len(whole)
        resolved: list[str] = []
        doing = ""
        for line in whole.decode("utf-8", errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            name = str(event.get("project"))
            if event.get("event") == "resolved":
                resolved.append(f"{name}=={event.get('version')} ({event.get('kind')})")
            elif event.get("event") == "step" and (
                verb := _STEP_ACTIVITY.get(str(event.get("step")))
            ):
                doing = f"{verb} {name} {event.get('version')}"
        return Followed(tuple(resolved), doing)


@contextlib.contextmanager
def following_events(
    events: Path,
    on_activity: Callable[[str], None] | None,
    on_resolved: Callable[[str], None] | None = None,
    interval: float = 0.5,
) -> Iterator[None]:
    """Tell ``on_resolved`` each requirement a running Fromager resolves and
    ``on_activity`` each step it begins, every ``interval`` seconds, from a thread of
    its own while the block runs, and once more as it ends (nothing written is missed).

    A build that prints nothing for minutes (a long compile, a quiet backend) still
    moves the progress line on from the step before it ("building the sdist of cython"
    to "building cython").
    """
    follower = EventFollower(events)
    stop = threading.Event()

    def look() -> None:
        followed = follower.read()
        if on_resolved is not None:
            for item in followed.resolved:
                on_resolved(item)
        if followed.doing and on_activity is not None:
            on_activity(followed.doing)

    def poll() -> None:
        while not stop.wait(interval):
            look()

    thread = threading.Thread(target=poll, name="srcstacks-events", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        look()
