"""Before ``lock``: does every layer have a wheel for every platform it targets?

Reads the spec's layers and their ``platforms``, and the wheels published to the wheel
dir (their file names, and the ``Requires-Dist`` of their METADATA); writes nothing.
venvstacks locks every layer for every platform it targets at once (``uv lock``
resolves them all), from the wheel dir alone. So:

- a project that some platform needs and that has no wheel in the wheel dir at all
  (``dlltracer; sys_platform == 'win32'``: nothing here builds it) would stop the lock
  with venvstacks' bare "Failed to lock layer": it stops here first, with a table;
- a project with no wheel for this machine's platform, in a layer that targets it,
  stops here too: the layer could not be built here;
- a project whose wheels fit only other platforms (a C extension built here, for
  linux_x86_64) leaves the layer's other platforms to other build hosts: said plainly,
  layer by layer, and the lock goes on (its lock has no wheel for them).
"""

from __future__ import annotations

import functools
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from srcstacks.errors import MissingWheelsError
from srcstacks.lock.elsewhere import lock_environments
from srcstacks.reporting import Report
from srcstacks.spec.config import Layer, StackConfig
from srcstacks.spec.platforms import (
    TARGET_PLATFORMS,
    build_platform,
    declared_platforms,
    platform_tags,
    wheel_fits,
)
from srcstacks.spec.rules import marker_environment
from srcstacks.state.dist_info import read_name_version, requirements
from srcstacks.state.wheel_availability import Gap, describe_files, render_table

NO_WHEEL = "no wheel in the wheel dir"


@dataclass(frozen=True)
class _Wheel:
    path: Path
    project: str
    version: Version


def check_every_platform(
    config: StackConfig, wheels: Sequence[Path], report: Report, *, here: str | None = None
) -> list[Gap]:
    """Stop (:class:`MissingWheelsError`, with a table) when the lock would fail or a
    layer could not be built here; report the layers left to other build hosts.

    ``wheels``: the published wheels; ``here``: this machine's platform (default: the
    one it is). Returns every gap found, blocking or not.
    """
    here = here or build_platform()
    declared = declared_platforms(config)
    _requires.cache_clear()  # a wheel of the same name may have been rebuilt since
    catalogue = _catalogue(wheels)
    gaps = sorted(_gaps(config, catalogue))
    blocking = [
        gap
        for gap in gaps
        if gap.reason == NO_WHEEL or (gap.platform == here and here in declared.by_layer[gap.layer])
    ]
    if blocking:
        cells = {
            layer.env_name: tuple(
                p for p in TARGET_PLATFORMS if (layer.env_name, p) in _cells(blocking)
            )
            for layer in config.layers
            if any(gap.layer == layer.env_name for gap in blocking)
        }
        for line in render_table(cells, blocking):
            report(f"  {line}")
        where = "; ".join(
            f"{layer} on {target}: {', '.join(_pins_in(blocking, layer, target))}"
            for layer, target in sorted(_cells(blocking))
        )
        raise MissingWheelsError(
            f"{config.spec_path}: cannot lock, wheels are missing (table above): {where}."
            " venvstacks locks every layer for every platform it targets at once from the"
            f" wheel dir, and this machine builds for {here} only: build them on a host of that"
            " platform, or take the requirement or the platform out of the spec"
        )
    _report_elsewhere(config, gaps, here, report)
    return gaps


def _pins_in(gaps: Iterable[Gap], layer: str, target: str) -> list[str]:
    return [gap.pin for gap in gaps if gap.layer == layer and gap.platform == target]


def _cells(gaps: Iterable[Gap]) -> set[tuple[str, str]]:
    """The (layer, platform) pairs ``gaps`` fall in."""
    return {(gap.layer, gap.platform) for gap in gaps}


def _report_elsewhere(config: StackConfig, gaps: list[Gap], here: str, report: Report) -> None:
    declared = declared_platforms(config)
    for layer in config.layers:
        targets = declared.of(layer)
        if here not in targets:
            report(
                f"lock: {layer.env_name} targets {', '.join(targets) or 'no platform'}, not"
                f" {here}: it is left to other build hosts (nothing of it is built here)"
            )
            continue
        own = [gap for gap in gaps if gap.layer == layer.env_name and gap.platform in targets]
        if not own:
            continue
        elsewhere = sorted({gap.platform for gap in own})
        pins = sorted({f"{gap.pin} ({gap.reason})" for gap in own})
        report(
            f"lock: {layer.env_name} is left to other build hosts for {', '.join(elsewhere)}:"
            f" this machine ({here}) has no wheel for them of {', '.join(pins)}; its lock"
            " lists none, so build it there (and every layer on it) from its own wheels"
        )


