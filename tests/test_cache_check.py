"""Wheels Fromager fetched from the index: what a failed run leaves for the next one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srcstacks.config import load_config
from srcstacks.errors import StateError
from srcstacks.layout import Layout, claim_dir
from srcstacks.stages.cache_check import discard_unchecked_fetches, read_fetched_records
from tests.test_config import SPEC, write


def test_a_failed_run_leaves_no_unchecked_fetched_wheel(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SPEC))
    claim_dir(config.work_dir, "work dir")
    layout = Layout.of(config)
    folder = layout.fromager.built_wheels
    folder.mkdir(parents=True)
    names = {
        project: f"{project}-1.0-0-py3-none-any.whl"
        for project in ("checked", "unchecked", "built")
    }
    for name in names.values():
        (folder / name).write_bytes(b"wheel")
    record = {
        "filename": names["checked"], "project": "checked", "version": "1.0", "build_tag": "0",
        "sha256": "0" * 64, "variant": "cpu",
        "sdist": {"url": "https://x/checked-1.0.tar.gz", "filename": "checked-1.0.tar.gz",
                  "sha256": "1" * 64},
    }  # fmt: skip
    layout.fetched_provenance.write_text(json.dumps({names["checked"]: record}))

    discard_unchecked_fetches(config, layout.fromager, {"checked", "unchecked"})

    assert sorted(path.name for path in folder.iterdir()) == sorted(
        [names["checked"], names["built"]]
    )


def test_a_malformed_record_of_fetched_wheels_is_named(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SPEC))
    claim_dir(config.work_dir, "work dir")
    layout = Layout.of(config)
    layout.fetched_provenance.parent.mkdir(parents=True)
    layout.fetched_provenance.write_text(json.dumps({"x.whl": {"project": "x"}}))
    with pytest.raises(StateError, match=r"fetched-provenance\.json: malformed record"):
        read_fetched_records(config)
