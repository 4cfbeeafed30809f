"""``srcstacks audit DIR --key PUBKEY``: check a folder of archives, SBOMs and signed
attestations alone, with no work dir, wheel dir, index or spec.

Reads only DIR (``*.tar.xz`` archives, ``*.cdx.json`` SBOMs, ``*.intoto.json``
attestations, the wheels' in any folder below) and the public key file. Reports every
problem it finds, each naming the file and what is wrong:

- an attestation that is malformed, not signed by the key, or whose signature fails;
- a wheel a layer's statement says was built here without a signed statement of its
  own build (``__srcstacks__/wheels/<wheel>.intoto.json``) naming the same sha256;
- an archive or SBOM that no verified attestation names (unsigned, or signed by
  another key), or whose sha256 is not the one signed (edited after signing);
- in each archive, a distribution with no component of its name and version in the
  archive's SBOM (a removed component); a component whose wheel sha256 is not the
  signed statement's; a component whose licences are not what the distribution's own
  METADATA and licence files give (as ``srcstacks sbom`` concludes them);
- a BOM-link (``urn:cdx:<serial>/<version>[#ref]``) to no SBOM of the folder, or to an
  element that SBOM does not have, and a link whose pinned sha256 is not that SBOM's;
- in a runtime layer's archive, a file of the interpreter that is not what its file list
  (``__srcstacks__/<layer>.runtime-files.json``, the sha256 of which the layer's SBOM
  pins) gives, or missing; a list that is missing or is not the one pinned.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cyclonedx.model.license import DisjunctiveLicense, License
from packageurl import PackageURL

from srcstacks.attest.dsse import open_envelope
from srcstacks.attest.statement import SignedLayer, read_statement
from srcstacks.errors import ArchiveError, AttestationError, SbomError, StateError
from srcstacks.fsutil import sha256_file
from srcstacks.layout import ATTESTATION_SUFFIX, SBOM_SUFFIX, runtime_file_list_published
from srcstacks.sbom.components import NS
from srcstacks.sbom.licenses import component_licenses, conclude
from srcstacks.sbom.links import LayerSbom, LinkedComponent, read_layer_sbom
from srcstacks.sbom.metadata import parse_metadata
from srcstacks.state.archive_reader import ArchiveContents, InstalledDist, read_archive
from srcstacks.state.runtime_files import read_list

_ARCHIVE_SUFFIX = ".tar.xz"
_FILES_PROPERTY = f"{NS}:runtime:files_sha256"
_MAX_LISTED = 10
_BOM_LINK = "urn:cdx:"


@dataclass
class Audit:
    """What the audit looked at and every problem it found."""

    problems: list[str] = field(default_factory=list)
    archives: int = 0
    sboms: int = 0
    attestations: int = 0
    distributions: int = 0


def audit(folder: Path, key: Ed25519PublicKey) -> Audit:
    """Check every archive, SBOM and attestation in ``folder`` (see the module's doc)."""
    result = Audit()
    statements = _verified_statements(folder, key, result)
    signed = {name: item for name, item in statements.items() if not item.of_a_wheel}
    _check_wheel_statements(statements, result)
    signed_files = {
        name: sha256 for layer in signed.values() for name, sha256 in layer.subjects.items()
    }
    archives = sorted(folder.glob("*" + _ARCHIVE_SUFFIX))
    sboms = sorted(folder.glob("*" + SBOM_SUFFIX))
    for path in [*archives, *sboms]:
        _check_signed(path, signed_files, result)
    documents = _read_sboms(sboms, result)
    for archive in archives:
        result.archives += 1
        sbom = documents.get(archive.name + SBOM_SUFFIX)
        if sbom is None:
            result.problems.append(
                f"{archive.name}: no SBOM beside it ({archive.name}{SBOM_SUFFIX})"
            )
            continue
        statement = next((s for s in signed.values() if archive.name in s.subjects), None)
        _check_contents(folder, archive, sbom, statement, result)
    _check_links(folder, documents, result)
    return result


def _verified_statements(
    folder: Path, key: Ed25519PublicKey, result: Audit
) -> dict[str, SignedLayer]:
    found: dict[str, SignedLayer] = {}
    for path in sorted(folder.rglob("*" + ATTESTATION_SUFFIX)):
        result.attestations += 1
        shown = path.relative_to(folder).as_posix()
        try:
            payload = open_envelope(path.read_text(encoding="utf-8"), key)
            found[shown] = read_statement(payload)
        except AttestationError as exc:
            result.problems.append(f"{shown}: {exc}")
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            result.problems.append(f"{shown}: not an attestation srcstacks wrote ({exc})")
    return found


def _check_wheel_statements(statements: dict[str, SignedLayer], result: Audit) -> None:
    """Every wheel a layer's statement says was built here has a signed statement of its
    own build (``__srcstacks__/wheels/``), naming the same sha256."""
    wheels = {
        name: sha256
        for statement in statements.values()
        if statement.of_a_wheel
        for name, sha256 in statement.subjects.items()
    }
    needed = {
        name: statement.wheels[name]
        for statement in statements.values()
        for name in statement.built_here
    }
    for name, sha256 in sorted(needed.items()):
        if name not in wheels:
            result.problems.append(
                f"{name}: built here, but no attestation of its build signed with this key"
            )
        elif wheels[name] != sha256:
            result.problems.append(
                f"{name}: the attestation of its build gives sha256 {wheels[name]}, the"
                f" layer's {sha256}"
            )


def _check_signed(path: Path, signed: dict[str, str], result: Audit) -> None:
    if path.name not in signed:
        result.problems.append(
            f"{path.name}: named by no attestation signed with this key (unsigned, or signed"
            " with another key)"
        )
    elif sha256_file(path) != signed[path.name]:
        result.problems.append(
            f"{path.name}: its sha256 is not the one signed (the file changed after signing)"
        )


def _read_sboms(sboms: list[Path], result: Audit) -> dict[str, LayerSbom]:
    found = {}
    for path in sboms:
        result.sboms += 1
        try:
            found[path.name] = read_layer_sbom(path)
        except SbomError as exc:
            result.problems.append(str(exc))
    return found


def _check_contents(
    folder: Path, archive: Path, sbom: LayerSbom, statement: SignedLayer | None, result: Audit
) -> None:
    """Each distribution in ``archive`` against its component in ``sbom``; a runtime
    layer's interpreter against its file list."""
    try:
        contents: ArchiveContents = read_archive(archive)
    except ArchiveError as exc:
        result.problems.append(str(exc))
        return
    if (pinned := runtime_files_pin(sbom.path)) is not None:
        result.problems.extend(_runtime_problems(folder, sbom.layer.name, pinned, contents))
    for dist in contents.dists:
        result.distributions += 1
        where = f"{archive.name}: {dist.name} {dist.version}"
        component = sbom.libraries.get(dist.name)
        if component is None or component.version != dist.version:
            result.problems.append(
                f"{where} is installed, but {sbom.path.name} has no component for it"
            )
            continue
        if statement is not None:
            signed = statement.wheels.get(_file_name(component))
            if signed is not None and signed != component.sha256:
                result.problems.append(
                    f"{where}: {sbom.path.name} gives its wheel sha256 {component.sha256},"
                    f" the signed attestation {signed}"
                )
        if (said := _terms(component.licenses)) != (found := _terms(_licenses_of(dist))):
            result.problems.append(
                f"{where}: {sbom.path.name} gives its licences as {_show(said)}; its"
                f" METADATA and licence files give {_show(found)}"
            )


def runtime_files_pin(sbom: Path) -> str | None:
    """The sha256 of the runtime's file list a runtime layer's SBOM pins (on its
    interpreter's component); None for another layer's."""
    try:
        document = json.loads(sbom.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # read_layer_sbom said so already
    if not isinstance(document, dict) or _layer_type(document) != "platform":
        return None
    for component in document.get("components") or []:
        if isinstance(component, dict) and component.get("type") == "platform":
            for item in component.get("properties") or []:
                if isinstance(item, dict) and item.get("name") == _FILES_PROPERTY:
                    return str(item.get("value"))
    return None


def _layer_type(document: dict[str, Any]) -> object:
    metadata = document.get("metadata")
    component = metadata.get("component") if isinstance(metadata, dict) else None
    return component.get("type") if isinstance(component, dict) else None


def _runtime_problems(
    folder: Path, layer: str, pinned: str, contents: ArchiveContents
) -> list[str]:
    name = contents.archive.name
    try:
        listed = runtime_file_list_published(folder, layer)
    except StateError as exc:
        return [f"{name}: {exc}"]
    shown = listed.relative_to(folder).as_posix()
    if not listed.is_file():
        return [f"{name}: its interpreter's file list {shown} is not in the folder"]
    if sha256_file(listed) != pinned:
        return [f"{shown}: its sha256 is not the one {name}{SBOM_SUFFIX} pins"]
    try:
        entries = read_list(listed) or {}
    except StateError as exc:
        return [str(exc)]
    return [f"{name}: {problem}" for problem in runtime_file_problems(contents, entries)]


def runtime_file_problems(contents: ArchiveContents, entries: dict[str, str]) -> list[str]:
    """Each file of the runtime's list that the archive lacks or holds with other content
    (the first few named, the rest counted)."""
    roots = {member.partition("/")[0] for member in contents.members}
    root = roots.pop() if len(roots) == 1 else ""
    problems = []
    for relative, entry in sorted(entries.items()):
        found = contents.members.get(f"{root}/{relative}")
        if found is None:
            problems.append(f"{root}/{relative} of the interpreter's file list is missing")
        elif found != entry:
            problems.append(f"{root}/{relative} differs from the interpreter's file list")
    if len(problems) > _MAX_LISTED:
        problems[_MAX_LISTED:] = [f"and {len(problems) - _MAX_LISTED} more file(s) of the list"]
    return problems


def _file_name(component: LinkedComponent) -> str:
    if not component.purl:
        return ""
    name = PackageURL.from_string(component.purl).qualifiers.get("file_name", "")
    return name if isinstance(name, str) else ""


def _licenses_of(dist: InstalledDist) -> list[License]:
    """The licences ``srcstacks sbom`` gives a distribution, from its own files."""
    declared = parse_metadata(dist.files.get("METADATA", "")).licenses
    return component_licenses(declared, conclude(dist.license_files, declared).expression)[0]


def _terms(licenses: Any) -> list[tuple[str, str]]:
    terms = []
    for item in licenses:
        text = (item.id or item.name or "") if isinstance(item, DisjunctiveLicense) else item.value
        acknowledgement = item.acknowledgement.value if item.acknowledgement else ""
        terms.append((acknowledgement, str(text)))
    return sorted(terms)


def _show(terms: list[tuple[str, str]]) -> str:
    return ", ".join(f"{text} ({acknowledgement})" for acknowledgement, text in terms) or "none"


def _check_links(folder: Path, sboms: dict[str, LayerSbom], result: Audit) -> None:
    """Every BOM-link in every SBOM resolves to an SBOM of the folder, and its element."""
    documents: dict[str, tuple[Path, set[str], str]] = {}
    loaded: dict[Path, Any] = {}
    for sbom in sboms.values():  # the readable ones: _read_sboms named the others
        data = json.loads(sbom.path.read_bytes())
        loaded[sbom.path] = data
        documents[f"{sbom.serial}/{sbom.version}"] = (
            sbom.path,
            set(_values(data, "bom-ref")),
            sbom.file_sha256,
        )
    for path, data in loaded.items():
        for url in sorted(set(_strings(data))):
            identity, _, quoted = url[len(_BOM_LINK) :].partition("#")
            element = unquote(quoted)  # a BOM-Link's fragment is the percent-encoded bom-ref
            target = documents.get(identity)
            if target is None:
                result.problems.append(f"{path.name}: BOM-link {url} names no SBOM in {folder}")
            elif element and element not in target[1]:
                result.problems.append(
                    f"{path.name}: BOM-link {url}: {target[0].name} has no element {element}"
                )
        for reference in _external_references(data):
            url = str(reference.get("url", ""))
            target = documents.get(url[len(_BOM_LINK) :].partition("#")[0])
            pinned = {h.get("alg"): h.get("content") for h in reference.get("hashes", [])}
            if (
                url.startswith(_BOM_LINK)
                and target
                and pinned.get("SHA-256") not in (None, target[2])
            ):
                result.problems.append(
                    f"{path.name}: BOM-link {url} pins sha256 {pinned['SHA-256']}, but"
                    f" {target[0].name} has {target[2]}"
                )


def _strings(data: Any) -> Iterator[str]:
    """Every BOM-link string anywhere in a JSON document."""
    if isinstance(data, str):
        if data.startswith(_BOM_LINK):
            yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from _strings(value)
    elif isinstance(data, list):
        for item in data:
            yield from _strings(item)


def _values(data: Any, key: str) -> Iterator[str]:
    """Every value of ``key`` anywhere in a JSON document."""
    if isinstance(data, dict):
        for name, value in data.items():
            if name == key and isinstance(value, str):
                yield value
            else:
                yield from _values(value, key)
    elif isinstance(data, list):
        for item in data:
            yield from _values(item, key)


def _external_references(data: Any) -> Iterator[dict[str, Any]]:
    """Every external reference anywhere in a JSON document."""
    if isinstance(data, dict):
        for name, value in data.items():
            if name == "externalReferences" and isinstance(value, list):
                yield from (item for item in value if isinstance(item, dict))
            else:
                yield from _external_references(value)
    elif isinstance(data, list):
        for item in data:
            yield from _external_references(item)
