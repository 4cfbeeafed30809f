"""End-to-end: `srcstacks verify` passes on a real build and names each kind of tampering."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import BuiltStack, run_cli

pytestmark = pytest.mark.e2e


def verify(args: list[str]) -> subprocess.CompletedProcess[str]:
    return run_cli("verify", *args, check=False)


def test_verify_passes_on_the_build(copied_outputs: tuple[Path, Path, list[str]]) -> None:
    result = verify(copied_outputs[2])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 installed distribution(s): 0 problem(s)" in result.stderr


def test_wheel_swapped_for_a_pypi_binary(
    copied_outputs: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    wheels, _, args = copied_outputs
    download = tmp_path / "pypi"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary",
         ":all:", "--index-url", "https://pypi.org/simple", "idna==3.11", "-d", str(download)],
        check=True,
    )  # fmt: skip
    (pypi_wheel,) = download.glob("idna-3.11-*.whl")
    (ours,) = wheels.glob("idna-3.11-0-*.whl")
    shutil.copyfile(pypi_wheel, ours)
    result = verify(args)
    assert result.returncode == 1
    assert f"{ours.name} does not match the sha256 recorded for it" in result.stdout


def test_file_edited_inside_an_archive(copied_outputs: tuple[Path, Path, list[str]]) -> None:
    _, output, args = copied_outputs
    archive = output / "app-punycode.tar.xz"
    with tarfile.open(archive) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar]  # type: ignore[union-attr]
    with tarfile.open(archive, "w:xz") as tar:
        for member, data in members:
            if member.name.endswith("site-packages/idna/core.py"):
                assert data is not None
                data += b"\nBACKDOOR = True\n"
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data) if data is not None else None)
    result = verify(args)
    assert result.returncode == 1
    assert "app-punycode.tar.xz: sha256 differs from venvstacks' metadata" in result.stdout
    assert (
        "app-punycode.tar.xz: idna/core.py differs from the file in idna-3.11-0-" in result.stdout
    )
    assert "app-punycode.tar.xz: sha256 differs from metadata.component's" in result.stdout


def test_sbom_missing_or_with_a_changed_hash(copied_outputs: tuple[Path, Path, list[str]]) -> None:
    _, output, args = copied_outputs
    (output / "framework-web.tar.xz.cdx.json").unlink()
    sbom_path = output / "app-punycode.tar.xz.cdx.json"
    sbom = json.loads(sbom_path.read_text())
    (idna,) = [c for c in sbom["components"] if c["name"] == "idna"]
    for item in idna["hashes"]:
        if item["alg"] == "SHA-256":
            item["content"] = "0" * 64
    sbom_path.write_text(json.dumps(sbom))
    result = verify(args)
    assert result.returncode == 1
    assert "framework-web.tar.xz: no SBOM beside it (run 'srcstacks sbom')" in result.stdout
    assert (
        "app-punycode.tar.xz.cdx.json: idna 3.11 has a wheel sha256 other than its provenance's"
        in result.stdout
    )


def test_provenance_entry_dropped(copied_outputs: tuple[Path, Path, list[str]]) -> None:
    wheels, _, args = copied_outputs
    manifest_path = wheels / "provenance.json"
    manifest = json.loads(manifest_path.read_text())
    (name,) = [n for n in manifest["wheels"] if n.startswith("jinja2-")]
    del manifest["wheels"][name]
    manifest_path.write_text(json.dumps(manifest))
    result = verify(args)
    assert result.returncode == 1
    assert f"{name} has no provenance entry" in result.stdout
    assert (
        "app-greeter.tar.xz: jinja2 3.1.6 is not a published wheel with provenance" in result.stdout
    )


def test_rebuild_is_bit_for_bit_identical(built_stack: BuiltStack, tmp_path: Path) -> None:
    # In place, not on a copy: the archives embed the wheel files' ctime (see the next test).
    result = run_cli("verify", built_stack.spec, "--rebuild", "--scratch", tmp_path / "again")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert not [line for line in lines if line.startswith("DIFFERENT")]
    identical = [line for line in lines if line.startswith("identical")]
    assert any("wheels/markupsafe-3.0.4-0_" in line for line in identical)  # patched: tagged
    assert any("archives/cpython-3.11.tar.xz" in line for line in identical)
    assert any("archives/app-greeter.tar.xz" in line for line in identical)
    assert any("app-greeter.tar.xz.cdx.json" in line for line in identical)
    # A rebuild that came out the same is removed (the disk it took is given back).
    assert not (tmp_path / "again").exists()


def test_archives_do_not_record_when_the_wheel_files_were_written(built_stack: BuiltStack) -> None:
    """A layer archive must not depend on the inode times of the wheels it installs.

    Otherwise a copy of the wheel dir (a checkout elsewhere, a restored backup) rebuilds
    different archives from the same wheel bytes and the same locks.
    """
    config = built_stack.config
    wheel_times = {
        path.stat().st_ctime_ns: path.name for path in sorted(config.wheel_dir.glob("*.whl"))
    }
    found = []
    for archive in sorted(config.output_dir.glob("*.tar.xz")):
        with tarfile.open(archive) as tar:
            for member in tar:
                if member.name.endswith(".dist-info/uv_cache.json"):
                    stream = tar.extractfile(member)
                    assert stream is not None
                    stamp = json.loads(stream.read())["timestamp"]
                    ns = stamp["secs_since_epoch"] * 10**9 + stamp["nanos_since_epoch"]
                    if ns in wheel_times:
                        found.append(f"{archive.name}:{member.name} = ctime of {wheel_times[ns]}")
    assert not found, "\n".join(found)


def test_rebuild_with_another_source_date_epoch_is_different(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    """Negative control: wheels rebuilt with other zip timestamps are reported, exit 1."""
    scratch = tmp_path / "again"
    result = run_cli(
        "verify", built_stack.spec, "--rebuild", "--scratch", scratch,
        check=False, env={"SOURCE_DATE_EPOCH": "1700000000"},
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    different = [line for line in lines if line.startswith("DIFFERENT")]
    markupsafe = next(p.name for p in built_stack.config.wheel_dir.glob("markupsafe-*.whl"))
    (line,) = [line for line in different if line.startswith(f"DIFFERENT  wheels/{markupsafe}: ")]
    # Said as what it is: the same bytes with other dates, and where to look.
    assert " member(s) differ: timestamps in markupsafe-3.0.4.dist-info/" in line
    assert "SOURCE_DATE_EPOCH did not reach" in line
    (records,) = [line for line in different if line.startswith("DIFFERENT  wheels/provenance")]
    assert records.startswith(
        "DIFFERENT  wheels/provenance.json: content differs (this stack's records): "
    )
    # The record follows its wheel's new bytes, and its build tools' (rebuilt too).
    assert f"{markupsafe} (build_environment, sha256)" in records
    assert "DIFFERENT  archives: not rebuilt: the rebuilt wheels already differ" in different
    assert not [line for line in lines if line.startswith("identical  wheels/")]
    errors = [line for line in result.stderr.splitlines() if line.startswith("srcstacks: error:")]
    summary = (
        f"rebuild differs: {len(different)} artifact(s) listed above (the rebuild is kept"
        f" in {scratch})"
    )
    assert errors == [f"srcstacks: error: {summary}"]
    assert "Traceback" not in result.stderr
    # The rebuild wrote its wheels into the scratch dir (the shared build is checked by
    # conftest's guard), and they really carry the other timestamp.
    with zipfile.ZipFile(scratch / "wheels" / markupsafe) as wheel:
        assert wheel.infolist()[0].date_time[0] == 2023


def _machine_paths_in(data: bytes, paths: list[str]) -> list[str]:
    return [path for path in paths if path.encode() in data]


def test_no_build_machine_path_in_wheels_or_layer_archives(built_stack: BuiltStack) -> None:
    config = built_stack.config
    machine_paths = [str(config.spec_dir), str(config.work_dir), sys.base_prefix]
    for wheel in sorted(config.wheel_dir.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                found = _machine_paths_in(archive.read(name), machine_paths)
                assert not found, f"{wheel.name}:{name} holds {found}"
    for archive_path in sorted(config.output_dir.glob("*.tar.xz")):
        # The packed runtime's sysconfig records where CPython was configured
        # (docs/runtime.md); everything else must be free of this machine's paths.
        allowed = {sys.base_prefix} if archive_path.name.startswith("cpython") else set()
        with tarfile.open(archive_path) as tar:
            for member in tar:
                stream = tar.extractfile(member) if member.isfile() else None
                if stream is None:
                    continue
                leaked = set(_machine_paths_in(stream.read(), machine_paths)) - allowed
                assert not leaked, f"{archive_path.name}:{member.name} holds {leaked}"
