"""Which third-party code a CPython carries inside it, read from the interpreter itself.

Reads: the interpreter given (it is run with ``-I -B``, so it writes nothing), and the
ELF files of the extension modules it names. Writes nothing.

For each library a CPython can compile in (expat, libmpdec, SQLite, zlib, OpenSSL), the
interpreter reports the version it was built with (``pyexpat.EXPAT_VERSION``,
``decimal.__libmpdec_version__``, ...) and the file its module lives in. The library is
*inside* the interpreter when that file (for a built-in module: the interpreter or
libpython) does not load it from the system (no ``DT_NEEDED`` entry for its soname):
CPython compiled it from its own tree (expat, libmpdec in a default build) or linked it
statically (python-build-standalone links SQLite, zlib and OpenSSL in). A library loaded
from the system is left out here: the SBOM names it as a system library instead.

Versions come from the build, never from a table; the table below only says what to ask
and the license and supplier of each project.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from srcstacks.state.elf import read_links
from srcstacks.state.records import BundledLibrary
from srcstacks.tools.process import run_probe


@dataclass(frozen=True)
class _Known:
    """A library CPython may carry inside, and how to recognise it."""

    module: str  # the extension module it is built into
    version_code: str  # a Python expression giving its version, in the interpreter
    sonames: tuple[str, ...]  # soname prefixes that mean "loaded from the system"
    license: str  # SPDX expression of the project's license
    where: str  # CPython source folder it comes from, "" when linked from elsewhere
    supplier: str  # the project that makes it
    url: str  # the project's website


_KNOWN = {
    "expat": _Known(
        "pyexpat", "__import__('pyexpat').EXPAT_VERSION.removeprefix('expat_')",
        ("libexpat.so",), "MIT", "Modules/expat", "libexpat project",
        "https://libexpat.github.io",
    ),
    "mpdecimal": _Known(
        "_decimal", "__import__('_decimal').__libmpdec_version__",
        ("libmpdec.so",), "BSD-2-Clause", "Modules/_decimal/libmpdec", "bytereef.org",
        "https://www.bytereef.org/mpdecimal/",
    ),
    "sqlite": _Known(
        "_sqlite3", "__import__('sqlite3').sqlite_version",
        ("libsqlite3.so",), "blessing", "", "SQLite Consortium", "https://sqlite.org",
    ),
    "zlib": _Known(
        "zlib", "__import__('zlib').ZLIB_RUNTIME_VERSION",
        ("libz.so",), "Zlib", "", "zlib project", "https://zlib.net",
    ),
    "openssl": _Known(
        "_ssl", "'%d.%d.%d' % __import__('ssl').OPENSSL_VERSION_INFO[:3]",
        ("libssl.so", "libcrypto.so"), "Apache-2.0", "", "OpenSSL Software Foundation",
        "https://www.openssl.org",
    ),
}  # fmt: skip

# Run in the interpreter: each library's version and the file of its module.
_PROBE = """
import importlib.util, json, sys, sysconfig
found = {}
for name, (module, code) in json.loads(sys.argv[1]).items():
    try:
        spec = importlib.util.find_spec(module)
        version = str(eval(code))
    except Exception:
        continue
    if spec is None:
        continue
    origin = spec.origin if spec.origin not in (None, "built-in") else ""
    found[name] = {"version": version, "file": origin or ""}
# sys.prefix, not sysconfig's LIBDIR: a packed or downloaded runtime's sysconfig names the
# folder it was first built in, which may hold another interpreter on this machine.
library = sysconfig.get_config_var("LDLIBRARY") or ""
print(json.dumps({"found": found, "executable": sys.executable,
                  "libpython": (sys.prefix + "/lib/" + library) if library else ""}))
"""


def bundled_code(interpreter: Path) -> tuple[BundledLibrary, ...]:
    """The third-party libraries compiled or linked into ``interpreter``'s installation.

    Raises whatever running the interpreter raises (callers say which runtime it was).
    """
    asked = {name: (known.module, known.version_code) for name, known in _KNOWN.items()}
    report = json.loads(run_probe([str(interpreter), "-I", "-B", "-c", _PROBE, json.dumps(asked)]))
    found: list[BundledLibrary] = []
    for name in sorted(report["found"]):
        known, item = _KNOWN[name], report["found"][name]
        host = Path(item["file"]) if item["file"] else _core_file(report)
        if host is None or _loads_from_system(host, known.sonames):
            continue
        found.append(
            BundledLibrary(
                name=name,
                version=str(item["version"]),
                license=known.license,
                where=known.where,
                module=known.module,
                filename=host.name,
                sha256=_digest(host, "sha256"),
                sha512=_digest(host, "sha512"),
                supplier=known.supplier,
                supplier_url=known.url,
            )
        )
    return tuple(found)


def project_of(name: str) -> tuple[str, str]:
    """The supplier and website of a library this module knows ("", "" otherwise), for
    records written before srcstacks recorded them."""
    known = _KNOWN.get(name)
    return (known.supplier, known.url) if known is not None else ("", "")


def _core_file(report: dict[str, str]) -> Path | None:
    """Where a built-in module's code is: libpython when there is one, else the binary."""
    for candidate in (report.get("libpython", ""), report.get("executable", "")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _loads_from_system(path: Path, sonames: tuple[str, ...]) -> bool:
    links = read_links(path.read_bytes(), path.name)
    if links is None:
        return False
    return any(need.startswith(prefix) for need in links.needs for prefix in sonames)


def _digest(path: Path, algorithm: str) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, algorithm).hexdigest()
