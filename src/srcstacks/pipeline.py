"""The pipeline: the stages in order, each runnable alone, one run per work dir at a time.

Runs the :class:`~srcstacks.stages.Stage` objects of :mod:`srcstacks.stages`. A stage
whose inputs and outputs are as its last successful run left them is skipped (its
fingerprint and output stamps are in ``stage-fingerprints.json``, see
:mod:`srcstacks.state.fingerprints`); ``force`` runs it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from srcstacks.layout import Layout
from srcstacks.run_context import RunContext, index_running, work_dir_held
from srcstacks.runtime.interpreters import check_packed_runtimes
from srcstacks.spec.config import StackConfig
from srcstacks.stage_inputs import common_inputs
from srcstacks.stages import STAGES, Stage, stage_named
from srcstacks.state.fingerprints import (
    StageRecord,
    content_digest,
    fingerprint_of,
    read_records,
    stamp_files,
    write_record,
)
from srcstacks.tools.process import announce_environment


def run_stage(name: str, run: RunContext, *, force: bool = False) -> Any:
    """Run one stage alone, holding the work dir's lock; skip it when it is up to date."""
    stage = stage_named(name)
    config, report = run.config, run.report
    with work_dir_held(config, report), contextlib.ExitStack() as later:
        announce_environment(report)
        if not force and _up_to_date(stage, run):
            return None
        later.enter_context(index_running(config, report))
        return _run_recorded(stage, run, force=force)


def run_all(run: RunContext, *, force: bool = False) -> None:
    """Run every stage in order; a failure stops the run and keeps what was done.

    A stage whose inputs and outputs are as its last successful run left them is
    skipped (unless ``force``); the managed index starts only once a stage runs, so a
    run with nothing to do starts no tool and needs no network.
    """
    config, report = run.config, run.report
    check_packed_runtimes(config)
    with work_dir_held(config, report), contextlib.ExitStack() as later:
        announce_environment(report)
        index_started = False
        for number, stage in enumerate(STAGES, start=1):
            report(f"==> [{number}/{len(STAGES)}] {stage.name}")
            if not force and _up_to_date(stage, run):
                continue
            if not index_started:
                later.enter_context(index_running(config, report))
                index_started = True
            _run_recorded(stage, run, force=force)


def _up_to_date(stage: Stage, run: RunContext) -> bool:
    if check_stage(stage.name, run.config).up_to_date:
        run.report(f"{stage.name}: up to date (nothing changed since the last run)")
        return True
    return False


def _run_recorded(stage: Stage, run: RunContext, *, force: bool) -> Any:
    """Run a stage; record its fingerprint and outputs only once it succeeded.

    The lock, archives and sbom stages redo only the layers whose inputs changed
    (:mod:`srcstacks.state.layer_fingerprints`); ``force`` makes them redo every layer.
    """
    path = run.layout.stage_fingerprints
    # Fingerprinted before the run: an input edited while the stage runs makes the
    # next run do it again.
    fingerprint = check_stage(stage.name, run.config).fingerprint
    write_record(path, stage.name, None)
    result = stage.run(run, force)
    outputs = stamp_files(stage.outputs(run.config), {})
    write_record(path, stage.name, StageRecord(fingerprint, outputs))
    return result


@dataclass(frozen=True)
class StageCheck:
    """A stage's current input fingerprint, and whether its last run left it up to date."""

    fingerprint: str
    up_to_date: bool


def check_stage(name: str, config: StackConfig) -> StageCheck:
    """Compare a stage's inputs and outputs now with its record (starts no tool)."""
    stage = stage_named(name)
    records = read_records(Layout.of(config).stage_fingerprints)
    earlier: dict[str, str] = {}
    for before in STAGES[: STAGES.index(stage)]:
        known = records[before.name].outputs if before.name in records else {}
        earlier[before.name] = content_digest(stamp_files(before.outputs(config), known))
    fingerprint = fingerprint_of(stage_inputs(stage, config, earlier))
    record = records.get(name)
    if record is None or record.fingerprint != fingerprint:
        return StageCheck(fingerprint, False)
    current = stamp_files(stage.outputs(config), record.outputs)
    same = {key: stamp[0] for key, stamp in current.items()} == {
        key: stamp[0] for key, stamp in record.outputs.items()
    }
    return StageCheck(fingerprint, same and bool(current))


def stage_inputs(
    stage: Stage, config: StackConfig, earlier_outputs: dict[str, str]
) -> dict[str, Any]:
    """Everything ``stage`` reads, with ``earlier_outputs``: the earlier stages' output
    digests by stage name (see :func:`srcstacks.state.fingerprints.content_digest`)."""
    return {
        "stage": stage.name,
        **common_inputs(config),
        **stage.inputs(config),
        "earlier_outputs": earlier_outputs,
    }
