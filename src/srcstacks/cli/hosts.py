"""``srcstacks missing``, ``collect`` and ``system-deps``: build and deploy hosts.

``missing`` asks the upstream index what has no binary wheel on each platform a layer
targets; ``collect`` merges wheel dirs built on other hosts; ``system-deps`` names the
system packages a deploy host must install. Thin, like every command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from srcstacks.cli.common import (
    IndexOpt,
    IndexPortOpt,
    NoIndexOpt,
    OutputOpt,
    SettingsOpt,
    SpecArg,
    VariantOpt,
    WheelOpt,
    WorkOpt,
    app,
    guarded,
    say,
)
from srcstacks.spec.config import DEFAULT_SPEC_NAME, Overrides, load_config


@app.command("missing")
def missing_command(
    spec: SpecArg = Path(DEFAULT_SPEC_NAME),
    settings_dir: SettingsOpt = None,
    platform: Annotated[
        list[str] | None,
        typer.Option(
            "--platform",
            help="Only this target platform (repeatable; default: every platform a layer targets).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List, per layer and target platform, the projects with no binary wheel upstream.

    Resolves every layer with uv against the upstream index; builds nothing."""

    def action() -> None:
        from srcstacks.build.missing import discover, render

        config = load_config(spec, Overrides(settings_dir=settings_dir))
        typer.echo(render(discover(config, say, only=platform), as_json=as_json))

    guarded(action)


@app.command("collect")
def collect_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Wheel dirs published on other build hosts (each with its provenance.json),"
            " then optionally the stack spec (a .toml file or a folder holding venvstacks.toml).",
            metavar="DIR",
            show_default=False,
        ),
    ],
    variant: VariantOpt = None,
    work_dir: WorkOpt = None,
    wheel_dir: WheelOpt = None,
    index: IndexOpt = None,
    no_index: NoIndexOpt = False,
    index_port: IndexPortOpt = None,
) -> None:
    """Merge wheel dirs built on other hosts into this stack's wheel dir (and its index)."""

    def action() -> None:
        from srcstacks.publish.collect import run_collect, split_spec

        sources, spec = split_spec(paths, Path(DEFAULT_SPEC_NAME))
        overrides = Overrides(
            variant=variant,
            work_dir=work_dir,
            wheel_dir=wheel_dir,
            index_url=index,
            no_index=no_index,
            index_port=index_port,
        )
        run_collect(load_config(spec, overrides), sources, say)

    guarded(action)


@app.command("system-deps")
def system_deps_command(
    spec: SpecArg = Path(DEFAULT_SPEC_NAME),
    variant: VariantOpt = None,
    wheel_dir: WheelOpt = None,
    output_dir: OutputOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """List the system packages a deploy host must install, per layer archive, and those
    a build host needs to build the wheels again.

    Reads the libraries the archives' compiled files load and are not in the stack, what
    the wheels built here link against and were compiled with, and which package
    provides each on this machine (dpkg or rpm); prints the install lines."""

    def action() -> None:
        from srcstacks.deploy.build_host import build_needs
        from srcstacks.deploy.system_deps import deploy_needs, render
        from srcstacks.worklock import held_for_reading

        overrides = Overrides(variant=variant, wheel_dir=wheel_dir, output_dir=output_dir)
        config = load_config(spec, overrides)
        with held_for_reading(config.work_dir):
            typer.echo(render(deploy_needs(config), build_needs(config), as_json=as_json))

    guarded(action)
