"""``[tool.srcstacks.index]`` and ``--index``: the private index a stack publishes to and
locks against. Read by :mod:`srcstacks.spec.config` when the spec is read; credentials
never come from here (:mod:`srcstacks.index.private` reads them from the environment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from srcstacks.errors import ConfigError
from srcstacks.spec.keys import check_keys

_INDEX_KEYS: dict[str, type | tuple[type, ...]] = {"url": str, "managed": bool, "port": int}


@dataclass(frozen=True)
class IndexSettings:
    """``[tool.srcstacks.index]`` or ``--index``: a private index as the home of the wheels.

    Either ``url`` (an index someone runs: devpi, Artifactory) or ``managed`` (srcstacks
    runs devpi-server on loopback for the length of each run, state under the work dir).
    Credentials never come from here: see :mod:`srcstacks.index.private`.
    """

    url: str | None = None
    managed: bool = False
    # A managed index's port; None: the one it had last time if free, else a free one.
    port: int | None = None


def parse_index_table(spec_path: Path, table: Mapping[str, Any] | None) -> IndexSettings | None:
    """``[tool.srcstacks.index]``, checked; ``None`` when the spec has none."""
    if table is None:
        return None
    prefix = "tool.srcstacks.index"
    for secret in ("user", "username", "password", "token"):
        if secret in table:
            raise ConfigError(
                f"{spec_path}: '{prefix}.{secret}': credentials never go in the spec; set"
                " SRCSTACKS_INDEX_USER and SRCSTACKS_INDEX_PASSWORD in the environment"
            )
    check_keys(spec_path, table, _INDEX_KEYS, prefix)
    url, managed = table.get("url"), bool(table.get("managed", False))
    if url is not None and managed:
        raise ConfigError(
            f"{spec_path}: [{prefix}] sets both 'url' and 'managed = true'; choose one"
        )
    if url is None and not managed:
        raise ConfigError(f"{spec_path}: [{prefix}] needs 'url' or 'managed = true'")
    port = table.get("port")
    if port is not None and (isinstance(port, bool) or not 1 <= port <= 65535):
        raise ConfigError(f"{spec_path}: '{prefix}.port' must be a port number, not {port!r}")
    if port is not None and not managed:
        raise ConfigError(f"{spec_path}: '{prefix}.port' is for 'managed = true' only")
    if url is not None:
        check_index_url(f"{spec_path}: '{prefix}.url'", url)
    return IndexSettings(url=url, managed=managed, port=port)


def check_index_url(origin: str, url: str) -> None:
    """Refuse an index URL that is not plain http(s), or that carries credentials."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{origin} must be an http:// or https:// URL, not {url!r}")
    if parts.username or parts.password:
        raise ConfigError(
            f"{origin}: credentials never go in the URL; set SRCSTACKS_INDEX_USER and"
            " SRCSTACKS_INDEX_PASSWORD in the environment"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{origin}: an index URL has no query or fragment ({url!r})")


def index_with_overrides(
    index: IndexSettings | None, url: str | None, port: int | None, *, no_index: bool
) -> IndexSettings | None:
    """The spec's index as ``--index``, ``--index-port`` and ``--no-index`` change it."""
    if no_index:
        return None
    if url is not None:
        if port is not None:
            raise ConfigError("--index-port is for a managed index, not one given by --index")
        check_index_url("--index", url)
        return IndexSettings(url=url)
    if port is not None:
        if index is None or not index.managed:
            raise ConfigError(
                "--index-port is for a managed index, and this stack has none"
                " ([tool.srcstacks.index] managed = true)"
            )
        return replace(index, port=port)
    return index
