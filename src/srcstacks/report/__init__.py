"""``srcstacks report``: one self-contained HTML page an auditor can read.

Reads the files a build left (venvstacks' stack manifest, ``build.json``, each
archive's SBOM, ``provenance.json``) and runs verify's read-only checks; writes only
the page (by default ``<work_dir>/<variant>/report.html``).
Modules: :mod:`.model` (typed values), :mod:`.gather` and :mod:`.sbom_reading` (read
the files), :mod:`.build_tools` (which tools built each wheel), :mod:`.elsewhere` (layers
and requirements other build hosts build), :mod:`.verify_result`,
:mod:`.page` and :mod:`.graph_svg` (render).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from srcstacks.errors import OwnershipError
from srcstacks.fsutil import atomic_write_text
from srcstacks.report.gather import gather
from srcstacks.report.model import VerifyOutcome
from srcstacks.report.page import GENERATOR_META, render_page
from srcstacks.report.verify_result import run_verify
from srcstacks.spec.config import StackConfig


def write_report(
    config: StackConfig, output: Path, say: Callable[[str], None], *, verify: bool = True
) -> Path:
    """Write the page of ``config``'s stack to ``output``; return its path.

    Every input is read (and a missing one named) before verify runs or anything is
    written, so a stack that was never built leaves no page behind.
    """
    _check_not_foreign(output)
    report = gather(config, VerifyOutcome(ran=False))
    if verify:
        report = replace(report, verify=run_verify(config, say))
        if not report.verify.ok:
            # The page is still written: a failed check is what an auditor must see.
            say(f"verify found {len(report.verify.problems)} problem(s); the page lists them")
    atomic_write_text(output, render_page(report))
    return output


def _check_not_foreign(output: Path) -> None:
    """Refuse to overwrite a file that is not a page srcstacks wrote."""
    if not output.exists() and not output.is_symlink():
        return
    try:
        ours = (
            output.is_file()
            and not output.is_symlink()
            and GENERATOR_META in (output.read_text(encoding="utf-8", errors="replace")[:4096])
        )
    except OSError:
        ours = False
    if not ours:
        raise OwnershipError(
            f"{output}: exists and is not a report srcstacks wrote; refusing to overwrite"
            " it (choose another --output, or move it away)"
        )
