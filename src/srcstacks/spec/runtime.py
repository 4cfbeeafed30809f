"""``[tool.srcstacks.runtime]``: where the runtime layers' CPython comes from.

A sub-table named after a runtime layer (``[tool.srcstacks.runtime."cpython-3.12"]``)
is that layer's own: its keys win over the shared ones.

Parsed and checked here when the spec is read (see :mod:`srcstacks.spec.config`); the stages
receive a :class:`RuntimeSource`. docs/runtime.md sets the five sources side by side.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from srcstacks.errors import ConfigError

RuntimeSourceKind = Literal["download", "mirror", "local", "pack", "build"]
RUNTIME_SOURCES: tuple[RuntimeSourceKind, ...] = ("download", "mirror", "local", "pack", "build")
RUNTIME_KEYS: dict[str, type | tuple[type, ...]] = {
    "source": str,
    "path": str,
    "mirror_url": str,
    "interpreter": str,
    "tarball": str,
    "sha256": str,
    "debug_info": str,
}
# What pack and build do with the interpreter's debug information.
DEBUG_INFO_CHOICES = ("strip", "keep")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TARBALL_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class RuntimeSource:
    """Where the runtime layer's CPython comes from (see docs/runtime.md)."""

    kind: RuntimeSourceKind = "download"
    # mirror: folder or URL holding python-build-standalone's original file names.
    mirror_url: str | None = None
    # local: an install_only-layout CPython, as a folder or a .tar.gz.
    path: Path | None = None
    # pack: the interpreter whose installation is packed (default: the one running us).
    interpreter: str | None = None
    # build: CPython's source tarball, by URL or as a local file, and its sha256.
    tarball_url: str | None = None
    tarball_path: Path | None = None
    sha256: str | None = None
    # pack and build: keep the interpreter's debug information (stripped by default).
    keep_debug_info: bool = False


def parse_runtime_table(spec_path: Path, table: Mapping[str, Any]) -> RuntimeSource:
    """The runtime table as written (keys and types are checked by the caller)."""
    source = table.get("source", "download")
    if source not in RUNTIME_SOURCES:
        raise ConfigError(
            f"{spec_path}: 'tool.srcstacks.runtime.source' must be one of"
            f" {', '.join(RUNTIME_SOURCES)}, not {source!r}"
        )
    spec_dir = spec_path.parent
    path = table.get("path")
    tarball = table.get("tarball")
    tarball_url = tarball_path = None
    if tarball:  # "" is no tarball: check_runtime_source names the key
        if "://" in tarball:
            _check_tarball_url(spec_path, tarball)
            tarball_url = tarball
        else:
            tarball_path = (spec_dir / tarball).absolute()
    sha256 = table.get("sha256")
    if sha256 is not None:
        sha256 = sha256.strip().lower()
        if not _SHA256.match(sha256):
            raise ConfigError(
                f"{spec_path}: 'tool.srcstacks.runtime.sha256' must be 64 hex digits"
                f" (the tarball's sha256), not {table['sha256']!r}"
            )
    debug_info = table.get("debug_info", "strip")
    if debug_info not in DEBUG_INFO_CHOICES:
        raise ConfigError(
            f"{spec_path}: 'tool.srcstacks.runtime.debug_info' must be"
            f" {' or '.join(map(repr, DEBUG_INFO_CHOICES))}, not {debug_info!r}"
        )
    return RuntimeSource(
        kind=source,
        mirror_url=table.get("mirror_url"),
        path=(spec_dir / path).absolute() if path else None,
        interpreter=table.get("interpreter"),
        tarball_url=tarball_url,
        tarball_path=tarball_path,
        sha256=sha256,
        keep_debug_info=debug_info == "keep",
    )


def _check_tarball_url(spec_path: Path, url: str) -> None:
    parts = urlsplit(url)
    where = f"{spec_path}: 'tool.srcstacks.runtime.tarball'"
    if parts.scheme not in _TARBALL_SCHEMES or not parts.hostname:
        raise ConfigError(f"{where} must be an http(s) URL or a path, not {url!r}")
    if parts.username or parts.password:
        raise ConfigError(f"{where}: no credentials in the URL ({parts.hostname})")


def check_runtime_source(
    runtime: RuntimeSource, spec_path: Path, table: str = "[tool.srcstacks.runtime]"
) -> None:
    """Refuse a source that lacks what it needs, naming the table and key to set."""
    where = f"{spec_path}: {table}"
    if runtime.kind == "mirror" and not runtime.mirror_url:
        raise ConfigError(f"{where}: source 'mirror' needs 'mirror_url' (or --runtime-mirror-url)")
    if runtime.kind == "local" and runtime.path is None:
        raise ConfigError(f"{where}: source 'local' needs 'path' (or --runtime-path)")
    if runtime.kind == "build":
        if runtime.tarball_url is None and runtime.tarball_path is None:
            raise ConfigError(
                f"{where}: source 'build' needs 'tarball' (CPython's source tarball: a URL"
                " such as https://www.python.org/ftp/python/3.11.2/Python-3.11.2.tgz, or a path)"
            )
        if runtime.sha256 is None:
            raise ConfigError(
                f"{where}: source 'build' needs 'sha256' (the tarball's sha256, as published"
                " beside it): a tarball is never unpacked unchecked"
            )
