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

from srcstacks.state.provenance import WheelProvenance

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "urn:srcstacks:build-type:layer-archive:v1"
WHEEL_BUILD_TYPE = "urn:srcstacks:build-type:wheel:v1"
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


@dataclass(frozen=True)
class WheelBuild:
    """What the statement of one wheel built here from its sdist says."""

    record: WheelProvenance

    def statement(self) -> dict[str, Any]:
        """The in-toto Statement v1, ready for ``json.dumps``."""
        record = self.record
        environment = record.build_environment
        tools = environment.tools if environment is not None else ()
        builder = {"fromager": environment.fromager, "python": environment.python} if (
            environment is not None
        ) else {}  # fmt: skip
        dependencies = _sources(record) + [
            Subject(tool.filename, tool.sha256).descriptor(
                kind="build-tool", step=tool.requirement_type
            )
            for tool in tools
        ]
        return {
            "_type": STATEMENT_TYPE,
            "subject": [Subject(record.filename, record.sha256).descriptor()],
            "predicateType": SLSA_PROVENANCE,
            "predicate": {
                "buildDefinition": {
                    "buildType": WHEEL_BUILD_TYPE,
                    "externalParameters": {
                        "project": record.project,
                        "version": record.version,
                        "variant": record.variant,
                    },
                    "internalParameters": {
                        "build_settings_sha256": record.build_settings_sha256,
                        "compilers": list(environment.compilers) if environment else [],
                    },
                    "resolvedDependencies": dependencies,
                },
                "runDetails": {
                    "builder": {
                        "id": BUILDER_ID,
                        "version": {key: value for key, value in builder.items() if value},
                    }
                },
            },
        }

    def payload(self) -> bytes:
        """The statement as the bytes a DSSE envelope signs (sorted keys, no spaces)."""
        return json.dumps(self.statement(), sort_keys=True, separators=(",", ":")).encode()


def _sources(record: WheelProvenance) -> list[dict[str, Any]]:
    """The sdist a wheel was built from and the patches applied to it."""
    found: list[dict[str, Any]] = []
    if record.sdist is not None:
        sdist = Subject(record.sdist.filename, record.sdist.sha256).descriptor(
            kind="sdist", wheel=record.filename
        )
        found.append({**sdist, "uri": record.sdist.url})
    for patch in record.patches:
        found.append(
            Subject(patch.path, patch.sha256).descriptor(kind="patch", wheel=record.filename)
        )
    return found


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
        found.extend(_sources(record))
    for lower in lower_layers:
        found.append(lower.descriptor(kind="layer-archive"))
    return found


@dataclass(frozen=True)
class SignedLayer:
    """What an auditor reads back from a verified statement (a layer's or a wheel's)."""

    subjects: dict[str, str]  # file name -> sha256
    wheels: dict[str, str]  # a layer's: wheel file name -> sha256 (a wheel's: none)
    layer: str  # a layer's install target ("" for a wheel's statement)
    built_here: frozenset[str] = frozenset()  # a layer's wheels built from source here

    @property
    def of_a_wheel(self) -> bool:
        """True for the statement of one wheel (:class:`WheelBuild`)."""
        return not self.layer


def read_statement(payload: bytes) -> SignedLayer:
    """The subjects and wheels of a statement :class:`LayerBuild` or :class:`WheelBuild`
    wrote. Raises ``ValueError`` (or ``KeyError``/``TypeError``) on anything else."""
    data = json.loads(payload)
    if data["_type"] != STATEMENT_TYPE or data["predicateType"] != SLSA_PROVENANCE:
        raise ValueError(f"not an in-toto statement with SLSA provenance: {data['_type']}")
    definition = data["predicate"]["buildDefinition"]
    subjects = {str(item["name"]): str(item["digest"]["sha256"]) for item in data["subject"]}
    if definition["buildType"] == WHEEL_BUILD_TYPE:
        return SignedLayer(subjects=subjects, wheels={}, layer="")
    if definition["buildType"] != BUILD_TYPE:
        raise ValueError(f"build type {definition['buildType']!r}, not {BUILD_TYPE!r}")
    wheels = [
        item
        for item in definition["resolvedDependencies"]
        if item.get("annotations", {}).get("kind") == "wheel"
    ]
    return SignedLayer(
        subjects=subjects,
        wheels={str(item["name"]): str(item["digest"]["sha256"]) for item in wheels},
        layer=str(definition["externalParameters"]["layer"]),
        built_here=frozenset(
            str(item["name"])
            for item in wheels
            if item["annotations"].get("origin") == "built-from-source"
        ),
    )
