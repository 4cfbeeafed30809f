"""``--executor dask://HOST:PORT``: each package build runs as a task on a Dask cluster.

The coordinator (this process) checks the stack has a private index, connects to the
scheduler, puts the builds' sdists and the build tools on the index
(:mod:`index_staging`), then submits one task per build (:mod:`dask_task`) as soon as
the builds it needs are built. Workers publish what they build to the index; the
coordinator keeps each build's Fromager output in the run's log folder. A failure stops
new submissions and lets running builds finish; Ctrl-C cancels the run (workers check
the cancel flag before uploading). A task whose worker dies is run again on another
worker by the scheduler (``distributed.scheduler.allowed-failures``); a task that
raises unexpectedly is retried once (``retries``).

Dask is imported only here and in the task, never at CLI start-up.
"""

from __future__ import annotations

import contextlib
import os
import queue
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from srcstacks.build.executors.base import (
    BuildContext,
    BuildEvent,
    BuildOutcome,
    PackageBuild,
    Status,
)
from srcstacks.build.executors.dask_payload import Interpreter, make_payload, tool_versions
from srcstacks.build.executors.dask_task import BuildTask, TaskResult, build_on_worker
from srcstacks.build.executors.index_staging import stage_on_index
from srcstacks.errors import ConfigError, ExecutorError
from srcstacks.index.target import index_target
from srcstacks.layout.ownership import inside
from srcstacks.tools.fromager import DEFAULT_SOURCE_DATE_EPOCH
from srcstacks.tools.toolchain import Toolchain

if TYPE_CHECKING:
    import distributed

OnEvent = Callable[[BuildEvent], None]
Key = tuple[str, str]
WaitFirst = Callable[[list[Any], float], set[Any]]

# How often the coordinator wakes up to pass on "started" events while builds run.
_POLL_SECONDS = 0.5


def scheduler_address(executor: str) -> str:
    """``tcp://HOST:PORT`` for ``dask://HOST:PORT`` (``tcp://`` and a bare ``HOST:PORT`` too)."""
    rest = executor.removeprefix("dask://").removeprefix("tcp://")
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit() or "/" in rest:
        raise ConfigError(
            f"--executor {executor!r}: expected dask://HOST:PORT (the Dask scheduler's address)"
        )
    return f"tcp://{rest}"


class DaskExecutor:
    """Runs builds on the Dask cluster whose scheduler listens at ``address``."""

    name = "dask"

    def __init__(self, address: str, *, connect_timeout: float = 10.0, retries: int = 1) -> None:
        self.address = scheduler_address(address)
        self.connect_timeout = connect_timeout
        self.retries = retries

    def run(
        self, builds: Sequence[PackageBuild], context: BuildContext, on_event: OnEvent
    ) -> list[BuildOutcome]:
        """Build every one of ``builds`` on the cluster; one outcome per build, in order."""
        if not builds:
            return []
        target = index_target(context.config)
        if context.index is None or target is None:
            raise ConfigError(
                f"--executor dask://{self.address.removeprefix('tcp://')}: builds on a Dask"
                " cluster need a private index, the only thing the workers share with this"
                " machine; set --index URL or [tool.srcstacks.index]"
            )
        client = self._connect()
        try:
            self._check_workers(client)
            staged = stage_on_index(context, target, builds)
            # The payload and this Python's tags once: every task carries the same.
            # verify --rebuild's pins when it gives some, else the versions resolved here.
            pins = context.constraints_file
            constraints = pins.read_text(encoding="utf-8") if pins else staged.constraints
            first = self._task(builds[0], context, "", constraints, uuid.uuid4().hex)
            tasks = {
                build.key: replace(first, build=build, sdist_sha256=staged.sdist_sha256[build.key])
                for build in builds
            }
            return _Run(client, tasks, on_event, context, self.retries).run(builds)
        finally:
            client.close()

    def _connect(self) -> distributed.Client:
        import distributed

        try:
            return distributed.Client(
                self.address, timeout=self.connect_timeout, set_as_default=False
            )
        except (OSError, TimeoutError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise ExecutorError(
                f"{self.address}: cannot reach the Dask scheduler ({_shorten(reason)});"
                " start it ('dask scheduler') or check --executor"
            ) from None

    def _check_workers(self, client: distributed.Client) -> None:
        """Builds sent to a cluster without workers would wait forever: say so instead."""
        if not client.scheduler_info().get("workers"):
            raise ExecutorError(
                f"{self.address}: the Dask scheduler has no workers; start some"
                f" ('dask worker {self.address}', see docs/private-index.md)"
            )

    def _task(
        self,
        build: PackageBuild,
        context: BuildContext,
        sdist_sha256: str,
        constraints: str,
        run_id: str,
    ) -> BuildTask:
        config, toolchain = context.config, context.toolchain
        assert context.index is not None
        return BuildTask(
            build=build,
            index=context.index,
            variant=config.variant,
            payload=make_payload(config.settings_dir, config.patches_dir),
            patches_prefix=_relative_posix(config.patches_dir, config.spec_dir),
            sdist_sha256=sdist_sha256,
            constraints=constraints,
            source_date_epoch=os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_SOURCE_DATE_EPOCH),
            target=target_of(toolchain),
            versions=tool_versions(
                context.toolchain.fromager_version if context.toolchain else None
            ),
            run_id=run_id,
            cargo_registry=config.cargo.registry if config.cargo else "",
        )


def target_of(toolchain: Toolchain | None) -> Interpreter:
    """The Python the builds are for: the group's toolchain's (srcstacks' own by default).

    A worker builds only for the Python it runs, and refuses the others
    (:func:`~srcstacks.build.executors.dask_payload.interpreter_mismatch`): the workers of a
    group for another Python than srcstacks' run that Python.
    """
    if toolchain is None or toolchain.own:
        return Interpreter.here()
    return Interpreter.of(toolchain.python)


