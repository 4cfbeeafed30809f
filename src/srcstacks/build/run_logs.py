"""One folder of logs per ``wheels`` run, so a rerun never overwrites the last run's.

Creates ``<variant>/logs/runs/<UTC start time>/`` when a run starts (a parallel run's
resolve step and each of its package builds write their logs straight into it) and
deletes the oldest run folders beyond :data:`KEPT_RUNS` (through :mod:`srcstacks.layout`,
inside the work dir only). When the run ends, copies in the Fromager log of the run
(``<variant>/logs/fromager-bootstrap.log``, always the latest run's) and the
per-package build logs Fromager wrote during it (``fromager/work-dir/<dist>-<version>/build.log``).
"""

from __future__ import annotations

import time
from pathlib import Path

from srcstacks.fsutil import atomic_copy
from srcstacks.layout import Layout
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.layout.ownership import remove_tree
from srcstacks.tools import fromager_files

KEPT_RUNS = 20


def runs_dir(layout: Layout) -> Path:
    """Where each run's folder of logs goes."""
    return layout.run_logs


def new_run_folder(layout: Layout, started: float) -> Path:
    """A new, empty folder for the logs of the run that started at ``started``."""
    parent = runs_dir(layout)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        folder = parent / (stamp if attempt == 0 else f"{stamp}-{attempt}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        _prune(parent)
        return folder
    raise FileExistsError(f"{parent}: too many runs started at {stamp}")


def keep_run_logs(
    layout: Layout,
    main_log: Path,
    started: float,
    folder: Path,
    dirs: FromagerDirs | None = None,
) -> Path:
    """Copy this run's Fromager log, its events and build logs (written since ``started``)
    into ``folder``."""
    for kept_log in (main_log, fromager_files.events_path(main_log)):
        if kept_log.is_file() and kept_log.stat().st_mtime >= started:
            atomic_copy(kept_log, folder / kept_log.name)
    dirs = dirs or layout.fromager
    # A stack building for several Pythons builds one project once for each.
    suffix = f"-py{dirs.python}" if dirs.python else ""
    for build_log in sorted(dirs.work_dir.glob("*/build.log")):
        kept = folder / "packages" / f"{build_log.parent.name}{suffix}.build.log"
        # A parallel build's own build log, copied there already, is the one to keep.
        if build_log.stat().st_mtime >= started and not kept.exists():
            atomic_copy(build_log, kept)
    return folder


def _prune(parent: Path) -> None:
    runs = sorted(path for path in parent.iterdir() if path.is_dir())
    for old in runs[: max(0, len(runs) - KEPT_RUNS)]:
        remove_tree(old)
