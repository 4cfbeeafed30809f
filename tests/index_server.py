"""A real package index on loopback that can misbehave on purpose, for fault tests.

It serves one project's PEP 503 page and its sdist. ``mode`` chooses the fault:
``"ok"``, ``"wrong-sha256"`` (the page publishes a hash the file does not have) or
``"cut-off"`` (the download stops half way, with the full length announced); ``"json"``
serves the page as PEP 691 JSON instead, its file URL relative and with a fragment, and
one more entry without a sha256; with ``upload_time``, each JSON entry has that PEP 700
``upload-time``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@contextmanager
def serve_sdist(
    project: str, sdist: Path, mode: str = "ok", upload_time: str | None = None
) -> Iterator[str]:
    """Serve ``sdist`` as ``project``'s only file; yield the index URL (``.../simple/``)."""
    data = sdist.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    if mode == "wrong-sha256":
        sha256 = hashlib.sha256(data + b"tampered").hexdigest()
    page = (
        f'<!DOCTYPE html><html><body><a href="/files/{sdist.name}#sha256={sha256}">'
        f"{sdist.name}</a></body></html>"
    ).encode()

    files = [
        {"filename": sdist.name, "url": f"../../files/{sdist.name}#x=1",
         "hashes": {"sha256": sha256.upper()}},
        {"filename": f"{sdist.name}.asc", "url": f"../../files/{sdist.name}.asc", "hashes": {}},
    ]  # fmt: skip
    if upload_time:
        for entry in files:
            entry["upload-time"] = upload_time
    meta = {"api-version": "1.1" if upload_time else "1.0"}
    json_page = json.dumps({"meta": meta, "name": project, "files": files})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.rstrip("/") == f"/simple/{project}" and mode == "json":
                self._send(json_page.encode(), "application/vnd.pypi.simple.v1+json")
            elif self.path.rstrip("/") == f"/simple/{project}":
                self._send(page, "text/html")
            elif self.path == f"/files/{sdist.name}":
                if mode == "cut-off":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                else:
                    self._send(data, "application/octet-stream")
            else:
                self.send_error(404)

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()
