"""devpi-server's start options: a fresh private secret, and the cheap key derivation.

The secret file is srcstacks' own logic (no server runs); the options are checked
against the pinned devpi-server's own argument parser, since they are hidden ones.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from srcstacks.tools.devpi import ARGON2_OPTIONS, SECRET_FOLDER, new_secret_file
from srcstacks.tools.process import scripts_dir


@pytest.fixture
def group_writable_umask() -> Iterator[None]:
    """A umask many desktops have (002): plain folders come out group-writable."""
    previous = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(previous)


def test_each_start_gets_a_fresh_secret_only_its_owner_reads(
    tmp_path: Path, group_writable_umask: None
) -> None:
    control = tmp_path / "control"
    control.mkdir()
    assert stat.S_IMODE(control.stat().st_mode) & 0o020  # how a plain mkdir comes out

    first = new_secret_file(tmp_path)
    first_secret = first.read_text()
    second = new_secret_file(tmp_path)
    assert second == first == tmp_path / SECRET_FOLDER / "secret"
    assert second.read_text() != first_secret
    assert len(first_secret) == 64 and int(first_secret, 16) >= 0  # 32 random bytes
    # devpi-server refuses a secret that others can read or whose folder they can write.
    assert stat.S_IMODE(second.stat().st_mode) == 0o600
    assert stat.S_IMODE(second.parent.stat().st_mode) == 0o700
    assert [path.name for path in second.parent.iterdir()] == ["secret"]  # no leftovers


def test_the_pinned_devpi_server_takes_the_key_derivation_options() -> None:
    server = str(scripts_dir() / "devpi-server")
    taken = subprocess.run(
        [server, *ARGON2_OPTIONS, "--version"], capture_output=True, text=True, check=False
    )
    assert taken.returncode == 0, taken.stderr
    assert taken.stdout.strip() == "6.20.3"
    # Negative control: an option devpi-server does not have stops it.
    refused = subprocess.run(
        [server, "--argon2-no-such-option", "1", "--version"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
