"""Signed attestations beside the archives: the last step of the sbom stage.

Reads the published archives, their SBOMs, venvstacks' metadata, the wheel dir's
provenance and ``__srcstacks__/build.json``. With a signing key (the file
``SRCSTACKS_SIGNING_KEY`` names; :mod:`srcstacks.attest.keys`), writes
``<archive>.intoto.json`` beside each archive: a DSSE envelope, signed with that key,
of the layer's in-toto statement (:mod:`srcstacks.attest.statement`), whose subjects
are the archive and its SBOM. Signing is deterministic, so an unchanged layer's
attestation is left as it is. Without a key it signs nothing, and removes an
attestation whose archive or SBOM changed or went since it was signed: no attestation
ever stands beside files it does not describe.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path

from packageurl import PackageURL

from srcstacks.attest import dsse
from srcstacks.attest.keys import key_id, signing_key
from srcstacks.attest.statement import LayerBuild, Subject, read_statement
from srcstacks.config import StackConfig
from srcstacks.errors import AttestationError
from srcstacks.fsutil import atomic_write_text, sha256_file
from srcstacks.layout import ATTESTATION_SUFFIX, Layout, attestation_path, remove_file, sbom_path
from srcstacks.provenance import Manifest, WheelProvenance
from srcstacks.records import BuildInfo
from srcstacks.stages.archives import published_layers

Report = Callable[[str], None]


def sign_layers(
    config: StackConfig, manifest: Manifest, build_info: BuildInfo, report: Report
) -> list[Path]:
    """Write each published layer's signed attestation (none without a key); return them."""
    key = signing_key(os.environ)
    layout = Layout.of(config)
    layers = published_layers(config.output_dir)
    archives = {meta.install_target: layout.archive(meta.archive_name) for meta in layers}
    if key is None:
        _remove_stale(config.output_dir, report)
        return []
    kinds = {layer.env_name: layer.kind for layer in config.built_layers}
    digests = {name: sha256_file(path) for name, path in archives.items()}
    written = []
    for meta in layers:
        archive = archives[meta.install_target]
        sbom = sbom_path(archive)
        build = LayerBuild(
            archive=Subject(archive.name, digests[meta.install_target]),
            sbom=Subject(sbom.name, sha256_file(sbom)),
            layer=meta.install_target,
            kind=kinds.get(meta.layer_name, ""),
            variant=build_info.variant,
            mode=config.mode.name,
            wheels=_wheels_in(sbom, manifest),
            lower_layers=tuple(Subject(archives[n].name, digests[n]) for n in meta.depends_on),
            tools=build_info.tools,
        )
        target = attestation_path(archive)
        text = dsse.sign(build.payload(), key)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            atomic_write_text(target, text)
        written.append(target)
    for leftover in _attestations(config.output_dir) - set(written):
        remove_file(leftover)
        report(f"  removed {leftover.name}: its archive is no longer published")
    report(f"  signed {len(written)} attestation(s) with key {key_id(key.public_key())}")
    return written


def _wheels_in(sbom: Path, manifest: Manifest) -> tuple[WheelProvenance, ...]:
    """The provenance records of the wheels the layer's SBOM lists (by file name)."""
    try:
        components = json.loads(sbom.read_text(encoding="utf-8")).get("components", [])
    except (OSError, ValueError, AttributeError) as exc:
        raise AttestationError(f"{sbom}: cannot read the SBOM to sign it ({exc})") from None
    found = []
    for component in components:
        purl = component.get("purl", "") if isinstance(component, dict) else ""
        if not purl.startswith("pkg:pypi/"):
            continue
        file_name = PackageURL.from_string(purl).qualifiers.get("file_name", "")
        if not isinstance(file_name, str) or file_name not in manifest.wheels:
            raise AttestationError(
                f"{sbom}: names {purl}, which has no provenance record (run 'srcstacks sbom')"
            )
        found.append(manifest.wheels[file_name])
    return tuple(found)


def _attestations(output_dir: Path) -> set[Path]:
    return set(output_dir.glob("*" + ATTESTATION_SUFFIX))


def _remove_stale(output_dir: Path, report: Report) -> None:
    """Without a key nothing is verified; an attestation naming other bytes is removed."""
    for path in sorted(_attestations(output_dir)):
        if not _still_describes(path):
            remove_file(path)
            report(f"  removed {path.name}: its archive or SBOM changed since it was signed")


def _still_describes(path: Path) -> bool:
    try:
        envelope = json.loads(path.read_text(encoding="utf-8"))
        subjects = read_statement(base64.b64decode(envelope["payload"])).subjects
    except (OSError, ValueError, KeyError, TypeError):
        return False
    for name, sha256 in subjects.items():
        described = path.parent / name
        if "/" in name or not described.is_file() or sha256_file(described) != sha256:
            return False
    return True
