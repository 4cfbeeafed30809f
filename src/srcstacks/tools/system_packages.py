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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from srcstacks.tools.process import run_captured, run_probe


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
    return packages_of([path])[path]


# What this process learnt of the package database: a build asks about the same
# compilers, headers and libraries for every compiled wheel, and each ``dpkg-query -S``
# reads dpkg's whole file list (about 0.1 s).
_KNOWN: dict[str, Package | None] = {}


def forget_known_packages() -> None:
    """Ask the package database again from now on (after packages were installed)."""
    _KNOWN.clear()


def packages_of(paths: Iterable[str]) -> dict[str, Package | None]:
    """:func:`package_of` for each of ``paths``, asking dpkg once for all of them."""
    wanted = list(dict.fromkeys(paths))
    unknown = [path for path in wanted if path not in _KNOWN]
    if unknown:
        if shutil.which("dpkg-query"):
            _KNOWN.update(_deb_packages(unknown))
        else:
            has_rpm = shutil.which("rpm") is not None
            _KNOWN.update({path: _rpm_package(path) if has_rpm else None for path in unknown})
    return {path: _KNOWN[path] for path in wanted}


def _deb_packages(paths: list[str]) -> dict[str, Package | None]:
    candidates = {path: list(dict.fromkeys(_known_as(path))) for path in paths}
    owners = _deb_owners(sorted({c for found in candidates.values() for c in found}))
    owner_of = {
        path: next((owners[c] for c in found if c in owners), "")
        for path, found in candidates.items()
    }
    packages = _deb_details(sorted(set(owner_of.values()) - {""}))
    return {path: packages.get(owner) for path, owner in owner_of.items()}


def _deb_owners(candidates: list[str]) -> dict[str, str]:
    """Path -> the package that installed it (``libc6:amd64``), for those dpkg knows."""
    if not candidates:
        return {}
    try:
        # Exit code 1 when some path is no package's: the others are still listed.
        result = run_captured(["dpkg-query", "-S", *candidates], timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return {}
    owners: dict[str, str] = {}
    for line in result.stdout.splitlines():
        # "libc6:amd64: /lib/x86_64-linux-gnu/libc.so.6", "a, b: /path" (shared);
        # "diversion by X from: /path" lines say nothing of the owner.
        owner, separator, path = line.partition(": ")
        if separator and not owner.startswith("diversion by "):
            owners.setdefault(path.strip(), owner.split(",")[0].strip())
    return owners


def _deb_details(owners: list[str]) -> dict[str, Package]:
    """Each installed package of ``owners`` with its version, architecture, maintainer."""
    if not owners:
        return {}
    # Asked with its architecture (as -S names it): with libc6:i386 installed too, a bare
    # "libc6" prints both versions run together.
    format_ = "${binary:Package}\t${Package}\t${Version}\t${Architecture}\t${Maintainer}\n"
    try:
        result = run_captured(["dpkg-query", "-W", f"-f={format_}", *owners], timeout=60,
                              check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return {}
    packages: dict[str, Package] = {}
    for line in result.stdout.splitlines():
        qualified, name, version, architecture, maintainer = [*line.split("\t"), "", "", "", ""][:5]
        if name and version:
            package = Package(name, version, "deb", architecture, maintainer)
            for key in (qualified, name, f"{name}:{architecture}"):
                packages.setdefault(key, package)
    return packages


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
