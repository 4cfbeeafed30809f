"""End-to-end: what `srcstacks verify` proves beyond hashes (issue 8, holes 6 and 7).

Each test tampers with a private copy of the shared build's wheel dir and output dir,
updating every hash a careful attacker would update, so that only the check under test
can catch it. The untouched copy passes (the negative control).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import BuiltStack, run_cli

pytestmark = pytest.mark.e2e


def verify(args: list[str]) -> subprocess.CompletedProcess[str]:
    result = run_cli("verify", *args, check=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _markupsafe(stack: Path) -> str:
    """The stack's markupsafe wheel: patched, so its build tag names the patch."""
    (wheel,) = (stack / "_srcstacks" / "cpu" / "wheels").glob("markupsafe-3.0.4-0_*.whl")
    return wheel.name


def edit_json(path: Path, change: object) -> None:
    data = json.loads(path.read_text())
    change(data)  # type: ignore[operator]
    path.write_text(json.dumps(data, indent=2))


def test_untouched_copy_passes(copied_outputs: tuple[Path, Path, list[str]]) -> None:
    result = verify(copied_outputs[2])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 problem(s)" in result.stderr


def test_pypi_wheel_under_the_published_name_with_its_hash_edited_in(
    copied_outputs: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    """Hole 6: a manylinux markupsafe over the published one, sha256 edited everywhere."""
    wheels, output, args = copied_outputs
    download = tmp_path / "pypi"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary",
         ":all:", "--index-url", "https://pypi.org/simple", "markupsafe==3.0.4",
         "-d", str(download)],
        check=True,
    )  # fmt: skip
    (pypi_wheel,) = download.glob("markupsafe-3.0.4-*manylinux*.whl")
    (ours,) = wheels.glob("markupsafe-3.0.4-0_*.whl")
    old_sha256 = sha256(ours)
    shutil.copyfile(pypi_wheel, ours)
    new_sha256 = sha256(ours)

    def new_hash(data: dict) -> None:  # type: ignore[type-arg]
        data["wheels"][ours.name]["sha256"] = new_sha256

    edit_json(wheels / "provenance.json", new_hash)
    sbom = output / "framework-web.tar.xz.cdx.json"
    sbom.write_text(sbom.read_text().replace(old_sha256, new_sha256))
    result = verify(args)
    assert result.returncode == 1
    out = result.stdout
    assert f"{ours.name}: WHEEL tags cp311-cp311-manylinux" in out
    assert "disagree with the file name's cp311-cp311-linux_x86_64" in out
    assert f"{ours.name}: no Fromager build metadata (fromager-build-settings" in out
    assert "provenance.json: this stack's provenance records differ from the sha256 pinned" in out
    assert f"markupsafe 3.0.4 is claimed built from source, but {ours.name}: WHEEL tags" in out
    assert "srcstacks: error: verification failed" in result.stderr


Members = list[tuple[tarfile.TarInfo, bytes | None]]


def _adding(name: str, data: bytes) -> Callable[[Members], None]:
    """A change that adds ``name`` as a file, dated and moded like its neighbours."""

    def add(members: Members) -> None:
        template = next(m for m, _ in members if m.name.endswith("/punycode.py"))
        extra = tarfile.TarInfo(name)
        extra.size, extra.mtime, extra.mode = len(data), template.mtime, template.mode
        members.append((extra, data))

    return add


def _rewrite_archive(archive: Path, change: Callable[[Members], None]) -> None:
    with tarfile.open(archive) as tar:
        members: Members = [
            (m, tar.extractfile(m).read() if m.isfile() else None)  # type: ignore[union-attr]
            for m in tar
        ]
    change(members)
    with tarfile.open(archive, "w:xz") as tar:
        for member, content in members:
            tar.addfile(member, io.BytesIO(content) if content is not None else None)


def _tamper_with_punycode_archive(output: Path, change: Callable[[Members], None]) -> None:
    """Change the app-punycode archive, then every hash that names it, as an attacker
    who knows the records would: only srcstacks' own checks are left to catch it."""
    archive = output / "app-punycode.tar.xz"
    old_sha256 = sha256(archive)
    _rewrite_archive(archive, change)
    new_sha256 = sha256(archive)
    for metadata in [
        output / "__venvstacks__" / "venvstacks.json",
        output / "__venvstacks__" / "env_metadata" / "app-punycode.json",
        output / "app-punycode.tar.xz.cdx.json",
    ]:
        metadata.write_text(metadata.read_text().replace(old_sha256, new_sha256))


