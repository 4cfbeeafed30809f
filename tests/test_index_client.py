"""Reading sha256s from index pages (PEP 503 HTML and PEP 691 JSON), served for real."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest

from srcstacks.index.client import (
    IndexReadError,
    download_checked,
    published_files,
    published_sha256,
)
from srcstacks.web import project_page_url, unreachable
from tests.index_server import serve_sdist


def test_project_page_url_joins_with_or_without_trailing_slash() -> None:
    assert project_page_url("https://x.test/simple", "idna") == "https://x.test/simple/idna/"
    assert project_page_url("https://x.test/simple/", "idna") == "https://x.test/simple/idna/"


def test_html_page_hashes_are_read(tmp_path: Path) -> None:
    sdist = tmp_path / "demo-1.0.tar.gz"
    sdist.write_bytes(b"not really a tarball")
    with serve_sdist("demo", sdist) as index_url:
        hashes = published_sha256(index_url, "demo")
    assert hashes == {sdist.name: hashlib.sha256(sdist.read_bytes()).hexdigest()}


def test_wrong_hash_is_reported_as_published(tmp_path: Path) -> None:
    sdist = tmp_path / "demo-1.0.tar.gz"
    sdist.write_bytes(b"content")
    with serve_sdist("demo", sdist, mode="wrong-sha256") as index_url:
        hashes = published_sha256(index_url, "demo")
    assert hashes[sdist.name] != hashlib.sha256(b"content").hexdigest()


def test_missing_project_is_a_read_error(tmp_path: Path) -> None:
    sdist = tmp_path / "demo-1.0.tar.gz"
    sdist.write_bytes(b"content")
    with serve_sdist("demo", sdist) as index_url, pytest.raises(IndexReadError, match="other"):
        published_sha256(index_url, "other")


def test_json_page_hashes_are_read(tmp_path: Path) -> None:
    sdist = tmp_path / "demo-1.0.tar.gz"
    sdist.write_bytes(b"content")
    with serve_sdist("demo", sdist, mode="json") as index_url:
        found = published_files(index_url, "demo")
    assert list(found) == [sdist.name]  # the entry without a sha256 is left out
    assert found[sdist.name].sha256 == hashlib.sha256(b"content").hexdigest()
    # Relative URLs are resolved against the page, and the fragment is dropped.
    assert found[sdist.name].url == index_url.replace("/simple/", f"/files/{sdist.name}")


def test_a_listed_file_downloads_checked_against_its_published_sha256(tmp_path: Path) -> None:
    sdist = tmp_path / "demo-1.0.tar.gz"
    sdist.write_bytes(b"the bytes the index serves")
    with serve_sdist("demo", sdist) as index_url:
        item = published_files(index_url, "demo")[sdist.name]
        assert item.url.startswith("http://127.0.0.1:") and item.url.endswith(f"/{sdist.name}")
        download_checked(item, tmp_path / "got" / sdist.name)
    assert (tmp_path / "got" / sdist.name).read_bytes() == sdist.read_bytes()


def test_a_download_with_other_bytes_than_published_is_refused_and_not_kept(
    tmp_path: Path,
) -> None:
    sdist = tmp_path / "demo-1.0.tar.gz"
    sdist.write_bytes(b"content")
    target = tmp_path / "got" / sdist.name
    with serve_sdist("demo", sdist, mode="wrong-sha256") as index_url:
        item = published_files(index_url, "demo")[sdist.name]
        with pytest.raises(IndexReadError, match="the index published"):
            download_checked(item, target)
    assert not target.exists()
    assert not [path for path in target.parent.iterdir() if path.name.endswith(".part")]


def test_an_index_out_of_reach_is_said_at_once_and_one_in_reach_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert unreachable(f"http://127.0.0.1:{port}/simple/") == ""
    # Nothing listens there any more.
    assert unreachable(f"http://127.0.0.1:{port}/simple/").startswith(
        f"no connection to 127.0.0.1:{port} ("
    )
    assert unreachable("https://pypi.invalid/simple/").startswith(
        "the name pypi.invalid does not resolve ("
    )
    # Through a proxy, the proxy is what must answer (it resolves the index's name).
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{port}")
    assert unreachable("https://pypi.invalid/simple/").startswith(
        f"no connection to 127.0.0.1:{port} (its proxy) ("
    )
