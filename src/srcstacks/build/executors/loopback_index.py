"""The stack's built wheels and downloaded sdists as a simple index on 127.0.0.1.

Reads ``wheels-repo/downloads`` and ``wheels-repo/prebuilt`` (the wheels this stack
built or fetched) and ``sdists-repo/downloads`` (the sdists the resolve step fetched and
checked in place) of one Fromager folder, at every request, so a wheel moved there a
moment ago is served at once; writes nothing. Each parallel ``fromager build`` installs
its build dependencies from it (``--wheel-server-url``) and resolves its own sdist on it,
which it then finds already downloaded: no build reaches the network for either.

Pages are PEP 503 HTML (``/simple/<project>/``); files are served by their exact name
from those folders only (a name is looked up in a listing, never joined to a path).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)

from srcstacks.layout.fromager import FromagerDirs

_SDIST_SUFFIXES = (".tar.gz", ".zip")


def _project_of(name: str) -> str | None:
    try:
        if name.endswith(".whl"):
            return str(parse_wheel_filename(name)[0])
        if name.endswith(_SDIST_SUFFIXES):
            return str(parse_sdist_filename(name)[0])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None
    return None


class _Files:
    def __init__(self, folders: tuple[Path, ...]) -> None:
        self.folders = folders

    def listing(self) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for folder in self.folders:
            if folder.is_dir():
                for path in folder.iterdir():
                    if path.is_file() and _project_of(path.name) is not None:
                        found.setdefault(path.name, path)
        return found


def _handler(files: _Files) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        head = False

        def do_HEAD(self) -> None:
            self._answer(head=True)

        def do_GET(self) -> None:
            self._answer(head=False)

        def _answer(self, *, head: bool) -> None:
            self.head = head
            parts = [unquote(part) for part in self.path.split("?")[0].split("/") if part]
            if len(parts) == 2 and parts[0] == "simple":
                self._project_page(canonicalize_name(parts[1]))
            elif len(parts) == 2 and parts[0] == "files":
                self._file(parts[1])
            else:
                self.send_error(404)

        def _project_page(self, project: str) -> None:
            names = sorted(n for n in files.listing() if _project_of(n) == project)
            if not names:
                self.send_error(404)
                return
            links = "".join(
                f'<a href="/files/{quote(name)}">{html.escape(name)}</a><br/>\n' for name in names
            )
            self._send(
                f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode(),
                "text/html",
            )

        def _file(self, name: str) -> None:
            path = files.listing().get(name)
            if path is None:
                self.send_error(404)
                return
            self._send(path.read_bytes(), "application/octet-stream")

        def _send(self, body: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not self.head:
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet: the builds' own logs say what they fetched

    return Handler


@contextmanager
def serving(dirs: FromagerDirs) -> Iterator[str]:
    """Serve ``dirs``' wheels and sdists on a free port of 127.0.0.1; yield the index URL."""
    files = _Files((dirs.built_wheels, dirs.prebuilt_wheels, dirs.downloaded_sdists))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(files))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="srcstacks-index", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
