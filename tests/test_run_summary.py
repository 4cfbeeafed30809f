"""``run-summary.json``: what a ``wheels`` run did with each wheel, from Fromager's events.

The files in ``fixtures/fromager_events/`` were written by Fromager itself, through
srcstacks' entry point (:mod:`srcstacks.tools.fromager_events`), building the demo stack:
``0.77-*`` by Fromager 0.77.0 on Python 3.11 (from scratch, then again in the same work
dir), ``0.101-*`` by Fromager 0.101.0 on 3.12 (from scratch; in a fresh work dir with the
first build's wheels on the stack's index; again in the same work dir; with a patch of
idna that does not apply). Both releases give the same events.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from srcstacks.build.run_summary import Action, RunRecorder, read_events, summarize
from srcstacks.layout import Layout
from srcstacks.tools.fromager_files import BuildOrderEntry, events_path

EVENTS = Path(__file__).parent / "fixtures" / "fromager_events"
DEMO = [
    ("flit-core", "3.12.0"),
    ("idna", "3.11"),
    ("jinja2", "3.1.6"),
    ("markupsafe", "3.0.4"),
    ("setuptools", "84.2.1"),
]


def events(name: str) -> str:
    return (EVENTS / f"{name}.jsonl").read_text()


def order(*keys: tuple[str, str]) -> list[BuildOrderEntry]:
    return [BuildOrderEntry(project, version, False, "", "sdist") for project, version in keys]


def actions(text: str, build_order: list[BuildOrderEntry] | None = None) -> dict[str, str]:
    summary = summarize("cpu", build_order, [read_events(text)])
    return {f"{e.project}=={e.version}": e.action.value for e in summary.entries}


def event(kind: str, project: str, version: str, **fields: object) -> str:
    return json.dumps({"event": kind, "project": project, "version": version, **fields})


@pytest.mark.parametrize("fromager", ["0.77", "0.101"])
def test_first_build_lists_every_wheel_as_built_with_fromagers_seconds(fromager: str) -> None:
    summary = summarize("cpu", order(*DEMO), [read_events(events(f"{fromager}-built"))])
    assert [(e.project, e.version) for e in summary.entries] == DEMO  # sorted, no extra
    assert {e.action for e in summary.entries} == {Action.BUILT}
    assert all(e.seconds is not None for e in summary.entries)
    assert summary.totals()["fetched"] == 0 and summary.totals()["reused"] == 0


@pytest.mark.parametrize("fromager", ["0.77", "0.101"])
def test_rerun_in_the_same_work_dir_reuses_every_wheel(fromager: str) -> None:
    assert actions(events(f"{fromager}-reused")) == {f"{p}=={v}": "reused" for p, v in DEMO}


def test_wheels_from_the_cache_server_are_fetched() -> None:
    assert actions(events("0.101-fetched")) == {f"{p}=={v}": "fetched" for p, v in DEMO}


def test_fromagers_seconds_are_summed_over_its_name_forms_and_used_before_the_build_step() -> None:
    text = "\n".join(
        [
            event("started", "markupsafe", "3.0.4"),
            event("built", "markupsafe", "3.0.4", seconds=2.0),
            event("done", "markupsafe", "3.0.4", wheel="m.whl", where="built"),
            # Fromager's time_store keys MarkupSafe==3.0.4 and markupsafe==3.0.4 apart.
            event("seconds", "markupsafe", "3.0.4", seconds=3.25),
            event("seconds", "markupsafe", "3.0.4", seconds=1.5),
            event("built", "idna", "3.11", seconds=1.6),
            event("done", "idna", "3.11", wheel="i.whl", where="built"),
        ]
    )
    facts = read_events(text)
    assert facts.seconds == {("markupsafe", "3.0.4"): 4.75, ("idna", "3.11"): 1.6}
    summary = summarize("cpu", None, [facts])
    assert [(e.project, e.seconds) for e in summary.entries] == [("idna", 2), ("markupsafe", 5)]


def test_a_wheel_the_events_do_not_mention_is_unknown_not_guessed() -> None:
    build_order = order(*DEMO, ("six", "1.17.0"))
    summary = summarize("cpu", build_order, [read_events(events("0.77-built"))])
    six = [e for e in summary.entries if e.project == "six"]
    assert [(e.action, e.seconds) for e in six] == [(Action.UNKNOWN, None)]
    assert summary.describe() == (
        "5 built, 0 reused, 0 fetched from the index, 1 not in Fromager's records"
    )


def test_a_run_cut_off_mid_build_lists_what_finished_and_what_did_not() -> None:
    # Killed while flit_core (a build tool of jinja2) was being built, mid-line.
    lines = events("0.77-built").splitlines()
    cut = next(i for i, line in enumerate(lines) if '"built", "project": "flit-core"' in line)
    text = "\n".join([*lines[:cut], lines[cut][:20]])
    assert actions(text) == {
        "flit-core==3.12.0": "unfinished",
        "jinja2==3.1.6": "unfinished",
        "markupsafe==3.0.4": "built",
        "setuptools==84.2.1": "built",
    }


def test_a_failed_patch_leaves_its_package_unfinished() -> None:
    summary = summarize("cpu", None, [read_events(events("0.101-patch-failed"))])
    assert [(e.project, e.action) for e in summary.entries] == [("idna", Action.UNFINISHED)]
    assert summary.describe() == "0 built, 0 reused, 0 fetched from the index, 1 unfinished"


def test_a_pre_built_wheel_is_not_counted_as_built() -> None:
    text = event("done", "six", "1.17.0", wheel="six-1.17.0-py3-none-any.whl", where="prebuilt")
    assert actions(text) == {"six==1.17.0": "prebuilt"}


def test_a_source_only_package_of_the_resolve_step_is_left_to_the_executor() -> None:
    text = "\n".join(
        [
            event("started", "idna", "3.11"),
            event("done", "idna", "3.11", wheel=None, where=None),
            event("seconds", "idna", "3.11", seconds=0.5),
            event("built", "flit-core", "3.12.0", seconds=1.0),
            event("done", "flit-core", "3.12.0", wheel="f.whl", where="built"),
        ]
    )
    facts = read_events(text, sdist_only=True)
    assert facts.finished == {("flit-core", "3.12.0"): Action.BUILT}
    assert facts.started == {("idna", "3.11")}
    assert facts.seconds == {("flit-core", "3.12.0"): 1.0}


def test_rerun_after_a_constraints_conflict_keeps_what_the_first_attempt_built() -> None:
    # The first attempt built everything, then failed writing constraints.txt; the rerun
    # with --skip-constraints reused it all.
    attempts = [read_events(events("0.77-built")), read_events(events("0.77-reused"))]
    summary = summarize("cpu", order(*DEMO), attempts)
    assert {e.action for e in summary.entries} == {Action.BUILT}
    # Negative control: the rerun's events alone would claim every wheel was reused.
    alone = summarize("cpu", order(*DEMO), attempts[1:])
    assert {e.action for e in alone.entries} == {Action.REUSED}


def test_recorder_writes_sorted_json_and_ignores_an_earlier_runs_build_order(
    tmp_path: Path,
) -> None:
    layout = Layout(tmp_path / "s.toml", tmp_path / "work", "cpu", tmp_path / "w", tmp_path / "o")
    dirs = layout.fromager
    dirs.work_dir.mkdir(parents=True)
    entries = [{"dist": p, "version": v, "prebuilt": False} for p, v in reversed(DEMO)]
    dirs.build_order.write_text(json.dumps(entries))
    log_path = layout.log("fromager-bootstrap")
    log_path.parent.mkdir(parents=True)
    events_path(log_path).write_text(events("0.77-built"))
    reported: list[str] = []
    RunRecorder(layout, log_path).write(reported.append)
    written = layout.run_summary.read_text()
    assert layout.run_summary == tmp_path / "work" / "cpu" / "run-summary.json"
    data = json.loads(written)
    assert data["variant"] == "cpu"
    assert [(e["project"], e["action"]) for e in data["entries"]] == [(p, "built") for p, _ in DEMO]
    assert data["totals"]["built"] == 5 and data["totals"]["reused"] == 0
    assert written == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert reported == [
        f"5 built, 0 reused, 0 fetched from the index (run summary: {layout.run_summary})"
    ]
    # A run that failed before finishing anything leaves the last run's build order:
    # its wheels are not this run's.
    os.utime(dirs.build_order, (1_000_000, 1_000_000))
    events_path(log_path).write_text(events("0.101-patch-failed"))
    summary = RunRecorder(layout, log_path).write(reported.append)
    assert [(e.project, e.action) for e in summary.entries] == [("idna", Action.UNFINISHED)]
    # Events an earlier run left say nothing about this one.
    os.utime(events_path(log_path), (1_000_000, 1_000_000))
    assert RunRecorder(layout, log_path).write(reported.append).entries == ()


def test_a_stack_of_two_pythons_lists_each_compiled_wheel_once_per_python() -> None:
    from srcstacks.build.run_summary import RunSummary, SummaryEntry, merged

    first = RunSummary("cpu", (
        SummaryEntry("markupsafe", "3.0.4", Action.BUILT, 3, "local", "3.11"),
        SummaryEntry("setuptools", "84.2.1", Action.BUILT, 2, "local", "3.11"),
    ))  # fmt: skip
    second = RunSummary("cpu", (
        SummaryEntry("markupsafe", "3.0.4", Action.BUILT, 4, "local", "3.12"),
        # The first Python's pure wheel, found in the second's repo: not listed again.
        SummaryEntry("setuptools", "84.2.1", Action.REUSED, 0, None, "3.12"),
    ))  # fmt: skip
    both = merged([first, second])
    assert [(e.project, e.python, e.action) for e in both.entries] == [
        ("markupsafe", "3.11", Action.BUILT),
        ("markupsafe", "3.12", Action.BUILT),
        ("setuptools", "3.11", Action.BUILT),
    ]
    assert both.describe() == "3 built, 0 reused, 0 fetched from the index"
    assert both.entries[1].to_json()["python"] == "3.12"
    # A stack of one Python writes no "python" key.
    assert "python" not in SummaryEntry("six", "1.17.0", Action.BUILT, 1).to_json()


def test_the_second_pythons_line_counts_its_own_packages_and_the_file_holds_both(
    tmp_path: Path,
) -> None:
    from srcstacks.build.run_summary import RunSummary, SummaryEntry

    layout = Layout(tmp_path / "s.toml", tmp_path / "work", "cpu", tmp_path / "w", tmp_path / "o")
    dirs = layout.fromager_for("3.12")
    dirs.work_dir.mkdir(parents=True)
    entries = [{"dist": p, "version": v, "prebuilt": False} for p, v in DEMO]
    dirs.build_order.write_text(json.dumps(entries))
    log_path = layout.log("fromager-bootstrap-3.12")
    log_path.parent.mkdir(parents=True)
    events_path(log_path).write_text(events("0.77-built"))
    first = RunSummary("cpu", (
        SummaryEntry("certifi", "2025.1.31", Action.BUILT, 3, "local", "3.11"),
        SummaryEntry("six", "1.17.0", Action.BUILT, 2, "local", "3.11"),
    ))  # fmt: skip
    reported: list[str] = []
    RunRecorder(layout, log_path, dirs).write(reported.append, [first])
    assert reported == [
        f"5 built, 0 reused, 0 fetched from the index on Python 3.12"
        f" (run summary: {layout.run_summary})"
    ]
    data = json.loads(layout.run_summary.read_text())
    assert data["totals"]["built"] == 7