def test_file_of_no_wheel_added_to_an_archive_with_every_hash_updated(
    copied_outputs: tuple[Path, Path, list[str]],
) -> None:
    """Hole 7: zz_evil.pth in site-packages; venvstacks' metadata and the SBOM updated."""
    _, output, args = copied_outputs
    evil = "app-punycode/lib/python3.11/site-packages/zz_evil.pth"
    _tamper_with_punycode_archive(output, _adding(evil, b"import os; os.system('id')\n"))
    result = verify(args)
    assert result.returncode == 1
    out = result.stdout
    mismatches = [line for line in out.splitlines() if line.startswith("MISMATCH")]
    assert (
        f"MISMATCH app-punycode.tar.xz: {evil} is unaccounted for (in no wheel's RECORD,"
        " not in the runtime's file list, not a file venvstacks writes)"
    ) in mismatches
    # The SBOM with only its hash updated no longer matches the one srcstacks makes
    # (its serial number derives from the archive's hash); nothing else is reported.
    assert len(mismatches) == 2, mismatches


def test_file_added_to_the_runtime_archive_is_unaccounted(
    copied_outputs: tuple[Path, Path, list[str]],
) -> None:
    _, output, args = copied_outputs
    archive = output / "cpython-3.11.tar.xz"
    with tarfile.open(archive) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar]  # type: ignore[union-attr]
    with tarfile.open(archive, "w:xz", preset=0) as tar:
        for member, content in members:
            if member.name.endswith("lib/python3.11/os.py"):
                assert content is not None
                content += b"\nimport sys\n"
                member.size = len(content)
            tar.addfile(member, io.BytesIO(content) if content is not None else None)
        extra = tarfile.TarInfo("cpython-3.11/lib/python3.11/sitecustomize.py")
        extra.size = 4
        tar.addfile(extra, io.BytesIO(b"pass"))
    result = verify(args)
    assert result.returncode == 1
    out = result.stdout
    assert "cpython-3.11/lib/python3.11/sitecustomize.py is unaccounted for" in out
    assert "cpython-3.11/lib/python3.11/os.py differs from the runtime's file list" in out


def test_malformed_sbom_and_corrupt_archive_are_one_line_each(
    copied_outputs: tuple[Path, Path, list[str]],
) -> None:
    _, output, args = copied_outputs

    def break_it(data: dict) -> None:  # type: ignore[type-arg]
        del data["components"][0]["name"]
        data["metadata"] = "not an object"

    edit_json(output / "app-greeter.tar.xz.cdx.json", break_it)
    (output / "framework-web.tar.xz").write_bytes(b"\xfd7zXZ\x00 truncated")
    result = verify(args)
    assert result.returncode == 1
    out = result.stdout
    assert (
        "app-greeter.tar.xz.cdx.json: document: missing primary component (what the SBOM"
        " describes) ($.metadata.component)" in out
    )
    assert "app-greeter.tar.xz.cdx.json: document: schema:" in out
    assert "framework-web.tar.xz: unreadable archive (ReadError" in out
    assert all(line.startswith("MISMATCH ") for line in out.splitlines())
    check = run_cli("sbom", "check", output / "app-greeter.tar.xz.cdx.json", check=False)
    assert check.returncode == 1
    assert "Traceback" not in check.stderr
    assert check.stderr.splitlines() == [
        "srcstacks: error: 1 of 1 SBOM(s) lack required elements (listed above)"
    ]


@pytest.fixture
def read_only_build(built_stack: BuiltStack, tmp_path: Path) -> Iterator[Path]:
    """The whole shared build (spec, work dir, wheels, archives) mounted read-only.

    We run as root, so file modes would not stop a write: a read-only bind mount does.
    """
    root = built_stack.spec.parent
    mount = tmp_path / "ro"
    mount.mkdir()
    subprocess.run(["mount", "--bind", str(root), str(mount)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(mount)], check=True)
        with pytest.raises(OSError):
            (mount / "probe").write_text("x")
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_verify_works_on_a_read_only_copy(read_only_build: Path) -> None:
    result = verify([str(read_only_build / "venvstacks.toml")])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verified: every archive matches its records" in result.stdout


