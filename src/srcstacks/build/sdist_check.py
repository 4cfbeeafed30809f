"""Check every sdist Fromager downloaded against the sha256 its index publishes.

Fromager downloads sdists but does not compare them with the hashes on the index page,
so a mirror serving altered files, or a proxy rewriting them, would go unnoticed and
the tampered source would be built and recorded as genuine. This check runs after each
successful ``fromager bootstrap``, before anything is published: a mismatching sdist is
moved to ``<work_dir>/<variant>/quarantine/`` with the wheels built from it, and the
stage fails naming the file, both hashes and the index.

Results are kept in ``<work_dir>/<variant>/sdists-checked.json`` so a rerun (or an
offline rebuild) does not ask the index again about a file it already vouched for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from srcstacks.build.inputs import built_wheels, discard_built_wheel
from srcstacks.errors import SourceIntegrityError
from srcstacks.fsutil import sha256_file, write_json
from srcstacks.index.client import (
    PYPI_SIMPLE,
    IndexReadError,
    published_sha256,
)
from srcstacks.layout import Layout
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.layout.ownership import move_into
from srcstacks.reporting import Report
from srcstacks.spec.config import StackConfig
from srcstacks.spec.settings import Settings
from srcstacks.state.records import read_json_state
from srcstacks.tools.fromager_files import read_build_order
from srcstacks.web import each_overlapping, project_page_url


@dataclass(frozen=True)
class DownloadedSdist:
    """An sdist Fromager downloaded for one entry of its build order."""

    project: str  # canonical name
    version: str
    path: Path
    index_url: str


def checked_record_path(config: StackConfig) -> Path:
    """Where the sdists already checked against their index are recorded."""
    return Layout.of(config).sdists_checked


def quarantine_dir(config: StackConfig) -> Path:
    """Where sdists that failed the check are moved, for inspection."""
    return Layout.of(config).quarantine


def _published_pages(
    keys: list[tuple[str, str]],
) -> dict[tuple[str, str], dict[str, str] | IndexReadError]:
    """Each ``(index, project)``'s published sha256 per file, or why it could not be read;
    the pages asked for side by side (a stack's sdists are one request each)."""

    def read(key: tuple[str, str]) -> dict[str, str] | IndexReadError:
        try:
            return published_sha256(*key)
        except IndexReadError as exc:
            return exc

    return dict(zip(keys, each_overlapping(read, keys), strict=True))


def check_sdists(
    config: StackConfig, dirs: FromagerDirs, settings: Settings, report: Report = print
) -> None:
    """Compare each downloaded sdist with its index's sha256; quarantine and fail on mismatch.

    A file its index does not list (a ``download_source`` URL in the settings, say) is
    reported as unchecked; its sha256 is still recorded in the provenance manifest.
    """
    record_path = checked_record_path(config)
    recorded = read_json_state(record_path, "record of checked sdists", "srcstacks wheels")
    checked: dict[str, str] = recorded if isinstance(recorded, dict) else {}
    pending: list[tuple[DownloadedSdist, str]] = []
    for sdist in downloaded_sdists(dirs, settings):
        actual = sha256_file(sdist.path)
        if checked.get(sdist.path.name) != actual:
            pending.append((sdist, actual))
    if not pending:
        return
    report(f"checking {len(pending)} downloaded sdist(s) against their index's sha256")
    pages = _published_pages(sorted({(sdist.index_url, sdist.project) for sdist, _ in pending}))
    mismatches: list[str] = []
    for sdist, actual in pending:
        key = (sdist.index_url, sdist.project)
        page = pages[key]
        if isinstance(page, IndexReadError):
            raise SourceIntegrityError(
                f"{sdist.path.name}: cannot check its sha256 against the index: {page}"
            )
        expected = page.get(sdist.path.name)
        if expected is None:
            report(
                f"warning: {sdist.path.name} is not listed on"
                f" {project_page_url(*key)}; its sha256 was not checked"
            )
        elif expected != actual:
            moved = _quarantine(config, dirs, sdist)
            mismatches.append(
                f"{sdist.path.name} has sha256 {actual}, but {project_page_url(*key)}"
                f" publishes {expected} (moved to {moved}; its wheel was not published)"
            )
            continue
        checked[sdist.path.name] = actual
    write_json(record_path, dict(sorted(checked.items())))
    if mismatches:
        raise SourceIntegrityError(
            "downloaded sdist differs from its index: "
            + "; ".join(mismatches)
            + " - check the index or mirror, then rerun to download it again"
        )


def downloaded_sdists(dirs: FromagerDirs, settings: Settings) -> list[DownloadedSdist]:
    """The sdists of Fromager's last build order that are in its sdists repo."""
    found: dict[Path, DownloadedSdist] = {}
    for entry in read_build_order(dirs) or []:
        url = entry.source_url
        if entry.source_url_type != "sdist" or not url:
            continue
        path = dirs.downloaded_sdist(url)
        if not path.is_file():
            continue
        project = entry.project
        project_settings = settings.get(project)
        index_url = (project_settings.sdist_index if project_settings else None) or PYPI_SIMPLE
        found[path] = DownloadedSdist(project, entry.version, path, index_url)
    return [found[path] for path in sorted(found)]


def _quarantine(config: StackConfig, dirs: FromagerDirs, sdist: DownloadedSdist) -> Path:
    target = move_into(sdist.path, quarantine_dir(config) / sdist.path.name)
    for filename, (project, version) in built_wheels(dirs).items():
        if project == sdist.project and version == sdist.version:
            discard_built_wheel(dirs, filename, version)
    return target
