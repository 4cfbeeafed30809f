"""What one Fromager build ran with, read inside Fromager right after the build.

Runs in the Fromager process (:mod:`fromager_main`), while the build's folder still
exists. Reads:

- the build environment Fromager created (``<build folder>/build-<python>/``): every
  distribution installed there, its ``WHEEL`` file (build tag, tags) and ``METADATA``;
- Fromager's ``*-requirements.txt`` files beside the source: which step installed what;
- the wheel server the build environment was installed from (Fromager's own, the
  parallel path's loopback index, or the private index on a Dask worker): the exact wheel
  file of each installed distribution, downloaded again and hashed. It must hold the
  same ``.dist-info`` bytes as what is installed, or the build stops;
- the unpacked wheel: the ``.comment`` section of each ELF file (the compiler versions),
  and what the ELF files link against: the system packages the build used, as this
  machine's package database names them (:mod:`srcstacks.tools.build_packages`);
- the build's environment variables from the build settings and srcstacks' own compiler
  variables, with this machine's paths replaced by fixed names.

Writes nothing; :mod:`srcstacks.state.wheel_sbom` turns the result into the wheel's SBOM.
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import sys
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from srcstacks import web
from srcstacks.state.build_record import REQUIREMENT_TYPES, BuildEnvironment, BuildTool
from srcstacks.state.dist_info import read_name_version, read_wheel_info
from srcstacks.state.elf import ELF_MAGIC, read_compilers
from srcstacks.tools.build_packages import packages_used_here

# Variables Fromager sets for every build from the machine (CPU count, the build
# environment's own paths): not build settings, and not the same from machine to machine.
_FROMAGER_RUNTIME_VARIABLES = frozenset(
    {"MAKEFLAGS", "CMAKE_BUILD_PARALLEL_LEVEL", "MAX_JOBS", "VIRTUAL_ENV", "PATH"}
)
# srcstacks' own compiler variables (tools.fromager.portable_build_env), in force for
# every build unless the build settings set them.
SRCSTACKS_COMPILER_VARIABLES = ("CPPFLAGS", "LDSHARED")


class ProbeError(RuntimeError):
    """The build environment could not be recorded exactly; the build must not pass."""


@dataclass(frozen=True)
class InstalledDist:
    """One distribution in the build environment, as its ``.dist-info`` says."""

    name: NormalizedName
    version: str
    build_tag: str
    tags: frozenset[str]
    requires: tuple[str, ...]
    dist_info: Path


def installed_dists(build_env: Path) -> list[InstalledDist]:
    """Every distribution installed in the virtual environment ``build_env``."""
    found = []
    for dist_info in sorted(build_env.glob("lib/python*/site-packages/*.dist-info")):
        metadata = read_name_version(
            (dist_info / "METADATA").read_text(encoding="utf-8", errors="replace")
        )
        wheel = read_wheel_info((dist_info / "WHEEL").read_text(encoding="utf-8", errors="replace"))
        found.append(
            InstalledDist(
                name=canonicalize_name(metadata.name),
                version=metadata.version,
                build_tag=wheel.build,
                tags=wheel.tags,
                requires=metadata.requires_dist,
                dist_info=dist_info,
            )
        )
    return found


def step_of_each(
    dists: Iterable[InstalledDist], direct: Mapping[str, list[Requirement]]
) -> dict[str, str]:
    """Which step installed each distribution: the first whose requirements reach it.

    ``direct`` maps each step (``build-system``, ...) to its requirements, as Fromager's
    ``<step>-requirements.txt`` lists them. Fromager installs the steps in that order,
    each with its dependencies, so a distribution belongs to the first step that needs it.
    """
    by_name = {dist.name: dist for dist in dists}
    steps: dict[str, str] = {}
    for step in REQUIREMENT_TYPES:
        seen: set[tuple[str, frozenset[str]]] = set()
        pending = [(req, frozenset(req.extras)) for req in direct.get(step, [])]
        while pending:
            req, extras = pending.pop()
            name = canonicalize_name(req.name)
            dist = by_name.get(name)
            if dist is None or (name, extras) in seen:
                continue
            seen.add((name, extras))
            steps.setdefault(name, step)
            pending.extend(_needed(dist, extras))
    return steps


Needed = list[tuple[Requirement, frozenset[str]]]


def _needed(dist: InstalledDist, extras: frozenset[str]) -> Needed:
    needed = []
    for text in dist.requires:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.marker is not None and not any(
            _applies(req, extra) for extra in ("", *sorted(extras))
        ):
            continue
        needed.append((req, frozenset(req.extras)))
    return needed


def _applies(req: Requirement, extra: str) -> bool:
    assert req.marker is not None
    try:
        return req.marker.evaluate({"extra": extra})
    except UndefinedEnvironmentName:
        return False


def read_requirement_files(build_dir: Path) -> dict[str, list[Requirement]]:
    """Fromager's ``<step>-requirements.txt`` files in ``build_dir``, by step."""
    found: dict[str, list[Requirement]] = {}
    for step in REQUIREMENT_TYPES:
        path = build_dir / f"{step}-requirements.txt"
        if not path.is_file():
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        found[step] = [Requirement(line) for line in lines if line.strip()]
    return found


