"""Before locking: the wheels of requirements that only other platforms need.

Reads the spec's layers (their ``elsewhere`` requirements, whose marker is true only on
platforms this machine does not build) and the wheel dir's provenance; writes nothing.
venvstacks 0.8.0b2 locks every layer with ``uv lock``, which resolves for every platform
whatever a layer's ``platforms`` say, and srcstacks gives it the wheel dir (or private
index) as its only source: a requirement such as ``dlltracer; sys_platform == "win32"``
needs a wheel there, built on a host of such a platform and collected, or venvstacks
stops with "Failed to lock layer" and the cause only in its log. This check says so
first, naming the layer, the requirement and the platforms.
"""

from __future__ import annotations

from packaging.utils import canonicalize_name

from srcstacks.config import StackConfig
from srcstacks.errors import OtherPlatformWheelError
from srcstacks.provenance import Manifest
from srcstacks.spec_rules import BUILD_PLATFORM, platforms_needing


def check_other_platform_wheels(config: StackConfig, manifest: Manifest) -> None:
    """Refuse to lock when a requirement only other platforms need has no wheel."""
    published = {record.project for record in manifest.wheels.values()}
    for layer in config.layers:
        runtime = next(item for item in config.stack_of(layer) if item.python_implementation)
        for requirement in layer.elsewhere:
            if canonicalize_name(requirement.name) in published:
                continue
            assert requirement.marker is not None  # elsewhere requirements have one
            where = platforms_needing(requirement.marker, str(runtime.python_implementation))
            raise OtherPlatformWheelError(
                f"{config.spec_path}: {layer.kind} layer {layer.name!r}: requirement"
                f" '{requirement}' applies only on {', '.join(where)}, not on this"
                f" machine's {BUILD_PLATFORM}, so it is not built here, and"
                f" {config.wheel_dir} holds no wheel of {requirement.name}; venvstacks"
                " locks every layer for every platform and needs one: build it on a host"
                " of such a platform and add it to the wheel dir, or remove the requirement"
            )
