"""End-to-end: verify holds the demo's SBOMs to the stack's mode, on a copy of the
shared build (no build of its own). The upstream-binary cases are unit tests
(tests/test_verify_mode.py); a selective build is the selective-mode e2e test's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srcstacks.layout import sbom_path
from srcstacks.spec.config import load_config
from srcstacks.tools.venvstacks import published_layers
from tests.conftest import BuiltStack, copy_built_stack, run_cli

pytestmark = pytest.mark.e2e


def test_the_demos_sboms_say_full_mode_and_built_from_source(built_stack: BuiltStack) -> None:
    output = built_stack.config.output_dir
    for layer in published_layers(output):
        document = json.loads(sbom_path(output / layer.archive_name).read_text())
        metadata = {item["name"]: item["value"] for item in document["metadata"]["properties"]}
        assert metadata["srcstacks:mode"] == "full"
        for component in document["components"]:
            if component["type"] != "library":
                continue
            found = {item["name"]: item["value"] for item in component["properties"]}
            assert found["srcstacks:origin"] == "built-from-source", component["name"]


def test_verify_fails_sboms_written_in_another_mode(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    """The spec switched to selective mode after the build: each SBOM says full mode.
    Then the SBOMs written again in selective mode pass (the negative control)."""
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    text = spec.read_text()
    spec.write_text(text.replace("[tool.srcstacks]\n", '[tool.srcstacks]\nmode = "selective"\n'))
    result = run_cli("verify", spec, check=False)
    said = result.stdout + result.stderr
    assert result.returncode == 1, said
    layers = [layer.archive_name for layer in published_layers(load_config(spec).output_dir)]
    for archive in layers:
        assert (
            f"{archive}.cdx.json: was written in full mode, but the stack is now in selective"
            " mode (rerun 'srcstacks build')" in said
        )
    assert "differs from the SBOM srcstacks makes" not in said
    assert f"{len(layers)} problem(s) (selective mode: 3 built from source," in said
    run_cli("sbom", spec)
    again = run_cli("verify", spec, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 problem(s) (selective mode: 3 built from source, 0 upstream binaries)" in again.stderr
