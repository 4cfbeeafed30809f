"""Which private index a stack publishes to and locks against, and as whom.

Reads the config's ``[tool.srcstacks.index]`` (or ``--index``) and, for a managed index,
the credentials file and port :mod:`managed_index` keeps in its state folder; writes
nothing. ``None`` means the stack has no index: the wheel dir alone is the home of its wheels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from srcstacks.errors import StateError
from srcstacks.index.managed import INDEX_USER, managed_url, recorded_port, stored_password
from srcstacks.index.private import (
    IndexLocation,
    credentials_from_environment,
)
from srcstacks.layout import Layout
from srcstacks.spec.config import StackConfig
from srcstacks.tools.pylock_urls import PORTABLE_BASE, portable
from srcstacks.tools.venvstacks import WheelSource
from srcstacks.web import Credentials


@dataclass(frozen=True)
class IndexTarget:
    """An index and the credentials to upload to it (None: read only)."""

    location: IndexLocation
    credentials: Credentials | None


def index_target(config: StackConfig) -> IndexTarget | None:
    """The stack's index, or None when it has none."""
    settings = config.index
    if settings is None:
        return None
    if settings.url is not None:
        return IndexTarget(IndexLocation.parse(settings.url), credentials_from_environment())
    state_dir = Layout.of(config).index_state
    port = recorded_port(state_dir) or settings.port
    if port is None:
        raise StateError(
            f"the managed index has not run yet ({state_dir} records no port): run"
            " 'srcstacks build' or 'srcstacks index serve'"
        )
    location = IndexLocation.parse(managed_url(port, managed_index_name(config)))
    password = stored_password(state_dir)
    return IndexTarget(location, Credentials(INDEX_USER, password) if password else None)


def managed_index_name(config: StackConfig) -> str:
    """The managed index of this stack: one per variant, so two variants' builds of one
    project version never meet, and one apart for selective mode, whose upstream binaries
    a full-mode stack's lock must never be offered (uv would take them)."""
    return f"{config.variant}-selective" if config.mode.selective else config.variant


def wheel_source(wheel_dir: Path, target: IndexTarget | None) -> WheelSource:
    """Where venvstacks takes the stack's wheels from: its index, if it has one."""
    if target is None:
        return WheelSource(wheel_dir)
    return WheelSource(wheel_dir, target.location.simple_url, target.location.base_url)


def locked_index_url(config: StackConfig) -> str | None:
    """The index as the committed locks name it (no host, no port), or None without one.

    Known without the index running: a managed index is devpi's ``.../+simple/``.
    """
    settings = config.index
    if settings is None:
        return None
    location = IndexLocation.parse(settings.url or PORTABLE_BASE)
    return portable(location.simple_url, location.base_url)
