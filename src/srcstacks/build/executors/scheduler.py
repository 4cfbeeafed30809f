"""Start each planned build as soon as the builds it needs are built, at most N at once.

Reads and writes nothing itself: it calls a ``start`` function per build (in a thread
of its own; the local executor's starts ``fromager build``) and reports each start and
finish through ``on_event``, always from the calling thread, so a progress display
needs no locking. A failed build stops new builds; the running ones finish and every
outcome is returned. Ctrl-C (:class:`KeyboardInterrupt` in the calling thread) calls
``stop``, waits for the running builds to end, and is raised again.
"""

from __future__ import annotations

import concurrent.futures
import graphlib
import time
from collections.abc import Callable, Sequence

from srcstacks.build.executors.base import BuildEvent, BuildOutcome, Key, PackageBuild, Status

Start = Callable[[PackageBuild], BuildOutcome]
# How often the calling thread wakes while builds run, so Ctrl-C is seen at once.
_POLL_SECONDS = 0.5


def run_scheduled(
    builds: Sequence[PackageBuild],
    jobs: int,
    start: Start,
    on_event: Callable[[BuildEvent], None],
    *,
    worker: str = "local",
    stop: Callable[[], None] = lambda: None,
) -> list[BuildOutcome]:
    """Run every build through ``start``; outcomes in the order of ``builds``."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {jobs}")
    outcomes: dict[Key, BuildOutcome] = {}
    running: dict[concurrent.futures.Future[BuildOutcome], PackageBuild] = {}
    order = {build.key: position for position, build in enumerate(builds)}
    # graphlib hands out each build once all it needs are done; a need that is not
    # among the builds is never done, so a build waiting for it never starts.
    sorter: graphlib.TopologicalSorter[Key] = graphlib.TopologicalSorter()
    for build in builds:
        sorter.add(build.key, *build.needs)
    sorter.prepare()  # a circle raises here: plan_builds refuses them first
    waiting: list[PackageBuild] = []
    failed = False
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="build")
    try:
        while True:
            if not failed:
                waiting.extend(builds[order[key]] for key in sorter.get_ready() if key in order)
                waiting.sort(key=lambda build: order[build.key])  # the plan's order
                while waiting and len(running) < jobs:
                    build = waiting.pop(0)
                    on_event(BuildEvent("started", build, worker))
                    running[pool.submit(_guarded, start, build, worker)] = build
            if not running:
                break
            done, _ = concurrent.futures.wait(
                running, timeout=_POLL_SECONDS, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                build = running.pop(future)
                outcome = future.result()
                outcomes[build.key] = outcome
                on_event(BuildEvent("finished", build, outcome.worker, outcome))
                if outcome.status == Status.BUILT:
                    sorter.done(build.key)
                else:
                    failed = True
    except KeyboardInterrupt:
        stop()
        concurrent.futures.wait(running)
        raise
    finally:
        pool.shutdown(wait=True)
    why = "an earlier build failed" if failed else "a build it needs was never built"
    return [
        outcomes.get(build.key) or BuildOutcome(build, Status.NOT_STARTED, 0.0, worker, message=why)
        for build in builds
    ]


def _guarded(start: Start, build: PackageBuild, worker: str) -> BuildOutcome:
    """``start(build)``; an exception it raises becomes a failed outcome, never lost."""
    began = time.time()
    try:
        return start(build)
    except Exception as exc:  # the run must go on to report every outcome
        message = " ".join(str(exc).split()) or type(exc).__name__
        return BuildOutcome(
            build, Status.FAILED, time.time() - began, worker, message=message,
            started=began, ended=time.time(),
        )  # fmt: skip
