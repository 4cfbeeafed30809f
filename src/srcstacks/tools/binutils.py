"""GNU binutils' ``strip``, run for srcstacks: debug information out of ELF files.

Reads and rewrites one ELF file in place. ``strip`` comes with the C compiler
(Debian's ``binutils``, part of ``build-essential``), which a build host has.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from srcstacks.errors import ToolError
from srcstacks.tools.process import run_captured, tool_env


def strip_debug_info(target: Path) -> None:
    """Remove the debug sections of ``target`` (its symbol table stays, for backtraces).

    The output depends on the input bytes alone, so a repacked runtime stays identical.
    """
    strip = shutil.which("strip", path=tool_env()["PATH"])
    if strip is None:
        raise ToolError(
            "strip is not installed (on Debian: apt-get install binutils), or set"
            ' [tool.srcstacks.runtime] debug_info = "keep"'
        )
    try:
        result = run_captured([strip, "--strip-debug", str(target)], timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"strip --strip-debug {target}: {exc}") from None
    if result.returncode != 0:
        raise ToolError(f"strip --strip-debug {target}: {result.stderr.strip()}")
