"""Unit tests of the stage fingerprints: what makes a stage up to date, and what does not.

The stages themselves are replaced by small functions writing their output files: these
tests are about srcstacks' own skip logic (the real tools run in tests/e2e/test_noop_rerun.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import srcstacks.stages
from srcstacks import pipeline
from srcstacks.layout import Layout
from srcstacks.layout.ownership import claim_dir
from srcstacks.run_context import RunContext
from srcstacks.spec.config import StackConfig, load_config
from srcstacks.state.fingerprints import (
    StageRecord,
    fingerprint_of,
    read_records,
    stamp_files,
    write_record,
)
from tests.conftest import copy_demo_stack


def test_fingerprint_ignores_key_order_and_sees_every_value() -> None:
    assert fingerprint_of({"a": 1, "b": [1, 2]}) == fingerprint_of({"b": [1, 2], "a": 1})
    assert fingerprint_of({"a": 1, "b": [1, 2]}) != fingerprint_of({"a": 1, "b": [2, 1]})


def test_stamps_reuse_a_known_hash_only_while_size_and_mtime_match(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    path.write_bytes(b"first")
    stamps = stamp_files({"out": path}, {})
    assert stamps["out"][0] == fingerprint_of_bytes(b"first")
    fake = {"out": ("not-read-again", *stamps["out"][1:])}
    assert stamp_files({"out": path}, fake)["out"][0] == "not-read-again"
    path.write_bytes(b"second, longer")  # another size and mtime: read again
    assert stamp_files({"out": path}, fake)["out"][0] == fingerprint_of_bytes(b"second, longer")
    path.unlink()
    assert stamp_files({"out": path}, stamps) == {}


def fingerprint_of_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("text", ["", "{", "[]", '{"wheels": {"fingerprint": 1}}', "\xff"])
def test_a_corrupt_record_file_counts_as_no_record(tmp_path: Path, text: str) -> None:
    path = tmp_path / "stage-fingerprints.json"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    assert read_records(path) == {}
    write_record(path, "lock", StageRecord("abc", {"x": ("s", 1, 2)}))
    assert read_records(path) == {"lock": StageRecord("abc", {"x": ("s", 1, 2)})}
    write_record(path, "lock", None)
    assert read_records(path) == {}


# --- the pipeline's skip logic, with stand-in stages ----------------------------------


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StackConfig:
    """The demo stack's spec in tmp_path, with stages that only write their outputs."""
    config = load_config(copy_demo_stack(tmp_path / "stack"))
    claim_dir(config.work_dir, "work dir")
    calls: list[str] = []
    stages = tuple(
        replace(stage, run=_writer(stage.name, calls)) for stage in srcstacks.stages.STAGES
    )
    monkeypatch.setattr(pipeline, "STAGES", stages)
    monkeypatch.setattr(srcstacks.stages, "STAGES", stages)  # stage_named reads it
    monkeypatch.setattr(pipeline, "announce_environment", lambda report: None)
    monkeypatch.setattr(pipeline, "_calls", calls, raising=False)
    return config


def _writer(name: str, calls: list[str]) -> Callable[[RunContext, bool], None]:
    def stage(run: RunContext, force: bool) -> None:
        calls.append(name)
        layout = run.layout
        target = {
            "wheels": layout.fromager.built_wheels / "idna-3.11-0-py3-none-any.whl",
            "publish-wheels": layout.provenance,
            "lock": layout.runtime_record,
            "archives": layout.archive("app-punycode.tar.xz"),
            "sbom": layout.archive("app-punycode.tar.xz.cdx.json"),
        }[name]
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.write_text(f"{name} output\n")

    return stage


def _ran(config: StackConfig, force: bool = False) -> list[str]:
    calls: list[str] = pipeline._calls  # type: ignore[attr-defined]
    calls.clear()
    pipeline.run_all(RunContext(config, lambda _: None), force=force)
    return list(calls)


ALL = [stage.name for stage in srcstacks.stages.STAGES]


def test_a_second_run_with_nothing_changed_runs_no_stage(stack: StackConfig) -> None:
    assert _ran(stack) == ALL
    assert _ran(stack) == []
    assert _ran(stack, force=True) == ALL


