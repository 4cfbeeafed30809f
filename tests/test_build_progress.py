"""Live progress of the wheels stage's builds and the slowest-builds table (plain lines)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from srcstacks.build.executors.base import BuildEvent, BuildOutcome, PackageBuild, Status
from srcstacks.build.progress import BuildProgress, TimedWheel, slowest_table
from srcstacks.reporting import duration
from srcstacks.tools.fromager_files import EventFollower, following_events

# --- live progress ----------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def event(kind: str, name: str, status: Status = Status.BUILT, message: str = "") -> BuildEvent:
    build = PackageBuild(name, "1.0", "u")
    if kind == "started":
        return BuildEvent("started", build, "local")
    outcome = BuildOutcome(build, status, 0.0, "local", message=message)
    return BuildEvent("finished", build, "local", outcome)


def test_progress_names_each_build_its_duration_and_what_remains() -> None:
    said: list[str] = []
    clock = FakeClock()
    progress = BuildProgress(said.append, 2, heartbeat=0, clock=clock)
    progress.ready(("setuptools", "80.0"), "built", 12.0)
    progress.ready(("idna", "3.11"), "reused", 0.0)
    progress.planned(3)
    progress.event(event("started", "regex"))
    progress.event(event("started", "psutil"))
    clock.now += 9
    progress.event(event("finished", "psutil"))
    clock.now += 116
    progress.event(event("finished", "regex"))
    progress.close()
    assert said == [
        "  built setuptools 80.0 in 12s",
        "  reused idna 3.11",
        "building 3 package(s) from source, up to 2 at a time",
        "  building regex 1.0 from source",
        "  building psutil 1.0 from source",
        "  built psutil 1.0 in 9s [1/3 done, 1 waiting; running: regex 1.0 (9s)]",
        "  built regex 1.0 in 2m05s [2/3 done, 1 waiting]",
    ]


def test_a_failed_build_is_shown_with_its_reason() -> None:
    said: list[str] = []
    progress = BuildProgress(said.append, 2, heartbeat=0, clock=FakeClock())
    progress.event(event("started", "brotli"))
    progress.event(event("finished", "brotli", Status.FAILED, "building brotli 1.0 failed: x"))
    progress.close()
    assert said[-1] == "  FAILED brotli 1.0 after 0s: building brotli 1.0 failed: x"


def test_a_long_silent_compile_is_reported_with_its_elapsed_time() -> None:
    said: list[str] = []
    clock = FakeClock()
    progress = BuildProgress(said.append, 2, heartbeat=0.05, clock=clock)
    progress.planned(1)
    progress.event(event("started", "pycryptodome"))
    clock.now += 190  # three minutes of silence from the compile
    deadline = time.monotonic() + 5
    while not any("still building" in line for line in said) and time.monotonic() < deadline:
        time.sleep(0.02)
    progress.close()
    beats = [line for line in said if "still building" in line]
    assert beats == ["  still building pycryptodome 1.0 (3m10s) [0/1 done, 0 waiting]"], said


def test_slowest_builds_table_lists_the_slowest_first_and_skips_instant_ones() -> None:
    wheels = [
        TimedWheel("idna", "3.11", "built", 3),
        TimedWheel("markupsafe", "3.0.4", "built", 754),
        TimedWheel("flit-core", "3.12.0", "reused", 0),
        TimedWheel("jinja2", "3.1.6", "fetched", 9),
    ]
    table = slowest_table(wheels, limit=2)
    assert table == [
        "slowest builds:",
        "  markupsafe 3.0.4  built     12m34s",
        "  jinja2 3.1.6      fetched       9s",
    ]
    assert slowest_table([TimedWheel("six", "1.17.0", "reused", 0)]) == []
    assert [duration(s) for s in (0, 59, 60, 3600, 3725)] == [
        "0s",
        "59s",
        "1m00s",
        "1h00m",
        "1h02m",
    ]


def test_a_serial_runs_heartbeat_names_what_fromager_does_now(tmp_path: Path) -> None:
    """From the step events Fromager's process writes as each step begins (the same for
    Fromager 0.77 and 0.101, whatever their log lines say)."""
    events = tmp_path / "fromager-bootstrap.events.jsonl"
    follower = EventFollower(events)
    assert follower.read().doing == ""  # no file yet

    def write(text: str) -> None:
        with events.open("a", encoding="utf-8") as stream:
            stream.write(text)

    def step(name: str) -> str:
        return json.dumps(
            {"event": "step", "project": "regex", "version": "2026.11.19", "step": name}
        )

    write(json.dumps({"event": "started", "project": "regex", "version": "2026.11.19"}) + "\n")
    write(step("download_source") + "\n" + step("prepare_source") + "\n")
    assert follower.read().doing == "preparing regex 2026.11.19"  # the newest step
    assert follower.read().doing == ""  # nothing new since
    write(step("get_build_system_dependencies") + "\n")
    assert follower.read().doing == ""  # a step no progress line names
    write(step("build_wheel")[:20])  # a line still being written
    assert follower.read().doing == ""
    write(step("build_wheel")[20:] + "\n")
    assert follower.read().doing == "building regex 2026.11.19"
    said: list[str] = []
    clock = FakeClock()
    progress = BuildProgress(said.append, 1, heartbeat=0.05, clock=clock)
    clock.now += 10
    progress.activity("building regex 2026.11.19")
    clock.now += 65
    deadline = time.monotonic() + 5
    while not any("still" in line for line in said) and time.monotonic() < deadline:
        time.sleep(0.02)
    progress.close()
    beats = [line for line in said if "still" in line]
    assert beats[0] == "  still building regex 2026.11.19 (1m05s; 1m15s so far)", said


def test_a_step_begun_during_a_silent_build_reaches_the_progress_line(tmp_path: Path) -> None:
    """Fromager may print nothing for minutes while a backend compiles: the step events
    are polled, not read only when an output line arrives."""
    events = tmp_path / "fromager-bootstrap.events.jsonl"
    seen: list[str] = []
    step = {"event": "step", "project": "cython", "version": "3.1.3", "step": "build_sdist"}
    with following_events(events, seen.append, interval=0.02):
        events.write_text(json.dumps(step) + "\n")
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            time.sleep(0.01)
        with events.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps({**step, "step": "build_wheel"}) + "\n")
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert seen == ["building the sdist of cython 3.1.3", "building cython 3.1.3"]


def test_each_requirement_fromager_resolves_is_one_numbered_line_from_its_events(
    tmp_path: Path,
) -> None:
    """From the ``resolved`` events Fromager's dependency graph writes (both versions),
    not its log text; the last ones written before Fromager exits are not lost."""
    events = tmp_path / "fromager-bootstrap.events.jsonl"
    said: list[str] = []
    progress = BuildProgress(said.append, 1, heartbeat=60)

    def resolved(project: str, version: str, kind: str) -> str:
        event = {"event": "resolved", "project": project, "version": version, "kind": kind}
        return json.dumps(event) + "\n"

    with following_events(events, progress.activity, progress.resolved, interval=60):
        events.write_text(
            resolved("markupsafe", "3.0.4", "toplevel")
            + json.dumps({"event": "started", "project": "markupsafe", "version": "3.0.4"})
            + "\n"
            + resolved("setuptools", "84.2.1", "build-system")
        )
    progress.close()
    assert [line for line in said if line.startswith("  [")] == [
        "  [1] markupsafe==3.0.4 (toplevel)",
        "  [2] setuptools==84.2.1 (build-system)",
    ]
