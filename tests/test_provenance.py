"""The provenance manifest and the check every later stage relies on."""

from __future__ import annotations

from pathlib import Path

import pytest

from srcstacks.errors import ProvenanceError
from srcstacks.fsutil import sha256_file
from srcstacks.patches import applicable_patches
from srcstacks.provenance import (
    Manifest,
    PatchRecord,
    SdistRecord,
    WheelProvenance,
    check_wheel_dir,
    read_manifest,
    write_manifest,
)


def publish(wheel_dir: Path, name: str, content: bytes) -> WheelProvenance:
    wheel_dir.mkdir(parents=True, exist_ok=True)
    (wheel_dir / name).write_bytes(content)
    return WheelProvenance(
        filename=name,
        project=name.split("-")[0],
        version=name.split("-")[1],
        build_tag="0",
        sha256=sha256_file(wheel_dir / name),
        variant="cpu",
        sdist=SdistRecord(url="https://example.invalid/x.tar.gz", filename="x.tar.gz", sha256="ab"),
        patches=(PatchRecord(path="patches/x/1.patch", sha256="cd"),),
        build_env={"CFLAGS": "-O2"},
    )


def test_round_trip(tmp_path: Path) -> None:
    record = publish(tmp_path, "six-1.17.0-0-py3-none-any.whl", b"wheel")
    write_manifest(tmp_path, Manifest({record.filename: record}))
    assert read_manifest(tmp_path).wheels == {record.filename: record}
    assert check_wheel_dir(tmp_path).wheels[record.filename] == record


def test_wheel_without_entry_is_named(tmp_path: Path) -> None:
    record = publish(tmp_path, "six-1.17.0-0-py3-none-any.whl", b"wheel")
    write_manifest(tmp_path, Manifest({record.filename: record}))
    (tmp_path / "idna-3.11-py3-none-any.whl").write_bytes(b"from pypi")
    with pytest.raises(
        ProvenanceError, match=r"idna-3\.11-py3-none-any\.whl has no provenance entry"
    ):
        check_wheel_dir(tmp_path)


def test_tampered_wheel_is_named(tmp_path: Path) -> None:
    record = publish(tmp_path, "six-1.17.0-0-py3-none-any.whl", b"wheel")
    write_manifest(tmp_path, Manifest({record.filename: record}))
    (tmp_path / record.filename).write_bytes(b"swapped")
    with pytest.raises(ProvenanceError, match="does not match the sha256"):
        check_wheel_dir(tmp_path)


def test_missing_manifest_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ProvenanceError, match="srcstacks publish-wheels"):
        check_wheel_dir(tmp_path)


def test_patch_layout_follows_fromager(tmp_path: Path) -> None:
    patches = tmp_path / "patches"
    for relative in [
        "flit_core/0002-all-versions.patch",
        "flit_core-3.12.0/0001-this-version.patch",
        "flit_core-3.11.0/0003-other-version.patch",
        "flit_core/hardened/0004-hardened-only.patch",
        "flit_core/README.md",
    ]:
        (patches / relative).parent.mkdir(parents=True, exist_ok=True)
        (patches / relative).write_text("x")
    cpu = applicable_patches(patches, "flit-core", "3.12.0", "cpu")
    assert [p.name for p in cpu] == ["0001-this-version.patch", "0002-all-versions.patch"]
    hardened = applicable_patches(patches, "Flit_Core", "3.12.0", "hardened")
    assert [p.name for p in hardened] == [
        "0001-this-version.patch",
        "0002-all-versions.patch",
        "0004-hardened-only.patch",
    ]
    assert applicable_patches(patches, "six", "1.0", "cpu") == []


def test_installed_dist_is_matched_to_the_build_it_came_from(tmp_path: Path) -> None:
    from dataclasses import replace

    from srcstacks.archive_reader import InstalledDist

    first = publish(tmp_path, "demo-1.0-0-cp311-cp311-linux_x86_64.whl", b"zero")
    second = replace(
        publish(tmp_path, "demo-1.0-1-cp311-cp311-linux_x86_64.whl", b"one"), build_tag="1"
    )
    manifest = Manifest({first.filename: first, second.filename: second})
    assert manifest.records_for("demo", "1.0.0") == [first, second]

    def installed(build: str) -> InstalledDist:
        wheel = f"Wheel-Version: 1.0\nBuild: {build}\nTag: cp311-cp311-linux_x86_64\n"
        return InstalledDist("demo", "1.0", "demo-1.0.dist-info", {"WHEEL": wheel})

    assert manifest.installed_from(installed("1")) == second
    assert manifest.installed_from(installed("0")) == first
    assert manifest.installed_from(installed("7")) is None
    other = InstalledDist("other", "1.0", "other-1.0.dist-info", {})
    assert manifest.installed_from(other) is None
