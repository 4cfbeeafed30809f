"""Read a project's page on a package index (PEP 503 HTML or PEP 691 JSON): file hashes
and URLs; download a listed file, checked against the sha256 the index published.

Only the standard library is used, so the check works with any index a user points
Fromager at: PyPI, a devpi or Artifactory mirror, a plain folder served over HTTP.
"""

from __future__ import annotations

import hashlib
import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from srcstacks.fsutil import atomic_path

PYPI_SIMPLE = "https://pypi.org/simple/"
_ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"
_TIMEOUT_SECONDS = 60
_CONNECT_SECONDS = 10


def unreachable(index_url: str) -> str:
    """Why ``index_url`` cannot be reached from here, in a few words (``""``: it can).

    Asks what every download from it needs first, without retrying: its host's name
    resolves and a TCP connection opens (to the proxy the environment names for it, if
    any, which then does both). Fromager retries a failed download with backoff, so
    with no network a build would wait for minutes before saying anything.
    """
    parts = urlsplit(index_url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    via = ""
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_parts = urlsplit(proxy if "//" in proxy else f"//{proxy}")
        host, port, via = proxy_parts.hostname or "", proxy_parts.port or 80, " (its proxy)"
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return f"the name {host}{via} does not resolve ({getattr(exc, 'strerror', exc)})"
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_SECONDS):
            return ""
    except OSError as exc:
        return f"no connection to {host}:{port}{via} ({exc.strerror or exc})"


class IndexReadError(Exception):
    """The index page could not be fetched or understood."""


def project_page_url(index_url: str, project: str) -> str:
    """``<index>/<project>/``, as the simple API lays it out."""
    return urljoin(index_url.rstrip("/") + "/", f"{project}/")


@dataclass(frozen=True)
class PublishedFile:
    """One file an index lists for a project: its name, absolute URL and sha256."""

    filename: str
    url: str  # without the #sha256= fragment
    sha256: str


def published_sha256(index_url: str, project: str) -> dict[str, str]:
    """``{filename: sha256}`` for every file the index lists for ``project`` with a sha256."""
    return {name: item.sha256 for name, item in published_files(index_url, project).items()}


def published_files(index_url: str, project: str) -> dict[str, PublishedFile]:
    """Every file the index lists for ``project`` with a sha256, by file name."""
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
    return _from_html(url, text)


def download_checked(item: PublishedFile, target: Path) -> None:
    """Download ``item`` to ``target`` (atomically); refuse bytes of another sha256."""
    digest = hashlib.sha256()
    try:
        with (
            atomic_path(target) as tmp,
            urllib.request.urlopen(item.url, timeout=_TIMEOUT_SECONDS) as response,
            tmp.open("wb") as stream,
        ):
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                stream.write(chunk)
            if digest.hexdigest() != item.sha256:
                raise IndexReadError(
                    f"{item.url}: the download has sha256 {digest.hexdigest()[:12]}..., the"
                    f" index published {item.sha256[:12]}..."
                )
    except (urllib.error.URLError, OSError) as exc:
        raise IndexReadError(f"cannot download {item.url}: {getattr(exc, 'reason', exc)}") from None


def _from_json(url: str, text: str) -> dict[str, PublishedFile]:
    try:
        files = json.loads(text).get("files", [])
    except (ValueError, AttributeError):
        raise IndexReadError(f"{url}: not a PEP 691 project page") from None
    return {
        entry["filename"]: PublishedFile(
            entry["filename"],
            _without_fragment(urljoin(url, entry.get("url", ""))),
            entry["hashes"]["sha256"].lower(),
        )
        for entry in files
        if isinstance(entry, dict) and entry.get("hashes", {}).get("sha256")
    }


def _from_html(url: str, text: str) -> dict[str, PublishedFile]:
    parser = _LinkParser()
    parser.feed(text)
    found: dict[str, PublishedFile] = {}
    for href in parser.hrefs:
        parts = urlsplit(href)
        name, _, value = parts.fragment.partition("=")
        if name == "sha256" and value:
            filename = unquote(PurePosixPath(parts.path).name)
            found[filename] = PublishedFile(
                filename, _without_fragment(urljoin(url, href)), value.lower()
            )
    return found


def _without_fragment(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(fragment=""))


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)
