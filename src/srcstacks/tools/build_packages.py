"""Which system packages a compiled build used: read from its ELF files, named by the
package manager.

Reads a wheel (or the unpacked tree of one being packed, inside Fromager) and asks this
machine's linker cache and package database (:mod:`srcstacks.tools.system_packages`).
Writes nothing. What the compiled files show, and what it is taken to mean:

- each library they link against and do not carry (``DT_NEEDED``): the package of the
  file they load at run time (``libz.so.1``: ``zlib1g``, a *runtime* package) and the
  package of the link-time file a build links with (``libz.so``: ``zlib1g-dev``, a
  *development* package, which also holds the library's headers). The compilers' own
  run-time libraries (libstdc++, libgfortran, ...) come with the compiler; the C
  library's link-time file is ``libc.so`` (``libc6-dev``);
- the compilers: ``gcc`` for a file GCC built (its ``.comment``), ``g++`` when one needs
  libstdc++, ``gfortran`` when one needs libgfortran: the package of the command on PATH
  and of the file it resolves to (``gcc`` and ``gcc-12``), each a *compiler* package;
  and ``ld``, which linked every compiled file (``binutils``), the *linker* package.

Each package is named once, with every role it played and what it ``provides``: the
sonames, file names and commands it was named for.

A header the build included without linking its library leaves no trace in the compiled
files, so it is not named.
"""

from __future__ import annotations

import functools
import os
import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from srcstacks.state.build_record import COMPILER, DEVELOPMENT, LINKER, RUNTIME, SystemPackage
from srcstacks.state.elf import ELF_MAGIC, read_compilers, read_links
from srcstacks.tools import system_packages
from srcstacks.tools.system_packages import Package

# Run-time libraries of the C library and the compilers: a build gets them with the
# compiler and the C library's development files, whatever names them.
_TOOLCHAIN_LIBRARIES = (
    "ld-linux", "libc.so", "libm.so", "libpthread.so", "libdl.so", "librt.so", "libutil.so",
    "libresolv.so", "libmvec.so", "libstdc++.so", "libgcc_s.so", "libgfortran.so",
    "libquadmath.so", "libgomp.so", "libatomic.so",
)  # fmt: skip
C_LIBRARY = "libc.so.6"


@dataclass(frozen=True)
class WheelLinks:
    """What the compiled files of one wheel link against, and which compilers built them."""

    libraries: frozenset[str]  # sonames needed and not carried in the wheel
    compilers: frozenset[str]  # ``.comment`` strings: "GCC: (Debian 12.2.0-14) 12.2.0"


def links_of(files: Iterable[tuple[str, bytes]]) -> WheelLinks:
    """The links and compilers of the ELF files among ``files`` (name, bytes)."""
    needed: set[str] = set()
    held: set[str] = set()
    compilers: set[str] = set()
    for name, data in files:
        links = read_links(data, name)
        if links is None:
            continue
        held.add(Path(name).name)
        held.update([links.soname] if links.soname else [])
        needed.update(links.needs)
        compilers.update(read_compilers(data))
    return WheelLinks(frozenset(needed - held), frozenset(compilers))


def wheel_links(wheel: Path) -> WheelLinks:
    """Read every ELF file of ``wheel``."""
    with zipfile.ZipFile(wheel) as archive:
        return links_of((name, archive.read(name)) for name in archive.namelist())


def tree_links(root: Path) -> WheelLinks:
    """Read every ELF file under ``root`` (an unpacked wheel)."""
    return links_of(_elf_files(root))


