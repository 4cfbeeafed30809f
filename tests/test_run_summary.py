"""``run-summary.json``: what a ``wheels`` run did with each wheel, read from Fromager's log.

``bootstrap-built.log``, ``bootstrap-reused.log`` and ``bootstrap-fetched.log`` in
``fixtures/fromager_logs/`` were captured from Fromager 0.77 building the demo stack:
from scratch, again in the same work dir, and in a fresh work dir with
``--cache-wheel-server-url`` pointing at a wheel server holding the first build's wheels.
Only Fromager's own lines are kept (build tools' output dropped), paths shortened to
``/stack``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from srcstacks.layout import Layout
from srcstacks.run_summary import Action, RunRecorder, read_log, summarize
from srcstacks.tools.fromager import BuildOrderEntry

LOGS = Path(__file__).parent / "fixtures" / "fromager_logs"
DEMO = [
    ("flit-core", "3.12.0"),
    ("idna", "3.11"),
    ("jinja2", "3.1.6"),
    ("markupsafe", "3.0.4"),
    ("setuptools", "84.2.1"),
]


def log(name: str) -> str:
    return (LOGS / name).read_text()


def order(*keys: tuple[str, str]) -> list[BuildOrderEntry]:
    return [BuildOrderEntry(project, version, False, "", "sdist") for project, version in keys]


def actions(text: str, build_order: list[BuildOrderEntry] | None = None) -> dict[str, str]:
    summary = summarize("cpu", build_order, [read_log(text)])
    return {f"{e.project}=={e.version}": e.action.value for e in summary.entries}


def test_first_build_lists_every_wheel_as_built_with_fromagers_seconds() -> None:
    summary = summarize("cpu", order(*DEMO), [read_log(log("bootstrap-built.log"))])
    assert [(e.project, e.version) for e in summary.entries] == DEMO  # sorted, no extra
    assert {e.action for e in summary.entries} == {Action.BUILT}
    # "Bootstrapping setuptools==84.2.1 took 0:00:03 total, ..."
    assert {e.project: e.seconds for e in summary.entries}["setuptools"] == 3
    # Fromager asked its own wheel server before every build: that is not a fetch.
    assert "checking if wheel was already uploaded to" in log("bootstrap-built.log")
    assert summary.totals()["fetched"] == 0


def test_rerun_in_the_same_work_dir_reuses_every_wheel() -> None:
    assert set(actions(log("bootstrap-reused.log")).values()) == {"reused"}


def test_wheels_from_the_cache_server_are_fetched() -> None:
    text = log("bootstrap-fetched.log")
    assert set(actions(text).values()) == {"fetched"}
    assert len(actions(text)) == len(DEMO)


def test_found_on_fromagers_own_wheel_server_is_not_a_fetch() -> None:
    # The same lines with the checked server being Fromager's local one.
    text = log("bootstrap-fetched.log").replace(
        "http://localhost:38765/simple/", "http://127.0.0.1:35385/simple/"
    )
    assert "started wheel server at http://127.0.0.1:35385/simple/" in text
    assert set(actions(text).values()) == {"reused"}


def test_name_forms_of_the_log_are_matched_to_the_build_orders_names() -> None:
    text = "\n".join(
        [
            "00:00:01 INFO Flit_Core: new build-system dependency flit_core<4 resolves to 3.12.0",
            "00:00:02 INFO Flit_Core: built wheel for version 3.12.0: /w/flit_core-3.12.0-0.whl",
            "00:00:02 INFO Flit_Core: adding ('flit-core', '3.12.0') to build order",
            "00:00:03 INFO Bootstrapping MarkupSafe==3.0.4 took 0:00:02 total, 0:00:02 to x",
            "00:00:03 INFO Bootstrapping markupsafe==3.0.4 took 1 day, 0:00:03 total",
            "00:00:03 INFO Bootstrapping flit_core==3.12.0 took 0:01:04 total",
        ]
    )
    facts = read_log(text)
    assert facts.finished == {("flit-core", "3.12.0"): Action.BUILT}
    assert facts.seconds == {("markupsafe", "3.0.4"): 86405.0, ("flit-core", "3.12.0"): 64.0}
    summary = summarize("cpu", order(("flit-core", "3.12.0")), [facts])
    assert [(e.project, e.action, e.seconds) for e in summary.entries] == [
        ("flit-core", Action.BUILT, 64)
    ]


def test_a_wheel_the_log_does_not_mention_is_unknown_not_guessed() -> None:
    build_order = order(*DEMO, ("six", "1.17.0"))
    summary = summarize("cpu", build_order, [read_log(log("bootstrap-built.log"))])
    six = [e for e in summary.entries if e.project == "six"]
    assert [(e.action, e.seconds) for e in six] == [(Action.UNKNOWN, None)]
    assert summary.describe() == (
        "5 built, 0 reused, 0 fetched from the index, 1 not in Fromager's log"
    )


def test_without_fromagers_timing_lines_seconds_are_null() -> None:
    lines = log("bootstrap-built.log").splitlines()
    text = "\n".join(line for line in lines if " INFO Bootstrapping " not in line)
    summary = summarize("cpu", order(*DEMO), [read_log(text)])
    assert {(e.action, e.seconds) for e in summary.entries} == {(Action.BUILT, None)}


def test_a_run_cut_off_mid_build_lists_what_finished_and_what_did_not() -> None:
    # Killed while flit_core (a build tool of jinja2) was being built.
    lines = log("bootstrap-built.log").splitlines()
    cut = next(i for i, line in enumerate(lines) if "flit_core: building cpu wheel" in line)
    assert actions("\n".join(lines[:cut])) == {
        "flit-core==3.12.0": "unfinished",
        "jinja2==3.1.6": "unfinished",
        "markupsafe==3.0.4": "built",
        "setuptools==84.2.1": "built",
    }


def test_a_failed_patch_leaves_its_package_unfinished() -> None:
    summary = summarize("cpu", None, [read_log(log("patch-hunk-failed.log"))])
    assert [(e.project, e.action, e.seconds) for e in summary.entries] == [
        ("idna", Action.UNFINISHED, None)
    ]
    assert summary.describe() == "0 built, 0 reused, 0 fetched from the index, 1 unfinished"


def test_a_pre_built_wheel_is_not_counted_as_built() -> None:
    text = "\n".join(
        [
            "00:00:01 INFO six: new install dependency six resolves to 1.17.0",
            "00:00:01 INFO six: install requirement six uses a pre-built wheel",
            "00:00:01 INFO six: downloading pre-built wheel https://files/six-1.17.0.whl",
            "00:00:01 INFO six: adding ('six', '1.17.0') to build order",
        ]
    )
    assert actions(text) == {"six==1.17.0": "prebuilt"}


def test_rerun_after_a_constraints_conflict_keeps_what_the_first_attempt_built() -> None:
    # The first attempt built everything, then failed writing constraints.txt (so
    # Fromager printed no timings); the rerun with --skip-constraints reused it all.
    lines = log("bootstrap-built.log").splitlines()
    first = "\n".join(line for line in lines if " INFO Bootstrapping " not in line)
    attempts = [read_log(first), read_log(log("bootstrap-reused.log"))]
    summary = summarize("cpu", order(*DEMO), attempts)
    assert {(e.action, e.seconds) for e in summary.entries} == {(Action.BUILT, None)}
    # Negative control: the rerun's log alone would claim every wheel was reused.
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
    log_path.write_text(log("bootstrap-built.log"))
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
    log_path.write_text(log("patch-hunk-failed.log"))
    summary = RunRecorder(layout, log_path).write(reported.append)
    assert [(e.project, e.action) for e in summary.entries] == [("idna", Action.UNFINISHED)]
