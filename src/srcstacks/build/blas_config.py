"""Which BLAS and LAPACK a numpy-family wheel was built against, from its own record of it.

numpy and SciPy (built with meson) write ``<package>/__config__.py`` into their wheels:
a ``CONFIG`` dictionary whose ``"Build Dependencies"`` name the ``blas`` and ``lapack``
found (``name``, ``version``, ``found``). A build that found none still installs and
imports, and is many times slower at linear algebra: the parity check
(:mod:`srcstacks.build.parity`) compares ours with the upstream binary's.

The file is read as Python syntax (:mod:`ast`), never run: ``found`` is written as
``bool("True".lower().replace("false", ""))``, which is read as its string. Reads a
wheel; writes nothing.
"""

from __future__ import annotations

import ast
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

DEPENDENCIES = ("blas", "lapack")
# A name meson gives a dependency it did not find, or the build's own "no BLAS".
_NONE = {"", "none", "dep-none"}


@dataclass(frozen=True)
class Backend:
    """One build dependency a ``__config__.py`` names."""

    name: str  # "scipy-openblas", "openblas", "accelerate"; "" when none was found
    version: str

    @property
    def found(self) -> bool:
        return self.name.lower() not in _NONE

    def describe(self) -> str:
        return f"{self.name} {self.version}".strip() if self.found else "none"


def backends(wheel: Path) -> dict[str, Backend]:
    """``{"numpy/blas": Backend, "numpy/lapack": ...}`` for each top-level package of
    ``wheel`` whose ``__config__.py`` names build dependencies; empty for other wheels."""
    found: dict[str, Backend] = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            path = PurePosixPath(name)
            if path.name != "__config__.py" or len(path.parts) != 2:
                continue
            text = archive.read(name).decode("utf-8", errors="replace")
            for dependency, backend in read_config(text).items():
                found[f"{path.parts[0]}/{dependency}"] = backend
    return found


def read_config(text: str) -> dict[str, Backend]:
    """The BLAS and LAPACK a ``__config__.py`` names (none when it names none)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return {}
    section = _entry(_config_dict(tree), "Build Dependencies")
    found: dict[str, Backend] = {}
    for dependency in DEPENDENCIES:
        entry = _entry(section, dependency)
        if entry is None:
            continue
        name = _text(_entry(entry, "name"))
        was_found = _value(_entry(entry, "found")) not in (None, False, "", "False", "false")
        found[dependency] = Backend(name if was_found else "", _text(_entry(entry, "version")))
    return found


def _config_dict(tree: ast.Module) -> ast.Dict | None:
    """The dictionary assigned to ``CONFIG`` (inside ``_cleanup(...)`` as numpy writes it)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "CONFIG" for target in node.targets
        ):
            return next((item for item in ast.walk(node.value) if isinstance(item, ast.Dict)), None)
    return None


def _entry(node: ast.AST | None, key: str) -> ast.AST | None:
    if not isinstance(node, ast.Dict):
        return None
    for name, value in zip(node.keys, node.values, strict=True):
        if isinstance(name, ast.Constant) and name.value == key:
            return value
    return None


def _text(node: ast.AST | None) -> str:
    """What an entry's value comes to, as text ("" when it is not one :func:`_value`
    can work out)."""
    value = _value(node)
    return "" if value is None else str(value)


_STRING_METHODS = {"lower": 0, "upper": 0, "strip": 0, "replace": 2}


def _value(node: ast.AST | None) -> str | bool | None:
    """A constant, or what meson's ``bool("True".lower().replace("false", ""))`` comes to:
    constants, ``bool()`` and a few string methods are worked out; anything else is None
    (nothing of the file is run)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str | bool):
        return node.value
    if not isinstance(node, ast.Call) or node.keywords:
        return None
    arguments = [_value(item) for item in node.args]
    if any(item is None for item in arguments):
        return None
    if isinstance(node.func, ast.Name) and node.func.id == "bool" and len(arguments) == 1:
        return bool(arguments[0])
    if isinstance(node.func, ast.Attribute) and _STRING_METHODS.get(node.func.attr) == len(
        arguments
    ):
        receiver = _value(node.func.value)
        if isinstance(receiver, str) and all(isinstance(item, str) for item in arguments):
            result: str = getattr(receiver, node.func.attr)(*arguments)
            return result
    return None


def backend_differences(
    ours: dict[str, Backend], upstream: dict[str, Backend]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(what ours lacks, how the rest differs): a dependency upstream found and ours did
    not is lacking (``numpy/blas (upstream: scipy-openblas 0.3.29)``); one both found,
    by other names, only differs (``numpy/blas: openblas 0.3.21 here, scipy-openblas
    0.3.29 upstream``)."""
    lacking, differing = [], []
    for key, theirs in sorted(upstream.items()):
        mine = ours.get(key, Backend("", ""))
        if theirs.found and not mine.found:
            lacking.append(f"{key} (upstream: {theirs.describe()})")
        elif theirs.found and mine.name != theirs.name:
            differing.append(f"{key}: {mine.describe()} here, {theirs.describe()} upstream")
    return tuple(lacking), tuple(differing)
