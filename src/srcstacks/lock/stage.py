"""Stage 3, ``srcstacks lock``: lock the layers against the published wheels only.

Reads the wheel dir and its ``provenance.json`` (written by publish-wheels); refuses a
wheel without matching provenance; checks that every layer has a wheel for every
platform it targets (:mod:`srcstacks.lock.platforms`); runs ``venvstacks lock``
for the layers whose lock inputs changed (see :mod:`srcstacks.lock.plan`), and
only those (``--include``), against the wheel dir alone (``--no-index``) or, with an
index, against a view of it that lists only this stack's published wheels
(:mod:`srcstacks.lock.index_view`). Writes venvstacks' lock files in ``requirements/``
beside the spec, then checks that every wheel they name is a published wheel with the
sha256 recorded for it, and records each layer's lock inputs for the next run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from srcstacks.index.target import locked_index_url, wheel_source
from srcstacks.layout import Layout
from srcstacks.lock.elsewhere import check_other_platform_wheels, ignored_upload_time_settings
from srcstacks.lock.index_view import published_only
from srcstacks.lock.plan import (
    LayerLockState,
    layer_lock_state,
    lock_reasons,
    needs_reset,
)
from srcstacks.lock.platforms import check_every_platform
from srcstacks.reporting import Report
from srcstacks.run_context import RunContext
from srcstacks.runtime.prepare import runtime_env, runtimes_for
from srcstacks.spec.config import StackConfig
from srcstacks.spec.variants import venvstacks_spec
from srcstacks.state.fingerprints import stamp_files
from srcstacks.state.layer_fingerprints import (
    LayerRecord,
    lower_first,
    read_layer_records,
    say_plan,
    spec_tables,
    write_layer_records,
)
from srcstacks.state.lock_files import (
    LockedWheel,
    check_locks,
    lock_file_path,
    read_locks,
)
from srcstacks.state.provenance import Manifest, check_wheel_dir
from srcstacks.tools import venvstacks
from srcstacks.tools.venvstacks import WheelSource

__all__ = ["LockedWheel", "check_locks", "lock_file_path", "lock_layers", "read_locks"]

STAGE = "lock"


def lock_layers(run: RunContext, *, force: bool = False) -> list[LockedWheel]:
    """Lock the layers whose lock inputs changed (all with ``force``); return every
    layer's locked wheels."""
    config, report, layout = run.config, run.report, run.layout
    manifest = check_wheel_dir(config.wheel_dir)
    report(f"{len(manifest.wheels)} published wheel(s) pass the provenance check")
    # A requirement only other platforms need, named with its cause; then every layer on
    # every platform uv will lock, before venvstacks locks them all at once.
    check_other_platform_wheels(config, manifest)
    check_every_platform(config, [layout.wheel(name) for name in manifest.wheels], report)
    for setting in ignored_upload_time_settings(config.spec_path):
        report(
            f"note: {setting} is not applied to the lock: the wheels srcstacks locks"
            " were uploaded to its wheel dir or index when they were built (it held the"
            " sources Fromager built to that date)"
        )
    records = {} if force else read_layer_records(config, STAGE)
    with _lock_source(run, manifest) as source:
        locking = _Locking(config, layout, manifest, records, source)
        # Lower layers first; a layer above one that now pins something else is locked
        # in a second round (a rebuilt wheel of the same version pins nothing new).
        for _round in config.layers:
            stale = locking.plan(report)
            if not stale:
                break
            if not locking.relocked:
                runtimes_for(config, stale, report)
            locking.relock(stale, report)
    locked = check_locks(config, manifest, locked_index_url(config))
    _record(config, manifest, locked_index_url(config))
    log = layout.log("venvstacks-lock")
    count = len(locking.relocked)
    what = f"locked {count} layer(s) again" if count else "no layer needed locking"
    report(f"{what}; {len(locked)} wheel(s) in the {len(config.layers)} locks; log: {log}")
    return locked


