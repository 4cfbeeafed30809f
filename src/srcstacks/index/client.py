"""Read a project's page on a public package index: the files it lists, with their
sha256; download a listed file, checked against the sha256 the index published.

Requests and page parsing are :mod:`srcstacks.web`'s (PEP 691 JSON or PEP 503 HTML),
so the check works with any index a user points Fromager at: PyPI, a devpi or
Artifactory mirror, a plain folder served over HTTP. Writes only the downloaded file.
"""

from __future__ import annotations

from pathlib import Path

from srcstacks import web
from srcstacks.fsutil import atomic_path

PYPI_SIMPLE = "https://pypi.org/simple/"


class IndexReadError(Exception):
    """The index page could not be fetched or understood, or a download was not its file."""


def published_sha256(index_url: str, project: str) -> dict[str, str]:
    """``{filename: sha256}`` for every file the index lists for ``project`` with a sha256."""
    return {name: item.sha256 for name, item in published_files(index_url, project).items()}


def published_files(index_url: str, project: str) -> dict[str, web.PageFile]:
    """Every file the index lists for ``project`` with a sha256, by file name."""
    url = web.project_page_url(index_url, project)
    try:
        return web.project_files(url)
    except web.WebError as exc:
        raise IndexReadError(f"cannot read {url}: {exc.reason}") from None


def download_checked(item: web.PageFile, target: Path) -> None:
    """Download ``item`` to ``target`` (atomically); refuse bytes of another sha256."""
    try:
        with atomic_path(target) as part:
            web.download(item.url, part, sha256=item.sha256)
    except web.WebError as exc:
        raise IndexReadError(f"cannot download {item.url}: {exc.reason}") from None
