"""End-to-end: the demo stack built for real with Fromager and venvstacks, deployed, run."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from srcstacks.layout import Layout
from srcstacks.state.parity import read_parity
from srcstacks.state.provenance import Manifest, WheelProvenance, check_wheel_dir
from srcstacks.state.wheel_evidence import read_evidence
from srcstacks.tools.venvstacks import published_layers
from tests.conftest import BuiltStack
from tests.xz_header import xz_dictionary_size

pytestmark = pytest.mark.e2e


def run_app(stack: BuiltStack, app: str, module: str) -> str:
    python = stack.deploy_dir / f"app-{app}" / "bin" / "python"
    result = subprocess.run([str(python), "-m", module], capture_output=True, text=True, check=True)
    return result.stdout


def test_every_layer_has_an_archive(built_stack: BuiltStack) -> None:
    output_dir = built_stack.config.output_dir
    names = sorted(layer.install_target for layer in published_layers(output_dir))
    assert names == ["app-greeter", "app-punycode", "cpython-3.11", "framework-web"]
    for layer in published_layers(output_dir):
        archive = output_dir / layer.archive_name
        assert archive.is_file()
        assert hashlib.sha256(archive.read_bytes()).hexdigest() == layer.archive_sha256
        # Compressed at the demo's xz_preset 1 (1 MiB dictionary; xz's default 6: 8 MiB).
        assert xz_dictionary_size(archive) == 1 << 20, archive.name


def test_patched_app_runs_with_compiled_speedups(built_stack: BuiltStack) -> None:
    output = run_app(built_stack, "greeter", "greeter")
    # patches/markupsafe/0001-*.patch: upstream escapes ' as &#39;
    assert "<p>Hello, O&apos;Brien &lt;admin&gt;!</p>" in output
    assert "&#39;" not in output
    assert "(C speedups)" in output


def test_second_app_runs(built_stack: BuiltStack) -> None:
    assert "xn--bcher-kva.example" in run_app(built_stack, "punycode", "punycode")


def _installed_dists(layer_dir: Path) -> list[Path]:
    return sorted(layer_dir.glob("lib/python3.*/site-packages/*.dist-info"))


def _wheel_record(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
        rows = csv.reader(io.StringIO(archive.read(name).decode()))
        return {row[0]: row[1] for row in rows if row[1]}


def _provenance_for(manifest: Manifest, dist_info: Path) -> WheelProvenance:
    name, _, version = dist_info.name.removesuffix(".dist-info").rpartition("-")
    matches = [
        record
        for record in manifest.wheels.values()
        if record.project == canonicalize_name(name) and record.version == version
    ]
    assert len(matches) == 1, f"{dist_info.name}: no single published wheel ({matches})"
    return matches[0]


def test_every_deployed_distribution_is_a_published_wheel(built_stack: BuiltStack) -> None:
    """Nothing from a public binary: each installed file is byte-equal to a published wheel's."""
    wheel_dir = built_stack.config.wheel_dir
    manifest = check_wheel_dir(wheel_dir)
    seen = set()
    for layer_dir in sorted(p for p in built_stack.deploy_dir.iterdir() if p.is_dir()):
        site_packages_dists = _installed_dists(layer_dir)
        for dist_info in site_packages_dists:
            record = _provenance_for(manifest, dist_info)
            # Set by publish from the wheel's own evidence (a record without it says False).
            assert record.built_from_source
            assert read_evidence(wheel_dir / record.filename).built_from_source
            assert record.sdist is not None and record.sdist.url.endswith(".tar.gz")
            expected = _wheel_record(wheel_dir / record.filename)
            site_packages = dist_info.parent
            checked = 0
            for relative, digest in expected.items():
                if ".dist-info/" in relative:
                    continue  # installers rewrite RECORD and add INSTALLER
                data = (site_packages / relative).read_bytes()
                actual = (
                    "sha256="
                    + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                )
                assert actual == digest, (
                    f"{layer_dir.name}: {relative} differs from {record.filename}"
                )
                checked += 1
            assert checked > 0
            seen.add(record.project)
    assert {"markupsafe", "jinja2", "idna"} <= seen


def test_build_backends_are_built_from_source_and_published(built_stack: BuiltStack) -> None:
    manifest = check_wheel_dir(built_stack.config.wheel_dir)
    projects = {record.project for record in manifest.wheels.values()}
    assert {"setuptools", "flit-core"} <= projects
    # Each wheel names the backend it was built with as that published wheel (sha256 too).
    (markupsafe,) = [r for r in manifest.wheels.values() if r.project == "markupsafe"]
    assert markupsafe.build_environment is not None
    (tool,) = markupsafe.build_environment.tools
    assert tool.name == "setuptools"
    assert tool.sha256 == manifest.wheels[tool.filename].sha256


def test_patch_and_settings_are_recorded_in_provenance(built_stack: BuiltStack) -> None:
    manifest = check_wheel_dir(built_stack.config.wheel_dir)
    (markupsafe,) = [r for r in manifest.wheels.values() if r.project == "markupsafe"]
    patch_file = built_stack.spec.parent / markupsafe.patches[0].path
    assert markupsafe.patches[0].sha256 == hashlib.sha256(patch_file.read_bytes()).hexdigest()
    assert "-frecord-gcc-switches" in markupsafe.build_env["CFLAGS"]
    assert markupsafe.variant == "cpu"
    (idna,) = [r for r in manifest.wheels.values() if r.project == "idna"]
    assert idna.patches == ()


def test_runtime_archive_holds_no_site_packages_and_no_bundled_wheels(
    built_stack: BuiltStack,
) -> None:
    archive = built_stack.config.output_dir / "cpython-3.11.tar.xz"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert not [n for n in names if n.endswith(".whl")]
    assert not [n for n in names if "site-packages/" in n and not n.endswith("site-packages/")]


def test_lock_files_name_only_published_wheels_by_relative_path(built_stack: BuiltStack) -> None:
    locks = sorted((built_stack.spec.parent / "requirements").glob("*/pylock.*.toml"))
    assert len(locks) == 4
    for lock in locks:
        text = lock.read_text()
        for line in text.splitlines():
            if line.startswith("path = "):
                assert line.startswith('path = "../../'), line


def test_every_built_wheel_is_compared_with_the_upstream_binary(built_stack: BuiltStack) -> None:
    parity = read_parity(Layout.of(built_stack.config))
    manifest = check_wheel_dir(built_stack.config.wheel_dir)
    assert set(parity) == set(manifest.wheels)  # every wheel built here, build tools too
    # markupsafe's extension, built here with the patch, is the one PyPI's binary ships.
    (markupsafe,) = [item for item in parity.values() if item.project == "markupsafe"]
    assert "manylinux" in markupsafe.upstream and markupsafe.missing == ()
    assert all(not item.degraded for item in parity.values())
    assert f"parity: {sum(1 for item in parity.values() if item.upstream)} of" in (
        built_stack.build_output
    )
