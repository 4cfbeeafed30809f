"""Selective mode (``[tool.srcstacks] mode = "selective"``): what is built from source,
what is taken as the upstream binary, and fetching the binaries.

Part of the wheels stage. Reads the spec, ``build_from_source`` and the upstream index
(:mod:`srcstacks.build.missing` resolves every layer for every platform it targets);
writes ``<work_dir>/<variant>/selective.json`` (the plan: the pins Fromager builds and
why) before Fromager runs, then downloads every other pin's binary wheel, for each
platform a layer targets, into ``<work_dir>/<variant>/upstream-wheels/``, each checked
against the sha256 the index published, and records them in ``upstream.json``
(:class:`UpstreamWheel`), which the publish stage reads.

A pin is built from source when the index has no wheel of it for this machine's platform,
``build_from_source`` names its project, or the stack has patches or a build settings
file for it (an upstream binary would ship without them, silently). Fromager then
builds its dependencies and build tools from source too (it builds the tree under each
requirement), so those are never fetched. A project built here is not fetched for other
platforms either: they need it from a build host of their own, as in full mode.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from srcstacks.build.missing import Discovery, discover
from srcstacks.errors import ConfigError, DownloadError, StageOrderError
from srcstacks.fsutil import atomic_write_text, sha256_file, write_json
from srcstacks.index.client import (
    IndexReadError,
    download_checked,
    published_files,
)
from srcstacks.layout import Layout
from srcstacks.layout.ownership import claim_dir, remove_file
from srcstacks.reporting import Report
from srcstacks.spec.config import StackConfig
from srcstacks.spec.patches import applicable_patches
from srcstacks.spec.platforms import best_wheel, build_platform, layer_python_version
from srcstacks.spec.settings import Settings, read_settings
from srcstacks.state.wheel_availability import wheels_of
from srcstacks.web import PageFile

FORMAT_VERSION = 1


@dataclass(frozen=True)
class SourceBuild:
    """A pin selective mode builds from source, and why."""

    project: str
    version: str
    reason: str  # "sdist only", "listed in build_from_source", ...

    @property
    def requirement(self) -> str:
        return f"{self.project}=={self.version}"


@dataclass(frozen=True)
class SelectivePlan:
    """What the wheels stage builds and what it fetches, for every targeted platform."""

    here: str  # this machine's platform
    from_source: tuple[SourceBuild, ...]
    # (project, version, platform, python X.Y) of every pin a layer needs there.
    needed: tuple[tuple[str, str, str, str], ...]
    index_url: str

    @property
    def requirements(self) -> list[str]:
        return [build.requirement for build in self.from_source]

    def constraints(self) -> str:
        """Constraints fixing each project resolved here to its one version, for Fromager."""
        versions: dict[str, set[str]] = {}
        for project, version, platform, _ in self.needed:
            if platform == self.here:
                versions.setdefault(project, set()).add(version)
        return "".join(
            f"{project}=={next(iter(found))}\n"
            for project, found in sorted(versions.items())
            if len(found) == 1
        )


@dataclass(frozen=True)
class UpstreamWheel:
    """One binary wheel taken from the upstream index, as ``upstream.json`` records it."""

    filename: str
    project: str
    version: str
    platforms: tuple[str, ...]  # the targeted platforms it serves
    index_url: str
    url: str
    sha256: str  # as the index published it, and as downloaded


def plan_selective(
    config: StackConfig,
    report: Report = print,
    pins: Path | None = None,
    settings: Settings | None = None,
) -> SelectivePlan:
    """Resolve the stack against the upstream index and decide what to build here.

    ``pins``: a constraints file (``name==version`` lines) every resolution takes, so a
    rebuild resolves the versions the first build did.
    """
    here = build_platform()
    pinned = dict(_pin_lines(pins.read_text(encoding="utf-8"))) if pins else None
    discovery = discover(config, report, pinned=pinned)
    needed = _needed(config, discovery)
    gaps_here = {
        (gap.project, gap.version): gap.reason for gap in discovery.gaps if gap.platform == here
    }
    listed = set(config.mode.build_from_source)
    resolved_here = {
        (project, version) for project, version, platform, _ in needed if platform == here
    }
    unknown = sorted(listed - {project for project, _ in resolved_here})
    if unknown:
        raise ConfigError(
            f"{config.spec_path}: 'tool.srcstacks.build_from_source' names"
            f" {', '.join(unknown)}, which no layer needs on {here}"
        )
    builds = {
        pin: "listed in build_from_source" if pin[0] in listed else f"{gaps_here[pin]} upstream"
        for pin in resolved_here
        if pin[0] in listed or pin in gaps_here
    }
    own = settings if settings is not None else read_settings(config.settings_dir)
    for pin, why in _own_inputs(config, own, resolved_here).items():
        builds.setdefault(pin, why)
    plan = SelectivePlan(
        here=here,
        from_source=tuple(SourceBuild(p, v, why) for (p, v), why in sorted(builds.items())),
        needed=tuple(sorted(needed)),
        index_url=discovery.index_url,
    )
    layout = Layout.of(config)
    write_json(layout.selective_plan, _plan_json(plan))
    atomic_write_text(layout.selective_constraints, plan.constraints())
    return plan


def _own_inputs(
    config: StackConfig, settings: Settings, pins: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The pins the stack patches or has build settings for, and which."""
    found: dict[tuple[str, str], str] = {}
    for project, version in sorted(pins):
        patches = applicable_patches(config.patches_dir, project, version, config.variant)
        if patches:
            found[(project, version)] = f"patched here: {len(patches)} patch(es)"
        elif project in settings:
            found[(project, version)] = f"build settings here: {settings[project].path.name}"
    return found


