"""Which system libraries each part of a layer archive loads from outside the stack.

The SBOM describes what the archive holds; the shared libraries its compiled files need
but do not carry (libc, libssl, libffi, ...) come from the machine it is deployed on and
are taken on trust there. They are named on the component whose files need them, so an
auditor can see them: property ``srcstacks:system_libraries``, and one nested component
per soname (:func:`system_library_component`), named by the package that provided it on
the build machine where the records say (``pkg:deb/debian/zlib1g@...?arch=amd64``).
"""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import PurePosixPath

from cyclonedx.model import Property
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.contact import OrganizationalContact, OrganizationalEntity
from packageurl import PackageURL

from srcstacks.sbom.profiles import (
    SYSTEM_LIBRARY_LOCATION,
    SYSTEM_LIBRARY_PACKAGE,
    SYSTEM_LIBRARY_SONAME,
)
from srcstacks.state.archive_reader import ArchiveContents, parse_record
from srcstacks.state.build_record import RUNTIME, SystemPackage

DEPLOYING_MACHINE = "deploying machine (not in the archive)"


def held_libraries(contents: ArchiveContents) -> set[str]:
    """The sonames and file names of the libraries an archive carries itself."""
    held = {PurePosixPath(elf.path).name for elf in contents.elf_files}
    return held | {elf.links.soname for elf in contents.elf_files if elf.links.soname}


def system_libraries(contents: ArchiveContents) -> dict[str | None, tuple[str, ...]]:
    """Sonames needed but not held by the archive, per owning distribution.

    Keys are canonical distribution names (the distribution whose RECORD lists the
    file), or None for files no distribution installed (the interpreter and standard
    library of a runtime layer). A library the archive itself holds, under its soname
    or its file name, is not listed.
    """
    held = held_libraries(contents)
    owners = {
        path: dist.name
        for dist in contents.dists
        for path in parse_record(
            dist.files.get("RECORD", ""), f"{contents.archive.name}: {dist.dist_info}/RECORD"
        )
    }
    needed: dict[str | None, set[str]] = {}
    for elf in contents.elf_files:
        owner = owners.get(elf.site_path) if elf.site_path is not None else None
        outside = set(elf.links.needs) - held
        if outside:
            needed.setdefault(owner, set()).update(outside)
    return {owner: tuple(sorted(names)) for owner, names in needed.items()}


def provider_of(soname: str, packages: tuple[SystemPackage, ...]) -> SystemPackage | None:
    """The package a build recorded as providing ``soname`` at run time, if any."""
    return next((p for p in packages if RUNTIME in p.roles and soname in p.provides), None)


def system_library_component(
    parent_ref: str, soname: str, package: SystemPackage | None, deployed: str
) -> Component:
    """A shared library the files of ``parent_ref`` load from the machine ``deployed``
    (the runtime, the layer) is deployed on.

    Named by the package that provided it on the build machine, where that machine could
    say; the deploying machine's may differ, which is why it is not claimed as content.
    """
    known = package is not None and bool(package.name and package.version)
    provider = (
        f"{package.name} {package.version} ({package.manager or '?'})"
        if package is not None and known else "unknown"
    )  # fmt: skip
    why = (
        f"package {provider} provided it on the build machine"
        if known else "the build machine could not name the package that provides it"
    )  # fmt: skip
    properties = {
        SYSTEM_LIBRARY_SONAME: soname,
        SYSTEM_LIBRARY_LOCATION: DEPLOYING_MACHINE,
        SYSTEM_LIBRARY_PACKAGE: provider,
    }
    supplier = None
    if package is not None and known and package.maintainer:
        name, email = parseaddr(package.maintainer)
        supplier = OrganizationalEntity(
            name=name or package.maintainer,
            contacts=[OrganizationalContact(email=email)] if "@" in email else [],
        )
    return Component(
        type=ComponentType.LIBRARY,
        supplier=supplier,
        name=package.name if package is not None and known else soname,
        version=package.version if package is not None and known else None,
        bom_ref=f"{parent_ref}::system:{soname}",
        purl=PackageURL.from_string(package.purl) if package is not None and known else None,
        description=f"{soname}: not in the archive, loaded from the machine {deployed} is"
        f" deployed on; {why}",
        properties=[Property(name=key, value=value) for key, value in sorted(properties.items())],
    )
