"""CycloneDX components: the layer archive, each distribution in it, the lower layers, the
tools (CPython's is in :mod:`.runtime`).

Every component gets an explicit ``bom-ref`` (its purl where it has one): the library
would otherwise invent random ones, and the SBOM must come out byte for byte the same.
Properties of our own live under ``srcstacks:`` (see docs/sbom.md); the standard
``cdx:python:package:required-extra`` is used where it fits.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from cyclonedx.model import (
    AttachedText,
    Encoding,
    ExternalReference,
    ExternalReferenceType,
    HashAlgorithm,
    HashType,
    Property,
    XsUri,
)
from cyclonedx.model.component import (
    Component,
    ComponentType,
    Diff,
    Patch,
    PatchClassification,
    Pedigree,
)
from cyclonedx.model.contact import OrganizationalContact, OrganizationalEntity
from cyclonedx.model.license import LicenseAcknowledgement
from packageurl import PackageURL

from srcstacks.sbom.licenses import LicenseFile, as_license, component_licenses, conclude
from srcstacks.sbom.metadata import DistMetadata
from srcstacks.sbom.system_libs import provider_of, system_library_component
from srcstacks.sbom.upstream import distribution_reference, upstream_supplier
from srcstacks.spec.config import LayerKind, SbomParty, SbomSettings
from srcstacks.state.archive_reader import InstalledDist
from srcstacks.state.build_record import BuildEnvironment
from srcstacks.state.provenance import SdistRecord, WheelProvenance

# Why these types: an application layer is an application; a framework layer is a
# framework its applications run on; the runtime layer is a platform ("a runtime
# environment which interprets or executes software", CycloneDX 1.6), as is CPython in it.
LAYER_TYPES: dict[LayerKind, ComponentType] = {
    "runtime": ComponentType.PLATFORM,
    "framework": ComponentType.FRAMEWORK,
    "application": ComponentType.APPLICATION,
}
NS = "srcstacks"
# BSI TR-03183-2 (v2) properties, in the BSI's CycloneDX property taxonomy.
BSI_FILENAME = "bsi:component:filename"
BSI_EXECUTABLE = "bsi:component:executable"  # "executable" or "non-executable"
BSI_ARCHIVE = "bsi:component:archive"  # "archive" or "no archive"
BSI_STRUCTURED = "bsi:component:structured"  # "structured" or "unstructured"


@dataclass(frozen=True)
class DistInputs:
    """Everything known about one distribution found in a layer archive."""

    dist: InstalledDist
    metadata: DistMetadata
    provenance: WheelProvenance | None  # None: the archive holds a wheel we never built
    wheel_sha512: str | None = None
    # Patch path -> its text, for each recorded patch whose file still has that sha256.
    patch_texts: Mapping[str, bytes] = field(default_factory=dict)
    # Shared libraries its compiled files need that the archive does not hold.
    system_libraries: tuple[str, ...] = ()
    # What its wheel lacks of the upstream binary of its version (``parity.json``).
    degraded: str = ""


@dataclass(frozen=True)
class LayerInfo:
    """The layer archive itself, from venvstacks' metadata and the file."""

    name: str  # install target, e.g. app-greeter
    kind: LayerKind
    version: str  # venvstacks' lock version
    archive_name: str
    sha256: str
    sha512: str
    properties: Mapping[str, str]


def hashes(sha256: str | None, sha512: str | None = None) -> list[HashType]:
    """HashType entries for the digests that are known."""
    found = [(HashAlgorithm.SHA_256, sha256), (HashAlgorithm.SHA_512, sha512)]
    return [HashType(alg=alg, content=value) for alg, value in found if value]


def organization(party: SbomParty | None) -> OrganizationalEntity | None:
    """A configured supplier or manufacturer."""
    if party is None:
        return None
    contacts = [OrganizationalContact(email=party.email)] if party.email else []
    urls = [XsUri(party.url)] if party.url else []
    return OrganizationalEntity(name=party.name, urls=urls, contacts=contacts)


