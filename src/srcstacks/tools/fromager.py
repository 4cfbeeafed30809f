"""Run Fromager through its command line (its Python internals are not a stable API)."""

from __future__ import annotations

import functools
import os
import shlex
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from srcstacks.errors import (
    ToolError,
)
from srcstacks.fsutil import atomic_write_text
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.layout.ownership import remove_file
from srcstacks.tools.build_probe import USER_HOME_VARIABLE
from srcstacks.tools.cargo import RustToolchain, find_rust_toolchain, rust_build_env
from srcstacks.tools.fromager_errors import ErrorLines, explain_failure
from srcstacks.tools.fromager_events import EVENTS_VARIABLE
from srcstacks.tools.fromager_files import events_path, first_failure, following_events
from srcstacks.tools.process import run_logged, tool_env
from srcstacks.tools.toolchain import Interpreter, Toolchain, running_interpreter
from srcstacks.tools.upload_filter import CUTOFF_VARIABLE, CutoffRequest

# 1980-01-01, the earliest time a zip file can record: wheels built without a
# SOURCE_DATE_EPOCH from the user still come out byte-identical run after run.
DEFAULT_SOURCE_DATE_EPOCH = "315532800"
# Fromager started through srcstacks' wrapper, which writes the requirements files it puts
# in wheels in sorted order (see the module): every Fromager command goes through it.
FROMAGER_MODULE = "srcstacks.tools.fromager_main"


def version() -> str:
    """The installed Fromager's version."""
    return metadata.version("fromager")


def bootstrap(
    dirs: FromagerDirs,
    requirements_file: Path,
    *,
    settings_dir: Path,
    patches_dir: Path,
    variant: str,
    skip_constraints: bool,
    log_path: Path,
    constraints_file: Path | None = None,
    cache_wheel_server_url: str | None = None,
    on_progress: Callable[[str], None] | None = None,
    sdist_only: bool = False,
    toolchain: Toolchain | None = None,
    on_activity: Callable[[str], None] | None = None,
    upload_cutoff: CutoffRequest | None = None,
) -> None:
    """``fromager bootstrap -r requirements_file``: build everything it needs from source.

    ``toolchain`` is the Python and Fromager it runs on (default: srcstacks' own).

    ``sdist_only`` (the resolve step of a parallel run) builds only the build tools and
    downloads and prepares every other source, writing the dependency graph the
    parallel builds follow. ``on_progress`` sees a short text per requirement resolved,
    ``on_activity`` what Fromager starts doing (``building regex 2026.11.19``).
    ``constraints_file`` pins versions (Fromager's global ``-c``), for exact rebuilds.
    ``cache_wheel_server_url`` is an index whose wheels Fromager downloads instead of
    building them (same name, version and build tag); the caller checks what it took.
    ``upload_cutoff`` leaves out the source files uploaded after the spec's
    ``exclude-newer`` (:mod:`srcstacks.tools.upload_filter`).

    Raises :class:`BuildError` (:class:`PatchFailedError`, :class:`DownloadError`)
    naming the package that failed and its build log, :class:`SettingsRejectedError`
    naming the settings file and key Fromager refused, or
    :class:`ConstraintsConflictError` when the built graph needs two versions of a
    project and ``skip_constraints`` was not given.
    """
    command = [
        *global_options(dirs, settings_dir, patches_dir, variant, constraints_file, toolchain),
        "bootstrap",
        "-r",
        str(requirements_file),
    ]
    if sdist_only:
        command.append("--sdist-only")
    if skip_constraints:
        command.append("--skip-constraints")
    if cache_wheel_server_url:
        command += ["--cache-wheel-server-url", cache_wheel_server_url]
    env = build_env(dirs, toolchain=toolchain)
    events = events_path(log_path)
    remove_file(events)  # the last run's, in the work dir's logs: srcstacks' own
    env[EVENTS_VARIABLE] = str(events)
    if upload_cutoff is not None:
        env[CUTOFF_VARIABLE] = upload_cutoff.to_env()
    errors = ErrorLines()

    started = time.time()
    try:
        with following_events(events, on_activity, on_progress):
            # cwd: Fromager reads a global ./overrides/settings.yaml; never the user's by accident.
            run_logged(
                command,
                log_path=log_path,
                what="fromager bootstrap",
                cwd=dirs.root,
                env=env,
                on_line=errors.feed,
            )
    except ToolError as exc:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        raise explain_failure(
            text, errors.found, str(log_path), exc, dirs, started, first_failure(events)
        ) from None


def global_options(
    dirs: FromagerDirs,
    settings_dir: Path,
    patches_dir: Path,
    variant: str,
    constraints_file: Path | None = None,
    toolchain: Toolchain | None = None,
) -> list[str]:
    """``python -m fromager`` with the stack's settings, patches, variant and repos.

    ``python`` is ``toolchain``'s (default: the one running srcstacks).
    """
    return [
        str(toolchain.python) if toolchain else sys.executable,
        "-m",
        FROMAGER_MODULE,
        "--settings-dir",
        str(settings_dir),
        "--patches-dir",
        str(patches_dir),
        "--variant",
        variant,
        "--sdists-repo",
        str(dirs.sdists_repo),
        "--wheels-repo",
        str(dirs.wheels_repo),
        "--work-dir",
        str(dirs.work_dir),
        *(["--constraints-file", str(constraints_file)] if constraints_file else []),
    ]


