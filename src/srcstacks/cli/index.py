"""``srcstacks index ...``: the private package index srcstacks can run for you.

Reads the stack spec (for the work dir and the variant, which names the index) and
hands over to :mod:`srcstacks.index.managed`, imported only when a command runs.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from srcstacks.cli.common import SpecArg, VariantOpt, WorkOpt, guarded, say
from srcstacks.layout import Layout
from srcstacks.layout.ownership import claim_dir
from srcstacks.spec.config import DEFAULT_SPEC_NAME, Overrides, load_config

if TYPE_CHECKING:
    from srcstacks.tools.devpi import DevpiServer

index_app = typer.Typer(
    help="A private package index (devpi) on this machine for the stack's wheels.",
    no_args_is_help=True,
)

PortOpt = Annotated[
    int | None,
    typer.Option(
        help="Loopback port to serve on (default: [tool.srcstacks.index] port, else the"
        " port of its last run if free, else a free one).",
        min=1,
        max=65535,
    ),
]
StateDirOpt = Annotated[
    Path | None,
    typer.Option(help="The index's state: its wheels and credentials (default: <work dir>/index)."),
]


@index_app.command("serve")
def serve_command(
    spec: SpecArg = Path(DEFAULT_SPEC_NAME),
    variant: VariantOpt = None,
    work_dir: WorkOpt = None,
    port: PortOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Run a private devpi index on 127.0.0.1 until Ctrl-C; its name is the variant."""

    def action() -> None:
        from srcstacks.index.managed import managed_index
        from srcstacks.index.target import managed_index_name

        config = load_config(spec, Overrides(variant=variant, work_dir=work_dir))
        if state_dir is None:
            claim_dir(config.work_dir, "work dir")  # before a folder is made inside it
        target = (state_dir or Layout.of(config).index_state).absolute()
        # Ctrl-C is how the user stops it: the server is stopped on the way out. From the
        # first line that names the index on: whoever reads it may stop it at once.
        with (
            managed_index(
                target,
                port=port or (config.index.port if config.index else None),
                index_name=managed_index_name(config),
                report=say,
                port_hint="choose another port with --port",
            ) as index,
            contextlib.suppress(KeyboardInterrupt),
            _stop_signals_interrupt(),
        ):
            # One write: whoever stops the index on its first line has read all three.
            typer.echo(
                f"index:       {index.base_url}\n"
                f"simple API:  {index.simple_url}\n"
                f"upload user: {index.user} (password in {index.credentials_file})"
            )
            say("stop it with Ctrl-C")
            _wait_while_running(index.server)
        say("private index stopped")

    guarded(action)


@index_app.command("reset")
def reset_command(
    spec: SpecArg = Path(DEFAULT_SPEC_NAME),
    variant: VariantOpt = None,
    work_dir: WorkOpt = None,
    state_dir: StateDirOpt = None,
) -> None:
    """Remove the managed index and every wheel on it; the next build publishes afresh."""

    def action() -> None:
        from srcstacks.clean import disk_size, megabytes
        from srcstacks.index.managed import reset
        from srcstacks.worklock import exclusive

        config = load_config(spec, Overrides(variant=variant, work_dir=work_dir))
        target = (state_dir or Layout.of(config).index_state).absolute()
        size = disk_size(target) if target.exists() else 0
        # No build may start on the work dir (and its index) while the index goes.
        held = exclusive(config.work_dir, say) if config.work_dir.exists() else None
        with held or contextlib.nullcontext():
            removed = reset(target, say)
        if removed:
            typer.echo(f"removed the managed index in {target} ({megabytes(size)} freed)")
        else:
            typer.echo(f"no managed index in {target}: nothing to remove")

    guarded(action)


def _wait_while_running(server: DevpiServer | None) -> None:
    from srcstacks.errors import ToolError

    assert server is not None  # managed_index always yields its server
    while (code := server.exit_code()) is None:
        time.sleep(0.5)
    raise ToolError(f"devpi-server stopped by itself (exit code {code})", str(server.log_path))


@contextlib.contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """While inside, SIGINT and SIGTERM (a service manager) stop the index like Ctrl-C.

    SIGINT too, since a shell starts a background job with SIGINT ignored, and Python
    then never turns it into KeyboardInterrupt.
    """

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, interrupt) for signum in _STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
