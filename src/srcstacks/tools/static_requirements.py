"""Install requirements read from ``pyproject.toml`` where a backend would build to tell.

In the resolve step of a parallel run (``fromager bootstrap --sdist-only``), Fromager
asks each package that is not a build tool for its install requirements through PEP
517's ``prepare_metadata_for_build_wheel``. meson-python has no such hook, so
pyproject_hooks builds the whole wheel to read its metadata and throws it away, and the
package is compiled a second time by the parallel builds: SciPy 1.17.1 took 15 min 24 s
on 2 cores only to say it needs numpy. Its ``[project]`` table names the requirements,
and PEP 621 forbids a backend to change a field ``dynamic`` does not list, so they are
read from there instead.

Runs inside Fromager's process, in place of Fromager's default
(:mod:`srcstacks.tools.fromager_main`; a plugin override of the package still wins).
Everything else keeps Fromager's default: another backend, ``dependencies`` listed in
``dynamic``, an unreadable table, a requirement with extras.
"""

from __future__ import annotations

import functools
import logging
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

# Build backends without prepare_metadata_for_build_wheel, whose metadata is static.
BACKENDS_WITHOUT_METADATA_HOOK = frozenset({"mesonpy"})
_LOG = logging.getLogger("fromager.dependencies")  # Fromager's own, so its lines read alike


def static_install_requirements(
    source_dir: Path, extras: Iterable[str] = ()
) -> list[Requirement] | None:
    """``[project] dependencies`` of the ``pyproject.toml`` in ``source_dir`` when its
    backend has no metadata hook and they are static; None when Fromager must ask."""
    try:
        data = tomllib.loads((source_dir / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    system = data.get("build-system")
    backend = system.get("build-backend") if isinstance(system, dict) else None
    project = data.get("project")
    if backend not in BACKENDS_WITHOUT_METADATA_HOOK or not isinstance(project, dict):
        return None
    dynamic = project.get("dynamic", [])
    listed = project.get("dependencies", [])
    if list(extras) or not isinstance(dynamic, list) or "dependencies" in dynamic:
        return None
    if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed):
        return None
    try:
        return [Requirement(item) for item in listed]
    except InvalidRequirement:
        return None


def static_first(default: Callable[..., Any]) -> Callable[..., Any]:
    """Fromager's ``get_install_dependencies_of_sdist`` default, reading static
    requirements first. It has the default's signature: Fromager passes a function only
    the arguments its signature names."""

    @functools.wraps(default)
    def get_install_dependencies_of_sdist(**kwargs: Any) -> Any:
        req = kwargs["req"]
        source = Path(kwargs.get("build_dir") or kwargs["sdist_root_dir"])
        found = static_install_requirements(source, req.extras)
        if found is None:
            return default(**kwargs)
        _LOG.info(
            "%s: install requirements read from pyproject.toml (static; %s has no metadata"
            " hook and would build the wheel to tell)", req.name, "meson-python",
        )  # fmt: skip
        return set(found)

    return get_install_dependencies_of_sdist
