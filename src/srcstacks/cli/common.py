"""What every command of the ``srcstacks`` command line shares: the typer app, the
options more than one command takes, and how a command reports and fails.

Errors are printed as one line on stderr with a non-zero exit, never as a traceback
(:func:`guarded`). The stages, the SBOM code and their libraries (cyclonedx, elfdeps,
...) are imported inside the commands that use them: ``srcstacks --help`` must not pay
for all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from srcstacks import live_output
from srcstacks.errors import SrcstacksError

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


def say(message: str) -> None:
    if not live_output.print_above(message):  # above the builds' live display, if any
        typer.echo(message, err=True)


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"srcstacks: error: {message}", err=True)
    raise typer.Exit(code)


def guarded(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except SrcstacksError as exc:
        fail(str(exc))
    except OSError as exc:
        # The file system said no where no stage expected it (a read-only or full disk,
        # a file where a folder should be): name the path, keep the one-line promise.
        where = f"{exc.filename}: " if exc.filename else ""
        fail(f"{where}{exc.strerror or exc}; nothing built so far was lost")
    except KeyboardInterrupt:
        fail("interrupted; finished work is kept, rerun the same command to resume", 130)
