"""Start external tools in an environment of srcstacks' own, and tee their output to a log.

Reads this process's environment (only the allow-listed variables pass through) and the
work dir of the current run (set by :func:`srcstacks.worklock.exclusive`); writes the
tool's log file. Every tool runs under :mod:`srcstacks.tools.reaper`, so it and all it
starts die with srcstacks, and carries ``SRCSTACKS_WORK_DIR`` so that a leftover of a
killed run can still be recognised (see docs/environment.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path

from srcstacks.errors import ConfigError, ToolError, ToolStartError
from srcstacks.layout import tool_config_dir

# Names the work dir of the run a process belongs to; grandchildren inherit it.
RUN_MARKER = "SRCSTACKS_WORK_DIR"

_run_work_dir: ContextVar[Path | None] = ContextVar("srcstacks_run_work_dir", default=None)

# Variables passed through unchanged, and why each is needed.
_PASSED = (
    # Tools keep caches and toolchains there (rustup, cargo); the config files it holds
    # for pip and uv are turned off below.
    "HOME",
    "TMPDIR",  # where large temporary build trees go
    "LANG",  # the locale: text encoding of the tools' input and output
    "LC_ALL",
    "http_proxy",  # how this machine reaches an index; never choose what is fetched
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "all_proxy",
    "SSL_CERT_FILE",  # which TLS roots to trust (a proxy's own CA); not what is fetched
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SOURCE_DATE_EPOCH",  # the time reproducible builds record (Fromager gets a default)
    "RUSTUP_HOME",  # where rustup keeps its toolchains, for a build calling its proxies
)
_PASSED_PREFIXES = ("LC_",)  # the other locale categories

# Set for every tool: config files are what a variable we drop could also come from.
_FIXED = {
    # pip reads no config file at all (/etc/pip.conf, /etc/xdg/pip, ~/.config/pip).
    "PIP_CONFIG_FILE": os.devnull,
    # Time zone of every timestamp a build writes, whatever the machine's.
    "TZ": "UTC",
}

# Dropped like every other variable, but worth telling the user about: they would
# change what is fetched, built or linked.
_REPORTED_PREFIXES = ("UV_", "PIP_", "FROMAGER_", "PDM_", "VENVSTACKS_", "DEVPISERVER_")
_REPORTED_NAMES = frozenset(
    {
        *("CC", "CXX", "CPP", "LD", "AR", "CFLAGS", "CPPFLAGS", "CXXFLAGS", "LDFLAGS"),
        *("LDSHARED", "LDCXXSHARED", "ARFLAGS", "RUSTFLAGS", "CMAKE_ARGS", "MAKEFLAGS"),
        *("PYTHONPATH", "PYTHONHOME", "DIST_EXTRA_CONFIG", "PKG_CONFIG_PATH"),
        "CARGO_HOME",
        *("LD_LIBRARY_PATH", "LD_PRELOAD", "PBS_INSTALLER_BASE_URL"),
    }
)
_INDEX_LIKE = re.compile(r"INDEX_URL|FIND_LINKS|EXTRA_INDEX")


def scripts_dir() -> Path:
    """The folder holding the scripts of the environment srcstacks runs in."""
    return Path(sys.executable).parent


def tool_env(
    extra: Mapping[str, str] | None = None, *, uv_project_config: bool = False
) -> dict[str, str]:
    """The whole environment of a child tool: the allow-list, our settings, then ``extra``.

    Fromager runs helper commands such as ``wheel`` by name, so this interpreter's
    scripts come first on PATH even when nobody activated its environment.
    ``uv_project_config``: the tool (venvstacks) hands uv its settings in a generated
    project's ``[tool.uv]``, which ``UV_NO_CONFIG`` would make uv ignore.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if name in _PASSED or name.startswith(_PASSED_PREFIXES)
    }
    env["PATH"] = os.pathsep.join([str(scripts_dir()), os.environ.get("PATH", os.defpath)])
    env.update(_FIXED)
    env.update(_empty_config_dirs())
    if not uv_project_config:
        env["UV_NO_CONFIG"] = "1"  # no uv.toml or [tool.uv] from the folder it runs in
    work_dir = _run_work_dir.get()
    if work_dir is not None:
        env[RUN_MARKER] = str(work_dir)
    if extra:
        env.update(extra)
    return env


