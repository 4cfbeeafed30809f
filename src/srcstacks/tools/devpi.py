"""Run devpi-server, and make a private index on it, over devpi's REST API.

Reads and writes devpi's state folder (``--serverdir``), its log files beside
``log_path``, and talks HTTP (standard library only) to the server it started or to the
one ``root_url`` names. Passwords travel in the environment of ``devpi-init`` and in
``Authorization`` headers only: never on a command line, in a log or in a message.

The server is started locked down (see docs/private-index.md): without the ``root/pypi`` mirror,
in devpi's offline mode (it never connects anywhere), and with ``--restrict-modify root``
(only root creates users and indexes or changes an index's settings, so the upload
credentials cannot give the index an upstream base or make it volatile).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from srcstacks import web
from srcstacks.errors import ConfigError, IndexServerError, ToolStartError
from srcstacks.layout.ownership import remove_tree
from srcstacks.tools.process import (
    die_with_parent,
    last_error_line,
    run_logged,
    scripts_dir,
    supervised,
    tool_env,
)
from srcstacks.tools.reaper import descendants
from srcstacks.web import Credentials

START_TIMEOUT = 60.0  # seconds until a started devpi-server must answer
# devpi-server derives its login-token key from its secret with argon2 at memory 512 MiB,
# time cost 16: 5 s of CPU at every start, there to slow the guessing of a weak secret
# file. srcstacks hands it a fresh secret of 32 random bytes at every start (devpi's own
# default is a random one too), which no guessing reaches, so one cheap pass derives the
# key. Hidden options of devpi-server 6 (pinned); tests/test_devpi.py checks they exist.
SECRET_FOLDER = "srcstacks-secret"
ARGON2_OPTIONS = (
    "--argon2-time-cost", "1", "--argon2-memory-cost", "1024", "--argon2-parallelism", "1",
)  # fmt: skip
STOP_TIMEOUT = 15.0  # seconds a stopping devpi-server gets before it is killed
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # users and indexes (variant names)
ADMIN_USER = "root"


@dataclass(frozen=True)
class DevpiServer:
    """A running devpi-server started by :func:`serve`."""

    root_url: str  # ``http://host:port/``
    version: str  # as the server reports it
    log_path: Path
    _process: subprocess.Popen[bytes] = field(repr=False, compare=False)

    @property
    def port(self) -> int:
        """The port it listens on."""
        return urllib.parse.urlsplit(self.root_url).port or 0

    def exit_code(self) -> int | None:
        """The server's exit code once it has stopped by itself, else ``None``."""
        return self._process.poll()


class PortInUseError(ConfigError):
    """The port the index server should listen on is taken."""


@contextlib.contextmanager
def serve(
    state_dir: Path,
    *,
    host: str,
    port: int,
    log_path: Path,
    root_password: str,
    port_hint: str = "choose another port with --index-port or [tool.srcstacks.index] port",
) -> Iterator[DevpiServer]:
    """Run devpi-server on ``host:port`` with its state in ``state_dir``; stop it on exit.

    ``state_dir`` is initialised first if it holds no devpi state, with ``root_password``
    as root's password. The port is checked before anything starts (``port_hint`` tells
    the user what to do when it is taken). The server runs under the reaper, so it dies
    with srcstacks, and in a session of its own: Ctrl-C reaches srcstacks, which stops
    it gracefully.
    """
    check_port_free(host, port, port_hint)
    if not (state_dir / ".nodeinfo").is_file():
        _initialise(state_dir, log_path.parent / "devpi-init.log", root_password)
    root_url = f"http://{_url_host(host)}:{port}/"
    command = [
        str(scripts_dir() / "devpi-server"),
        "--serverdir", str(state_dir), "--host", host, "--port", str(port),
        "--restrict-modify", ADMIN_USER, "--offline-mode",
        "--secretfile", str(new_secret_file(state_dir)), *ARGON2_OPTIONS,
    ]  # fmt: skip
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        log.write(("$ " + " ".join(command) + "\n").encode())
        log.flush()
        try:
            process = subprocess.Popen(
                supervised(command),
                env=tool_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
                start_new_session=True,
            )
        except OSError as exc:
            raise ToolStartError(f"devpi-server: cannot start: {exc}", str(log_path)) from exc
    try:
        version = _wait_until_answering(process, root_url, state_dir, log_path, port_hint)
        yield DevpiServer(root_url, version, log_path, process)
    finally:
        _stop(process)


