"""``[tool.srcstacks.sbom]``: who supplies, makes and wrote the SBOMs, and where to report
a vulnerability. Read by :mod:`srcstacks.spec.config` when the spec is read; every value that
goes into an SBOM is checked here (a URL, an e-mail address, a security contact)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srcstacks.errors import ConfigError
from srcstacks.spec.keys import check_keys


@dataclass(frozen=True)
class SbomParty:
    """An organisation or person named in the SBOMs: supplier, manufacturer or author."""

    name: str
    url: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class SbomSettings:
    """``[tool.srcstacks.sbom]``: who supplies, makes and wrote the layer archives' SBOMs.

    Auditors' minimum elements (NTIA, BSI TR-03183-2) ask for the SBOM's author and each
    component's supplier; nothing in the archives says who that is, so the spec does.
    """

    supplier: SbomParty | None = None
    manufacturer: SbomParty | None = None
    authors: tuple[SbomParty, ...] = ()
    # Where to report a vulnerability (CRA): a mailto: or https: URL.
    security_contact: str | None = None
    # The supplier's own copyright notice and licence of the layer archives (an SPDX id
    # or expression), for each SBOM's primary component (CISA, BSI TR-03183-2 ask for
    # both); never taken from a distribution inside.
    copyright: str | None = None
    license: str | None = None
    # The index the stack's consumers fetch its wheels from (its simple API's root): the
    # ``repository_url`` of every wheel built here in the SBOMs' purls, whose
    # ``file_name`` (a build tag's) is that index's, never PyPI's.
    repository_url: str | None = None


_SBOM_KEYS: dict[str, type | tuple[type, ...]] = {
    "supplier": (str, dict),
    "manufacturer": (str, dict),
    "authors": list,
    "security_contact": str,
    "copyright": str,
    "license": str,
    "repository_url": str,
}
_PARTY_KEYS = {"name": str, "url": str, "email": str}


def parse_sbom_table(spec_path: Path, table: Mapping[str, Any]) -> SbomSettings:
    prefix = "tool.srcstacks.sbom"
    check_keys(spec_path, table, _SBOM_KEYS, prefix)
    authors = table.get("authors", [])
    return SbomSettings(
        supplier=_parse_party(spec_path, table.get("supplier"), f"{prefix}.supplier"),
        manufacturer=_parse_party(spec_path, table.get("manufacturer"), f"{prefix}.manufacturer"),
        authors=tuple(
            _require_party(spec_path, author, f"{prefix}.authors[{index}]")
            for index, author in enumerate(authors)
        ),
        security_contact=_security_contact(spec_path, table.get("security_contact")),
        copyright=_copyright(spec_path, table.get("copyright")),
        license=_license(spec_path, table.get("license")),
        repository_url=_repository_url(spec_path, table.get("repository_url")),
    )


def _repository_url(spec_path: Path, value: str | None) -> str | None:
    """An http(s) URL without credentials: it is written into every SBOM."""
    if value is None:
        return None
    if _WEB_URL.match(value) and "@" not in value.split("/", 3)[2]:
        return value
    raise ConfigError(
        f"{spec_path}: 'tool.srcstacks.sbom.repository_url' must be an https:// or http://"
        f" URL of an index without credentials, not {value!r}"
    )


def _copyright(spec_path: Path, value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ConfigError(f"{spec_path}: 'tool.srcstacks.sbom.copyright' must not be empty")
    return value


def _license(spec_path: Path, value: str | None) -> str | None:
    """An SPDX licence id or expression (``LicenseRef-...`` for one of your own)."""
    if value is None:
        return None
    from cyclonedx.spdx import is_expression, is_supported_id

    if is_supported_id(value) or is_expression(value):
        return value
    raise ConfigError(
        f"{spec_path}: 'tool.srcstacks.sbom.license' must be an SPDX licence id or"
        f" expression (e.g. 'Apache-2.0', 'LicenseRef-Proprietary'), not {value!r}"
    )


_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
_WEB_URL = re.compile(r"^https?://[^\s/?#<>\"]+\.[^\s/?#<>\"]+([/?#][^\s<>\"]*)?$")


def _security_contact(spec_path: Path, value: str | None) -> str | None:
    """``mailto:<address>`` or an https URL (a page or a security.txt), else an error."""
    if value is None:
        return None
    email = value.removeprefix("mailto:")
    if value.startswith("mailto:") and _EMAIL.match(email):
        return value
    if value.startswith("https://") and _WEB_URL.match(value):
        return value
    raise ConfigError(
        f"{spec_path}: 'tool.srcstacks.sbom.security_contact' must be 'mailto:<address>'"
        f" or an https:// URL, not {value!r}"
    )


def _parse_party(spec_path: Path, value: Any, key: str) -> SbomParty | None:
    """A supplier, manufacturer or author: a name, or a table with name, url and email."""
    return None if value is None else _require_party(spec_path, value, key)


def _require_party(spec_path: Path, value: Any, key: str) -> SbomParty:
    if isinstance(value, str):
        table: Mapping[str, Any] = {"name": value}
    elif isinstance(value, Mapping):
        table = value
        check_keys(spec_path, table, _PARTY_KEYS, key)
    else:
        raise ConfigError(
            f"{spec_path}: '{key}' must be a string or a table, not {type(value).__name__}"
        )
    name = table.get("name", "")
    if not name.strip():
        raise ConfigError(f"{spec_path}: '{key}' needs a non-empty 'name'")
    url, email = table.get("url"), table.get("email")
    # Written into the SBOM, where the schema wants a URI and an e-mail address.
    if url is not None and not _WEB_URL.match(url):
        raise ConfigError(f"{spec_path}: '{key}.url' must be an http(s):// URL, not {url!r}")
    if email is not None and not _EMAIL.match(email):
        raise ConfigError(f"{spec_path}: '{key}.email' must be an e-mail address, not {email!r}")
    return SbomParty(name=name, url=url, email=email)
