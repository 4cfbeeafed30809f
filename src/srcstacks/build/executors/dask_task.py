"""The function a Dask worker runs for one package build, and what it is given.

:func:`build_on_worker` runs on a worker, in a folder of its own below the worker's
local directory (removed afterwards): it unpacks the stack's build settings and patches
(:mod:`dask_payload`), runs ``fromager build`` with the private index as both sdist
server and wheel server, checks the wheel is one the coordinator's Python installs,
and uploads the wheel and its provenance companion to the index. Credentials come from
the worker's own environment (``SRCSTACKS_INDEX_USER``, ``SRCSTACKS_INDEX_PASSWORD``),
never from the task. Nothing is uploaded unless the build finished and passed every
check; a build the coordinator cancelled uploads nothing.

Everything in a :class:`BuildTask` is plain and picklable; ``distributed`` is imported
only inside the function, on the worker.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from srcstacks.build.executors.base import BuildOutcome, PackageBuild, Status
from srcstacks.build.executors.dask_payload import (
    Interpreter,
    interpreter_mismatch,
    tool_versions,
    unpack_payload,
    versions_mismatch,
    wheel_tag_mismatch,
)
from srcstacks.build.inputs import inputs_of
from srcstacks.build.wheel_records import built_wheel_record
from srcstacks.errors import BuildError, ExecutorError, SrcstacksError, ToolError
from srcstacks.fsutil import sha256_file
from srcstacks.index.private import (
    PASSWORD_VARIABLE,
    USER_VARIABLE,
    IndexLocation,
    companion,
    credentials_from_environment,
    publish_companion,
    upload,
)
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.layout.ownership import claim_dir, remove_tree
from srcstacks.spec.patches import applicable_patches
from srcstacks.spec.settings import read_settings
from srcstacks.state.provenance import PatchRecord, SdistRecord
from srcstacks.tools import fromager as fromager_tool
from srcstacks.tools.cargo import cargo_config
from srcstacks.tools.fromager import portable_build_env
from srcstacks.tools.fromager_errors import explain_failure
from srcstacks.tools.process import run_logged, tool_env
from srcstacks.tools.reaper import descendants

# Workers start Fromager exactly as the local bootstrap does (srcstacks' wrapper, which
# sorts the requirements files Fromager writes into wheels), or their wheels would differ.
FROMAGER_MODULE = fromager_tool.FROMAGER_MODULE


class CancelCheck(Protocol):
    """Whether the coordinator cancelled the run (``fresh``: ask the scheduler now)."""

    def __call__(self, fresh: bool = False) -> bool: ...


# How often a running build asks the scheduler whether the coordinator cancelled it.
_CANCEL_POLL_SECONDS = 2.0


@dataclass(frozen=True)
class BuildTask:
    """One build as the coordinator sends it: plain values, no credentials."""

    build: PackageBuild
    index: IndexLocation
    variant: str
    payload: bytes  # the settings and patches folders (dask_payload.make_payload)
    patches_prefix: str  # the patches folder as provenance names it (from the spec's folder)
    sdist_sha256: str  # of the sdist the coordinator checked and put on the index
    constraints: str  # pins for the build environment: the versions the coordinator resolved
    source_date_epoch: str
    target: Interpreter  # the coordinator's Python and platform
    versions: tuple[tuple[str, str], ...]  # the coordinator's srcstacks and Fromager
    run_id: str  # names this run's event topic and cancel flag on the cluster
    # [tool.srcstacks.cargo]'s crates mirror, a URL every worker can reach ("" for
    # crates.io; a folder of crates exists only on the coordinator's machine).
    cargo_registry: str = ""

    @property
    def events_topic(self) -> str:
        return f"srcstacks-events-{self.run_id}"

    @property
    def cancel_flag(self) -> str:
        return f"srcstacks-cancel-{self.run_id}"


@dataclass(frozen=True)
class TaskResult:
    """A build's outcome, with Fromager's output for the coordinator to keep as its log."""

    outcome: BuildOutcome
    log_text: str


def build_on_worker(task: BuildTask) -> TaskResult:
    """Build ``task.build`` on this Dask worker and publish it to the index (runs remotely)."""
    import distributed

    worker = distributed.get_worker()
    name = str(worker.name)
    # "worker_name": the scheduler overwrites a "worker" key with the worker's address.
    worker.log_event(task.events_topic, {"kind": "started", "key": list(task.build.key),
                                         "worker_name": name})  # fmt: skip
    cancelled = _cancel_check(distributed.Event(task.cancel_flag))
    started, began = time.monotonic(), time.time()
    base = claim_dir(Path(worker.local_directory) / "srcstacks-builds", "Dask build folder")
    folder = base / f"{task.build.project}-{task.build.version}-{uuid.uuid4().hex[:8]}"
    log_path = folder / "fromager-build.log"
    try:
        folder.mkdir()
        wheel = build_and_publish(task, name, folder, log_path, cancelled)
        outcome = BuildOutcome(task.build, Status.BUILT, time.monotonic() - started, name,
                               wheel=wheel, started=began, ended=time.time())  # fmt: skip
    except SrcstacksError as exc:
        message = f"on Dask worker {name}: {getattr(exc, 'reason', str(exc))}"
        outcome = BuildOutcome(task.build, Status.FAILED, time.monotonic() - started, name,
                               message=message, started=began, ended=time.time())  # fmt: skip
    finally:
        log_text = _read_log(log_path)
        remove_tree(folder)
    return TaskResult(outcome, log_text)


def build_and_publish(
    task: BuildTask, worker: str, folder: Path, log_path: Path, cancelled: CancelCheck
) -> str:
    """Build in ``folder``, check, upload; the wheel's file name. Raises on any refusal."""
    build = task.build
    what = f"{build.project} {build.version}"
    problem = interpreter_mismatch(Interpreter.here(), task.target) or versions_mismatch(
        tool_versions(), task.versions
    )
    if problem:
        raise ExecutorError(
            f"refused to build {what}: {problem}; a wheel built for another ABI or by other"
            " tools is never published (give the workers the coordinator's Python, platform"
            " and srcstacks)"
        )
    credentials = credentials_from_environment()
    if credentials is None:
        raise ExecutorError(
            f"cannot publish {what}: set {USER_VARIABLE} and {PASSWORD_VARIABLE} in the"
            f" environment of worker {worker} (they are never sent with the task)"
        )
    settings_dir, patches_dir = unpack_payload(task.payload, folder / "inputs")
    dirs = FromagerDirs(folder / "fromager")
    run_fromager_build(task, dirs, settings_dir, patches_dir, log_path, cancelled)
    wheel = _built_wheel(dirs, build)
    if problem := wheel_tag_mismatch(wheel.name, task.target):
        raise ExecutorError(
            f"refused to publish {problem}; a wheel built for another ABI is never published"
        )
    sdist = _checked_sdist(dirs, task)
    patches = tuple(
        PatchRecord(
            path=f"{task.patches_prefix}/{patch.relative_to(patches_dir).as_posix()}",
            sha256=sha256_file(patch),
        )
        for patch in applicable_patches(patches_dir, build.project, build.version, task.variant)
    )
    record = built_wheel_record(wheel, build.project, build.version, task.variant, sdist, patches)
    inputs = inputs_of(
        task.variant, patches_dir, read_settings(settings_dir), build.project, build.version
    )
    if cancelled(fresh=True):
        raise ExecutorError(f"{what}: the coordinator cancelled the run; nothing uploaded")
    # The wheel first, then its provenance: a wheel without provenance is never trusted
    # (cache_check), and the same bytes again are a no-op, so a retry completes the pair.
    upload(task.index, credentials, wheel.name, wheel.read_bytes(),
           project=build.project, version=build.version)  # fmt: skip
    publish_companion(task.index, credentials, companion(record, inputs, worker=worker))
    return wheel.name


