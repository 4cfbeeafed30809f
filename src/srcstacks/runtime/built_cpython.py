"""What a freshly installed CPython holds, read before it is packed (``source = "build"``).

Reads the installation :mod:`srcstacks.runtime.build` made under its DESTDIR, and
the interpreter in it. Writes only inside that installation: text files that name the
build folder (sysconfig's records) are rewritten to the mapped path. Everything else is a
question: does a packed binary name the build folder (then the build stops: rebuilds would
differ), do the modules nearly every stack needs import, which versions of the code
CPython compiles in from its own tree (expat, libmpdec) were built, and which system
libraries the interpreter links, with the package that provides each here.
"""

from __future__ import annotations

import ast
import json
import os
import pprint
from pathlib import Path

from srcstacks.errors import RuntimeBuildError
from srcstacks.runtime.contents import bundled_code
from srcstacks.state.elf import read_links
from srcstacks.state.records import BundledLibrary, SystemLibrary
from srcstacks.tools import system_packages
from srcstacks.tools.process import run_probe


def remove_build_paths(installed: Path, tree: Path, mapped: str) -> None:
    """Rewrite the build folder to ``mapped`` in text files; refuse it anywhere else.

    Only the files the archive takes are checked: bytecode, static libraries and object
    files are left out of it (see runtime_pack).
    """
    needle, replacement = os.fsencode(tree), mapped.encode()
    for path in sorted(installed.rglob("*")):
        if path.is_symlink() or not path.is_file() or _left_out(path):
            continue
        data = path.read_bytes()
        if needle not in data:
            continue
        if b"\0" in data:
            raise RuntimeBuildError(
                f"{path.relative_to(installed)}: the built file names the build folder {tree};"
                " its bytes would differ on every rebuild (check the CFLAGS in"
                " build-settings/cpython.yaml)"
            )
        if path.name.startswith("_sysconfigdata_") and path.suffix == ".py":
            path.write_text(rewritten_sysconfigdata(data, str(tree), mapped), encoding="utf-8")
        else:
            path.write_bytes(data.replace(needle, replacement))


_SYSCONFIG_HEADER = "# system configuration generated and used by the sysconfig module\n"
_SYSCONFIG_ASSIGNMENT = "build_time_vars = "


def rewritten_sysconfigdata(data: bytes, tree: str, mapped: str) -> str:
    """sysconfig's record with ``tree`` replaced, written the way CPython writes it.

    A plain text replacement is not enough: the file is ``pprint`` output, whose line
    breaks depend on the length of the values, so builds in folders of other lengths
    would still differ.
    """
    text = data.decode("utf-8")
    _, found, literal = text.partition(_SYSCONFIG_ASSIGNMENT)
    if not found:
        raise RuntimeBuildError(f"{tree}: unexpected sysconfig data file: no build_time_vars")
    values = ast.literal_eval(literal)
    cleaned = {
        key: value.replace(tree, mapped) if isinstance(value, str) else value
        for key, value in values.items()
    }
    return _SYSCONFIG_HEADER + _SYSCONFIG_ASSIGNMENT + pprint.pformat(cleaned) + "\n"


def _left_out(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix in (".pyc", ".a", ".o")


_NEEDED_MODULES = {
    "ssl": "libssl-dev",
    "ctypes": "libffi-dev",
    "zlib": "zlib1g-dev",
    "bz2": "libbz2-dev",
    "lzma": "liblzma-dev",
    "sqlite3": "libsqlite3-dev",
}


def check_modules(interpreter: Path) -> None:
    """The modules nearly every stack needs must import in the built interpreter."""
    probe = (
        "import importlib, json\nmissing = []\n"
        f"for name in {sorted(_NEEDED_MODULES)!r}:\n"
        "    try:\n        importlib.import_module(name)\n"
        "    except ImportError:\n        missing.append(name)\n"
        "print(json.dumps(missing))"
    )
    missing = json.loads(_run_built(interpreter, probe))
    if missing:
        packages = " ".join(_NEEDED_MODULES[name] for name in missing)
        raise RuntimeBuildError(
            f"the built CPython cannot import {', '.join(missing)}: install {packages}"
            " and rebuild (see the 'necessary bits' lines of the make log)"
        )


def bundled_libraries(interpreter: Path) -> tuple[BundledLibrary, ...]:
    """The third-party code compiled or linked into the built interpreter (expat, ...)."""
    try:
        return bundled_code(interpreter)
    except Exception as exc:
        raise RuntimeBuildError(f"the built CPython {interpreter} does not run: {exc}") from None


def _run_built(interpreter: Path, code: str) -> str:
    try:
        return run_probe([str(interpreter), "-I", "-B", "-c", code])
    except Exception as exc:
        raise RuntimeBuildError(f"the built CPython {interpreter} does not run: {exc}") from None


def system_libraries(installed: Path) -> tuple[SystemLibrary, ...]:
    """The shared libraries the built files load from the system, with their packages."""
    held: set[str] = set()
    needed: set[str] = set()
    for path in sorted(installed.rglob("*")):
        if path.is_symlink() or not path.is_file() or _left_out(path):
            continue
        with path.open("rb") as stream:
            if stream.read(4) != b"\x7fELF":
                continue
        links = read_links(path.read_bytes(), path.name)
        if links is None:
            continue
        held.add(path.name)
        if links.soname:
            held.add(links.soname)
        needed.update(links.needs)
    paths = system_packages.library_paths()
    wanted = sorted(needed - held)
    packages = system_packages.packages_of(paths[soname] for soname in wanted if soname in paths)
    found = []
    for soname in wanted:
        package = packages[paths[soname]] if soname in paths else None
        found.append(
            SystemLibrary(soname, package.name, package.version, package.manager)
            if package
            else SystemLibrary(soname)
        )
    return tuple(found)