def _empty_config_dirs() -> dict[str, str]:
    """XDG config folders of srcstacks' own, so no user or system uv.toml (git, pdm, ...) is read.

    uv still reads ``/etc/uv/uv.toml``, which is refused at the start of a run. In a run
    they are real, empty folders in the work dir, since tools may write their own config
    there (pdm, under venvstacks, does). Outside a run (patchelf) nothing can ever exist
    below ``/dev/null``.
    """
    work_dir = _run_work_dir.get()
    if work_dir is None:
        return {"XDG_CONFIG_HOME": os.devnull, "XDG_CONFIG_DIRS": os.devnull}
    base = tool_config_dir(work_dir)
    folders = {"XDG_CONFIG_HOME": base / "user", "XDG_CONFIG_DIRS": base / "system"}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return {name: str(folder) for name, folder in folders.items()}


def ignored_user_settings(environ: Mapping[str, str] | None = None) -> list[str]:
    """Names of variables the user set that srcstacks' tools would have obeyed, sorted."""
    environ = os.environ if environ is None else environ
    return sorted(
        name
        for name in environ
        if name.startswith(_REPORTED_PREFIXES)
        or name in _REPORTED_NAMES
        or _INDEX_LIKE.search(name)
    )


def ignored_config_files(environ: Mapping[str, str] | None = None) -> list[Path]:
    """pip and uv config files present on this machine that the tools are kept from reading."""
    environ = os.environ if environ is None else environ
    home = Path(environ.get("HOME", "~")).expanduser()
    config_home = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    system_dirs = (environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":")
    candidates = [
        Path("/etc/pip.conf"),
        *(Path(folder) / "pip" / "pip.conf" for folder in system_dirs if folder),
        home / ".pip" / "pip.conf",
        config_home / "pip" / "pip.conf",
        Path(sys.prefix) / "pip.conf",
        *(Path(folder) / "uv" / "uv.toml" for folder in system_dirs if folder),
        config_home / "uv" / "uv.toml",
    ]
    return [path for path in dict.fromkeys(candidates) if path.is_file()]


# uv reads this file whatever the environment says, unless told to read no config at
# all, which would also hide the settings venvstacks gives it (see tool_env).
SYSTEM_UV_CONFIG = Path("/etc/uv/uv.toml")


def announce_environment(report: Callable[[str], None]) -> None:
    """Once per run: name what of the user's environment the tools will not see.

    Names only, never values (they may hold credentials). Refuses to run when
    ``/etc/uv/uv.toml`` exists, since nothing but removing it keeps it out of uv, and
    when ``SOURCE_DATE_EPOCH`` (passed to every build) is set but no whole number of
    seconds: setuptools and others would fail deep inside a build log.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None and not epoch.strip().isdigit():
        raise ConfigError(
            f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, not {epoch!r};"
            " unset it or give one (e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct))"
        )
    if SYSTEM_UV_CONFIG.is_file():
        raise ConfigError(
            f"{SYSTEM_UV_CONFIG}: uv reads this system config file in every run and"
            " srcstacks cannot turn it off without hiding its own settings; move it away"
            " to build (srcstacks builds with an environment of its own)"
        )
    ignored = [*ignored_user_settings(), *map(str, ignored_config_files())]
    if ignored:
        report(
            f"note: ignoring {', '.join(ignored)} from your environment"
            " (srcstacks builds with an environment of its own)"
        )


def current_run() -> Path | None:
    """The work dir whose marker tools started now carry (None outside a run)."""
    return _run_work_dir.get()


@contextlib.contextmanager
def run_marked(work_dir: Path | None) -> Iterator[None]:
    """Tag every tool started inside with ``SRCSTACKS_WORK_DIR=<work_dir>`` (None: untagged)."""
    token = _run_work_dir.set(work_dir)
    try:
        yield
    finally:
        _run_work_dir.reset(token)


def marker_entry(work_dir: Path) -> bytes:
    """The ``NAME=value`` entry tools of a run on ``work_dir`` carry in their environment."""
    return os.fsencode(f"{RUN_MARKER}={work_dir}")


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def die_with_parent() -> None:
    """In a child before ``exec``: have the kernel kill it when srcstacks exits, however."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def supervised(command: Sequence[str]) -> list[str]:
    """``command`` wrapped in the reaper, so it and all it starts die with srcstacks."""
    return [
        sys.executable, "-I", "-m", "srcstacks.tools.reaper", str(os.getpid()), *command,
    ]  # fmt: skip


