"""Which system package provides a shared library on this machine: ``ldconfig``, ``dpkg``, ``rpm``.

Read-only questions to the machine's own tools, for the SBOM of a CPython built here: the
build machine's package that provided each library the interpreter links. A machine that
cannot say (no dpkg or rpm, a library installed by hand) gets an empty answer, never an
error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from srcstacks.tools.process import run_probe


@dataclass(frozen=True)
class Package:
    """A package of the system's package manager."""

    name: str
    version: str
    manager: str  # "deb" or "rpm"


def library_paths() -> dict[str, str]:
    """soname -> path of each library the dynamic linker's cache knows (first entry wins)."""
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    try:
        output = run_probe([ldconfig, "-p"])
    except (OSError, subprocess.SubprocessError):
        return {}
    paths: dict[str, str] = {}
    for line in output.splitlines()[1:]:
        name, _, rest = line.strip().partition(" ")
        path = rest.rpartition("=> ")[2].strip()
        if name and path:
            paths.setdefault(name, path)
    return paths


def package_of(path: str) -> Package | None:
    """The deb or rpm package that installed ``path``, with its version; None if unknown."""
    if shutil.which("dpkg-query"):
        return _deb_package(path)
    if shutil.which("rpm"):
        return _rpm_package(path)
    return None


def _deb_package(path: str) -> Package | None:
    owner = ""
    # dpkg knows a file by the path its package installed: /usr/lib/... on a merged-/usr
    # system where the linker's cache says /lib/...
    for candidate in dict.fromkeys([path, os.path.realpath(path), "/usr" + path]):
        try:
            # "libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6" (arch-less for arch: all)
            found = run_probe(["dpkg-query", "-S", candidate])
            owner = found.split(": ", 1)[0].split(",")[0].strip()
            break
        except (OSError, subprocess.SubprocessError):
            continue
    if not owner:
        return None
    try:
        # Asked with its architecture: with libc6:i386 installed too, a bare "libc6"
        # prints both versions run together.
        version = run_probe(["dpkg-query", "-W", "-f=${Version}", owner]).strip()
    except (OSError, subprocess.SubprocessError):
        return None
    name = owner.split(":", 1)[0]
    return Package(name, version, "deb") if name and version else None


def _rpm_package(path: str) -> Package | None:
    try:
        text = run_probe(["rpm", "-qf", path, "--qf", "%{NAME} %{VERSION}-%{RELEASE}\\n"])
    except (OSError, subprocess.SubprocessError):
        return None
    name, _, version = text.splitlines()[0].partition(" ") if text else ("", "", "")
    return Package(name, version, "rpm") if name and version else None
