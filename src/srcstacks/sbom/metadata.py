"""What a distribution's ``METADATA`` declares: licenses, URLs, authors, requirements.

Pure parsing, no CycloneDX types, so each rule is testable on a few lines of text. The
license rules follow the issue's order: ``License-Expression`` (PEP 639), else license
classifiers that name exactly one SPDX license, else the ``License`` field (an SPDX id
or expression when it is one), else the classifier's own words as a license name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from cyclonedx.spdx import fixup_id, is_expression
from packaging.metadata import parse_email

from srcstacks.state.dist_info import Person, people

LicenseKind = Literal["expression", "id", "name"]

# Only classifiers that stand for exactly one SPDX license. "BSD License", "Apache
# Software License", "GNU General Public License (GPL)" and friends do not say which
# version or variant, so guessing one would put a wrong license in front of an auditor;
# those keep their own words as a license name instead (PEP 639 gives the same advice).
_CLASSIFIER_SPDX = {
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
    "License :: OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "License :: OSI Approved :: Eclipse Public License 1.0 (EPL-1.0)": "EPL-1.0",
    "License :: OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "License :: OSI Approved :: European Union Public Licence 1.1 (EUPL 1.1)": "EUPL-1.1",
    "License :: OSI Approved :: European Union Public Licence 1.2 (EUPL 1.2)": "EUPL-1.2",
    "License :: OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0-only",
    "License :: OSI Approved :: GNU Affero General Public License v3 or later (AGPLv3+)":
        "AGPL-3.0-or-later",
    "License :: OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "License :: OSI Approved :: GNU General Public License v2 or later (GPLv2+)":
        "GPL-2.0-or-later",
    "License :: OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "License :: OSI Approved :: GNU General Public License v3 or later (GPLv3+)":
        "GPL-3.0-or-later",
    "License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)":
        "LGPL-3.0-or-later",
    "License :: OSI Approved :: Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "License :: OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: Open Software License 3.0 (OSL-3.0)": "OSL-3.0",
    "License :: OSI Approved :: PostgreSQL License": "PostgreSQL",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: OSI Approved :: Universal Permissive License (UPL)": "UPL-1.0",
    "License :: OSI Approved :: University of Illinois/NCSA Open Source License": "NCSA",
    "License :: OSI Approved :: W3C License": "W3C",
    "License :: OSI Approved :: zlib/libpng License": "Zlib",
}  # fmt: skip

# Project-URL labels (lower case, letters only) -> CycloneDX external reference type.
_URL_LABELS = {
    "homepage": "website", "home": "website", "website": "website",
    "source": "vcs", "sourcecode": "vcs", "repository": "vcs", "code": "vcs", "github": "vcs",
    "issues": "issue-tracker", "issuetracker": "issue-tracker", "bugtracker": "issue-tracker",
    "bugs": "issue-tracker", "tracker": "issue-tracker", "bugreports": "issue-tracker",
    "documentation": "documentation", "docs": "documentation",
    "changelog": "release-notes", "changes": "release-notes", "releasenotes": "release-notes",
    "history": "release-notes", "chat": "chat", "download": "distribution",
}  # fmt: skip
_NAME_LIMIT = 100  # a longer License field is a pasted license text, not a name


@dataclass(frozen=True)
class DeclaredLicense:
    """One license as the distribution declares it."""

    kind: LicenseKind  # SPDX expression, SPDX id, or a free-form name
    value: str
    text: str | None = None  # the full text, when the License field held one


@dataclass(frozen=True)
class ProjectUrl:
    """One URL from ``Project-URL`` or ``Home-page``, with its CycloneDX reference type."""

    kind: str  # an ExternalReferenceType value: website, vcs, issue-tracker, ...
    url: str
    label: str


@dataclass(frozen=True)
class DistMetadata:
    """The parts of ``METADATA`` the SBOM uses."""

    name: str
    version: str
    summary: str | None
    licenses: tuple[DeclaredLicense, ...]
    urls: tuple[ProjectUrl, ...]
    authors: tuple[Person, ...]
    requires_dist: tuple[str, ...]


def parse_metadata(text: str) -> DistMetadata:
    """Parse a ``METADATA`` file; fields it cannot parse are left out, never guessed."""
    raw, _unparsed = parse_email(text)
    authors = people(raw.get("author"), raw.get("author_email"))
    if not authors:
        # Many projects name only a maintainer (Pallets' do); better than no creator.
        authors = people(raw.get("maintainer"), raw.get("maintainer_email"))
    return DistMetadata(
        name=raw.get("name", ""),
        version=raw.get("version", ""),
        summary=(raw.get("summary") or "").strip() or None,
        licenses=declared_licenses(
            raw.get("license_expression"), raw.get("classifiers", []), raw.get("license")
        ),
        urls=project_urls(raw.get("project_urls", {}), raw.get("home_page")),
        authors=authors,
        requires_dist=tuple(raw.get("requires_dist", [])),
    )


def declared_licenses(
    expression: str | None, classifiers: list[str], license_field: str | None
) -> tuple[DeclaredLicense, ...]:
    """The licenses a distribution declares, by the rules in the module docstring."""
    if expression and expression.strip():
        expression = expression.strip()
        if is_expression(expression):
            return (DeclaredLicense("expression", expression),)
        return (DeclaredLicense("name", expression),)
    license_classifiers = sorted(c for c in classifiers if c.startswith("License :: "))
    mapped = sorted({_CLASSIFIER_SPDX[c] for c in license_classifiers if c in _CLASSIFIER_SPDX})
    if mapped:
        return tuple(DeclaredLicense("id", spdx_id) for spdx_id in mapped)
    field = (license_field or "").strip()
    if field and field.upper() != "UNKNOWN":
        return (_license_field(field),)
    return tuple(
        DeclaredLicense("name", classifier.rsplit(" :: ", 1)[-1])
        for classifier in license_classifiers
    )


def _license_field(field: str) -> DeclaredLicense:
    spdx_id = fixup_id(field)
    if spdx_id is not None:
        return DeclaredLicense("id", spdx_id)
    if "\n" not in field and is_expression(field):
        return DeclaredLicense("expression", field)
    first_line = field.splitlines()[0].strip()
    if len(field) <= _NAME_LIMIT and first_line == field:
        return DeclaredLicense("name", field)
    return DeclaredLicense("name", first_line[:_NAME_LIMIT], text=field)


def project_urls(labelled: dict[str, str], home_page: str | None) -> tuple[ProjectUrl, ...]:
    """Every URL the metadata gives, typed for CycloneDX (``other`` when unknown)."""
    urls = [
        ProjectUrl(_url_kind(label), uri_reference(url), label) for label, url in labelled.items()
    ]
    if home_page and home_page.strip() and home_page.strip().upper() != "UNKNOWN":
        urls.append(ProjectUrl("website", uri_reference(home_page), "Home-page"))
    return tuple(sorted({url for url in urls if url.url}, key=lambda u: (u.kind, u.url, u.label)))


def uri_reference(url: str) -> str:
    """``url`` as a valid URI reference, which CycloneDX requires of every URL.

    Project metadata holds URLs browsers accept but RFC 3986 does not, such as
    ``https://matrix.to/#/#room:matrix.org`` (a second ``#``) or a stray ``%``: each such
    character is percent-encoded, so the URL still leads to the same place.
    """
    url = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", url.strip())
    base, hash_, fragment = url.partition("#")
    return base + hash_ + fragment.replace("#", "%23")


def _url_kind(label: str) -> str:
    return _URL_LABELS.get(re.sub(r"[^a-z]", "", label.lower()), "other")
