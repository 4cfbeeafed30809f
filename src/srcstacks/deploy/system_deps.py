"""``srcstacks system-deps``: the system packages a deploy host must install (and, with
:mod:`srcstacks.deploy.build_host`, those a build host needs).

Reads the published layer archives (each compiled file's ``DT_NEEDED``: the shared
libraries it loads) and this machine's dynamic linker cache and package database
(``ldconfig -p``, then ``dpkg-query -S`` or ``rpm -qf``). Writes nothing.

A library any archive of the stack holds (libpython, a library a wheel bundles) is no
host's business; every other one comes from the deploy host, which must have the package
that provides it. The packages named are those that provide each library on this
machine, the build host: the same names on a deploy host of the same distribution.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from srcstacks.deploy.build_host import BuildNeeds
from srcstacks.layout.ownership import inside
from srcstacks.sbom.system_libs import held_libraries, system_libraries
from srcstacks.spec.config import StackConfig
from srcstacks.state.archive_reader import ArchiveContents, read_archive
from srcstacks.tools import system_packages
from srcstacks.tools.venvstacks import published_layers

_INSTALL = {"deb": "apt-get install", "rpm": "dnf install"}


@dataclass(frozen=True)
class LayerNeeds:
    """What one layer archive loads from the deploy host."""

    layer: str
    libraries: tuple[str, ...]  # sonames no archive of the stack holds
    packages: tuple[system_packages.Package, ...]  # providing them on this machine
    unprovided: tuple[str, ...]  # sonames no package here provides


def _order(package: system_packages.Package) -> tuple[str, str, str]:
    return (package.manager, package.name, package.version)


def host_libraries(archives: dict[str, ArchiveContents]) -> dict[str, set[str]]:
    """Each layer's sonames that no archive of the stack holds: the host's to provide."""
    held = set().union(*(held_libraries(contents) for contents in archives.values()))
    return {
        layer: set().union(*system_libraries(contents).values()) - held
        for layer, contents in archives.items()
    }


def host_needs(
    libraries: dict[str, set[str]],
    provider: dict[str, system_packages.Package | None],
) -> list[LayerNeeds]:
    """Each layer's host libraries (:func:`host_libraries`) with the package that provides
    each here (``provider``; None or absent: none does)."""
    found = []
    for layer, needed in libraries.items():
        packages = {package for name in needed if (package := provider.get(name)) is not None}
        found.append(
            LayerNeeds(
                layer=layer,
                libraries=tuple(sorted(needed)),
                packages=tuple(sorted(packages, key=_order)),
                unprovided=tuple(sorted(name for name in needed if provider.get(name) is None)),
            )
        )
    return found


def _providers(sonames: set[str]) -> dict[str, system_packages.Package | None]:
    """The package that provides each soname on this machine (one ``dpkg`` call for all)."""
    paths = system_packages.library_paths()
    by_path = system_packages.packages_of(
        sorted({paths[name] for name in sonames if name in paths})
    )
    return {name: by_path.get(paths.get(name, "")) for name in sonames}


def deploy_needs(config: StackConfig) -> list[LayerNeeds]:
    """The host libraries of every published layer of ``config``, and their packages."""
    archives = {
        layer.install_target: read_archive(
            inside(config.output_dir, layer.archive_name, "archive name")
        )
        for layer in published_layers(config.output_dir)
    }
    libraries = host_libraries(archives)
    return host_needs(libraries, _providers(set().union(*libraries.values())))


def render(
    needs: list[LayerNeeds], build: BuildNeeds | None = None, *, as_json: bool = False
) -> str:
    """One line per layer and the install command for them all, then what a build host
    needs (with ``build``); or the same as JSON."""
    if as_json:
        data: dict[str, Any] = {"deploy_host": [_layer_json(item) for item in needs]}
        if build is not None:
            data["build_host"] = {
                "commands": list(build.commands),
                "libraries": list(build.libraries),
                "packages": [_package_json(p) for p in build.packages],
                "unprovided": list(build.unprovided),
                "builds_cpython": build.builds_cpython,
            }
        return json.dumps(data, indent=2, sort_keys=True)
    lines = []
    for item in needs:
        names = " ".join(package.name for package in item.packages) or "nothing"
        count = len(item.libraries)
        lines.append(f"{item.layer}: {names} ({count} system librar{'y' if count == 1 else 'ies'})")
        if item.unprovided:
            lines.append(f"  no package here provides: {' '.join(item.unprovided)}")
    every = sorted({package for item in needs for package in item.packages}, key=_order)
    lines.extend(_install_lines("a deploy host needs", every))
    if build is not None:
        lines.extend(_build_lines(build))
    return "\n".join(lines)


def _build_lines(build: BuildNeeds) -> list[str]:
    what = ", ".join(build.commands) or "no compiler"
    count = len(build.libraries)
    lines = _install_lines("a build host needs", list(build.packages))
    if not lines:
        lines = ["a build host needs: nothing beyond Python (no wheel here was compiled)"]
    lines.append(
        f"  to build {'the wheels and the runtime' if build.builds_cpython else 'the wheels'}:"
        f" {what}; {count} librar{'y' if count == 1 else 'ies'} beyond"
        " the C library and the compilers' own"
    )
    if build.unprovided:
        lines.append(f"  no package here installs: {' '.join(build.unprovided)}")
    return lines


def _install_lines(who: str, packages: list[system_packages.Package]) -> list[str]:
    return [
        f"{who}: {_INSTALL[manager]} "
        + " ".join(package.name for package in packages if package.manager == manager)
        for manager in sorted({package.manager for package in packages})
    ]


def _layer_json(item: LayerNeeds) -> dict[str, Any]:
    return {
        "layer": item.layer,
        "libraries": list(item.libraries),
        "packages": [_package_json(p) for p in item.packages],
        "unprovided": list(item.unprovided),
    }


def _package_json(package: system_packages.Package) -> dict[str, str]:
    return {"name": package.name, "version": package.version, "manager": package.manager}
