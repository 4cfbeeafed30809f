"""Which system package provides a shared library on this machine: ``ldconfig``, ``dpkg``, ``rpm``.

Read-only questions to the machine's own tools: the package that provided each library a
CPython built here links (its SBOM), the packages a wheel's build used
(:mod:`srcstacks.tools.build_packages`) and whether they are still installed at the same
version (a new one rebuilds the wheel). A machine that
cannot say (no dpkg or rpm, a library installed by hand) gets an empty answer, never an
error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from srcstacks.tools.process import run_probe


@dataclass(frozen=True)
class Package:
    """A package of the system's package manager."""

    name: str
    version: str
    manager: str  # "deb" or "rpm"
    architecture: str = ""  # "amd64", "all", "x86_64", "noarch"; "" when not asked
    # Who the distribution says maintains it: "GNU Libc Maintainers <debian-glibc@...>"
    # (deb), its vendor (rpm); "" when not asked.
    maintainer: str = ""


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
    for candidate in dict.fromkeys(_known_as(path)):
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
        found = run_probe(
            ["dpkg-query", "-W", "-f=${Version}\t${Architecture}\t${Maintainer}", owner]
        )
    except (OSError, subprocess.SubprocessError):
        return None
    version, architecture, maintainer = [*found.strip().split("\t"), "", ""][:3]
    name = owner.split(":", 1)[0]
    return Package(name, version, "deb", architecture, maintainer) if name and version else None


def _known_as(path: str, hops: int = 8) -> list[str]:
    """The paths a package may have installed ``path`` as, most direct first.

    dpkg knows a file by the path its package installed: /usr/lib/... on a merged-/usr
    system where the linker's cache says /lib/... Only the folder is resolved at first: the
    file may be a symlink another package installed (libssl-dev's ``libssl.so`` ->
    ``libssl.so.3``). A symlink no package installed (an alternative:
    ``libopenblas.so.0`` -> ``/etc/alternatives/...``) is followed one link at a time, so
    ``libopenblas.so`` is named by the package of the link it leads to
    (``openblas-pthread/libopenblas.so``: libopenblas-pthread-dev), not of the library at
    the end of the chain.
    """
    found = []
    current = path
    for _ in range(hops):
        folder, _, name = current.rpartition("/")
        resolved = f"{os.path.realpath(folder or '/')}/{name}".replace("//", "/")
        found += [current, resolved, "/usr" + current]
        if not os.path.islink(resolved):
            break
        current = os.path.normpath(os.path.join(os.path.dirname(resolved), os.readlink(resolved)))
    return found


def _rpm_package(path: str) -> Package | None:
    try:
        query = "%{NAME}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{VENDOR}\\n"
        text = run_probe(["rpm", "-qf", path, "--qf", query])
    except (OSError, subprocess.SubprocessError):
        return None
    line = text.splitlines()[0] if text else ""
    name, version, architecture, vendor = [*line.split("\t"), "", "", "", ""][:4]
    vendor = "" if vendor == "(none)" else vendor
    return Package(name, version, "rpm", architecture, vendor) if name and version else None


def installed_version(name: str, architecture: str, manager: str) -> str:
    """The version of package ``name`` installed here now; "" when it is not installed
    (or this machine cannot say)."""
    if manager == "deb" and shutil.which("dpkg-query"):
        wanted = f"{name}:{architecture}" if architecture and architecture != "all" else name
        command = ["dpkg-query", "-W", "-f=${db:Status-Abbrev}\t${Version}", wanted]
    elif manager == "rpm" and shutil.which("rpm"):
        wanted = f"{name}.{architecture}" if architecture else name
        command = ["rpm", "-q", wanted, "--qf", "ii \t%{VERSION}-%{RELEASE}"]
    else:
        return ""
    try:
        status, _, version = run_probe(command).strip().partition("\t")
    except (OSError, subprocess.SubprocessError):
        return ""
    # dpkg keeps a removed package's record ("rc", its configuration files): not installed.
    return version if status.startswith("ii") else ""


def distribution() -> tuple[str, str]:
    """This machine's distribution and release, from ``/etc/os-release``: ("debian",
    "bookworm"); empty strings where it does not say."""
    try:
        text = Path("/etc/os-release").read_text(encoding="utf-8")
    except OSError:
        return "", ""
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"')
    return values.get("ID", ""), values.get("VERSION_CODENAME", "")