def run_fromager_build(
    task: BuildTask,
    dirs: FromagerDirs,
    settings_dir: Path,
    patches_dir: Path,
    log_path: Path,
    cancelled: CancelCheck,
) -> None:
    """``fromager build NAME VERSION INDEX --wheel-server-url INDEX`` in ``dirs``."""
    constraints = dirs.root / "constraints.txt"
    dirs.root.mkdir(parents=True, exist_ok=True)
    constraints.write_text(task.constraints, encoding="utf-8")
    fromager_tool.write_cargo_config(dirs.cargo_home, cargo_config(registry=task.cargo_registry))
    command = [
        sys.executable, "-m", FROMAGER_MODULE,
        "--settings-dir", str(settings_dir),
        "--patches-dir", str(patches_dir),
        "--variant", task.variant,
        "--sdists-repo", str(dirs.sdists_repo),
        "--wheels-repo", str(dirs.wheels_repo),
        "--work-dir", str(dirs.work_dir),
        "--constraints-file", str(constraints),
        "build", task.build.project, task.build.version, task.index.simple_url,
        "--wheel-server-url", task.index.simple_url,
    ]  # fmt: skip
    env = tool_env(
        {"SOURCE_DATE_EPOCH": task.source_date_epoch, **portable_build_env(dirs.work_dir)}
    )
    env.update(fromager_tool.rust_env(dirs, env["PATH"]))
    env.update(fromager_tool.build_home_env(dirs))
    started = time.time()
    try:
        run_cancellable(command, log_path=log_path, cwd=dirs.root, env=env,
                        marker=str(dirs.work_dir), cancelled=cancelled)  # fmt: skip
    except ToolError as exc:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        raise explain_failure(text, [], str(log_path), exc, dirs, started) from None


