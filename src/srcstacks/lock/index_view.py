"""The private index as the lock sees it: only the wheels this stack published.

An index holds more than one stack's current build: the wheels of a patch edited since
(a build tag of their own, :mod:`srcstacks.tools.build_tags`), another stack's, a
selective stack's upstream binaries. uv, given the whole index, picks any wheel of the
version it resolves, not the one this build published. So ``venvstacks lock`` runs
against a view of the index on ``127.0.0.1`` (a free port, for the length of the lock)
whose project pages list exactly the wheels in the wheel dir's provenance, each with
its sha256, and whose file links answer with a redirect to the index's own file. The
links keep the file's path under the index's base URL, so the lock made through the
view is the lock made on the index itself once made portable
(:mod:`srcstacks.tools.pylock_urls`).

Reads the index's project pages (once, before the view starts) and the manifest; writes
nothing. A published wheel missing from the index, or there with other bytes, stops
the lock naming the wheel and the command that fixes it.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from packaging.utils import canonicalize_name

from srcstacks.errors import StateError
from srcstacks.index.private import IndexLocation, project_files
from srcstacks.state.provenance import Manifest

_HOST = "127.0.0.1"


@contextmanager
def published_only(location: IndexLocation, manifest: Manifest) -> Iterator[IndexLocation]:
    """Serve the view of ``location`` that lists only ``manifest``'s wheels; yield it."""
    pages, targets = _listing(location, manifest)
    server = ThreadingHTTPServer((_HOST, 0), _handler(_simple_path(location), pages, targets))
    thread = threading.Thread(target=server.serve_forever, name="lock-view", daemon=True)
    thread.start()
    try:
        base = f"http://{_HOST}:{server.server_address[1]}/"
        yield IndexLocation(base_url=base, simple_url=base + _simple_path(location))
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _simple_path(location: IndexLocation) -> str:
    """The simple API's path under the base URL: ``+simple/`` (devpi), ``simple/``."""
    return location.simple_url[len(location.base_url) :]


def _listing(
    location: IndexLocation, manifest: Manifest
) -> tuple[dict[str, list[tuple[str, str, str]]], dict[str, str]]:
    """``{project: [(filename, link, sha256)]}`` and ``{path: the index's URL}``.

    A link is the file's path under the index's base URL (so the view serves it at the
    same path), or the index's own URL for a file outside it.
    """
    pages: dict[str, list[tuple[str, str, str]]] = {}
    targets: dict[str, str] = {}
    for project in sorted(
        {canonicalize_name(record.project) for record in manifest.wheels.values()}
    ):
        on_index = project_files(location, project)
        for filename, record in sorted(manifest.wheels.items()):
            if canonicalize_name(record.project) != project:
                continue
            found = on_index.get(filename)
            if found is None or found.sha256 != record.sha256:
                problem = "is not on" if found is None else f"has sha256 {found.sha256} on"
                raise StateError(
                    f"{filename} {problem} {location.simple_url}, but the wheel dir's"
                    f" provenance records sha256 {record.sha256}: run 'srcstacks"
                    " publish-wheels' (or 'srcstacks build')"
                )
            if found.url.startswith(location.base_url):
                path = found.url[len(location.base_url) :].split("#")[0]
                targets[path] = found.url.split("#")[0]
                link = path
            else:
                link = found.url.split("#")[0]
            pages.setdefault(project, []).append((filename, link, record.sha256))
    return pages, targets


def _page(project: str, files: list[tuple[str, str, str]], depth: int) -> bytes:
    """A PEP 503 page; relative links climb ``depth`` folders back to the base URL."""
    up = "../" * depth
    links = "".join(
        f'<a href="{html.escape(link if "://" in link else up + link)}#sha256={sha256}">'
        f"{html.escape(filename)}</a><br/>\n"
        for filename, link, sha256 in files
    )
    title = html.escape(project)
    head = f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body>\n"
    return (head + links + "</body></html>\n").encode()


def _handler(
    simple_path: str, pages: dict[str, list[tuple[str, str, str]]], targets: dict[str, str]
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, *, body: bool) -> None:
            path = unquote(self.path.split("?")[0].split("#")[0]).lstrip("/")
            if path in targets:
                self.send_response(302)
                self.send_header("Location", targets[path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            name = path[len(simple_path) :].strip("/") if path.startswith(simple_path) else ""
            project = canonicalize_name(name) if name and "/" not in name else ""
            if project not in pages:
                self.send_error(404)
                return
            depth = len([part for part in path.split("/") if part])
            page = _page(project, pages[project], depth)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            if body:
                self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:
            """Silent: uv's requests are not srcstacks' output."""

    return Handler
