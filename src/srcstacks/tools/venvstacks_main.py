"""venvstacks' command line, with one change: a runtime seeded in its build dir is used as is.

srcstacks seeds local, packed and built runtimes into venvstacks' build dir as
``cpython@X.Y.Z/`` (see :mod:`srcstacks.stages.runtime`). venvstacks 0.8.0b2 uses such a
folder, but only after looking the version up in pbs-installer's table of
python-build-standalone releases, so a CPython version that project never released
(3.11.2, which ``source = "build"`` makes from Debian's copy of the tarball) fails with
"Could not find a version matching". Here the seeded folder is taken first when it holds
``bin/python3``; every other runtime goes through venvstacks' own code unchanged.

A layer is locked for the platforms it targets, not for all six: venvstacks 0.8.0b2
gives ``uv lock`` a universal resolution unless the spec sets ``[tool.uv]
environments``, so a Linux-only stack failed on click's ``colorama;
platform_system == 'Windows'``, which no Linux host builds. Each layer's lock project
(the ``pyproject.toml`` venvstacks writes for ``uv lock``) gets the ``environments`` of
its ``platforms`` (:func:`srcstacks.spec_rules.environment_markers`), unless the spec
sets its own; a layer targeting all six gets none (a universal lock, as before).

Started as ``<python> -m srcstacks.tools.venvstacks_main ARGS`` in place of
``-m venvstacks``. It wraps private functions of the pinned venvstacks release; a
release without them stops here with a message instead of downloading anything.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import tomlkit
import venvstacks.stacks as stacks
from venvstacks.cli import main

from srcstacks.spec_rules import environment_markers

_HOOKED = "_pdm_python_install"
_PYPROJECT = "_write_pyproject_file"


def _seeded_first(target_path: Path, request: str) -> Path | None:
    seeded = target_path / request
    if (seeded / "bin" / "python3").is_file():
        return seeded
    installed: Path | None = _venvstacks_install(target_path, request)
    return installed


def _locked_for_its_platforms(layer: Any, requirements_input_path: Path) -> Any:
    pinned = _venvstacks_pyproject(layer, requirements_input_path)
    pyproject = Path(layer._pyproject_path) / "pyproject.toml"
    document = tomlkit.parse(pyproject.read_text(encoding="utf-8"))
    uv = document["tool"]["uv"]
    platforms = [str(platform) for platform in layer.env_spec.platforms]
    if "environments" not in uv and (markers := environment_markers(platforms)):
        uv["environments"] = list(markers)
        pyproject.write_text(tomlkit.dumps(document), encoding="utf-8")
    return pinned


if not hasattr(stacks, _HOOKED) or not hasattr(stacks.LayerEnvBase, _PYPROJECT):
    sys.exit(
        f"srcstacks: this venvstacks has no {_HOOKED}() or LayerEnvBase.{_PYPROJECT}():"
        " seeded runtimes and per-platform locks need the venvstacks release srcstacks"
        " pins (see pyproject.toml)"
    )
_venvstacks_install = getattr(stacks, _HOOKED)
setattr(stacks, _HOOKED, _seeded_first)
_venvstacks_pyproject = getattr(stacks.LayerEnvBase, _PYPROJECT)
setattr(stacks.LayerEnvBase, _PYPROJECT, _locked_for_its_platforms)

if __name__ == "__main__":
    main()