def run_cancellable(
    command: list[str],
    *,
    log_path: Path,
    cwd: Path,
    env: dict[str, str],
    marker: str,
    cancelled: CancelCheck,
) -> None:
    """:func:`run_logged`, stopped (the tool and all it started) once ``cancelled()``.

    Asked at each line of output. ``marker`` is text only this tool's command line
    holds (its work dir): it picks this build's reaper among the worker's children, which
    then kills the whole tree. Raises :class:`ExecutorError` when it was cancelled.
    """
    stopped = False

    def watch(line: str) -> None:
        nonlocal stopped
        if not stopped and cancelled():
            stopped = True
            _stop_tool(marker)

    try:
        run_logged(command, log_path=log_path, what="fromager build", cwd=cwd, env=env,
                   on_line=watch)  # fmt: skip
    except ToolError:
        if not stopped:
            raise
    if stopped:
        raise ExecutorError("the coordinator cancelled the run; the build was stopped")


def _stop_tool(marker: str) -> None:
    """SIGTERM the reaper of this worker's tool whose command line holds ``marker``."""
    wanted = marker.encode()
    for pid in descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                arguments = cmdline.read().split(b"\0")
        except OSError:
            continue
        if b"srcstacks.tools.reaper" in arguments and any(wanted in arg for arg in arguments):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def _read_log(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""


def _cancel_check(flag: Any) -> CancelCheck:
    """Ask the scheduler whether the run was cancelled: at most every few seconds while
    a build runs, and afresh (``fresh=True``) right before anything is uploaded."""
    state = {"asked": 0.0, "cancelled": False}

    def cancelled(fresh: bool = False) -> bool:
        now = time.monotonic()
        if not state["cancelled"] and (fresh or now - state["asked"] >= _CANCEL_POLL_SECONDS):
            state["asked"] = now
            state["cancelled"] = bool(flag.is_set())
        return bool(state["cancelled"])

    return cancelled


def _built_wheel(dirs: FromagerDirs, build: PackageBuild) -> Path:
    wanted = (canonicalize_name(build.project), Version(build.version))
    for path in sorted(dirs.built_wheels.glob("*.whl")):
        try:
            name, version, _, _ = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            continue
        if (name, version) == wanted:
            return path
    raise BuildError(f"fromager build of {build.project} {build.version} left no wheel")


def _checked_sdist(dirs: FromagerDirs, task: BuildTask) -> SdistRecord:
    """The sdist Fromager built from: the one the coordinator checked, by sha256 and name."""
    build = task.build
    expected_name = unquote(PurePosixPath(urlsplit(build.source_url).path).name)
    path = dirs.downloaded_sdist_named(expected_name)
    if not path.is_file():
        found = ", ".join(sorted(p.name for p in dirs.downloaded_sdists.glob("*"))) or "none"
        raise ExecutorError(
            f"{build.project} {build.version}: Fromager built from another sdist than"
            f" {expected_name} (found: {found}); not published"
        )
    sha256 = sha256_file(path)
    if sha256 != task.sdist_sha256:
        raise ExecutorError(
            f"{build.project} {build.version}: the sdist {expected_name} fetched from"
            f" {task.index.simple_url} differs from the one the coordinator checked; not published"
        )
    return SdistRecord(url=build.source_url, filename=expected_name, sha256=sha256)
