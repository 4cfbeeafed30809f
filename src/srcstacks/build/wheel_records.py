"""The provenance record of each wheel a build made, here or on a Dask worker.

Reads the wheel Fromager left (its own evidence: ``fromager-build-settings``, its SBOM),
the sdist it was built from and the patches that apply; writes nothing. The publish
stage copies the wheels and their records into the wheel dir; a Dask worker uploads
them to the private index with the inputs they were built with.
"""

from __future__ import annotations

import os
import sysconfig
import tomllib
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from srcstacks.build.inputs import current_inputs
from srcstacks.errors import ProvenanceError, StageOrderError
from srcstacks.fsutil import sha256_bytes, sha256_file
from srcstacks.index.private import companion
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.spec.config import StackConfig
from srcstacks.spec.patches import applicable_patches
from srcstacks.spec.settings import Settings, effective_env
from srcstacks.state.provenance import HostRecord, PatchRecord, SdistRecord, WheelProvenance
from srcstacks.state.wheel_evidence import read_evidence
from srcstacks.tools.fromager_files import BuildOrderEntry

# Names this machine in the provenance of the wheels it builds (opt-in: HostRecord).
BUILD_HOST_VARIABLE = "SRCSTACKS_BUILD_HOST"


def companion_for(
    config: StackConfig, settings: Settings, record: WheelProvenance
) -> dict[str, Any]:
    """What the index keeps about one wheel: its provenance and the inputs it was built with
    (none for an upstream binary: it was not built here)."""
    if record.upstream is not None:
        return companion(record, {})
    return companion(record, current_inputs(config, record.project, record.version, settings))


def describe_wheel(
    config: StackConfig,
    dirs: FromagerDirs,
    entry: BuildOrderEntry,
    fetched: dict[str, WheelProvenance],
) -> tuple[Path, WheelProvenance]:
    """The wheel Fromager left for ``entry`` and its provenance record."""
    project, version = entry.project, entry.version
    if entry.prebuilt:
        raise ProvenanceError(
            f"{project}=={version} is marked pre_built in {config.settings_dir}:"
            " srcstacks publishes only wheels built from source"
        )
    wheel = find_built_wheel(dirs.built_wheels, project, version)
    from_index = fetched.get(wheel.name)
    if from_index is not None and from_index.sha256 == sha256_file(wheel):
        # Fetched from the private index and checked against its provenance there
        # (build/cache_check.py): no sdist was downloaded here to describe it from.
        return wheel, from_index
    sdist = _sdist_record(dirs, project, version, entry.source_url)
    patches = tuple(
        PatchRecord(path=_relative(patch, config.spec_dir), sha256=sha256_file(patch))
        for patch in applicable_patches(config.patches_dir, project, version, config.variant)
    )
    record = built_wheel_record(wheel, project, version, config.variant, sdist, patches)
    return wheel, with_build_host(record)


def with_build_host(record: WheelProvenance) -> WheelProvenance:
    """``record`` naming this machine as its host, if ``SRCSTACKS_BUILD_HOST`` names it.

    Opt-in, never the default: provenance is compared byte for byte by ``verify
    --rebuild``, and a host name is machine-specific (docs/howto.md, "Wheels from other
    build hosts"). A build host whose wheels another machine collects sets it.
    """
    name = os.environ.get(BUILD_HOST_VARIABLE, "").strip()
    if not name:
        return record
    return replace(record, host=HostRecord(name=name, platform=local_platform_tag()))


def local_platform_tag() -> str:
    """This machine's platform tag as wheels spell it: ``linux_x86_64``, ``macosx_14_0_arm64``."""
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")


def built_wheel_record(
    wheel: Path,
    project: str,
    version: str,
    variant: str,
    sdist: SdistRecord,
    patches: tuple[PatchRecord, ...],
) -> WheelProvenance:
    """The provenance of ``wheel``, which Fromager just built from ``sdist`` with ``patches``.

    Here or on a Dask worker (build/executors/dask_task.py): both describe a wheel alike.
    """
    # Built from source means: Fromager built it here from the sdist just recorded, and
    # the wheel carries Fromager's build metadata and agrees with its own file name.
    evidence = read_evidence(wheel)
    if not evidence.built_from_source:
        raise ProvenanceError(
            f"{wheel}: no evidence Fromager built it from source: {'; '.join(evidence.problems)}"
        )
    settings_text = _read_dist_info_file(wheel, "fromager-build-settings")
    _, _, build_tag, _ = parse_wheel_filename(wheel.name)
    return WheelProvenance(
        filename=wheel.name,
        project=project,
        version=version,
        build_tag="".join(str(part) for part in build_tag),
        sha256=sha256_file(wheel),
        variant=variant,
        sdist=sdist,
        patches=patches,
        build_settings_sha256=sha256_bytes(settings_text.encode("utf-8")),
        build_env=_settings_env(settings_text, variant),
        built_from_source=evidence.built_from_source,
        # As the wheel's own SBOM records it (tools.wheel_sbom_hook wrote it at build time).
        build_environment=evidence.sbom.environment if evidence.sbom else None,
        crates=evidence.sbom.crates if evidence.sbom else (),
    )


def find_built_wheel(folder: Path, project: str, version: str) -> Path:
    """The newest wheel of ``project`` ``version`` in ``folder`` (the highest build tag)."""
    wanted = Version(version)
    matches: list[tuple[tuple[int | str, ...], Path]] = []
    for path in folder.glob("*.whl"):
        try:
            name, found_version, build_tag, _ = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            continue
        if name == project and found_version == wanted:
            matches.append((tuple(build_tag), path))
    if not matches:
        raise StageOrderError(
            f"{folder}: no wheel built for {project}=={version} (rerun 'srcstacks wheels')"
        )
    # A bumped changelog gives a higher build tag: the newest build wins.
    return max(matches, key=lambda match: match[0])[1]


def _sdist_record(dirs: FromagerDirs, project: str, version: str, url: str) -> SdistRecord:
    path = dirs.downloaded_sdist(url) if url else None
    if path is None or not path.is_file():
        raise ProvenanceError(
            f"{project}=={version}: the sdist it was built from is not in"
            f" {dirs.downloaded_sdists} (source: {url or 'unknown'})"
        )
    return SdistRecord(url=url, filename=path.name, sha256=sha256_file(path))


def _read_dist_info_file(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            parts = member.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == name:
                return archive.read(member).decode("utf-8", errors="replace")
    return ""


def _settings_env(settings_text: str, variant: str) -> dict[str, str]:
    """The build env from Fromager's recorded settings (TOML): base env, then the variant's."""
    try:
        settings = tomllib.loads(settings_text)
    except tomllib.TOMLDecodeError:
        return {}
    base = {str(k): str(v) for k, v in (settings.get("env") or {}).items()}
    variant_settings = (settings.get("variants") or {}).get(variant) or {}
    overrides = {str(k): str(v) for k, v in (variant_settings.get("env") or {}).items()}
    return effective_env(base, overrides)


def _relative(path: Path, base: Path) -> str:
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
