"""``srcstacks runtime ...``: make runtime-layer interpreters outside a pipeline run.

``pack`` packs a local CPython into an ``install_only`` archive
(:mod:`srcstacks.runtime.pack`); ``build`` builds each runtime layer's CPython
from the spec's source tarball (:mod:`srcstacks.runtime.build`), as the lock
stage would, so the minutes of compiling can happen ahead of the first build.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from srcstacks.cli.common import SpecArg, VariantOpt, WorkOpt, guarded, say
from srcstacks.spec.config import DEFAULT_SPEC_NAME, Overrides, load_config

runtime_app = typer.Typer(help="Make and inspect runtime-layer interpreters.", no_args_is_help=True)


@runtime_app.command("pack")
def runtime_pack_command(
    interpreter: Annotated[
        str, typer.Option(help="Interpreter whose installation is packed.")
    ] = sys.executable,
    output: Annotated[Path, typer.Option(help="Folder for the archive.")] = Path("."),
    keep_debug_info: Annotated[
        bool, typer.Option(help="Keep the debug information (stripped by default).")
    ] = False,
) -> None:
    """Pack a local CPython (stdlib only, relocatable) as an install_only .tar.gz."""

    def action() -> None:
        from srcstacks.runtime.pack import pack_runtime

        packed = pack_runtime(interpreter, output.absolute(), keep_debug_info=keep_debug_info)
        typer.echo(f"{packed.archive}")
        say(f"sha256 {packed.sha256}; CPython {packed.interpreter.version}")

    guarded(action)


@runtime_app.command("build")
def runtime_build_command(
    spec: SpecArg = Path(DEFAULT_SPEC_NAME),
    variant: VariantOpt = None,
    work_dir: WorkOpt = None,
) -> None:
    """Build each runtime layer's CPython from the spec's tarball (source = "build")."""

    def action() -> None:
        from srcstacks.errors import ConfigError
        from srcstacks.run_context import work_dir_held
        from srcstacks.runtime.build import build_runtime

        config = load_config(spec, Overrides(variant=variant, work_dir=work_dir))
        built_here = [layer for layer, source in config.runtime_sources if source.kind == "build"]
        if not built_here:
            raise ConfigError(
                f"{config.spec_path}: [tool.srcstacks.runtime] source is"
                f" {config.runtime.kind!r}; 'runtime build' needs source = \"build\""
            )
        with work_dir_held(config, say):
            for layer in built_here:
                built = build_runtime(config, layer, say)
                typer.echo(str(built.archive))

    guarded(action)