def contact(party: SbomParty) -> OrganizationalContact:
    """A configured SBOM author."""
    return OrganizationalContact(name=party.name, email=party.email)


def bsi_properties(
    filename: str | None, *, executable: bool, archive: bool, structured: bool
) -> dict[str, str]:
    """BSI TR-03183-2's file properties of a component (no filename when it has none)."""
    found = {
        BSI_EXECUTABLE: "executable" if executable else "non-executable",
        BSI_ARCHIVE: "archive" if archive else "no archive",
        BSI_STRUCTURED: "structured" if structured else "unstructured",
    }
    return {BSI_FILENAME: filename, **found} if filename else found


# A wheel and a layer archive are both archives (zip, tar) that keep their members'
# names and metadata (structured), holding Python code and compiled modules that run
# (executable).
_PACKAGED_CODE = {"executable": True, "archive": True, "structured": True}


def layer_component(layer: LayerInfo, settings: SbomSettings) -> Component:
    """The layer archive: ``metadata.component`` of its own SBOM.

    Its licence and copyright notice are the supplier's own, as the spec declares them
    (``[tool.srcstacks.sbom] license``, ``copyright``), never a distribution's inside it:
    the archive is the supplier's product. The manufacturer and the security contact are
    the configured ones: who makes the product and where to report its vulnerabilities
    (CRA, BSI TR-03183-2).
    """
    purl = PackageURL(
        "generic", name=layer.name, version=layer.version,
        qualifiers={"file_name": layer.archive_name},
    )  # fmt: skip
    references = []
    if contact := settings.security_contact:
        references.append(ExternalReference(
            type=ExternalReferenceType.SECURITY_CONTACT, url=XsUri(contact),
            comment="where to report a vulnerability",
        ))  # fmt: skip
        if contact.startswith("https://") and contact.endswith("/security.txt"):
            # BSI TR-03183-2's "URL of the security.txt" (RFC 9116).
            references.append(ExternalReference(
                type=ExternalReferenceType.RFC_9166, url=XsUri(contact), comment="security.txt",
            ))  # fmt: skip
    return Component(
        type=LAYER_TYPES[layer.kind],
        name=layer.name,
        version=layer.version,
        bom_ref=purl.to_string(),
        purl=purl,
        supplier=organization(settings.supplier),
        manufacturer=organization(settings.manufacturer),
        hashes=hashes(layer.sha256, layer.sha512),
        licenses=[as_license(licence, LicenseAcknowledgement.DECLARED)]
        if (licence := settings.license)
        else [],
        copyright=settings.copyright,
        external_references=references,
        properties=properties_of(
            {**layer.properties, **bsi_properties(layer.archive_name, **_PACKAGED_CODE)}
        ),
    )


