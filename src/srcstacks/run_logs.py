"""One folder of logs per ``wheels`` run, so a rerun never overwrites the last run's.

Reads the Fromager log of the run that just ended (``<variant>/logs/fromager-bootstrap.log``,
always the latest run's) and the per-package logs Fromager wrote during it
(``fromager/work-dir/<dist>-<version>/build.log`` and, for build-parallel,
``fromager/work-dir/logs/<dist>-<version>.log``); copies them into
``<variant>/logs/runs/<UTC start time>/`` and deletes the oldest run folders beyond
:data:`KEPT_RUNS` (through :mod:`srcstacks.layout`, inside the work dir only).
"""

from __future__ import annotations

import time
from pathlib import Path

from srcstacks.fsutil import atomic_copy
from srcstacks.layout import Layout, remove_tree

KEPT_RUNS = 20


def runs_dir(layout: Layout) -> Path:
    """Where each run's folder of logs goes."""
    return layout.variant_dir / "logs" / "runs"


def keep_run_logs(layout: Layout, main_log: Path, started: float) -> Path:
    """Copy this run's logs (written since ``started``) into a folder of their own."""
    folder = _new_run_folder(runs_dir(layout), started)
    if main_log.is_file():
        atomic_copy(main_log, folder / main_log.name)
    work_dir = layout.fromager.work_dir
    for build_log in sorted(work_dir.glob("*/build.log")):
        if build_log.stat().st_mtime >= started:
            atomic_copy(build_log, folder / "packages" / f"{build_log.parent.name}.build.log")
    for package_log in sorted((work_dir / "logs").glob("*.log")):
        if package_log.stat().st_mtime >= started:
            atomic_copy(package_log, folder / "packages" / package_log.name)
    _prune(folder.parent)
    return folder


def _new_run_folder(parent: Path, started: float) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        folder = parent / (stamp if attempt == 0 else f"{stamp}-{attempt}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise FileExistsError(f"{parent}: too many runs started at {stamp}")


def _prune(parent: Path) -> None:
    runs = sorted(path for path in parent.iterdir() if path.is_dir())
    for old in runs[: max(0, len(runs) - KEPT_RUNS)]:
        remove_tree(old)
