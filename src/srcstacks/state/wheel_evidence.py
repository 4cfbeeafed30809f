"""What a wheel file itself says about how it was built: its build evidence.

Reads one ``.whl`` (nothing is written). A wheel Fromager built from an sdist carries:

- Fromager's build metadata in its ``.dist-info`` (``fromager-build-settings`` and the
  ``fromager-build-*-requirements.txt`` files), listed in its ``RECORD``;
- a ``WHEEL`` file whose ``Tag`` lines and ``Build`` line agree with the file name;
- a ``RECORD`` that lists every file of the wheel with its hash;
- its own SBOM, ``.dist-info/sboms/<name>.cdx.json`` (PEP 770, :mod:`wheel_sbom`),
  unedited (its serial number is derived from its content), naming this wheel, the
  compilers its ELF files name and a build tool for every build requirement Fromager
  recorded in the wheel.

A public binary copied over a published wheel under the published name (the hole a
provenance check by hash alone leaves open once the hash is edited too) fails these:
no Fromager metadata, tags that disagree with the file name. Publish records
``built_from_source`` only for a wheel with this evidence; verify checks it again.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from installer.records import InvalidRecordEntry, RecordEntry, parse_record_file
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from srcstacks.fsutil import sha256_bytes
from srcstacks.state.build_record import REQUIREMENT_TYPES
from srcstacks.state.dist_info import read_wheel_info
from srcstacks.state.elf import read_compilers
from srcstacks.state.wheel_sbom import WheelSbom, WheelSbomError, parse, sbom_member

# Written by Fromager into every wheel it builds (fromager.wheels.add_extra_metadata_to_wheels).
FROMAGER_FILES = (
    "fromager-build-settings",
    "fromager-build-system-requirements.txt",
    "fromager-build-backend-requirements.txt",
    "fromager-build-sdist-requirements.txt",
)


@dataclass(frozen=True)
class WheelEvidence:
    """The build evidence found in one wheel, and what is missing or contradicts it."""

    filename: str
    problems: tuple[str, ...]
    build_settings_sha256: str | None  # of fromager-build-settings, when present
    sbom: WheelSbom | None = None  # the wheel's own SBOM, when present and readable

    @property
    def built_from_source(self) -> bool:
        """True when the wheel carries Fromager's evidence and agrees with its file name."""
        return not self.problems


def read_evidence(wheel: Path) -> WheelEvidence:
    """Read ``wheel`` and judge its build evidence."""
    try:
        project, version, build_tag, tags = parse_wheel_filename(wheel.name)
    except InvalidWheelFilename as exc:
        return WheelEvidence(wheel.name, (f"not a wheel file name: {exc}",), None)
    try:
        with zipfile.ZipFile(wheel) as archive:
            files = {info.filename: archive.read(info) for info in archive.infolist()
                     if not info.is_dir()}  # fmt: skip
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        return WheelEvidence(wheel.name, (f"not a readable wheel: {exc}",), None)
    dist_info = _dist_info(files)
    if dist_info is None:
        return WheelEvidence(wheel.name, ("no single top-level .dist-info folder",), None)
    problems: list[str] = []
    wheel_info = read_wheel_info(
        files.get(f"{dist_info}/WHEEL", b"").decode("utf-8", errors="replace")
    )
    found_tags = wheel_info.tags
    named_tags = {str(tag) for tag in tags}
    if found_tags != named_tags:
        problems.append(
            f"WHEEL tags {', '.join(sorted(found_tags)) or 'none'} disagree with the file"
            f" name's {', '.join(sorted(named_tags))}"
        )
    found_build = wheel_info.build
    named_build = "".join(str(part) for part in build_tag)
    if found_build != named_build:
        problems.append(
            f"WHEEL build tag {found_build or 'none'!r} disagrees with the file name's"
            f" {named_build or 'none'!r}"
        )
    missing = [name for name in FROMAGER_FILES if f"{dist_info}/{name}" not in files]
    if missing:
        problems.append(f"no Fromager build metadata ({', '.join(missing)} missing)")
    problems.extend(_record_problems(files, dist_info))
    sbom, sbom_problems = _read_sbom(files, dist_info, project, str(version))
    problems.extend(sbom_problems)
    settings = files.get(f"{dist_info}/fromager-build-settings")
    digest = sha256_bytes(settings) if settings is not None else None
    return WheelEvidence(wheel.name, tuple(problems), digest, sbom)


