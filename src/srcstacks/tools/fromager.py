"""Run Fromager through its command line (its Python internals are not a stable API)."""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

from srcstacks.errors import (
    BuildError,
    ConstraintsConflictError,
    DownloadError,
    PatchFailedError,
    SettingsRejectedError,
    SrcstacksError,
    StateError,
    ToolError,
)
from srcstacks.fsutil import atomic_write_text
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.layout.ownership import remove_file
from srcstacks.state.records import read_json_state
from srcstacks.tools.build_probe import USER_HOME_VARIABLE
from srcstacks.tools.cargo import RustToolchain, find_rust_toolchain, rust_build_env
from srcstacks.tools.cargo_errors import cargo_failure
from srcstacks.tools.compile_errors import build_failure_cause
from srcstacks.tools.fromager_events import EVENTS_VARIABLE
from srcstacks.tools.process import run_logged, tool_env
from srcstacks.tools.toolchain import Interpreter, Toolchain, running_interpreter

# 1980-01-01, the earliest time a zip file can record: wheels built without a
# SOURCE_DATE_EPOCH from the user still come out byte-identical run after run.
DEFAULT_SOURCE_DATE_EPOCH = "315532800"
# Fromager started through srcstacks' wrapper, which writes the requirements files it puts
# in wheels in sorted order (see the module): every Fromager command goes through it.
FROMAGER_MODULE = "srcstacks.tools.fromager_main"

_ERROR_LINE = re.compile(r"\bERROR (?P<package>[A-Za-z0-9_.-]+): (?P<message>.*)")
# The requirement's own name: Fromager 0.101 adds the version to the line's prefix.
_PROGRESS_LINE = re.compile(
    r"INFO \S+: new (?P<kind>[a-z-]+) dependency (?P<package>[A-Za-z0-9_.-]+)"
    r".* resolves to (?P<version>\S+)"
)
# What Fromager is doing right now, from its log lines (Fromager 0.77 and 0.101 alike).
_ACTIVITY_LINE = re.compile(
    r"INFO \S+: (?:(?P<build>building) \S+ wheel for|(?P<fetch>downloading) source for"
    r"|(?P<prepare>preparing) source for) (?P<package>[A-Za-z0-9_.-]+)==(?P<version>[^\s,;]+)"
)
_UNRESOLVED = re.compile(
    r"Unable to resolve requirement specifier (?P<spec>\S+).*?searching at (?P<index>[^\s)]+)"
)
_DOWNLOAD_FAILED = re.compile(
    r"WARNING (?P<package>[A-Za-z0-9_.-]+): Download failed for (?P<url>\S+): (?P<reason>.*)"
)
_INCOMPLETE = re.compile(r"IncompleteRead\((?P<read>\d+) bytes read, (?P<more>\d+) more expected")
CONSTRAINTS_CONFLICT = "Could not produce a pip compatible constraints file"


@dataclass(frozen=True)
class BuildOrderEntry:
    """One entry of Fromager's ``build-order.json``: a project and version it built."""

    project: str  # canonical name
    version: str
    prebuilt: bool
    source_url: str
    source_url_type: str


def read_build_order(dirs: FromagerDirs) -> list[BuildOrderEntry] | None:
    """Fromager's bottom-up build order of the last run; ``None`` before any run.

    A file that is not a build order (cut off, edited) is a one-line :class:`StateError`.
    """
    path = dirs.build_order
    data = read_json_state(path, "Fromager build order", "srcstacks wheels")
    if data is None:
        return None
    if not isinstance(data, list):
        raise StateError(
            f"{path}: not a Fromager build order (a JSON list); rerun 'srcstacks wheels'"
        )
    try:
        return [
            BuildOrderEntry(
                project=canonicalize_name(str(entry["dist"])),
                version=str(entry["version"]),
                prebuilt=bool(entry.get("prebuilt")),
                source_url=str(entry.get("source_url") or ""),
                source_url_type=str(entry.get("source_url_type") or ""),
            )
            for entry in data
        ]
    except (KeyError, TypeError, AttributeError) as exc:
        raise StateError(
            f"{path}: malformed Fromager build order ({type(exc).__name__}: {exc});"
            " rerun 'srcstacks wheels'"
        ) from None


def events_path(log_path: Path) -> Path:
    """The events file a Fromager run logging to ``log_path`` writes beside it."""
    return log_path.with_name(f"{log_path.stem}.events.jsonl")


