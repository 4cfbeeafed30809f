"""The pipeline: the stages in order, each runnable alone, one run per work dir at a time.

A stage whose inputs and outputs are as its last successful run left them is skipped
(see :mod:`srcstacks.state.fingerprints` and :mod:`srcstacks.stage_inputs`); ``force`` runs it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from srcstacks.archives.stage import build_archives
from srcstacks.build.stage import build_wheels
from srcstacks.layout import Layout
from srcstacks.lock.stage import lock_layers
from srcstacks.publish.stage import publish_wheels
from srcstacks.reporting import Report
from srcstacks.run_context import index_running, work_dir_held
from srcstacks.sbom.stage import write_sboms
from srcstacks.spec.config import StackConfig
from srcstacks.stage_inputs import stage_inputs, stage_outputs
from srcstacks.state.fingerprints import (
    StageRecord,
    content_digest,
    fingerprint_of,
    read_records,
    stamp_files,
    write_record,
)
from srcstacks.tools.process import announce_environment

Stage = Callable[..., Any]  # (config, report), and force= for LAYERED_STAGES

# Each stage reads what the one before it wrote to disk.
STAGES: dict[str, Stage] = {
    "wheels": build_wheels,
    "publish-wheels": publish_wheels,
    "lock": lock_layers,
    "archives": build_archives,
    "sbom": write_sboms,
}

# Stages that work layer by layer and take ``force`` (redo every layer).
LAYERED_STAGES = frozenset({"lock", "archives", "sbom"})


def run_stage(
    name: str, config: StackConfig, report: Report = print, *, force: bool = False
) -> Any:
    """Run one stage alone, holding the work dir's lock; skip it when it is up to date."""
    with work_dir_held(config, report), contextlib.ExitStack() as later:
        announce_environment(report)
        if not force and _up_to_date(name, config, report):
            return None
        later.enter_context(index_running(config, report))
        return _run_recorded(name, config, report, force=force)


def run_all(config: StackConfig, report: Report = print, *, force: bool = False) -> None:
    """Run every stage in order; a failure stops the run and keeps what was done.

    A stage whose inputs and outputs are as its last successful run left them is
    skipped (unless ``force``); the managed index starts only once a stage runs, so a
    run with nothing to do starts no tool and needs no network.
    """
    with work_dir_held(config, report), contextlib.ExitStack() as later:
        announce_environment(report)
        index_started = False
        for number, name in enumerate(STAGES, start=1):
            report(f"==> [{number}/{len(STAGES)}] {name}")
            if not force and _up_to_date(name, config, report):
                continue
            if not index_started:
                later.enter_context(index_running(config, report))
                index_started = True
            _run_recorded(name, config, report, force=force)


def _up_to_date(name: str, config: StackConfig, report: Report) -> bool:
    if check_stage(name, config).up_to_date:
        report(f"{name}: up to date (nothing changed since the last run)")
        return True
    return False


def _run_recorded(name: str, config: StackConfig, report: Report, *, force: bool) -> Any:
    """Run a stage; record its fingerprint and outputs only once it succeeded.

    The lock, archives and sbom stages redo only the layers whose inputs changed
    (:mod:`srcstacks.state.layer_fingerprints`); ``force`` makes them redo every layer.
    """
    path = Layout.of(config).stage_fingerprints
    # Fingerprinted before the run: an input edited while the stage runs makes the
    # next run do it again.
    fingerprint = check_stage(name, config).fingerprint
    write_record(path, name, None)
    options = {"force": force} if name in LAYERED_STAGES else {}
    result = STAGES[name](config, report, **options)
    outputs = stamp_files(stage_outputs(name, config), {})
    write_record(path, name, StageRecord(fingerprint, outputs))
    return result


@dataclass(frozen=True)
class StageCheck:
    """A stage's current input fingerprint, and whether its last run left it up to date."""

    fingerprint: str
    up_to_date: bool


def check_stage(name: str, config: StackConfig) -> StageCheck:
    """Compare a stage's inputs and outputs now with its record (starts no tool)."""
    records = read_records(Layout.of(config).stage_fingerprints)
    earlier: dict[str, str] = {}
    for stage in STAGES:
        if stage == name:
            break
        known = records[stage].outputs if stage in records else {}
        earlier[stage] = content_digest(stamp_files(stage_outputs(stage, config), known))
    fingerprint = fingerprint_of(stage_inputs(name, config, earlier))
    record = records.get(name)
    if record is None or record.fingerprint != fingerprint:
        return StageCheck(fingerprint, False)
    current = stamp_files(stage_outputs(name, config), record.outputs)
    same = {key: stamp[0] for key, stamp in current.items()} == {
        key: stamp[0] for key, stamp in record.outputs.items()
    }
    return StageCheck(fingerprint, same and bool(current))
