"""The managed index's credentials file: made private, reused, refused when exposed.

Unit tests of srcstacks' own logic; no devpi-server runs here (see
tests/e2e/test_devpi_server.py for the real server).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from srcstacks.errors import StateError
from srcstacks.index.managed import ManagedIndex, _credentials, managed_index
from srcstacks.layout.ownership import claim_dir


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Files are made with exactly the mode asked for (no umask to hide a lax one)."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_credentials_file_is_owner_only_from_the_start(tmp_path: Path, open_umask: None) -> None:
    control = tmp_path / "control.json"
    control.write_text("{}")  # how a plain write comes out with this umask
    assert stat.S_IMODE(control.stat().st_mode) & 0o077

    made = _credentials(tmp_path / "credentials.json", tmp_path / "devpi")
    assert stat.S_IMODE((tmp_path / "credentials.json").stat().st_mode) == 0o600
    assert len(made.password) >= 40 and made.password != made.root_password
    assert sorted(path.name for path in tmp_path.iterdir()) == ["control.json", "credentials.json"]


def test_credentials_are_made_once_and_reused(tmp_path: Path) -> None:
    first = _credentials(tmp_path / "credentials.json", tmp_path / "devpi")
    again = _credentials(tmp_path / "credentials.json", tmp_path / "devpi")
    assert again == first
    other = _credentials(tmp_path / "other.json", tmp_path / "devpi")
    assert other.password != first.password  # negative control: each new file is new


def test_credentials_readable_by_others_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    _credentials(path, tmp_path / "devpi")
    path.chmod(0o644)
    with pytest.raises(StateError, match=r"can be read by other users \(mode 0644\)") as caught:
        _credentials(path, tmp_path / "devpi")
    assert f"chmod 600 {path}" in str(caught.value)


def test_unreadable_credentials_are_named(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b'{"user": "srcstacks"}')
    os.close(fd)
    with pytest.raises(StateError, match="not a credentials file srcstacks wrote"):
        _credentials(path, tmp_path / "devpi")


def test_lost_credentials_of_an_existing_index_stop_before_devpi_runs(tmp_path: Path) -> None:
    state_dir = claim_dir(tmp_path / "index", "index state")
    (state_dir / "devpi").mkdir()
    (state_dir / "devpi" / ".nodeinfo").write_text("{}")  # devpi state made with a password
    with (
        pytest.raises(StateError, match=r"credentials.json is missing but .*devpi holds an index"),
        managed_index(state_dir, port=3141, index_name="cpu", report=print),
    ):
        pass
    assert not (state_dir / "devpi-server.log").exists()
    assert not (state_dir / "credentials.json").exists()


def test_managed_index_repr_hides_the_password() -> None:
    index = ManagedIndex("http://127.0.0.1:3141/srcstacks/cpu/", "srcstacks", "s3cret-value")
    assert "s3cret-value" not in repr(index)
    assert index.simple_url == "http://127.0.0.1:3141/srcstacks/cpu/+simple/"
