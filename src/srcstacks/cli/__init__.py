"""The ``srcstacks`` command line: a thin layer over :mod:`srcstacks.pipeline`.

Every command takes the stack spec as its argument (default ``./venvstacks.toml``);
options given here win over the spec's ``[tool.srcstacks]`` table. Errors are printed
as one line on stderr with a non-zero exit, never as a traceback.

- :mod:`.common`: the app, shared options, one-line errors;
- :mod:`.stages`: the pipeline's commands, ``deploy``, ``clean``, ``variants``, ``patches``;
- :mod:`.audit`: ``sbom``, ``sbom check``, ``verify``, ``report``;
- :mod:`.attest`: ``keygen``, ``audit``;
- :mod:`.hosts`: ``missing``, ``collect``;
- :mod:`.index` and :mod:`.runtime`: the ``index`` and ``runtime`` command groups.
"""

from __future__ import annotations

from typing import Annotated

import typer

from srcstacks import __version__

# Each module adds its commands to the app when imported, and `--help` lists them in
# that order: the pipeline's first.
from srcstacks.cli import stages  # noqa: F401

# isort: split
from srcstacks.cli import attest, audit, hosts  # noqa: F401
from srcstacks.cli.common import app
from srcstacks.cli.index import index_app
from srcstacks.cli.runtime import runtime_app


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


app.add_typer(index_app, name="index")
app.add_typer(runtime_app, name="runtime")


def main() -> None:
    """Console entry point."""
    app()


__all__ = ["app", "main"]