@dataclass(frozen=True)
class FailedStep:
    """The step of one package version Fromager raised in (its ``failed`` event)."""

    project: str  # canonical name
    version: str
    step: str  # Fromager's override method: download_source, prepare_source, build_wheel...
    error: str


def first_failure(events: Path) -> FailedStep | None:
    """The first step that failed in a Fromager run's events file, if any."""
    try:
        lines = events.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "failed":
            return FailedStep(
                str(event.get("project")),
                str(event.get("version")),
                str(event.get("step")),
                str(event.get("error")),
            )
    return None


def version() -> str:
    """The installed Fromager's version."""
    return metadata.version("fromager")


def activity_of(line: str) -> str:
    """What a Fromager log line says it starts doing (``building regex 2026.11.19``), or ``""``."""
    match = _ACTIVITY_LINE.search(line)
    if match is None:
        return ""
    doing = match["build"] or match["fetch"] or match["prepare"]
    return f"{doing} {canonicalize_name(match['package'])} {match['version']}"


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
    errors = ErrorLines()

    def watch(line: str) -> None:
        if errors.feed(line):
            return
        if on_progress and (match := _PROGRESS_LINE.search(line)):
            on_progress(f"{match['package']}=={match['version']} ({match['kind']})")
        elif on_activity and (doing := activity_of(line)):
            on_activity(doing)

    started = time.time()
    try:
        # cwd: Fromager reads a global ./overrides/settings.yaml; never the user's by accident.
        run_logged(
            command,
            log_path=log_path,
            what="fromager bootstrap",
            cwd=dirs.root,
            env=env,
            on_line=watch,
        )
    except ToolError as exc:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        raise explain_failure(
            text, errors.found, str(log_path), exc, dirs, started, first_failure(events)
        ) from None


class ErrorLines:
    """The ``(package, message)`` of each ``ERROR`` line of Fromager's output, in order."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def feed(self, line: str) -> bool:
        """Take one line; whether it was an error line."""
        match = _ERROR_LINE.search(line)
        if match is None:
            return False
        self.found.append((match["package"], match["message"]))
        return True


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


def explain_failure(
    log_text: str,
    errors: Sequence[tuple[str, str]],
    log_path: str,
    exc: ToolError,
    dirs: FromagerDirs | None = None,
    started: float = 0.0,
    failed: FailedStep | None = None,
) -> SrcstacksError:
    """The typed error a failed ``fromager bootstrap`` stands for.

    ``failed`` (from its events file) names the package version and step that failed;
    the log text says the rest. ``errors`` are the ``(package, message)`` pairs of its
    ``ERROR`` lines; build logs in ``dirs`` older than ``started`` belong to earlier
    runs and are never blamed.
    """
    if rejected := _settings_rejection(log_text):
        return rejected
    if CONSTRAINTS_CONFLICT in log_text:
        return ConstraintsConflictError(f"fromager bootstrap: {CONSTRAINTS_CONFLICT}", log_path)
    if not errors and failed is None:
        return exc
    patch_failure = _patch_failure(log_text, failed)
    if patch_failure is not None:
        return PatchFailedError(patch_failure, log_path)
    # The first error is usually the root cause; later ones are the callers giving up.
    if failed is not None:
        package, message = failed.project, errors[0][1] if errors else failed.error
    else:
        package, message = errors[0]
    if "download" in message and (download_failure := _download_failure(log_text, package)):
        return DownloadError(download_failure, log_path)
    if match := _UNRESOLVED.search(message):
        return BuildError(
            f"no source distribution on {match['index']} matches {match['spec']}"
            " (srcstacks builds only from sdists: check the name and version)",
            log_path,
        )
    if cargo_says := cargo_failure(log_text, package):
        return BuildError(cargo_says, log_path)
    build_log = _package_build_log(dirs, package, started) if dirs else None
    if build_log is not None and (cause := _cause_in(build_log)):
        return BuildError(f"building {package} from source failed: {cause}", str(build_log))
    return BuildError(
        f"building {package} from source failed: {_shorten(message)}",
        str(build_log or log_path),
    )


def _cause_in(build_log: Path) -> str:
    """Why the build in ``build_log`` failed, if it says (``""``: not)."""
    try:
        return build_failure_cause(build_log.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return ""


_SETTINGS_REJECTED = re.compile(
    r"ERROR \S+: failed to load settings \(source: PosixPath\('(?P<path>[^']+)'\)\):"
    r" \d+ validation errors? for \w+\n(?P<details>(?:(?!\d\d:\d\d:\d\d ).*\n?)*)"
)
_INVALID_FIELD = re.compile(r"^(?P<key>\S[^\n]*)\n\s+(?P<problem>[^\n\[]+)", re.MULTILINE)


def _settings_rejection(log_text: str) -> SettingsRejectedError | None:
    """Name the settings file and each key Fromager's settings model refused."""
    match = _SETTINGS_REJECTED.search(log_text)
    if match is None:
        return None
    details = match["details"].split(" because ", 1)[0]
    problems = [
        f"'{field['key'].strip()}': {field['problem'].strip()}"
        for field in _INVALID_FIELD.finditer(details)
        if not field["key"].startswith("For further information")
    ]
    return SettingsRejectedError(
        f"{match['path']}: Fromager rejects these build settings:"
        f" {'; '.join(problems) or _shorten(details)}"
    )


