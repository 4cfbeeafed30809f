"""``--jobs N``: the option, reading ``fromager bootstrap-parallel`` logs, and the progress shown.

``parallel-built.log``, ``parallel-reused.log``, ``parallel-fetched.log`` and
``parallel-failed.log`` in ``fixtures/fromager_logs/`` were captured from Fromager 0.77
``bootstrap-parallel -m 2`` on the demo stack's requirements: from scratch, again in the
same work dir, from scratch with ``--cache-wheel-server-url`` naming a ``fromager
wheel-server`` holding the first build's wheels, and from scratch with markupsafe's
compile broken (``-include`` of a missing header). Only
Fromager's own lines are kept, paths shortened to ``/stack`` and ``/venv``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from srcstacks.build_jobs import building_with, checked_jobs, current_jobs, default_jobs
from srcstacks.build_progress import BuildProgress, TimedWheel, duration, slowest_table
from srcstacks.errors import BuildError, ConfigError, ToolError
from srcstacks.parallel_log import Failed, Finished, ParallelReader, node_project
from srcstacks.run_summary import Action, read_log, summarize
from srcstacks.tools import fromager
from tests.conftest import copy_demo_stack, run_cli

LOGS = Path(__file__).parent / "fixtures" / "fromager_logs"
DEMO = ["flit-core", "idna", "jinja2", "markupsafe", "setuptools"]


def log(name: str) -> str:
    return (LOGS / name).read_text()


def outcomes(text: str) -> dict[str, tuple[str, int | None]]:
    summary = summarize("cpu", None, [read_log(text)])
    return {e.project: (e.action.value, e.seconds) for e in summary.entries}


# --- the option -------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, -8])
def test_zero_or_negative_jobs_are_refused_naming_the_option(value: int) -> None:
    with pytest.raises(ConfigError, match=rf"--jobs must be at least 1 .*, not {value}$"):
        checked_jobs(value)


def test_jobs_default_to_the_cpus_this_process_may_use() -> None:
    assert checked_jobs(None) == default_jobs() == len(os.sched_getaffinity(0))
    assert checked_jobs(3) == 3
    with building_with(1):
        assert current_jobs() == 1
    assert current_jobs() == default_jobs()  # only for the length of the command


@pytest.mark.parametrize("command", ["build", "wheels"])
def test_jobs_zero_on_the_command_line_is_one_line_and_builds_nothing(
    tmp_path: Path, command: str
) -> None:
    spec = copy_demo_stack(tmp_path)
    result = run_cli(command, spec, "--jobs", "0", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "srcstacks: error: --jobs must be at least 1 (the number of packages built at once), not 0"
    )
    assert not (tmp_path / "_srcstacks").exists()
    # The negative control: a stage that builds no wheel has no --jobs at all.
    assert run_cli("lock", spec, "--jobs", "2", check=False).returncode == 2


def test_more_than_one_job_runs_bootstrap_parallel_with_that_many_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[Sequence[str]] = []
    monkeypatch.setattr(fromager, "run_logged", lambda command, **_: commands.append(command) or "")
    dirs = fromager.FromagerDirs(tmp_path)
    for jobs in (1, 3):
        fromager.bootstrap(
            dirs,
            tmp_path / "requirements.txt",
            settings_dir=tmp_path,
            patches_dir=tmp_path,
            variant="cpu",
            skip_constraints=True,
            log_path=tmp_path / "log",
            cache_wheel_server_url="http://index.test/simple/",
            jobs=jobs,
        )
    serial, parallel = ([*command[command.index("cpu") :]] for command in commands)
    assert "bootstrap" in serial and "bootstrap-parallel" not in serial
    assert "--max-workers" not in serial
    at = parallel.index("bootstrap-parallel")
    assert parallel[at + 1 : at + 3] == ["--max-workers", "3"]
    # Everything downstream depends on these reaching the parallel command too.
    assert "--skip-constraints" in parallel
    assert parallel[-2:] == ["--cache-wheel-server-url", "http://index.test/simple/"]


# --- reading the log: run-summary.json ----------------------------------------------


def test_parallel_first_build_lists_every_wheel_as_built_with_its_seconds() -> None:
    seen = outcomes(log("parallel-built.log"))
    assert sorted(seen) == DEMO
    assert {action for action, _ in seen.values()} == {"built"}
    # setuptools was built in the serial part ("Bootstrapping setuptools==84.2.1 took
    # 0:00:02 total"), markupsafe in parallel (starting processing 03:57:54, its wheel
    # added to the mirror at 03:57:57).
    assert seen["setuptools"] == ("built", 2)
    assert seen["markupsafe"] == ("built", 3)


def test_a_parallel_rerun_reuses_every_wheel() -> None:
    seen = outcomes(log("parallel-reused.log"))
    assert sorted(seen) == DEMO
    assert {action for action, _ in seen.values()} == {"reused"}


def test_wheels_from_the_cache_server_are_fetched_in_parallel_runs_too() -> None:
    # The serial part fetches every wheel the cache server has (build tools and the
    # rest alike); build-parallel then finds them in the work dir: fetched, not reused.
    text = log("parallel-fetched.log")
    assert "INFO idna-3.11: using existing wheel from" in text
    seen = outcomes(text)
    assert sorted(seen) == DEMO
    assert {action for action, _ in seen.values()} == {"fetched"}


def test_a_failed_parallel_build_is_unfinished_and_what_finished_is_kept() -> None:
    seen = outcomes(log("parallel-failed.log"))
    assert seen["markupsafe"] == ("unfinished", None)
    # jinja2 was running beside it and finished after the failure.
    assert {seen[name][0] for name in DEMO if name != "markupsafe"} == {"built"}


def test_the_serial_part_alone_decides_nothing_about_packages_built_in_parallel() -> None:
    text = log("parallel-built.log")
    cut = text.index("*** starting build-parallel")
    facts = read_log(text[:cut])  # cut off before build-parallel began
    assert set(facts.finished.values()) == {Action.BUILT}
    assert {name for name, _ in facts.finished} == {"flit-core", "setuptools"}
    assert {name for name, _ in facts.started} >= {"idna", "jinja2", "markupsafe"}


def test_node_keys_split_into_project_and_version() -> None:
    assert node_project("flit-core-3.12.0") == "flit-core"
    assert node_project("markupsafe-3.0.4") == "markupsafe"
    assert node_project("MarkupSafe") == "MarkupSafe"  # the serial part's names
    reader = ParallelReader()
    events = [reader.feed(line) for line in log("parallel-failed.log").splitlines()]
    failed = [e for e in events if isinstance(e, Failed)]
    assert [e.key for e in failed] == [("markupsafe", "3.0.4")]
    finished = {e.key[0]: (e.outcome, e.earlier) for e in events if isinstance(e, Finished)}
    # The build tools were built by the serial part: build-parallel finds their wheels.
    assert finished == {
        "flit-core": ("built", True),
        "setuptools": ("built", True),
        "idna": ("built", False),
        "jinja2": ("built", False),
    }


def test_a_failed_parallel_build_names_the_package_and_its_build_log(tmp_path: Path) -> None:
    dirs = fromager.FromagerDirs(tmp_path)
    build_log = dirs.work_dir / "markupsafe-3.0.4" / "build.log"
    build_log.parent.mkdir(parents=True)
    build_log.write_text("fatal error: srcstacks-missing-header.h\n")
    text = log("parallel-failed.log")
    errors = fromager.ErrorLines()
    for line in text.splitlines():
        errors.feed(line)
    assert errors.found[0][0] == "markupsafe"
    generic = ToolError("fromager bootstrap-parallel failed", "/log")
    error = fromager.explain_failure(text, errors.found, "/log", generic, dirs, time.time() - 60)
    assert isinstance(error, BuildError)
    assert str(error).startswith("building markupsafe from source failed: command failed")
    assert str(error).endswith(f"(log: {build_log})")


# --- live progress ----------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_names_each_build_its_duration_and_what_remains() -> None:
    said: list[str] = []
    clock = FakeClock()
    progress = BuildProgress(said.append, 2, heartbeat=0, clock=clock)
    for line in log("parallel-built.log").splitlines():
        if "markupsafe-3.0.4: adding" in line:
            clock.now += 125  # markupsafe's compile took a while
        progress.line(line)
    progress.close()
    assert said[0] == "building 5 package(s) from the dependency graph, up to 2 at a time"
    assert "  building markupsafe 3.0.4 from source" in said
    assert "  built markupsafe 3.0.4 in 2m05s [5/5 done, 0 waiting]" in said
    assert any(
        line.startswith("  built jinja2 3.1.6 in 0s [3/5 done, 1 waiting; running: markupsafe")
        for line in said
    ), said


def test_a_rerun_says_reused_and_never_building_from_source() -> None:
    said: list[str] = []
    progress = BuildProgress(said.append, 2, heartbeat=0, clock=FakeClock())
    for line in log("parallel-reused.log").splitlines():
        progress.line(line)
    progress.close()
    assert not any("from source" in line for line in said)
    assert sum(line.startswith("  reused ") for line in said) == 5


def test_wheels_the_serial_part_fetched_are_shown_fetched_not_reused() -> None:
    said: list[str] = []
    progress = BuildProgress(said.append, 2, heartbeat=0, clock=FakeClock())
    for line in log("parallel-fetched.log").splitlines():
        progress.line(line)
    progress.close()
    finished = [line for line in said if line.startswith("  ") and "[" in line]
    assert len(finished) == 5
    assert all(line.startswith("  fetched ") for line in finished), finished
    assert "  fetched idna 3.11 before the parallel builds [" in "\n".join(finished)


def test_a_long_silent_compile_is_reported_with_its_elapsed_time() -> None:
    said: list[str] = []
    clock = FakeClock()
    progress = BuildProgress(said.append, 2, heartbeat=0.05, clock=clock)
    lines = log("parallel-built.log").splitlines()
    for line in lines[
        : next(i for i, ln in enumerate(lines) if "markupsafe-3.0.4: building" in ln)
    ]:
        progress.line(line)
    clock.now += 600  # ten minutes of silence from Fromager
    deadline = time.monotonic() + 5
    while not any("still working" in line for line in said) and time.monotonic() < deadline:
        time.sleep(0.02)
    progress.close()
    beats = [line for line in said if "still working" in line]
    assert beats, said
    assert "running: " in beats[0] and "markupsafe 3.0.4 10m00s" in beats[0]


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
