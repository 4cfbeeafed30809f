"""The SBOM each wheel carries inside itself (PEP 770): ``.dist-info/sboms/<name>.cdx.json``.

Written by :mod:`srcstacks.tools.fromager_main` into the unpacked wheel before Fromager
packs it (so the wheel's ``RECORD`` lists it); read back by publish (into
``provenance.json``) and by verify (:mod:`srcstacks.state.wheel_evidence`). A CycloneDX 1.6
document: the wheel's own component (name, version, purl, the sdist it was built from
with its SHA-256, the patches applied with their text), for a Rust extension the crates
compiled into it, nested in that component with their dependency edges
(:mod:`srcstacks.state.sbom_crates`), and its ``formulation``
(:mod:`srcstacks.state.sbom_formulation`: the build tools, compilers and flags).

The same build gives the same bytes, wherever it ran (serial, ``--jobs N``, a Dask
worker, a ``verify --rebuild``): no machine path, no clock but ``SOURCE_DATE_EPOCH``,
no URL of the index the sources came from (a loopback index has a new port each run),
sorted lists, and a serial number derived from the content.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from packaging.utils import canonicalize_name

from srcstacks.state.build_record import BuildEnvironment, Crate
from srcstacks.state.sbom_crates import crate_components, crate_dependencies, crates_of
from srcstacks.state.sbom_formulation import environment_of, formula
from srcstacks.state.sbom_identity import content_serial
from srcstacks.state.wheel_about import Party, Vendored, WheelAbout

SBOM_FOLDER = "sboms"
# uuid5 namespace of the serial numbers of per-wheel SBOMs.
SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "srcstacks:wheel-sbom")
NS = "srcstacks"


class WheelSbomError(ValueError):
    """A per-wheel SBOM that is not one srcstacks wrote, or was edited since."""


def sbom_member(dist_info: str, project: str) -> str:
    """The SBOM's path inside the wheel: ``<dist-info>/sboms/<project>.cdx.json``."""
    return f"{dist_info}/{SBOM_FOLDER}/{project}.cdx.json"


def carries_own_sbom(wheel: Path, project: str) -> bool:
    """Whether ``wheel`` holds an SBOM of its own at all (a wheel built by a srcstacks
    from before per-wheel SBOMs does not); a broken zip counts as none."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            return bool(_own_members(archive, project))
    except (OSError, zipfile.BadZipFile):
        return False


def own_sbom(wheel: Path, project: str) -> WheelSbom | None:
    """The SBOM ``wheel`` carries of itself, read back; None when it has none, or a
    broken one (verify and publish say which)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = _own_members(archive, project)
            return parse(archive.read(members[0])) if len(members) == 1 else None
    except (OSError, zipfile.BadZipFile, WheelSbomError):
        return None


def _own_members(archive: zipfile.ZipFile, project: str) -> list[str]:
    """The members of ``archive`` at ``<dist-info>/sboms/<project>.cdx.json``."""
    suffix = "/" + sbom_member("", canonicalize_name(project)).lstrip("/")
    return [
        name
        for name in archive.namelist()
        if name.endswith(suffix) and name.count("/") == 2 and ".dist-info/" in name
    ]


@dataclass(frozen=True)
class WheelSbom:
    """What one wheel's own SBOM says."""

    project: str  # canonical name
    version: str
    variant: str
    sdist_filename: str  # "" when the source was not a file Fromager downloaded
    sdist_sha256: str
    patches: tuple[tuple[str, str], ...]  # (path inside the patches folder, sha256 of its text)
    environment: BuildEnvironment
    crates: tuple[Crate, ...] = ()  # the Rust crates compiled into it, sorted
    # What its own metadata says (supplier, licence, requirements, vendored code); only
    # written, never read back (None from :func:`parse`).
    about: WheelAbout | None = None


@dataclass(frozen=True)
class Patch:
    name: str  # path inside the stack's patches folder
    text: bytes


def render(
    sbom: WheelSbom, patch_texts: tuple[Patch, ...], fromager_version: str, epoch: int
) -> bytes:
    """The SBOM's bytes. ``sbom.patches`` is ignored: the hashes come from ``patch_texts``."""
    subject = f"pkg:pypi/{sbom.project}@{quote(sbom.version, safe='.+!')}"
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": subject,
        "name": sbom.project,
        "version": sbom.version,
        "purl": subject,
    }
    pedigree: dict[str, Any] = {}
    if sbom.sdist_filename:
        sdist_purl = f"{subject}?file_name={quote(sbom.sdist_filename)}"
        pedigree["ancestors"] = [{
            "type": "library", "bom-ref": sdist_purl, "name": sbom.project,
            "version": sbom.version, "purl": sdist_purl,
            "hashes": [{"alg": "SHA-256", "content": sbom.sdist_sha256}],
        }]  # fmt: skip
    if patch_texts:
        pedigree["patches"] = [_patch(patch) for patch in sorted(patch_texts, key=_name)]
    count = f"{len(patch_texts)} patch(es) applied" if patch_texts else "no patches"
    pedigree["notes"] = f"Built from the sdist by Fromager (variant {sbom.variant}); {count}."
    component["pedigree"] = pedigree
    component["properties"] = [{"name": f"{NS}:variant", "value": sbom.variant}]
    about = sbom.about
    if about is not None:
        component.update(_about_fields(about))
        component["properties"] += [
            {"name": f"{NS}:requires_dist", "value": line} for line in about.requires
        ]
    vendored = [_vendored(subject, item) for item in (about.vendored if about else ())]
    if sbom.crates or vendored:
        component["components"] = [*crate_components(subject, sbom.crates), *vendored]
    fromager = {"type": "application", "name": "fromager", "version": fromager_version}
    document: dict[str, Any] = {
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "timestamp": datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "lifecycles": [{"phase": "build"}],
            "tools": {"components": [fromager]},
            # The SBOM data's author: srcstacks wrote it, inside Fromager, as it built.
            "authors": [{"name": "srcstacks"}],
            "component": component,
            "properties": [{"name": f"{NS}:timestamp", "value": _TIMESTAMP_IS}],
        },
        "formulation": [formula(subject, f"{sbom.project} {sbom.version}", sbom.environment)],
    }
    document["dependencies"] = _dependencies(subject, sbom.crates, vendored)
    document = {"serialNumber": serial_of(document), **document}
    document = {key: document[key] for key in _ORDER if key in document}
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