def _elf_files(root: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        with path.open("rb") as stream:
            if stream.read(4) != ELF_MAGIC:
                continue
        yield path.relative_to(root).as_posix(), path.read_bytes()


def is_toolchain_library(soname: str) -> bool:
    """Whether ``soname`` comes with the C library or a compiler."""
    return soname.startswith(_TOOLCHAIN_LIBRARIES)


def compilers_used(links: Iterable[WheelLinks]) -> list[str]:
    """The compiler commands the wheels' builds ran, as their compiled files show."""
    every = list(links)
    libraries = {soname for item in every for soname in item.libraries}
    commands = []
    if any(text.startswith("GCC") for item in every for text in item.compilers):
        commands.append("gcc")
    if any(soname.startswith("libstdc++.so") for soname in libraries):
        commands.append("g++")
    if any(soname.startswith("libgfortran.so") for soname in libraries):
        commands.append("gfortran")
    return commands


def link_time_name(soname: str) -> str:
    """``libfoo.so`` for ``libfoo.so.2`` (a name without ``.so`` is itself)."""
    return soname[: soname.index(".so") + 3] if ".so" in soname else soname


def link_time_file(soname: str, runtime_path: str) -> str:
    """The file a build links with for ``soname``: ``libfoo.so`` beside ``libfoo.so.N``."""
    return str(Path(runtime_path).with_name(link_time_name(soname)))


def files_used(
    links: WheelLinks, which: Callable[[str], str | None], library_paths: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """(role, path, name) of each file the build of ``links`` used that a package may own:
    compiler and linker commands (as on PATH and resolved), link-time files and run-time
    libraries (named by the soname the compiled files need). A soname the linker cache
    does not know is left out (nothing to name)."""
    found: list[tuple[str, str, str]] = []
    commands = [(COMPILER, command) for command in compilers_used([links])]
    if links.libraries or links.compilers:  # a compiled file: a linker linked it
        commands.append((LINKER, "ld"))
    for role, command in commands:
        path = which(command)
        if path:
            for item in dict.fromkeys([path, os.path.realpath(path)]):
                found.append((role, item, Path(item).name))
    for soname in sorted(links.libraries):
        path = library_paths.get(soname)
        if path is None:
            continue
        found.append((RUNTIME, path, soname))
        if soname == C_LIBRARY or not is_toolchain_library(soname):
            development = link_time_file(soname, path)
            found.append((DEVELOPMENT, development, Path(development).name))
    return found


def packages_used(
    links: WheelLinks,
    which: Callable[[str], str | None],
    library_paths: Mapping[str, str],
    package_of: Callable[[str], Package | None],
    distribution: tuple[str, str] = ("", ""),
) -> tuple[SystemPackage, ...]:
    """The packages that own the files the build of ``links`` used (:func:`files_used`),
    one per package with every role it played and what it provided; a file no package
    owns is left out."""
    roles: dict[Package, set[str]] = {}
    provides: dict[Package, set[str]] = {}
    for role, path, name in files_used(links, which, library_paths):
        package = package_of(path)
        if package is not None:
            roles.setdefault(package, set()).add(role)
            provides.setdefault(package, set()).add(name)
    ordered = sorted(roles.items(), key=lambda item: _order(item[0]))
    return tuple(
        SystemPackage(
            package.name,
            package.version,
            package.architecture,
            package.manager,
            tuple(sorted(found)),
            *distribution,
            provides=tuple(sorted(provides[package])),
            maintainer=package.maintainer,
        )
        for package, found in ordered
    )


def _order(package: Package) -> tuple[str, str, str]:
    return (package.manager, package.name, package.architecture)


def packages_used_here(tree: Path) -> tuple[SystemPackage, ...]:
    """:func:`packages_used` by the compiled files under ``tree``, asked of this machine;
    none when it holds no compiled file."""
    links = tree_links(tree)
    if not links.libraries and not links.compilers:
        return ()
    library_paths = system_packages.library_paths()
    # Every file's package in one question to dpkg (packages_used asks file by file).
    system_packages.packages_of(
        path for _, path, _ in files_used(links, shutil.which, library_paths)
    )
    return packages_used(
        links,
        shutil.which,
        library_paths,
        system_packages.package_of,
        system_packages.distribution(),
    )


def package_changes(
    packages: Iterable[SystemPackage], installed_version: Callable[[str, str, str], str]
) -> list[str]:
    """Each of ``packages`` (a build's) installed here at another version now, or not at
    all: ``"zlib1g-dev 1:1.2.13.dfsg-1 (now 1:1.3.dfsg-3)"``. ``installed_version(name,
    architecture, manager)`` gives the version here ("" when not installed)."""
    changes = []
    for package in packages:
        now = installed_version(package.name, package.architecture, package.manager)
        if now != package.version:
            changes.append(f"{package.name} {package.version} (now {now or 'not installed'})")
    return changes


# Asked once per package a run: every compiled wheel's build used libc6, gcc, ...
_installed_version = functools.cache(system_packages.installed_version)


def changes_here(packages: Iterable[SystemPackage]) -> str:
    """:func:`package_changes` on this machine, as one phrase ("" when none changed)."""
    changes = package_changes(packages, _installed_version)
    if not changes:
        return ""
    return "built with system package(s) " + ", ".join(changes)
