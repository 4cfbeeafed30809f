"""Stage 1 for one Python: build the wheels of the layers on one ``X.Y`` with its toolchain.

Reads that group's requirements and the stack's settings; runs ``fromager bootstrap`` (and,
with ``--jobs`` above 1 or ``--executor``, the parallel builds) on the group's toolchain
in the group's Fromager folders (:class:`~srcstacks.runtime.interpreters.BuildGroup`);
writes Fromager's repos there, the group's requirements file and log, the wheels' build
inputs and ``run-summary.json`` (every group's so far). :mod:`srcstacks.build.stage`
runs one group per Python the stack has wheels for.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.utils import parse_wheel_filename

from srcstacks.build.cache_check import check_fetched_wheels, discard_unchecked_fetches
from srcstacks.build.executors.base import BuildContext, Executor
from srcstacks.build.inputs import (
    built_wheels,
    discard_built_wheel,
    discard_stale_wheels,
    record_inputs,
)
from srcstacks.build.parallel import build_in_parallel, on_terminal, retrying_conflicts
from srcstacks.build.progress import BuildProgress, TimedWheel, slowest_table
from srcstacks.build.run_logs import keep_run_logs
from srcstacks.build.run_summary import RunRecorder, RunSummary
from srcstacks.fsutil import atomic_copy, atomic_write_text, sha256_file
from srcstacks.index.client import PYPI_SIMPLE
from srcstacks.index.private import IndexLocation
from srcstacks.index.target import IndexTarget
from srcstacks.layout import Layout
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.reporting import Report
from srcstacks.runtime.interpreters import BuildGroup
from srcstacks.spec.config import StackConfig
from srcstacks.spec.platforms import build_platform, platform_tags, wheel_fits
from srcstacks.spec.settings import Settings
from srcstacks.tools import fromager
from srcstacks.tools.cargo import cargo_config
from srcstacks.tools.toolchain import Toolchain
from srcstacks.tools.upload_filter import CutoffRequest


@dataclass(frozen=True)
class GroupBuild:
    """One group's build: what it builds, with what, and (once done) how it ended."""

    group: BuildGroup
    toolchain: Toolchain
    requirements: list[str]
    skip_constraints: bool
    log_path: Path  # Fromager's bootstrap log (its events file beside it)
    requirements_file: Path
    summary: RunSummary | None = None


def seed_pure_wheels(earlier: Sequence[FromagerDirs], dirs: FromagerDirs) -> None:
    """Copy the pure-Python wheels earlier groups built into ``dirs``' wheels repo.

    Fromager takes a wheel of the right name, version and build tag from its repo
    instead of building it: a ``py3-none-any`` wheel serves every Python, so it is built
    once (by the first group) and the same bytes are published, whoever needs it.
    """
    for source in earlier:
        if not source.built_wheels.is_dir():
            continue
        for wheel in sorted(source.built_wheels.glob("*.whl")):
            target = dirs.built_wheel(wheel.name)
            if not _pure(wheel.name) or (target.exists() and _same(wheel, target)):
                continue
            dirs.built_wheels.mkdir(parents=True, exist_ok=True)
            atomic_copy(wheel, target)  # the first group's bytes, even over an older copy


def discard_foreign_wheels(dirs: FromagerDirs, python: str, report: Report) -> list[str]:
    """Remove from ``dirs``' wheels repo every wheel Python ``python`` cannot install.

    Fromager takes a wheel of the right name, version and build tag from its repo
    whatever its tags, so a wheel for another Python left there (copied by hand, or by a
    srcstacks that built every Python in one repo) would be reused and published for
    this one: it is removed, and built again for ``python``.
    """
    accepted = platform_tags(build_platform(), python)
    removed = []
    for filename, (_, version) in built_wheels(dirs).items():
        if not wheel_fits(filename, accepted):
            report(f"  {filename}: not a wheel for Python {python}; removing it")
            discard_built_wheel(dirs, filename, version)
            removed.append(filename)
    return removed


def _same(first: Path, second: Path) -> bool:
    return first.stat().st_size == second.stat().st_size and sha256_file(first) == sha256_file(
        second
    )


def _pure(filename: str) -> bool:
    try:
        tags = parse_wheel_filename(filename)[3]
    except ValueError:
        return False
    return all(tag.abi == "none" and tag.platform == "any" for tag in tags)


