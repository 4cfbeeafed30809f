"""The provenance manifest: where each published wheel came from.

It lives beside the wheels as ``provenance.json`` and is the contract between the
publish stage (which writes it) and every later stage (lock, SBOM, verify), which trust
a wheel only if it has an entry here whose sha256 matches the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_version, parse_wheel_filename

from srcstacks.errors import ProvenanceError
from srcstacks.fsutil import dump_json, sha256_bytes, sha256_file, write_json
from srcstacks.layout import provenance_path
from srcstacks.state.archive_reader import InstalledDist
from srcstacks.state.build_record import BuildEnvironment, BuildTool, Crate
from srcstacks.state.wheel_evidence import read_evidence

if TYPE_CHECKING:
    from srcstacks.state.wheel_sbom import WheelSbom

__all__ = ["BuildEnvironment", "BuildTool"]  # re-exported: readers take them from here

FORMAT_VERSION = 1
# Where a wheel came from: built here from its sdist by Fromager, or taken as the binary
# an upstream index publishes (selective mode, docs/howto.md).
BUILT_FROM_SOURCE = "built-from-source"
UPSTREAM_BINARY = "upstream-binary"


@dataclass(frozen=True)
class PatchRecord:
    """One patch applied to the source before building."""

    path: str  # relative to the stack spec's folder
    sha256: str


@dataclass(frozen=True)
class SdistRecord:
    """The upstream source distribution a wheel was built from."""

    url: str
    filename: str
    sha256: str


@dataclass(frozen=True)
class UpstreamRecord:
    """The upstream index a binary wheel was taken from, as published there.

    Only selective mode (``[tool.srcstacks] mode = "selective"``) writes one: the wheel
    was not built here, and all srcstacks vouches for is that these are the bytes the
    index listed with this sha256.
    """

    index_url: str  # the simple index's root, e.g. https://pypi.org/simple/
    url: str  # the file's own URL, as the index listed it
    sha256: str  # the sha256 the index published for the file


@dataclass(frozen=True)
class HostRecord:
    """The machine that built a wheel: a name and the platform tag it builds for.

    Never written for a wheel built and published here by default: provenance must be
    the same bytes on every rebuild (``verify --rebuild`` compares ``provenance.json``),
    and a host name is machine-specific, maybe internal. A build host whose wheels will
    be collected elsewhere names itself with ``SRCSTACKS_BUILD_HOST`` (opt-in, then part
    of its rebuilds too); ``srcstacks collect`` records one for every wheel it brings in
    (:mod:`srcstacks.publish.collect`), so a merged wheel dir says where each came from.
    """

    name: str
    platform: str  # e.g. linux_x86_64, linux_aarch64; "any" when only pure wheels say
    # "builder": the name the build host gave itself (SRCSTACKS_BUILD_HOST); "collect":
    # none was given, and ``name`` is the wheel dir it was collected from.
    named_by: str = "builder"


@dataclass(frozen=True)
class WheelProvenance:
    """Everything recorded about how one wheel was built."""

    filename: str
    project: str
    version: str
    build_tag: str
    sha256: str
    variant: str
    # The sdist it was built from; None for an upstream binary (see ``upstream``).
    sdist: SdistRecord | None
    patches: tuple[PatchRecord, ...] = ()
    # sha256 of the Fromager build settings that were in force (from the wheel itself).
    build_settings_sha256: str = ""
    # The environment Fromager's settings put in force for the build (CFLAGS, ...).
    build_env: dict[str, str] = field(default_factory=dict)
    # Set by publish only when the wheel carries Fromager's build evidence
    # (:mod:`wheel_evidence`); a record without it claims nothing.
    built_from_source: bool = False
    # The build tools, compilers and flags the wheel was built with, as its own SBOM
    # records them (.dist-info/sboms/); None on records written before srcstacks kept it.
    build_environment: BuildEnvironment | None = None
    # The host that built it, when known (see HostRecord); omitted from JSON when None.
    host: HostRecord | None = None
    # The Rust crates compiled into it, as its own SBOM records them; omitted when none.
    crates: tuple[Crate, ...] = ()
    # Set only for a wheel taken as an upstream binary (selective mode); then ``sdist``
    # is None, ``built_from_source`` False and ``origin`` says "upstream-binary".
    upstream: UpstreamRecord | None = None

    @classmethod
    def upstream_binary(
        cls, filename: str, project: str, version: str, variant: str, upstream: UpstreamRecord
    ) -> WheelProvenance:
        """The record of a wheel taken as ``upstream`` publishes it: nothing built here."""
        return cls(
            filename=filename,
            project=project,
            version=version,
            build_tag="",
            sha256=upstream.sha256,
            variant=variant,
            sdist=None,
            upstream=upstream,
        )

    @property
    def origin(self) -> str:
        """``built-from-source`` or ``upstream-binary``."""
        return UPSTREAM_BINARY if self.upstream is not None else BUILT_FROM_SOURCE

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WheelProvenance:
        """Rebuild a record from its JSON form."""
        values = dict(data)
        upstream = values.get("upstream")
        implied = UPSTREAM_BINARY if upstream is not None else BUILT_FROM_SOURCE
        # ``origin`` may be left out (``asdict`` forms, as some state files and index
        # companions are written); when given it must agree with ``upstream``.
        origin = values.pop("origin", implied)
        values["upstream"] = None if upstream is None else UpstreamRecord(**upstream)
        if origin != implied:
            raise ValueError(f"origin {origin!r} does not match the record's upstream entry")
        sdist = values["sdist"]
        if sdist is None and upstream is None:
            raise ValueError("a record built from source needs its sdist")
        values["sdist"] = None if sdist is None else SdistRecord(**sdist)
        values["patches"] = tuple(PatchRecord(**patch) for patch in values.get("patches", ()))
        environment = values.get("build_environment")
        values["build_environment"] = (
            None if environment is None else BuildEnvironment.from_dict(environment)
        )
        host = values.get("host")
        values["host"] = None if host is None else HostRecord(**host)
        values["crates"] = tuple(Crate.from_dict(crate) for crate in values.get("crates", ()))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; ``build_environment`` only when there is one."""
        data = asdict(self)
        if self.build_environment is None:
            del data["build_environment"]
        else:
            data["build_environment"] = self.build_environment.to_dict()
        if self.host is None:
            del data["host"]  # records without a host keep the bytes they always had
        if self.crates:
            data["crates"] = [crate.to_dict() for crate in self.crates]
        else:
            del data["crates"]
        if self.upstream is None:
            del data["upstream"]  # records built from source keep the bytes they always had
        else:
            data["origin"] = UPSTREAM_BINARY
        return data


