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
from email.utils import getaddresses

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


@dataclass(frozen=True)
class Person:
    """An author or maintainer from ``Author``/``Author-email``/``Maintainer...``."""

    name: str | None
    email: str | None


def people(names: str | None, emails: str | None) -> tuple[Person, ...]:
    """The people an ``Author`` (or ``Maintainer``) field and its ``-email`` field name:
    each address with its name, and the plain name first when the addresses lack it."""
    found = [
        Person(name or None, address or None)
        for name, address in getaddresses([emails or ""])
        if name or address
    ]
    if names and names.strip() and names.strip().upper() != "UNKNOWN":
        named = {person.name for person in found}
        if names.strip() not in named:
            found.insert(0, Person(names.strip(), None))
    return tuple(found)
