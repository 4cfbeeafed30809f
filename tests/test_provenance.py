"""The provenance manifest and the check every later stage relies on."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename

from srcstacks.errors import ProvenanceError
from srcstacks.fsutil import sha256_bytes, sha256_file
from srcstacks.spec.patches import applicable_patches
from srcstacks.state.archive_reader import record_digest
from srcstacks.state.build_record import BuildEnvironment
from srcstacks.state.provenance import (
    Manifest,
    PatchRecord,
    SdistRecord,
    WheelProvenance,
    check_wheel_dir,
    read_manifest,
    records_digest,
    write_manifest,
)
from srcstacks.state.wheel_evidence import FROMAGER_FILES, read_evidence
from srcstacks.state.wheel_sbom import Patch, WheelSbom, render, sbom_member


def publish(wheel_dir: Path, name: str, content: bytes | None = None) -> WheelProvenance:
    """Publish a wheel named ``name``: a Fromager-like wheel, or ``content`` as it is."""
    wheel_dir.mkdir(parents=True, exist_ok=True)
    if content is None:
        make_wheel(wheel_dir / name)
    else:
        (wheel_dir / name).write_bytes(content)
    return WheelProvenance(
        filename=name,
        project=name.split("-")[0],
        version=name.split("-")[1],
        build_tag="0",
        sha256=sha256_file(wheel_dir / name),
        variant="cpu",
        sdist=SdistRecord(url="https://example.invalid/x.tar.gz", filename="x.tar.gz", sha256="ab"),
        patches=(PatchRecord(path="patches/x/1.patch", sha256=sha256_bytes(PATCH)),),
        build_env={"CFLAGS": "-O2"},
        build_settings_sha256=sha256_bytes(SETTINGS),
        built_from_source=True,
        build_environment=BuildEnvironment(),
    )


SETTINGS = b'[env]\nCFLAGS = "-O2"\n'
PATCH = b"--- a/x.py\n+++ b/x.py\n"  # the one patch every test wheel was built with


def wheel_sbom(name: str, version: str, environment: BuildEnvironment | None = None) -> bytes:
    """The SBOM srcstacks writes into a wheel built with ``environment`` (none by default)."""
    sbom = WheelSbom(name, version, "cpu", "x.tar.gz", "ab", (), environment or BuildEnvironment())
    return render(sbom, (Patch("x/1.patch", PATCH),), "0.77.0", 315532800)


def make_wheel(
    path: Path,
    *,
    fromager: bool = True,
    tags: str | None = None,
    build: str | None = None,
    sbom: bytes | None = None,
    extra: dict[str, bytes] | None = None,
) -> Path:
    """A wheel with Fromager's build metadata, its own SBOM, a WHEEL file and a RECORD,
    like the ones srcstacks builds (``sbom``: other SBOM bytes; ``extra``: more files)."""
    name, version, build_tag, parsed = parse_wheel_filename(path.name)
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    wheel_tags = tags or "\n".join(f"Tag: {tag}" for tag in sorted(str(t) for t in parsed))
    build_line = build if build is not None else "".join(str(part) for part in build_tag)
    files = {
        f"{name}/__init__.py": b"VALUE = 1\n",
        f"{dist_info}/METADATA": f"Name: {name}\nVersion: {version}\n".encode(),
        f"{dist_info}/WHEEL": f"Wheel-Version: 1.0\n{wheel_tags}\nBuild: {build_line}\n".encode(),
    }
    if fromager:
        files[f"{dist_info}/fromager-build-settings"] = SETTINGS
        for other in FROMAGER_FILES[1:]:
            files[f"{dist_info}/{other}"] = b""
        files[sbom_member(dist_info, name)] = sbom or wheel_sbom(name, str(version))
    files.update(extra or {})
    record = "".join(
        f"{member},{record_digest(data)},{len(data)}\n" for member, data in files.items()
    )
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


def test_round_trip(tmp_path: Path) -> None:
    record = publish(tmp_path, "six-1.17.0-0-py3-none-any.whl")
    write_manifest(tmp_path, Manifest({record.filename: record}))
    assert read_manifest(tmp_path).wheels == {record.filename: record}
    assert check_wheel_dir(tmp_path).wheels[record.filename] == record


def test_wheel_without_entry_is_named(tmp_path: Path) -> None:
    record = publish(tmp_path, "six-1.17.0-0-py3-none-any.whl")
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

    from srcstacks.state.archive_reader import InstalledDist

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


def test_a_fromager_wheel_carries_its_build_evidence(tmp_path: Path) -> None:
    evidence = read_evidence(make_wheel(tmp_path / "six-1.17.0-0-py3-none-any.whl"))
    assert evidence.built_from_source, evidence.problems
    assert evidence.build_settings_sha256 == sha256_bytes(SETTINGS)


def test_a_public_binary_under_a_published_name_has_no_evidence(tmp_path: Path) -> None:
    """The issue's hole: a manylinux wheel renamed to the published name, hash edited in."""
    wheel = make_wheel(
        tmp_path / "markupsafe-3.0.4-0-cp311-cp311-linux_x86_64.whl",
        fromager=False,
        tags="Tag: cp311-cp311-manylinux_2_17_x86_64\nTag: cp311-cp311-manylinux2014_x86_64",
        build="",
    )
    evidence = read_evidence(wheel)
    assert not evidence.built_from_source
    text = "; ".join(evidence.problems)
    assert "WHEEL tags cp311-cp311-manylinux2014_x86_64" in text
    assert "disagree with the file name's cp311-cp311-linux_x86_64" in text
    assert "WHEEL build tag 'none' disagrees with the file name's '0'" in text
    assert "no Fromager build metadata (fromager-build-settings" in text
    record = publish(tmp_path, wheel.name, wheel.read_bytes())
    write_manifest(tmp_path, Manifest({record.filename: record}))
    with pytest.raises(ProvenanceError, match="no Fromager build metadata"):
        check_wheel_dir(tmp_path)


def test_a_file_changed_inside_a_wheel_breaks_its_record(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "six-1.17.0-0-py3-none-any.whl")
    with zipfile.ZipFile(wheel, "a") as archive:
        archive.writestr("six/evil.py", b"import os\n")
    assert read_evidence(wheel).problems == ("files not in RECORD: six/evil.py",)


def test_a_record_not_built_from_source_is_refused(tmp_path: Path) -> None:
    from dataclasses import replace

    record = replace(publish(tmp_path, "six-1.17.0-0-py3-none-any.whl"), built_from_source=False)
    write_manifest(tmp_path, Manifest({record.filename: record}))
    with pytest.raises(ProvenanceError, match="does not record it as built from source"):
        check_wheel_dir(tmp_path)


def test_records_digest_pins_one_stacks_records(tmp_path: Path) -> None:
    from dataclasses import replace

    six = publish(tmp_path, "six-1.17.0-0-py3-none-any.whl")
    idna = publish(tmp_path, "idna-3.11-0-py3-none-any.whl")
    mine = {six.filename}
    before = records_digest(Manifest({six.filename: six}), mine)
    # Another stack publishing into the same wheel dir does not change this stack's pin...
    assert records_digest(Manifest({six.filename: six, idna.filename: idna}), mine) == before
    # ...an edited record of its own does, and so does a dropped one.
    edited = replace(six, sha256="0" * 64)
    assert records_digest(Manifest({six.filename: edited}), mine) != before
    assert records_digest(Manifest({}), mine) != records_digest(Manifest({}), set())