_ORDER = ("$schema", "bomFormat", "specVersion", "serialNumber", "version", "metadata",
          "dependencies", "formulation")  # fmt: skip


_TIMESTAMP_IS = (
    "SOURCE_DATE_EPOCH of the build (reproducible; 1980-01-01 when unset), not the clock"
)


def _about_fields(about: WheelAbout) -> dict[str, Any]:
    """The wheel component's supplier (its authors, else maintainers) and licence, as its
    METADATA declares them."""
    fields: dict[str, Any] = {}
    if about.supplier is not None:
        fields["supplier"] = _party(about.supplier)
    if about.license_expression:
        fields["licenses"] = [
            {"expression": about.license_expression, "acknowledgement": "declared"}
        ]
    return fields


def _party(party: Party) -> dict[str, Any]:
    found: dict[str, Any] = {"name": party.name}
    if party.urls:
        found["url"] = list(party.urls)
    if party.emails:
        found["contact"] = [{"email": email} for email in party.emails]
    return found


def _vendored(subject: str, vendored: Vendored) -> dict[str, Any]:
    """A distribution the wheel carries inside itself, nested in its component."""
    purl = f"pkg:pypi/{vendored.name}@{quote(vendored.version, safe='.+!')}"
    return {
        "type": "library",
        "bom-ref": f"{subject}|vendored:{purl}",
        "name": vendored.name,
        "version": vendored.version,
        "purl": purl,
        **({"supplier": _party(vendored.supplier)} if vendored.supplier else {}),
        "properties": [{"name": f"{NS}:vendored_at", "value": vendored.path}],
    }


def _dependencies(
    subject: str, crates: tuple[Crate, ...], vendored: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The wheel's entry (the crates its code asks for, the distributions it vendors) and
    each crate's; a vendored distribution's own are not known here (no entry)."""
    entries = crate_dependencies(subject, crates) or [{"ref": subject, "dependsOn": []}]
    owner = entries[0]
    owner["dependsOn"] = sorted([*owner["dependsOn"], *(item["bom-ref"] for item in vendored)])
    if not owner["dependsOn"]:
        del owner["dependsOn"]
    return entries


def _name(patch: Patch) -> str:
    return patch.name


def _patch(patch: Patch) -> dict[str, Any]:
    try:
        text = {"content": patch.text.decode("utf-8"), "contentType": "text/x-diff"}
    except UnicodeDecodeError:
        text = {"content": base64.b64encode(patch.text).decode("ascii"),
                "contentType": "text/x-diff", "encoding": "base64"}  # fmt: skip
    return {"type": "unofficial", "diff": {"text": text, "url": patch.name}}


def serial_of(document: dict[str, Any]) -> str:
    """``urn:uuid:`` uuid5 of the document's content without its serial number."""
    return content_serial(document, SERIAL_NAMESPACE)


def parse(data: bytes) -> WheelSbom:
    """Read an SBOM :func:`render` wrote; :class:`WheelSbomError` says what is wrong."""
    try:
        document = json.loads(data)
        if document.get("serialNumber") != serial_of(document):
            raise WheelSbomError("its serial number does not match its content (edited?)")
        component = document["metadata"]["component"]
        pedigree = component.get("pedigree", {})
        ancestors = pedigree.get("ancestors", [])
        sdist = ancestors[0] if ancestors else {}
        variant = {p["name"]: p["value"] for p in component.get("properties", [])}[f"{NS}:variant"]
        (found,) = document["formulation"]
        return WheelSbom(
            project=component["name"],
            version=component["version"],
            variant=variant,
            sdist_filename=_file_name(sdist.get("purl", "")),
            sdist_sha256=next((h["content"] for h in sdist.get("hashes", [])), ""),
            patches=tuple(_patch_digest(patch) for patch in pedigree.get("patches", [])),
            environment=environment_of(found),
            crates=crates_of(component, document.get("dependencies", [])),
        )
    except WheelSbomError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise WheelSbomError(f"not an SBOM srcstacks wrote ({type(exc).__name__}: {exc})") from None


def _file_name(purl: str) -> str:
    return unquote(purl.split("?file_name=", 1)[1]) if "?file_name=" in purl else ""


def _patch_digest(patch: dict[str, Any]) -> tuple[str, str]:
    text = patch["diff"]["text"]
    content = text["content"]
    data = base64.b64decode(content) if text.get("encoding") == "base64" else content.encode()
    return str(patch["diff"]["url"]), hashlib.sha256(data).hexdigest()
