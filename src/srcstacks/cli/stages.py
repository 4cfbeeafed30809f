"""The pipeline's commands (``build``, ``wheels``, ``publish-wheels``, ``lock``,
``archives``) and ``deploy``, ``clean``, ``variants``, ``patches``: a thin layer over
:mod:`srcstacks.pipeline` and the stages. Options given here win over the spec's
``[tool.srcstacks]`` table.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from srcstacks.build.jobs import building_with
from srcstacks.cli.common import (
    ExecutorOpt,
    ForceOpt,
    IndexOpt,
    IndexPortOpt,
    JobsOpt,
    NoIndexOpt,
    OutputOpt,
    PatchesOpt,
    RuntimeInterpreterOpt,
    RuntimeMirrorOpt,
    RuntimePathOpt,
    RuntimeSourceOpt,
    SettingsOpt,
    SpecArg,
    VariantOpt,
    WheelOpt,
    WorkOpt,
    app,
    fail,
    guarded,
    say,
    sbom_app,
)
from srcstacks.spec.config import DEFAULT_SPEC_NAME, Overrides, RuntimeSourceKind, load_config
from srcstacks.spec.runtime import RUNTIME_SOURCES
from srcstacks.stages import STAGES


def _stage_command(
    stage: str | None, summary: str, *, builds_wheels: bool = False
) -> Callable[..., None]:
    def command(
        spec: SpecArg = Path(DEFAULT_SPEC_NAME),
        variant: VariantOpt = None,
        settings_dir: SettingsOpt = None,
        patches_dir: PatchesOpt = None,
        work_dir: WorkOpt = None,
        wheel_dir: WheelOpt = None,
        output_dir: OutputOpt = None,
        runtime_source: RuntimeSourceOpt = None,
        runtime_path: RuntimePathOpt = None,
        runtime_mirror_url: RuntimeMirrorOpt = None,
        runtime_interpreter: RuntimeInterpreterOpt = None,
        index: IndexOpt = None,
        no_index: NoIndexOpt = False,
        index_port: IndexPortOpt = None,
        force: ForceOpt = False,
        jobs: JobsOpt = None,
        executor: ExecutorOpt = None,
    ) -> None:
        if runtime_source not in (None, *RUNTIME_SOURCES):
            fail(
                f"--runtime-source must be one of {', '.join(RUNTIME_SOURCES)},"
                f" not {runtime_source!r}"
            )
        overrides = Overrides(
            settings_dir=settings_dir,
            patches_dir=patches_dir,
            variant=variant,
            work_dir=work_dir,
            wheel_dir=wheel_dir,
            output_dir=output_dir,
            runtime_source=_runtime_kind(runtime_source),
            runtime_path=runtime_path,
            runtime_mirror_url=runtime_mirror_url,
            runtime_interpreter=runtime_interpreter,
            index_url=index,
            no_index=no_index,
            index_port=index_port,
        )

        def run() -> None:
            with building_with(jobs, executor):
                config = load_config(spec, overrides)
                # After the spec is read: a bad spec fails without importing every stage.
                from srcstacks import pipeline
                from srcstacks.run_context import RunContext

                run = RunContext(config, say)
                if stage is None:
                    pipeline.run_all(run, force=force)
                    say(f"done: archives and their SBOMs in {config.output_dir}")
                else:
                    pipeline.run_stage(stage, run, force=force)

        guarded(run)

    command.__doc__ = summary
    if not builds_wheels:
        # --jobs and --executor only where wheels are built: typer reads the signature.
        signature = inspect.signature(command, eval_str=True)
        kept = [
            param
            for name, param in signature.parameters.items()
            if name not in ("jobs", "executor")
        ]
        command.__signature__ = signature.replace(parameters=kept)  # type: ignore[attr-defined]
    return command


def _runtime_kind(value: str | None) -> RuntimeSourceKind | None:
    kinds: dict[str, RuntimeSourceKind] = {kind: kind for kind in RUNTIME_SOURCES}
    return kinds[value] if value is not None else None


app.command("build")(
    _stage_command(
        None,
        f"Run every stage: {', '.join(stage.name for stage in STAGES)}.",
        builds_wheels=True,
    )
)
for _stage in STAGES:
    _parent = sbom_app if _stage.command[0] == "sbom" else app
    _parent.command(_stage.command[-1])(
        _stage_command(_stage.name, _stage.summary, builds_wheels=_stage.builds_wheels)
    )


@app.command("deploy")
def deploy_command(
    target: Annotated[Path, typer.Option(help="Folder to deploy the layers into.")],
    spec: SpecArg = Path(DEFAULT_SPEC_NAME),
    variant: VariantOpt = None,
    output_dir: OutputOpt = None,
    run: Annotated[bool, typer.Option(help="Run each application after deploying it.")] = False,
) -> None:
    """Unpack the published archives into TARGET and run each layer's postinstall."""

    def action() -> None:
        from srcstacks.deploy.stage import deploy, run_app
        from srcstacks.worklock import held_for_reading

        config = load_config(spec, Overrides(variant=variant, output_dir=output_dir))
        # Never a set a build is publishing at this moment.
        with held_for_reading(config.work_dir):
            apps = deploy(config.output_dir, target.absolute(), say)
        for layer in config.layers_elsewhere:
            say(f"  not deployed: {layer.elsewhere_note}")
        if run:
            for deployed in apps:
                say(f"==> {deployed.name}")
                if (code := run_app(deployed)) != 0:
                    fail(f"{deployed.name} exited with code {code}")

    guarded(action)


