"""What runs the package builds of a parallel wheels run: :func:`make_executor`.

``--executor`` absent: the local executor, ``--jobs`` builds at once on this machine.
``--executor dask://HOST:PORT``: the Dask executor, imported only then (Dask is heavy
and optional; the command line must start fast). Reads and writes nothing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from srcstacks.errors import ConfigError

if TYPE_CHECKING:
    from srcstacks.build.executors.base import Executor

_DASK = re.compile(r"dask://(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})")


def check_executor(executor: str | None) -> str | None:
    """``executor`` if it is a value ``--executor`` takes; else a one-line ConfigError."""
    if executor is None:
        return None
    match = _DASK.fullmatch(executor)
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ConfigError(
            f"--executor {executor!r}: expected dask://HOST:PORT (a Dask scheduler's address)"
        )
    return executor


def make_executor(executor: str | None, jobs: int) -> Executor:
    """The executor ``--executor`` names (``None``: the local one, ``jobs`` at once)."""
    if check_executor(executor) is None:
        from srcstacks.build.executors.local import LocalExecutor

        return LocalExecutor(jobs)
    assert executor is not None
    try:
        from srcstacks.build.executors.dask_executor import DaskExecutor  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError as exc:
        raise ConfigError(
            f"--executor {executor}: the Dask executor is not available here ({exc})"
        ) from None
    address = "tcp://" + executor.removeprefix("dask://")
    return DaskExecutor(address)  # type: ignore[no-any-return,unused-ignore]