def _catalogue(wheels: Sequence[Path]) -> dict[str, list[_Wheel]]:
    found: dict[str, list[_Wheel]] = {}
    for path in wheels:
        try:
            name, version, _build, _tags = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            continue
        found.setdefault(name, []).append(_Wheel(path, name, version))
    return found


def _gaps(config: StackConfig, catalogue: dict[str, list[_Wheel]]) -> set[Gap]:
    """Every project each layer itself needs on each platform without a wheel for it.

    A project a layer below already needs on that platform is that layer's, as in
    venvstacks' locks. Every platform ``uv lock`` resolves the layer for is walked (those
    it targets, or all six when it targets all or the spec sets uv's ``environments``):
    a project with no wheel at all stops it whichever of them needs it.
    """
    gaps: set[Gap] = set()
    environments = lock_environments(config)
    for target in TARGET_PLATFORMS:
        needed: dict[str, set[str]] = {}
        for layer in config.layers:  # runtimes, frameworks, applications: lower first
            below = set().union(
                *(needed.get(lower.env_name, set()) for lower in config.stack_of(layer)[1:])
            )
            python = _runtime(config, layer)
            walked = _walk(layer.requirements, catalogue, target, python)
            needed[layer.env_name] = set(walked) | below
            if not _uv_locks(environments[layer.env_name], python, target):
                continue  # uv's environments leave this platform out of the lock
            for project, found in walked.items():
                if project in below or found is None:
                    continue
                gaps.add(Gap(layer.env_name, target, project, *found))
    return gaps


def _walk(
    requirements: Iterable[Requirement],
    catalogue: dict[str, list[_Wheel]],
    target: str,
    python_implementation: str,
) -> dict[str, tuple[str, str] | None]:
    """Every project ``requirements`` pull in on ``target``: None if a wheel fits, else
    ``(version, what there is instead)``."""
    version = python_implementation.partition("@")[2]
    python = ".".join(version.split(".")[:2])
    accepted = platform_tags(target, python)
    result: dict[str, tuple[str, str] | None] = {}
    expanded: set[tuple[str, str, frozenset[str]]] = set()
    pending = [(req, "") for req in requirements]
    while pending:
        requirement, extra = pending.pop()
        env = {**marker_environment(python_implementation, target), "extra": extra}
        if requirement.marker is not None and not requirement.marker.evaluate(env):
            continue
        project = canonicalize_name(requirement.name)
        candidates = [
            wheel
            for wheel in catalogue.get(project, [])
            if requirement.specifier.contains(wheel.version, prereleases=True)
        ]
        if not candidates:
            result[project] = ("", NO_WHEEL)
            continue
        fitting = [wheel for wheel in candidates if wheel_fits(wheel.path.name, accepted)]
        chosen = max(fitting or candidates, key=lambda wheel: wheel.version)
        if fitting:
            result[project] = None
        elif result.get(project, ("", "")) is not None:
            names = [wheel.path.name for wheel in candidates]
            reason = describe_files(names, project, str(chosen.version), python)
            result[project] = (str(chosen.version), reason)
        key = (project, str(chosen.version), frozenset(requirement.extras))
        if key in expanded:
            continue
        expanded.add(key)
        for dependency in _requires(chosen.path):
            for wanted_extra in requirement.extras or {""}:
                pending.append((dependency, wanted_extra))
    return result


@functools.lru_cache(maxsize=4096)
def _requires(wheel: Path) -> tuple[Requirement, ...]:
    """The ``Requires-Dist`` of a wheel's METADATA (read once per run: the walk asks for
    each wheel once per layer and platform)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(
            (
                item
                for item in archive.namelist()
                if item.count("/") == 1 and item.endswith(".dist-info/METADATA")
            ),
            None,
        )
        text = archive.read(name).decode("utf-8", errors="replace") if name else ""
    return requirements(read_name_version(text).requires_dist)


def _uv_locks(environments: Sequence[Marker], python_implementation: str, target: str) -> bool:
    """Whether ``uv lock`` resolves for ``target``: uv's ``environments`` (``[tool.uv]``,
    read as :mod:`lock_elsewhere` reads them) limit it; none means every platform."""
    if not environments:
        return True
    env = marker_environment(python_implementation, target)
    return any(marker.evaluate(env) for marker in environments)


def _runtime(config: StackConfig, layer: Layer) -> str:
    runtime = next(item for item in config.stack_of(layer) if item.kind == "runtime")
    return runtime.python_implementation or ""
