"""The ``srcstacks`` command line: a thin layer over :mod:`srcstacks.pipeline`.

Every command takes the stack spec as its argument (default ``./venvstacks.toml``);
options given here win over the spec's ``[tool.srcstacks]`` table. Errors are printed
as one line on stderr with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from srcstacks import __version__, live_output
from srcstacks.build_jobs import building_with
from srcstacks.config import DEFAULT_SPEC_NAME, Overrides, RuntimeSourceKind, load_config
from srcstacks.errors import SrcstacksError
from srcstacks.spec_runtime import RUNTIME_SOURCES

# The stages, the SBOM code and their libraries (cyclonedx, elfdeps, ...) are imported
# inside the commands that use them: `srcstacks --help` must not pay for all of them.

app = typer.Typer(
    name="srcstacks",
    help="Build venvstacks layer archives whose every wheel was built from source.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Help texts are plain text: "[tool.srcstacks.index]" is a spec table, not rich markup.
    rich_markup_mode=None,
)


class _SbomGroup(TyperGroup):
    """``srcstacks sbom [SPEC]`` writes the SBOMs; ``srcstacks sbom check FILE...`` checks.

    A click group cannot take an optional SPEC argument and subcommands at once (it
    would read ``check`` as the spec), so anything that is not a subcommand name is
    handed to the ``generate`` subcommand.
    """

    # ctx is typer's vendored click Context, which typer does not export.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["generate", *args]
        return super().parse_args(ctx, args)


sbom_app = typer.Typer(
    cls=_SbomGroup,
    help=(
        "CycloneDX SBOMs of the layer archives. 'srcstacks sbom [SPEC]' (short for"
        " 'sbom generate [SPEC]') writes one beside every archive; 'srcstacks sbom check"
        " FILE...' checks SBOMs."
    ),
)
app.add_typer(sbom_app, name="sbom")

SpecArg = Annotated[
    Path, typer.Argument(help="The venvstacks stack spec (or the folder holding venvstacks.toml).")
]
VariantOpt = Annotated[str | None, typer.Option(help="Fromager variant to build (default: cpu).")]
SettingsOpt = Annotated[Path | None, typer.Option(help="Per-package Fromager settings folder.")]
PatchesOpt = Annotated[Path | None, typer.Option(help="Patches folder, in Fromager's layout.")]
WorkOpt = Annotated[Path | None, typer.Option(help="Working state kept between runs.")]
WheelOpt = Annotated[Path | None, typer.Option(help="Where built wheels are published.")]
OutputOpt = Annotated[Path | None, typer.Option(help="Where layer archives are published.")]
RuntimeSourceOpt = Annotated[
    str | None,
    typer.Option(help="Runtime interpreter source: download, mirror, local, pack or build."),
]
RuntimePathOpt = Annotated[
    Path | None, typer.Option(help="Local runtime: install_only folder or .tar.gz.")
]
RuntimeMirrorOpt = Annotated[str | None, typer.Option(help="python-build-standalone mirror.")]
RuntimeInterpreterOpt = Annotated[str | None, typer.Option(help="Interpreter to pack.")]
IndexOpt = Annotated[
    str | None,
    typer.Option(
        "--index",
        help="Private index URL (devpi: .../USER/INDEX/ or its +simple/) to publish to and"
        " lock against; credentials from SRCSTACKS_INDEX_USER and SRCSTACKS_INDEX_PASSWORD.",
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Run even when nothing changed since the last successful run (which is"
        " otherwise skipped as up to date).",
    ),
]
NoIndexOpt = Annotated[
    bool,
    typer.Option(
        "--no-index", help="Use the wheel dir alone, whatever [tool.srcstacks.index] says."
    ),
]
IndexPortOpt = Annotated[
    int | None,
    typer.Option(
        "--index-port",
        help="Port of the managed index (default: [tool.srcstacks.index] port, else the"
        " port of its last run if free, else a free one).",
        min=1,
        max=65535,
    ),
]

JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        help="Packages built at the same time (default 1: one after another). Pays where"
        " compiles are long: try the number of CPUs.",
    ),
]

ExecutorOpt = Annotated[
    str | None,
    typer.Option(
        "--executor",
        help="Run the package builds on a Dask cluster: dask://HOST:PORT (its scheduler)."
        " Default: on this machine, --jobs at a time.",
    ),
]


def _say(message: str) -> None:
    if not live_output.print_above(message):  # above the builds' live display, if any
        typer.echo(message, err=True)


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"srcstacks: error: {message}", err=True)
    raise typer.Exit(code)


def _guarded(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except SrcstacksError as exc:
        _fail(str(exc))
    except OSError as exc:
        # The file system said no where no stage expected it (a read-only or full disk,
        # a file where a folder should be): name the path, keep the one-line promise.
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}; nothing built so far was lost")
    except KeyboardInterrupt:
        _fail("interrupted; finished work is kept, rerun the same command to resume", 130)


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
            _fail(
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

                if stage is None:
                    pipeline.run_all(config, _say, force=force)
                    _say(f"done: archives and their SBOMs in {config.output_dir}")
                else:
                    pipeline.run_stage(stage, config, _say, force=force)

        _guarded(run)

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
        "Run every stage: wheels, publish-wheels, lock, archives, sbom.",
        builds_wheels=True,
    )
)
app.command("wheels")(
    _stage_command(
        "wheels",
        "Build every layer's dependencies from source with Fromager;"
        " check each sdist against its index's sha256.",
        builds_wheels=True,
    )
)
app.command("publish-wheels")(
    _stage_command("publish-wheels", "Publish built wheels and their provenance to the wheel dir.")
)
app.command("lock")(
    _stage_command("lock", "Lock every layer with venvstacks against the wheel dir only.")
)
app.command("archives")(
    _stage_command("archives", "Build and publish the layer archives with venvstacks.")
)
sbom_app.command("generate")(
    _stage_command("sbom", "Write <archive>.cdx.json, a CycloneDX SBOM, beside every archive.")
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
        from srcstacks.stages.deploy import deploy, run_app
        from srcstacks.worklock import held_for_reading

        config = load_config(spec, Overrides(variant=variant, output_dir=output_dir))
        # Never a set a build is publishing at this moment.
        with held_for_reading(config.work_dir):
            apps = deploy(config.output_dir, target.absolute(), _say)
        for layer in config.layers_elsewhere:
            _say(f"  not deployed: {layer.elsewhere_note}")
        if run:
            for deployed in apps:
                _say(f"==> {deployed.name}")
                if (code := run_app(deployed)) != 0:
                    _fail(f"{deployed.name} exited with code {code}")

    _guarded(action)


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
        from srcstacks import pipeline
        from srcstacks.stages.clean import clean, megabytes

        config = load_config(spec, Overrides(variant=variant))
        with pipeline.work_dir_held(config, _say):
            removed = clean(config, _say, everything=everything)
        freed = megabytes(sum(item.size for item in removed))
        typer.echo(f"cleaned: {len(removed)} folder(s) and file(s) removed, {freed} freed")

    _guarded(action)


@app.command("variants")
def variants_command(spec: SpecArg = Path(DEFAULT_SPEC_NAME)) -> None:
    """List the Fromager variants the build settings define, with their env."""

    def action() -> None:
        from srcstacks.listing import list_variants

        config = load_config(spec)
        for variant in list_variants(config):
            marker = " (selected)" if variant.name == config.variant else ""
            typer.echo(f"{variant.name}{marker}")
            for project, env in variant.projects.items():
                settings = ", ".join(f"{key}={value!r}" for key, value in env.items())
                typer.echo(f"  {project}: {settings or '(no env)'}")

    _guarded(action)


@app.command("patches")
def patches_command(spec: SpecArg = Path(DEFAULT_SPEC_NAME), variant: VariantOpt = None) -> None:
    """List which patch applies to which built project and version, for a variant."""

    def action() -> None:
        from srcstacks.listing import list_patches

        config = load_config(spec, Overrides(variant=variant))
        patched, warnings = list_patches(config)
        for item in patched:
            typer.echo(f"{item.project} {item.version}")
            for patch in item.patches:
                typer.echo(f"  {_display(patch, config.spec_dir)}")
        if not patched:
            typer.echo(f"no patch applies to any built project (variant {config.variant!r})")
        for warning in warnings:
            _say(f"warning: {warning}")

    _guarded(action)


def _display(path: Path, base: Path) -> str:
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"srcstacks {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version."
        ),
    ] = False,
) -> None:
    """srcstacks: Python source in, deployable and audited environment archives out."""


# Sub-apps and commands of their own modules, imported last: they use the helpers above.
# cli_audit (sbom check, verify, report), cli_attest (keygen, audit) and cli_hosts
# (missing, collect) add their commands to `app` and `sbom_app` when imported.
from srcstacks import cli_attest, cli_audit, cli_hosts  # noqa: E402, F401
from srcstacks.cli_index import index_app  # noqa: E402
from srcstacks.cli_runtime import runtime_app  # noqa: E402

app.add_typer(index_app, name="index")
app.add_typer(runtime_app, name="runtime")


def main() -> None:
    """Console entry point."""
    app()
