"""A real devpi-server for the whole test session, started as srcstacks starts it.

``devpi_index`` yields the :class:`ManagedIndex` of a managed index
(``srcstacks/cpu``) on a free loopback port, with its state in a temporary folder;
the server stops when the session ends. Registered for every test in tests/conftest.py.
Tests may upload to it; they must not change its settings.
"""

from __future__ import annotations

import base64
import hashlib
import io
import socket
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from srcstacks.index.managed import ManagedIndex, managed_index


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def devpi_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedIndex]:
    """A running managed devpi index, shared by the session (first use starts it: ~5 s)."""
    state_dir = tmp_path_factory.mktemp("devpi") / "index"
    with managed_index(state_dir, port=free_port(), index_name="cpu", report=print) as index:
        yield index


def tiny_wheel(
    directory: Path, project: str = "tinypkg", version: str = "1.0", value: int = 1
) -> Path:
    """A minimal, valid pure-Python wheel written to ``directory`` (``value``: its bytes)."""
    dist_info = f"{project}-{version}.dist-info"
    files = {
        f"{project}/__init__.py": f"VALUE = {value}\n",
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = ""
    with zipfile.ZipFile(directory / f"{project}-{version}-py3-none-any.whl", "w") as wheel:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record += f"{name},sha256={digest.decode()},{len(data)}\n"
            wheel.writestr(name, data)
        wheel.writestr(f"{dist_info}/RECORD", record + f"{dist_info}/RECORD,,\n")
        assert wheel.filename is not None
        return Path(wheel.filename)


def upload(index: ManagedIndex, wheel: Path, password: str | None = None) -> int:
    """Upload ``wheel`` with devpi's legacy upload API; the HTTP status (errors too)."""
    project, version = wheel.name.split("-")[:2]
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for name, value in ((":action", "file_upload"), ("name", project), ("version", version)):
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    body.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content";'
        f' filename="{wheel.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
    )
    body.write(wheel.read_bytes() + f"\r\n--{boundary}--\r\n".encode())
    token = base64.b64encode(f"{index.user}:{password or index.password}".encode()).decode()
    request = urllib.request.Request(
        index.base_url,
        data=body.getvalue(),
        method="POST",
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Authorization": f"Basic {token}",
        },
    )
    return http_status(request)


def http_status(request: urllib.request.Request | str) -> int:
    """The status of one request to a loopback server (no proxy)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=30) as reply:
            status: int = reply.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code


def fetch(url: str) -> str:
    """The body of a page of a loopback server (no proxy)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as reply:
        text: str = reply.read().decode()
        return text