def test_a_changed_patch_reruns_the_wheels_and_what_their_outputs_feed(
    stack: StackConfig,
) -> None:
    _ran(stack)
    patch = next(stack.patches_dir.rglob("*.patch"))
    patch.write_text(patch.read_text() + "\n")
    # The stand-in wheels stage leaves the same wheel: the stages after it stay skipped
    # (publish-wheels reads the patches too, for provenance).
    assert _ran(stack) == ["wheels", "publish-wheels", "sbom"]
    assert _ran(stack) == []


def test_a_changed_upload_cutoff_reruns_the_wheels(stack: StackConfig) -> None:
    _ran(stack)
    stack.spec_path.write_text(
        stack.spec_path.read_text() + '\n[tool.uv]\nexclude-newer = "2025-08-27"\n'
    )
    # Fromager may take other sources; the later stages read the whole spec anyway.
    assert _ran(load_config(stack.spec_path)) == ALL
    assert _ran(load_config(stack.spec_path)) == []


def test_a_changed_earlier_output_reruns_every_later_stage(stack: StackConfig) -> None:
    _ran(stack)
    wheel = Layout.of(stack).fromager.built_wheels / "idna-3.11-0-py3-none-any.whl"
    wheel.write_text("rebuilt with other bytes\n")
    # The wheels stage runs again too: its own output is not what it left.
    assert _ran(stack) == ALL


@pytest.mark.parametrize("change", ["delete", "edit", "add"])
def test_a_deleted_edited_or_added_output_is_not_kept(stack: StackConfig, change: str) -> None:
    _ran(stack)
    archive = Layout.of(stack).archive("app-punycode.tar.xz")
    if change == "delete":
        archive.unlink()
    elif change == "edit":
        # Same size and mtime would be trusted; an edit changes at least the mtime.
        archive.write_text("archives outpuT\n")
        os.utime(archive, ns=(0, 1))
    else:
        Layout.of(stack).archive("extra.tar.xz").write_text("left by hand\n")
    # A rerun that leaves the same bytes (the stand-in rewrites a deleted archive as it
    # was) lets the SBOM stage stay skipped; other bytes make it run.
    assert _ran(stack) == (["archives"] if change == "delete" else ["archives", "sbom"])


def test_a_failed_stage_leaves_no_record(
    stack: StackConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ran(stack)
    (stack.spec_dir / "launch_modules" / "punycode.py").write_text("print('edited')\n")

    def broken(run: RunContext, force: bool) -> None:
        raise RuntimeError("venvstacks failed")

    stages = tuple(
        replace(stage, run=broken) if stage.name == "archives" else stage
        for stage in srcstacks.stages.STAGES
    )
    monkeypatch.setattr(pipeline, "STAGES", stages)
    monkeypatch.setattr(srcstacks.stages, "STAGES", stages)
    with pytest.raises(RuntimeError):
        pipeline.run_all(RunContext(stack, lambda _: None))
    assert "archives" not in read_records(Layout.of(stack).stage_fingerprints)
    assert not pipeline.check_stage("archives", stack).up_to_date


def test_a_corrupt_record_file_reruns_every_stage(stack: StackConfig) -> None:
    _ran(stack)
    Layout.of(stack).stage_fingerprints.write_text("{not json", encoding="utf-8")
    assert _ran(stack) == ALL
    assert _ran(stack) == []


def test_a_stack_folder_copied_whole_stays_up_to_date(stack: StackConfig, tmp_path: Path) -> None:
    import shutil

    _ran(stack)
    shutil.copytree(stack.spec_dir, tmp_path / "copy", symlinks=True)
    copy = load_config(tmp_path / "copy" / stack.spec_path.name)
    assert _ran(copy) == []
    # ... but another output dir is not the one the archives were published to.
    other = load_config(copy.spec_path, overrides=_output_override(tmp_path / "copy" / "elsewhere"))
    assert "archives" in _ran(other)


def _output_override(folder: Path) -> Any:
    from srcstacks.spec.config import Overrides

    return Overrides(output_dir=folder)


def test_the_index_starts_only_when_a_stage_runs(
    stack: StackConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import contextlib
    from collections.abc import Iterator

    started: list[str] = []

    @contextlib.contextmanager
    def index_running(config: StackConfig, report: Any) -> Iterator[None]:
        started.append("index")
        yield

    monkeypatch.setattr(pipeline, "index_running", index_running)
    _ran(stack)
    assert started == ["index"]
    _ran(stack)
    assert started == ["index"], "a run with nothing to do started the index"
