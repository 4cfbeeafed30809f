"""srcstacks.web, the one module that makes HTTP requests: its proxy, credential and
error policies, against a real server on 127.0.0.1."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from srcstacks import web

BODY = b"the file's bytes"


@contextmanager
def serving() -> Iterator[tuple[str, list[dict[str, str]], list[bytes]]]:
    """A server that answers ``/ok``, ``/missing`` (404) and ``/cut`` (a short body);
    yields its URL, the headers of each request and the body of each POST."""
    headers: list[dict[str, str]] = []
    posted: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers.append(dict(self.headers.items()))
            if self.path == "/ok":
                self._send(200, BODY)
            elif self.path == "/cut":
                self.send_response(200)
                self.send_header("Content-Length", str(len(BODY) + 100))
                self.end_headers()
                self.wfile.write(BODY)
                self.close_connection = True
            else:
                self._send(404, b'{"message": "no such thing"}')

        def do_POST(self) -> None:
            headers.append(dict(self.headers.items()))
            posted.append(self.rfile.read(int(self.headers["Content-Length"])))
            self._send(200, b"")

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", headers, posted
    finally:
        server.shutdown()
        server.server_close()


def test_a_loopback_server_is_never_reached_through_a_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A proxy nobody listens on: a request sent through it would fail.
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with serving() as (url, _, _):
        assert web.get(url + "/ok").body == BODY
    assert web.is_loopback("http://localhost:3141/") and web.is_loopback("http://[::1]:80/")
    assert not web.is_loopback("https://pypi.org/simple/")


def test_credentials_go_as_basic_auth_and_never_show() -> None:
    credentials = web.Credentials("ci", "s3cret-value")
    assert "s3cret-value" not in repr(credentials)
    with serving() as (url, headers, _):
        web.get(url + "/ok", credentials=credentials)
        web.get(url + "/ok")
    token = base64.b64encode(b"ci:s3cret-value").decode()
    assert headers[0]["Authorization"] == f"Basic {token}"
    assert "Authorization" not in headers[1]


def test_an_http_error_and_no_answer_are_one_error_each() -> None:
    with serving() as (url, _, _), pytest.raises(web.WebError) as answered:
        web.get(url + "/missing")
    assert answered.value.status == 404
    assert answered.value.body == b'{"message": "no such thing"}'
    assert str(answered.value) == f"{url}/missing: HTTP 404 (Not Found)"
    with pytest.raises(web.WebError) as unanswered:
        web.get(url + "/ok")  # the server is gone
    assert unanswered.value.status is None
    assert "\n" not in str(unanswered.value)


def test_a_cut_off_or_other_download_is_said_so(tmp_path: Path) -> None:
    target = tmp_path / "file"
    with serving() as (url, _, _):
        with pytest.raises(web.CutOffError, match=r"cut off after 16 of 116 bytes"):
            web.download(url + "/cut", target)
        with pytest.raises(web.WebError, match="the index published 000000000000"):
            web.download(url + "/ok", target, sha256="0" * 64)
        found = web.download(url + "/ok", target)
    assert target.read_bytes() == BODY
    assert len(found) == 64


def test_an_upload_form_carries_its_fields_and_file() -> None:
    body, content_type = web.multipart_form(
        {":action": "file_upload", "name": "idna"}, "content", "idna-3.11.whl", BODY
    )
    with serving() as (url, headers, posted):
        web.request("POST", url + "/", data=body, content_type=content_type)
    assert headers[0]["Content-Type"] == content_type
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + posted[0]
    )
    parts = {
        part.get_param("name", header="content-disposition"): part for part in message.iter_parts()
    }
    assert parts[":action"].get_content() == "file_upload"
    assert parts["content"].get_filename() == "idna-3.11.whl"
    assert parts["content"].get_payload(decode=True) == BODY


def test_requests_overlap_and_come_back_in_order_with_the_first_error_in_order() -> None:
    """A stack's sdist checks and parity downloads wait on the network side by side."""
    together = threading.Barrier(3, timeout=30)  # fails if the calls ran one at a time

    def call(item: int) -> int:
        together.wait()
        return item * 10

    assert web.each_overlapping(call, [3, 1, 2]) == [30, 10, 20]

    def failing(item: int) -> int:
        if item in (2, 3):
            raise ValueError(f"failed {item}")
        return item

    with pytest.raises(ValueError, match="failed 2"):
        web.each_overlapping(failing, [1, 2, 3])