def new_secret_file(state_dir: Path) -> Path:
    """A fresh random secret for devpi-server's login tokens, readable by its owner only.

    In a folder of mode 0700 (devpi refuses a secret whose folder others can write to,
    as a umask of 002 would make it), replacing the last start's.
    """
    folder = state_dir / SECRET_FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    path = folder / "secret"
    temporary = folder / f".secret.{secrets.token_hex(4)}.part"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as stream:
        stream.write(secrets.token_hex(32))
    os.replace(temporary, path)
    return path


def check_port_free(host: str, port: int, port_hint: str) -> None:
    """Refuse at once when something listens on ``host:port``, or when nothing could
    reach a server there (bound briefly, and connected to, to find out).

    With ``SO_REUSEADDR``, as the server sets it, so connections of a server that just
    stopped (``TIME_WAIT``) do not count as the port being in use. The connection finds
    a loopback interface that is down at once, not after the start timeout.
    """
    with _socket(host) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(_port_message(host, port, port_hint)) from None
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        probe.listen(1)
        with _socket(host) as client:
            try:
                client.settimeout(5)
                client.connect(probe.getsockname()[:2])
            except OSError as exc:
                raise ConfigError(
                    f"cannot connect to {_url_host(host)}:{port}, where the index would"
                    f" listen: {exc.strerror or exc} (is the loopback interface down?)"
                ) from None


def port_is_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be listened on now."""
    with _socket(host) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str) -> int:
    """A port on ``host`` the system considers free now (someone may take it next)."""
    with _socket(host) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _socket(host: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    made = socket.socket(family, socket.SOCK_STREAM)
    made.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return made


def _port_message(host: str, port: int, port_hint: str) -> str:
    return f"{_url_host(host)}:{port} is in use (another index server?): {port_hint}"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _initialise(state_dir: Path, log_path: Path, root_password: str) -> None:
    """``devpi-init`` into a fresh folder, renamed into place only once it succeeded.

    An interrupted first start thus leaves no half-made state behind, only a folder the
    next start discards. Root's password reaches devpi-init through its environment
    (``DEVPISERVER_ROOT_PASSWD``), which the log does not show, rather than its command line.
    """
    partial = state_dir.with_name(state_dir.name + ".init")
    remove_tree(partial)
    command = [
        str(scripts_dir() / "devpi-init"), "--serverdir", str(partial), "--no-root-pypi",
    ]  # fmt: skip
    env = tool_env({"DEVPISERVER_ROOT_PASSWD": root_password})
    run_logged(command, log_path=log_path, what="devpi-init", env=env)
    partial.rename(state_dir)


def _wait_until_answering(
    process: subprocess.Popen[bytes],
    root_url: str,
    state_dir: Path,
    log_path: Path,
    port_hint: str,
) -> str:
    """Wait until *this* server answers ``GET /+api``; return its version.

    A server is ours when it names the uuid devpi-init wrote into our state: something
    else that took the port after :func:`check_port_free` is not mistaken for it.
    """
    uuid = json.loads((state_dir / ".nodeinfo").read_text(encoding="utf-8"))["uuid"]
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if (code := process.poll()) is not None:
            raise _exit_error(code, root_url, log_path, port_hint)
        try:
            reply = web.request("GET", root_url + "+api", accept="application/json", timeout=5)
        except web.WebError:
            time.sleep(0.2)
            continue
        if reply.headers.get("X-Devpi-Uuid") != uuid:
            raise _port_taken(root_url, port_hint)  # another server answers there
        return str(reply.headers.get("X-Devpi-Server-Version", "unknown version"))
    raise ToolStartError(
        f"devpi-server did not answer on {root_url} within {START_TIMEOUT:.0f} s", str(log_path)
    )


def _exit_error(code: int, root_url: str, log_path: Path, port_hint: str) -> Exception:
    lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    if any("Address already in use" in line for line in lines[-20:]):
        return _port_taken(root_url, port_hint)  # taken after check_port_free
    reason = last_error_line(lines) or f"exit code {code}"
    return ToolStartError(
        f"devpi-server stopped before answering on {root_url}: {reason}", str(log_path)
    )


def _port_taken(root_url: str, port_hint: str) -> PortInUseError:
    parts = urllib.parse.urlsplit(root_url)
    return PortInUseError(_port_message(parts.hostname or "", parts.port or 0, port_hint))


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server: SIGTERM to devpi-server, then to the reaper, then SIGKILL to all."""
    if process.poll() is not None:
        return
    server = descendants(process.pid)[:1]  # the reaper's child: devpi-server itself
    if server:
        _signal_all(server, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT)  # the reaper exits once the server has
            return
    process.terminate()  # the reaper SIGKILLs everything below it
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)
        return
    _signal_all(descendants(process.pid), signal.SIGKILL)
    process.kill()
    process.wait()


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


