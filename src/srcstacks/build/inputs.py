"""Rebuild a wheel when its patches or build settings change.

Fromager reuses any wheel of the same version and build tag it finds in its wheels repo,
so after a patch or a setting changes it would happily hand back the old build. Each
built wheel's inputs (variant, patch hashes, settings file hash) are recorded in
``<work_dir>/<variant>/build-inputs.json``; before the next run, a wheel whose inputs
changed is removed from Fromager's repo, with its prepared source, so it is rebuilt.
A Rust extension is rebuilt too when the rustc on PATH is not the one its own SBOM says
compiled it, and a compiled wheel when a system package its build used (its own SBOM
names them: ``zlib1g-dev``, ``gcc-12``, ...) is installed here at another version now, or
not at all.

Each record also keeps the wheel's sha256 as it was when it was built (or fetched and
checked). A wheel in Fromager's repo whose bytes are no longer those (an edited or
poisoned cache: Fromager would reuse it, and it would be published as built from
source) is removed and built again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from srcstacks.fsutil import sha256_file, write_json
from srcstacks.layout import Layout
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.layout.ownership import remove_tree
from srcstacks.reporting import Report
from srcstacks.spec.config import StackConfig
from srcstacks.spec.patches import applicable_patches
from srcstacks.spec.settings import Settings
from srcstacks.state.records import read_json_state
from srcstacks.state.wheel_sbom import carries_own_sbom, own_sbom
from srcstacks.tools.build_packages import changes_here
from srcstacks.tools.fromager import rust_toolchain
from srcstacks.tools.process import tool_env


def _record_path(config: StackConfig) -> Path:
    return Layout.of(config).build_inputs


def current_inputs(
    config: StackConfig, project: str, version: str, all_settings: Settings
) -> dict[str, Any]:
    """The inputs srcstacks controls that shape the build of ``project`` ``version``."""
    return inputs_of(config.variant, config.patches_dir, all_settings, project, version)


def inputs_of(
    variant: str, patches_dir: Path, all_settings: Settings, project: str, version: str
) -> dict[str, Any]:
    """:func:`current_inputs` from the folders themselves (a Dask worker has no spec)."""
    settings = all_settings.get(project)
    return {
        "variant": variant,
        "patches": [
            [patch.name, sha256_file(patch)]
            for patch in applicable_patches(patches_dir, project, version, variant)
        ],
        "settings_sha256": settings.sha256 if settings else "",
    }


def built_wheels(dirs: FromagerDirs) -> dict[str, tuple[str, str]]:
    """``{wheel file name: (canonical project, version)}`` of Fromager's built wheels."""
    wheels: dict[str, tuple[str, str]] = {}
    for path in sorted(dirs.built_wheels.glob("*.whl")):
        try:
            name, version, _, _ = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            continue
        wheels[path.name] = (str(name), str(version))
    return wheels


def _read_record(config: StackConfig) -> dict[str, Any]:
    data = read_json_state(_record_path(config), "record of build inputs", "srcstacks wheels")
    return data if isinstance(data, dict) else {}


def discard_stale_wheels(
    config: StackConfig, dirs: FromagerDirs, report: Report, settings: Settings
) -> list[str]:
    """Remove built wheels whose recorded inputs differ from today's; return their names."""
    recorded = _read_record(config)
    discarded: list[str] = []
    for filename, (project, version) in built_wheels(dirs).items():
        if not carries_own_sbom(dirs.built_wheel(filename), project):
            # Built by a srcstacks from before per-wheel SBOMs: publish would refuse it.
            report(f"  {project} {version}: built without an SBOM of its own; rebuilding it")
            discard_built_wheel(dirs, filename, version)
            discarded.append(filename)
            continue
        wheel = dirs.built_wheel(filename)
        if changed := _rustc_change(wheel, project) or _system_package_change(wheel, project):
            report(f"  {project} {version}: {changed}; rebuilding it")
            discard_built_wheel(dirs, filename, version)
            discarded.append(filename)
            continue
        before = recorded.get(filename)
        if before is not None and (altered := _altered(dirs.built_wheel(filename), before)):
            report(f"  {project} {version}: {altered}; rebuilding it")
            discard_built_wheel(dirs, filename, version)
            discarded.append(filename)
            continue
        now = current_inputs(config, project, version, settings)
        if before is None or _inputs(before) == now:
            continue
        gone = vanished_inputs(before, now)
        if gone:
            report(
                f"warning: {project} {version} was built with {gone}, now missing"
                f" (patches_dir {config.patches_dir}, settings_dir {config.settings_dir});"
                " rebuilding it without them"
            )
        report(f"  {project} {version}: patches or build settings changed; rebuilding it")
        discard_built_wheel(dirs, filename, version)
        discarded.append(filename)
    if discarded:
        # A rebuild may have the same file name: its record must be of the new inputs, not
        # kept from the discarded build (record_inputs adds only missing entries), or
        # going back to the old inputs would reuse the wheel built from the new ones.
        kept = {name: inputs for name, inputs in recorded.items() if name not in discarded}
        write_json(_record_path(config), kept)
    return discarded