@dataclass(frozen=True)
class Manifest:
    """All provenance records of one wheel directory, keyed by wheel file name."""

    wheels: dict[str, WheelProvenance]

    def records_for(self, project: str, version: str) -> list[WheelProvenance]:
        """Every record of ``project`` (canonical name) at ``version``: one per build."""
        wanted = canonicalize_version(version)
        return [
            record
            for record in self.wheels.values()
            if record.project == project and canonicalize_version(record.version) == wanted
        ]

    def installed_from(self, dist: InstalledDist) -> WheelProvenance | None:
        """The record of the wheel ``dist`` was installed from, or None if there is none.

        Several builds of one version (build tags, platform tags) are told apart by the
        ``Build`` and ``Tag`` lines of the installed ``WHEEL`` file.
        """
        candidates = self.records_for(dist.name, dist.version)
        if len(candidates) > 1:
            wheel_lines = dist.files.get("WHEEL", "").splitlines()
            build = next(
                (line[6:].strip() for line in wheel_lines if line.startswith("Build:")), ""
            )
            tags = {line[4:].strip() for line in wheel_lines if line.startswith("Tag:")}
            candidates = [
                record
                for record in candidates
                if record.build_tag == build
                and {str(tag) for tag in parse_wheel_filename(record.filename)[3]} == tags
            ]
        return candidates[0] if len(candidates) == 1 else None

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to ``provenance.json``."""
        return {
            "format": FORMAT_VERSION,
            "wheels": {name: record.to_dict() for name, record in sorted(self.wheels.items())},
        }


def records_digest(manifest: Manifest, names: Iterable[str] | None = None) -> str:
    """sha256 of the records of ``names`` (all when None), as ``provenance.json`` writes them.

    This pins one stack's provenance in ``build.json`` and every SBOM: a wheel dir
    shared with other stacks changes ``provenance.json`` whenever they publish, but the
    records of this stack's wheels change only when this stack publishes again.
    """
    wanted = set(manifest.wheels) if names is None else set(names)
    subset = Manifest({name: record for name, record in manifest.wheels.items() if name in wanted})
    # A name without a record must change the digest too.
    missing = sorted(wanted - set(manifest.wheels))
    data = subset.to_json() | ({"missing": missing} if missing else {})
    return sha256_bytes(dump_json(data).encode("utf-8"))


def manifest_path(wheel_dir: Path) -> Path:
    """Where the manifest of ``wheel_dir`` lives."""
    return provenance_path(wheel_dir)


def write_manifest(wheel_dir: Path, manifest: Manifest) -> None:
    """Write the manifest atomically."""
    write_json(manifest_path(wheel_dir), manifest.to_json())


def read_manifest_or_empty(wheel_dir: Path) -> Manifest:
    """The manifest of ``wheel_dir``, or an empty one if it has none yet."""
    if not manifest_path(wheel_dir).exists():
        return Manifest({})
    return read_manifest(wheel_dir)


def read_manifest(wheel_dir: Path) -> Manifest:
    """Read the manifest of ``wheel_dir``; a missing or unreadable one is an error."""
    path = manifest_path(wheel_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProvenanceError(
            f"{path}: no provenance manifest (run 'srcstacks publish-wheels' first)"
        ) from None
    except (OSError, ValueError) as exc:
        raise ProvenanceError(f"{path}: unreadable provenance manifest: {exc}") from None
    if not isinstance(data, dict):
        raise ProvenanceError(f"{path}: not a provenance manifest (a JSON object is expected)")
    if data.get("format") != FORMAT_VERSION:
        raise ProvenanceError(f"{path}: unsupported manifest format {data.get('format')!r}")
    try:
        wheels = {
            str(name): WheelProvenance.from_dict(record) for name, record in data["wheels"].items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProvenanceError(f"{path}: malformed provenance entry: {exc}") from None
    return Manifest(wheels)


def check_wheel_dir(wheel_dir: Path) -> Manifest:
    """Check every wheel in ``wheel_dir`` against the manifest; return the manifest.

    Raises :class:`ProvenanceError` listing every wheel without an entry, with a hash
    that differs from its entry or without the build evidence its entry claims
    (:func:`evidence_problems`), and every entry whose wheel is missing.
    """
    manifest = read_manifest(wheel_dir)
    found = wheel_dir_problems(wheel_dir, manifest)
    problems = [
        f"{name} {problem}"
        if problem.startswith(("has ", "does ", "is "))
        else f"{name}: {problem}"
        for name, listed in sorted(found.items())
        for problem in listed
    ]
    if problems:
        raise ProvenanceError(
            f"{wheel_dir}: {len(found)} wheel(s) fail the provenance check: " + "; ".join(problems)
        )
    return manifest


def describe_wheel_problem(name: str, problem: str) -> str:
    """``<wheel> has no provenance entry``, ``<wheel>: no Fromager build metadata ...``."""
    if problem.startswith(("has ", "does ", "is ")):
        return f"{name} {problem}"
    return f"{name}: {problem}"


def wheel_dir_problems(wheel_dir: Path, manifest: Manifest) -> dict[str, list[str]]:
    """What is wrong with each wheel of ``wheel_dir`` (or recorded for it), by file name."""
    problems: dict[str, list[str]] = {}
    present = {path.name: path for path in wheel_dir.glob("*.whl")}
    for name, path in sorted(present.items()):
        record = manifest.wheels.get(name)
        if record is None:
            problems[name] = ["has no provenance entry"]
        elif sha256_file(path) != record.sha256:
            problems[name] = ["does not match the sha256 recorded for it"]
        elif found := evidence_problems(path, record) + build_tool_problems(record, manifest):
            problems[name] = found
    for name in sorted(set(manifest.wheels) - set(present)):
        problems[name] = ["is recorded but missing"]
    return problems


def evidence_problems(wheel: Path, record: WheelProvenance) -> list[str]:
    """Where ``wheel`` contradicts its provenance record or lacks Fromager's evidence."""
    if record.upstream is not None:
        # Not built here, so no build evidence to check: the bytes are the index's own.
        if record.upstream.sha256 != record.sha256:
            return ["its sha256 differs from the one its upstream index published"]
        return []
    evidence = read_evidence(wheel)
    problems = list(evidence.problems)
    if not record.built_from_source:
        problems.append("its provenance does not record it as built from source")
    if (
        evidence.build_settings_sha256 is not None
        and evidence.build_settings_sha256 != record.build_settings_sha256
    ):
        problems.append("its fromager-build-settings differ from the provenance's sha256")
    if evidence.sbom is not None and evidence.sbom.environment != record.build_environment:
        problems.append(
            "its SBOM's build environment (tools, compilers, flags) differs from its provenance's"
            if record.build_environment is not None
            else "its provenance records no build environment (publish it again)"
        )
    if evidence.sbom is not None and evidence.sbom.crates != record.crates:
        problems.append("its SBOM's Rust crates differ from its provenance's")
    if evidence.sbom is not None:
        problems.extend(_source_contradictions(evidence.sbom, record))
    return problems


