"""Wheels Fromager fetched from the index: what a failed run leaves for the next one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from srcstacks.build.cache_check import (
    discard_unchecked_fetches,
    mismatch,
    read_fetched_records,
)
from srcstacks.errors import StateError
from srcstacks.layout import Layout
from srcstacks.layout.ownership import claim_dir
from srcstacks.spec.config import load_config
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


def upstream_companion(sha256: str, index_sha256: str | None = None) -> dict[str, Any]:
    """The index's companion of an upstream binary of six, as ``asdict`` writes it."""
    from dataclasses import asdict

    from srcstacks.state.provenance import UpstreamRecord, WheelProvenance

    record = WheelProvenance(
        filename="six-1.17.0-py3-none-any.whl", project="six", version="1.17.0",
        build_tag="", sha256=sha256, variant="cpu", sdist=None,
        upstream=UpstreamRecord("https://pypi.org/simple/", "https://x/six.whl",
                                index_sha256 or sha256),
    )  # fmt: skip
    return {"wheel": asdict(record)}


@pytest.mark.parametrize(
    ("tool", "take_upstream", "expected"),
    [
        ("", False, "it is an upstream binary (from https://pypi.org/simple/), not a wheel"
         " built from source"),
        ('[tool.srcstacks]\nmode = "selective"\n', False, "it is an upstream binary (from"
         " https://pypi.org/simple/), not a wheel built from source"),
        ("", True, "it is an upstream binary (from https://pypi.org/simple/), but the stack is"
         " in full mode"),
        ('[tool.srcstacks]\nmode = "selective"\nbuild_from_source = ["six"]\n', True,
         "it is an upstream binary (from https://pypi.org/simple/), but"
         " 'tool.srcstacks.build_from_source' lists six"),
        ('[tool.srcstacks]\nmode = "selective"\n', True, ""),
    ],
)  # fmt: skip
def test_an_upstream_binary_on_the_index_is_taken_only_where_the_mode_allows(
    tmp_path: Path, tool: str, take_upstream: bool, expected: str
) -> None:
    """Fromager's cache never takes one; the mirror of a selective stack's locked wheels
    does, unless the project is to be built from source."""
    config = load_config(write(tmp_path, SPEC + "\n" + tool))
    companion = upstream_companion("5" * 64)
    found = mismatch(
        config, {}, "six-1.17.0-py3-none-any.whl", "5" * 64, companion,
        take_upstream=take_upstream,
    )  # fmt: skip
    assert found == expected


def test_an_upstream_binary_whose_bytes_the_index_did_not_publish_is_refused(
    tmp_path: Path,
) -> None:
    config = load_config(write(tmp_path, SPEC + '\n[tool.srcstacks]\nmode = "selective"\n'))
    companion = upstream_companion("5" * 64, index_sha256="6" * 64)
    found = mismatch(config, {}, "six-1.17.0-py3-none-any.whl", "5" * 64, companion,
                     take_upstream=True)  # fmt: skip
    assert found == "its sha256 differs from the one its upstream index published"
    # A companion of a wheel built from source without its build inputs is malformed.
    built = {
        "wheel": {
            **companion["wheel"],
            "upstream": None,
            "sdist": {"url": "u", "filename": "six-1.17.0.tar.gz", "sha256": "7"},
        }
    }
    assert mismatch(config, {}, "six-1.17.0-py3-none-any.whl", "5" * 64, built) == (
        "its provenance on the index is malformed"
    )
