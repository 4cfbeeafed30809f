"""The parallel part of ``srcstacks wheels`` (``--jobs`` above 1, or ``--executor``).

1. Resolve: ``fromager bootstrap --sdist-only`` resolves the whole graph, downloads every
   sdist, and builds (or fetches from the index) only the build tools; its log is the run
   log folder's ``fromager-resolve.log`` (``fromager-resolve-3.12.log`` for each Python of
   a stack building for several).
2. Plan (:mod:`srcstacks.build.plan`): every package of its ``graph.json`` with no usable
   wheel yet, with the planned builds it needs.
3. Execute (:mod:`srcstacks.build.executors`): each build starts as soon as its needs are built.
4. The caller then runs the usual ``fromager bootstrap`` once more: every wheel is there,
   so it only resolves and records (build order, graph, the log the run summary reads).
   When nothing was planned, the resolve step found every wheel and wrote the same
   records: the caller skips it.

Reads the stack, its settings and Fromager's repos; writes what Fromager and the
executor write (:mod:`srcstacks.build.executors.local`) and the run log folder's logs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from srcstacks.build.executors.base import (
    BuildContext,
    BuildEvent,
    BuildOutcome,
    Executor,
    Key,
    PackageBuild,
    Status,
)
from srcstacks.build.plan import Graph, plan_builds, read_graph, wheel_checker
from srcstacks.build.progress import BuildProgress
from srcstacks.build.run_summary import Action, RunFacts, RunRecorder
from srcstacks.errors import BuildError, ConstraintsConflictError
from srcstacks.reporting import Report

# bootstrap(log path, skip_constraints, sdist_only)
Bootstrap = Callable[[Path, bool, bool], None]


def on_terminal() -> bool:
    """Whether progress goes to a terminal (a live display) or to a file or pipe (lines)."""
    return sys.stderr.isatty()


def resolve_log_name(bootstrap_log: Path) -> str:
    """``fromager-resolve.log`` beside ``fromager-bootstrap.log``; in a stack building for
    several Pythons, ``fromager-resolve-3.12.log`` beside ``fromager-bootstrap-3.12.log``,
    so each group's resolve log is kept in the run's log folder."""
    return bootstrap_log.name.replace("fromager-bootstrap", "fromager-resolve", 1)


def build_in_parallel(
    context: BuildContext,
    executor: Executor,
    bootstrap: Bootstrap,
    recorder: RunRecorder,
    progress: BuildProgress,
    report: Report,
    skip_constraints: bool,
) -> tuple[bool, bool]:
    """Resolve, plan and build; ``(skip_constraints, whether the final bootstrap is needed)``.

    The first failed build is raised as a one-line :class:`BuildError` naming the
    package and its log, after every running build has finished.
    """
    resolve_log = context.run_log_dir / resolve_log_name(recorder.log_path)
    skip_constraints = retrying_conflicts(
        lambda skip: bootstrap(resolve_log, skip, True),
        skip_constraints,
        lambda: recorder.keep_attempt(log=resolve_log, sdist_only=True),
        report,
    )
    recorder.keep_attempt(log=resolve_log, sdist_only=True)
    graph = read_graph(context.dirs.graph)
    changelogs = {project: item.changelog for project, item in context.settings.items()}
    builds = plan_builds(graph, wheel_checker(context.dirs.built_wheels, changelogs))
    _report_ready(graph, builds, recorder.earlier[-1], progress)
    progress.planned(len(builds))
    if not builds:
        recorder.log_path = resolve_log  # the resolve step's records are the run's
        return skip_constraints, False
    seen = _Seen(progress.event, executor.name)
    try:
        executor.run(builds, context, seen.event)
    finally:
        progress.builds_ended()
        recorder.add_outcomes(seen.outcomes.values(), [build.key for build in builds])
    failed = [o for o in seen.outcomes.values() if o.status == Status.FAILED]
    if failed:
        first = min(failed, key=lambda outcome: outcome.ended)
        raise BuildError(first.message, str(first.log) if first.log else None)
    return skip_constraints, True


def retrying_conflicts(
    run: Callable[[bool], None], skip: bool, before_retry: Callable[[], None], report: Report
) -> bool:
    """``run(skip)``, again with ``--skip-constraints`` if the graph needs two versions."""
    try:
        run(skip)
        return skip
    except ConstraintsConflictError:
        if skip:
            raise
    # The build graph needs two versions of a transitive dependency: every wheel is
    # built already, so the rerun only skips writing the constraints file.
    report("the built graph needs two versions of one project; rerunning with --skip-constraints")
    before_retry()
    run(True)
    return True


def _report_ready(
    graph: Graph, builds: list[PackageBuild], resolved: RunFacts, progress: BuildProgress
) -> None:
    """A line for each wheel the parallel builds do not need to build, and how it came."""
    planned = {build.key for build in builds}
    for node in sorted(graph.values(), key=lambda node: node.key):
        if node.key in planned:
            continue
        action = resolved.finished.get(node.key, Action.REUSED)
        progress.ready(node.key, action.value, resolved.seconds.get(node.key))


class _Seen:
    """Every build the executor started and how each ended, kept also when Ctrl-C cuts in."""

    def __init__(self, forward: Callable[[BuildEvent], None], worker: str) -> None:
        self.forward = forward
        self.worker = worker
        self.outcomes: dict[Key, BuildOutcome] = {}

    def event(self, event: BuildEvent) -> None:
        if event.kind == "started":
            # Until it finishes, a started build counts as not finished.
            self.outcomes[event.build.key] = BuildOutcome(
                event.build, Status.FAILED, 0.0, event.worker, message="did not finish"
            )
        elif event.outcome is not None:
            self.outcomes[event.build.key] = event.outcome
        self.forward(event)
