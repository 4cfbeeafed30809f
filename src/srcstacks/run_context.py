"""What every command that runs stages holds while it runs: the work dir, and the index.

One srcstacks run at a time per work dir (:mod:`srcstacks.worklock`), and the managed
private index (:mod:`srcstacks.index.managed`) running for the length of the run when
the stack has one. Writes nothing itself: the lock file and the index state are theirs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from srcstacks.errors import BusyError
from srcstacks.layout import Layout
from srcstacks.layout.ownership import claim_dir
from srcstacks.reporting import Report
from srcstacks.spec.config import StackConfig
from srcstacks.worklock import exclusive


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
