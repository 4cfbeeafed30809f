"""The in-toto Statement v1 of one layer archive, with a SLSA Provenance v1 predicate.

Pure: builds and reads JSON-ready dicts, touches no file. The statement's subjects are
the archive and its SBOM (by file name and sha256), so one signature binds both: the
SBOM is signed *detached*, and stays byte for byte the document every CycloneDX tool
reads (an embedded JSF signature would change the document it signs and needs JSON
canonicalisation to check). The predicate's resolved dependencies are everything the
archive was made from that srcstacks can name by digest: each wheel, the sdist and
patches each was built from, and the archives of the layers below. Nothing in it
depends on the time or the machine, so the same build signs to the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from srcstacks.provenance import WheelProvenance

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "urn:srcstacks:build-type:layer-archive:v1"
BUILDER_ID = "urn:srcstacks:builder"


@dataclass(frozen=True)
class Subject:
    """A file named by its name and sha256."""

    name: str
    sha256: str

    def descriptor(self, **annotations: str) -> dict[str, Any]:
        """The file as an in-toto resource descriptor."""
        found: dict[str, Any] = {"name": self.name, "digest": {"sha256": self.sha256}}
        if annotations:
            found["annotations"] = dict(sorted(annotations.items()))
        return found


@dataclass(frozen=True)
class LayerBuild:
    """What one layer archive's statement says."""

    archive: Subject
    sbom: Subject
    layer: str  # install target: "app-greeter", "framework-x@2"
    kind: str  # runtime, framework, application
    variant: str
    mode: str  # full, selective
    wheels: tuple[WheelProvenance, ...]
    lower_layers: tuple[Subject, ...]
    tools: Mapping[str, str]  # srcstacks, fromager, venvstacks, uv versions

    def statement(self) -> dict[str, Any]:
        """The in-toto Statement v1, ready for ``json.dumps``."""
        return {
            "_type": STATEMENT_TYPE,
            "subject": [self.archive.descriptor(), self.sbom.descriptor()],
            "predicateType": SLSA_PROVENANCE,
            "predicate": {
                "buildDefinition": {
                    "buildType": BUILD_TYPE,
                    "externalParameters": {
                        "layer": self.layer,
                        "kind": self.kind,
                        "variant": self.variant,
                        "mode": self.mode,
                    },
                    "resolvedDependencies": _dependencies(self.wheels, self.lower_layers),
                },
                "runDetails": {
                    "builder": {"id": BUILDER_ID, "version": dict(sorted(self.tools.items()))}
                },
            },
        }

    def payload(self) -> bytes:
        """The statement as the bytes a DSSE envelope signs (sorted keys, no spaces)."""
        return json.dumps(self.statement(), sort_keys=True, separators=(",", ":")).encode()


def _dependencies(
    wheels: Sequence[WheelProvenance], lower_layers: Sequence[Subject]
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for record in sorted(wheels, key=lambda item: item.filename):
        origin = "upstream-binary" if record.upstream is not None else (
            "built-from-source" if record.built_from_source else "no-build-evidence"
        )  # fmt: skip
        found.append(
            Subject(record.filename, record.sha256).descriptor(
                kind="wheel", project=record.project, version=record.version, origin=origin
            )
        )
        if record.sdist is not None:
            sdist = Subject(record.sdist.filename, record.sdist.sha256).descriptor(
                kind="sdist", wheel=record.filename
            )
            found.append({**sdist, "uri": record.sdist.url})
        for patch in record.patches:
            found.append(
                Subject(patch.path, patch.sha256).descriptor(kind="patch", wheel=record.filename)
            )
    for lower in lower_layers:
        found.append(lower.descriptor(kind="layer-archive"))
    return found


@dataclass(frozen=True)
class SignedLayer:
    """What an auditor reads back from a verified statement."""

    subjects: dict[str, str]  # file name -> sha256
    wheels: dict[str, str]  # wheel file name -> sha256
    layer: str


def read_statement(payload: bytes) -> SignedLayer:
    """The subjects and wheels of a statement :class:`LayerBuild` wrote.

    Raises ``ValueError`` (or ``KeyError``/``TypeError``) on anything else.
    """
    data = json.loads(payload)
    if data["_type"] != STATEMENT_TYPE or data["predicateType"] != SLSA_PROVENANCE:
        raise ValueError(f"not an in-toto statement with SLSA provenance: {data['_type']}")
    definition = data["predicate"]["buildDefinition"]
    if definition["buildType"] != BUILD_TYPE:
        raise ValueError(f"build type {definition['buildType']!r}, not {BUILD_TYPE!r}")
    return SignedLayer(
        subjects={str(item["name"]): str(item["digest"]["sha256"]) for item in data["subject"]},
        wheels={
            str(item["name"]): str(item["digest"]["sha256"])
            for item in definition["resolvedDependencies"]
            if item.get("annotations", {}).get("kind") == "wheel"
        },
        layer=str(definition["externalParameters"]["layer"]),
    )
