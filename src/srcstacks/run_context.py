"""One run's context: what a command derives once and hands down to every stage, and
what it holds while it runs (the work dir, the index).

:class:`RunContext` is built once per command from the config and the reporter: the
layout, the build settings and the private index target are derived from them once,
when first asked for, and every stage reads them there. One srcstacks run at a time
per work dir (:mod:`srcstacks.worklock`), and the managed private index
(:mod:`srcstacks.index.managed`) running for the length of the run when the stack has
one. Writes nothing itself: the lock file and the index state are theirs.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from srcstacks.errors import BusyError
from srcstacks.layout import Layout
from srcstacks.layout.ownership import claim_dir
from srcstacks.reporting import Report
from srcstacks.spec.config import StackConfig
from srcstacks.worklock import exclusive

if TYPE_CHECKING:
    from srcstacks.index.target import IndexTarget
    from srcstacks.spec.settings import Settings


@dataclass(frozen=True)
class RunContext:
    """What one command runs with: the stack's config, where it tells the user, and what
    both give (each derived once, when first needed)."""

    config: StackConfig
    report: Report = print
    # Whose private index the run uses, when not its own config's: a rebuild in a scratch
    # work dir reads the managed index the first build's work dir runs.
    index_of: StackConfig | None = None

    @functools.cached_property
    def layout(self) -> Layout:
        """Every path of the stack and variant."""
        return Layout.of(self.config)

    @functools.cached_property
    def settings(self) -> Settings:
        """The build settings folder, read (per-project settings and variants)."""
        from srcstacks.spec.settings import read_settings

        return read_settings(self.config.settings_dir)

    @functools.cached_property
    def index(self) -> IndexTarget | None:
        """The private index the stack publishes to and locks against, if it has one."""
        from srcstacks.index.target import index_target

        return index_target(self.index_of or self.config)


@contextlib.contextmanager
def index_running(config: StackConfig, report: Report = print) -> Iterator[None]:
    """Run the managed index for the length of the block, if the stack has one."""
    if config.index is None or not config.index.managed:
        yield
        return
    from srcstacks.index.managed import managed_index
    from srcstacks.index.target import managed_index_name

    layout = Layout.of(config)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(
                managed_index(
                    layout.index_state,
                    port=config.index.port,
                    index_name=managed_index_name(config),
                    report=report,
                )
            )
        except BusyError:
            # 'srcstacks index serve' already runs this index: use it as it is.
            _check_running_index(config, report)
        yield


def _check_running_index(config: StackConfig, report: Report) -> None:
    from srcstacks.index.private import check_private
    from srcstacks.index.target import index_target

    target = index_target(config)
    assert target is not None
    check_private(target.location)
    report(f"using the managed index already running at {target.location.base_url}")


@contextlib.contextmanager
def work_dir_held(config: StackConfig, report: Report = print) -> Iterator[None]:
    """Claim the work dir for srcstacks (see :mod:`layout`) and hold its lock."""
    claim_dir(config.work_dir, "work dir")
    with exclusive(config.work_dir, report):
        yield
