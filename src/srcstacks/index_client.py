"""Read a project's page on a package index (PEP 503 HTML or PEP 691 JSON): file hashes.

Only the standard library is used, so the check works with any index a user points
Fromager at: PyPI, a devpi or Artifactory mirror, a plain folder served over HTTP.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

PYPI_SIMPLE = "https://pypi.org/simple/"
_ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"
_TIMEOUT_SECONDS = 60


class IndexReadError(Exception):
    """The index page could not be fetched or understood."""


def project_page_url(index_url: str, project: str) -> str:
    """``<index>/<project>/``, as the simple API lays it out."""
    return urljoin(index_url.rstrip("/") + "/", f"{project}/")


def published_sha256(index_url: str, project: str) -> dict[str, str]:
    """``{filename: sha256}`` for every file the index lists for ``project`` with a sha256."""
    url = project_page_url(index_url, project)
    request = urllib.request.Request(url, headers={"Accept": _ACCEPT})
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
            content_type = response.headers.get("Content-Type", "")
            body = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise IndexReadError(f"cannot read {url}: {getattr(exc, 'reason', exc)}") from None
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type:
        return _from_json(url, text)
    return _from_html(text)


def _from_json(url: str, text: str) -> dict[str, str]:
    try:
        files = json.loads(text).get("files", [])
    except (ValueError, AttributeError):
        raise IndexReadError(f"{url}: not a PEP 691 project page") from None
    return {
        entry["filename"]: entry["hashes"]["sha256"]
        for entry in files
        if isinstance(entry, dict) and entry.get("hashes", {}).get("sha256")
    }


def _from_html(text: str) -> dict[str, str]:
    parser = _LinkParser()
    parser.feed(text)
    hashes: dict[str, str] = {}
    for href in parser.hrefs:
        parts = urlsplit(href)
        name, _, value = parts.fragment.partition("=")
        if name == "sha256" and value:
            hashes[unquote(PurePosixPath(parts.path).name)] = value.lower()
    return hashes


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)
