"""Locks that name no index server: a pylock file's private-index URLs, made portable and back.

uv writes into each ``pylock.<layer>.toml`` the index a package came from and every
wheel's URL. Written as the index served them, the committed locks would carry its host
and port: a second copy of a stack on the same host (its managed index on another free
port), or a team index that moves, would rewrite every lock. So the locks srcstacks
commits name :data:`PORTABLE_BASE` where the index's base URL was, and a build puts the
base URL of the index it uses back, in a copy it hands to uv:

    http://127.0.0.1:3917/srcstacks/cpu/+f/a08/995077eeb1905/jinja2-3.1.6-0-py3-none-any.whl
    https://private-index.invalid/+f/a08/995077eeb1905/jinja2-3.1.6-0-py3-none-any.whl

``.invalid`` is a name no DNS answers (RFC 2606): a lock handed to uv without srcstacks
fails at once rather than fetching from a host someone else owns. A URL outside the
index's base URL (a file a team index inherits from another index) is left as it is.
The wheels' sha256 stay in the lock: which bytes are installed does not depend on where
they are fetched from.

Reads and writes pylock text only; :mod:`srcstacks.tools.venvstacks_main` applies it
where venvstacks exports a lock and where it installs from one.
"""

from __future__ import annotations

from typing import Any

import tomlkit

PORTABLE_BASE = "https://private-index.invalid/"

# The base URL of the index a venvstacks run locks against or installs from; set by
# srcstacks for the venvstacks process (see tools.venvstacks.WheelSource.env).
INDEX_BASE_VARIABLE = "SRCSTACKS_INDEX_BASE"


def portable(url: str, base: str) -> str:
    """``url`` with the index's ``base`` URL replaced by :data:`PORTABLE_BASE`."""
    return PORTABLE_BASE + url[len(base) :] if url.startswith(base) else url


def to_portable(text: str, base: str) -> str:
    """The pylock ``text`` naming :data:`PORTABLE_BASE` in place of the index at ``base``."""
    return _rewrite(text, base, PORTABLE_BASE)


def to_real(text: str, base: str) -> str:
    """The portable pylock ``text`` naming the index at ``base`` again, for uv to fetch from."""
    return _rewrite(text, PORTABLE_BASE, base)


def _rewrite(text: str, old: str, new: str) -> str:
    document = tomlkit.parse(text)
    for package in document.get("packages", []):
        _replace(package, "index", old, new)
        if isinstance(sdist := package.get("sdist"), dict):
            _replace(sdist, "url", old, new)
        for wheel in package.get("wheels", []):
            _replace(wheel, "url", old, new)
    return tomlkit.dumps(document)


def _replace(table: Any, key: str, old: str, new: str) -> None:
    value = table.get(key)
    if isinstance(value, str) and value.startswith(old):
        table[key] = new + value[len(old) :]
