"""``srcstacks sbom check``, ``verify`` and ``report``: the commands that check and show
what the pipeline made, rather than make it.

Thin, like every command: each hands over to its library module, imported only when the
command runs (``srcstacks --help`` must stay fast).
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
    SpecArg,
    VariantOpt,
    WheelOpt,
    app,
    fail,
    guarded,
    say,
    sbom_app,
)
from srcstacks.layout import Layout
from srcstacks.layout.ownership import remove_owned_dir
from srcstacks.sbom.profiles import PROFILES as SBOM_PROFILES  # stdlib only: cheap
from srcstacks.spec.config import DEFAULT_SPEC_NAME, Overrides, StackConfig, load_config


def _built_stack(
    spec: Path,
    variant: str | None,
    wheel_dir: Path | None,
    output_dir: Path | None,
    index: str | None,
    no_index: bool,
    index_port: int | None,
) -> StackConfig:
    """The config of a built stack as ``verify`` and ``report`` read it: the same options
    (variant, wheel and output dirs, the index) name the same outputs in both."""
    overrides = Overrides(
        variant=variant,
        wheel_dir=wheel_dir,
        output_dir=output_dir,
        index_url=index,
        no_index=no_index,
        index_port=index_port,
    )
    return load_config(spec, overrides)


@sbom_app.command("check")
def sbom_check_command(
    files: Annotated[list[Path], typer.Argument(help="CycloneDX JSON documents to check.")],
    archive: Annotated[
        list[Path] | None,
        typer.Option(help="The archive each FILE describes, in the same order (repeatable)."),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            help="The standard whose fields every FILE must have: ntia, cisa, bsi"
            " (TR-03183-2) or cra. Default: the most demanding one each FILE meets."
        ),
    ] = None,
) -> None:
    """Check SBOMs: CycloneDX 1.6 schema, a standard's fields, and optionally their archives."""
    from srcstacks.sbom.check import check_document, describe_outcome
    from srcstacks.state.archive_reader import read_archive

    archives = archive or []
    if archives and len(archives) != len(files):
        fail(f"give one --archive per FILE ({len(files)} file(s), {len(archives)} archive(s))")
    missing = [str(path) for path in archives if not path.is_file()]
    if missing:
        fail(f"no such archive: {', '.join(missing)}")
    if profile not in (None, *SBOM_PROFILES):
        fail(f"--profile must be one of {', '.join(SBOM_PROFILES)}, not {profile!r}")

    def action() -> int:
        failed = 0
        for index, path in enumerate(files):
            contents = read_archive(archives[index]) if archives else None
            result = check_document(path, contents, profile)
            for problem in result.problems:
                typer.echo(f"{path.name}: {problem}")
            typer.echo(f"{path.name}: {describe_outcome(result)}")
            failed += not result.ok
        return failed

    failed = guarded(action)
    if failed:
        fail(f"{failed} of {len(files)} SBOM(s) lack required elements (listed above)")


@app.command("verify")
def verify_command(
    spec: SpecArg = Path(DEFAULT_SPEC_NAME),
    variant: VariantOpt = None,
    wheel_dir: WheelOpt = None,
    output_dir: OutputOpt = None,
    index: IndexOpt = None,
    no_index: NoIndexOpt = False,
    index_port: IndexPortOpt = None,
    rebuild: Annotated[
        bool, typer.Option(help="Also rebuild everything in a scratch dir and compare bytes.")
    ] = False,
    scratch: Annotated[
        Path | None, typer.Option(help="Scratch dir for --rebuild (default: in the work dir).")
    ] = None,
    keep: Annotated[
        bool,
        typer.Option(help="Keep the rebuild in the scratch dir (one that differs is always kept)."),
    ] = False,
) -> None:
    """Check that every archive holds only published, unmodified wheels with provenance."""

    def action() -> None:
        from srcstacks import run_context
        from srcstacks.verify.rebuild import rebuild_and_compare
        from srcstacks.verify.stage import verify_build
        from srcstacks.worklock import held_for_reading

        config = _built_stack(spec, variant, wheel_dir, output_dir, index, no_index, index_port)
        # Verify alone only reads (it works on a read-only copy); a rebuild writes.
        held = (
            run_context.work_dir_held(config, say) if rebuild else held_for_reading(config.work_dir)
        )
        with held, run_context.index_running(config, say):
            result = verify_build(config, say)
            for problem in result.problems:
                typer.echo(f"MISMATCH {problem}")
            if not result.ok:
                fail(f"verification failed: {len(result.problems)} problem(s) listed above")
            typer.echo("verified: every archive matches its records")
            if rebuild:
                from srcstacks.tools.process import announce_environment

                announce_environment(say)  # the rebuild runs Fromager and venvstacks
                target = (scratch or Layout.of(config).default_scratch).absolute()
                comparisons = rebuild_and_compare(config, target, say)
                for comparison in comparisons:
                    typer.echo(comparison.describe())
                different = [c for c in comparisons if not c.identical]
                if different:
                    fail(
                        f"rebuild differs: {len(different)} artifact(s) listed above (the"
                        f" rebuild is kept in {target})"
                    )
                typer.echo(f"rebuilt bit for bit: {len(comparisons)} artifact(s) identical")
                if keep:
                    typer.echo(f"the rebuild is kept in {target}")
                else:
                    remove_owned_dir(target)

    guarded(action)


@app.command("report")
def report_command(
    spec: SpecArg = Path(DEFAULT_SPEC_NAME),
    variant: VariantOpt = None,
    wheel_dir: WheelOpt = None,
    output_dir: OutputOpt = None,
    index: IndexOpt = None,
    no_index: NoIndexOpt = False,
    index_port: IndexPortOpt = None,
    output: Annotated[
        Path | None,
        typer.Option(help="Where to write the page (default: <work_dir>/<variant>/report.html)."),
    ] = None,
    verify: Annotated[
        bool, typer.Option(help="Run verify's checks and show their result on the page.")
    ] = True,
) -> None:
    """Write one self-contained HTML page on the stack, the verify result included.

    It shows each layer's components, patches, build tools, licences and system
    libraries, and the dependency graph."""

    def action() -> None:
        from srcstacks.report import write_report

        config = _built_stack(spec, variant, wheel_dir, output_dir, index, no_index, index_port)
        target = (output or Layout.of(config).report).absolute()
        typer.echo(f"report written to {write_report(config, target, say, verify=verify)}")

    guarded(action)
