"""A private devpi index that srcstacks runs for you, with its state in one folder.

Reads and writes the state folder (claimed as srcstacks' own, see :mod:`layout`)::

    <state_dir>/credentials.json   the passwords (mode 0600, made once, reused)
    <state_dir>/devpi/             devpi-server's state: users, indexes, wheels
    <state_dir>/devpi-server.log   the server's log (devpi-init.log: its first start)
    <state_dir>/port               the port it listens on (or last listened on)
    <state_dir>/.lock              held while the server runs

Unless told a port, the server takes the one it had last time if it is free, else one
the system hands out: two stacks' indexes on one host never need a port in their specs,
and the locks name no port anyway (:mod:`srcstacks.tools.pylock_urls`).

The index is ``srcstacks/<index_name>``: no upstream bases, non-volatile. Its user's
password goes to whoever uploads (the publish stage); root's stays in the credentials
file, used only here to create the user and the index. No password is ever printed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from srcstacks.errors import OwnershipError, StateError
from srcstacks.fsutil import atomic_write_text
from srcstacks.layout.ownership import claim_dir, discard_temporary, is_owned, remove_owned_dir
from srcstacks.tools import devpi
from srcstacks.tools.process import current_run, run_marked
from srcstacks.web import Credentials
from srcstacks.worklock import exclusive

INDEX_USER = "srcstacks"
HOST = "127.0.0.1"  # loopback only: nothing outside this machine can reach it
CREDENTIALS_NAME = "credentials.json"
PORT_NAME = "port"
# Ports handed out by the system that another process took before devpi-server bound
# them (a race of milliseconds) before giving up.
_FREE_PORT_TRIES = 3


def managed_url(port: int, index_name: str) -> str:
    """The base URL of the managed index ``index_name`` (one per variant) on ``port``."""
    return f"http://{HOST}:{port}/{INDEX_USER}/{index_name}/"


def recorded_port(state_dir: Path) -> int | None:
    """The port the index in ``state_dir`` listens on (last listened on); None if never run."""
    try:
        text = (state_dir / PORT_NAME).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and 1 <= int(text) <= 65535 else None


def stored_password(state_dir: Path) -> str | None:
    """The upload password kept in ``state_dir``; None before the index's first start."""
    path = state_dir / CREDENTIALS_NAME
    if not path.exists():
        return None
    return _read_credentials(path).password


@dataclass(frozen=True)
class ManagedIndex:
    """A running managed index: where it is and how to upload to it."""

    base_url: str  # ``http://127.0.0.1:<port>/srcstacks/<index>/``
    user: str
    password: str = field(repr=False)
    credentials_file: Path = field(repr=False, default=Path())
    server: devpi.DevpiServer | None = field(repr=False, compare=False, default=None)

    @property
    def simple_url(self) -> str:
        """The index's PEP 503 simple API."""
        return self.base_url + "+simple/"


@dataclass(frozen=True)
class _Credentials:
    password: str = field(repr=False)
    root_password: str = field(repr=False)


@contextlib.contextmanager
def managed_index(
    state_dir: Path,
    *,
    port: int | None = None,
    index_name: str,
    report: Callable[[str], None],
    port_hint: str = "choose another port with --index-port or [tool.srcstacks.index] port",
) -> Iterator[ManagedIndex]:
    """Run devpi-server on ``127.0.0.1:port`` with the index ``srcstacks/<index_name>``.

    ``port`` None: the port of the last run if it is free, else a free one. Stops the
    server on exit. One server per state folder at a time (its ``.lock``).
    """
    state_dir = claim_dir(state_dir.absolute(), "index state")
    # The server carries the state dir's marker (so a leftover one is stopped by the
    # next start); everything started while it runs keeps the caller's.
    outer_run = current_run()
    with exclusive(state_dir, report):
        server_dir = state_dir / "devpi"
        credentials = _credentials(state_dir / CREDENTIALS_NAME, server_dir)
        with contextlib.ExitStack() as running:
            server = _start(running, state_dir, port, credentials.root_password, port_hint)
            _record_port(state_dir, server.port)
            base_url = devpi.ensure_private_index(
                server.root_url,
                INDEX_USER,
                credentials.password,
                index_name,
                admin=Credentials(devpi.ADMIN_USER, credentials.root_password),
            )
            report(
                f"private index (devpi-server {server.version}, managed): {base_url}"
                f" (state: {state_dir})"
            )
            with run_marked(outer_run):
                yield ManagedIndex(
                    base_url,
                    INDEX_USER,
                    credentials.password,
                    state_dir / CREDENTIALS_NAME,
                    server,
                )