def build_env(
    dirs: FromagerDirs,
    base: dict[str, str] | None = None,
    *,
    toolchain: Toolchain | None = None,
    cargo_home: Path | None = None,
) -> dict[str, str]:
    """The whole environment of a Fromager run in the folders ``dirs``.

    ``cargo_home``: the stack's, for a build in folders of its own (a parallel build);
    by default ``dirs``' own.

    ``base`` is :func:`tool_env` taken earlier (a build thread cannot take it: the run's
    context does not reach threads). An installed ``toolchain``'s scripts (``wheel``,
    ``uv``) come first on PATH, and its interpreter's paths are the ones mapped away.
    """
    env = dict(base) if base is not None else tool_env()
    env["SOURCE_DATE_EPOCH"] = os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_SOURCE_DATE_EPOCH)
    interpreter = toolchain.interpreter if toolchain else running_interpreter()
    env.update(portable_build_env(dirs.work_dir, interpreter))
    if toolchain is not None and not toolchain.own:
        env["PATH"] = os.pathsep.join([str(toolchain.scripts), env["PATH"]])
    env.update(rust_env(dirs, env["PATH"], cargo_home))
    env.update(build_home_env(dirs))
    return env


def build_home_env(dirs: FromagerDirs) -> dict[str, str]:
    """A ``HOME`` of srcstacks' own for Fromager and the build backends it runs.

    Backends read settings from the user's home that no variable names: setuptools'
    ``~/.pydistutils.cfg`` (a ``define=`` reaching every compile, a ``build_base``
    outside the work dir), CMake's user package registry (``~/.cmake/packages``), git's
    ``~/.gitconfig``. So each build runs with ``HOME`` an empty folder beside Fromager's
    repos. What only holds tools and caches stays the user's: rustup's toolchains
    (``RUSTUP_HOME``, when unset, names ``~/.rustup``, so a build script calling rustup's
    proxies still finds them) and uv's cache (``~/.cache/uv``, where uv kept it before).
    """
    home = dirs.root / "home"
    home.mkdir(parents=True, exist_ok=True)
    user_home = Path.home()
    env = {
        "HOME": str(home),
        USER_HOME_VARIABLE: str(user_home),  # still written <home> in recorded flags
        "UV_CACHE_DIR": str(user_home / ".cache" / "uv"),
    }
    rustup = Path(os.environ.get("RUSTUP_HOME") or user_home / ".rustup")
    if rustup.is_dir():
        env["RUSTUP_HOME"] = str(rustup)
    return env


def write_cargo_config(cargo_home: Path, text: str) -> None:
    """Make ``cargo_home/config.toml`` say ``text`` (:func:`srcstacks.tools.cargo.cargo_config`).

    The file is srcstacks' own, written anew from the spec every run and removed when
    the spec names no crates mirror, so no earlier setting outlives it.
    """
    target = cargo_home / "config.toml"
    if not text:
        if target.is_file():
            remove_file(target)
        return
    cargo_home.mkdir(parents=True, exist_ok=True)
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        atomic_write_text(target, text)


def rust_env(dirs: FromagerDirs, path: str, cargo_home: Path | None = None) -> dict[str, str]:
    """cargo's variables for builds in ``dirs`` (:func:`srcstacks.tools.cargo.rust_build_env`)."""
    home = cargo_home or dirs.cargo_home
    return rust_build_env(rust_toolchain(path), dirs.work_dir, home, path)


@functools.cache
def rust_toolchain(path: str) -> RustToolchain | None:
    """The Rust toolchain on ``path``, asked once per process."""
    return find_rust_toolchain(path)


def portable_build_env(work_dir: Path, interpreter: Interpreter | None = None) -> dict[str, str]:
    """Compiler settings that keep this machine's paths out of C extensions.

    - ``LDSHARED`` without the build interpreter's RUNPATH: an interpreter built with
      ``--enable-shared`` and an rpath (pyenv's, here) records ``-Wl,-rpath,<prefix>/lib``
      in its link command and setuptools copies it into every extension, which does not
      need it (extensions do not link libpython).
    - ``CPPFLAGS`` mapping the interpreter prefix and Fromager's build folders to fixed
      names, so ``__FILE__`` in Python's headers and debug info name no local path.
      setuptools adds ``CPPFLAGS`` to every compile.

    Each flag is shell-quoted: setuptools splits these variables with ``split_quoted``,
    meson with ``shlex``, make and CMake through the shell, and all of them honour
    quotes, so a work dir with spaces stays one argument. The user's own compiler
    variables never reach a build (only the build settings' ``env`` adds to these).
    """
    interpreter = interpreter or running_interpreter()
    prefix = interpreter.base_prefix
    env: dict[str, str] = {}
    tokens = shlex.split(interpreter.ldshared)
    kept = [
        token
        for token in tokens
        if not (token.startswith(("-Wl,-rpath,", "-Wl,-rpath=")) and prefix in token)
    ]
    if len(kept) < len(tokens):
        env["LDSHARED"] = shlex.join(kept)
    env["CPPFLAGS"] = shlex.join(
        [
            f"-ffile-prefix-map={prefix}=/python",
            f"-ffile-prefix-map={work_dir}=/build",
        ]
    )
    return env
