"""CycloneDX component of a runtime layer's CPython: where srcstacks got it, and, for a
CPython srcstacks built from its source tarball (``source = "build"``), what was built.

Reads no files: it is given the :class:`RuntimeRecord` from ``build.json``, the texts of
the patches the SBOM stage could read, and the sonames the archive's ELF files need.

A built CPython carries the source tarball (``source-distribution`` reference and
pedigree ancestor) with the patches as pedigree, how it was configured and compiled
(``srcstacks:runtime:*`` properties), and nested components: the third-party code
compiled into it (expat, libmpdec, ...) and the system libraries it loads. They are
nested rather than top-level because ``sbom check --archive`` and ``verify`` match the
top-level ``library`` components one to one with the archive's distributions, and
neither is a distribution. Their bom-refs are the CPython component's plus a suffix.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import ExternalReference, ExternalReferenceType, XsUri
from cyclonedx.model.component import (
    Component,
    ComponentType,
    Pedigree,
)
from cyclonedx.model.contact import OrganizationalContact, OrganizationalEntity
from cyclonedx.model.license import DisjunctiveLicense, License, LicenseAcknowledgement
from packageurl import PackageURL

from srcstacks.runtime.contents import project_of
from srcstacks.sbom.components import (
    NS,
    bsi_properties,
    hashes,
    is_url,
    organization,
    patched_pedigree,
    portable_origin,
    properties_of,
)
from srcstacks.sbom.system_libs import system_library_component
from srcstacks.spec.config import SbomParty
from srcstacks.state.build_record import RUNTIME, SystemPackage
from srcstacks.state.records import BundledLibrary, CPythonBuild, RuntimeRecord, SystemLibrary

# What vulnerability scanners (NVD's dictionary) match these projects by.
PYTHON_CPE = "cpe:2.3:a:python:python:{version}:*:*:*:*:*:*:*"
BUNDLED_CPES = {
    "expat": "cpe:2.3:a:libexpat_project:libexpat:{version}:*:*:*:*:*:*:*",
    "libexpat": "cpe:2.3:a:libexpat_project:libexpat:{version}:*:*:*:*:*:*:*",
    "mpdecimal": "cpe:2.3:a:bytereef:mpdecimal:{version}:*:*:*:*:*:*:*",
    "libmpdec": "cpe:2.3:a:bytereef:mpdecimal:{version}:*:*:*:*:*:*:*",
    "sqlite": "cpe:2.3:a:sqlite:sqlite:{version}:*:*:*:*:*:*:*",
    "zlib": "cpe:2.3:a:zlib:zlib:{version}:*:*:*:*:*:*:*",
    "openssl": "cpe:2.3:a:openssl:openssl:{version}:*:*:*:*:*:*:*",
}
_PSF = OrganizationalContact(name="Python Software Foundation")
# CPython's creator and maintainer, with the URL BSI TR-03183-2 asks of a component creator.
_PSF_ORGANIZATION = OrganizationalEntity(
    name="Python Software Foundation", urls=[XsUri("https://www.python.org/psf/")]
)
# Runtime sources whose interpreter archive srcstacks made itself (``pack``, ``build``).
_MADE_HERE = ("pack", "build")
_PBS = OrganizationalEntity(
    name="python-build-standalone",
    urls=[XsUri("https://github.com/astral-sh/python-build-standalone")],
)


def runtime_component(
    record: RuntimeRecord,
    supplier: SbomParty | None,
    system_libraries: tuple[str, ...] = (),
    files_sha256: str = "",
    patch_texts: Mapping[str, bytes] | None = None,
    files_sha512: str = "",
) -> Component:
    """The CPython interpreter of a runtime layer, where srcstacks got it, and the system
    libraries it loads from the machine it is deployed on.

    ``patch_texts``: a built runtime's patch name -> its text, for each patch whose file
    still has the recorded sha256 (the others are named and hashed, without text).
    """
    build = record.build
    implementation, _, version = record.python_implementation.partition("@")
    if build is not None:
        version = build.version
    origin = portable_origin(record.origin)
    qualifiers = {"file_name": record.filename}
    if is_url(origin) and build is None:  # a built one's origin is its source tarball
        qualifiers["download_url"] = origin
    purl = PackageURL("generic", name=implementation, version=version, qualifiers=qualifiers)
    bom_ref = purl.to_string()
    references = []
    if is_url(origin) and build is None:
        references.append(ExternalReference(
            type=ExternalReferenceType.DISTRIBUTION, url=XsUri(origin),
            hashes=hashes(record.sha256), comment="python-build-standalone archive",
        ))  # fmt: skip
    properties = {
        f"{NS}:runtime:implementation": implementation,
        f"{NS}:runtime:source": record.source,
        f"{NS}:runtime:origin": origin,
        f"{NS}:runtime:filename": record.filename,
        **({f"{NS}:system_libraries": " ".join(system_libraries)} if system_libraries else {}),
        **({f"{NS}:runtime:files_sha256": files_sha256} if files_sha256 else {}),
        # Packed or built by srcstacks: whether the binaries lost their debug information.
        **({f"{NS}:runtime:debug_info": record.debug_info} if record.debug_info else {}),
        # A packed interpreter's own account of how it was built.
        **({f"{NS}:runtime:configure_args": record.configure_args}
           if record.configure_args else {}),
        **({f"{NS}:runtime:compiler": record.compiler} if record.compiler else {}),
    }  # fmt: skip
    # A packed or built interpreter's archive is srcstacks' intermediate, never shipped:
    # the component's hash is its file list's, which names the sha256 of every file as
    # the layer archive holds it (``srcstacks audit`` checks them with the archive alone).
    made_here = record.source in _MADE_HERE and bool(files_sha256)
    if made_here:
        properties[f"{NS}:runtime:archive_sha256"] = record.sha256
        if record.sha512:
            properties[f"{NS}:runtime:archive_sha512"] = record.sha512
    # The deployable form is the interpreter archive (a tar.gz whose files are listed):
    # it holds the interpreter and its shared library, which run.
    properties.update(
        bsi_properties(record.filename, executable=True, archive=True, structured=True)
    )
    # Read from the interpreter for every source; a built one's record has them too.
    bundled = record.bundled or (build.bundled if build is not None else ())
    nested = [_bundled_component(bom_ref, library) for library in bundled]
    pedigree = None
    if build is not None:
        references.extend(_source_references(build))
        properties.update(_build_properties(build))
        pedigree = _pedigree(build, patch_texts or {})
        nested.extend(
            _system_component(bom_ref, library)
            for library in _all_system_libraries(build, system_libraries)
        )
    downloaded = record.source in ("download", "mirror")
    return Component(
        type=ComponentType.PLATFORM,
        name=implementation,
        version=version,
        bom_ref=bom_ref,
        purl=purl,
        cpe=PYTHON_CPE.format(version=version) if implementation == "cpython" else None,
        description=f"{implementation} {version} interpreter and standard library",
        supplier=_PBS if downloaded else organization(supplier),
        manufacturer=_PSF_ORGANIZATION,
        authors=[_PSF],
        # CPython's LICENSE is the PSF license stack that SPDX calls Python-2.0.
        licenses=[_python_license()],
        hashes=hashes(files_sha256, files_sha512 or None)
        if made_here
        else hashes(record.sha256, record.sha512 or None),
        external_references=references,
        pedigree=pedigree,
        components=nested,
        properties=properties_of(properties),
    )


def _python_license() -> License:
    return DisjunctiveLicense(id="Python-2.0", acknowledgement=LicenseAcknowledgement.CONCLUDED)


def _source_references(build: CPythonBuild) -> list[ExternalReference]:
    """The source tarball, when it came from a URL (a local file is named in properties)."""
    origin = portable_origin(build.tarball_origin)
    if not is_url(origin):
        return []
    return [ExternalReference(
        type=ExternalReferenceType.SOURCE_DISTRIBUTION, url=XsUri(origin),
        hashes=hashes(build.tarball_sha256), comment="CPython source tarball it was built from",
    )]  # fmt: skip


def _build_properties(build: CPythonBuild) -> dict[str, str]:
    found = {
        # shlex-quoted, so an argument holding a space stays one argument.
        f"{NS}:runtime:configure_args": shlex.join(build.configure_args),
        f"{NS}:runtime:compiler": build.compiler,
        f"{NS}:runtime:source_date_epoch": build.source_date_epoch,
        f"{NS}:runtime:tarball_filename": build.tarball_filename,
        f"{NS}:runtime:tarball_sha256": build.tarball_sha256,
        f"{NS}:runtime:inputs_sha256": build.inputs_sha256,
        # Pedigree patches are a set (written sorted); the order they were applied in:
        f"{NS}:runtime:patch_order": " ".join(patch.name for patch in build.patches),
    }
    for key, value in build.env.items():
        found[f"{NS}:runtime:build_env:{key}"] = value
    for patch in build.patches:
        found[f"{NS}:patch:{patch.name}:sha256"] = patch.sha256
    return {key: value for key, value in found.items() if value}


def _pedigree(build: CPythonBuild, texts: Mapping[str, bytes]) -> Pedigree:
    origin = portable_origin(build.tarball_origin)
    qualifiers = {"file_name": build.tarball_filename}
    if is_url(origin):
        qualifiers["download_url"] = origin
    purl = PackageURL("generic", name="cpython", version=build.version, qualifiers=qualifiers)
    upstream = Component(
        type=ComponentType.PLATFORM, name="cpython", version=build.version,
        bom_ref=purl.to_string(), purl=purl, hashes=hashes(build.tarball_sha256),
        authors=[_PSF], licenses=[_python_license()],
        external_references=_source_references(build),
    )  # fmt: skip
    return patched_pedigree(
        upstream,
        [patch.name for patch in build.patches],
        texts,
        f"Built by srcstacks from the CPython source tarball {build.tarball_filename}",
    )


def _bundled_component(parent_ref: str, library: BundledLibrary) -> Component:
    """Third-party code compiled into CPython from its own tree, or linked in statically."""
    version = library.version or None
    purl = PackageURL("generic", name=library.name, version=version)
    cpe = BUNDLED_CPES.get(library.name.lower())
    licenses = [
        LicenseFactory().make_from_string(
            library.license, license_acknowledgement=LicenseAcknowledgement.CONCLUDED
        )
    ] if library.license else []  # fmt: skip
    origin = f"from {library.where}" if library.where else "linked in statically"
    properties = {
        f"{NS}:bundled:where": library.where,
        f"{NS}:bundled:module": library.module,
    }
    if library.filename:  # its deployable form is the module (or libpython) it is in
        properties.update(
            bsi_properties(library.filename, executable=True, archive=False, structured=False)
        )
    name, url = (
        (library.supplier, library.supplier_url) if library.supplier else project_of(library.name)
    )
    supplier = OrganizationalEntity(name=name, urls=[XsUri(url)] if url else None) if name else None
    return Component(
        type=ComponentType.LIBRARY,
        name=library.name,
        version=version,
        bom_ref=f"{parent_ref}::bundled:{library.name}:{library.where or library.module}",
        purl=purl,
        cpe=cpe.format(version=library.version) if cpe and library.version else None,
        description=f"compiled into CPython's {library.module} module {origin}",
        supplier=supplier,
        licenses=licenses,
        hashes=hashes(library.sha256 or None, library.sha512 or None),
        properties=properties_of({key: value for key, value in properties.items() if value}),
    )


def _all_system_libraries(build: CPythonBuild, needed: tuple[str, ...]) -> list[SystemLibrary]:
    """The build's system libraries, plus any soname the archive needs that it lacks
    (package unknown), one per soname."""
    by_soname = {library.soname: library for library in build.system_libraries}
    for soname in needed:
        by_soname.setdefault(soname, SystemLibrary(soname))
    return [by_soname[soname] for soname in sorted(by_soname)]


def _system_component(parent_ref: str, library: SystemLibrary) -> Component:
    """A shared library CPython loads from the machine it is deployed on."""
    package = None
    if library.package and library.package_version:
        package = SystemPackage(
            library.package,
            library.package_version,
            "",
            library.package_manager,
            (RUNTIME,),
            "debian" if library.package_manager == "deb" else "",
            provides=(library.soname,),
        )
    return system_library_component(parent_ref, library.soname, package, "the runtime")
