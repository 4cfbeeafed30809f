"""One folder of logs per ``wheels`` run: nothing of an earlier run is overwritten."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from srcstacks.build import run_logs
from srcstacks.layout import Layout
from srcstacks.layout.ownership import claim_dir
from srcstacks.spec.config import load_config
from tests.conftest import copy_demo_stack


def test_each_run_keeps_its_own_logs_and_only_the_newest_runs_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(copy_demo_stack(tmp_path))
    claim_dir(config.work_dir, "work dir")
    layout = Layout.of(config)
    work = layout.fromager.work_dir
    old_build = work / "six-1.17.0" / "build.log"
    new_build = work / "markupsafe-3.0.4" / "build.log"
    for path in (old_build, new_build):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"log of {path.parent.name}\n")
    started = time.time() - 5
    os.utime(old_build, (started - 100, started - 100))  # an earlier run's build
    main_log = layout.log("fromager-bootstrap")
    main_log.parent.mkdir(parents=True)
    main_log.write_text("first run\n")

    first = run_logs.new_run_folder(layout, started)
    assert first.parent == layout.variant_dir / "logs" / "runs"
    (first / "fromager-resolve.log").write_text("written during the run\n")
    run_logs.keep_run_logs(layout, main_log, started, first)
    assert sorted(p.relative_to(first).as_posix() for p in first.rglob("*.log")) == [
        "fromager-bootstrap.log",
        "fromager-resolve.log",
        "packages/markupsafe-3.0.4.build.log",
    ]
    main_log.write_text("second run\n")
    second = run_logs.new_run_folder(layout, started)  # same second: a new folder
    run_logs.keep_run_logs(layout, main_log, started, second)
    assert second != first
    assert (first / "fromager-bootstrap.log").read_text() == "first run\n"
    assert (second / "fromager-bootstrap.log").read_text() == "second run\n"

    # A main log older than the run is an earlier run's: never copied as this one's.
    os.utime(main_log, (started - 100, started - 100))
    quiet = run_logs.new_run_folder(layout, started)
    run_logs.keep_run_logs(layout, main_log, started, quiet)
    assert not (quiet / "fromager-bootstrap.log").exists()

    monkeypatch.setattr(run_logs, "KEPT_RUNS", 2)
    third = run_logs.new_run_folder(layout, started + 60)
    assert sorted(p.name for p in third.parent.iterdir()) == [quiet.name, third.name]
