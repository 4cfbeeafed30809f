"""Rules the stack spec's text must follow before any of it is used as a path or passed on.

Reads only the parsed spec (and ``venvstacks.uv.toml`` beside it); every rule raises a
:class:`ConfigError` naming the spec file, the layer and the key. They run when the spec
is read, so bad text stops a run before anything is built, written or deleted.

- Layer names and ``python_implementation`` become folder names (venvstacks' build
  dir, ``requirements/<layer>/``, the seeded runtime), so each must be one plain path
  component. venvstacks 0.8.0b2 itself only refuses runtime names with a reserved
  ``framework-``/``app-`` prefix and reads ``python_implementation`` as
  ``implementation@X.Y.Z``; srcstacks adds the path rule and, since its wheels are built
  by CPython, accepts only ``cpython@X.Y.Z``.
- ``launch_module`` / ``support_modules`` are paths relative to the spec's folder (one
  may lead beside it: they are only read).
- Requirements: a direct URL (``pkg @ https://...``) bypasses the sdist index and its
  hash check, so it is refused. A requirement whose marker is false on linux_x86_64
  with the layer's runtime Python is left out of the Fromager build; when it is true on
  another platform, the lock stage needs a wheel of it collected from a host of that
  platform (venvstacks' lock covers every platform), and says so before locking.
- ``platforms`` and ``versioned`` are checked as venvstacks reads them: known platform
  names, each one the layers below are built for; true or false.
- Index settings (``[tool.uv]`` index, find-links and sources keys; per-layer
  ``package_indexes``, ``priority_indexes``, ``index_overrides``) are refused: the wheel
  dir is the only source of wheels.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from packaging.markers import Marker
from packaging.requirements import Requirement

from srcstacks.errors import ConfigError

# One folder-name component: what venvstacks' sample specs use ("cpython@3.11", "web").
_LAYER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
# venvstacks' prefixes for framework and application env names, reserved for them.
_RESERVED_PREFIXES = ("framework-", "app-")
_PYTHON_IMPLEMENTATION = re.compile(r"^cpython@\d+\.\d+\.\d+$")

# The only platform srcstacks builds wheels for, and every platform venvstacks 0.8.0b2
# locks for (its TargetPlatform values): `uv lock` resolves for all of them.
BUILD_PLATFORM = "linux_x86_64"
TARGET_PLATFORMS = (
    "linux_x86_64",
    "linux_aarch64",
    "macosx_arm64",
    "macosx_x86_64",
    "win_amd64",
    "win_arm64",
)
_PLATFORM_KEYS = {
    "linux": {"os_name": "posix", "sys_platform": "linux", "platform_system": "Linux"},
    "macosx": {"os_name": "posix", "sys_platform": "darwin", "platform_system": "Darwin"},
    "win": {"os_name": "nt", "sys_platform": "win32", "platform_system": "Windows"},
}
_MACHINES = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "arm64", "amd64": "AMD64"}
_WINDOWS_MACHINES = {"arm64": "ARM64"}  # what Windows on ARM reports as platform.machine()

# uv settings that add or change where packages come from.
_UV_INDEX_KEYS = (
    "index",
    "index-url",
    "extra-index-url",
    "find-links",
    "no-index",
    "index-strategy",
    "sources",
)
_LAYER_INDEX_KEYS = ("package_indexes", "priority_indexes", "index_overrides")
UV_CONFIG_NAME = "venvstacks.uv.toml"


def check_layer_name(where: str, kind: str, name: str) -> None:
    """Refuse a layer name that is not one plain folder name, or uses a reserved prefix."""
    if not _LAYER_NAME.match(name) or ".." in name:
        raise ConfigError(
            f"{where}: 'name' {name!r} must be one folder name: letters, digits, '.', '_',"
            " '@', '+' or '-', starting with a letter or digit, no '/' or '..'"
        )
    if kind == "runtime" and name.startswith(_RESERVED_PREFIXES):
        raise ConfigError(
            f"{where}: 'name' {name!r} starts with a prefix venvstacks reserves"
            f" ({', '.join(_RESERVED_PREFIXES)})"
        )


def check_python_implementation(where: str, value: Any) -> str:
    """``cpython@X.Y.Z``, the form venvstacks reads; anything else is refused."""
    if not isinstance(value, str) or not _PYTHON_IMPLEMENTATION.match(value):
        raise ConfigError(
            f"{where}: 'python_implementation' must look like 'cpython@3.11.7'"
            f" (CPython, full version), not {value!r}"
        )
    return value


def check_versioned(where: str, value: Any) -> bool:
    """venvstacks' ``versioned`` flag: true or false, nothing else."""
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: 'versioned' must be true or false, not {value!r}")
    return value