def reset(state_dir: Path, report: Callable[[str], None]) -> bool:
    """Remove the managed index whose state is ``state_dir`` (every wheel on it); whether
    there was one. Refused (:class:`BusyError`) while a server runs on it."""
    state_dir = state_dir.absolute()
    if not state_dir.exists():
        return False
    if not is_owned(state_dir):
        raise OwnershipError(
            f"{state_dir}: not an index state srcstacks made; refusing to remove it"
        )
    with exclusive(state_dir, report):
        remove_owned_dir(state_dir)  # the lock's file goes too; the lock is held until here
    return True


def _start(
    running: contextlib.ExitStack,
    state_dir: Path,
    port: int | None,
    root_password: str,
    port_hint: str,
) -> devpi.DevpiServer:
    """devpi-server on ``port``, or on the first free one of :func:`_ports_to_try`."""
    candidates = [port] if port is not None else _ports_to_try(state_dir)
    for number, candidate in enumerate(candidates, start=1):
        try:
            return running.enter_context(
                devpi.serve(
                    state_dir / "devpi",
                    host=HOST,
                    port=candidate,
                    log_path=state_dir / "devpi-server.log",
                    root_password=root_password,
                    port_hint=port_hint,
                )
            )
        except devpi.PortInUseError:
            if number == len(candidates):
                raise
    raise AssertionError("unreachable: the last candidate port raises")


def _ports_to_try(state_dir: Path) -> list[int]:
    """Last run's port if it is free (whoever reads its URL keeps it), then free ones."""
    previous = recorded_port(state_dir)
    ports = [previous] if previous is not None and devpi.port_is_free(HOST, previous) else []
    return ports + [devpi.free_port(HOST) for _ in range(_FREE_PORT_TRIES)]


def _record_port(state_dir: Path, port: int) -> None:
    atomic_write_text(state_dir / PORT_NAME, f"{port}\n")


def _credentials(path: Path, server_dir: Path) -> _Credentials:
    """The passwords in ``path``, made (mode 0600 from the start) on the first run."""
    if not path.exists():
        if (server_dir / ".nodeinfo").exists():
            raise StateError(
                f"{path} is missing but {server_dir} holds an index made with it; restore the"
                f" file, or move {path.parent} away to start an empty index"
            )
        made = _Credentials(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
        _write_private(path, {"user": INDEX_USER, "password": made.password,
                              "root_password": made.root_password})  # fmt: skip
        return made
    return _read_credentials(path)


def _read_credentials(path: Path) -> _Credentials:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise StateError(
            f"{path} can be read by other users (mode {mode:04o}); it holds the index's"
            f" passwords: run 'chmod 600 {path}'"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return _Credentials(str(data["password"]), str(data["root_password"]))
    except (ValueError, KeyError, TypeError):
        raise StateError(f"{path}: not a credentials file srcstacks wrote") from None


def _write_private(path: Path, data: dict[str, str]) -> None:
    """Write ``path`` readable by its owner only from its creation on, all or nothing.

    The bytes go to a temporary file made with mode 0600, which is then linked into
    place: an interrupted first start leaves no half-written credentials file.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2)
            stream.write("\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.link(temporary, path)  # unlike a rename, never replaces an existing file
    finally:
        discard_temporary(temporary)
