"""``[tool.srcstacks] xz_preset``: how hard venvstacks compresses the layer archives.

venvstacks writes every layer archive as ``tar.xz`` at xz's default preset, 6. Preset 1
compresses a layer about 7 times faster for archives about 16% larger (the demo's runtime
layer: 1.7 s and 6.3 MB against 12.9 s and 5.4 MB); on a stack of machine-learning
frameworks, gigabytes each, that is minutes per build. The preset is part of every
layer archive's inputs (it is in ``[tool.srcstacks]``), so changing it builds them again.

Parsed here when the spec is read (:mod:`srcstacks.spec.config`); the archives stage hands
it to venvstacks through :data:`XZ_PRESET_VARIABLE` (:mod:`srcstacks.tools.venvstacks_main`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from srcstacks.errors import ConfigError

XZ_PRESET_KEY = "xz_preset"
DEFAULT_XZ_PRESET = 6  # xz's own default, which venvstacks uses
XZ_PRESET_VARIABLE = "SRCSTACKS_XZ_PRESET"


def parse_xz_preset(spec_path: Path, table: Mapping[str, Any]) -> int:
    """The preset ``[tool.srcstacks]`` sets (its type was checked by the caller)."""
    preset = table.get(XZ_PRESET_KEY, DEFAULT_XZ_PRESET)
    if isinstance(preset, bool) or not 0 <= preset <= 9:
        raise ConfigError(
            f"{spec_path}: 'tool.srcstacks.{XZ_PRESET_KEY}' must be a number from 0 (fastest)"
            f" to 9 (smallest archives), not {preset!r}"
        )
    return int(preset)