@pytest.fixture
def copied_stack(built_stack: BuiltStack, tmp_path: Path) -> Path:
    """The spec, patches, sdists, wheel dir and output dir of the shared build, copied."""
    source = built_stack.spec.parent
    target = tmp_path / "stack"
    for name in ("venvstacks.toml", "launch_modules", "build-settings", "patches"):
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name)
        else:
            target.mkdir(exist_ok=True)
            shutil.copy2(source / name, target / name)
    config = built_stack.config
    sdists = config.work_dir / "cpu" / "fromager" / "sdists-repo" / "downloads"
    relative = sdists.relative_to(source)
    shutil.copytree(sdists, target / relative)
    for folder in (config.wheel_dir, config.output_dir):
        shutil.copytree(folder, target / folder.relative_to(source))
    return target / "venvstacks.toml"


def test_changed_patch_and_missing_sdist_are_named(copied_stack: Path) -> None:
    assert verify([str(copied_stack)]).returncode == 0  # the copy alone verifies
    stack = copied_stack.parent
    (patch,) = (stack / "patches" / "markupsafe").glob("*.patch")
    patch.write_text(patch.read_text() + "\n")
    downloads = stack / "_srcstacks" / "cpu" / "fromager" / "sdists-repo" / "downloads"
    (downloads / "idna-3.11.tar.gz").unlink()
    result = verify([str(copied_stack)])
    assert result.returncode == 1
    out = result.stdout
    assert (
        f"{_markupsafe(stack)}: patch patches/markupsafe/{patch.name}"
        " differs from the sha256 recorded for it"
    ) in out
    assert "idna-3.11-0-py3-none-any.whl: its sdist" in out
    assert "idna-3.11.tar.gz is gone, so its sha256 cannot be checked" in out


@pytest.mark.parametrize("edit", ["licence", "pedigree", "supplier", "sdist url"])
def test_edited_sbom_content_is_caught(
    copied_outputs: tuple[Path, Path, list[str]], edit: str
) -> None:
    """Every hash in the SBOM still matches; only what it claims was changed."""
    _, output, args = copied_outputs
    path = output / "framework-web.tar.xz.cdx.json"
    document = json.loads(path.read_text())
    (markupsafe,) = [c for c in document["components"] if c["name"].lower() == "markupsafe"]
    if edit == "licence":
        markupsafe["licenses"] = [{"license": {"id": "MIT"}}]
    elif edit == "pedigree":
        del markupsafe["pedigree"]  # hides the patch
    elif edit == "supplier":
        document["metadata"]["supplier"] = {"name": "Evil Corp"}
    else:
        for reference in markupsafe["externalReferences"]:
            reference["url"] = "https://evil.example/markupsafe-3.0.4.tar.gz"
    path.write_text(json.dumps(document, indent=2))
    result = verify(args)
    assert result.returncode == 1, result.stdout
    assert (
        "MISMATCH framework-web.tar.xz.cdx.json: differs from the SBOM srcstacks makes"
        in result.stdout
    )
    # The app's SBOM above it, which pins its sha256, was not edited and is not blamed.
    assert "app-greeter.tar.xz.cdx.json: differs from the SBOM" not in result.stdout


def test_patch_that_applies_but_is_not_recorded_is_named(copied_stack: Path) -> None:
    """A patch list emptied in provenance (or a patch added since the build) is caught."""
    extra = copied_stack.parent / "patches" / "markupsafe" / "0002-added-later.patch"
    extra.write_text("--- a/README.md\n+++ b/README.md\n")
    result = verify([str(copied_stack)])
    assert result.returncode == 1
    assert (
        f"{_markupsafe(copied_stack.parent)}: patch {extra} applies to markupsafe"
        " 3.0.4 but its provenance records no such patch"
    ) in result.stdout


def test_setuid_or_world_writable_member_is_named(
    copied_outputs: tuple[Path, Path, list[str]],
) -> None:
    """Same bytes, every hash updated, only a member's mode changed."""
    _, output, args = copied_outputs
    target = "app-punycode/lib/python3.11/site-packages/idna/core.py"

    def make_setuid(members: Members) -> None:
        for member, _ in members:
            if member.name == target:
                member.mode = 0o4777

    _tamper_with_punycode_archive(output, make_setuid)
    result = verify(args)
    assert result.returncode == 1
    assert (
        f"MISMATCH app-punycode.tar.xz: {target} has mode 4777 (setuid, setgid or writable"
        " by group or others), which no build gives"
    ) in result.stdout


