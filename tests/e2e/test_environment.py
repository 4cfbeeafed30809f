"""The user's environment reaches no build, children die with srcstacks, paths with spaces.

One real build (the demo without the greeter app: markupsafe's C extension with its
patch, idna with flit_core as its backend) runs in a work dir whose path holds a space
and a non-ASCII letter, from an environment set up to hijack it: a fake
``flit_core-3.99.0`` wheel on ``UV_FIND_LINKS`` and ``PIP_FIND_LINKS``, index variables
pointing at a loopback server that records every request, and compiler flags that
would break any compile they reached. The kill test then reuses that stack.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from base64 import urlsafe_b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from srcstacks.spec.config import Overrides, load_config
from srcstacks.tools.venvstacks import VENVSTACKS_MODULE
from tests.conftest import copy_demo_stack

pytestmark = pytest.mark.e2e

SECRET = "s3cret-token-never-printed"
FAKE_VERSION = "3.99.0"


def _record_line(name: str, data: bytes) -> str:
    digest = urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_fake_flit_core(folder: Path, marker: Path) -> Path:
    """A valid ``flit_core-3.99.0`` wheel whose build backend writes ``marker`` when imported."""
    folder.mkdir(parents=True, exist_ok=True)
    dist_info = f"flit_core-{FAKE_VERSION}.dist-info"
    files = {
        "flit_core/__init__.py": b"",
        "flit_core/buildapi.py": (
            f"open({str(marker)!r}, 'w').write('the fake flit_core ran')\n"
            "raise SystemExit('fake flit_core: not a real build backend')\n"
        ).encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: flit_core\nVersion: {FAKE_VERSION}\n"
        ).encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [_record_line(name, data) for name, data in files.items()]
    files[f"{dist_info}/RECORD"] = ("\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n").encode()
    wheel = folder / f"flit_core-{FAKE_VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return wheel


@contextmanager
def recording_index() -> Iterator[tuple[str, list[str]]]:
    """A loopback "index" that answers 404 to everything and records each request path."""
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_error(404)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def srcstacks(*args: str | Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "srcstacks", *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@dataclass(frozen=True)
class HostileBuild:
    spec: Path
    work_dir: Path
    marker: Path
    fake_wheel: Path
    index_requests: list[str]
    returncode: int
    stderr: str

    @property
    def wheel_dir(self) -> Path:
        return load_config(self.spec, Overrides(work_dir=self.work_dir)).wheel_dir


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory: pytest.TempPathFactory) -> HostileBuild:
    root = tmp_path_factory.mktemp("environment")
    spec = copy_demo_stack(root / "stack")
    text = spec.read_text()
    start = text.index('[[applications]]\nname = "greeter"')
    spec.write_text(text[:start] + text[text.index('[[applications]]\nname = "punycode"') :])
    marker = root / "fake-backend-ran"
    fake_wheel = make_fake_flit_core(root / "find links", marker)
    work_dir = root / "work dir é"
    user_home = root / "user home"
    user_home.mkdir()
    # setuptools reads ~/.pydistutils.cfg, named by no variable: either line reaching the
    # compile would fail it (no such library) or write outside the work dir.
    (user_home / ".pydistutils.cfg").write_text(
        "[build_ext]\nlibraries = srcstacks_home_no_such_lib\n"
        f"[build]\nbuild_base = {root}/home-build-base\n"
    )
    with recording_index() as (host, requests):
        index = f"http://user:{SECRET}@{host}/simple/"
        env = {
            **os.environ,
            "UV_FIND_LINKS": str(fake_wheel.parent),
            "PIP_FIND_LINKS": str(fake_wheel.parent),
            "UV_EXTRA_INDEX_URL": index,
            "UV_INDEX_URL": index,
            "PIP_INDEX_URL": index,
            "FROMAGER_SDIST_SERVER_URL": index,
            # Any of these reaching a compile would fail it.
            "CFLAGS": "-include /nonexistent/srcstacks-user-cflags.h",
            "CPPFLAGS": "-include /nonexistent/srcstacks-user-cppflags.h",
            "CC": "/nonexistent/srcstacks-user-cc",
            "HOME": str(user_home),
        }
        process = srcstacks("build", spec, "--work-dir", work_dir, env=env)
        _, stderr = process.communicate(timeout=900)
        recorded = list(requests)
    return HostileBuild(spec, work_dir, marker, fake_wheel, recorded, process.returncode, stderr)


def test_user_find_links_index_and_compiler_settings_reach_no_build(
    hostile_build: HostileBuild,
) -> None:
    build = hostile_build
    assert build.returncode == 0, build.stderr
    assert not build.marker.exists(), "the fake flit_core from UV_FIND_LINKS ran"
    assert not (build.spec.parent.parent / "home-build-base").exists(), "~/.pydistutils.cfg read"
    assert build.index_requests == [], "the index in the user's UV_/PIP_ variables was asked"
    wheel_dir = build.wheel_dir
    (flit_core,) = wheel_dir.glob("flit_core-*.whl")
    assert not flit_core.name.startswith(f"flit_core-{FAKE_VERSION}"), flit_core.name
    assert flit_core.name.startswith("flit_core-3."), flit_core.name
    provenance = json.loads((wheel_dir / "provenance.json").read_text())["wheels"]
    assert provenance[flit_core.name]["built_from_source"] is True
    assert provenance[flit_core.name]["sdist"]["filename"].startswith("flit_core-3.")

    notes = [line for line in build.stderr.splitlines() if line.startswith("note: ignoring")]
    assert len(notes) == 1, build.stderr  # once per run, not once per tool
    for name in ("UV_FIND_LINKS", "PIP_FIND_LINKS", "UV_EXTRA_INDEX_URL", "CFLAGS", "CC"):
        assert name in notes[0], notes[0]
    assert "srcstacks builds with an environment of its own" in notes[0]
    # Names only: the values (a folder, a URL with a password) are never shown or logged.
    assert SECRET not in build.stderr and str(build.fake_wheel.parent) not in build.stderr
    for log in build.work_dir.rglob("*.log"):
        assert SECRET not in log.read_text(errors="replace"), log


def test_c_extension_builds_in_a_work_dir_with_space_and_accent(
    hostile_build: HostileBuild,
) -> None:
    assert hostile_build.returncode == 0, hostile_build.stderr
    wheel_dir = hostile_build.wheel_dir
    (markupsafe,) = wheel_dir.glob("markupsafe-*.whl")
    machine_paths = [str(hostile_build.work_dir), str(hostile_build.spec.parent), sys.base_prefix]
    with zipfile.ZipFile(markupsafe) as archive:
        (shared_object,) = [n for n in archive.namelist() if n.endswith(".so")]
        assert "_speedups" in shared_object
        for name in archive.namelist():
            data = archive.read(name)
            leaked = [path for path in machine_paths if path.encode() in data]
            assert not leaked, f"{name} holds {leaked}"
        # The demo's patch was applied.
        assert b'"&apos;"' in archive.read("markupsafe/_native.py")


def _marked_processes(work_dir: Path) -> list[int]:
    entry = f"SRCSTACKS_WORK_DIR={work_dir.resolve()}".encode()
    found = []
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and entry in Path(f"/proc/{name}/environ").read_bytes().split(b"\0"):
                found.append(int(name))
        except OSError:
            continue
    return found


def _venvstacks_running(work_dir: Path) -> bool:
    for pid in _marked_processes(work_dir):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[1:3] == [b"-m", VENVSTACKS_MODULE.encode()]:
            return True
    return False


def test_tools_die_with_a_killed_srcstacks_and_a_rerun_locks(hostile_build: HostileBuild) -> None:
    assert hostile_build.returncode == 0, hostile_build.stderr
    work_dir = hostile_build.work_dir
    args = ("lock", hostile_build.spec, "--work-dir", work_dir)
    # --force: the build left the lock up to date, and this run must start venvstacks.
    process = srcstacks(*args, "--force", env=dict(os.environ))
    deadline = time.monotonic() + 120
    while not _venvstacks_running(work_dir):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "venvstacks lock never started"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate()

    deadline = time.monotonic() + 10
    while (left := _marked_processes(work_dir)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left == [], f"processes of the killed run still alive: {left}"

    # No --force: the killed lock left no record, so the rerun locks again.
    rerun = srcstacks(*args, env=dict(os.environ))
    _, stderr = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, stderr
    assert "lock: up to date" not in stderr
    assert "left running" not in stderr  # nothing was left for the lock to stop


def test_the_fake_backend_is_installable_and_writes_its_marker(tmp_path: Path) -> None:
    """Negative control for the first test: used as a backend, the fake wheel is seen."""
    marker = tmp_path / "ran"
    wheel = make_fake_flit_core(tmp_path / "wheels", marker)
    uv = Path(sys.executable).parent / "uv"
    target = tmp_path / "site"
    subprocess.run(
        [str(uv), "pip", "install", "--no-index", "--target", str(target), str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", "import flit_core.buildapi"],
        env={**os.environ, "PYTHONPATH": str(target)},
        capture_output=True,
        text=True,
    )
    assert "not a real build backend" in result.stderr
    assert marker.read_text() == "the fake flit_core ran"


def test_a_settings_key_fromager_rejects_is_named(tmp_path: Path) -> None:
    """Fails before anything is built; the error names the file and key, no stale log."""
    spec = copy_demo_stack(tmp_path)
    settings = tmp_path / "build-settings" / "markupsafe.yaml"
    settings.write_text(settings.read_text() + "bogus_key: 1\n")
    process = srcstacks("wheels", spec, env=dict(os.environ))
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr
    (line,) = [line for line in stderr.splitlines() if line.startswith("srcstacks: error: ")]
    assert str(settings) in line and "bogus_key" in line, line
    assert "build.log" not in line, line
