"""The contract between the wheels stage and whatever runs its package builds.

Reads and writes nothing: the types an executor takes (:class:`PackageBuild`,
:class:`BuildContext`), gives back (:class:`BuildOutcome`) and reports while it runs
(:class:`BuildEvent`), and the :class:`Executor` protocol itself. The local executor
(:mod:`srcstacks.build.executors.local`) and the Dask one both implement it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from srcstacks.index.private import IndexLocation
    from srcstacks.layout import Layout
    from srcstacks.layout.fromager import FromagerDirs
    from srcstacks.spec.config import StackConfig
    from srcstacks.spec.settings import Settings
    from srcstacks.tools.toolchain import Toolchain

Key = tuple[str, str]  # (canonical project name, version)


@dataclass(frozen=True)
class PackageBuild:
    """One wheel to build from its sdist, and the planned builds it must wait for."""

    project: str  # canonical name
    version: str
    source_url: str  # the sdist URL from graph.json's download_url
    needs: tuple[Key, ...] = ()  # (project, version) of planned builds first

    @property
    def key(self) -> Key:
        return (self.project, self.version)


class Status(StrEnum):
    """How one planned build ended."""

    BUILT = "built"
    FAILED = "failed"
    NOT_STARTED = "not-started"  # an earlier failure or Ctrl-C stopped the run first


@dataclass(frozen=True)
class BuildOutcome:
    """What became of one :class:`PackageBuild`."""

    build: PackageBuild
    status: Status
    seconds: float
    worker: str  # "local", or the Dask worker's name
    wheel: str | None = None  # the wheel's file name when built
    log: Path | None = None  # the build's log on this machine (None when remote)
    message: str = ""  # one line when FAILED
    # When the build started and ended (time.time()); 0 for a build never started.
    started: float = 0.0
    ended: float = 0.0


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
    dirs: FromagerDirs
    settings: Settings
    run_log_dir: Path  # this run's log folder
    index: IndexLocation | None
    # Versions pinned with Fromager's -c (verify --rebuild), else None.
    constraints_file: Path | None = None
    # The Python and Fromager the builds run on; None: srcstacks' own.
    toolchain: Toolchain | None = None


class Executor(Protocol):
    """Runs every planned build, each once its needs are built; returns every outcome."""

    name: str

    def run(
        self,
        builds: Sequence[PackageBuild],
        context: BuildContext,
        on_event: Callable[[BuildEvent], None],
    ) -> list[BuildOutcome]: ...