def _replacing(suffix: str, data: bytes) -> Callable[[Members], None]:
    """A change that gives the member whose name ends with ``suffix`` new bytes."""

    def replace(members: Members) -> None:
        for index, (member, _) in enumerate(members):
            if member.name.endswith(suffix):
                member.size = len(data)
                members[index] = (member, data)

    return replace


def _venvstacks_module_hash(name: str, data: bytes) -> str:
    """venvstacks' hash of a launch module, as its metadata records it."""
    inner = f"sha256:{hashlib.sha256(data).hexdigest()}"
    return "sha256:" + hashlib.sha256(name.encode() + inner.encode()).hexdigest()


def _mismatches(args: list[str]) -> list[str]:
    result = verify(args)
    assert result.returncode == 1
    return [line for line in result.stdout.splitlines() if line.startswith("MISMATCH")]


# The one line an SBOM with only its archive hash edited in gives, with or without the
# change below: before issue 23's hole 1 was closed, it was the only line for each of them.
SBOM_EDITED = "MISMATCH app-punycode.tar.xz.cdx.json:"


def test_a_replaced_python_wrapper_with_every_hash_updated(
    copied_outputs: tuple[Path, Path, list[str]],
) -> None:
    """Issue 23, hole 1: bin/python, which every run of the layer starts, checked by content."""
    _, output, args = copied_outputs
    evil = b'#!/usr/bin/bash\necho pwned\nexec "$(dirname "$0")/python_" "$@"\n'
    _tamper_with_punycode_archive(output, _replacing("app-punycode/bin/python", evil))
    mismatches = _mismatches(args)
    assert mismatches[0] == (
        "MISMATCH app-punycode.tar.xz: app-punycode/bin/python differs from the python"
        " wrapper venvstacks writes for this spec"
    )
    assert [line for line in mismatches[1:] if not line.startswith(SBOM_EDITED)] == []


def test_a_package_shadowing_the_launch_module_with_every_hash_updated(
    copied_outputs: tuple[Path, Path, list[str]],
) -> None:
    """Issue 23, hole 1: site-packages/punycode/__init__.py would be imported instead of
    punycode.py; nothing under a launch module's name is accepted by name alone."""
    _, output, args = copied_outputs
    evil = "app-punycode/lib/python3.11/site-packages/punycode/__init__.py"
    _tamper_with_punycode_archive(output, _adding(evil, b"print('pwned')\n"))
    mismatches = _mismatches(args)
    assert mismatches[0] == (
        f"MISMATCH app-punycode.tar.xz: {evil} is unaccounted for (in no wheel's RECORD,"
        " not in the runtime's file list, not a file venvstacks writes)"
    )
    assert [line for line in mismatches[1:] if not line.startswith(SBOM_EDITED)] == []


def test_an_edited_launch_module_with_its_metadata_hash_updated(
    copied_outputs: tuple[Path, Path, list[str]],
) -> None:
    """Issue 23, hole 1: the launch module is compared with the spec's file, not with the
    hash in venvstacks' metadata (which the attacker updated too)."""
    _, output, args = copied_outputs
    module = "app-punycode/lib/python3.11/site-packages/punycode.py"
    with tarfile.open(output / "app-punycode.tar.xz") as tar:
        original = tar.extractfile(module).read()  # type: ignore[union-attr]
    edited = original + b"\nimport os; os.system('id')\n"
    _tamper_with_punycode_archive(output, _replacing(module, edited))
    for metadata in [
        output / "__venvstacks__" / "venvstacks.json",
        output / "__venvstacks__" / "env_metadata" / "app-punycode.json",
    ]:
        metadata.write_text(
            metadata.read_text().replace(
                _venvstacks_module_hash("punycode.py", original),
                _venvstacks_module_hash("punycode.py", edited),
            )
        )
    mismatches = _mismatches(args)
    assert mismatches[0] == (
        f"MISMATCH app-punycode.tar.xz: {module} differs from the spec's module"
        " launch_modules/punycode.py"
    )
    assert [line for line in mismatches[1:] if not line.startswith(SBOM_EDITED)] == []
