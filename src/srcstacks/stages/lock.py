"""Stage 3, ``srcstacks lock``: lock every layer against the published wheels only.

Reads the wheel dir and its ``provenance.json`` (written by publish-wheels); refuses a
wheel without matching provenance; runs ``venvstacks lock --no-index --local-wheels``.
Writes venvstacks' lock files in ``requirements/`` beside the spec, then checks that
every wheel they name is a published wheel with the sha256 recorded for it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from srcstacks.config import StackConfig
from srcstacks.errors import ProvenanceError, StageOrderError, StateError
from srcstacks.index_target import wheel_source
from srcstacks.layout import Layout, inside
from srcstacks.provenance import Manifest, check_wheel_dir
from srcstacks.stages.runtime import prepare_runtimes, runtime_env
from srcstacks.stages.variant_spec import venvstacks_spec, venvstacks_spec_dir
from srcstacks.tools import venvstacks

Report = Callable[[str], None]


@dataclass(frozen=True)
class LockedWheel:
    """One wheel a layer's lock file installs."""

    layer: str
    project: str
    version: str
    filename: str
    sha256: str


def lock_file_path(config: StackConfig, env_name: str) -> Path:
    """The pylock file venvstacks writes for the layer deployed as ``env_name``."""
    folder = inside(venvstacks_spec_dir(config) / "requirements", env_name, "layer")
    matches = sorted(folder.glob("pylock.*.toml"))
    if not matches:
        raise StageOrderError(
            f"{folder}: layer {env_name!r} is not locked (run 'srcstacks lock' first)"
        )
    return matches[0]


def lock_layers(config: StackConfig, report: Report = print) -> list[LockedWheel]:
    """Lock every layer with venvstacks against the wheel dir; return what was locked."""
    manifest = check_wheel_dir(config.wheel_dir)
    report(f"{len(manifest.wheels)} published wheel(s) pass the provenance check")
    prepare_runtimes(config, report)
    layout = Layout.of(config)
    log_path = layout.log("venvstacks-lock")
    source = wheel_source(config)

    def run(if_needed: bool) -> None:
        venvstacks.lock(
            venvstacks_spec(config),
            build_dir=layout.venvstacks_build,
            source=source,
            log_path=log_path,
            env=runtime_env(config),
            if_needed=if_needed,
            on_line=venvstacks.progress_filter(report),
        )

    # Locks venvstacks still finds valid are kept (committed locks stay as they are)
    # if they name exactly the published wheels; otherwise every layer is locked again.
    run(if_needed=True)
    try:
        locked = check_locks(config, manifest, source.index_url)
    except (ProvenanceError, StageOrderError) as exc:
        report(f"the existing locks do not fit the published wheels ({exc}); locking again")
        run(if_needed=False)
        locked = check_locks(config, manifest, source.index_url)
    report(f"locked {len(config.layers)} layer(s), {len(locked)} wheel(s); log: {log_path}")
    return locked


def read_locks(
    config: StackConfig, index_url: str | None = None
) -> tuple[list[LockedWheel], list[str]]:
    """Every wheel the layers' locks install (names as locked), and what is wrong with them.

    A package with no wheel that no lower layer provides is a problem; so is, with
    ``index_url``, a package locked from another index, and without it, a package
    locked from any index server (the wheel dir alone is used).
    """
    entries: list[LockedWheel] = []
    problems: list[str] = []
    for layer in config.layers:
        path = lock_file_path(config, layer.env_name)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise StateError(
                f"{path}: unreadable lock file ({exc}); rerun 'srcstacks lock'"
            ) from None
        for package in data.get("packages", []):
            wheels = package.get("wheels", [])
            if not wheels:
                if "from_lower_layer" not in package.get("marker", ""):
                    problems.append(f"{layer.env_name}: {package.get('name')} has no wheel")
                continue
            locked_from = str(package.get("index", ""))
            if index_url is not None and locked_from != index_url:
                problems.append(
                    f"{layer.env_name}: {package.get('name')} is locked from"
                    f" {locked_from}, not {index_url}"
                )
                continue
            if index_url is None and locked_from.startswith(("http://", "https://")):
                # --no-index (or no index configured): nothing may come from a server.
                problems.append(
                    f"{layer.env_name}: {package.get('name')} is locked from {locked_from},"
                    " but this stack uses its wheel dir alone"
                )
                continue
            for wheel in wheels:
                location = wheel.get("path") or wheel.get("name") or wheel.get("url") or ""
                entries.append(
                    LockedWheel(
                        layer=layer.env_name,
                        project=str(package.get("name", "")),
                        version=str(package.get("version", "")),
                        filename=unquote(Path(urlsplit(location).path).name),
                        sha256=wheel.get("hashes", {}).get("sha256", ""),
                    )
                )
    return entries, problems


def check_locks(
    config: StackConfig, manifest: Manifest, index_url: str | None = None
) -> list[LockedWheel]:
    """Every wheel in every layer's lock must be a published wheel with its recorded hash.

    With ``index_url``, every locked package must also come from that index (a lock
    made against another index, or against the wheel dir, is stale).
    """
    locked: list[LockedWheel] = []
    entries, problems = read_locks(config, index_url)
    for entry in entries:
        record = manifest.wheels.get(entry.filename)
        if record is None:
            problems.append(f"{entry.layer}: {entry.filename} is not a published wheel")
        elif record.sha256 != entry.sha256:
            problems.append(f"{entry.layer}: {entry.filename} hash differs from provenance")
        else:
            locked.append(replace(entry, project=record.project, version=record.version))
    if problems:
        raise ProvenanceError(
            "the locks do not match the published wheels (run 'srcstacks lock'): "
            + "; ".join(problems)
        )
    return locked
