"""Which project of which layer has no usable wheel on which platform: the record and its
two renderings, a text table and sorted JSON.

Pure data: :mod:`srcstacks.build.missing` (upstream index) and
:mod:`srcstacks.lock.platforms` (the wheel dir, before locking) fill it in;
nothing here reads or writes files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from packaging.utils import parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from srcstacks.spec.platforms import TARGET_PLATFORMS, platform_tags, wheel_fits


@dataclass(frozen=True, order=True)
class Gap:
    """``project==version``, needed by ``layer`` on ``platform``, has no wheel for it."""

    layer: str
    platform: str
    project: str
    version: str
    # What there is instead: "sdist only", "wheels only for macosx_arm64, ...", ...
    reason: str

    @property
    def pin(self) -> str:
        return f"{self.project}=={self.version}" if self.version else self.project


def describe_files(files: Sequence[str], project: str, version: str, python: str) -> str:
    """What ``files`` (an index's or a wheel dir's) offer for ``project==version``.

    Names the platforms its wheels do fit, so a reader sees at once whether the project
    publishes nothing binary or only leaves some platforms out.
    """
    wheels = wheels_of(files, project, version)
    sdist = False
    for filename in files:
        if filename.endswith((".tar.gz", ".zip")):
            try:
                name, found = parse_sdist_filename(filename)
            except (ValueError, InvalidVersion):  # a file not named by the standard
                continue
            sdist = sdist or (name == project and found == Version(version))
    if not wheels:
        return "sdist only" if sdist else "no wheel"
    fitting = [
        target
        for target in TARGET_PLATFORMS
        if any(wheel_fits(wheel, platform_tags(target, python)) for wheel in wheels)
    ]
    if not fitting:
        return f"no wheel for CPython {python}"
    return f"wheels only for {', '.join(fitting)}"


def wheels_of(files: Iterable[str], project: str, version: str) -> list[str]:
    """The wheels among ``files`` of ``project`` (canonical name) at ``version``."""
    wanted = Version(version)
    found: list[str] = []
    for filename in files:
        if not filename.endswith(".whl"):
            continue
        try:
            name, found_version, _build, _tags = parse_wheel_filename(filename)
        except (ValueError, InvalidVersion):  # a file not named by the standard
            continue
        if name == project and found_version == wanted:
            found.append(filename)
    return found


def render_table(platforms: Mapping[str, tuple[str, ...]], gaps: Iterable[Gap]) -> list[str]:
    """One row per layer and platform it targets: the pins with no wheel there, or ``-``.

    ``platforms`` maps each layer (in stack order) to the platforms it targets.
    """
    by_cell: dict[tuple[str, str], list[Gap]] = {}
    for gap in sorted(gaps):
        by_cell.setdefault((gap.layer, gap.platform), []).append(gap)
    rows = [("layer", "platform", "no binary wheel")]
    for layer, targets in platforms.items():
        for target in targets:
            listed = by_cell.get((layer, target), [])
            text = ", ".join(f"{gap.pin} ({gap.reason})" for gap in listed) or "-"
            rows.append((layer, target, text))
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    return [f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}".rstrip() for row in rows]


def render_json(
    platforms: Mapping[str, tuple[str, ...]],
    gaps: Iterable[Gap],
    resolved: Mapping[tuple[str, str], Iterable[str]] | None = None,
    **about: str,
) -> str:
    """The same as :func:`render_table`, as JSON with sorted keys and sorted lists.

    ``resolved``: (layer, platform) -> every pin the layer brings there, wheel or not.
    """
    document: dict[str, object] = {
        **about,
        "layers": {layer: list(targets) for layer, targets in platforms.items()},
        "missing": [
            {
                "layer": gap.layer,
                "platform": gap.platform,
                "project": gap.project,
                "version": gap.version,
                "reason": gap.reason,
            }
            for gap in sorted(gaps)
        ],
    }
    if resolved is not None:
        document["resolved"] = {
            layer: {
                target: sorted(pins)
                for (name, target), pins in sorted(resolved.items())
                if name == layer
            }
            for layer in platforms
        }
    return json.dumps(document, indent=2, sort_keys=True)