def check_platforms(
    where: str, value: Any, allowed: tuple[str, ...], allowed_by: str
) -> tuple[str, ...]:
    """A layer's ``platforms``: known venvstacks target platforms, each one ``allowed``
    (those of the layers below it); unset means every allowed one, as in venvstacks."""
    if value is None:
        return allowed
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}: 'platforms' must be a list of platform names")
    for platform in value:
        if platform not in TARGET_PLATFORMS:
            raise ConfigError(
                f"{where}: 'platforms' names unknown platform {platform!r}"
                f" (venvstacks knows {', '.join(TARGET_PLATFORMS)})"
            )
        if platform not in allowed:
            raise ConfigError(
                f"{where}: 'platforms' names {platform!r}, which {allowed_by} are not built"
                f" for (they are built for {', '.join(allowed) or 'no platform'})"
            )
    return tuple(platform for platform in TARGET_PLATFORMS if platform in value)


def check_module_paths(where: str, spec_dir: Path, entry: Mapping[str, Any]) -> None:
    """``launch_module`` and ``support_modules`` must name files relative to the spec folder.

    They are only read (venvstacks copies each into the layer under its own file name),
    so one may lie beside the spec's folder, as in venvstacks' own sample project
    (``../minimal_project/empty.py``); an absolute path would tie the spec to one machine.
    """
    launch = entry.get("launch_module")
    if not isinstance(launch, str) or not launch:
        raise ConfigError(f"{where}: 'launch_module' must be a path relative to the spec")
    support = entry.get("support_modules", [])
    if not isinstance(support, list) or not all(isinstance(item, str) for item in support):
        raise ConfigError(f"{where}: 'support_modules' must be a list of paths")
    for key, value in [("launch_module", launch), *(("support_modules", s) for s in support)]:
        # venvstacks joins the text onto the spec's folder without resolving links.
        root = Path(os.path.normpath(spec_dir))
        if Path(value).is_absolute() or Path(os.path.normpath(root / value)) == root:
            raise ConfigError(
                f"{where}: '{key}' {value!r} must name a file relative to the spec's folder"
            )


def check_no_layer_indexes(where: str, entry: Mapping[str, Any]) -> None:
    """Per-layer index settings would let venvstacks lock wheels from an index."""
    for key in _LAYER_INDEX_KEYS:
        if key in entry:
            raise ConfigError(
                f"{where}: '{key}' is not allowed: srcstacks locks against its wheel dir"
                " only, so a layer cannot name package indexes"
            )


# uv settings that filter by a file's upload time to its index. Every wheel srcstacks
# locks was uploaded to its own wheel dir or index when it was built, so they would
# filter out what this very run built; the lock projects never get them
# (srcstacks.tools.venvstacks_main) and the lock stage says so.
UPLOAD_TIME_SETTINGS = ("exclude-newer", "exclude-newer-package")


