"""``srcstacks missing``: which projects of which layer have no binary wheel upstream, per
target platform. Nothing is built.

Reads the spec (its layers and their ``platforms``), the settings folder (a project's
own sdist index, Fromager's ``resolver_dist.sdist_server_url``) and the upstream
indexes' simple API; runs ``uv pip compile`` once per layer and platform. Writes
nothing. Each layer is resolved as venvstacks locks it: its own requirements, with the
versions every layer below it resolved to as constraints; the projects a lower layer
already provides are listed there, not again above it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from srcstacks.errors import IndexServerError, ResolutionError
from srcstacks.index.client import (
    PYPI_SIMPLE,
    IndexReadError,
    published_sha256,
)
from srcstacks.reporting import Report
from srcstacks.spec.config import Layer, StackConfig
from srcstacks.spec.platforms import (
    UV_PLATFORMS,
    DeclaredPlatforms,
    declared_platforms,
    layer_python_version,
    platform_tags,
    wheel_fits,
)
from srcstacks.spec.settings import read_settings
from srcstacks.spec.uv_settings import uv_cutoff_args
from srcstacks.state.layer_fingerprints import lower_first
from srcstacks.state.wheel_availability import (
    Gap,
    describe_files,
    render_json,
    render_table,
    wheels_of,
)
from srcstacks.tools.process import run_captured
from srcstacks.web import project_page_url

# A resolution of a few layers takes seconds; a stuck index should not hang the command.
_UV_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Discovery:
    """What ``missing`` found: each layer's platforms, and every pin without a wheel."""

    platforms: dict[str, tuple[str, ...]]
    gaps: list[Gap]
    index_url: str
    # (layer, platform) -> every pin the layer itself brings, for the counts.
    resolved: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)


def discover(
    config: StackConfig,
    report: Report = print,
    *,
    only: Sequence[str] | None = None,
    pinned: Mapping[str, str] | None = None,
) -> Discovery:
    """Resolve every layer for every platform it targets (or those of ``only`` it
    targets) and check each pin's wheels. ``pinned``: versions every resolution must take
    (a rebuild's, so it resolves what the first build did)."""
    declared = declared_platforms(config)
    if only:
        declared = declared.targeted("--platform", list(only))
    indexes = _ProjectIndexes(config)
    gaps: list[Gap] = []
    resolved: dict[tuple[str, str], tuple[str, ...]] = {}
    targets = sorted({target for layer in config.layers for target in declared.of(layer)})
    for target in targets:
        report(f"missing: resolving for {target}")
        pins = _resolve_platform(config, declared, target, indexes, pinned or {})
        for layer in config.layers:
            own = pins.get(layer.env_name)
            if own is None:
                continue
            python = layer_python_version(config, layer)
            resolved[(layer.env_name, target)] = tuple(f"{p}=={v}" for p, v in own.items())
            for project, version in own.items():
                files = indexes.files(project)
                accepted = platform_tags(target, python)
                if not any(
                    wheel_fits(name, accepted) for name in wheels_of(files, project, version)
                ):
                    reason = describe_files(files, project, version, python)
                    gaps.append(Gap(layer.env_name, target, project, version, reason))
    platforms = {layer.env_name: declared.of(layer) for layer in config.layers}
    return Discovery(platforms, sorted(gaps), PYPI_SIMPLE, resolved)


def render(discovery: Discovery, *, as_json: bool = False) -> str:
    """The table (or JSON) of what has no binary wheel where, with a closing count."""
    if as_json:
        return render_json(
            discovery.platforms, discovery.gaps, discovery.resolved, index=discovery.index_url
        )
    lines = render_table(discovery.platforms, discovery.gaps)
    cells = sum(len(targets) for targets in discovery.platforms.values())
    projects = len({(gap.project, gap.version) for gap in discovery.gaps})
    short = len({(gap.layer, gap.platform) for gap in discovery.gaps})
    lines.append(
        f"{projects} project(s) without a binary wheel in {short} of {cells}"
        f" layer/platform pair(s) (index: {discovery.index_url})"
    )
    return "\n".join(lines)


