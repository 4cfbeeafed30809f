"""Build planned packages on this machine: one ``fromager build`` process per package.

Reads the stack's settings, patches, sdists repo and wheels repo (the build tools and
every wheel built so far, served on 127.0.0.1 by :mod:`srcstacks.build.executors.loopback_index`);
writes each build's work dir and wheels repo under ``<variant>/parallel-builds/<name>-<version>/``
(emptied at the start of every parallel run: a killed run's leftovers are never used),
each build's output to ``<run log folder>/packages/<name>-<version>.log``, and each
finished wheel into ``fromager/wheels-repo/downloads`` with one rename, so that folder
never holds a half-written wheel. Build environments, compilers and their flags are
those of ``fromager bootstrap`` (same settings, variant, ``SOURCE_DATE_EPOCH``, and
build paths mapped to ``/build``): the wheels are byte for byte the serial run's.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from srcstacks.build.executors.base import (
    BuildContext,
    BuildEvent,
    BuildOutcome,
    PackageBuild,
    Status,
)
from srcstacks.build.executors.loopback_index import serving
from srcstacks.build.executors.scheduler import run_scheduled
from srcstacks.errors import ToolError
from srcstacks.fsutil import atomic_copy
from srcstacks.index.client import PYPI_SIMPLE
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.layout.ownership import claim_dir, empty_dir, move_into, remove_tree
from srcstacks.tools import fromager, fromager_errors
from srcstacks.tools.process import last_error_line, supervised, tool_env

WORKER = "local"


class LocalExecutor:
    """At most ``jobs`` ``fromager build`` processes at once, each as soon as it can start."""

    name = WORKER

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self._processes: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def run(
        self,
        builds: Sequence[PackageBuild],
        context: BuildContext,
        on_event: Callable[[BuildEvent], None],
    ) -> list[BuildOutcome]:
        if not builds:
            return []
        scratch = claim_dir(scratch_dir(context), "parallel builds folder")
        empty_dir(scratch)
        base_env = tool_env()  # here: the run's context does not reach build threads
        with serving(context.dirs) as index_url:
            start = self._starter(context, scratch, index_url, base_env)
            return run_scheduled(builds, self.jobs, start, on_event, worker=WORKER, stop=self._stop)

    def _starter(
        self, context: BuildContext, scratch: Path, index_url: str, base_env: dict[str, str]
    ) -> Callable[[PackageBuild], BuildOutcome]:
        def start(build: PackageBuild) -> BuildOutcome:
            return self._build(build, context, scratch, index_url, base_env)

        return start

    def _build(
        self,
        build: PackageBuild,
        context: BuildContext,
        scratch: Path,
        index_url: str,
        base_env: dict[str, str],
    ) -> BuildOutcome:
        began = time.time()
        folder = scratch / f"{build.project}-{build.version}"
        dirs = FromagerDirs(folder)
        own = context.dirs
        log = context.run_log_dir / "packages" / f"{build.project}-{build.version}.log"
        (folder / "wheels-repo").mkdir(parents=True)
        (folder / "work-dir").mkdir()
        command = [
            *fromager.global_options(
                own,
                context.config.settings_dir,
                context.config.patches_dir,
                context.config.variant,
                context.constraints_file,
                context.toolchain,
            ),
            "build",
            "--wheel-server-url",
            index_url,
            build.project,
            build.version,
            self._sdist_server(build, context, index_url),
        ]
        # Own wheels repo and work dir; the stack's sdists repo (sources already there).
        command[command.index("--wheels-repo") + 1] = str(dirs.wheels_repo)
        command[command.index("--work-dir") + 1] = str(dirs.work_dir)
        env = fromager.build_env(
            dirs, base_env, toolchain=context.toolchain, cargo_home=own.cargo_home
        )

        def outcome(status: Status, wheel: str | None = None, message: str = "") -> BuildOutcome:
            ended = time.time()
            return BuildOutcome(
                build, status, ended - began, WORKER, wheel, log, message, began, ended
            )

        code, lines = self._run(command, folder, env, log)
        if self._stopping.is_set():
            return outcome(Status.FAILED, message="stopped")
        build_log = _keep_build_log(dirs, context.run_log_dir)
        if code != 0:
            # The build backend's own output names the cause best (a compile error).
            log = build_log or log
            return outcome(Status.FAILED, message=_failure(build, lines, code, log))
        wheels = sorted(dirs.built_wheels.glob("*.whl"))
        if len(wheels) != 1:
            return outcome(
                Status.FAILED,
                message=f"fromager build left {len(wheels)} wheels for {build.project}"
                f" {build.version} in {dirs.built_wheels}: {last_error_line(lines)}",
            )
        move_into(wheels[0], context.dirs.built_wheel(wheels[0].name))
        remove_tree(folder)
        return outcome(Status.BUILT, wheel=wheels[0].name)

    @staticmethod
    def _sdist_server(build: PackageBuild, context: BuildContext, index_url: str) -> str:
        """Where ``fromager build`` resolves the sdist: here when the resolve step has it."""
        if build.source_url and context.dirs.downloaded_sdist(build.source_url).is_file():
            return index_url
        return PYPI_SIMPLE

    def _run(
        self, command: list[str], cwd: Path, env: dict[str, str], log: Path
    ) -> tuple[int, list[str]]:
        """Run one build, its output into ``log``; its exit code and output lines."""
        log.parent.mkdir(parents=True, exist_ok=True)
        lines: list[str] = []
        with log.open("w", encoding="utf-8") as out:
            out.write("$ " + " ".join(command) + "\n")
            out.flush()
            process = subprocess.Popen(
                supervised(command),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                # No preexec_fn (unsafe with threads): the reaper sets its own death
                # signal and checks that srcstacks is still its parent.
            )
            with self._lock:
                self._processes.add(process)
            try:
                assert process.stdout is not None
                for line in process.stdout:
                    out.write(line)
                    out.flush()
                    lines.append(line)
                process.wait()
            finally:
                with self._lock:
                    self._processes.discard(process)
        return process.returncode, lines

    def _stop(self) -> None:
        """Ctrl-C: stop every running build (each reaper kills its whole tree)."""
        self._stopping.set()
        with self._lock:
            for process in self._processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)


def _keep_build_log(dirs: FromagerDirs, run_log_dir: Path) -> Path | None:
    """Copy Fromager's ``<dist>-<version>/build.log`` into the run's log folder, as the
    serial path's run folders hold it (``packages/<dist>-<version>.build.log``)."""
    found = sorted(dirs.work_dir.glob("*/build.log"))
    if not found:
        return None
    kept = run_log_dir / "packages" / f"{found[0].parent.name}.build.log"
    atomic_copy(found[0], kept)
    return kept


def _failure(build: PackageBuild, lines: list[str], code: int, log: Path) -> str:
    """One line saying why a build failed (a patch that does not apply, a compile...)."""
    errors = fromager_errors.ErrorLines()
    for line in lines:
        errors.feed(line)
    reason = last_error_line(lines) or f"exit code {code}"
    error = fromager_errors.explain_failure(
        "".join(lines), errors.found, str(log), ToolError(f"fromager build failed: {reason}")
    )
    text = error.reason if isinstance(error, ToolError) else str(error)
    if build.project not in text.lower().replace("_", "-"):
        text = f"building {build.project} {build.version} from source failed: {text}"
    return text


def scratch_dir(context: BuildContext) -> Path:
    """Where the local executor's builds work (``<variant>/parallel-builds``)."""
    return context.layout.parallel_builds