def build_group(
    config: StackConfig,
    build: GroupBuild,
    settings: Settings,
    executor: Executor | None,
    jobs: int,
    target: IndexTarget | None,
    pins: Path | None,
    run_log_dir: Path,
    report: Report,
    earlier: Sequence[GroupBuild] = (),
) -> GroupBuild:
    """Build one group's wheels; the group with its summary and final constraints flag."""
    dirs = build.group.dirs
    dirs.root.mkdir(parents=True, exist_ok=True)
    source = config.cargo  # the spec's crates mirror, or crates.io itself
    fromager.write_cargo_config(
        dirs.cargo_home, cargo_config(source.registry, source.directory) if source else ""
    )
    layout = Layout.of(config)
    atomic_write_text(build.requirements_file, "".join(f"{req}\n" for req in build.requirements))
    log_path = build.log_path
    every_dirs = [*(item.group.dirs for item in earlier), dirs]
    discard_foreign_wheels(dirs, build.group.python, report)
    discard_stale_wheels(config, dirs, report, settings)
    cache = target.location if target else None
    progress = BuildProgress(report, jobs, live=executor is not None and on_terminal())
    bootstrap = functools.partial(
        _bootstrap,
        config,
        dirs,
        build.requirements_file,
        progress,
        pins,
        build.toolchain,
        settings,
    )
    recorder = RunRecorder(layout, log_path, dirs)
    skip_constraints = build.skip_constraints
    checked = False
    summary: RunSummary | None = None
    try:
        complete = True
        if executor is not None:
            context = BuildContext(
                config, layout, dirs, settings, run_log_dir, cache, pins, build.toolchain
            )
            skip_constraints, complete = build_in_parallel(
                context,
                executor,
                lambda log, skip, sdist_only: bootstrap(log, skip, cache, sdist_only),
                recorder,
                progress,
                report,
                skip_constraints,
            )
        if complete:
            if executor is not None:
                report("recording the build with fromager bootstrap (every wheel is there)")
            skip_constraints = retrying_conflicts(
                lambda skip: bootstrap(log_path, skip, cache, quiet=executor is not None),
                skip_constraints,
                recorder.keep_attempt,
                report,
            )
        if cache is not None:
            fetched = recorder.fetched_so_far()
            rejected = check_fetched_wheels(config, dirs, settings, cache, fetched, report)
            checked = True
            if rejected:
                # Only the wheels just removed are missing: everything else is reused.
                report("building the wheels the index could not vouch for")
                recorder.keep_attempt(superseded=rejected)
                recorder.log_path = log_path
                bootstrap(log_path, skip_constraints, None)
    finally:
        progress.close()
        if cache is not None and not checked:
            # A failed run never leaves a fetched wheel unchecked for the next to reuse.
            discard_unchecked_fetches(config, dirs, recorder.fetched_so_far())
        # Also after a failure: the wheels that did get built keep their inputs on record.
        record_inputs(config, every_dirs, settings)
        earlier_summaries = [item.summary for item in earlier if item.summary is not None]
        summary = recorder.write(report, earlier_summaries)
        _report_slowest(summary, dirs.python, report)
        keep_run_logs(layout, log_path, recorder.started, run_log_dir, dirs)
        report(f"this run's logs: {run_log_dir}")
    return replace(build, skip_constraints=skip_constraints, log_path=recorder.log_path,
                   summary=summary)  # fmt: skip


def _bootstrap(
    config: StackConfig,
    dirs: FromagerDirs,
    requirements_file: Path,
    progress: BuildProgress,
    pins: Path | None,
    toolchain: Toolchain,
    settings: Settings,
    log_path: Path,
    skip_constraints: bool,
    cache: IndexLocation | None,
    sdist_only: bool = False,
    *,
    quiet: bool = False,
) -> None:
    fromager.bootstrap(
        dirs,
        requirements_file,
        settings_dir=config.settings_dir,
        patches_dir=config.patches_dir,
        variant=config.variant,
        skip_constraints=skip_constraints,
        log_path=log_path,
        constraints_file=pins,
        cache_wheel_server_url=cache.simple_url if cache else None,
        on_progress=None if quiet else progress.resolved,
        sdist_only=sdist_only,
        toolchain=toolchain,
        on_activity=progress.activity,
        upload_cutoff=cutoff_request(config, settings),
    )


def cutoff_request(config: StackConfig, settings: Settings) -> CutoffRequest | None:
    """The spec's upload-time cutoff, for PyPI and the sdist servers the settings name."""
    if not config.upload_cutoff:
        return None
    indexes = {PYPI_SIMPLE, *(item.sdist_index for item in settings.values() if item.sdist_index)}
    return CutoffRequest(config.upload_cutoff, tuple(sorted(url.rstrip("/") for url in indexes)))


def _report_slowest(summary: RunSummary, python: str, report: Report) -> None:
    """The slowest builds of this Python's group (``python`` empty: the only group)."""
    timed = [
        TimedWheel(entry.project, entry.version, entry.action.value, entry.seconds)
        for entry in summary.entries
        if entry.seconds is not None and (not python or entry.python == python)
    ]
    for line in slowest_table(timed):
        report(line)
