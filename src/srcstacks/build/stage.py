"""Stage 1, ``srcstacks wheels``: build every layer's dependency tree from source.

Reads the stack spec; runs ``fromager bootstrap`` on the requirements of every layer
(runtime layer included), with the stack's settings dir, patches dir and variant.
Writes Fromager's repos under ``<work_dir>/<variant>/fromager/`` (kept between runs, so
a rerun after a failure reuses every wheel already built),
``<work_dir>/<variant>/wheels.json`` describing the run and the run's logs in
``<work_dir>/<variant>/logs/runs/<start time>/``. ``--jobs`` above 1 or ``--executor``
(:mod:`srcstacks.build.jobs`) builds independent packages at the same time
(:mod:`srcstacks.build.parallel`); :mod:`srcstacks.build.progress` shows the builds.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from srcstacks.build.executors import make_executor
from srcstacks.build.jobs import current_executor, current_jobs
from srcstacks.build.parity import check_parity
from srcstacks.build.patch_check import check_patch_paths, check_patches
from srcstacks.build.run_logs import new_run_folder
from srcstacks.build.sdist_check import check_sdists
from srcstacks.build.selective import SelectivePlan, fetch_upstream, plan_selective
from srcstacks.build.wheel_group import GroupBuild, build_group, seed_pure_wheels
from srcstacks.errors import ConfigError, UnreachableError
from srcstacks.fsutil import write_json
from srcstacks.index.client import PYPI_SIMPLE
from srcstacks.layout import Layout
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.reporting import Report
from srcstacks.run_context import RunContext
from srcstacks.runtime.build import runtime_build_inputs
from srcstacks.runtime.interpreters import (
    build_groups,
    fromager_dirs_of,
    group_toolchain,
    requirements_of,
)
from srcstacks.spec.config import StackConfig
from srcstacks.spec.patches import unused_patch_dirs
from srcstacks.spec.rules import BUILD_PLATFORM
from srcstacks.spec.settings import Settings, defined_variants, undefined_variant
from srcstacks.tools import fromager_files
from srcstacks.tools.toolchain import Toolchain, own_toolchain
from srcstacks.web import unreachable


@dataclass(frozen=True)
class VersionConflict:
    """Two layers asking for versions of one project that no single version satisfies."""

    project: str
    first: tuple[str, Requirement]  # (layer env name, requirement)
    second: tuple[str, Requirement]
    # True when some layer stacks both (one is below the other, or an app stacks both
    # frameworks): no environment can hold both versions, so nothing can be built.
    impossible: bool = False

    def describe(self) -> str:
        """One human-readable line."""
        (layer_a, req_a), (layer_b, req_b) = self.first, self.second
        return (
            f"{self.project}: layer {layer_a!r} wants '{req_a}', layer {layer_b!r} wants '{req_b}'"
        )


@dataclass(frozen=True)
class WheelBuild:
    """What the wheels stage did."""

    requirements: tuple[str, ...]
    skip_constraints: bool
    conflicts: tuple[VersionConflict, ...]


def fromager_dirs(config: StackConfig) -> FromagerDirs:
    """Fromager's folders for this stack and variant, when it builds for one Python
    (:func:`~srcstacks.runtime.interpreters.fromager_dirs_of` gives every one)."""
    return Layout.of(config).fromager


def collect_requirements(config: StackConfig) -> list[str]:
    """Every layer's requirements, runtime layer included, de-duplicated, in spec order.

    Requirements whose marker is false wherever venvstacks locks are left out.
    """
    return requirements_of(config.layers)


def find_conflicts(config: StackConfig) -> list[VersionConflict]:
    """Pairs of layers whose requirements on one project cannot both be met.

    Only the spec is read, so this sees the versions layers pin directly; a conflict
    between transitive dependencies shows up when Fromager writes its constraints.
    """
    by_project: dict[str, list[tuple[str, Requirement]]] = {}
    for layer in config.layers:
        for requirement in layer.built_requirements:
            by_project.setdefault(canonicalize_name(requirement.name), []).append(
                (layer.env_name, requirement)
            )
    stacks = [{lower.env_name for lower in config.stack_of(layer)} for layer in config.layers]
    conflicts: list[VersionConflict] = []
    for project, wanted in sorted(by_project.items()):
        for first, second in itertools.combinations(wanted, 2):
            if _compatible(first[1].specifier, second[1].specifier):
                continue
            shared = any({first[0], second[0]} <= stack for stack in stacks)
            conflicts.append(VersionConflict(project, first, second, impossible=shared))
    return conflicts


def _compatible(first: SpecifierSet, second: SpecifierSet) -> bool:
    """Whether some version could satisfy both specifier sets.

    Probes the versions the specifiers mention and versions just above them, which
    decides every combination of ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` and ``~=``
    that a stack spec realistically holds.
    """
    if not str(first) or not str(second):
        return True
    probes: set[Version] = set()
    for spec in itertools.chain(first, second):
        text = spec.version.replace(".*", "")
        try:
            base = Version(text)
        except InvalidVersion:
            return True  # arbitrary equality (===): let the resolver decide
        probes.update({base, Version(f"{base.public}.0.1"), Version(f"{base.public}.post1")})
        probes.add(Version(f"{base.major + 1}"))
    combined = first & second
    return any(combined.contains(probe, prereleases=True) for probe in probes)


def build_wheels(run: RunContext, *, pins: Path | None = None) -> WheelBuild:
    """Run Fromager on every requirement of the stack; return what was done.

    ``pins`` is a constraints file fixing versions, used to rebuild exactly what an
    earlier build resolved.
    """
    config, report, layout = run.config, run.report, run.layout
    _check_folders(config)
    settings = run.settings  # read once per run: invalid YAML stops it before Fromager
    last_build = fromager_dirs_of(config)
    _warn_before_building(config, last_build, settings, report)
    check_patch_paths(config.patches_dir)
    check_patches(last_build, settings, config.patches_dir, config.variant, report)
    _check_reachable(settings)
    plan = plan_selective(config, report, pins, settings) if config.mode.selective else None
    requirements = plan.requirements if plan else collect_requirements(config)
    for layer in config.layers if plan is None else ():
        for requirement in layer.left_out:
            report(
                f"leaving out '{requirement}' of layer {layer.name!r}: its marker is false"
                " wherever venvstacks locks, so no wheel is needed"
            )
        for requirement in layer.elsewhere:
            report(
                f"not building '{requirement}' of layer {layer.name!r}: it applies only on"
                f" other platforms than {BUILD_PLATFORM}; locking needs its wheel from a"
                " build host of such a platform"
            )
    if plan is not None:
        _report_plan(plan, report)
        pins = pins or layout.selective_constraints
        if not requirements:
            fetch_upstream(config, plan, (), report)
            return _record_build(config, layout, WheelBuild((), False, ()))
    if not requirements:
        raise ConfigError(f"{config.spec_path}: no layer declares any requirement to build")
    if warning := undefined_variant(config.variant, settings, config.settings_dir):
        report(f"warning: {warning}")
    if config.upload_cutoff:
        report(
            f"sources uploaded by {config.upload_cutoff.describe()} only (the spec's"
            " exclude-newer, applied to what Fromager resolves)"
        )
    conflicts = find_conflicts(config)
    impossible = [conflict for conflict in conflicts if conflict.impossible]
    if impossible:
        raise ConfigError(
            f"{config.spec_path}: layers stacked into one environment pin conflicting"
            f" versions, so the stack cannot work: {'; '.join(c.describe() for c in impossible)}"
        )
    groups = build_groups(config)
    if plan is not None and len(groups) > 1:
        raise ConfigError(
            f"{config.spec_path}: selective mode builds the wheels of one Python version yet,"
            f" and the layers need {', '.join(group.python for group in groups)}"
        )
    jobs, executor_name = current_jobs(), current_executor()
    # Checked before anything runs: a Dask executor that cannot load stops the run here.
    executor = make_executor(executor_name, jobs) if jobs > 1 or executor_name else None
    target = run.index
    if executor_name and target is None:
        # Also checked by the executor; here it stops the run before the resolve step.
        raise ConfigError(
            f"--executor {executor_name}: builds on a Dask cluster need a private index, the"
            " only thing the workers share with this machine; set --index URL or"
            " [tool.srcstacks.index]"
        )
    report(
        f"building {len(requirements)} requirement(s) and their build tools from source"
        f" (variant {config.variant!r}, {_jobs_text(jobs, executor_name)})"
    )
    skip_constraints = bool(conflicts)
    if conflicts:
        report("layers pin conflicting versions, so Fromager runs with --skip-constraints:")
        for conflict in conflicts:
            report(f"  {conflict.describe()}")
    several = len(groups) > 1
    run_log_dir = new_run_folder(layout, time.time() - 1.0)
    built: list[GroupBuild] = []
    toolchain = own_toolchain()
    for index, group in enumerate(groups):
        if several:
            report(f"--- the wheels of the layers on Python {group.python} ---")
        toolchain = group_toolchain(config, group, report)
        # Pure-Python wheels are the same for every Python: built once, by the first.
        seed_pure_wheels([earlier.dirs for earlier in groups[:index]], group.dirs)
        group_build = GroupBuild(
            group,
            toolchain,
            requirements if plan is not None else group.requirements,
            skip_constraints,
            layout.log(f"fromager-bootstrap-{group.python}" if several else "fromager-bootstrap"),
            layout.requirements_file_for(group.python if several else ""),
        )
        built.append(
            build_group(
                config,
                group_build,
                settings,
                executor,
                jobs,
                target,
                pins,
                run_log_dir,
                report,
                built,
            )
        )
        skip_constraints = skip_constraints or built[-1].skip_constraints
    every_dirs = [item.group.dirs for item in built]
    for dirs in every_dirs:  # one sdists repo; each group's build order names its own
        check_sdists(config, dirs, settings, report)
    _warn_about_unused_inputs(config, every_dirs, report, settings)
    if plan is not None:
        fetch_upstream(config, plan, built_projects(every_dirs[0]), report)
    logs = ", ".join(str(item.log_path) for item in built)
    report(f"wheels built; Fromager's log{'s' if several else ''}: {logs}")
    check_parity(layout, config.parity, [item.group for item in built], report)
    return _record_build(
        config,
        layout,
        WheelBuild(tuple(requirements), skip_constraints, tuple(conflicts)),
        [item.toolchain for item in built] or [toolchain],
    )


def _record_build(
    config: StackConfig,
    layout: Layout,
    build: WheelBuild,
    toolchains: Sequence[Toolchain] = (),
) -> WheelBuild:
    """Write ``wheels.json``: what this run built, with which Fromagers and Pythons, in
    which mode."""
    toolchains = toolchains or [own_toolchain()]
    write_json(
        layout.wheels_record,
        {
            "requirements": list(build.requirements),
            "skip_constraints": build.skip_constraints,
            "conflicts": [conflict.describe() for conflict in build.conflicts],
            # The first toolchain's (a stack of one Python has one): older records' keys.
            "fromager_version": toolchains[0].fromager_version,
            "python_version": toolchains[0].interpreter.version,
            "toolchains": [
                {"python": item.interpreter.version, "fromager": item.fromager_version}
                for item in toolchains
            ],
            "variant": config.variant,
            "mode": config.mode.name,
        },
    )
    return build


def _report_plan(plan: SelectivePlan, report: Report) -> None:
    projects = {project for project, _, platform, _ in plan.needed if platform == plan.here}
    report(
        f"selective mode: building {len(plan.from_source)} of the {len(projects)} project(s)"
        f" the layers need on {plan.here} from source; the rest are binary wheels from"
        f" {plan.index_url}"
    )
    for build in plan.from_source:
        report(f"  from source: {build.requirement} ({build.reason})")


def _jobs_text(jobs: int, executor: str | None) -> str:
    if executor is not None:
        return f"builds on {executor}"
    return "one package at a time" if jobs == 1 else f"up to {jobs} packages at a time"


def _check_folders(config: StackConfig) -> None:
    for label, folder in (
        ("settings_dir", config.settings_dir),
        ("patches_dir", config.patches_dir),
    ):
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"{config.spec_path}: '{label}' {folder} is not a folder")


def _check_reachable(settings: Settings) -> None:
    """Stop in seconds, not after Fromager's retries, when a source index is out of reach."""
    indexes = {PYPI_SIMPLE, *(item.sdist_index for item in settings.values() if item.sdist_index)}
    for url in sorted(indexes):
        if why := unreachable(url):
            raise UnreachableError(
                f"cannot reach {url}: {why}; building wheels resolves and downloads sources"
                " there (with no network, only a build with nothing to do runs)"
            )


def built_projects(dirs: FromagerDirs) -> list[tuple[str, str]]:
    """``(canonical name, version)`` of everything in the last build order, sorted."""
    entries = fromager_files.read_build_order(dirs) or []
    return sorted({(entry.project, entry.version) for entry in entries})


def _warn_before_building(
    config: StackConfig,
    every_dirs: Sequence[FromagerDirs],
    settings: Settings,
    report: Report,
) -> None:
    """Name the patch folders no project of the last build or of the spec uses, before a
    long build (a first build's graph is known only once built: it is checked after)."""
    last = {key for dirs in every_dirs for key in built_projects(dirs)}
    if not last:
        return
    wanted = [Requirement(text) for text in collect_requirements(config)]
    known = last | runtime_build_inputs(config)
    known |= {(canonicalize_name(req.name), _pinned(req) or "0") for req in wanted}
    variants = {config.variant, *defined_variants(settings)}
    scope = "the last build or the spec's requirements"
    for warning in unused_patch_dirs(config.patches_dir, known, variants, scope):
        report(f"warning: before building: {warning}")


def _pinned(requirement: Requirement) -> str:
    """The version ``name==X`` pins, else ``""``."""
    specs = list(requirement.specifier)
    if len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version:
        return specs[0].version
    return ""


def _warn_about_unused_inputs(
    config: StackConfig,
    every_dirs: Sequence[FromagerDirs],
    report: Report,
    settings: Settings,
) -> None:
    built = {key for dirs in every_dirs for key in built_projects(dirs)}
    built |= runtime_build_inputs(config)
    variants = {config.variant, *defined_variants(settings)}
    for warning in unused_patch_dirs(config.patches_dir, built, variants):
        report(f"warning: {warning}")
    names = {project for project, _ in built}
    for project, item in sorted(settings.items()):
        if project not in names:
            report(f"warning: {item.path}: settings for {project}, which is not in this build")
