"""venvstacks' command line, with one change: a runtime seeded in its build dir is used as is.

srcstacks seeds local, packed and built runtimes into venvstacks' build dir as
``cpython@X.Y.Z/`` (see :mod:`srcstacks.stages.runtime`). venvstacks 0.8.0b2 uses such a
folder, but only after looking the version up in pbs-installer's table of
python-build-standalone releases, so a CPython version that project never released
(3.11.2, which ``source = "build"`` makes from Debian's copy of the tarball) fails with
"Could not find a version matching". Here the seeded folder is taken first when it holds
``bin/python3``; every other runtime goes through venvstacks' own code unchanged.

Started as ``<python> -m srcstacks.tools.venvstacks_main ARGS`` in place of
``-m venvstacks``. It wraps a private function of the pinned venvstacks release; a
release without it stops here with a message instead of downloading anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

import venvstacks.stacks as stacks
from venvstacks.cli import main

_HOOKED = "_pdm_python_install"


def _seeded_first(target_path: Path, request: str) -> Path | None:
    seeded = target_path / request
    if (seeded / "bin" / "python3").is_file():
        return seeded
    installed: Path | None = _venvstacks_install(target_path, request)
    return installed


if not hasattr(stacks, _HOOKED):
    sys.exit(
        f"srcstacks: this venvstacks has no {_HOOKED}(): seeded runtimes need the"
        " venvstacks release srcstacks pins (see pyproject.toml)"
    )
_venvstacks_install = getattr(stacks, _HOOKED)
setattr(stacks, _HOOKED, _seeded_first)

if __name__ == "__main__":
    main()
