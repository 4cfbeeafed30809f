"""venvstacks' target platforms: their names, uv's names, their wheel tags, and each
layer's declared ``platforms``.

Reads the stack spec's ``platforms`` keys (a small reader of its own until the spec
parser exposes them) and nothing else; writes nothing. The names and defaults are
venvstacks 0.8.0b2's (``venvstacks.stacks.TargetPlatform``): a runtime that declares no
``platforms`` targets all six; a framework or application that declares none targets
what every layer below it targets, and may only name platforms those layers target.
"""

from __future__ import annotations

import functools
import platform as host_platform
import sysconfig
from dataclasses import dataclass

from packaging import tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from srcstacks.errors import ConfigError
from srcstacks.spec.config import Layer, StackConfig

# venvstacks' TargetPlatform values, sorted as venvstacks sorts them.
TARGET_PLATFORMS: tuple[str, ...] = (
    "linux_aarch64",
    "linux_x86_64",
    "macosx_arm64",
    "macosx_x86_64",
    "win_amd64",
    "win_arm64",
)

# What venvstacks passes to uv as --python-platform for each (no linux_target and no
# macosx_target set: glibc Linux, uv's default macOS deployment target).
UV_PLATFORMS: dict[str, str] = {
    "linux_aarch64": "aarch64-unknown-linux-gnu",
    "linux_x86_64": "x86_64-unknown-linux-gnu",
    "macosx_arm64": "aarch64-apple-darwin",
    "macosx_x86_64": "x86_64-apple-darwin",
    "win_amd64": "x86_64-pc-windows-msvc",
    "win_arm64": "aarch64-pc-windows-msvc",
}

# The newest glibc and macOS versions a wheel may require and still count for a
# platform: uv's x86_64-unknown-linux-gnu stands for manylinux_2_28, and its macOS
# targets for macOS 13.0 (the oldest release Apple still supported when uv chose it).
GLIBC = (2, 28)
MACOS = (13, 0)


@functools.cache
def platform_tags(target: str, python_version: str) -> frozenset[tags.Tag]:
    """Every wheel tag CPython ``X.Y`` accepts on ``target`` (a venvstacks platform name).

    CPython's own ABI, abi3 of every earlier 3.x, ``none`` for the interpreter and for
    ``py3``, and ``any``: as pip and uv match them, for the platform tags of ``target``.
    """
    return frozenset(ordered_platform_tags(target, python_version))


@functools.cache
def ordered_platform_tags(target: str, python_version: str) -> tuple[tags.Tag, ...]:
    """:func:`platform_tags`, most preferred first, as pip and uv rank them."""
    major, minor = (int(part) for part in python_version.split(".")[:2])
    version = (major, minor)
    platforms = _platform_names(target)
    interpreter = f"cp{major}{minor}"
    return tuple(
        dict.fromkeys(
            [
                *tags.cpython_tags(version, abis=[interpreter], platforms=platforms),
                *tags.compatible_tags(version, interpreter, platforms),
            ]
        )
    )


def best_wheel(filenames: list[str], target: str, python_version: str) -> str | None:
    """The wheel of ``filenames`` an installer on ``target`` prefers, or None if none fits."""
    rank = {tag: index for index, tag in enumerate(ordered_platform_tags(target, python_version))}
    best: tuple[int, str] | None = None
    for filename in filenames:
        try:
            _name, _version, _build, wheel_tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            continue
        score = min((rank[tag] for tag in wheel_tags if tag in rank), default=None)
        if score is not None and (best is None or (score, filename) < best):
            best = (score, filename)
    return None if best is None else best[1]


def _platform_names(target: str) -> list[str]:
    system, _, machine = target.partition("_")
    if system == "linux":
        # Fromager's own wheels carry the plain linux tag, which uv installs on glibc.
        many = [f"manylinux_{GLIBC[0]}_{minor}_{machine}" for minor in range(GLIBC[1], 16, -1)]
        legacy = {"x86_64": ["manylinux2014", "manylinux2010", "manylinux1"]}.get(
            machine, ["manylinux2014"]
        )
        return [*many, *(f"{name}_{machine}" for name in legacy), f"linux_{machine}"]
    if system == "macosx":
        return list(tags.mac_platforms(MACOS, machine))
    return [target]  # win_amd64, win_arm64: the tag is the name


def wheel_fits(filename: str, accepted: frozenset[tags.Tag]) -> bool:
    """Whether the wheel ``filename`` carries a tag in ``accepted``; False if not a wheel."""
    try:
        _name, _version, _build, wheel_tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    return not wheel_tags.isdisjoint(accepted)


def layer_python_version(config: StackConfig, layer: Layer) -> str:
    """``X.Y`` of the runtime ``layer`` runs on."""
    runtime = next(item for item in config.stack_of(layer) if item.kind == "runtime")
    version = runtime.python_version or ""
    return ".".join(version.split(".")[:2])


def fits_here(config: StackConfig, layer: Layer, filename: str) -> bool:
    """Whether the wheel ``filename`` is one ``layer`` installs on this machine's platform.

    A lock holds a layer's wheels for every platform it targets (selective mode fetches
    each platform's); the archive built here holds only those that fit here.
    """
    return wheel_fits(
        filename, platform_tags(build_platform(), layer_python_version(config, layer))
    )


def build_platform() -> str:
    """This machine's venvstacks platform name, worked out as venvstacks does."""
    name = sysconfig.get_platform().lower()
    if name.startswith("macosx"):
        name = f"macosx_{host_platform.machine()}"
    return name.replace("-", "_")


@dataclass(frozen=True)
class DeclaredPlatforms:
    """The platforms each layer targets, by env name, and whether the spec named them."""

    by_layer: dict[str, tuple[str, ...]]

    def of(self, layer: Layer) -> tuple[str, ...]:
        """The platforms ``layer`` targets."""
        return self.by_layer[layer.env_name]

    def targeted(self, origin: str, wanted: list[str]) -> DeclaredPlatforms:
        """:meth:`narrowed` to ``wanted``, each of which some layer must target, else a
        ConfigError (from ``origin``) naming the platforms the stack targets."""
        targets = {target for targets in self.by_layer.values() for target in targets}
        for name in check_platform_names(origin, wanted):
            if name not in targets:
                raise ConfigError(
                    f"{origin} {name}: no layer of this stack targets it (its layers"
                    f" target: {', '.join(p for p in TARGET_PLATFORMS if p in targets)})"
                )
        return self.narrowed(wanted)

    def narrowed(self, wanted: list[str]) -> DeclaredPlatforms:
        """Only the platforms in ``wanted``, for every layer."""
        return DeclaredPlatforms(
            {
                name: tuple(p for p in targets if p in wanted)
                for name, targets in self.by_layer.items()
            }
        )


def declared_platforms(config: StackConfig) -> DeclaredPlatforms:
    """Every layer's target platforms, as the spec reader worked them out
    (:mod:`srcstacks.spec.layers`: its ``platforms``, else those of the layers below it,
    every platform for a runtime that names none; unknown or uninherited names are
    refused there), in this module's order."""
    return DeclaredPlatforms(
        {
            layer.env_name: tuple(p for p in TARGET_PLATFORMS if p in layer.platforms)
            for layer in config.layers
        }
    )


def check_platform_names(origin: str, names: list[str]) -> list[str]:
    """``names`` if each is a venvstacks platform, else a ConfigError naming the accepted."""
    for name in names:
        if name not in TARGET_PLATFORMS:
            raise ConfigError(
                f"{origin}: unknown platform {name!r} (accepted: {', '.join(TARGET_PLATFORMS)})"
            )
    return names