def _resolve_platform(
    config: StackConfig,
    declared: DeclaredPlatforms,
    target: str,
    indexes: _ProjectIndexes,
    pinned: Mapping[str, str],
) -> dict[str, dict[str, str]]:
    """Each layer targeting ``target``: ``{project: version}`` of what it brings itself."""
    own_pins: dict[str, dict[str, str]] = {}
    for layer in lower_first(config):
        if target not in declared.of(layer):
            continue
        below: dict[str, str] = {}
        for lower in config.stack_of(layer)[1:]:
            below.update(own_pins.get(lower.env_name, {}))
        everything = _compile(config, layer, target, {**pinned, **below}, indexes)
        own_pins[layer.env_name] = {
            project: version for project, version in everything.items() if project not in below
        }
    return own_pins


def _compile(
    config: StackConfig,
    layer: Layer,
    target: str,
    below: dict[str, str],
    indexes: _ProjectIndexes,
) -> dict[str, str]:
    """``uv pip compile`` of the layer's requirements for ``target``; sdists allowed."""
    if not layer.requirements:
        return {}
    python = layer_python_version(config, layer)
    with tempfile.TemporaryDirectory(prefix="srcstacks-missing-") as scratch:
        folder = Path(scratch)
        requirements = folder / "requirements.in"
        requirements.write_text("".join(f"{req}\n" for req in layer.requirements))
        constraints = folder / "constraints.txt"
        constraints.write_text("".join(f"{p}=={v}\n" for p, v in sorted(below.items())))
        command = [
            sys.executable, "-m", "uv", "pip", "compile", str(requirements),
            "--constraint", str(constraints),
            "--python-platform", UV_PLATFORMS[target],
            "--python-version", python,
            "--python", sys.executable,
            "--no-python-downloads",
            "--default-index", PYPI_SIMPLE,
            *(arg for url in indexes.extra_indexes() for arg in ("--index", url)),
            *uv_cutoff_args(config.upload_cutoff),
            "--no-header", "--no-annotate", "--quiet", "--color", "never",
        ]  # fmt: skip
        result = _run_uv(command)
    if result.returncode != 0:
        raise ResolutionError(
            f"{config.spec_path}: {layer.kind} layer {layer.name!r} does not resolve for"
            f" {target} (CPython {python}): {_one_line(result.stderr)}"
        )
    return _pins(result.stdout)


def _run_uv(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """uv with srcstacks' allow-listed environment; it dies with srcstacks."""
    try:
        return run_captured(command, timeout=_UV_TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise ResolutionError(
            f"uv pip compile did not finish in {_UV_TIMEOUT_SECONDS} s (is the index reachable?)"
        ) from None


def _pins(text: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line.split(";", 1)[0])
        specifier = next(iter(requirement.specifier))
        pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


# uv's box drawing: U+00D7 (its error cross) and the line-drawing characters.
_BOX = str.maketrans(
    {char: " " for char in "\u00d7\u2570\u2500\u25b6\u2502\u251c\u256d\u256e\u256f"}
)


def _one_line(stderr: str) -> str:
    """uv's error, its box drawing dropped and its lines joined."""
    text = " ".join(stderr.translate(_BOX).split()).removeprefix("error: ")
    text = text.replace(" cause: ", ": ")
    return text if len(text) <= 600 else text[:597] + "..."


class _ProjectIndexes:
    """Each project's index (its own sdist index if the settings name one, else PyPI)
    and the file names listed there, fetched once per run."""

    def __init__(self, config: StackConfig) -> None:
        self._settings = read_settings(config.settings_dir)
        self._files: dict[str, list[str]] = {}

    def url(self, project: str) -> str:
        settings = self._settings.get(project)
        return (settings.sdist_index if settings else None) or PYPI_SIMPLE

    def extra_indexes(self) -> list[str]:
        found = {s.sdist_index for s in self._settings.values() if s.sdist_index}
        return sorted(found - {PYPI_SIMPLE})

    def files(self, project: str) -> list[str]:
        if project not in self._files:
            url = self.url(project)
            try:
                self._files[project] = sorted(published_sha256(url, project))
            except IndexReadError as exc:
                raise IndexServerError(
                    f"{project_page_url(url, project)}: cannot list {project}'s files ({exc})"
                ) from None
        return self._files[project]