def check_no_uv_indexes(spec_path: Path, data: Mapping[str, Any]) -> None:
    """Refuse index, find-links and sources settings in ``[tool.uv]`` and venvstacks.uv.toml.

    venvstacks copies these into every layer's lock project; srcstacks passes
    ``--no-index`` and its wheel dir, and nothing else may add a source of wheels.
    """
    tool = data.get("tool")
    uv = tool.get("uv") if isinstance(tool, Mapping) else None
    if isinstance(uv, Mapping):
        _check_uv_table(str(spec_path), "tool.uv", uv)
    uv_config = spec_path.parent / UV_CONFIG_NAME
    if uv_config.is_file():
        try:
            uv_data = tomllib.loads(uv_config.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{uv_config}: unreadable uv settings: {exc}") from None
        _check_uv_table(str(uv_config), "", uv_data)


def _check_uv_table(origin: str, prefix: str, table: Mapping[str, Any]) -> None:
    for sub, values in (("", table), ("pip", table.get("pip"))):
        if not isinstance(values, Mapping):
            continue
        for key in _UV_INDEX_KEYS:
            if key in values:
                name = ".".join(part for part in (prefix, sub, key) if part)
                raise ConfigError(
                    f"{origin}: '{name}' is not allowed: it adds or changes a package"
                    " source, and srcstacks locks against its wheel dir only"
                )


def marker_environment(python_implementation: str, platform: str) -> dict[str, str]:
    """The marker environment of ``cpython@X.Y.Z`` on a venvstacks target platform."""
    implementation, _, version = python_implementation.partition("@")
    system, _, machine = platform.partition("_")
    return {
        "implementation_name": implementation,
        "platform_python_implementation": {"cpython": "CPython", "pypy": "PyPy"}[implementation],
        "python_version": version.rpartition(".")[0],
        "python_full_version": version,
        "implementation_version": version,
        **_PLATFORM_KEYS[system],
        "platform_machine": _machine(system, machine),
        "extra": "",
    }


def _machine(system: str, machine: str) -> str:
    if system == "win":
        return _WINDOWS_MACHINES.get(machine, _MACHINES[machine])
    return _MACHINES[machine]


def environment_markers(platforms: Sequence[str]) -> tuple[str, ...]:
    """uv ``environments`` that limit a lock to ``platforms`` (none for all six: uv's
    default, a universal lock), in venvstacks' platform order."""
    if set(TARGET_PLATFORMS) <= set(platforms):
        return ()
    markers = []
    for target in sorted(set(platforms) & set(TARGET_PLATFORMS)):
        system, _, machine = target.partition("_")
        markers.append(
            f"sys_platform == '{_PLATFORM_KEYS[system]['sys_platform']}'"
            f" and platform_machine == '{_machine(system, machine)}'"
        )
    return tuple(markers)


def applies_to_build(requirement: Requirement, python_implementation: str) -> bool:
    """Whether ``requirement`` applies on linux_x86_64 with the layer's runtime Python."""
    marker = requirement.marker
    return marker is None or marker.evaluate(
        marker_environment(python_implementation, BUILD_PLATFORM)
    )


def platforms_needing(
    marker: Marker, python_implementation: str, within: Sequence[Marker] = ()
) -> list[str]:
    """The platforms (and implementations) venvstacks locks for where ``marker`` is true.

    ``uv lock`` resolves for every platform and implementation, and for every patch
    release the layer's ``requires-python`` (``==X.Y.*``) allows; ``within``: uv's
    ``environments`` setting, which limits that to where one of them is true.
    """
    version = python_implementation.partition("@")[2]
    minor = version.rpartition(".")[0]
    found: list[str] = []
    for platform in TARGET_PLATFORMS:
        for implementation in ("cpython", "pypy"):
            for full in (f"{minor}.0", version, f"{minor}.99"):
                env = marker_environment(f"{implementation}@{full}", platform)
                wanted = not within or any(limit.evaluate(env) for limit in within)
                if wanted and marker.evaluate(env):
                    found.append(f"{implementation} on {platform}")
                    break
    return list(dict.fromkeys(found))


RequirementUse = Literal["built", "never", "elsewhere"]


def check_requirement(
    where: str, requirement: Requirement, python_implementation: str
) -> RequirementUse:
    """Refuse a URL requirement; say where the others are needed.

    ``built``: it applies here, Fromager builds it. ``never``: its marker is false
    wherever venvstacks locks, so uv drops it and no wheel is needed. ``elsewhere``: it
    applies only on other platforms; it is not built here, and the lock stage needs a
    wheel of it from a host of such a platform (venvstacks locks for all of them).
    """
    if requirement.url:
        raise ConfigError(
            f"{where}: requirement '{requirement}' is a direct URL; srcstacks builds only"
            " from sdists on an index, checked against their published sha256"
        )
    if applies_to_build(requirement, python_implementation):
        return "built"
    assert requirement.marker is not None
    return "elsewhere" if platforms_needing(requirement.marker, python_implementation) else "never"
