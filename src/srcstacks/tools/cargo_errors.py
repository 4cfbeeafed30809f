"""What cargo, and the ``-sys`` crates it builds, say when a Rust build fails: one line.

Reads the text of Fromager's log (``cargo vendor`` in the prepare step: a checksum that
differs from the lock file's, a registry out of reach, a locked version the registry
lacks, no cargo at all) and of a package's build log (a ``-sys`` crate whose system
library is not installed, with the Debian package that has it). No file access; called
by :func:`srcstacks.tools.fromager_errors.explain_failure`.
"""

from __future__ import annotations

import re
import textwrap

_CRATE_CHECKSUM = re.compile(r"checksum for `(?P<crate>[^`]+?) v(?P<version>[^`]+)` changed")
_LOCKFILE_OF = re.compile(r"failed to load lockfile for (?P<folder>\S+)")
_CRATE_UNFETCHED = re.compile(
    r"failed to (?:get|download) `(?P<crate>[^`]+)`(?: as a dependency of package"
    r" `(?P<of>[^`]+)`)?"
)
_CARGO_CAUSE = re.compile(r"Caused by:\n\s+(.+)")
_CRATE_UNMATCHED = re.compile(
    r"failed to select a version for the requirement `(?P<requirement>[^`]+)`"
    r" \(locked to (?P<locked>[^)]+)\)"
)
_NO_CARGO = re.compile(
    r"No such file or directory: '(?P<tool>cargo|rustc)'|can't find Rust compiler"
)


def cargo_failure(log_text: str, package: str) -> str:
    """What cargo said went wrong for a Rust package, in one line (``""``: not cargo)."""
    if match := _CRATE_CHECKSUM.search(log_text):
        folder = _LOCKFILE_OF.search(log_text)
        lock = f"{folder['folder']}/Cargo.lock" if folder else "its Cargo.lock"
        return (
            f"{package}: crate {match['crate']} {match['version']} was fetched with a checksum"
            f" other than the one {lock} pins; refused (a registry or mirror served other"
            " bytes, or the lock file is corrupt)"
        )
    if match := _CRATE_UNFETCHED.search(log_text):
        asked = f", asked for by {match['of']}" if match["of"] else ""
        causes = _CARGO_CAUSE.findall(log_text[match.end() :])
        cause = f": {textwrap.shorten(causes[-1], 300, placeholder='...')}" if causes else ""
        return (
            f"{package}: cargo could not fetch crate {match['crate']}{asked}{cause} (is the"
            " crate registry, or the mirror in [tool.srcstacks.cargo], reachable?)"
        )
    if match := _CRATE_UNMATCHED.search(log_text):
        return (
            f"{package}: no version of crate {match['requirement']} is in the crate registry"
            f" (its Cargo.lock pins {match['locked']})"
        )
    if _NO_CARGO.search(log_text):
        return (
            f"{package} has Rust code to compile and no cargo and rustc were found on PATH:"
            " install Rust (rustup, or Debian's cargo and rustc packages) and build again"
        )
    return ""


# The Debian packages whose headers and libraries the well-known ``-sys`` crates link,
# by crate and by the pkg-config name they look for.
_DEBIAN_DEV_PACKAGES = {
    "openssl-sys": "libssl-dev",
    "openssl": "libssl-dev",
    "libz-sys": "zlib1g-dev",
    "zlib": "zlib1g-dev",
    "libsqlite3-sys": "libsqlite3-dev",
    "sqlite3": "libsqlite3-dev",
    "curl-sys": "libcurl4-openssl-dev",
    "libcurl": "libcurl4-openssl-dev",
    "libgit2-sys": "libgit2-dev",
    "libgit2": "libgit2-dev",
    "libssh2-sys": "libssh2-1-dev",
    "libssh2": "libssh2-1-dev",
    "libffi-sys": "libffi-dev",
    "libffi": "libffi-dev",
    "bzip2-sys": "libbz2-dev",
    "lzma-sys": "liblzma-dev",
    "liblzma": "liblzma-dev",
    "zstd-sys": "libzstd-dev",
    "libzstd": "libzstd-dev",
    "pq-sys": "libpq-dev",
    "libpq": "libpq-dev",
    "libudev-sys": "libudev-dev",
    "libudev": "libudev-dev",
    "alsa-sys": "libasound2-dev",
    "alsa": "libasound2-dev",
    "dbus": "libdbus-1-dev",
    "dbus-1": "libdbus-1-dev",
    "freetype-sys": "libfreetype-dev",
    "freetype2": "libfreetype-dev",
    "fontconfig-sys": "libfontconfig-dev",
    "fontconfig": "libfontconfig-dev",
    "glib-sys": "libglib2.0-dev",
    "glib-2.0": "libglib2.0-dev",
    "hdf5-sys": "libhdf5-dev",
    "hdf5": "libhdf5-dev",
    "onig_sys": "libonig-dev",
    "oniguruma": "libonig-dev",
    "libxml2": "libxml2-dev",
    "libusb-1.0": "libusb-1.0-0-dev",
    "libusb1-sys": "libusb-1.0-0-dev",
}
_SYSTEM_LIBRARY_MISSING = re.compile(
    r"The system library `(?P<library>[^`]+)` required by crate `(?P<crate>[^`]+)` was not found"
)


def missing_system_library(build_log: str) -> str:
    """The system library a ``-sys`` crate could not find, and the Debian package with it.

    ``""`` when the log says no such thing. Read from the pkg-config message the
    ``pkg-config`` crate prints for every ``-sys`` crate that uses it.
    """
    match = _SYSTEM_LIBRARY_MISSING.search(build_log)
    if match is None:
        return ""
    crate, library = match["crate"], match["library"]
    package = _DEBIAN_DEV_PACKAGES.get(crate) or _DEBIAN_DEV_PACKAGES.get(library)
    install = (
        f"install Debian's {package} (apt-get install {package})"
        if package
        else f"install the development package of {library} (its {library}.pc file)"
    )
    return f"crate {crate} needs the system library {library}, which is not installed: {install}"
