"""Every HTTP request srcstacks makes, and every package index page it reads.

One place for the three policies a request needs:

- **Timeouts.** :data:`TIMEOUT_SECONDS` for every request (one socket timeout: urllib
  has no separate connect timeout); :func:`unreachable` checks that a host answers at
  all within :data:`CONNECT_SECONDS`, before a tool that retries for minutes starts.
- **Proxies.** The environment's proxy settings (``HTTP(S)_PROXY``, ``NO_PROXY``) for
  remote hosts, as every Python tool honours them; never a proxy for a loopback server
  (a managed index, the loopback wheel index): the proxy could not reach it and would
  see the password.
- **Credentials.** HTTP Basic from :class:`Credentials` the caller hands over (the private
  index's user and password come from the environment, :mod:`srcstacks.index.private`);
  never in a URL, never in a message: errors name the URL and the user only.

The standard library's urllib, not httpx or requests: this module also runs inside
Fromager's interpreter (:mod:`srcstacks.tools.build_probe`), whose environment holds
Fromager's dependencies, not srcstacks'. Index pages (PEP 503 HTML, PEP 691 JSON) are
read by pypi-simple and upload forms encoded by urllib3, both Fromager dependencies too.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import hashlib
import ipaddress
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.client import HTTPException
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import urldefrag, urljoin, urlsplit

TIMEOUT_SECONDS = 120
CONNECT_SECONDS = 10
# Requests :func:`each_overlapping` keeps in flight: a stack's index pages and files come
# from one or two hosts, which serve this many from one client without complaint.
OVERLAPPING_REQUESTS = 8
JSON_PAGE = "application/vnd.pypi.simple.v1+json"
_PAGE_ACCEPT = f"{JSON_PAGE}, text/html;q=0.1"


class WebError(Exception):
    """A request that got no answer, or an answer that is an HTTP error.

    ``status`` is the HTTP status (``None``: no answer at all); ``reason`` a few words.
    """

    def __init__(self, url: str, reason: str, status: int | None = None, body: bytes = b"") -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status
        self.body = body


class CutOffError(WebError):
    """A body shorter than the ``Content-Length`` its server announced."""


@dataclass(frozen=True)
class Credentials:
    """Who a request is sent as (HTTP Basic). The password never shows in ``repr``."""

    user: str
    password: str = field(repr=False)


class Response(Protocol):
    """An open answer: an ``http.client.HTTPResponse`` (or for ``file:`` an ``addinfourl``)."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Message: ...

    def read(self, amount: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Reply:
    """An answer with a 2xx status: its status, headers and whole body."""

    status: int
    headers: Message
    body: bytes

    @property
    def content_type(self) -> str:
        return str(self.headers.get("Content-Type", ""))


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    host = urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def opener_for(url: str) -> urllib.request.OpenerDirector:
    """The environment's proxies for a remote host; none for a loopback one."""
    if is_loopback(url):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def request(
    method: str,
    url: str,
    *,
    accept: str = "*/*",
    data: bytes | None = None,
    content_type: str | None = None,
    credentials: Credentials | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> Reply:
    """One request, its whole answer read; :class:`WebError` for no answer or a non-2xx."""
    with _opened(method, url, accept, data, content_type, credentials, timeout) as response:
        try:
            body = response.read()
        except (OSError, HTTPException) as exc:
            raise WebError(url, _reason(exc)) from None
        return Reply(response.status, response.headers, body)


def get(url: str, *, accept: str = "*/*", credentials: Credentials | None = None) -> Reply:
    """``GET url``."""
    return request("GET", url, accept=accept, credentials=credentials)


def download(url: str, target: Path, *, sha256: str | None = None) -> str:
    """Write ``url``'s body to ``target``; return its sha256.

    A body shorter than its ``Content-Length`` (a dropped connection, which urllib
    returns as if it were whole) is :class:`CutOffError`; when ``sha256`` is given, a
    body of other bytes is :class:`WebError`. ``target`` then holds what came, for the
    caller to discard.
    """
    digest = hashlib.sha256()
    written = 0
    with (
        _opened("GET", url, "*/*", None, None, None, TIMEOUT_SECONDS) as response,
        target.open("wb") as out,
    ):
        announced = str(response.headers.get("Content-Length", "") or "")
        try:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
                written += len(chunk)
        except (OSError, HTTPException) as exc:
            raise WebError(url, _reason(exc)) from None
    if announced.isdigit() and written != int(announced):
        raise CutOffError(url, f"the download was cut off after {written} of {announced} bytes")
    found = digest.hexdigest()
    if sha256 is not None and found != sha256.lower():
        raise WebError(
            url, f"the download has sha256 {found[:12]}..., the index published {sha256[:12]}..."
        )
    return found


def multipart_form(
    fields: dict[str, str], file_field: str, filename: str, data: bytes
) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body with ``fields`` and one file; and its content type."""
    from urllib3 import encode_multipart_formdata

    form: dict[str, str | tuple[str, bytes, str]] = dict(fields)
    form[file_field] = (filename, data, "application/octet-stream")
    return encode_multipart_formdata(form)


@dataclass(frozen=True)
class PageFile:
    """One file a project page lists: its name, absolute URL (no fragment), sha256."""

    filename: str
    url: str
    sha256: str


def project_page_url(index_url: str, project: str) -> str:
    """``<index>/<project>/``, as the simple API lays it out."""
    return urljoin(index_url.rstrip("/") + "/", f"{project}/")


def project_files(
    page_url: str, *, credentials: Credentials | None = None, unhashed: bool = False
) -> dict[str, PageFile]:
    """Every file the project page at ``page_url`` lists with a sha256, by file name
    (with ``unhashed``, those without one too, their ``sha256`` empty).

    PEP 691 JSON when the index offers it, else PEP 503 HTML, both read by pypi-simple.
    A page that is not a project page is :class:`WebError`.
    """
    from pypi_simple import ProjectPage

    reply = get(page_url, accept=_PAGE_ACCEPT, credentials=credentials)
    project = urlsplit(page_url).path.rstrip("/").rsplit("/", 1)[-1]
    try:
        if "json" in reply.content_type:
            page = ProjectPage.from_json_data(json.loads(reply.body), base_url=page_url)
        else:
            page = ProjectPage.from_html(project, reply.body, base_url=page_url)
    except Exception as exc:  # pypi-simple raises pydantic's and bs4's own errors
        raise WebError(page_url, f"not a project page ({type(exc).__name__})") from None
    return {
        package.filename: PageFile(
            package.filename,
            urldefrag(package.url).url,
            package.digests.get("sha256", "").lower(),
        )
        for package in page.packages
        if unhashed or package.digests.get("sha256")
    }


def unreachable(url: str) -> str:
    """Why ``url``'s host cannot be reached from here, in a few words (``""``: it can).

    Asks what every download from it needs first, without retrying: its host's name
    resolves and a TCP connection opens (to the proxy the environment names for it, if
    any, which then does both). Fromager retries a failed download with backoff, so
    with no network a build would wait for minutes before saying anything.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    via = ""
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not is_loopback(url) and not urllib.request.proxy_bypass(host):
        proxy_parts = urlsplit(proxy if "//" in proxy else f"//{proxy}")
        host, port, via = proxy_parts.hostname or "", proxy_parts.port or 80, " (its proxy)"
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        return f"the name {host}{via} does not resolve ({getattr(exc, 'strerror', exc)})"
    try:
        with socket.create_connection((host, port), timeout=CONNECT_SECONDS):
            return ""
    except OSError as exc:
        return f"no connection to {host}:{port}{via} ({exc.strerror or exc})"


@contextlib.contextmanager
def _opened(
    method: str,
    url: str,
    accept: str,
    data: bytes | None,
    content_type: str | None,
    credentials: Credentials | None,
    timeout: float,
) -> Iterator[Response]:
    headers = {"Accept": accept}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if credentials is not None:
        token = base64.b64encode(f"{credentials.user}:{credentials.password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    prepared = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        response = opener_for(url).open(prepared, timeout=timeout)
    except urllib.error.HTTPError as exc:
        body = exc.read()
        raise WebError(url, f"HTTP {exc.code} ({exc.reason})", exc.code, body) from None
    except (OSError, HTTPException) as exc:
        raise WebError(url, _reason(exc)) from None
    with response:
        yield response


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "reason", None) or exc)


_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


def each_overlapping(call: Callable[[_Item], _Result], items: Iterable[_Item]) -> list[_Result]:
    """``[call(item) for item in items]``, with up to :data:`OVERLAPPING_REQUESTS` calls
    waiting on the network at once: the results in order, and the first exception in
    that order raised, as the plain loop would."""
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=OVERLAPPING_REQUESTS, thread_name_prefix="srcstacks-web"
    ) as pool:
        return list(pool.map(call, items))
