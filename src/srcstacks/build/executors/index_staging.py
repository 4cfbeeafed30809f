"""Before builds go to a Dask cluster: put on the private index what the workers need.

Workers share nothing with the coordinator but the index. They download each build's
sdist from it and install the build tools from it, so the coordinator first uploads:

- the sdist of every planned build, from Fromager's sdists repo (downloaded and checked
  against its upstream index's sha256 by the resolve pass);
- every wheel the resolve pass left in Fromager's wheels repo that is not a planned
  build (the build tools), each with its provenance companion, described as the publish
  stage describes it.

Reads Fromager's repos and build order and the index's project pages; writes to the
index only. A file already there with the same bytes is left alone; one with other
bytes is refused, naming it, before any build starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from packaging.utils import canonicalize_version

from srcstacks.build.cache_check import read_fetched_records
from srcstacks.build.executors.base import BuildContext, PackageBuild
from srcstacks.build.inputs import built_wheels
from srcstacks.build.wheel_records import companion_for, describe_wheel
from srcstacks.errors import PrivateIndexError, PublishError, StateError
from srcstacks.fsutil import sha256_file
from srcstacks.index.private import (
    PROVENANCE_PROJECT,
    project_files,
    provenance_filename,
    publish_companion,
    upload,
)
from srcstacks.index.target import IndexTarget
from srcstacks.tools.fromager_files import BuildOrderEntry, read_build_order
from srcstacks.web import PageFile


@dataclass(frozen=True)
class StagedInputs:
    """What the index now holds for the builds: each build's sdist sha256, and the pins."""

    sdist_sha256: dict[tuple[str, str], str]
    constraints: str  # ``project==version`` for every project resolved at one version
    uploaded: int  # files this call uploaded (0 on a rerun)


def stage_on_index(
    context: BuildContext, target: IndexTarget, builds: Sequence[PackageBuild]
) -> StagedInputs:
    """Upload the builds' sdists and the build tools' wheels with provenance."""
    if target.credentials is None:
        raise PrivateIndexError(
            f"{target.location.base_url}: handing builds to Dask workers needs the index"
            " credentials on this machine too (SRCSTACKS_INDEX_USER and"
            " SRCSTACKS_INDEX_PASSWORD): the sdists and build tools go there first"
        )
    entries = read_build_order(context.dirs) or []
    uploaded = 0
    sdists: dict[tuple[str, str], str] = {}
    for build in builds:
        sha256, sent = _stage_sdist(context, target, build)
        sdists[build.key] = sha256
        uploaded += sent
    uploaded += _stage_build_tools(context, target, builds, entries)
    return StagedInputs(sdists, constraints_text(entries), uploaded)


def constraints_text(entries: Sequence[BuildOrderEntry]) -> str:
    """Pins the workers' build environments to the versions this machine resolved.

    A shared index may hold other versions of a build tool; without the pins a worker
    could build with a newer one than a local build would. A project resolved at two
    versions (``--skip-constraints``) is left unpinned: one constraint cannot say both.
    """
    versions: dict[str, dict[str, str]] = {}
    for entry in entries:
        versions.setdefault(entry.project, {})[canonicalize_version(entry.version)] = entry.version
    pins = [f"{project}=={next(iter(found.values()))}"
            for project, found in sorted(versions.items()) if len(found) == 1]  # fmt: skip
    return "".join(f"{pin}\n" for pin in pins)


def _stage_sdist(
    context: BuildContext, target: IndexTarget, build: PackageBuild
) -> tuple[str, int]:
    path = context.dirs.downloaded_sdist(build.source_url)
    if not path.is_file():
        raise StateError(
            f"{path}: the sdist of {build.project} {build.version} is not in Fromager's"
            " sdists repo; rerun 'srcstacks wheels' (its resolve pass downloads it)"
        )
    sha256 = sha256_file(path)
    if _already_there(target, build.project, path.name, sha256):
        return sha256, 0
    upload(target.location, target.credentials, path.name, path.read_bytes(),
           project=build.project, version=build.version)  # fmt: skip
    return sha256, 1


def _stage_build_tools(
    context: BuildContext,
    target: IndexTarget,
    builds: Sequence[PackageBuild],
    entries: Sequence[BuildOrderEntry],
) -> int:
    planned = {(build.project, canonicalize_version(build.version)) for build in builds}
    by_key = {(entry.project, canonicalize_version(entry.version)): entry for entry in entries}
    fetched = read_fetched_records(context.config)
    companions = project_files(target.location, PROVENANCE_PROJECT)
    uploaded = 0
    for filename, (project, version) in sorted(built_wheels(context.dirs).items()):
        key = (project, canonicalize_version(version))
        entry = by_key.get(key)
        if key in planned or entry is None or entry.prebuilt:
            continue  # built by the workers, or a leftover of an earlier graph
        wheel, record = describe_wheel(context.config, context.dirs, entry, fetched)
        if wheel.name != filename:
            continue  # an older build tag of the same version
        if not _already_there(target, project, filename, record.sha256):
            upload(target.location, target.credentials, filename, wheel.read_bytes(),
                   project=project, version=version)  # fmt: skip
            uploaded += 1
        if provenance_filename(filename) not in companions:
            publish_companion(
                target.location,
                target.credentials,
                companion_for(context.config, context.settings, record),
            )
            uploaded += 1
    return uploaded


def _already_there(target: IndexTarget, project: str, filename: str, sha256: str) -> bool:
    """Whether the index holds ``filename`` with these bytes; refuse other bytes."""
    existing: PageFile | None = project_files(target.location, project).get(filename)
    if existing is None:
        return False
    if existing.sha256 != sha256:
        raise PublishError(
            f"{target.location.base_url}: {filename} is already on the index with sha256"
            f" {existing.sha256}, this machine has {sha256}; a published file is never"
            " replaced (use another index, or the inputs it was built with)"
        )
    return True
