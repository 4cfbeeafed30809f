"""How the wheels stage runs its builds: ``--jobs N`` and ``--executor``.

Reads the CPUs this process may run on (its affinity mask, which containers and
``taskset`` narrow, not the machine's core count); writes nothing. The command line sets
both for the length of one command (:func:`building_with`); the wheels stage reads them
with :func:`current_jobs` and :func:`current_executor`, so no stage signature, config
file or stage fingerprint carries them: they change how wheels are built, never which.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar

from srcstacks.errors import ConfigError

_jobs: ContextVar[int | None] = ContextVar("srcstacks_build_jobs", default=None)
_executor: ContextVar[str | None] = ContextVar("srcstacks_build_executor", default=None)


# One package at a time unless asked: the parallel path prepares every package once more
# (Fromager reads dependencies only from a prepared source), which measured slower than
# the serial bootstrap on the demo and on stacks of quick compiles (docs/performance.md).
DEFAULT_JOBS = 1


def cpus() -> int:
    """The number of CPUs this process may use (at least 1): a sensible ``--jobs N``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def checked_jobs(value: int | None) -> int:
    """``value`` if it is a usable number of parallel builds, the default when ``None``.

    Zero or a negative number is a :class:`ConfigError` naming the option.
    """
    if value is None:
        return DEFAULT_JOBS
    if value < 1:
        raise ConfigError(
            f"--jobs must be at least 1 (the number of packages built at once), not {value}"
        )
    return value


@contextlib.contextmanager
def building_with(jobs: int | None, executor: str | None = None) -> Iterator[int]:
    """Run the block with ``jobs`` parallel builds (checked; ``None``: the default) and
    ``executor`` (checked: ``dask://HOST:PORT`` or ``None``)."""
    from srcstacks.build.executors import check_executor

    jobs_token = _jobs.set(checked_jobs(jobs))
    executor_token = _executor.set(check_executor(executor))
    try:
        yield _jobs.get() or 1
    finally:
        _executor.reset(executor_token)
        _jobs.reset(jobs_token)


def current_jobs() -> int:
    """The parallel builds asked for on the command line, else the number of CPUs."""
    return _jobs.get() or DEFAULT_JOBS


def current_executor() -> str | None:
    """The ``--executor`` given on the command line, if any."""
    return _executor.get()