@dataclass
class _Run:
    """One run's submissions: each build as soon as what it needs is built."""

    client: distributed.Client
    tasks: dict[Key, BuildTask]
    on_event: OnEvent
    context: BuildContext
    retries: int

    wait_first: WaitFirst = field(default_factory=lambda: _wait_first)

    def run(self, builds: Sequence[PackageBuild]) -> list[BuildOutcome]:
        first = next(iter(self.tasks.values()))
        events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.client.subscribe_topic(first.events_topic, lambda event: events.put(event[1]))
        waiting = {build.key: build for build in builds}
        running: dict[distributed.Future[TaskResult], PackageBuild] = {}
        outcomes: dict[Key, BuildOutcome] = {}
        try:
            self._submit_ready(waiting, running, outcomes)
            while running:
                done = self.wait_first(list(running), _POLL_SECONDS)
                self._pass_on(events)
                for future in done:
                    build = running.pop(future)
                    outcome = self._outcome(future, build)
                    outcomes[build.key] = outcome
                    self.on_event(BuildEvent("finished", build, outcome.worker, outcome))
                if all(item.status == Status.BUILT for item in outcomes.values()):
                    self._submit_ready(waiting, running, outcomes)
        except KeyboardInterrupt:
            self._cancel(first, list(running))
            raise
        finally:
            self.client.unsubscribe_topic(first.events_topic)
        self._pass_on(events)
        for build in waiting.values():
            outcomes[build.key] = BuildOutcome(
                build, Status.NOT_STARTED, 0.0, "", message=_not_started(build, outcomes)
            )
        return [outcomes[build.key] for build in builds]

    def _submit_ready(
        self,
        waiting: dict[Key, PackageBuild],
        running: dict[distributed.Future[TaskResult], PackageBuild],
        outcomes: dict[Key, BuildOutcome],
    ) -> None:
        for key, build in list(waiting.items()):
            if not is_ready(build, outcomes, set(self.tasks)):
                continue
            del waiting[key]
            future = self.client.submit(
                build_on_worker,
                self.tasks[key],
                key=f"srcstacks-build-{build.project}-{build.version}-{uuid.uuid4().hex[:8]}",
                pure=False,
                retries=self.retries,
            )
            running[future] = build

    def _outcome(self, future: distributed.Future[TaskResult], build: PackageBuild) -> BuildOutcome:
        started = time.monotonic()
        try:
            result: TaskResult = future.result()
        except Exception as exc:  # the task raised, or its workers kept dying (KilledWorker)
            reason = _shorten(" ".join(f"{type(exc).__name__}: {exc}".split()))
            return BuildOutcome(
                build,
                Status.FAILED,
                time.monotonic() - started,
                "",
                message=f"building {build.project} {build.version} on the Dask cluster failed:"
                f" {reason}",
            )
        outcome = result.outcome
        if result.log_text:
            log = inside(
                self.context.run_log_dir, f"{build.project}-{build.version}.log", "build log"
            )
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(result.log_text, encoding="utf-8")
            outcome = replace(outcome, log=log)
        return outcome

    def _pass_on(self, events: queue.Queue[dict[str, Any]]) -> None:
        """Report each build a worker started, from this thread (the caller's)."""
        builds = {task.build.key: task.build for task in self.tasks.values()}
        while True:
            try:
                message = events.get_nowait()
            except queue.Empty:
                return
            key = tuple(message.get("key", ()))
            build = builds.get((str(key[0]), str(key[1]))) if len(key) == 2 else None
            if message.get("kind") == "started" and build is not None:
                self.on_event(BuildEvent("started", build, str(message.get("worker_name", ""))))

    def _cancel(self, task: BuildTask, running: list[distributed.Future[TaskResult]]) -> None:
        """Ctrl-C: tell running builds to stop and upload nothing, and drop their tasks.

        Each step on its own: the interrupt matters more than a cleanup that failed.
        """
        import distributed

        with contextlib.suppress(Exception):
            distributed.Event(task.cancel_flag, client=self.client).set()
        with contextlib.suppress(Exception):
            self.client.cancel(running, force=True)


def _wait_first(futures: list[Any], timeout: float) -> set[Any]:
    """The futures of ``futures`` done within ``timeout`` seconds (maybe none).

    Polls ``done()``: ``distributed.wait`` would need a default client, and this run's
    client is deliberately not one (a library must not change the caller's default).
    """
    deadline = time.monotonic() + timeout
    while True:
        done = {future for future in futures if future.done()}
        if done or time.monotonic() >= deadline:
            return done
        time.sleep(0.05)


def is_ready(build: PackageBuild, outcomes: dict[Key, BuildOutcome], planned: set[Key]) -> bool:
    """Whether every planned build ``build`` needs is built (needs outside the plan are)."""
    for need in build.needs:
        if need not in planned:
            continue
        outcome = outcomes.get(need)
        if outcome is None or outcome.status != Status.BUILT:
            return False
    return True


def _not_started(build: PackageBuild, outcomes: dict[Key, BuildOutcome]) -> str:
    failed = [f"{p} {v}" for p, v in build.needs if (p, v) in outcomes
              and outcomes[(p, v)].status != Status.BUILT]  # fmt: skip
    if failed:
        return f"not started: it needs {', '.join(failed)}, which was not built"
    return "not started: an earlier build failed"


def _relative_posix(path: Path, base: Path) -> str:
    """``path`` as provenance names it: from the spec's folder, else absolute."""
    try:
        return Path(path).resolve().relative_to(Path(base).resolve()).as_posix()
    except ValueError:
        return Path(path).resolve().as_posix()


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
