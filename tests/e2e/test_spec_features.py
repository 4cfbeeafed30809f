"""End-to-end: a stack shaped like venvstacks' sample project, built, verified, deployed
and run: a versioned runtime for two platforms, a versioned framework, a versioned application
with a support module beside the stack's folder (``../minimal_project/``, as the sample
project's), and an application for win_amd64 only (tests/stacks/spec_features).

One tiny build (idna and flit_core, about 40 s); the later checks reuse it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from srcstacks.spec.config import load_config
from tests.conftest import REPO_ROOT
from tests.conftest import cli_output as run_cli
from tests.xz_header import xz_dictionary_size

pytestmark = pytest.mark.e2e


ELSEWHERE = "app-win-only: platforms win_amd64 only; left to a build host of that platform"


def test_sample_shaped_stack_builds_verifies_deploys_and_runs(tmp_path: Path) -> None:
    stack = tmp_path / "spec_features"
    for folder in ("spec_features", "minimal_project"):
        shutil.copytree(REPO_ROOT / "tests" / "stacks" / folder, tmp_path / folder)
    spec = stack / "venvstacks.toml"
    build = run_cli("build", spec)
    # Announced and published agree: three archives, and the fourth layer is named.
    assert "building and compressing 3 layer archive(s)" in build
    assert f"  archives: no archive here: {ELSEWHERE}" in build
    assert "published 3 archive(s) (3 rebuilt)" in build
    output = load_config(spec).output_dir
    archives = sorted(path.name for path in output.glob("*.tar.xz"))
    # No xz_preset in this spec: xz's default, 6 (an 8 MiB dictionary), as venvstacks.
    assert {xz_dictionary_size(output / name) for name in archives} == {8 << 20}
    assert archives == [
        "app-punycode@1.tar.xz", "cpython-3.11@1.tar.xz", "framework-idna@1.tar.xz"
    ]  # fmt: skip
    for name in archives:
        assert (output / f"{name}.cdx.json").is_file()
    sbom = json.loads((output / "app-punycode@1.tar.xz.cdx.json").read_text())
    assert sbom["metadata"]["component"]["name"] == "app-punycode@1"
    # Every layer, the one for Windows too, is locked here (venvstacks locks them all).
    assert (stack / "requirements" / "app-win-only" / "pylock.app-win-only.toml").is_file()

    verified = run_cli("verify", spec)
    assert "checked 2 wheel(s), 3 archive(s)" in verified
    assert f"not checked here (no archive built): {ELSEWHERE}" in verified
    run_cli("report", spec, "--output", tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    assert "framework-idna@1.tar.xz" in page
    # The page names the Windows-only layer: locked here, built on another host.
    assert (
        '<tr class="elsewhere"><td>app-win-only</td><td>application</td><td>win_amd64</td>'
        "<td>locked here (requirements/app-win-only/pylock.app-win-only.toml)</td>"
        "<td>built on another host</td></tr>"
    ) in page

    deployed = run_cli("deploy", spec, "--target", tmp_path / "deployed", "--run")
    assert f"not deployed: {ELSEWHERE}" in deployed
    # The support module was deployed beside the launch module and imported idna from
    # the versioned framework.
    assert "punycode: xn--bcher-kva.example" in deployed
    assert (tmp_path / "deployed" / "app-punycode@1" / "bin" / "python").exists()
    assert (tmp_path / "deployed" / "cpython-3.11@1" / "bin" / "python3").exists()
    assert not (tmp_path / "deployed" / "app-win-only").exists()

    # A versioned layer whose lock changes gets the next version: the new archive and
    # SBOM replace the old ones, and verify passes on the new set.
    spec.write_text(spec.read_text().replace(
        'frameworks = ["idna"]\nversioned = true\nrequirements = []',
        'frameworks = ["idna"]\nversioned = true\nrequirements = ["idna==3.11"]',
    ))  # fmt: skip
    run_cli("build", spec)
    archives = sorted(path.name for path in output.glob("*.tar.xz*"))
    assert "app-punycode@2.tar.xz" in archives and "app-punycode@2.tar.xz.cdx.json" in archives
    assert not [name for name in archives if name.startswith("app-punycode@1")]
    run_cli("verify", spec)

    # Negative control: verify fails when a versioned layer's SBOM is missing.
    (output / "framework-idna@1.tar.xz.cdx.json").rename(tmp_path / "moved.cdx.json")
    failed = run_cli("verify", spec, check=False)
    assert "framework-idna@1.tar.xz: no SBOM beside it" in failed
    (tmp_path / "moved.cdx.json").rename(output / "framework-idna@1.tar.xz.cdx.json")

    # A requirement only Windows needs: not built, and the lock stops with its cause
    # (venvstacks' own "Failed to lock layer" would name only its log) ...
    text = spec.read_text()
    spec.write_text(text.replace(
        'requirements = []\nplatforms = ["linux_x86_64", "win_amd64"]',
        "requirements = [\"dlltracer; sys_platform == 'win32'\"]\n"
        'platforms = ["linux_x86_64", "win_amd64"]',
    ))  # fmt: skip
    error = run_cli("lock", spec, check=False).strip().splitlines()[-1]
    assert error.startswith(f"srcstacks: error: {spec}: runtime layer 'cpython-3.11':")
    assert "applies only on win_amd64, not on" in error and "no wheel of dlltracer" in error
    # ... unless uv's environments leave Windows out of the lock: then it locks.
    limit = "\n[tool.uv]\nenvironments = [\"sys_platform == 'linux'\"]\n"
    spec.write_text(spec.read_text() + limit)
    run_cli("lock", spec)