def _pin_lines(text: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for line in text.splitlines():
        project, separator, version = line.strip().partition("==")
        if separator:
            found.append((canonicalize_name(project), version))
    return found


def _needed(config: StackConfig, discovery: Discovery) -> set[tuple[str, str, str, str]]:
    needed: set[tuple[str, str, str, str]] = set()
    for layer in config.layers:
        python = layer_python_version(config, layer) if layer.requirements else ""
        for (env_name, platform), pins in discovery.resolved.items():
            if env_name != layer.env_name:
                continue
            for pin in pins:
                project, _, version = pin.partition("==")
                needed.add((canonicalize_name(project), version, platform, python))
    return needed


def _plan_json(plan: SelectivePlan) -> dict[str, object]:
    return {
        "format": FORMAT_VERSION,
        "platform": plan.here,
        "index_url": plan.index_url,
        "from_source": [asdict(build) for build in plan.from_source],
    }


def fetch_upstream(
    config: StackConfig,
    plan: SelectivePlan,
    built: Iterable[tuple[str, str]],
    report: Report = print,
) -> list[UpstreamWheel]:
    """Download every needed pin not built here, for each platform; record them."""
    built_projects = {project for project, _ in built} | {b.project for b in plan.from_source}
    layout = Layout.of(config)
    folder = claim_dir(layout.upstream_wheels, "upstream wheels")
    chosen: dict[str, tuple[PageFile, str, str, set[str]]] = {}
    left: list[str] = []
    listings: dict[str, dict[str, PageFile]] = {}
    for project, version, platform, python in plan.needed:
        if project in built_projects:
            continue
        files = _listing(listings, plan.index_url, project)
        wheel = best_wheel(wheels_of(files, project, version), platform, python)
        if wheel is None:
            left.append(f"{project}=={version} ({platform})")
            continue
        chosen.setdefault(wheel, (files[wheel], project, version, set()))[3].add(platform)
    fetched = 0
    wheels: list[UpstreamWheel] = []
    for filename, (item, project, version, platforms) in sorted(chosen.items()):
        target = layout.upstream_wheel(filename)
        if not (target.is_file() and sha256_file(target) == item.sha256):
            try:
                download_checked(item, target)
            except IndexReadError as exc:
                raise DownloadError(f"{project}=={version}: {exc}") from None
            fetched += 1
        wheels.append(
            UpstreamWheel(
                filename,
                project,
                version,
                tuple(sorted(platforms)),
                plan.index_url,
                item.url,
                item.sha256,
            )
        )
    for stale in sorted(folder.glob("*.whl")):
        if stale.name not in chosen:
            remove_file(stale)
    write_json(layout.upstream_record, {
        "format": FORMAT_VERSION,
        "wheels": {wheel.filename: asdict(wheel) for wheel in wheels},
    })  # fmt: skip
    report(
        f"selective mode: took {len(wheels)} binary wheel(s) from {plan.index_url}"
        f" ({fetched} downloaded, each checked against the sha256 the index published)"
    )
    if left:
        report(
            "  no wheel upstream and not buildable here (left to other build hosts): "
            + ", ".join(sorted(set(left)))
        )
    return wheels


def _listing(
    cache: dict[str, dict[str, PageFile]], index_url: str, project: str
) -> dict[str, PageFile]:
    if project not in cache:
        try:
            cache[project] = published_files(index_url, project)
        except IndexReadError as exc:
            raise DownloadError(
                f"{project}: cannot list its files on {index_url} ({exc})"
            ) from None
    return cache[project]


def planned_from_source(config: StackConfig) -> set[str]:
    """The projects the last selective plan (``selective.json``) built from source."""
    path = Layout.of(config).selective_plan
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(item["project"]) for item in data["from_source"]}
    except FileNotFoundError:
        raise StageOrderError(f"{path}: no selective plan yet (run 'srcstacks wheels')") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StageOrderError(f"{path}: unreadable ({exc}); rerun 'srcstacks wheels'") from None


def read_upstream_wheels(config: StackConfig) -> list[UpstreamWheel]:
    """The wheels the last selective wheels stage took from upstream (``upstream.json``)."""
    path = Layout.of(config).upstream_record
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [
            UpstreamWheel(**{**entry, "platforms": tuple(entry["platforms"])})
            for _, entry in sorted(data["wheels"].items())
        ]
    except FileNotFoundError:
        raise StageOrderError(
            f"{path}: no upstream wheels recorded yet (run 'srcstacks wheels' first)"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StageOrderError(f"{path}: unreadable ({exc}); rerun 'srcstacks wheels'") from None


def upstream_wheel_path(config: StackConfig, wheel: UpstreamWheel) -> Path:
    """Where the wheels stage left ``wheel``."""
    return Layout.of(config).upstream_wheel(wheel.filename)
