"""The build tag of a wheel built with patches or build settings: it names those inputs.

A published wheel is never replaced: an index refuses other bytes under a file name it
holds. So a wheel rebuilt after its patch, its settings file or the variant changed
must have a name of its own. Fromager's build tag counts the settings' ``changelog``
entries (``0`` with none); for a project with patches or a settings file srcstacks adds
a digest of them, after an underscore:

    markupsafe-3.0.4-0_4f1c9a2e-cp311-cp311-linux_x86_64.whl

The same inputs always give the same tag, so a rebuild is still bit for bit, and going
back to an earlier patch names (and fetches) the earlier wheel again. The digest covers
what :func:`srcstacks.build.inputs.inputs_of` records: the variant, each patch
that applies to that version (name and sha256), the settings file's sha256. A project
with neither keeps Fromager's tag alone. A tag's order means nothing to srcstacks: a
lock takes the wheel this stack published, whatever other builds an index holds.

Reads the patches and settings folders; imports nothing Fromager's environment lacks,
since :mod:`srcstacks.tools.fromager_main` computes the tag inside Fromager.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from packaging.utils import canonicalize_name

from srcstacks.fsutil import sha256_file
from srcstacks.spec.patches import applicable_patches

DIGEST_LENGTH = 8  # hex digits: enough to tell a project version's few builds apart


def inputs_suffix(
    variant: str, patches_dir: Path, settings_dir: Path, project: str, version: str
) -> str:
    """``_<digest>`` of the patches and settings ``project`` ``version`` is built with;
    empty for a project with neither."""
    patches = applicable_patches(patches_dir, project, version, variant)
    settings = settings_file(settings_dir, project)
    if not patches and settings is None:
        return ""
    inputs = {
        "variant": variant,
        "patches": [[patch.name, sha256_file(patch)] for patch in patches],
        "settings_sha256": sha256_file(settings) if settings else "",
    }
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return "_" + hashlib.sha256(text.encode()).hexdigest()[:DIGEST_LENGTH]


def settings_file(settings_dir: Path, project: str) -> Path | None:
    """``<settings_dir>/<project>.yaml``, under any spelling of the project's name."""
    wanted = canonicalize_name(project)
    if not settings_dir.is_dir():
        return None
    found = [path for path in settings_dir.glob("*.yaml") if canonicalize_name(path.stem) == wanted]
    return sorted(found)[-1] if found else None  # as read_settings: the last one read wins
