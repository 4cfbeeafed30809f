"""``srcstacks verify``: check that a finished build is what its records say it is.

Reads the wheel dir and its provenance, the published archives and venvstacks'
metadata. Reports every mismatch it finds (it does not stop at the first):

- a wheel in the wheel dir without provenance, or with a different hash;
- an archive whose sha256 differs from venvstacks' metadata;
- a distribution in an archive that is not a published wheel with provenance;
- an installed file whose content differs from the wheel it was installed from;
- an archive without its SBOM, or whose SBOM is incomplete, names another sha256, or
  gives a distribution a wheel hash other than its provenance's (see ``sbom check``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from srcstacks.archive_reader import ArchiveContents, read_archive, wheel_record
from srcstacks.config import StackConfig
from srcstacks.errors import ProvenanceError
from srcstacks.layout import Layout, sbom_path
from srcstacks.provenance import Manifest, WheelProvenance, check_wheel_dir, read_manifest
from srcstacks.sbom.check import check_document
from srcstacks.stages.archives import published_layers

Report = Callable[[str], None]


@dataclass
class Verification:
    """What verify looked at and what it found wrong."""

    problems: list[str] = field(default_factory=list)
    archives: int = 0
    distributions: int = 0
    wheels: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


def verify_build(config: StackConfig, report: Report = print) -> Verification:
    """Check the wheel dir, every archive and every distribution in it."""
    result = Verification()
    manifest = _checked_manifest(config, result)
    result.wheels = len(manifest.wheels)
    records: dict[str, dict[str, str]] = {}
    layout = Layout.of(config)
    for layer in published_layers(config.output_dir):
        archive = layout.archive(layer.archive_name)
        if not archive.is_file():
            result.problems.append(f"{archive}: archive listed by venvstacks is missing")
            continue
        result.archives += 1
        contents = read_archive(archive)
        if contents.sha256 != layer.archive_sha256:
            result.problems.append(
                f"{archive.name}: sha256 differs from venvstacks' metadata"
                " (the archive was changed)"
            )
        _check_sbom(contents, manifest, result)
        for dist in contents.dists:
            result.distributions += 1
            record = manifest.installed_from(dist)
            if record is None:
                result.problems.append(
                    f"{archive.name}: {dist.name} {dist.version} is not a published wheel"
                    " with provenance"
                )
                continue
            wheel = layout.wheel(record.filename)
            if record.filename not in records:
                records[record.filename] = wheel_record(wheel) if wheel.is_file() else {}
            _compare_files(archive, contents, record, records[record.filename], result)
    report(
        f"checked {result.wheels} wheel(s), {result.archives} archive(s),"
        f" {result.distributions} installed distribution(s): {len(result.problems)} problem(s)"
    )
    return result


def _checked_manifest(config: StackConfig, result: Verification) -> Manifest:
    try:
        return check_wheel_dir(config.wheel_dir)
    except ProvenanceError as exc:
        result.problems.append(str(exc))
    try:
        return read_manifest(config.wheel_dir)
    except ProvenanceError:
        return Manifest({})


def _check_sbom(contents: ArchiveContents, manifest: Manifest, result: Verification) -> None:
    sbom = sbom_path(contents.archive)
    if not sbom.is_file():
        result.problems.append(f"{contents.archive.name}: no SBOM beside it (run 'srcstacks sbom')")
        return
    checked = check_document(sbom, contents)
    result.problems.extend(f"{sbom.name}: {problem}" for problem in checked.problems)
    for component in (checked.document or {}).get("components", []):
        if component.get("type") != "library":
            continue
        name, version = canonicalize_name(component["name"]), component["version"]
        records = manifest.records_for(name, version)
        hashes = {item["alg"]: item["content"] for item in component.get("hashes", [])}
        if records and hashes.get("SHA-256") not in {record.sha256 for record in records}:
            result.problems.append(
                f"{sbom.name}: {name} {version} has a wheel sha256 other than its provenance's"
            )


def _compare_files(
    archive: Path,
    contents: ArchiveContents,
    record: WheelProvenance,
    expected: dict[str, str],
    result: Verification,
) -> None:
    if not expected:
        result.problems.append(f"{archive.name}: {record.filename} is missing from the wheel dir")
        return
    for path, digest in sorted(expected.items()):
        if ".dist-info/" in path:
            continue  # installers rewrite RECORD and add INSTALLER and friends
        found = contents.digests.get(path)
        if found is None:
            result.problems.append(f"{archive.name}: {path} from {record.filename} is missing")
        elif found != digest:
            result.problems.append(
                f"{archive.name}: {path} differs from the file in {record.filename}"
            )