class WheelServer:
    """The simple index a build environment was installed from; downloads are kept."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/") + "/"
        self._files: dict[str, bytes] = {}

    def wheel_of(self, dist: InstalledDist) -> tuple[str, bytes]:
        """The file name and bytes of the wheel ``dist`` was installed from."""
        page_url = web.project_page_url(self.url, dist.name)
        try:
            listed = web.project_files(page_url, unhashed=True)
        except web.WebError as exc:
            raise ProbeError(f"cannot read {page_url}: {exc.reason}") from None
        matches = {name: item.url for name, item in listed.items() if _is_wheel_of(name, dist)}
        if len(matches) != 1:
            raise ProbeError(
                f"{page_url} lists {len(matches)} wheels of {dist.name} {dist.version}"
                f" (build {dist.build_tag or 'none'}, tags {', '.join(sorted(dist.tags))}):"
                " the build environment's wheel cannot be named"
            )
        ((filename, url),) = matches.items()
        data = self._files.get(url)
        if data is None:
            data = self._files[url] = self._get(url)
        _check_installed_from(dist, filename, data)
        return filename, data

    @staticmethod
    def _get(url: str) -> bytes:
        try:
            return web.get(url).body
        except web.WebError as exc:
            raise ProbeError(f"cannot read {url}: {exc.reason}") from None


def _is_wheel_of(filename: str, dist: InstalledDist) -> bool:
    try:
        name, version, build, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    return (
        name == dist.name
        and _same_version(version, dist.version)
        and "".join(str(part) for part in build) == dist.build_tag
        and {str(tag) for tag in tags} == dist.tags
    )


def _same_version(version: Version, text: str) -> bool:
    try:
        return version == Version(text)
    except InvalidVersion:
        return False


def _check_installed_from(dist: InstalledDist, filename: str, data: bytes) -> None:
    """Every ``.dist-info`` file of the wheel is installed with the same bytes."""
    prefix = f"{dist.dist_info.name}/"
    skipped = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.namelist():
            if not member.startswith(prefix) or member.endswith("/"):
                continue
            relative = member[len(prefix) :]
            if relative in skipped:
                continue
            installed = dist.dist_info / relative
            if not installed.is_file() or installed.read_bytes() != archive.read(member):
                raise ProbeError(
                    f"{filename} on the wheel server is not what the build environment"
                    f" installed ({member} differs)"
                )


def build_tools(build_env: Path, build_dir: Path, server: WheelServer) -> tuple[BuildTool, ...]:
    """Every distribution in ``build_env`` as the wheel it was installed from."""
    dists = installed_dists(build_env)
    steps = step_of_each(dists, read_requirement_files(build_dir))
    tools = []
    for dist in dists:
        filename, data = server.wheel_of(dist)
        tools.append(
            BuildTool(
                name=dist.name,
                version=dist.version,
                filename=filename,
                sha256=hashlib.sha256(data).hexdigest(),
                # Installed by uv but asked for by no step's requirements: say so.
                requirement_type=steps.get(dist.name, "unrequested"),
                sha512=hashlib.sha512(data).hexdigest(),
            )
        )
    return tuple(tools)


def compilers_in(tree: Path) -> tuple[str, ...]:
    """The ``.comment`` strings of every ELF file below ``tree``, sorted, unique."""
    found: set[str] = set()
    for path in sorted(tree.rglob("*")):
        if path.is_file() and not path.is_symlink() and _starts_like_elf(path):
            found.update(read_compilers(path.read_bytes()))
    return tuple(sorted(found))


def _starts_like_elf(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(len(ELF_MAGIC)) == ELF_MAGIC


# The user's own home, which a build (run with a HOME of srcstacks' own) is told of so
# that the paths below it are still written as ``<home>`` (tools.fromager.build_home_env).
USER_HOME_VARIABLE = "SRCSTACKS_USER_HOME"


def machine_paths(work_dir: Path, extra: Iterable[tuple[Path, str]] = ()) -> list[tuple[str, str]]:
    """This machine's paths a flag may hold, each with the name it is written as."""
    named = [
        (work_dir, "<work-dir>"),
        (Path(sys.base_prefix), "<python>"),
        (Path(sys.prefix), "<python-env>"),
        *extra,
    ]
    # A build runs with a HOME of srcstacks' own; the user's is named beside it.
    user_home = os.environ.get(USER_HOME_VARIABLE) or os.environ.get("HOME")
    if user_home and user_home != "/":
        named.append((Path(user_home), "<home>"))
    home = os.environ.get("HOME")
    if home and home not in ("/", user_home):
        named.append((Path(home), "<build-home>"))
    pairs = {str(path.absolute()): name for path, name in named}
    # The longest first: a work dir inside the home folder keeps its own name.
    return sorted(pairs.items(), key=lambda pair: len(pair[0]), reverse=True)


def portable_value(value: str, paths: list[tuple[str, str]]) -> str:
    """``value`` with every path of ``paths`` replaced by its name."""
    for path, name in paths:
        value = value.replace(path, name)
    return value


def build_flags(
    extra_environ: Mapping[str, str],
    process_env: Mapping[str, str],
    paths: list[tuple[str, str]],
) -> dict[str, str]:
    """The variables the build settings set, and srcstacks' compiler variables, portable."""
    env = {
        key: value
        for key, value in extra_environ.items()
        if key not in _FROMAGER_RUNTIME_VARIABLES and not key.startswith("UV_")
    }
    for key in SRCSTACKS_COMPILER_VARIABLES:
        if key not in env and key in process_env:
            env[key] = process_env[key]
    return {key: portable_value(value, paths) for key, value in sorted(env.items())}


def probe(
    *,
    build_env: Path,
    build_dir: Path,
    wheel_tree: Path,
    server: WheelServer,
    extra_environ: Mapping[str, str],
    paths: list[tuple[str, str]],
) -> BuildEnvironment:
    """The whole build environment of one build, run inside Fromager: the builder is the
    interpreter running it and its Fromager."""
    return BuildEnvironment(
        tools=build_tools(build_env, build_dir, server),
        compilers=compilers_in(wheel_tree),
        env=build_flags(extra_environ, os.environ, paths),
        python=platform.python_version(),
        fromager=metadata.version("fromager"),
        system_packages=packages_used_here(wheel_tree),
    ).normalised()
