"""Trust a wheel fetched from the private index only if this build would have made it.

Fromager, given the index as its cache server, downloads any wheel of the same name,
version and build tag instead of building it. That alone says nothing about how it was
built, so after each bootstrap every fetched wheel is checked against its provenance
companion on the index (:mod:`srcstacks.index.private`):

- the companion exists and records this wheel's sha256;
- it was built for this variant, with the same patches and build settings file as
  this build would use (the inputs :mod:`build_inputs` records);
- its sdist's sha256 is the one the upstream index publishes for that file.

A wheel that passes keeps its record in ``<work_dir>/<variant>/fetched-provenance.json``
(read by publish, since no sdist was downloaded for it here); one that fails is
removed from Fromager's repo with a line saying why, and is then built here.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from srcstacks.build.inputs import built_wheels, current_inputs, discard_built_wheel
from srcstacks.errors import PrivateIndexError, StateError
from srcstacks.fsutil import sha256_file, write_json
from srcstacks.index.client import PYPI_SIMPLE, IndexReadError, published_sha256
from srcstacks.index.private import (
    PROVENANCE_PROJECT,
    IndexLocation,
    download,
    project_files,
    provenance_filename,
    read_companion,
)
from srcstacks.layout import Layout
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.reporting import Report
from srcstacks.spec.config import StackConfig
from srcstacks.spec.settings import Settings
from srcstacks.state.provenance import SdistRecord, UpstreamRecord, WheelProvenance
from srcstacks.state.records import read_json_state
from srcstacks.tools.build_packages import changes_here
from srcstacks.web import PageFile


def read_fetched_records(config: StackConfig) -> dict[str, WheelProvenance]:
    """The provenance of every wheel accepted from the index, by wheel file name."""
    path = Layout.of(config).fetched_provenance
    data = read_json_state(path, "record of fetched wheels", "srcstacks wheels")
    if data is None:
        return {}
    try:
        return {str(name): WheelProvenance.from_dict(record) for name, record in data.items()}
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise StateError(
            f"{path}: malformed record of fetched wheels ({type(exc).__name__}: {exc});"
            " remove it and rerun 'srcstacks wheels'"
        ) from None


def check_fetched_wheels(
    config: StackConfig,
    dirs: FromagerDirs,
    settings: Settings,
    location: IndexLocation,
    fetched: set[str],
    report: Report,
) -> list[str]:
    """Check the wheels of the ``fetched`` projects; remove the untrusted ones.

    Returns the canonical names of the projects whose wheel was removed.
    """
    records = read_fetched_records(config)
    wheels = {name: value for name, value in built_wheels(dirs).items() if value[0] in fetched}
    if not wheels:
        return []
    companions = project_files(location, PROVENANCE_PROJECT)
    discarded: list[str] = []
    for filename, (project, version) in sorted(wheels.items()):
        wheel = dirs.built_wheel(filename)
        try:
            record = companion_record(companions, filename)
            problem = mismatch(config, settings, filename, sha256_file(wheel), record)
        except PrivateIndexError as exc:
            problem = str(exc)
            record = None
        if problem or record is None:
            report(f"  not using {filename} from {location.simple_url}: {problem}; building it")
            discard_built_wheel(dirs, filename, version)
            records.pop(filename, None)
            discarded.append(project)
            continue
        records[filename] = WheelProvenance.from_dict(record["wheel"])
    write_json(
        Layout.of(config).fetched_provenance,
        {name: _as_json(record) for name, record in sorted(records.items())},
    )
    accepted = len(wheels) - len(discarded)
    if accepted:
        report(f"fetched {accepted} wheel(s) from {location.simple_url}; their provenance matches")
    return discarded


def discard_unchecked_fetches(config: StackConfig, dirs: FromagerDirs, fetched: set[str]) -> None:
    """Remove the wheels of ``fetched`` projects that were never checked and accepted.

    After a failed run: the next would find them in Fromager's repo and reuse them
    without asking the index again.
    """
    accepted = read_fetched_records(config)
    for filename, (project, version) in built_wheels(dirs).items():
        if project in fetched and filename not in accepted:
            discard_built_wheel(dirs, filename, version)


def companion_record(companions: dict[str, PageFile], filename: str) -> dict[str, Any]:
    """The provenance the index keeps for the wheel ``filename``; an error if it has none."""
    companion = companions.get(provenance_filename(filename))
    if companion is None:
        raise PrivateIndexError("the index has no provenance for it")
    return read_companion(download(companion), companion.url)


def mismatch(
    config: StackConfig,
    settings: Settings,
    filename: str,
    sha256: str,
    record: dict[str, Any],
    *,
    take_upstream: bool = False,
) -> str:
    """Why the wheel ``filename`` (``sha256``) with provenance ``record`` (from the
    index) is not what this build would produce; '' if it is.

    ``take_upstream``: an upstream binary may do, when the stack's mode allows it (the
    locked wheels of a selective stack, :mod:`index_mirror`); a wheel Fromager fetches
    instead of building it must always have been built from source.
    """
    try:
        provenance = WheelProvenance.from_dict(record["wheel"])
    except (KeyError, TypeError, ValueError):
        return "its provenance on the index is malformed"
    if provenance.sha256 != sha256 or provenance.filename != filename:
        return "its provenance on the index records another file"
    if provenance.upstream is not None:  # no build inputs: it was not built
        return _upstream_mismatch(
            config, provenance.project, provenance.upstream, sha256, take_upstream
        )
    inputs = record.get("inputs")
    if not isinstance(inputs, dict) or provenance.sdist is None:
        return "its provenance on the index is malformed"
    if provenance.build_environment is None:
        return "it was built by an earlier srcstacks (no build environment recorded)"
    if changed := changes_here(provenance.build_environment.system_packages):
        return f"it was {changed} on its build host"
    wanted = current_inputs(config, provenance.project, provenance.version, settings)
    for key, what in (
        ("variant", "variant"),
        ("patches", "patches"),
        ("settings_sha256", "build settings"),
    ):
        if inputs.get(key) != wanted[key]:
            return f"it was built with other {what} than this build uses"
    return _sdist_mismatch(provenance.project, provenance.sdist, settings)


def _upstream_mismatch(
    config: StackConfig, project: str, record: UpstreamRecord, sha256: str, take_upstream: bool
) -> str:
    """Why an upstream binary of ``project`` from the index will not do here; '' if it will."""
    upstream = f"it is an upstream binary (from {record.index_url})"
    if not take_upstream:
        # Fromager fetches it instead of building it, so it must be a wheel built from
        # source; an upstream binary a selective stack published is not one.
        return f"{upstream}, not a wheel built from source"
    if not config.mode.selective:
        return f"{upstream}, but the stack is in full mode"
    if project in config.mode.build_from_source:
        return f"{upstream}, but 'tool.srcstacks.build_from_source' lists {project}"
    if record.sha256 != sha256:
        return "its sha256 differs from the one its upstream index published"
    return ""


def _sdist_mismatch(project: str, sdist: SdistRecord, settings: Settings) -> str:
    project_settings = settings.get(project)
    index_url = (project_settings.sdist_index if project_settings else None) or PYPI_SIMPLE
    try:
        published = published_sha256(index_url, project)
    except IndexReadError as exc:
        return f"its sdist cannot be checked against {index_url}: {exc}"
    expected = published.get(sdist.filename)
    if expected is None:
        return f"its sdist {sdist.filename} is not listed on {index_url}"
    if expected != sdist.sha256:
        return f"its sdist {sdist.filename} differs from the one {index_url} publishes"
    return ""


def _as_json(record: WheelProvenance) -> dict[str, Any]:
    return asdict(record)
