"""Signed attestations beside the archives: the last step of the sbom stage.

Reads the published archives, their SBOMs, venvstacks' metadata, the wheel dir's
provenance and ``__srcstacks__/build.json``. With a signing key (the file
``SRCSTACKS_SIGNING_KEY`` names; :mod:`srcstacks.attest.keys`), writes
``<archive>.intoto.json`` beside each archive: a DSSE envelope, signed with that key,
of the layer's in-toto statement (:mod:`srcstacks.attest.statement`), whose subjects
are the archive and its SBOM; and ``__srcstacks__/wheels/<wheel>.intoto.json`` for each
wheel in them that was built here from its sdist (its own build: sdist, patches,
build settings, build tools, Fromager and its Python). Signing is deterministic, so
an unchanged attestation is left as it is. Without a key it signs nothing, and removes
an attestation whose archive, SBOM or wheel changed or went since it was signed: no
attestation ever stands beside files it does not describe.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from packageurl import PackageURL

from srcstacks.attest import dsse
from srcstacks.attest.keys import key_id, signing_key
from srcstacks.attest.statement import LayerBuild, Subject, WheelBuild, read_statement
from srcstacks.errors import AttestationError
from srcstacks.fsutil import atomic_write_text, sha256_file
from srcstacks.layout import ATTESTATION_SUFFIX, Layout, attestation_path, sbom_path
from srcstacks.layout.ownership import remove_file
from srcstacks.reporting import Report
from srcstacks.spec.config import StackConfig
from srcstacks.state.provenance import Manifest, WheelProvenance
from srcstacks.state.records import BuildInfo
from srcstacks.tools.venvstacks import published_layers


def sign_layers(
    config: StackConfig, manifest: Manifest, build_info: BuildInfo, report: Report
) -> list[Path]:
    """Write each published layer's signed attestation (none without a key); return them."""
    key = signing_key(os.environ)
    layout = Layout.of(config)
    layers = published_layers(config.output_dir)
    archives = {meta.install_target: layout.archive(meta.archive_name) for meta in layers}
    if key is None:
        _remove_stale(layout, manifest, report)
        return []
    kinds = {layer.env_name: layer.kind for layer in config.built_layers}
    digests = {name: sha256_file(path) for name, path in archives.items()}
    written = []
    built_here: dict[str, WheelProvenance] = {}
    for meta in layers:
        archive = archives[meta.install_target]
        sbom = sbom_path(archive)
        wheels = _wheels_in(sbom, manifest)  # the SBOM is read once per layer
        build = LayerBuild(
            archive=Subject(archive.name, digests[meta.install_target]),
            sbom=Subject(sbom.name, sha256_file(sbom)),
            layer=meta.install_target,
            kind=kinds.get(meta.layer_name, ""),
            variant=build_info.variant,
            mode=config.mode.name,
            wheels=wheels,
            lower_layers=tuple(Subject(archives[n].name, digests[n]) for n in meta.depends_on),
            tools=build_info.tools,
        )
        written.append(_signed(attestation_path(archive), build.payload(), key))
        built_here.update(
            (record.filename, record)
            for record in wheels
            if record.built_from_source and record.upstream is None
        )
    for name, record in sorted(built_here.items()):
        written.append(_signed(layout.wheel_attestation(name), WheelBuild(record).payload(), key))
    for leftover in _attestations(layout) - set(written):
        remove_file(leftover)
        report(f"  removed {leftover.name}: what it described is no longer published")
    report(
        f"  signed {len(layers)} layer and {len(built_here)} wheel attestation(s)"
        f" with key {key_id(key.public_key())}"
    )
    return written


def _signed(target: Path, payload: bytes, key: Ed25519PrivateKey) -> Path:
    """Write ``payload``'s envelope to ``target``, unless it holds those bytes already."""
    text = dsse.sign(payload, key)
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, text)
    return target


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


def _attestations(layout: Layout) -> set[Path]:
    """Every attestation the sign step may have written: the layers' and the wheels'."""
    pattern = "*" + ATTESTATION_SUFFIX
    return set(layout.output_dir.glob(pattern)) | set(layout.wheel_attestations.glob(pattern))


def _remove_stale(layout: Layout, manifest: Manifest, report: Report) -> None:
    """Without a key nothing is verified; an attestation naming other bytes is removed."""
    for path in sorted(_attestations(layout)):
        if not _still_describes(path, manifest):
            remove_file(path)
            report(f"  removed {path.name}: what it describes changed since it was signed")


def _still_describes(path: Path, manifest: Manifest) -> bool:
    """Whether the files an attestation names still have the sha256 it gives them: an
    archive or SBOM beside it, or a wheel of the wheel dir (by its provenance record)."""
    try:
        envelope = json.loads(path.read_text(encoding="utf-8"))
        statement = read_statement(base64.b64decode(envelope["payload"]))
    except (OSError, ValueError, KeyError, TypeError):
        return False
    for name, sha256 in statement.subjects.items():
        if statement.of_a_wheel:
            record = manifest.wheels.get(name)
            if record is None or record.sha256 != sha256:
                return False
            continue
        described = path.parent / name
        if "/" in name or not described.is_file() or sha256_file(described) != sha256:
            return False
    return True