def _source_contradictions(sbom: WheelSbom, record: WheelProvenance) -> list[str]:
    """Where the record's variant, sdist or patches say otherwise than the SBOM the wheel
    carries of itself (written inside Fromager as it was built)."""
    problems = []
    if sbom.variant != record.variant:
        problems.append(f"its SBOM says variant {sbom.variant}, its provenance {record.variant}")
    sdist = record.sdist
    if sdist is not None and sbom.sdist_filename:
        if (sdist.filename, sdist.sha256) != (sbom.sdist_filename, sbom.sdist_sha256):
            problems.append(
                f"its SBOM says it was built from {sbom.sdist_filename} (sha256"
                f" {sbom.sdist_sha256[:12]}...), its provenance {sdist.filename or '-'}"
                f" (sha256 {sdist.sha256[:12] or '-'}...)"
            )
        elif unquote(urlsplit(sdist.url).path).rsplit("/", 1)[-1] != sdist.filename:
            problems.append(f"its provenance's sdist URL {sdist.url} is not of {sdist.filename}")
    applied = sorted((Path(name).name, sha256) for name, sha256 in sbom.patches)
    recorded = sorted((Path(patch.path).name, patch.sha256) for patch in record.patches)
    if applied != recorded:
        problems.append(
            f"its SBOM names {len(applied)} patch(es) applied ("
            + (", ".join(name for name, _ in applied) or "none")
            + f"), its provenance {len(recorded)} ("
            + (", ".join(name for name, _ in recorded) or "none")
            + ") or other contents"
        )
    return problems


def build_tool_problems(record: WheelProvenance, manifest: Manifest) -> list[str]:
    """Each build tool of ``record`` is a wheel of the manifest, with the same sha256."""
    problems = []
    for tool in record.build_environment.tools if record.build_environment else ():
        published = manifest.wheels.get(tool.filename)
        if published is None:
            problems.append(f"its build tool {tool.filename} has no provenance entry")
        elif published.sha256 != tool.sha256:
            problems.append(
                f"its build tool {tool.filename} had sha256 {tool.sha256[:12]}..., the"
                f" published one has {published.sha256[:12]}..."
            )
    return problems
