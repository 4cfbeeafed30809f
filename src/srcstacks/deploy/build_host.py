"""``srcstacks system-deps``, the build host's half: the system packages a machine needs
to build the stack's wheels again from source.

Reads this stack's wheels in the wheel dir (those built from source, by its provenance
records) and this machine's dynamic linker cache and package database (``ldconfig -p``,
``dpkg-query -S`` or ``rpm -qf``); writes nothing. What the wheels themselves show:

- each library their compiled files link against (``DT_NEEDED``, not carried in the
  wheel): a build links with its link-time file, ``libfoo.so`` beside ``libfoo.so.N``,
  so the package named is the one that installs that file (``libssl-dev``, not
  ``libssl3``). The C library and the compilers' own run-time libraries (libstdc++,
  libgfortran, ...) come with the compilers and the C library's development files;
- the compilers: ``gcc`` for a file GCC built (its ``.comment``), ``g++`` when one needs
  libstdc++, ``gfortran`` when one needs libgfortran: the package that installs each
  command found on PATH;
- GNU ``patch`` when the stack has patches (Fromager applies them with it).

The packages are this machine's: the same names on a build host of the same distribution
and release. What no package here installs is named instead.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from srcstacks.layout import Layout
from srcstacks.spec.config import StackConfig
from srcstacks.spec.patches import applicable_patches
from srcstacks.state.elf import read_compilers, read_links
from srcstacks.state.provenance import read_manifest_or_empty
from srcstacks.state.publishers import stack_wheels
from srcstacks.tools import system_packages
from srcstacks.tools.system_packages import Package

# Run-time libraries of the C library and the compilers: a build gets them with the
# compiler and the C library's development files, whatever names them.
_TOOLCHAIN_LIBRARIES = (
    "ld-linux", "libc.so", "libm.so", "libpthread.so", "libdl.so", "librt.so", "libutil.so",
    "libresolv.so", "libmvec.so", "libstdc++.so", "libgcc_s.so", "libgfortran.so",
    "libquadmath.so", "libgomp.so", "libatomic.so",
)  # fmt: skip
_C_LIBRARY_DEV_FILE = "libc.so"


@dataclass(frozen=True)
class WheelLinks:
    """What the compiled files of one wheel link against, and which compilers built them."""

    libraries: frozenset[str]  # sonames needed and not carried in the wheel
    compilers: frozenset[str]  # ``.comment`` strings: "GCC: (Debian 12.2.0-14) 12.2.0"


@dataclass(frozen=True)
class BuildNeeds:
    """What a build host needs installed to build the stack's wheels."""

    commands: tuple[str, ...]  # gcc, g++, gfortran, patch
    libraries: tuple[str, ...]  # sonames linked against, outside the toolchain's own
    packages: tuple[Package, ...]
    unprovided: tuple[str, ...]  # commands or link-time files no package here installs


def wheel_links(wheel: Path) -> WheelLinks:
    """Read every ELF file of ``wheel``."""
    needed: set[str] = set()
    held: set[str] = set()
    compilers: set[str] = set()
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            data = archive.read(name)
            links = read_links(data, name)
            if links is None:
                continue
            held.add(Path(name).name)
            held.update([links.soname] if links.soname else [])
            needed.update(links.needs)
            compilers.update(read_compilers(data))
    return WheelLinks(frozenset(needed - held), frozenset(compilers))


def is_toolchain_library(soname: str) -> bool:
    """Whether ``soname`` comes with the C library or a compiler."""
    return soname.startswith(_TOOLCHAIN_LIBRARIES)


def commands_needed(links: Iterable[WheelLinks], has_patches: bool) -> list[str]:
    """The commands the wheels' builds ran, as their compiled files show."""
    every = list(links)
    libraries = {soname for item in every for soname in item.libraries}
    commands = []
    if any(text.startswith("GCC") for item in every for text in item.compilers):
        commands.append("gcc")
    if any(soname.startswith("libstdc++.so") for soname in libraries):
        commands.append("g++")
    if any(soname.startswith("libgfortran.so") for soname in libraries):
        commands.append("gfortran")
    if has_patches:
        commands.append("patch")
    return commands


def link_time_file(soname: str, runtime_path: str) -> str:
    """The file a build links with for ``soname``: ``libfoo.so`` beside ``libfoo.so.N``."""
    stem = soname[: soname.index(".so") + 3]
    return str(Path(runtime_path).with_name(stem))


def needs_of(
    links: Iterable[WheelLinks],
    has_patches: bool,
    which: Callable[[str], str | None],
    library_paths: Mapping[str, str],
    package_of: Callable[[str], Package | None],
) -> BuildNeeds:
    """The build host's needs from the wheels' ``links``: ``which`` finds a command on
    PATH, ``library_paths`` is the linker cache (soname -> path), ``package_of`` names
    the package that installs a path (None: none does). Only the files the needs come
    to are asked about."""
    every = list(links)
    commands = commands_needed(every, has_patches)
    libraries = sorted(
        {soname for item in every for soname in item.libraries if not is_toolchain_library(soname)}
    )
    wanted = {command: which(command) or "" for command in commands}
    if "gcc" in commands and "libc.so.6" in library_paths:
        wanted[_C_LIBRARY_DEV_FILE] = link_time_file("libc.so.6", library_paths["libc.so.6"])
    for soname in libraries:
        path = library_paths.get(soname)
        wanted[soname] = link_time_file(soname, path) if path else ""
    packages: set[Package] = set()
    unprovided = []
    for label, path in wanted.items():
        package = package_of(path) if path else None
        if package is None:
            unprovided.append(label)
        else:
            packages.add(package)
    order = sorted(packages, key=lambda item: (item.manager, item.name, item.version))
    return BuildNeeds(tuple(commands), tuple(libraries), tuple(order), tuple(unprovided))


def build_needs(config: StackConfig) -> BuildNeeds:
    """What a build host needs for ``config``'s wheels, as this machine provides it."""
    layout = Layout.of(config)
    manifest = read_manifest_or_empty(config.wheel_dir)
    ours = stack_wheels(layout) or set(manifest.wheels)
    built = [
        manifest.wheels[name]
        for name in sorted(ours)
        if name in manifest.wheels and manifest.wheels[name].built_from_source
    ]
    links = [
        wheel_links(layout.wheel(record.filename))
        for record in built
        if layout.wheel(record.filename).is_file()
    ]
    has_patches = any(
        applicable_patches(config.patches_dir, record.project, record.version, config.variant)
        for record in built
    )
    return needs_of(
        links,
        has_patches,
        shutil.which,
        system_packages.library_paths(),
        system_packages.package_of,
    )
