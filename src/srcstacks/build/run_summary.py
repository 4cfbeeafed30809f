"""What one ``srcstacks wheels`` run did with each wheel: ``run-summary.json``.

Reads the events file Fromager's bootstrap writes through srcstacks' entry point
(``<work_dir>/<variant>/logs/fromager-bootstrap.events.jsonl``,
:mod:`srcstacks.tools.fromager_events`: the same for Fromager 0.77 and 0.101, never its
log text) and its build order (``fromager/work-dir/build-order.json``); writes
``<work_dir>/<variant>/run-summary.json`` with one entry per wheel of the build: whether
Fromager built it, reused a wheel already in this work dir, or fetched it from the
cache server (the stack's index), and the seconds Fromager spent on it (its own
``time_store``).

Written after every bootstrap, failed ones too: packages Fromager started but did not
finish are listed as ``unfinished``. A parallel run (``--jobs`` above 1, or
``--executor``) adds its resolve step's events (``bootstrap --sdist-only``, which builds
the build tools) before, and the outcomes of the executor's builds
(:class:`~srcstacks.build.executors.base.BuildOutcome`: built, with seconds and worker)
between it and the final bootstrap, which only finds those wheels.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from packaging.version import InvalidVersion, Version

from srcstacks.build.executors.base import BuildOutcome, Status
from srcstacks.errors import StateError
from srcstacks.fsutil import write_json
from srcstacks.layout import Layout
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.reporting import Report
from srcstacks.tools import fromager_files

FORMAT = 1

Key = tuple[str, str]  # (canonical project name, version)


class Action(StrEnum):
    """How a wheel of the build came to be there."""

    BUILT = "built"  # Fromager built it from its sdist in this run
    REUSED = "reused"  # a wheel already in this work dir's wheels-repo
    FETCHED = "fetched"  # downloaded from the cache server (the stack's index)
    PREBUILT = "prebuilt"  # a binary a settings file marks pre_built (publish refuses it)
    UNFINISHED = "unfinished"  # started in this run, never finished (the run failed)
    UNKNOWN = "unknown"  # in the build order, but the log does not say how


# How Fromager's events file (:mod:`srcstacks.tools.fromager_events`) says a package's
# wheel came to be: its "where" of the "done" event.
_DONE: dict[str, Action] = {
    "built": Action.BUILT,
    "existing": Action.REUSED,
    "downloaded": Action.FETCHED,
    "prebuilt": Action.PREBUILT,
}


@dataclass
class RunFacts:
    """What one ``fromager bootstrap`` (its events file) or one set of executor builds did."""

    finished: dict[Key, Action] = field(default_factory=dict)
    started: set[Key] = field(default_factory=set)
    seconds: dict[Key, float] = field(default_factory=dict)
    workers: dict[Key, str] = field(default_factory=dict)  # who built it (executor builds)


def read_events(text: str, *, sdist_only: bool = False) -> RunFacts:
    """The packages a bootstrap started and finished, how, and Fromager's timings.

    ``text`` is the bootstrap's events file. ``sdist_only``: the resolve step of a
    parallel run, which only prepares the sources of what is not a build tool (done
    with no wheel): those are left for the executor's outcomes to decide. A line that is
    not a whole event (the process was killed while writing it) is skipped.
    """
    facts = RunFacts()
    built_seconds: dict[Key, float] = {}
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        key = (str(event.get("project")), str(event.get("version")))
        kind = event.get("event")
        if kind == "started":
            facts.started.add(key)
        elif kind == "done" and (action := _DONE.get(str(event.get("where")))) is not None:
            facts.finished.setdefault(key, action)
        elif kind == "seconds" and isinstance(event.get("seconds"), int | float):
            facts.seconds[key] = facts.seconds.get(key, 0.0) + float(event["seconds"])
        elif kind == "built" and isinstance(event.get("seconds"), int | float):
            built_seconds[key] = float(event["seconds"])
    for key, seconds in built_seconds.items():
        facts.seconds.setdefault(key, seconds)
    if sdist_only:
        facts.seconds = {k: facts.seconds[k] for k in facts.finished if k in facts.seconds}
    return facts


def outcome_facts(outcomes: Iterable[BuildOutcome], planned: Iterable[Key] = ()) -> RunFacts:
    """The executor's builds as facts: built ones with their seconds and worker.

    Every ``planned`` build this run did not finish (failed, never started because of a
    failure or Ctrl-C) counts as started: ``unfinished`` in the summary.
    """
    facts = RunFacts(started=set(planned))
    for outcome in outcomes:
        key = outcome.build.key
        facts.started.add(key)
        if outcome.status == Status.BUILT:
            facts.finished[key] = Action.BUILT
            facts.seconds[key] = outcome.seconds
            facts.workers[key] = outcome.worker
    return facts


@dataclass(frozen=True)
class SummaryEntry:
    """One wheel of the build and what this run did for it."""

    project: str  # canonical name
    version: str
    action: Action
    # Fromager's own measure, whole seconds; None when its log has no timing for it.
    seconds: int | None
    # Who built it: "local" (this machine), a Dask worker's name; None if not built here.
    worker: str | None = None
    # X.Y of the Python it was built for, in a stack building for several; else "".
    python: str = ""

    def to_json(self) -> dict[str, object]:
        found: dict[str, object] = {
            "project": self.project,
            "version": self.version,
            "action": self.action.value,
            "seconds": self.seconds,
            "worker": self.worker,
        }
        if self.python:
            found["python"] = self.python
        return found


@dataclass(frozen=True)
class RunSummary:
    """Every wheel of one ``wheels`` run, sorted by project and version."""

    variant: str
    entries: tuple[SummaryEntry, ...]

    def totals(self) -> dict[str, int]:
        """How many wheels each action covers, every action listed."""
        counts = {action.value: 0 for action in Action}
        for entry in self.entries:
            counts[entry.action.value] += 1
        return counts

    def to_json(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "variant": self.variant,
            "entries": [entry.to_json() for entry in self.entries],
            "totals": self.totals(),
        }

    def describe(self) -> str:
        """One line: ``3 built, 2 reused, 0 fetched from the index`` and any others."""
        totals = self.totals()
        text = (
            f"{totals['built']} built, {totals['reused']} reused,"
            f" {totals['fetched']} fetched from the index"
        )
        others = {
            Action.PREBUILT: "pre-built (refused at publish)",
            Action.UNFINISHED: "unfinished",
            Action.UNKNOWN: "not in Fromager's records",
        }
        for action, label in others.items():
            if totals[action.value]:
                text += f", {totals[action.value]} {label}"
        return text


def summarize(
    variant: str,
    build_order: Iterable[fromager_files.BuildOrderEntry] | None,
    attempts: Sequence[RunFacts],
) -> RunSummary:
    """The summary of a run whose bootstraps left ``attempts`` (oldest first).

    A rerun after a constraints conflict finds every wheel the first attempt made:
    the first attempt that finished a package says how, and gives its seconds. A
    package some attempt started but none finished is ``unfinished``.
    """
    how: dict[Key, tuple[Action, int | None, str | None]] = {}
    for facts in attempts:
        for key, action in facts.finished.items():
            if key not in how:
                seconds = facts.seconds.get(key)
                worker = facts.workers.get(key, "local") if action == Action.BUILT else None
                how[key] = (action, None if seconds is None else round(seconds), worker)
    started: set[Key] = set()
    for facts in attempts:
        started |= facts.started
    keys = {(entry.project, entry.version) for entry in build_order or ()}
    entries = [
        SummaryEntry(project, version, *_outcome((project, version), how, started))
        for project, version in keys | how.keys() | started
    ]
    entries.sort(key=lambda entry: (entry.project, _version_order(entry.version)))
    return RunSummary(variant, tuple(entries))


def _outcome(
    key: Key, how: dict[Key, tuple[Action, int | None, str | None]], started: set[Key]
) -> tuple[Action, int | None, str | None]:
    if key in how:
        return how[key]
    return (Action.UNFINISHED if key in started else Action.UNKNOWN, None, None)


def _version_order(version: str) -> tuple[int, Version | str]:
    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)


def merged(summaries: Sequence[RunSummary]) -> RunSummary:
    """One summary of several (one per Python built for, oldest first).

    A project version listed by an earlier one is listed again only when a later one
    built it too (a compiled wheel for another Python); a pure-Python wheel the later
    one found (the earlier one's, shared) is not listed twice.
    """
    entries: list[SummaryEntry] = []
    seen: set[Key] = set()
    for summary in summaries:
        for entry in summary.entries:
            key = (entry.project, entry.version)
            if key not in seen or entry.action == Action.BUILT:
                entries.append(entry)
            seen.add(key)
    ordered = sorted(
        entries, key=lambda e: (e.project, _version_order(e.version), _version_order(e.python))
    )
    return RunSummary(summaries[0].variant, tuple(ordered))


class RunRecorder:
    """Collects one ``wheels`` run's bootstrap logs and writes its ``run-summary.json``.

    Make it just before the first bootstrap; call :meth:`keep_attempt` before a
    bootstrap is rerun (the rerun overwrites the log) and :meth:`write` once at the end,
    whether the bootstrap succeeded or not.
    """

    def __init__(self, layout: Layout, log_path: Path, dirs: FromagerDirs | None = None) -> None:
        self.layout = layout
        self.log_path = log_path
        self.dirs = dirs or layout.fromager  # whose build order the run's is
        # The filesystem's clock is coarser than time.time(): allow it a second.
        self.started = time.time() - 1.0
        self.earlier: list[RunFacts] = []

    def keep_attempt(
        self, superseded: Iterable[str] = (), *, log: Path | None = None, sdist_only: bool = False
    ) -> None:
        """Remember what the bootstrap that just ended did, before it is rerun.

        ``superseded``: canonical names of projects whose outcome the rerun decides
        (a fetched wheel the index could not vouch for, removed to be built). ``log``:
        another bootstrap's log than the main one (a parallel run's resolve step).
        """
        facts = read_events(self._events_of(log or self.log_path), sdist_only=sdist_only)
        dropped = set(superseded)
        facts.finished = {
            key: action for key, action in facts.finished.items() if key[0] not in dropped
        }
        self.earlier.append(facts)

    def add_outcomes(self, outcomes: Iterable[BuildOutcome], planned: Iterable[Key] = ()) -> None:
        """Remember the executor's builds (after the resolve step, before the last bootstrap)."""
        self.earlier.append(outcome_facts(outcomes, planned))

    def _events_of(self, log: Path) -> str:
        """The events of the bootstrap logging to ``log``, if this run wrote them; an
        earlier run's say nothing here."""
        events = fromager_files.events_path(log)
        try:
            if events.stat().st_mtime < self.started:
                return ""
        except OSError:
            return ""
        return _read_text(events)

    def fetched_so_far(self) -> set[str]:
        """Canonical names of the projects this run's bootstraps fetched from the cache."""
        attempts = [*self.earlier, read_events(self._events_of(self.log_path))]
        return {
            name
            for facts in attempts
            for (name, _), action in facts.finished.items()
            if action == Action.FETCHED
        }

    def write(self, report: Report, earlier: Sequence[RunSummary] = ()) -> RunSummary:
        """Write ``run-summary.json`` and report this build's totals in one line.

        ``earlier``: the summaries of this run's builds for other Pythons, written too;
        a wheel they list (a pure-Python one, built by the first) keeps their entry.
        The line counts this Python's packages only (the file has them all).
        Never raises for what Fromager left behind (it runs after failures too, and
        must not hide them): a build order that cannot be read is left out, and the
        entries come from the events alone.
        """
        attempts = [*self.earlier, read_events(self._events_of(self.log_path))]
        own = summarize(self.layout.variant, self._build_order(), attempts)
        if self.dirs.python:  # one of several Pythons: say which each entry is for
            own = RunSummary(
                own.variant, tuple(replace(e, python=self.dirs.python) for e in own.entries)
            )
        summary = merged([*earlier, own])
        write_json(self.layout.run_summary, summary.to_json())
        python = f" on Python {self.dirs.python}" if self.dirs.python else ""
        report(f"{own.describe()}{python} (run summary: {self.layout.run_summary})")
        return summary

    def _build_order(self) -> list[fromager_files.BuildOrderEntry] | None:
        dirs = self.dirs
        try:
            if dirs.build_order.stat().st_mtime < self.started:
                return None  # an earlier run's: this one failed before finishing any
            return fromager_files.read_build_order(dirs)
        except (OSError, StateError):
            return None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
