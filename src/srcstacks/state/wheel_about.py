"""What an unpacked wheel says of itself, for the SBOM it carries (PEP 770): who made it,
its declared licence, what it requires, and the distributions it vendors.

Reads the wheel's ``.dist-info/METADATA`` and, anywhere else in the tree, the
``METADATA`` of each vendored distribution's ``.dist-info`` folder and each ``vendor.txt``
(pip's list of pins); writes nothing. Imports only the standard library and packaging:
it runs inside Fromager's interpreter, where the wheel is still a folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression
from packaging.metadata import RawMetadata, parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from srcstacks.state.dist_info import people


@dataclass(frozen=True)
class Party:
    """The people a ``METADATA`` file names as authors (or else maintainers)."""

    name: str  # "Armin Ronacher, Pallets" or the only email's local part
    emails: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()  # the project's home page when nobody gave an email


@dataclass(frozen=True)
class Vendored:
    """A distribution a wheel carries inside itself (``setuptools/_vendor/...``)."""

    name: str  # canonical
    version: str
    path: str  # where the wheel holds it: its .dist-info folder or vendor.txt
    supplier: Party | None = None  # from its METADATA; None from a vendor.txt pin


@dataclass(frozen=True)
class WheelAbout:
    """What a wheel's own metadata says of it."""

    supplier: Party | None
    license_expression: str  # a valid SPDX expression, or ""
    requires: tuple[str, ...]  # Requires-Dist lines, sorted
    vendored: tuple[Vendored, ...] = ()


def read_about(dist_info: Path) -> WheelAbout:
    """Read the unpacked wheel whose ``.dist-info`` folder is ``dist_info``."""
    metadata = (dist_info / "METADATA").read_text(encoding="utf-8", errors="replace")
    raw, _ = parse_email(metadata)
    return WheelAbout(
        supplier=_supplier(raw),
        license_expression=_expression(raw.get("license_expression") or raw.get("license")),
        requires=tuple(sorted(raw.get("requires_dist", []))),
        vendored=vendored_in(dist_info.parent, dist_info),
    )


def _supplier(raw: RawMetadata) -> Party | None:
    """The authors a METADATA file names, else its maintainers; with their emails, or the
    project's home page when none gave one."""
    supplier = _party(raw.get("author"), raw.get("author_email")) or _party(
        raw.get("maintainer"), raw.get("maintainer_email")
    )
    if supplier is not None and not supplier.emails:
        home = raw.get("home_page") or next(iter(raw.get("project_urls", {}).values()), "")
        supplier = Party(supplier.name, (), (home,) if home else ())
    return supplier


def _party(names: str | None, emails: str | None) -> Party | None:
    """The people of one field pair (:func:`srcstacks.state.dist_info.people`) as a party."""
    found = people(names, emails)
    addresses = tuple(sorted({person.email for person in found if person.email}))
    named = [person.name for person in found if person.name]
    if not named and not addresses:
        return None
    return Party(", ".join(dict.fromkeys(named)) or addresses[0].split("@", 1)[0], addresses)


def _expression(text: str | None) -> str:
    """``text`` as a canonical SPDX expression; "" when it is none (a licence's full
    text, a free-form name)."""
    if not text or "\n" in text.strip():
        return ""
    try:
        return str(canonicalize_license_expression(text.strip()))
    except InvalidLicenseExpression:
        return ""


def vendored_in(tree: Path, own: Path) -> tuple[Vendored, ...]:
    """The distributions vendored anywhere under ``tree`` but ``own`` (the wheel's own
    ``.dist-info``), sorted by name and version."""
    found: dict[tuple[str, str], Vendored] = {}
    for metadata in sorted(tree.rglob("*.dist-info/METADATA")):
        if metadata.parent == own:
            continue
        raw, _ = parse_email(metadata.read_text(encoding="utf-8", errors="replace"))
        name, version = raw.get("name"), raw.get("version")
        if name and version:
            where = metadata.parent.relative_to(tree).as_posix()
            vendored = Vendored(canonicalize_name(name), version, where, _supplier(raw))
            found.setdefault((vendored.name, version), vendored)
    for listing in sorted(tree.rglob("vendor.txt")):
        where = listing.relative_to(tree).as_posix()
        for name, version in _pins(listing.read_text(encoding="utf-8", errors="replace")):
            found.setdefault((name, version), Vendored(name, version, where))
    return tuple(found[key] for key in sorted(found))


def _pins(text: str) -> list[tuple[str, str]]:
    """The ``name==version`` lines of a ``vendor.txt``."""
    pins: list[tuple[str, str]] = []
    for line in text.splitlines():
        try:
            requirement = Requirement(line.split("#", 1)[0].strip())
        except InvalidRequirement:
            continue
        specifiers = list(requirement.specifier)
        if len(specifiers) == 1 and specifiers[0].operator == "==":
            pins.append((canonicalize_name(requirement.name), specifiers[0].version))
    return pins
