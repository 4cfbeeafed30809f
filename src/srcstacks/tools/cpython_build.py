"""CPython's own build system (``configure``, ``make``) and GNU ``patch``, run for srcstacks.

Reads an unpacked CPython source tree; writes the build into it, the installation under
a ``DESTDIR``, and one log per step (the paths are the caller's). Every step runs in
srcstacks' own environment (:func:`srcstacks.tools.process.tool_env`) plus the variables
the caller hands it, and fails with a typed error naming its log and the last error
lines.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from srcstacks.errors import PatchFailedError, RuntimeBuildError, ToolError, ToolStartError
from srcstacks.spec.patches import PATCH_COMMAND
from srcstacks.tools.compile_errors import build_failure_cause
from srcstacks.tools.process import run_logged, run_probe, tool_env


@dataclass(frozen=True)
class Header:
    """A header CPython's optional modules need, and the Debian package that ships it."""

    include: str
    module: str
    package: str
    # Found through pkg-config rather than the compiler's default include path.
    pkg_config: str = ""


# Without these, modules that nearly every stack needs (ssl for any download, ctypes,
# zlib and the compressors, sqlite3) are silently left out of the build.
REQUIRED_HEADERS = (
    Header("openssl/ssl.h", "ssl", "libssl-dev"),
    Header("ffi.h", "ctypes", "libffi-dev"),
    Header("zlib.h", "zlib", "zlib1g-dev"),
    Header("bzlib.h", "bz2", "libbz2-dev"),
    Header("lzma.h", "lzma", "liblzma-dev"),
    Header("sqlite3.h", "sqlite3", "libsqlite3-dev"),
)
# Modules a runtime can do without; missing ones are named, not refused.
OPTIONAL_HEADERS = (
    Header("readline/readline.h", "readline", "libreadline-dev"),
    Header("ncurses.h", "curses", "libncurses-dev"),
    Header("uuid/uuid.h", "_uuid", "uuid-dev"),
    Header("gdbm.h", "dbm.gnu", "libgdbm-dev"),
    Header("tk.h", "tkinter", "tk-dev", pkg_config="tk"),
)


def missing_headers(headers: Sequence[Header], env: Mapping[str, str]) -> list[Header]:
    """The headers the C compiler cannot find, asked of the preprocessor one by one."""
    compiler = env.get("CC", "gcc")
    missing = []
    for header in headers:
        if header.pkg_config:
            if not _pkg_config_has(header.pkg_config, env):
                missing.append(header)
            continue
        try:
            result = subprocess.run(
                [compiler, "-E", "-x", "c", "-"],
                input=f"#include <{header.include}>\n",
                capture_output=True,
                text=True,
                env=tool_env(env),
                check=False,
            )
        except OSError as exc:
            raise _no_compiler(compiler, exc) from None
        if result.returncode != 0:
            missing.append(header)
    return missing


def _pkg_config_has(name: str, env: Mapping[str, str]) -> bool:
    try:
        result = subprocess.run(
            ["pkg-config", "--exists", name], env=tool_env(env), check=False, capture_output=True
        )
    except OSError:
        return False
    return result.returncode == 0


def compiler_version(env: Mapping[str, str]) -> str:
    """The first line of ``$CC --version``: the toolchain, part of a build's inputs."""
    compiler = env.get("CC", "gcc")
    try:
        return run_probe([compiler, "--version"]).splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError, IndexError) as exc:
        raise _no_compiler(compiler, exc) from None


def _no_compiler(compiler: str, exc: Exception) -> RuntimeBuildError:
    return RuntimeBuildError(
        f"no working C compiler {compiler!r} to build CPython: {exc}"
        " (on Debian: apt-get install build-essential)"
    )


def apply_patch(tree: Path, patch: Path, label: str, log_path: Path) -> None:
    """Apply ``patch`` to the source tree exactly, as srcstacks does for wheels."""
    try:
        run_logged(
            [*PATCH_COMMAND, "-i", str(patch)],
            log_path=log_path,
            what=f"applying {label} to CPython",
            cwd=tree,
        )
    except ToolError as exc:
        raise PatchFailedError(
            f"patch {label} does not apply to CPython's source: {exc.reason}",
            exc.log_path,
        ) from None


def configure(tree: Path, args: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
    """Run ``./configure ARGS`` in the source tree."""
    _step(["./configure", *args], tree, env, log_path, "CPython's configure")


def make(
    tree: Path,
    jobs: int,
    env: Mapping[str, str],
    log_path: Path,
    on_line: Callable[[str], None] | None = None,
) -> None:
    """Compile CPython with ``make -jN``."""
    _step(["make", f"-j{jobs}"], tree, env, log_path, "CPython's make", on_line)


def make_install(tree: Path, destdir: Path, env: Mapping[str, str], log_path: Path) -> None:
    """``make install DESTDIR=...``: the configured prefix, under ``destdir``."""
    _step(["make", "install", f"DESTDIR={destdir}"], tree, env, log_path, "CPython's make install")


def _step(
    command: list[str],
    tree: Path,
    env: Mapping[str, str],
    log_path: Path,
    what: str,
    on_line: Callable[[str], None] | None = None,
) -> None:
    try:
        run_logged(
            command, log_path=log_path, what=what, cwd=tree, env=tool_env(env), on_line=on_line
        )
    except ToolStartError as exc:
        raise RuntimeBuildError(exc.reason, exc.log_path) from None
    except ToolError as exc:
        # The compiler's first error, not the last line a parallel make wrote.
        cause = _cause_in(log_path)
        reason = f"{what} failed: {cause}" if cause else exc.reason
        raise RuntimeBuildError(reason, exc.log_path) from None


def _cause_in(log_path: Path) -> str:
    try:
        return build_failure_cause(log_path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return ""
