"""What the report says about the parts of the stack other build hosts build.

Reads the spec's layers (``platforms`` that leave out this machine's, and requirements
whose marker is true only on other platforms, :attr:`Layer.elsewhere`), the layers'
lock files (``requirements/<layer>/pylock.*.toml``: whether venvstacks locked them here)
and the provenance manifest (which wheels of those requirements the wheel dir holds,
and the host that built each). Writes nothing.
"""

from __future__ import annotations

from packaging.utils import canonicalize_name

from srcstacks.errors import StageOrderError
from srcstacks.report.model import LayerElsewhere, OtherPlatformRequirement
from srcstacks.spec.config import StackConfig
from srcstacks.state.lock_files import lock_file_path
from srcstacks.state.provenance import Manifest


def layers_elsewhere(config: StackConfig) -> tuple[LayerElsewhere, ...]:
    """Each layer whose ``platforms`` leave out this machine's, in spec order."""
    return tuple(
        LayerElsewhere(
            name=layer.env_name,
            kind=layer.kind,
            platforms=layer.platforms,
            lock_file=_lock_file(config, layer.env_name),
        )
        for layer in config.layers_elsewhere
    )


def other_platform_requirements(
    config: StackConfig, manifest: Manifest
) -> tuple[OtherPlatformRequirement, ...]:
    """Each requirement only other platforms need, with the wheels the wheel dir holds."""
    found = []
    for layer in config.layers:
        for requirement in layer.elsewhere:
            project = canonicalize_name(requirement.name)
            wheels = tuple(
                record.filename + (f" (built on {record.host.name})" if record.host else "")
                for name, record in sorted(manifest.wheels.items())
                if record.project == project
            )
            found.append(OtherPlatformRequirement(layer.env_name, str(requirement), wheels))
    return tuple(found)


def _lock_file(config: StackConfig, env_name: str) -> str:
    """The layer's lock file relative to the spec's folder; "" when it is not locked."""
    try:
        path = lock_file_path(config, env_name)
    except StageOrderError:
        return ""
    return path.relative_to(config.spec_dir).as_posix()
