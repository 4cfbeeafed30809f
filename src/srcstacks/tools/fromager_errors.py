"""What a failed ``fromager bootstrap`` says went wrong: one typed error, in one line.

Reads the run's log text, its ``ERROR`` lines, its events file's first failure and the
failed package's own build log (:mod:`srcstacks.tools.compile_errors`,
:mod:`srcstacks.tools.cargo_errors` for what compilers and cargo say); writes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from srcstacks.errors import (
    BuildError,
    ConstraintsConflictError,
    DownloadError,
    PatchFailedError,
    SettingsRejectedError,
    SrcstacksError,
    ToolError,
)
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.tools import upload_filter
from srcstacks.tools.cargo_errors import cargo_failure
from srcstacks.tools.compile_errors import build_failure_cause
from srcstacks.tools.fromager_files import FailedStep

_ERROR_LINE = re.compile(r"\bERROR (?P<package>[A-Za-z0-9_.-]+): (?P<message>.*)")
_UNRESOLVED = re.compile(
    r"Unable to resolve requirement specifier (?P<spec>\S+).*?searching at (?P<index>[^\s)]+)"
)
_DOWNLOAD_FAILED = re.compile(
    r"WARNING (?P<package>[A-Za-z0-9_.-]+): Download failed for (?P<url>\S+): (?P<reason>.*)"
)
_INCOMPLETE = re.compile(r"IncompleteRead\((?P<read>\d+) bytes read, (?P<more>\d+) more expected")
CONSTRAINTS_CONFLICT = "Could not produce a pip compatible constraints file"


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
            f"{_left_out_by_cutoff(log_text, match['spec'])}"
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


def _left_out_by_cutoff(log_text: str, spec: str) -> str:
    """What the spec's ``exclude-newer`` left out of the project ``spec`` names, if anything."""
    try:
        project = canonicalize_name(Requirement(spec).name)
    except InvalidRequirement:
        return ""
    for found in upload_filter.LEFT_OUT.finditer(log_text):
        if canonicalize_name(found["project"]) == project:
            return (
                f" uploaded by {found['cutoff']} (the spec's exclude-newer left out"
                f" {found['count']} of its {found['total']} file(s))"
            )
    return ""


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