@app.command("clean")
def clean_command(
    spec: SpecArg = Path(DEFAULT_SPEC_NAME),
    variant: VariantOpt = None,
    everything: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Also remove Fromager's built wheels, sources and work, the toolchains and"
            " the runtimes: the next build starts again from the sources.",
        ),
    ] = False,
) -> None:
    """Remove what the work dir holds that a build makes again (layer environments, staging,
    a kept rebuild); never the published wheels, archives, SBOMs, locks or logs."""

    def action() -> None:
        from srcstacks import run_context
        from srcstacks.clean import clean, megabytes

        config = load_config(spec, Overrides(variant=variant))
        with run_context.work_dir_held(config, say):
            removed = clean(config, say, everything=everything)
        freed = megabytes(sum(item.size for item in removed))
        typer.echo(f"cleaned: {len(removed)} folder(s) and file(s) removed, {freed} freed")

    guarded(action)


@app.command("variants")
def variants_command(spec: SpecArg = Path(DEFAULT_SPEC_NAME)) -> None:
    """List the Fromager variants the build settings define, with their env."""

    def action() -> None:
        from srcstacks.cli.listing import list_variants

        config = load_config(spec)
        for variant in list_variants(config):
            marker = " (selected)" if variant.name == config.variant else ""
            typer.echo(f"{variant.name}{marker}")
            for project, env in variant.projects.items():
                settings = ", ".join(f"{key}={value!r}" for key, value in env.items())
                typer.echo(f"  {project}: {settings or '(no env)'}")

    guarded(action)


@app.command("patches")
def patches_command(spec: SpecArg = Path(DEFAULT_SPEC_NAME), variant: VariantOpt = None) -> None:
    """List which patch applies to which built project and version, for a variant."""

    def action() -> None:
        from srcstacks.cli.listing import list_patches

        config = load_config(spec, Overrides(variant=variant))
        patched, warnings = list_patches(config)
        for item in patched:
            typer.echo(f"{item.project} {item.version}")
            for patch in item.patches:
                typer.echo(f"  {_display(patch, config.spec_dir)}")
        if not patched:
            typer.echo(f"no patch applies to any built project (variant {config.variant!r})")
        for warning in warnings:
            say(f"warning: {warning}")

    guarded(action)


def _display(path: Path, base: Path) -> str:
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)
