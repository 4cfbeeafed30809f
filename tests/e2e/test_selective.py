"""End-to-end: selective mode on tests/stacks/selective, against PyPI for real.

``missing`` finds the one sdist-only project on every platform; the selective build makes
it (and six, which ``build_from_source`` names) from source with Fromager and takes idna
and MarkupSafe as PyPI's binary wheels; the stack deploys and runs, ``verify`` passes in
selective mode, ``verify --rebuild`` rebuilds it bit for bit, and ``verify`` fails once the
spec says full mode. One small build (docopt, six and setuptools, about 30 s), the lock,
the archives and the rebuild: about 2.5 min.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from srcstacks.fsutil import sha256_file
from srcstacks.spec.config import load_config
from tests.conftest import REPO_ROOT
from tests.conftest import cli_output as run_cli
from tests.conftest import run_cli as run_cli_process

pytestmark = pytest.mark.e2e

PLATFORMS = ["linux_aarch64", "linux_x86_64", "macosx_arm64", "win_amd64"]


def test_missing_then_selective_build_deploys_runs_and_verify_enforces_the_mode(
    tmp_path: Path,
) -> None:
    stack = tmp_path / "stack"
    shutil.copytree(REPO_ROOT / "tests" / "stacks" / "selective", stack)
    spec = stack / "venvstacks.toml"

    found = json.loads(run_cli_process("missing", spec, "--json").stdout)
    gaps = {(gap["platform"], gap["project"], gap["version"]) for gap in found["missing"]}
    assert gaps == {(platform, "docopt", "0.6.2") for platform in PLATFORMS}

    build = run_cli("build", spec)
    assert "selective mode: building 2 of the 4 project(s) the layers need on linux_x86_64" in build
    assert "from source: docopt==0.6.2 (sdist only upstream)" in build
    assert "from source: six==1.17.0 (listed in build_from_source)" in build
    # idna once (pure), MarkupSafe once per targeted platform; setuptools was built.
    assert "published 8 wheel(s) (3 built from source, 5 upstream binaries)" in build

    config = load_config(spec)
    records = json.loads((config.wheel_dir / "provenance.json").read_text())["wheels"]
    origins = {record["project"]: record.get("origin", "built-from-source")
               for record in records.values()}  # fmt: skip
    assert origins == {
        "docopt": "built-from-source", "six": "built-from-source",
        "setuptools": "built-from-source", "idna": "upstream-binary",
        "markupsafe": "upstream-binary",
    }  # fmt: skip
    idna = records["idna-3.11-py3-none-any.whl"]
    assert idna["sdist"] is None and idna["built_from_source"] is False
    assert idna["upstream"]["index_url"] == "https://pypi.org/simple/"
    assert idna["upstream"]["url"].startswith("https://files.pythonhosted.org/")
    assert idna["upstream"]["sha256"] == sha256_file(config.wheel_dir / idna["filename"])
    assert records[next(n for n in records if n.startswith("docopt-"))]["sdist"]["filename"] == (
        "docopt-0.6.2.tar.gz"
    )

    sbom = json.loads((config.output_dir / "app-cli.tar.xz.cdx.json").read_text())
    origin_of = {
        component["name"].lower(): {p["name"]: p["value"] for p in component["properties"]}[
            "srcstacks:origin"
        ]
        for component in sbom["components"]
        if component.get("purl", "").startswith("pkg:pypi/")
    }
    assert origin_of["docopt"] == "built-from-source" and origin_of["six"] == "built-from-source"
    assert origin_of["idna"] == "upstream-binary" and origin_of["markupsafe"] == "upstream-binary"
    assert "srcstacks: error" not in run_cli(
        "sbom", "check", config.output_dir / "app-cli.tar.xz.cdx.json"
    )

    deployed = run_cli("deploy", spec, "--target", tmp_path / "deployed", "--run")
    # docopt and six built here, idna and MarkupSafe's compiled extension from PyPI.
    assert "cli: xn--bcher-kva.example &lt;b&gt; markupsafe._speedups six 1.17.0" in deployed

    verified = run_cli("verify", spec)
    assert "(selective mode: 2 built from source, 2 upstream binaries)" in verified
    run_cli("report", spec, "--no-verify", "--output", tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    assert "upstream binary from https://pypi.org/simple/" in page
    assert idna["upstream"]["url"] in page
    # Rebuilt from the same sdists and the versions resolved the first time, with the
    # upstream binaries fetched again: every wheel, archive and SBOM is the same bytes.
    rebuilt = run_cli("verify", spec, "--rebuild")
    assert "rebuilt bit for bit" in rebuilt and "DIFFERENT" not in rebuilt

    # The same archives, but the spec now says every wheel must be built from source.
    text = spec.read_text()
    spec.write_text(
        text.replace('mode = "selective"', 'mode = "full"').replace(
            'build_from_source = ["six"]\n', ""
        )
    )
    refused = run_cli("verify", spec, check=False)
    assert "idna-3.11-py3-none-any.whl is an upstream binary" in refused
    assert "full mode" in refused