def _read_sbom(
    files: dict[str, bytes], dist_info: str, project: str, version: str
) -> tuple[WheelSbom | None, list[str]]:
    """The wheel's own SBOM, and where it is missing, edited or contradicts the wheel."""
    member = sbom_member(dist_info, canonicalize_name(project))
    if member not in files:
        return None, [f"no SBOM of its own ({member} missing)"]
    try:
        sbom = parse(files[member])
    except WheelSbomError as exc:
        return None, [f"its SBOM {member}: {exc}"]
    problems = []
    if (sbom.project, sbom.version) != (project, version):
        problems.append(f"its SBOM describes {sbom.project} {sbom.version}, not this wheel")
    compilers = tuple(sorted({text for data in files.values() for text in read_compilers(data)}))
    if compilers != sbom.environment.compilers:
        problems.append(
            f"its SBOM names the compilers {list(sbom.environment.compilers)}, its ELF files"
            f" {list(compilers)}"
        )
    problems.extend(_unrecorded_requirements(files, dist_info, sbom))
    return sbom, problems


def _unrecorded_requirements(files: dict[str, bytes], dist_info: str, sbom: WheelSbom) -> list[str]:
    """Each build requirement Fromager wrote into the wheel is met by a tool in its SBOM.

    A tool is installed once but may be asked for by several steps (trove-classifiers
    lists ``calver`` as a build-system and a build-backend requirement); the SBOM names
    each tool under the first step that needed it, so any tool of that name may meet the
    requirement, whichever step it is filed under.
    """
    tools = {tool.name: tool for tool in sbom.environment.tools}
    problems = []
    for step in REQUIREMENT_TYPES:
        text = files.get(f"{dist_info}/fromager-{step}-requirements.txt", b"").decode(
            "utf-8", errors="replace"
        )
        for line in filter(None, (line.strip() for line in text.splitlines())):
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                problems.append(f"its fromager-{step}-requirements.txt has {line!r}")
                continue
            tool = tools.get(canonicalize_name(requirement.name))
            if tool is None or not requirement.specifier.contains(tool.version, prereleases=True):
                problems.append(
                    f"its SBOM names no build tool meeting {line!r}"
                    f" (from its fromager-{step}-requirements.txt)"
                )
    return problems


def _dist_info(files: dict[str, bytes]) -> str | None:
    folders = {name.split("/", 1)[0] for name in files if name.count("/") == 1}
    found = [folder for folder in folders if folder.endswith(".dist-info")]
    return found[0] if len(found) == 1 else None


def _record_problems(files: dict[str, bytes], dist_info: str) -> list[str]:
    """Every file is in RECORD with its hash, and every hashed RECORD entry is a file."""
    record_name = f"{dist_info}/RECORD"
    if record_name not in files:
        return ["no RECORD"]
    try:
        rows = parse_record_file(files[record_name].decode("utf-8", errors="replace").splitlines())
        entries = [RecordEntry.from_elements(*row) for row in rows]
    except InvalidRecordEntry as exc:
        return [f"a malformed RECORD ({'; '.join(exc.issues)})"]
    record = {entry.path: entry for entry in entries if entry.hash_ is not None}
    unlisted = sorted(set(files) - set(record) - {record_name})
    differing = sorted(
        name for name, entry in record.items()
        if name in files and not entry.validate(files[name])
    )  # fmt: skip
    absent = sorted(name for name in record if name not in files)
    problems = []
    for label, names in (("not in RECORD", unlisted), ("differ from RECORD", differing),
                         ("in RECORD but missing", absent)):  # fmt: skip
        if names:
            problems.append(f"files {label}: {', '.join(names[:5])}")
    return problems