# --- the REST API ---------------------------------------------------------------------


def ensure_private_index(
    root_url: str, user: str, password: str, index: str, *, admin: Credentials | None = None
) -> str:
    """Make user ``user`` and its index ``index`` (no bases, non-volatile) unless they exist.

    Returns the index's base URL, ``<root_url><user>/<index>/``. An index that exists
    already is returned as it is (the publish stage checks every index it uses). With
    ``admin`` (needed on a server started by :func:`serve`, where only root may create
    users and indexes) the user and index are created as that user; without it, as
    devpi allows by default, anonymously and as ``user``. ``user``'s password is checked
    in every case. Errors are one line naming the URL.
    """
    for what, name in (("user", user), ("index", index)):
        if not _NAME.match(name):
            raise ConfigError(
                f"devpi {what} name {name!r} must be letters, digits, '.', '_' or '-'"
            )
    owner = Credentials(user, password)
    creator = admin or owner
    user_url, index_url = f"{root_url}{user}", f"{root_url}{user}/{index}"
    if _get(user_url) is None:
        _call("PUT", user_url, admin, {"password": password}, expect=201)
    status = _call("GET", root_url + "+api", owner)["result"]["authstatus"][0]
    if status != "ok":
        raise IndexServerError(f"{root_url}: devpi refused the password of user {user!r}")
    if _get(index_url) is None:
        config = {"type": "stage", "bases": [], "volatile": False}
        _call("PUT", index_url, creator, config, expect=200)
    return index_url + "/"


def index_config(index_url: str) -> dict[str, Any]:
    """An index's JSON configuration (``type``, ``bases``, ``volatile``, ``acl_upload``, ...)."""
    config = _get(index_url.rstrip("/"))
    if config is None:
        raise IndexServerError(f"{index_url}: no such index")
    result: dict[str, Any] = config["result"]
    return result


def _get(url: str) -> dict[str, Any] | None:
    """``GET url`` as JSON; ``None`` when devpi answers 404."""
    try:
        return _call("GET", url, None)
    except _NotFound:
        return None


class _NotFound(IndexServerError):
    pass


def _call(
    method: str,
    url: str,
    login: Credentials | None,
    payload: object = None,
    *,
    expect: int = 200,
) -> dict[str, Any]:
    """One JSON request; HTTP Basic auth with ``login`` (devpi takes the plain password)."""
    try:
        reply = web.request(
            method,
            url,
            accept="application/json",
            data=None if payload is None else json.dumps(payload).encode(),
            content_type=None if payload is None else "application/json",
            credentials=login,
            timeout=30,
        )
    except web.WebError as exc:
        if exc.status is None:
            raise IndexServerError(f"{url}: cannot reach the index server: {exc.reason}") from None
        message = _message(exc.body) or exc.reason
        if exc.status == 404 and method == "GET":
            raise _NotFound(f"{url}: {message}") from None
        who = f" (as {login.user!r})" if login else ""
        raise IndexServerError(f"{method} {url}{who}: {exc.status} {message}") from None
    if reply.status != expect:
        raise IndexServerError(f"{method} {url}: {reply.status} {_message(reply.body)}")
    try:
        result: dict[str, Any] = json.loads(reply.body)
    except ValueError:
        raise IndexServerError(f"{method} {url}: the answer is not devpi's JSON") from None
    return result


def _message(body: bytes) -> str:
    """devpi's error text from a JSON or HTML answer, on one line."""
    try:
        text = str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        text = body.decode("utf-8", "replace")
    return " ".join(text.split())[:300]
