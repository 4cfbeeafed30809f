"""Before locking: the wheels of requirements that only other platforms need.

Reads the spec's layers (their ``elsewhere`` requirements, whose marker is true only on
platforms this machine does not build), uv's ``environments`` setting (``[tool.uv]`` in
the spec, else ``venvstacks.uv.toml`` beside it, where venvstacks reads it) and the
wheel dir's provenance; writes nothing.

venvstacks 0.8.0b2 locks every layer with ``uv lock``, which resolves for every platform
whatever the layers' ``platforms`` say, and srcstacks gives it the wheel dir (or private
index) as its only source: a requirement such as ``dlltracer; sys_platform == "win32"``
needs a wheel there, built on a host of such a platform and collected, or venvstacks
stops with "Failed to lock layer" and the cause only in its log. uv's ``environments``
limits that resolution (``["sys_platform == 'linux'"]``): a requirement whose marker is
false in all of them needs no wheel. This check says which case it is before locking.
"""

from __future__ import annotations

from pathlib import Path

from packaging.markers import InvalidMarker, Marker
from packaging.utils import canonicalize_name

from srcstacks.errors import ConfigError, OtherPlatformWheelError
from srcstacks.spec.config import StackConfig
from srcstacks.spec.rules import (
    BUILD_PLATFORM,
    UPLOAD_TIME_SETTINGS,
    environment_markers,
    platforms_needing,
)
from srcstacks.spec.uv_settings import uv_settings
from srcstacks.state.provenance import Manifest


def check_other_platform_wheels(config: StackConfig, manifest: Manifest) -> None:
    """Refuse to lock when a requirement only other platforms need has no wheel."""
    published = {record.project for record in manifest.wheels.values()}
    locked_for = lock_environments(config)
    for layer in config.layers:
        environments = locked_for[layer.env_name]
        runtime = next(item for item in config.stack_of(layer) if item.python_implementation)
        for requirement in layer.elsewhere:
            if canonicalize_name(requirement.name) in published:
                continue
            assert requirement.marker is not None  # elsewhere requirements have one
            needing = platforms_needing(
                requirement.marker, str(runtime.python_implementation), environments
            )
            if not needing:  # uv's environments leave it out of the lock
                continue
            platforms = dict.fromkeys(item.rpartition(" on ")[2] for item in needing)
            raise OtherPlatformWheelError(
                f"{config.spec_path}: {layer.kind} layer {layer.name!r}: requirement"
                f" '{requirement}' applies only on {', '.join(platforms)}, not on this"
                f" machine's {BUILD_PLATFORM}, so it is not built here, and"
                f" {config.wheel_dir} holds no wheel of {requirement.name}; venvstacks"
                " locks for every platform the layer targets and needs one: add one built"
                " on a host of such a platform to the wheel dir, leave those platforms out"
                " of the layer's 'platforms', or remove the requirement"
            )


def lock_environments(config: StackConfig) -> dict[str, list[Marker]]:
    """What ``uv lock`` resolves each layer for, by env name (empty: every platform): the
    spec's own ``[tool.uv] environments`` when it sets them, else those of the platforms
    the layer targets, which srcstacks writes into the layer's lock project
    (:mod:`srcstacks.tools.venvstacks_main`)."""
    spec_wide = uv_environments(config.spec_path)
    return {
        layer.env_name: spec_wide or [Marker(m) for m in environment_markers(layer.platforms)]
        for layer in config.layers
    }


def ignored_upload_time_settings(spec_path: Path) -> list[str]:
    """``<file>: '<key>'`` of each upload-time filter the spec's uv settings set."""
    uv = uv_settings(spec_path)
    return [f"{uv.origin}: {uv.key(key)}" for key in UPLOAD_TIME_SETTINGS if key in uv.values]


def uv_environments(spec_path: Path) -> list[Marker]:
    """uv's ``environments`` as venvstacks passes them on (empty: every platform)."""
    uv = uv_settings(spec_path)
    origin, key = uv.origin, uv.key("environments")
    value = uv.values.get("environments", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{origin}: {key} must be a list of environment markers")
    try:
        return [Marker(item) for item in value]
    except InvalidMarker as exc:
        reason = str(exc).splitlines()[0]
        raise ConfigError(f"{origin}: {key} holds an invalid marker: {reason}") from None
