"""Read-only views for the CLI: which variants the settings define, which patches apply."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from srcstacks.build.stage import built_projects
from srcstacks.errors import StageOrderError
from srcstacks.layout import Layout
from srcstacks.runtime.build import runtime_build_inputs
from srcstacks.runtime.interpreters import fromager_dirs_of
from srcstacks.spec.config import DEFAULT_VARIANT, StackConfig
from srcstacks.spec.patches import applicable_patches, unused_patch_dirs
from srcstacks.spec.settings import defined_variants, read_settings


@dataclass(frozen=True)
class VariantInfo:
    """One variant and what the settings set for it."""

    name: str
    projects: dict[str, dict[str, str]]  # project -> env the variant sets


def list_variants(config: StackConfig) -> list[VariantInfo]:
    """Fromager's default variant plus every variant the settings folder defines."""
    settings = read_settings(config.settings_dir)
    variants = [
        VariantInfo(name, {project: settings[project].variant_env[name] for project in projects})
        for name, projects in defined_variants(settings).items()
    ]
    if DEFAULT_VARIANT not in {variant.name for variant in variants}:
        variants.insert(0, VariantInfo(DEFAULT_VARIANT, {}))
    return variants


@dataclass(frozen=True)
class PatchedProject:
    """A built project and version with the patches applied to it, in order."""

    project: str
    version: str
    patches: list[Path]


def list_patches(config: StackConfig) -> tuple[list[PatchedProject], list[str]]:
    """Patches per built project for the config's variant, and warnings for unused ones."""
    built = sorted({key for dirs in fromager_dirs_of(config) for key in built_projects(dirs)})
    if not built:
        raise StageOrderError(
            f"{Layout.of(config).variant_dir}: nothing built for variant {config.variant!r} yet"
            " (run 'srcstacks wheels' first)"
        )
    patched = [
        PatchedProject(project, version, patches)
        for project, version in built
        if (patches := applicable_patches(config.patches_dir, project, version, config.variant))
    ]
    variants = {config.variant, *defined_variants(read_settings(config.settings_dir))}
    used = set(built) | runtime_build_inputs(config)
    return patched, unused_patch_dirs(config.patches_dir, used, variants)
