"""Which private index a stack publishes to and locks against, and as whom.

Reads the config's ``[tool.srcstacks.index]`` (or ``--index``) and, for a managed index,
the credentials file srcstacks keeps in its state folder; writes nothing. ``None``
means the stack has no index: the wheel dir alone is the home of its wheels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from srcstacks.config import StackConfig
from srcstacks.errors import PrivateIndexError
from srcstacks.layout import Layout
from srcstacks.private_index import Credentials, IndexLocation
from srcstacks.tools.venvstacks import WheelSource

# The account and index layout of a managed index: one index per variant, so two
# variants' builds of one project version never meet.
MANAGED_USER = "srcstacks"
CREDENTIALS_NAME = "credentials.json"


@dataclass(frozen=True)
class IndexTarget:
    """An index and the credentials to upload to it (None: read only)."""

    location: IndexLocation
    credentials: Credentials | None
    managed: bool = False


def managed_base_url(port: int, variant: str) -> str:
    """The base URL of a managed index: loopback, one index per variant."""
    return f"http://127.0.0.1:{port}/{MANAGED_USER}/{variant}/"


def index_target(config: StackConfig) -> IndexTarget | None:
    """The stack's index, or None when it has none."""
    settings = config.index
    if settings is None:
        return None
    if settings.url is not None:
        return IndexTarget(IndexLocation.parse(settings.url), Credentials.from_environment())
    location = IndexLocation.parse(managed_base_url(settings.port, config.variant))
    return IndexTarget(location, _managed_credentials(config), managed=True)


def _managed_credentials(config: StackConfig) -> Credentials | None:
    path = Layout.of(config).index_state / CREDENTIALS_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Credentials(MANAGED_USER, str(data["password"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PrivateIndexError(
            f"{path}: unreadable credentials of the managed index ({type(exc).__name__})"
        ) from None


def wheel_source(config: StackConfig) -> WheelSource:
    """Where venvstacks takes the stack's wheels from: its index if it has one."""
    target = index_target(config)
    return WheelSource(config.wheel_dir, target.location.simple_url if target else None)
