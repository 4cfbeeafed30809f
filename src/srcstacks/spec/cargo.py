"""``[tool.srcstacks.cargo]``: where cargo fetches crates from, in place of crates.io.

Read by :mod:`srcstacks.spec.config` when the spec is read. One of:

- ``registry = "sparse+https://crates.example/index/"``: a crates mirror (a sparse
  registry or a git index), for machines without the public crate registry;
- ``directory = "crates"``: a folder of crates as ``cargo vendor`` writes them (relative
  to the spec's folder), for machines with no crate registry at all: cargo then runs
  offline.

Either way cargo still checks every crate against the checksum its ``Cargo.lock`` pins,
so a mirror cannot hand a build other crates than upstream's.
:func:`srcstacks.tools.cargo.cargo_config` turns it into cargo's source replacement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from srcstacks.errors import ConfigError
from srcstacks.spec.keys import check_keys

_KEYS: dict[str, type | tuple[type, ...]] = {"registry": str, "directory": str}
_PREFIX = "tool.srcstacks.cargo"
_REGISTRY_SCHEMES = ("sparse+https", "sparse+http", "https", "http", "file")


@dataclass(frozen=True)
class CargoSource:
    """The crates mirror (``registry``) or local folder of crates (``directory``)."""

    registry: str = ""
    directory: Path | None = None


def parse_cargo_table(spec_path: Path, table: Mapping[str, Any] | None) -> CargoSource | None:
    """The table's source; None when the spec has no table (crates.io itself)."""
    if table is None:
        return None
    check_keys(spec_path, table, _KEYS, _PREFIX)
    registry, directory = table.get("registry"), table.get("directory")
    if (registry is None) == (directory is None):
        raise ConfigError(
            f"{spec_path}: [{_PREFIX}] needs one of 'registry' (a crates mirror's URL) or"
            " 'directory' (a folder of vendored crates)"
        )
    if registry is not None:
        parts = urlsplit(registry)
        if parts.scheme not in _REGISTRY_SCHEMES or not (parts.hostname or parts.path):
            raise ConfigError(
                f"{spec_path}: '{_PREFIX}.registry' must be a registry URL"
                f" (sparse+https://..., https://... for a git index), not {registry!r}"
            )
        if parts.username or parts.password:
            raise ConfigError(
                f"{spec_path}: '{_PREFIX}.registry': credentials never go in the spec;"
                " give cargo a token through its own credential provider"
            )
        return CargoSource(registry=registry)
    folder = (spec_path.parent / str(directory)).absolute()
    if not folder.is_dir():
        raise ConfigError(
            f"{spec_path}: '{_PREFIX}.directory' names {folder}, which is not a folder"
            " (a folder of crates as `cargo vendor` writes them)"
        )
    return CargoSource(directory=folder)