def _download_failure(log_text: str, package: str) -> str | None:
    """Say which download broke and how, when Fromager gave up on fetching a source."""
    failures = [m for m in _DOWNLOAD_FAILED.finditer(log_text) if _names(m["package"], package)]
    if not failures:
        return None
    last = failures[-1]
    reason = _shorten(last["reason"])
    if match := _INCOMPLETE.search(last["reason"]):
        received, missing = int(match["read"]), int(match["more"])
        reason = f"cut off after {received} of {received + missing} bytes"
    return (
        f"downloading {package}'s source from {last['url']} failed"
        f" {len(failures)} time(s): {reason}; nothing partial was kept, rerun when the"
        " index is reachable"
    )


_APPLYING = re.compile(
    r"INFO (?P<package>\S+): applying patch file (?P<patch>.+?\.patch) to (?P<src>.+)$"
)
_HUNK_FAILED = re.compile(r"(?P<package>\S+): (?P<hunk>Hunk #\d+ FAILED at \d+)")
_PATCHING = re.compile(r"(?P<package>\S+): patching file (?P<file>\S+)")


def _names(prefix: str, package: str) -> bool:
    """Whether a log line's prefix is ``package``'s: Fromager 0.77 writes the name as the
    requirement spells it (``MarkupSafe``), 0.101 adds the version (``MarkupSafe-3.0.4``)."""
    prefix, package = canonicalize_name(prefix), canonicalize_name(package)
    version = prefix.removeprefix(f"{package}-") if prefix != package else ""
    return prefix == package or (version != prefix and version[:1].isdigit())


def _patch_failure(log_text: str, failed: FailedStep | None) -> str | None:
    """Name the patch, project, file and rejected hunk when ``patch -p1`` failed."""
    if "patch -p1" not in log_text or not _HUNK_FAILED.search(log_text):
        return None
    applying = None
    target_file = None
    for line in log_text.splitlines():
        if match := _APPLYING.search(line):
            applying, target_file = match, None
        elif (match := _PATCHING.search(line)) and applying is not None:
            target_file = match["file"]
        elif (match := _HUNK_FAILED.search(line)) and applying is not None:
            reject = Path(applying["src"]) / f"{target_file}.rej"
            header = _first_hunk_header(reject)
            project = f"{failed.project} {failed.version}" if failed else applying["package"]
            return (
                f"patch {applying['patch']} does not apply to {project}:"
                f" {match['hunk']} in {target_file}{header} (rejects in {reject})"
            )
    return None


def _first_hunk_header(reject: Path) -> str:
    try:
        for line in reject.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("@@"):
                return f", hunk '{line.strip()}'"
    except OSError:
        pass
    return ""


def _package_build_log(dirs: FromagerDirs, package: str, started: float) -> Path | None:
    """The newest build log of ``package`` written since ``started`` (this run), if any."""
    prefix = package.replace("-", "_").lower()
    candidates = [
        path
        for path in dirs.work_dir.glob("*/build.log")
        if (
            path.parent.name.replace("-", "_").lower().startswith(prefix + "_")
            or path.parent.name.lower().startswith(package.lower() + "-")
        )
        and path.stat().st_mtime >= started
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda path: path.stat().st_mtime)


def _shorten(message: str, limit: int = 300) -> str:
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 3] + "..."