@contextlib.contextmanager
def _lock_source(run: RunContext, manifest: Manifest) -> Iterator[WheelSource]:
    """What venvstacks locks against: the wheel dir, or the view of the stack's index
    that lists only the wheels it published (running for the length of the block)."""
    target = run.index
    if target is None:
        yield wheel_source(run.config.wheel_dir, None)
        return
    with published_only(target.location, manifest) as view:
        yield WheelSource(run.config.wheel_dir, view.simple_url, view.base_url)


@dataclass
class _Locking:
    """One lock stage's rounds: which layers were locked again, how many tool runs."""

    config: StackConfig
    layout: Layout
    manifest: Manifest
    records: dict[str, LayerRecord]
    source: WheelSource
    relocked: list[str] = field(default_factory=list)
    runs: int = 0

    def state(self, name: str) -> LayerLockState:
        layer = next(item for item in self.config.layers if item.env_name == name)
        return layer_lock_state(self.config, layer, self.manifest, locked_index_url(self.config))

    def plan(self, report: Report) -> list[str]:
        """The layers not locked yet in this stage to lock again, lower first; says why."""
        plan = {
            layer.env_name: lock_reasons(
                self.state(layer.env_name), self.records.get(layer.env_name)
            )
            for layer in lower_first(self.config)
            if layer.env_name not in self.relocked
        }
        if self.relocked:  # a later round: name only what it adds
            plan = {name: reasons for name, reasons in plan.items() if reasons}
        say_plan(report, "lock", plan, "locking again", "lock kept")
        return [name for name, reasons in plan.items() if reasons]

    def relock(self, stale: list[str], report: Report) -> None:
        """``venvstacks lock --if-needed --include`` the stale layers; a lock venvstacks
        keeps that still does not fit the published wheels is made again from scratch."""
        before = {name: self.state(name) for name in stale}
        reset = [name for name in stale if needs_reset(before[name], self.records.get(name))]
        self._run(stale, reset, report)
        unfit = [name for name in stale if self.state(name).problems]
        if unfit:
            report(
                f"  lock: the kept locks of {', '.join(unfit)} do not fit the published"
                " wheels; locking them again from scratch"
            )
            self._run(unfit, unfit, report)
        # venvstacks keeps a valid lock of a layer above one it just locked again, even
        # when that one now pins another version: such a layer is locked from scratch.
        moved = [
            name
            for name in stale
            if name not in reset
            and name not in unfit
            and _lower_pins(self.state(name)) != _lower_pins(before[name])
        ]
        if moved:
            report(
                f"  lock: the layers below {', '.join(moved)} now pin other versions;"
                " locking them again from scratch"
            )
            self._run(moved, moved, report)
        self.relocked.extend(stale)

    def _run(self, include: list[str], reset: list[str], report: Report) -> None:
        """One ``venvstacks lock``, logged to ``venvstacks-lock.log`` (a second run in
        this stage to ``venvstacks-lock-2.log``, and so on)."""
        self.runs += 1
        layout = self.layout
        name = "venvstacks-lock" if self.runs == 1 else f"venvstacks-lock-{self.runs}"
        venvstacks.lock(
            venvstacks_spec(self.config),
            build_dir=layout.venvstacks_build,
            source=self.source,
            log_path=layout.log(name),
            env=runtime_env(self.config),
            if_needed=True,
            include=include,
            reset=reset,
            on_line=venvstacks.progress_filter(report),
        )


def _record(config: StackConfig, manifest: Manifest, index_url: str | None) -> None:
    """Record every layer's lock inputs and files as they are now (all checked)."""
    tables = spec_tables(config)
    records: dict[str, LayerRecord] = {}
    for layer in config.layers:
        state = layer_lock_state(config, layer, manifest, index_url, tables)
        records[layer.env_name] = LayerRecord(state.components, stamp_files(state.outputs, {}))
    write_layer_records(config, STAGE, records)


def _lower_pins(state: LayerLockState) -> dict[str, str]:
    """What the layers below pin for this one (the ``lower:`` parts of its inputs)."""
    return {key: value for key, value in state.components.items() if key.startswith("lower:")}
