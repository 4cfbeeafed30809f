"""What a failed package build's own log says went wrong, in one line, with the fix.

Fromager reports a failed wheel build as the command that failed (``command failed with
exit code 1: .../run_network_isolation.sh ...``); the cause is somewhere in the
package's ``build.log``, often a hundred lines up. :func:`build_failure_cause` reads that
log, the way a person would, and returns the line that matters:

- a header the compiler could not find (``fatal error: tiffio.h: No such file or
  directory``) or a library the linker could not (``cannot find -ltiff``), a dependency
  Pillow's ``setup.py`` could not find (``The headers or library files could not be found
  for tiff``), one meson could not (``Dependency "openblas" not found``), or a ``-sys``
  crate's system library (:func:`srcstacks.tools.cargo_errors.missing_system_library`),
  each with the Debian package that provides it (a table of the common ones; otherwise
  how to find it);
- else the first error the compiler gave (the root cause; later ones follow from it);
- else the backend's last error line.

Plain text in, one line out; no file access (:func:`srcstacks.tools.fromager_errors.explain_failure`
reads the log).
"""

from __future__ import annotations

import re

from srcstacks.tools.cargo_errors import missing_system_library

# Header (as the #include names it) -> the Debian package that ships it.
_HEADER_PACKAGES = {
    "Python.h": "python3-dev",
    "bzlib.h": "libbz2-dev",
    "cblas.h": "libopenblas-dev",
    "curses.h": "libncurses-dev",
    "expat.h": "libexpat1-dev",
    "ffi.h": "libffi-dev",
    "ft2build.h": "libfreetype-dev",
    "gmp.h": "libgmp-dev",
    "hdf5.h": "libhdf5-dev",
    "jpeglib.h": "libjpeg-dev",
    "krb5.h": "libkrb5-dev",
    "lapacke.h": "liblapacke-dev",
    "lcms2.h": "liblcms2-dev",
    "libpq-fe.h": "libpq-dev",
    "libxml/xmlversion.h": "libxml2-dev",
    "libxslt/xslt.h": "libxslt1-dev",
    "lz4.h": "liblz4-dev",
    "lzma.h": "liblzma-dev",
    "mysql.h": "default-libmysqlclient-dev",
    "ncurses.h": "libncurses-dev",
    "openjpeg.h": "libopenjp2-7-dev",
    "openssl/ssl.h": "libssl-dev",
    "png.h": "libpng-dev",
    "readline/readline.h": "libreadline-dev",
    "sqlite3.h": "libsqlite3-dev",
    "tiff.h": "libtiff-dev",
    "tiffio.h": "libtiff-dev",
    "uuid/uuid.h": "uuid-dev",
    "webp/decode.h": "libwebp-dev",
    "webp/encode.h": "libwebp-dev",
    "xcb/xcb.h": "libxcb1-dev",
    "yaml.h": "libyaml-dev",
    "zlib.h": "zlib1g-dev",
    "zstd.h": "libzstd-dev",
}
# Library (as the linker, pkg-config, meson or Pillow names it) -> its Debian package.
_LIBRARY_PACKAGES = {
    "blas": "libopenblas-dev",
    "bz2": "libbz2-dev",
    "crypto": "libssl-dev",
    "ffi": "libffi-dev",
    "freetype": "libfreetype-dev",
    "freetype2": "libfreetype-dev",
    "gfortran": "gfortran",
    "imagequant": "libimagequant-dev",
    "jpeg": "libjpeg-dev",
    "jpeg2000": "libopenjp2-7-dev",
    "lapack": "liblapack-dev",
    "lcms": "liblcms2-dev",
    "lcms2": "liblcms2-dev",
    "libopenjp2": "libopenjp2-7-dev",
    "lzma": "liblzma-dev",
    "openblas": "libopenblas-dev",
    "openjp2": "libopenjp2-7-dev",
    "png": "libpng-dev",
    "pq": "libpq-dev",
    "raqm": "libraqm-dev",
    "ssl": "libssl-dev",
    "tiff": "libtiff-dev",
    "libtiff-4": "libtiff-dev",
    "webp": "libwebp-dev",
    "libwebp": "libwebp-dev",
    "xcb": "libxcb1-dev",
    "xml2": "libxml2-dev",
    "xslt": "libxslt1-dev",
    "yaml": "libyaml-dev",
    "yaml-0.1": "libyaml-dev",
    "z": "zlib1g-dev",
    "zlib": "zlib1g-dev",
    "zstd": "libzstd-dev",
}
_MISSING_HEADER = re.compile(
    r"fatal error: (?P<header>[\w./+-]+\.h(?:pp)?): No such file or directory"
)
_MISSING_LINKED = re.compile(r"cannot find -l(?P<library>[\w.+-]+)")
_PILLOW_MISSING = re.compile(
    r"The headers or library files could not be found for (?P<feature>[\w-]+),"
)
_MESON_MISSING = re.compile(r'Dependency "?(?P<library>[\w.+-]+)"? not found', re.IGNORECASE)
# Anywhere in a line: a parallel make writes another job's output into the same line.
_COMPILER_ERROR = re.compile(
    r"(?P<where>[\w./+-]+\.\w+:\d+(?::\d+)?): (?:fatal )?error: (?P<what>.+)$"
)
_ERROR_LINE = re.compile(r"\berror\b\s*[:!]", re.IGNORECASE)
# Lines that only say that something above failed.
_WRAPPER = re.compile(
    r"command failed with exit code|subprocess-exited-with-error|exited with code|"
    r"metadata-generation-failed|This error originates from a subprocess|"
    r"error: command '[^']+' failed|ERROR Backend subprocess|CalledProcessError",
    re.IGNORECASE,
)
_LONGEST = 240


def build_failure_cause(build_log: str) -> str:
    """One line on why the build in ``build_log`` failed (``""``: the log does not say)."""
    for cause in (_missing_dependency(build_log), missing_system_library(build_log)):
        if cause:
            return cause
    lines = [_strip(line) for line in build_log.splitlines()]
    for line in lines:
        if match := _COMPILER_ERROR.search(line):
            return _shorten(f"{match['where']}: error: {match['what']}")
    for line in reversed(lines):
        if _ERROR_LINE.search(line) and not _WRAPPER.search(line):
            return _shorten(line)
    return ""


def _missing_dependency(text: str) -> str:
    if match := _MISSING_HEADER.search(text):
        header = match["header"]
        install = _install(_HEADER_PACKAGES.get(header), header)
        return f"the header {header} is not installed: {install}"
    for pattern, kind in ((_MISSING_LINKED, "library"), (_PILLOW_MISSING, "feature"),
                          (_MESON_MISSING, "library")):  # fmt: skip
        if match := pattern.search(text):
            name = match[kind]
            package = _LIBRARY_PACKAGES.get(name) or _LIBRARY_PACKAGES.get(name.lower())
            return f"the system library {name} is not installed: {_install(package, name)}"
    return ""


def _install(package: str | None, missing: str) -> str:
    if package:
        return f"install Debian's {package} (apt-get install {package})"
    return f"install the Debian package that provides it (apt-file search {missing})"


def _strip(line: str) -> str:
    """A log line without Fromager's time, level and package prefix."""
    return re.sub(r"^\d\d:\d\d:\d\d \w+ [^:\s]+: ", "", line).strip()


def _shorten(line: str) -> str:
    return line if len(line) <= _LONGEST else line[: _LONGEST - 1] + "…"
