"""Verify's checks of one archive's SBOM against the records behind it.

Reads the SBOM beside an archive (nothing is written). Beyond ``sbom check`` (schema,
minimum elements, the archive's sha256 and distributions), it checks what only the
build's records can tell: each library's wheel sha256 is its provenance's, a claim that
a wheel was built from source is backed by that wheel's evidence, and the document pins
the same provenance sha256 as ``build.json``.
"""

from __future__ import annotations

from packaging.utils import canonicalize_name

from srcstacks.archive_reader import ArchiveContents
from srcstacks.layout import sbom_path
from srcstacks.provenance import Manifest
from srcstacks.records import BuildInfo
from srcstacks.sbom.check import (
    as_objects,
    check_document,
    library_components,
    metadata_property,
)

PROVENANCE_PROPERTY = "srcstacks:provenance_sha256"


def check_sbom(
    contents: ArchiveContents,
    manifest: Manifest,
    wheel_problems: dict[str, list[str]],
    build_info: BuildInfo | None,
) -> list[str]:
    """Every problem with the SBOM of the archive ``contents`` describes."""
    sbom = sbom_path(contents.archive)
    if not sbom.is_file():
        return [f"{contents.archive.name}: no SBOM beside it (run 'srcstacks sbom')"]
    checked = check_document(sbom, contents)
    problems = [f"{sbom.name}: {problem}" for problem in checked.problems]
    document = checked.document
    if document is None:
        return problems
    pinned = build_info.provenance_sha256 if build_info is not None else ""
    if pinned and metadata_property(document, PROVENANCE_PROPERTY) != pinned:
        problems.append(
            f"{sbom.name}: its {PROVENANCE_PROPERTY} differs from the one build.json pins"
        )
    for component in library_components(document):
        name = canonicalize_name(str(component.get("name", "")))
        version = str(component.get("version", ""))
        records = manifest.records_for(name, version)
        hashes = {
            str(item.get("alg")): item.get("content")
            for item in as_objects(component.get("hashes"))
        }
        matching = [record for record in records if record.sha256 == hashes.get("SHA-256")]
        if records and not matching:
            problems.append(
                f"{sbom.name}: {name} {version} has a wheel sha256 other than its provenance's"
            )
        properties = {
            str(item.get("name")): item.get("value")
            for item in as_objects(component.get("properties"))
        }
        if properties.get("srcstacks:built_from_source") != "true":
            continue
        for record in matching:
            found = wheel_problems.get(record.filename, [])
            if not record.built_from_source or found:
                why = found[0] if found else "its provenance does not say so"
                problems.append(
                    f"{sbom.name}: {name} {version} is claimed built from source, but"
                    f" {record.filename}: {why}"
                )
    return problems
