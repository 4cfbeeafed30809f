"""Run ``python -m srcstacks ARGS`` in a child process forked from the test process.

The command runs as a process of its own, as a user's would: its own work-dir locks,
signal handlers, globals and exit code, its output (and that of every tool it starts)
captured at the file descriptors. But the child is forked from the test process, which
has imported srcstacks' stages once: each command skips the interpreter's start and
about a second of imports (cyclonedx, venvstacks, every stage), which the end-to-end
tests' several hundred commands paid on a machine whose two cores they keep busy.

``SRCSTACKS_TEST_CLI=subprocess`` starts a fresh interpreter for every command instead
(what the fork saves is measured against that in docs/performance.md).
"""

from __future__ import annotations

import faulthandler
import importlib
import io
import os
import runpy
import subprocess
import sys
import tempfile
import traceback
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

# Imported in the test process before the first fork: what the stage commands import.
_STAGE_MODULES = (
    "srcstacks.cli",
    "srcstacks.pipeline",
    "srcstacks.verify.rebuild",
    "srcstacks.verify.stage",
    "srcstacks.sbom.stage",
    "srcstacks.archives.stage",
    "srcstacks.build.stage",
    "srcstacks.lock.stage",
    "srcstacks.deploy.stage",
    "srcstacks.deploy.system_deps",
    "srcstacks.verify.audit",
    "srcstacks.report",
    "venvstacks.stacks",
    "pypi_simple",  # web.project_files: every index page read (requests, pydantic, bs4)
    "jsonschema_rs",  # sbom check's validator
    "urllib3",  # uploads
)


def run_srcstacks(
    args: Sequence[str], *, cwd: Path | None, env: Mapping[str, str] | None
) -> subprocess.CompletedProcess[str]:
    """``python -m srcstacks ARGS`` in ``cwd`` with ``env`` added to ours: its exit
    code, stdout and stderr (text)."""
    command = [sys.executable, "-m", "srcstacks", *args]
    # What the interpreter reads as it starts (PYTHONPATH, a test's sitecustomize) only
    # reaches a fresh one.
    starts_fresh = any(name.startswith("PYTHON") for name in env or {})
    if starts_fresh or os.environ.get("SRCSTACKS_TEST_CLI") == "subprocess":
        return subprocess.run(
            command,
            cwd=cwd,
            env={**os.environ, **env} if env else None,
            capture_output=True,
            text=True,
            check=False,
        )
    with warnings.catch_warnings():
        # venvstacks warns on import that its API is not stable (srcstacks ignores it too).
        warnings.simplefilter("ignore", FutureWarning)
        for name in _STAGE_MODULES:
            importlib.import_module(name)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        with warnings.catch_warnings():
            # Python 3.12+ warns of fork() in a process with threads (pytest-xdist's);
            # the child runs srcstacks alone and never touches those threads' state.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: never returns
            _run_child(list(args), cwd, env, out.fileno(), err.fileno())
        _, status = os.waitpid(pid, 0)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(
            command,
            os.waitstatus_to_exitcode(status),
            out.read().decode("utf-8", errors="replace"),
            err.read().decode("utf-8", errors="replace"),
        )


def _run_child(
    args: list[str], cwd: Path | None, env: Mapping[str, str] | None, out: int, err: int
) -> None:
    code = 1
    try:
        faulthandler.disable()  # pytest's, writing to the test process's files
        stdin = os.open(os.devnull, os.O_RDONLY)
        os.dup2(stdin, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        # The interpreter's own streams on the new descriptors, as a fresh process has.
        sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
        sys.stderr = io.TextIOWrapper(
            io.FileIO(2, "w", closefd=False),
            encoding="utf-8",
            errors="backslashreplace",
            line_buffering=True,
        )
        for name in ("stdin", "stdout", "stderr"):
            setattr(sys, f"__{name}__", getattr(sys, name))
        if cwd is not None:
            os.chdir(cwd)
        if env:
            os.environ.update(env)
        sys.argv = ["srcstacks", *args]
        try:
            runpy.run_module("srcstacks", run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
        except BaseException:
            traceback.print_exc()  # as the interpreter would, before exiting 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
