"""The ``WHEEL`` and ``METADATA`` files of a ``.dist-info`` folder, read by the standard
library's header parser and ``packaging.metadata``; never by hand.

Reads text the caller took from a wheel, an archive or a build environment; writes
nothing. Imports only the standard library and packaging: the build probe reads build
environments with it inside Fromager's interpreter. ``RECORD`` is read by installer
(:func:`srcstacks.state.archive_reader.parse_record`).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.parser import HeaderParser

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement


@dataclass(frozen=True)
class WheelInfo:
    """What a ``WHEEL`` file says of its wheel: its tags and its build tag (``""``: none)."""

    tags: frozenset[str]
    build: str


@dataclass(frozen=True)
class NameVersion:
    """A ``METADATA`` file's name, version and ``Requires-Dist`` lines."""

    name: str
    version: str
    requires_dist: tuple[str, ...]


def read_wheel_info(text: str) -> WheelInfo:
    """Parse a ``WHEEL`` file (email-header format, as the wheel spec defines it)."""
    headers = HeaderParser().parsestr(text)
    tags = frozenset(str(tag).strip() for tag in headers.get_all("Tag") or ())
    return WheelInfo(tags, str(headers.get("Build", "")).strip())


def read_name_version(text: str) -> NameVersion:
    """Parse a ``METADATA`` file's name, version and requirements (``packaging.metadata``).

    Fields it cannot parse are left out, never guessed.
    """
    raw, _unparsed = parse_email(text)
    return NameVersion(
        raw.get("name", ""), raw.get("version", ""), tuple(raw.get("requires_dist", []))
    )


def requirements(lines: tuple[str, ...]) -> tuple[Requirement, ...]:
    """``Requires-Dist`` lines as requirements; a line that is not one is left out."""
    found = []
    for line in lines:
        try:
            found.append(Requirement(line))
        except InvalidRequirement:
            continue
    return tuple(found)
