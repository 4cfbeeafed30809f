"""The managed private index: a real devpi-server, started, locked down, restarted, stopped.

Most tests share the session's ``devpi_index``; the restart, CLI and fault tests start
servers of their own (a devpi start takes a few seconds).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from srcstacks.errors import ToolStartError
from srcstacks.index.managed import ManagedIndex, managed_index, recorded_port
from srcstacks.layout.ownership import claim_dir
from srcstacks.tools.devpi import ADMIN_USER, index_config
from srcstacks.tools.devpi import _call as devpi_call
from srcstacks.tools.process import current_run, run_marked
from srcstacks.web import Credentials
from tests.conftest import REPO_ROOT, run_cli
from tests.devpi_fixtures import fetch, free_port, http_status, tiny_wheel, upload
from tests.e2e.test_failures import assert_one_clear_error

pytestmark = pytest.mark.e2e

SPEC = REPO_ROOT / "venvstacks.toml"


def credentials(index: ManagedIndex) -> dict[str, str]:
    data: dict[str, str] = json.loads(index.credentials_file.read_text())
    return data


def root_url(index: ManagedIndex) -> str:
    return index.base_url.removesuffix("srcstacks/cpu/")


def test_index_is_a_private_stage_with_no_bases_and_not_volatile(
    devpi_index: ManagedIndex,
) -> None:
    config = index_config(devpi_index.base_url)
    assert config["type"] == "stage"
    assert config["bases"] == []
    assert config["volatile"] is False
    assert config["acl_upload"] == ["srcstacks"]
    # Negative control: the same reader reports an index that is volatile and has bases.
    admin = Credentials(ADMIN_USER, credentials(devpi_index)["root_password"])
    control = root_url(devpi_index) + "srcstacks/negative-control"
    if http_status(control) == 404:
        settings = {"type": "stage", "bases": ["srcstacks/cpu"], "volatile": True}
        devpi_call("PUT", control, admin, settings)
    config = index_config(control)
    assert config["bases"] == ["srcstacks/cpu"]
    assert config["volatile"] is True


def test_only_root_can_change_the_index_or_add_users_and_indexes(
    devpi_index: ManagedIndex,
) -> None:
    """The upload credentials cannot give the index an upstream base or make it volatile."""
    owner = Credentials(devpi_index.user, devpi_index.password)
    root = root_url(devpi_index)
    index_url = devpi_index.base_url.rstrip("/")
    refused = [
        ("PATCH", index_url, owner, {"volatile": True}),
        ("PATCH", index_url, owner, {"bases": ["srcstacks/negative-control"]}),
        ("PUT", root + "srcstacks/another", owner, {"type": "stage", "bases": []}),
        ("PUT", root + "someone", None, {"password": "chosen-by-anyone"}),
    ]
    for method, url, login, payload in refused:
        with pytest.raises(Exception, match=r": 403 ") as caught:
            devpi_call(method, url, login, payload)
        assert owner.password not in str(caught.value)
    assert index_config(devpi_index.base_url)["volatile"] is False
    # Negative control: the same request as root is accepted (on a throwaway index).
    admin = Credentials(ADMIN_USER, credentials(devpi_index)["root_password"])
    scratch = root + "srcstacks/root-may-change"
    devpi_call("PUT", scratch, admin, {"type": "stage", "bases": [], "volatile": False})
    devpi_call("PATCH", scratch, admin, {"volatile": True})
    assert index_config(scratch)["volatile"] is True


def test_simple_page_serves_uploads_and_a_file_name_is_never_reused(
    devpi_index: ManagedIndex, tmp_path: Path
) -> None:
    assert "srcstacks/cpu" in fetch(devpi_index.simple_url)
    wheel = tiny_wheel(tmp_path, "simplepage_probe")
    assert upload(devpi_index, wheel) == 200
    page = fetch(devpi_index.simple_url + "simplepage-probe/")
    assert f"{wheel.name}#sha256={hashlib.sha256(wheel.read_bytes()).hexdigest()}" in page
    assert upload(devpi_index, wheel) == 200  # the same bytes again: a no-op
    (tmp_path / "other").mkdir()
    other = tiny_wheel(tmp_path / "other", "simplepage_probe", value=2)
    assert other.name == wheel.name and other.read_bytes() != wheel.read_bytes()
    assert upload(devpi_index, other) == 409  # non-volatile: the file name is taken
    assert upload(devpi_index, wheel, password="wrong") == 401  # negative control


def test_restart_reuses_credentials_index_and_wheels(tmp_path: Path) -> None:
    state_dir = tmp_path / "index"
    port = free_port()
    lines: list[str] = []
    wheel = tiny_wheel(tmp_path)
    with managed_index(state_dir, port=port, index_name="cpu", report=lines.append) as first:
        assert upload(first, wheel) == 200
    credentials_file = state_dir / "credentials.json"
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
    saved = credentials_file.read_text()
    assert recorded_port(state_dir) == port
    # No port asked for: the port of the last run, free again, is taken (its URL holds).
    with managed_index(state_dir, index_name="cpu", report=lines.append) as second:
        assert second.password == first.password
        assert second.base_url == first.base_url
        assert wheel.name in fetch(second.simple_url + "tinypkg/")
        assert upload(second, wheel) == 200  # same bytes again: accepted, password still good
    assert credentials_file.read_text() == saved
    assert (
        lines
        == [f"private index (devpi-server 6.20.3, managed): {first.base_url} (state: {state_dir})"]
        * 2
    )
    assert first.password not in repr(first)
    assert_no_password_in(state_dir, "\n".join(lines), credentials(first))
    # Each start handed devpi-server a secret of srcstacks' own (no 5 s key derivation).
    log = (state_dir / "devpi-server.log").read_text()
    assert f"Using secret file '{state_dir}/devpi/srcstacks-secret/secret'" in log
    assert "No secret file provided" not in log


def test_indexes_of_two_stacks_run_at_once_each_on_a_free_port(tmp_path: Path) -> None:
    first_state, second_state = tmp_path / "first", tmp_path / "second"
    with (
        managed_index(first_state, index_name="cpu", report=print) as first,
        managed_index(second_state, index_name="cpu", report=print) as second,
    ):
        assert first.base_url != second.base_url
        for index, state_dir in ((first, first_state), (second, second_state)):
            assert http_status(index.simple_url) == 200
            assert f"127.0.0.1:{recorded_port(state_dir)}/" in index.base_url
    # The first one's last port is taken now: it moves to a free one, and records it.
    taken_port = recorded_port(first_state)
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
        taken.bind(("127.0.0.1", taken_port or 0))
        taken.listen()
        with managed_index(first_state, index_name="cpu", report=print) as moved:
            assert f":{taken_port}/" not in moved.base_url
            assert http_status(moved.simple_url) == 200
    assert recorded_port(first_state) != taken_port


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
def test_a_loopback_that_is_down_is_one_line_at_once(tmp_path: Path) -> None:
    # A new network namespace has its loopback interface down: devpi-server would start
    # and never be reached (srcstacks waited its whole start timeout).
    result = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "srcstacks", "index", "serve", str(SPEC),
         "--work-dir", str(tmp_path / "w")],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert_one_clear_error(result.stderr, "where the index would listen: Network is unreachable")
    assert "(is the loopback interface down?)" in result.stderr
    assert not (tmp_path / "w" / "index" / "devpi").exists()  # refused before devpi ran


def assert_no_password_in(state_dir: Path, output: str, secrets: dict[str, str]) -> None:
    """No password of the credentials file in ``output`` nor in any log of the state dir."""
    logs = sorted(state_dir.glob("*.log"))
    assert {path.name for path in logs} == {"devpi-init.log", "devpi-server.log"}
    for secret in (secrets["password"], secrets["root_password"]):
        assert len(secret) >= 32
        assert secret not in output
        for log in logs:
            assert secret not in log.read_text()


def test_serve_command_on_a_port_in_use_is_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(
            "index", "serve", SPEC, "--work-dir", tmp_path / "w", "--port", port, check=False
        )
    assert result.returncode == 1
    assert_one_clear_error(
        result.stderr,
        f"127.0.0.1:{port} is in use (another index server?): choose another port with --port",
    )
    assert not (tmp_path / "w" / "index" / "devpi").exists()  # refused before anything ran


def test_serve_command_prints_urls_answers_and_stops_on_sigint(tmp_path: Path) -> None:
    port = free_port()
    command = [sys.executable, "-m", "srcstacks", "index", "serve", str(SPEC)]
    process = subprocess.Popen(
        [*command, "--work-dir", str(tmp_path / "w"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout_lines: list[str] = []
    ready = threading.Event()

    def read_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            stdout_lines.append(line)
            if line.startswith("simple API:"):
                ready.set()

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    try:
        assert ready.wait(90), "".join(stdout_lines)
        simple_url = f"http://127.0.0.1:{port}/srcstacks/cpu/+simple/"
        assert f"simple API:  {simple_url}\n" in stdout_lines
        assert http_status(simple_url) == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(10)
    assert process.stderr is not None
    stderr = process.stderr.read()
    state_dir = tmp_path / "w" / "index"
    assert f"(password in {state_dir / 'credentials.json'})" in "".join(stdout_lines)
    assert stderr.rstrip().endswith("private index stopped"), stderr
    with socket.socket() as probe:  # the server is gone with the command
        assert probe.connect_ex(("127.0.0.1", port)) != 0
    secrets = json.loads((state_dir / "credentials.json").read_text())
    assert_no_password_in(state_dir, "".join(stdout_lines) + stderr, secrets)


def test_server_that_cannot_start_is_named_with_its_log(tmp_path: Path) -> None:
    """State devpi cannot read: the error names the log instead of waiting a minute."""
    state_dir = claim_dir(tmp_path / "index", "index state")
    secrets = {"user": "srcstacks", "password": "p" * 43, "root_password": "r" * 43}
    descriptor = os.open(state_dir / "credentials.json", os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        json.dump(secrets, stream)
    server_dir = state_dir / "devpi"
    server_dir.mkdir()
    (server_dir / ".nodeinfo").write_text('{"role": "standalone", "uuid": "0123"}')
    (server_dir / ".serverversion").write_text("4")
    (server_dir / ".sqlite").write_bytes(b"not a database" * 100)
    with (
        pytest.raises(ToolStartError) as caught,
        managed_index(state_dir, port=free_port(), index_name="cpu", report=print),
    ):
        pass
    message = str(caught.value)
    assert "devpi-server stopped before answering on http://127.0.0.1:" in message
    assert f"(log: {state_dir / 'devpi-server.log'})" in message
    assert "\n" not in message


def test_tools_started_while_the_index_runs_keep_the_runs_marker(tmp_path: Path) -> None:
    # Inside a pipeline run, the server carries the index state's marker (so the next
    # start stops a leftover one), but Fromager and venvstacks keep the run's own.
    work = tmp_path / "work"
    with run_marked(work):
        with managed_index(tmp_path / "state", port=free_port(), index_name="cpu", report=print):
            assert current_run() == work
        assert current_run() == work
    assert current_run() is None
