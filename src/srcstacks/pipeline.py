"""The pipeline: the stages in order, each runnable alone, one run per work dir at a time."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from srcstacks.config import StackConfig
from srcstacks.errors import BusyError
from srcstacks.layout import Layout, claim_dir
from srcstacks.stages.archives import build_archives
from srcstacks.stages.lock import lock_layers
from srcstacks.stages.publish import publish_wheels
from srcstacks.stages.sbom import write_sboms
from srcstacks.stages.wheels import build_wheels
from srcstacks.tools.process import announce_environment
from srcstacks.worklock import exclusive

Report = Callable[[str], None]
Stage = Callable[[StackConfig, Report], Any]

# Each stage reads what the one before it wrote to disk.
STAGES: dict[str, Stage] = {
    "wheels": build_wheels,
    "publish-wheels": publish_wheels,
    "lock": lock_layers,
    "archives": build_archives,
    "sbom": write_sboms,
}


@contextlib.contextmanager
def index_running(config: StackConfig, report: Report = print) -> Iterator[None]:
    """Run the managed index for the length of the block, if the stack has one."""
    if config.index is None or not config.index.managed:
        yield
        return
    from srcstacks.managed_index import managed_index

    layout = Layout.of(config)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(
                managed_index(
                    layout.index_state,
                    port=config.index.port,
                    index_name=config.variant,
                    report=report,
                )
            )
        except BusyError:
            # 'srcstacks index serve' already runs this index: use it as it is.
            _check_running_index(config, report)
        yield


def _check_running_index(config: StackConfig, report: Report) -> None:
    from srcstacks.index_target import index_target
    from srcstacks.private_index import check_private

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


def run_stage(name: str, config: StackConfig, report: Report = print) -> Any:
    """Run one stage alone, holding the work dir's lock."""
    with work_dir_held(config, report), index_running(config, report):
        announce_environment(report)
        return STAGES[name](config, report)


def run_all(config: StackConfig, report: Report = print) -> None:
    """Run every stage in order; a failure stops the run and keeps what was done."""
    with work_dir_held(config, report), index_running(config, report):
        announce_environment(report)
        for number, (name, stage) in enumerate(STAGES.items(), start=1):
            report(f"==> [{number}/{len(STAGES)}] {name}")
            stage(config, report)
