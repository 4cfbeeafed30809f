"""venvstacks' command line, with one change: a runtime seeded in its build dir is used as is.

srcstacks seeds local, packed and built runtimes into venvstacks' build dir as
``cpython@X.Y.Z/`` (see :mod:`srcstacks.runtime.prepare`). venvstacks 0.8.0b2 uses such a
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
its ``platforms`` (:func:`srcstacks.spec.rules.environment_markers`), unless the spec
sets its own; a layer targeting all six gets none (a universal lock, as before). uv's
upload-time filters (``exclude-newer``) are taken out of it: every wheel srcstacks locks
was uploaded to its wheel dir or index when it was built.

With a private index, the locks name no index server (:mod:`srcstacks.tools.pylock_urls`):
each lock uv exports is made portable before venvstacks reads, hashes and commits it, and
uv installs from a copy naming the index of this run again.

Each archive venvstacks compresses is announced before and after (layer, size,
seconds), which :func:`srcstacks.tools.venvstacks.progress_filter` turns into progress.

venvstacks 0.8.0b2 compresses at xz's default preset, with no option to change it; the
preset the spec sets (``xz_preset``, in ``SRCSTACKS_XZ_PRESET``) is handed to the
``tarfile.open`` that venvstacks' archiver (``pack_venv._make_tar_archive``) calls
(see :mod:`srcstacks.spec.archive`).

Started as ``<python> -m srcstacks.tools.venvstacks_main ARGS`` in place of
``-m venvstacks``. It wraps private functions of the pinned venvstacks release; a
release without them stops here with a message instead of downloading anything.
"""

from __future__ import annotations

import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import tomlkit
import venvstacks.pack_venv as pack_venv
import venvstacks.stacks as stacks
from venvstacks.cli import main

from srcstacks.spec.archive import DEFAULT_XZ_PRESET, XZ_PRESET_VARIABLE
from srcstacks.spec.rules import UPLOAD_TIME_SETTINGS, environment_markers
from srcstacks.tools import pylock_urls
from srcstacks.tools.venvstacks import ARCHIVED, ARCHIVING

_HOOKED = "_pdm_python_install"
_PYPROJECT = "_write_pyproject_file"
_EXPORT = "_run_uv_export_requirements"
_INSTALL = "_run_uv_pip_install"
_ARCHIVE = "create_archive"


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
    changed = False
    if "environments" not in uv and (markers := environment_markers(platforms)):
        uv["environments"] = list(markers)
        changed = True
    for key in UPLOAD_TIME_SETTINGS:  # they would filter out the wheels built for it
        if key in uv:
            del uv[key]
            changed = True
    if changed:
        pyproject.write_text(tomlkit.dumps(document), encoding="utf-8")
    return pinned


def _exported_portable(layer: Any, requirements_path: Path, pyproject_path: Path) -> Any:
    exported = _venvstacks_export(layer, requirements_path, pyproject_path)
    if base := os.environ.get(pylock_urls.INDEX_BASE_VARIABLE):
        path = Path(requirements_path)
        path.write_text(pylock_urls.to_portable(path.read_text("utf-8"), base), "utf-8")
    return exported


def _installed_from_this_index(
    layer: Any, requirements_path: Path, linux_target: str | None, macosx_target: str | None
) -> Any:
    base = os.environ.get(pylock_urls.INDEX_BASE_VARIABLE)
    if not base:
        return _venvstacks_install_layer(layer, requirements_path, linux_target, macosx_target)
    portable = Path(requirements_path)
    with tempfile.TemporaryDirectory(prefix="srcstacks-pylock-") as folder:
        # uv knows a pylock file by its name: the copy keeps it.
        real = Path(folder) / portable.name
        real.write_text(pylock_urls.to_real(portable.read_text("utf-8"), base), "utf-8")
        return _venvstacks_install_layer(layer, real, linux_target, macosx_target)


def _archive_said(request: Any, work_path: Path | None = None) -> Any:
    """venvstacks' ``create_archive``, with a line before and after a real compression."""
    if not request.needs_build:
        return _venvstacks_create_archive(request, work_path)
    target = request.build_metadata["install_target"]
    print(f"{ARCHIVING}{target}", flush=True)
    started = time.monotonic()
    metadata, archive_path = _venvstacks_create_archive(request, work_path)
    seconds = time.monotonic() - started
    print(f"{ARCHIVED}{target} {archive_path.stat().st_size} {seconds:.1f}", flush=True)
    return metadata, archive_path


def _xz_at_preset(preset: int) -> Any:
    """``tarfile.open``, writing xz archives at ``preset`` (venvstacks' archiver imports
    tarfile inside the function that writes, so the module's own ``open`` is wrapped;
    this process runs nothing but venvstacks)."""
    opener: Any = _tarfile_open  # typeshed has one overload per literal mode

    def open_at_preset(name: Any = None, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if mode == "w:xz":
            kwargs.setdefault("preset", preset)
        return opener(name, mode, *args, **kwargs)

    return open_at_preset


def _xz_preset() -> int:
    text = os.environ.get(XZ_PRESET_VARIABLE, str(DEFAULT_XZ_PRESET))
    if not text.isdigit() or not 0 <= int(text) <= 9:
        sys.exit(f"srcstacks: {XZ_PRESET_VARIABLE} must be a number from 0 to 9, not {text!r}")
    return int(text)


_MISSING = [_HOOKED] if not hasattr(stacks, _HOOKED) else []
_MISSING += [
    f"LayerEnvBase.{name}"
    for name in (_PYPROJECT, _EXPORT, _INSTALL)
    if not hasattr(stacks.LayerEnvBase, name)
]
if not hasattr(stacks.ArchiveBuildRequest, _ARCHIVE):
    _MISSING.append(f"ArchiveBuildRequest.{_ARCHIVE}")
if not hasattr(pack_venv, "_make_tar_archive"):
    _MISSING.append("pack_venv._make_tar_archive")
if _MISSING:
    sys.exit(
        f"srcstacks: this venvstacks has no {', '.join(_MISSING)}: seeded runtimes,"
        " per-platform locks, portable locks and the xz preset need the venvstacks"
        " release srcstacks pins (see pyproject.toml)"
    )
_venvstacks_install = getattr(stacks, _HOOKED)
setattr(stacks, _HOOKED, _seeded_first)
_venvstacks_pyproject = getattr(stacks.LayerEnvBase, _PYPROJECT)
setattr(stacks.LayerEnvBase, _PYPROJECT, _locked_for_its_platforms)
_venvstacks_export = getattr(stacks.LayerEnvBase, _EXPORT)
setattr(stacks.LayerEnvBase, _EXPORT, _exported_portable)
_venvstacks_install_layer = getattr(stacks.LayerEnvBase, _INSTALL)
setattr(stacks.LayerEnvBase, _INSTALL, _installed_from_this_index)
_venvstacks_create_archive = getattr(stacks.ArchiveBuildRequest, _ARCHIVE)
setattr(stacks.ArchiveBuildRequest, _ARCHIVE, _archive_said)
_tarfile_open = tarfile.open
tarfile.open = _xz_at_preset(_xz_preset())

if __name__ == "__main__":
    main()
