"""Verify's checks of one archive's SBOM against the records behind it.

Reads the SBOM beside an archive (nothing is written). Beyond ``sbom check`` (schema,
minimum elements, the archive's sha256 and distributions), it checks what only the
build's records can tell: each library's wheel sha256 is its provenance's, a claim that
a wheel was built from source is backed by that wheel's evidence, and the document pins
the same provenance sha256 as ``build.json``. Finally every SBOM is compared with the
one the sbom stage makes from the same archives and records
(:func:`regenerated_problems`): an edited licence, patch pedigree, supplier or
reference is caught there.
"""

from __future__ import annotations

import json

from packaging.utils import canonicalize_name

from srcstacks.errors import SrcstacksError
from srcstacks.layout import sbom_path
from srcstacks.sbom.check import (
    as_objects,
    check_document,
    library_components,
    metadata_property,
)
from srcstacks.spec.config import StackConfig
from srcstacks.spec.mode import BuildMode
from srcstacks.state.archive_reader import ArchiveContents
from srcstacks.state.provenance import Manifest, records_digest
from srcstacks.state.records import BuildInfo
from srcstacks.state.sbom_identity import MODE_PROPERTY, serial_problem, timeless
from srcstacks.verify.mode import (
    ORIGIN_PROPERTY,
    origin_problems,
    sbom_mode_problems,
)

PROVENANCE_PROPERTY = "srcstacks:provenance_sha256"


def check_sbom(
    contents: ArchiveContents,
    manifest: Manifest,
    wheel_problems: dict[str, list[str]],
    build_info: BuildInfo | None,
    layer_name: str | None = None,
    mode: BuildMode | None = None,
) -> list[str]:
    """Every problem with the SBOM of the archive ``contents`` describes.

    ``layer_name``: the layer's env name, as ``build.json`` keys it (a versioned layer's
    SBOM names its install target, ``framework-x@1``); by default the SBOM's layer name.
    ``mode``: the stack's build mode, which the SBOM must say it was written in.
    """
    sbom = sbom_path(contents.archive)
    if not sbom.is_file():
        return [f"{contents.archive.name}: no SBOM beside it (run 'srcstacks sbom')"]
    checked = check_document(sbom, contents)
    problems = [f"{sbom.name}: {problem}" for problem in checked.problems]
    document = checked.document
    if document is None:
        return problems
    problems.extend(_pin_problems(sbom.name, document, contents, manifest, build_info, layer_name))
    if mode is not None:
        written = metadata_property(document, MODE_PROPERTY)
        problems.extend(sbom_mode_problems(sbom.name, written, mode))
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
        claimed = properties.get(ORIGIN_PROPERTY)
        problems.extend(
            origin_problems(
                sbom.name, name, version, None if claimed is None else str(claimed), matching
            )
        )
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


def _pin_problems(
    name: str,
    document: dict[str, object],
    contents: ArchiveContents,
    manifest: Manifest,
    build_info: BuildInfo | None,
    layer_name: str | None,
) -> list[str]:
    """The SBOM pins the provenance sha256 build.json records for its layer, and that
    is the sha256 of the records of the wheels the archive holds."""
    if build_info is None:
        return []
    component = document.get("metadata")
    layer = ""
    if isinstance(component, dict) and isinstance(component.get("component"), dict):
        layer = str(component["component"].get("name", ""))
    layer = layer_name or layer
    pinned = build_info.provenance_pin(layer)
    problems = []
    if pinned and metadata_property(document, PROVENANCE_PROPERTY) != pinned:
        problems.append(f"{name}: its {PROVENANCE_PROPERTY} differs from the one build.json pins")
    if layer in build_info.layer_provenance_sha256:
        wheels = {
            record.filename
            for dist in contents.dists
            if (record := manifest.installed_from(dist)) is not None
        }
        if records_digest(manifest, wheels) != pinned:
            problems.append(
                f"{name}: build.json pins, for layer {layer}, a provenance sha256 other than"
                " that of the records of the wheels in its archive"
            )
    return problems


def regenerated_problems(config: StackConfig, manifest: Manifest) -> list[str]:
    """SBOMs whose content differs from what the sbom stage makes of the same inputs.

    The documents are reproducible, so any difference is an edit after they were
    written. Only when it was written is left out (``metadata.timestamp`` and where that
    came from), since ``SOURCE_DATE_EPOCH`` may differ between writing and verifying.
    """
    from srcstacks.sbom.stage import expected_sboms  # the SBOM builder, only when needed

    try:
        expected = expected_sboms(config, manifest)
    except SrcstacksError:
        return []  # the records themselves are broken; verify names that elsewhere
    problems = []
    for path, text in sorted(expected.items()):
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # missing or unreadable: named by the checks above
        if timeless(found) != timeless(json.loads(text)):
            problems.append(
                f"{path.name}: differs from the SBOM srcstacks makes from this archive and"
                " its records (edited after it was written; 'srcstacks sbom' writes it again)"
            )
        elif (wrong := serial_problem(found)) is not None:
            problems.append(f"{path.name}: {wrong}")
    return problems
