"""End-to-end: the demo's SBOMs pass checkers no one here wrote, and srcstacks' BSI profile.

sbomaudit (its NTIA check) and lib4sbom (its CycloneDX 1.6 validator) are pinned dev
dependencies; they read the documents as any auditor's tool would, without knowing
srcstacks' BOM-Links or properties. Each has a negative control: a copy of a demo SBOM
with one field taken away fails it, so a pass means something.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lib4sbom.validator import SBOMValidator

from srcstacks.layout import sbom_path
from srcstacks.tools.venvstacks import published_layers
from tests.conftest import BuiltStack, run_cli

pytestmark = pytest.mark.e2e


def demo_sboms(stack: BuiltStack) -> dict[str, Path]:
    output = stack.config.output_dir
    return {
        layer.install_target: sbom_path(output / layer.archive_name)
        for layer in published_layers(output)
    }


def sbomaudit(path: Path) -> subprocess.CompletedProcess[str]:
    """sbomaudit's audit, offline (no look-ups of the latest releases on PyPI)."""
    return subprocess.run(
        [sys.executable, "-m", "sbomaudit.cli", "--offline", "-i", str(path)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def ntia_conformant(result: subprocess.CompletedProcess[str]) -> bool:
    # sbomaudit exits 1 when the SBOM is NTIA conformant, 0 when it is not.
    return result.returncode == 1 and "NTIA conformant: FAILED" not in result.stdout


def failed_checks(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line.strip() for line in result.stdout.splitlines() if line.startswith("[ ]")]


def test_every_demo_sbom_passes_sbomaudits_ntia_check(built_stack: BuiltStack) -> None:
    found = demo_sboms(built_stack)
    assert len(found) == 4
    failing = {
        layer: failed_checks(result)
        for layer, path in found.items()
        if not ntia_conformant(result := sbomaudit(path))
    }
    assert failing == {}


def test_sbomaudit_fails_a_demo_sbom_with_a_supplier_removed(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    """Negative control: the check above can fail (the runtime's CPython component loses
    its supplier)."""
    document: dict[str, Any] = json.loads(demo_sboms(built_stack)["cpython-3.11"].read_text())
    (cpython,) = [item for item in document["components"] if item["name"] == "cpython"]
    del cpython["supplier"]
    broken = tmp_path / "cpython-3.11.tar.xz.cdx.json"
    broken.write_text(json.dumps(document))
    result = sbomaudit(broken)
    assert not ntia_conformant(result)
    assert "[ ] Supplier included for package cpython: MISSING" in result.stdout


def test_every_demo_sbom_is_valid_cyclonedx_for_lib4sbom(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    for path in demo_sboms(built_stack).values():
        validator = SBOMValidator(sbom_type="cyclonedx", version="1.6")
        assert validator.validate_file(str(path)) == {"CycloneDX": "1.6"}, path.name
    # Negative control: a component of a type CycloneDX does not have.
    document: dict[str, Any] = json.loads(demo_sboms(built_stack)["app-greeter"].read_text())
    document["components"][0]["type"] = "gadget"
    broken = tmp_path / "app-greeter.tar.xz.cdx.json"
    broken.write_text(json.dumps(document))
    validator = SBOMValidator(sbom_type="cyclonedx", version="1.6")
    assert validator.validate_file(str(broken)) == {"CycloneDX": False}


def test_every_demo_sbom_meets_bsi_tr_03183_2(built_stack: BuiltStack) -> None:
    """The issue's bar: `sbom check --profile bsi` passes on every SBOM of the demo."""
    found = demo_sboms(built_stack)
    result = run_cli("sbom", "check", *found.values(), "--profile", "bsi", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("meets bsi: BSI TR-03183-2 v2.0.0 (as asked)") == 4
