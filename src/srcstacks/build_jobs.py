"""How many packages the wheels stage builds at once: ``--jobs N``.

Reads the CPUs this process may run on (its affinity mask, which containers and
``taskset`` narrow, not the machine's core count); writes nothing. The command line sets
the number for the length of one command (:func:`building_with`); the wheels stage reads
it with :func:`current_jobs`, so no stage signature or config file carries it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar

from srcstacks.errors import ConfigError

_jobs: ContextVar[int | None] = ContextVar("srcstacks_build_jobs", default=None)


def default_jobs() -> int:
    """The number of CPUs this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def checked_jobs(value: int | None) -> int:
    """``value`` if it is a usable number of parallel builds, the default when ``None``.

    Zero or a negative number is a :class:`ConfigError` naming the option.
    """
    if value is None:
        return default_jobs()
    if value < 1:
        raise ConfigError(
            f"--jobs must be at least 1 (the number of packages built at once), not {value}"
        )
    return value


@contextlib.contextmanager
def building_with(jobs: int | None) -> Iterator[int]:
    """Run the block with ``jobs`` parallel builds (checked; ``None``: the default)."""
    token = _jobs.set(checked_jobs(jobs))
    try:
        yield _jobs.get() or 1
    finally:
        _jobs.reset(token)


def current_jobs() -> int:
    """The parallel builds asked for on the command line, else the number of CPUs."""
    return _jobs.get() or default_jobs()
