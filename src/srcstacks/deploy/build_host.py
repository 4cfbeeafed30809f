"""``srcstacks system-deps``, the build host's half: the system packages a machine needs
to build the stack's wheels again from source.

Reads this stack's wheels in the wheel dir (those built from source, by its provenance
records) and this machine's dynamic linker cache and package database (``ldconfig -p``,
``dpkg-query -S`` or ``rpm -qf``); writes nothing. What the wheels themselves show
(read by :mod:`srcstacks.tools.build_packages`, which also names the packages each build
used in its provenance):

- each library their compiled files link against (``DT_NEEDED``, not carried in the
  wheel): a build links with its link-time file, ``libfoo.so`` beside ``libfoo.so.N``,
  so the package named is the one that installs that file (``libssl-dev``, not
  ``libssl3``). The C library and the compilers' own run-time libraries (libstdc++,
  libgfortran, ...) come with the compilers and the C library's development files;
- the compilers: ``gcc`` for a file GCC built (its ``.comment``), ``g++`` when one needs
  libstdc++, ``gfortran`` when one needs libgfortran: the package that installs each
  command found on PATH;
- GNU ``patch`` when the stack has patches (Fromager applies them with it).

A runtime srcstacks built from CPython's source (``source = "build"``) adds ``gcc`` and
``make`` (configure and make build it; ``patch`` applies its patches) and the packages
its build recorded (``runtime.json``: the development packages of its optional modules'
libraries, zlib's, OpenSSL's, ...).

The packages are this machine's (the same names on a build host of the same distribution
and release), and the compiler, linker and development packages each build recorded
(:mod:`srcstacks.tools.build_packages`), at the versions it used: right for wheels
collected from another host too. What no package installs is named instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from srcstacks.layout import Layout
from srcstacks.spec.config import StackConfig
from srcstacks.spec.patches import applicable_patches
from srcstacks.state.build_record import COMPILER, DEVELOPMENT, LINKER, SystemPackage
from srcstacks.state.provenance import read_manifest_or_empty
from srcstacks.state.publishers import stack_wheels
from srcstacks.state.records import read_runtime_records
from srcstacks.tools import system_packages
from srcstacks.tools.build_packages import (
    WheelLinks,
    compilers_used,
    is_toolchain_library,
    link_time_file,
    link_time_name,
    wheel_links,
)
from srcstacks.tools.system_packages import Package

_C_LIBRARY_DEV_FILE = "libc.so"


@dataclass(frozen=True)
class BuildNeeds:
    """What a build host needs installed to build the stack's wheels."""

    commands: tuple[str, ...]  # gcc, g++, gfortran, make, patch
    libraries: tuple[str, ...]  # sonames linked against, outside the toolchain's own
    packages: tuple[Package, ...]
    unprovided: tuple[str, ...]  # commands or link-time files no package here installs
    builds_cpython: bool = False  # a runtime is built from CPython's source too


def commands_needed(
    links: Iterable[WheelLinks], has_patches: bool, builds_cpython: bool = False
) -> list[str]:
    """The commands the wheels' builds ran, as their compiled files show, and those a
    CPython build runs."""
    compilers = compilers_used(links)
    if builds_cpython and "gcc" not in compilers:
        compilers.insert(0, "gcc")
    return compilers + (["make"] if builds_cpython else []) + (["patch"] if has_patches else [])


def needs_of(
    links: Iterable[WheelLinks],
    has_patches: bool,
    which: Callable[[str], str | None],
    library_paths: Mapping[str, str],
    package_of: Callable[[str], Package | None],
    builds_cpython: bool = False,
) -> BuildNeeds:
    """The build host's needs from the wheels' ``links``: ``which`` finds a command on
    PATH, ``library_paths`` is the linker cache (soname -> path), ``package_of`` names
    the package that installs a path (None: none does). Only the files the needs come
    to are asked about. ``builds_cpython``: a runtime is built from source too."""
    every = list(links)
    commands = commands_needed(every, has_patches, builds_cpython)
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
    return BuildNeeds(
        tuple(commands), tuple(libraries), tuple(order), tuple(unprovided), builds_cpython
    )


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
    runtimes = [
        record.build for record in read_runtime_records(layout.runtime_record) if record.build
    ]
    has_patches = any(runtime.patches for runtime in runtimes) or any(
        applicable_patches(config.patches_dir, record.project, record.version, config.variant)
        for record in built
    )
    needs = needs_of(
        links,
        has_patches,
        shutil.which,
        system_packages.library_paths(),
        system_packages.package_of,
        builds_cpython=bool(runtimes),
    )
    recorded = [
        package
        for record in built
        if record.build_environment is not None
        for package in record.build_environment.system_packages
    ]
    recorded += [package for runtime in runtimes for package in runtime.system_packages]
    return with_recorded(needs, recorded)


_BUILD_ROLES = frozenset({COMPILER, LINKER, DEVELOPMENT})


def with_recorded(needs: BuildNeeds, recorded: Iterable[SystemPackage]) -> BuildNeeds:
    """``needs`` with the packages the builds themselves recorded (compiler, linker and
    development packages, at the versions the builds used, which win over this
    machine's); what a recorded package provided is no longer unprovided."""
    build = [package for package in recorded if _BUILD_ROLES & set(package.roles)]
    by_name = {(package.manager, package.name): package for package in needs.packages}
    for package in build:
        by_name[(package.manager, package.name)] = Package(
            package.name, package.version, package.manager, package.architecture
        )
    covered = {name for package in build for name in package.provides}
    unprovided = tuple(
        label for label in needs.unprovided
        if label not in covered and link_time_name(label) not in covered
    )  # fmt: skip
    packages = tuple(sorted(by_name.values(), key=lambda p: (p.manager, p.name, p.version)))
    return replace(needs, packages=packages, unprovided=unprovided)
