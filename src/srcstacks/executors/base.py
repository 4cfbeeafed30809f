"""What an executor is given and what it reports: one build per package, and its outcome.

The wheels stage plans the builds (``build_plan.py``) and hands them to an executor
(local processes, or a Dask cluster) with a :class:`BuildContext`; the executor returns
one :class:`BuildOutcome` per build and reports :class:`BuildEvent` s as builds start
and finish. Nothing here reads or writes files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal, Protocol

from srcstacks.config import StackConfig
from srcstacks.layout import Layout
from srcstacks.private_index import IndexLocation
from srcstacks.settings import Settings
from srcstacks.tools import fromager


@dataclass(frozen=True)
class PackageBuild:
    """One wheel to build from source: a project at one version, after its ``needs``."""

    project: str  # canonical name
    version: str
    source_url: str  # the sdist URL from graph.json's download_url
    needs: tuple[tuple[str, str], ...] = ()  # (project, version) of planned builds first

    @property
    def key(self) -> tuple[str, str]:
        return (self.project, self.version)


class Status(StrEnum):
    BUILT = "built"
    FAILED = "failed"
    NOT_STARTED = "not-started"


@dataclass(frozen=True)
class BuildOutcome:
    """What became of one build."""

    build: PackageBuild
    status: Status
    seconds: float
    worker: str  # "local", or the Dask worker's name
    wheel: str | None = None  # the wheel's file name when built
    log: Path | None = None  # the build's log on this machine (None when remote)
    message: str = ""  # one line when FAILED


@dataclass(frozen=True)
class BuildEvent:
    """A build started or finished: for live progress."""

    kind: Literal["started", "finished"]
    build: PackageBuild
    worker: str
    outcome: BuildOutcome | None = None


@dataclass(frozen=True)
class BuildContext:
    """Everything an executor needs, derived by the wheels stage."""

    config: StackConfig
    layout: Layout
    dirs: fromager.FromagerDirs
    settings: Settings
    run_log_dir: Path  # this run's log folder
    index: IndexLocation | None


class Executor(Protocol):
    """Runs every build, each as soon as its ``needs`` are built."""

    name: str

    def run(
        self,
        builds: Sequence[PackageBuild],
        context: BuildContext,
        on_event: Callable[[BuildEvent], None],
    ) -> list[BuildOutcome]: ...