# The reaper's exit code and line when the tool itself cannot be started.
CANNOT_START_CODE = 127


def run_probe(command: Sequence[str], *, timeout: float = 60) -> str:
    """Run a short command (an interpreter asked about itself) and return its stdout.

    It gets the tool environment and dies with srcstacks, like every tool. Raises
    ``OSError`` (cannot start) or ``subprocess.SubprocessError`` (failed, timed out).
    """
    return run_captured(command, timeout=timeout, check=True).stdout


def run_captured(
    command: Sequence[str], *, timeout: float, check: bool
) -> subprocess.CompletedProcess[str]:
    """Run a short command with the tool environment; return its exit code and output.

    The one place a tool whose output srcstacks reads (rather than logs) is started: it
    gets :func:`tool_env` and dies with srcstacks. ``check``: a non-zero exit raises
    ``subprocess.CalledProcessError``; otherwise the caller reads ``returncode`` and
    ``stderr`` (``uv pip compile``'s resolution error, say). A timeout raises
    ``subprocess.TimeoutExpired`` either way.
    """
    return subprocess.run(
        list(command),
        env=tool_env(),
        preexec_fn=die_with_parent,
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )


CANNOT_START_PREFIX = "srcstacks-reaper: cannot start "


def run_logged(
    command: Sequence[str],
    *,
    log_path: Path,
    what: str,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    on_line: Callable[[str], object] | None = None,
) -> str:
    """Run ``command``, writing its combined output to ``log_path``; return that output.

    ``env`` is the tool's whole environment (default :func:`tool_env`). ``on_line``
    sees each line as it arrives (for progress). A tool that cannot be started raises
    :class:`ToolStartError`; a non-zero exit raises :class:`ToolError` naming ``what``
    failed and the log to read.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    with log_path.open("w", encoding="utf-8") as log:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        try:
            process = subprocess.Popen(
                supervised(command),
                cwd=cwd,
                env=dict(env) if env is not None else tool_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                preexec_fn=die_with_parent,
            )
        except OSError as exc:
            raise ToolStartError(f"{what}: cannot start {command[0]!r}: {exc}") from exc
        assert process.stdout is not None
        with process:
            for line in process.stdout:
                log.write(line)
                log.flush()
                lines.append(line)
                if on_line is not None:
                    on_line(line.rstrip("\n"))
        if (
            process.returncode == CANNOT_START_CODE
            and lines[-1:]
            and lines[-1].startswith(CANNOT_START_PREFIX)
        ):
            reason = lines[-1].removeprefix(CANNOT_START_PREFIX).strip()
            raise ToolStartError(f"{what}: cannot start {reason}", str(log_path))
        if process.returncode in (130, -signal.SIGINT):
            # The tool got the terminal's Ctrl-C with us: report it as an interruption.
            raise KeyboardInterrupt
        if process.returncode != 0:
            reason = last_error_line(lines) or f"exit code {process.returncode}"
            raise ToolError(f"{what} failed: {reason}", str(log_path))
    return "".join(lines)


_ERROR_MARKERS = ("error:", "Error:", "ERROR", "Exception:", "failed")


def last_error_line(lines: Sequence[str], width: int = 300) -> str:
    """The last line of a tool's output that reads like an error message, shortened
    around its first error marker.

    A parallel ``make`` writes the compiler's error and another job's command line into
    one pipe, so the error can land in the middle of a long command line: the excerpt
    keeps the marker and what follows it rather than the line's start.
    """
    for line in reversed(lines):
        text = " ".join(line.split())
        found = [text.find(marker) for marker in _ERROR_MARKERS if marker in text]
        if found:
            return _excerpt(text, min(found), width)
    return ""


def _excerpt(text: str, at: int, width: int) -> str:
    if len(text) <= width:
        return text
    start = max(0, min(at - width // 3, len(text) - width))
    end = min(len(text), start + width)
    return ("..." if start else "") + text[start:end] + ("..." if end < len(text) else "")