def _inputs(record: dict[str, Any]) -> dict[str, Any]:
    """A record without the wheel's own sha256: the inputs :func:`current_inputs` gives."""
    return {key: value for key, value in record.items() if key != "sha256"}


def _altered(wheel: Path, record: dict[str, Any]) -> str:
    """How ``wheel``'s bytes differ from those recorded when it was built (``""``: same)."""
    recorded = record.get("sha256")
    if not recorded:
        return ""
    now = sha256_file(wheel)
    if now == recorded:
        return ""
    return (
        f"its bytes are not those built here (sha256 {now[:12]}…, built as"
        f" {recorded[:12]}…: the wheels repo was edited)"
    )


def _rustc_change(wheel: Path, project: str) -> str:
    """How the rustc that compiled ``wheel`` differs from today's (``""``: not Rust, or same)."""
    sbom = own_sbom(wheel, project)
    built_with = sbom.environment.rustc if sbom is not None else ""
    if not built_with:
        return ""
    toolchain = rust_toolchain(tool_env()["PATH"])
    now = toolchain.rustc if toolchain is not None else ""
    if now == built_with:
        return ""
    return f"compiled by rustc {built_with}, now {f'rustc {now}' if now else 'no rustc'}"


def _system_package_change(wheel: Path, project: str) -> str:
    """Which system packages ``wheel``'s build used are at another version here now (or
    gone): a new ``libopenblas-dev`` must rebuild what linked the old one."""
    sbom = own_sbom(wheel, project)
    return changes_here(sbom.environment.system_packages) if sbom is not None else ""


def vanished_inputs(before: dict[str, Any], now: dict[str, Any]) -> str:
    """The patches and settings file a wheel was built with that today's inputs lack.

    Empty unless some patch or the settings file disappeared (a moved or mistyped
    folder, a deleted file): a changed one is a normal rebuild, a missing one may be a
    mistake, so it is named before the wheel is rebuilt without it.
    """
    kept = {name for name, _ in now.get("patches", [])}
    gone = [f"patch {name}" for name, _ in before.get("patches", []) if name not in kept]
    if before.get("settings_sha256") and not now.get("settings_sha256"):
        gone.append("its build settings file")
    return ", ".join(gone)


def discard_built_wheel(dirs: FromagerDirs, filename: str, version: str) -> None:
    """Remove a built wheel from Fromager's repos, with its prepared source, so a rerun
    builds it again instead of reusing it."""
    remove_tree(dirs.built_wheel(filename))
    project = parse_wheel_filename(filename)[0]

    def of_project(path: Path) -> bool:
        # Fromager names these after the sdist (``MarkupSafe-3.0.2``): compared by the
        # project's canonical name, whatever its spelling.
        return canonicalize_name(path.name.partition(f"-{version}")[0]) == project

    for stale in dirs.work_dir.glob(f"*-{version}"):
        if of_project(stale):
            remove_tree(stale)
    for index_copy in dirs.wheels_repo.glob(f"simple/*/{filename}"):
        remove_tree(index_copy)
    for patched_sdist in dirs.sdists_repo.glob(f"builds/*-{version}.*"):
        if of_project(patched_sdist):
            remove_tree(patched_sdist)


def record_inputs(
    config: StackConfig, dirs: FromagerDirs | Sequence[FromagerDirs], settings: Settings
) -> None:
    """Record the inputs and sha256 of every wheel built so far that has no record yet.

    ``dirs``: every Fromager folder set of the stack (one per Python it builds for).
    """
    recorded = _read_record(config)
    updated: dict[str, Any] = {}
    for each in [dirs] if isinstance(dirs, FromagerDirs) else dirs:
        for filename, (project, version) in built_wheels(each).items():
            record = recorded.get(filename) or current_inputs(config, project, version, settings)
            if "sha256" not in record:  # its bytes as built (an older record gets them now)
                record["sha256"] = sha256_file(each.built_wheel(filename))
            updated[filename] = record
    write_json(_record_path(config), updated)