def library_component(
    inputs: DistInputs,
    extras: Iterable[str],
    supplier: SbomParty | None,
    repository_url: str | None = None,
) -> Component:
    """One distribution installed in the archive, with the provenance of its wheel.

    ``extras`` are the extras other distributions of the layer ask it for;
    ``repository_url`` is the index the stack's wheels are fetched from (the spec's).
    """
    meta, record = inputs.metadata, inputs.provenance
    qualifiers = wheel_qualifiers(record, repository_url) if record else {}
    purl = PackageURL("pypi", name=inputs.dist.name, version=inputs.dist.version,
                      qualifiers=qualifiers)  # fmt: skip
    found = conclude(inputs.dist.license_files, meta.licenses)
    licenses, declared_left_out = component_licenses(meta.licenses, found.expression)
    properties = bsi_properties(record.filename if record else None, **_PACKAGED_CODE)
    properties.update(_license_file_properties(found.files))
    if declared_left_out:
        properties[f"{NS}:license:declared"] = declared_left_out
    references = [_url_reference(url.kind, url.url, url.label) for url in meta.urls]
    pedigree = None
    # We built and ship this wheel, so we are its supplier; upstream are its authors.
    # An upstream binary we did not build: whoever did is (sbom/upstream.py).
    supplied_by = organization(supplier)
    if record is None:
        properties[f"{NS}:provenance"] = "missing"
    elif record.upstream is not None:
        properties.update(_build_properties(record))
        properties[f"{NS}:upstream_index"] = record.upstream.index_url
        references.append(distribution_reference(record.upstream))
        supplied_by = upstream_supplier(meta, record.upstream)
    elif record.sdist is not None:
        properties.update(_build_properties(record))
        references.append(_sdist_reference(record.sdist.url, record.sdist.sha256))
        pedigree = _pedigree(record, record.sdist, inputs.patch_texts)
    if inputs.system_libraries:
        properties[f"{NS}:system_libraries"] = " ".join(inputs.system_libraries)
    if inputs.degraded:
        properties[f"{NS}:degraded"] = inputs.degraded
    extra_properties = [Property(name="cdx:python:package:required-extra", value=extra)
                        for extra in sorted(extras)]  # fmt: skip
    environment = record.build_environment if record is not None else None
    built_with = environment.system_packages if environment is not None else ()
    system = [
        system_library_component(
            purl.to_string(), soname, provider_of(soname, built_with), "the layer"
        )
        for soname in inputs.system_libraries
    ]
    return Component(
        type=ComponentType.LIBRARY,
        name=meta.name or inputs.dist.name,
        version=inputs.dist.version,
        bom_ref=purl.to_string(),
        purl=purl,
        description=meta.summary,
        supplier=supplied_by,
        authors=[OrganizationalContact(name=p.name, email=p.email) for p in meta.authors],
        hashes=hashes(record.sha256 if record else None, inputs.wheel_sha512),
        licenses=licenses,
        copyright="\n".join(found.copyright) or None,
        external_references=references,
        pedigree=pedigree,
        properties=[*properties_of(properties), *extra_properties],
        components=system,
    )


def wheel_qualifiers(record: WheelProvenance, repository_url: str | None) -> dict[str, str]:
    """The purl qualifiers of a wheel: its file name, and the index that holds it when
    it is not PyPI (purl's default for ``pkg:pypi``): the spec's ``repository_url`` for
    a wheel built here, the upstream index for an upstream binary."""
    qualifiers = {"file_name": record.filename}
    where = record.upstream.index_url if record.upstream is not None else repository_url
    if where and where.rstrip("/") not in PYPI_INDEXES:
        qualifiers["repository_url"] = where
    return qualifiers


# What purl's pkg:pypi means without a repository_url.
PYPI_INDEXES = ("https://pypi.org", "https://pypi.org/simple", "https://pypi.python.org/simple")


def tool_component(name: str, version: str) -> Component:
    """A tool in ``metadata.tools``: srcstacks, Fromager, venvstacks, uv."""
    purl = PackageURL("pypi", name=name, version=version)
    return Component(type=ComponentType.APPLICATION, name=name, version=version,
                     bom_ref=f"tool:{purl.to_string()}", purl=purl)  # fmt: skip


def _build_properties(record: WheelProvenance) -> dict[str, str]:
    found = {
        f"{NS}:built_from_source": "true" if record.built_from_source else "false",
        f"{NS}:origin": record.origin,
        f"{NS}:variant": record.variant,
        f"{NS}:build_tag": record.build_tag,
        f"{NS}:build_settings_sha256": record.build_settings_sha256,
        f"{NS}:wheel": record.filename,
    }
    for key, value in record.build_env.items():
        found[f"{NS}:build_env:{key}"] = value
    for patch in record.patches:
        found[f"{NS}:patch:{patch.path}:sha256"] = patch.sha256
    return {key: value for key, value in found.items() if value}


