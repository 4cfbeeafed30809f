"""The verify result the report shows: ``srcstacks verify`` run when the report is made.

``srcstacks verify`` records no result file (it must run on a read-only copy of the
outputs, so it writes nothing), and a result recorded earlier could be stale by the
time the report is read. So the report runs the same read-only checks
(:func:`srcstacks.verify.stage.verify_build`, without ``--rebuild``) under the same
shared lock and with the same managed index as ``srcstacks verify``, and shows what
they found. ``--no-verify`` leaves them out and the page says so. Machine folders in
the messages become ``<stack dir>``, ``<work dir>``, ... so the page names no machine
path and its bytes do not depend on where the stack lies.
"""

from __future__ import annotations

from srcstacks.report.model import VerifyOutcome
from srcstacks.reporting import Report
from srcstacks.spec.config import StackConfig


def run_verify(config: StackConfig, say: Report) -> VerifyOutcome:
    """Run verify's checks on ``config``'s outputs; its problems, made portable."""
    from srcstacks import run_context
    from srcstacks.verify.stage import verify_build
    from srcstacks.worklock import held_for_reading

    said: list[str] = []
    with held_for_reading(config.work_dir), run_context.index_running(config, say):
        result = verify_build(config, said.append)
    return VerifyOutcome(
        ran=True,
        problems=tuple(portable(problem, config) for problem in result.problems),
        summary=portable(" ".join(said), config),
    )


def portable(text: str, config: StackConfig) -> str:
    """``text`` with this machine's stack folders replaced by placeholders."""
    labelled = {
        str(config.spec_dir): "<stack dir>",
        str(config.work_dir): "<work dir>",
        str(config.wheel_dir): "<wheel dir>",
        str(config.output_dir): "<output dir>",
    }
    for path, label in sorted(labelled.items(), key=lambda item: len(item[0]), reverse=True):
        text = text.replace(path, label)
    return text
