"""End-to-end: ``run-summary.json`` after a real first build and a real rerun."""

from __future__ import annotations

import json
from typing import Any

import pytest

from srcstacks.layout import Layout
from srcstacks.tools.fromager_files import read_build_order
from tests.conftest import BuiltStack

pytestmark = pytest.mark.e2e


def read_summary(layout: Layout) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(layout.run_summary.read_text())
    return data


def build_order_keys(layout: Layout) -> list[tuple[str, str]]:
    return sorted((e.project, e.version) for e in read_build_order(layout.fromager) or [])


def test_first_build_lists_every_wheel_of_the_build_order_as_built(
    built_stack: BuiltStack,
) -> None:
    layout = Layout.of(built_stack.config)
    summary = read_summary(layout)
    keys = build_order_keys(layout)
    assert len(keys) == 5  # markupsafe, jinja2, idna and the build tools
    assert summary["variant"] == "cpu"
    assert [(e["project"], e["version"]) for e in summary["entries"]] == keys
    for entry in summary["entries"]:
        assert entry["action"] == "built", entry
        assert isinstance(entry["seconds"], int) and entry["seconds"] >= 0, entry
    assert summary["totals"]["built"] == len(keys)
    assert (
        f"{len(keys)} built, 0 reused, 0 fetched from the index (run summary:"
        in built_stack.build_output
    )