def _license_file_properties(files: Iterable[LicenseFile]) -> dict[str, str]:
    """Which SPDX license each license file holds, by its path in the .dist-info."""
    return {
        f"{NS}:license_file:{item.path}": " ".join(item.license_ids) or "unrecognised"
        for item in files
        if item.is_license
    }


def _sdist_reference(url: str, sha256: str) -> ExternalReference:
    return ExternalReference(
        type=ExternalReferenceType.SOURCE_DISTRIBUTION, url=XsUri(url),
        hashes=hashes(sha256), comment="sdist the wheel was built from",
    )  # fmt: skip


def _pedigree(record: WheelProvenance, sdist: SdistRecord, texts: Mapping[str, bytes]) -> Pedigree:
    sdist_purl = PackageURL("pypi", name=record.project, version=record.version,
                            qualifiers={"file_name": sdist.filename})  # fmt: skip
    upstream = Component(
        type=ComponentType.LIBRARY, name=record.project, version=record.version,
        bom_ref=sdist_purl.to_string(), purl=sdist_purl, hashes=hashes(sdist.sha256),
        external_references=[ExternalReference(
            type=ExternalReferenceType.DISTRIBUTION, url=XsUri(sdist.url),
            hashes=hashes(sdist.sha256),
        )],
    )  # fmt: skip
    names = [patch.path for patch in record.patches]
    return patched_pedigree(
        upstream,
        names,
        texts,
        f"Built from the upstream sdist by Fromager (variant {record.variant})",
    )


def patched_pedigree(
    upstream: Component, patch_names: Sequence[str], texts: Mapping[str, bytes], how: str
) -> Pedigree:
    """``upstream`` as the ancestor, each patch (its text when read), and how it was built."""
    patches = [
        Patch(type=PatchClassification.UNOFFICIAL,
              diff=Diff(text=patch_text(texts.get(name)), url=XsUri(name)))
        for name in patch_names
    ]  # fmt: skip
    count = f"{len(patches)} patch(es) applied" if patches else "no patches"
    return Pedigree(ancestors=[upstream], patches=patches, notes=f"{how}; {count}.")


def patch_text(data: bytes | None) -> AttachedText | None:
    if data is None:
        return None
    try:
        return AttachedText(content=data.decode("utf-8"), content_type="text/x-diff")
    except UnicodeDecodeError:
        return AttachedText(content=base64.b64encode(data).decode("ascii"),
                            content_type="text/x-diff", encoding=Encoding.BASE_64)  # fmt: skip


def _url_reference(kind: str, url: str, label: str) -> ExternalReference:
    return ExternalReference(type=ExternalReferenceType(kind), url=XsUri(url), comment=label)


def properties_of(values: Mapping[str, str]) -> list[Property]:
    return [Property(name=name, value=value) for name, value in sorted(values.items())]


def is_url(value: str) -> bool:
    return value.startswith(("https://", "http://"))


def portable_origin(origin: str) -> str:
    """A URL as it is; a local path reduced to its file name.

    A local path names the build machine's folders, which the SBOM must not leak (and
    which would make two builds of the same archive differ).
    """
    return origin if is_url(origin) else PurePath(origin).name


def built_wheels(
    dists: Sequence[DistInputs], libraries: Mapping[str, Component]
) -> list[tuple[str, str, BuildEnvironment]]:
    """What :func:`srcstacks.state.sbom_formulation.add_formulation` takes: each wheel of the
    layer built here, with its component's bom-ref and its build environment."""
    found = []
    for dist in dists:
        record = dist.provenance
        component = libraries.get(dist.dist.name)
        # An upstream binary (selective mode) was not built here: it has no formula.
        if record is None or record.upstream is not None or component is None:
            continue
        if record.build_environment is None:
            continue
        ref = str(component.bom_ref.value)
        found.append((ref, f"{dist.dist.name} {dist.dist.version}", record.build_environment))
    return found
