"""Provenance records of upstream binaries (selective mode): the origin, its JSON form,
and what the wheel dir check accepts of them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from srcstacks.errors import ProvenanceError
from srcstacks.fsutil import dump_json, sha256_file
from srcstacks.state.provenance import (
    BUILT_FROM_SOURCE,
    UPSTREAM_BINARY,
    Manifest,
    PatchRecord,
    SdistRecord,
    UpstreamRecord,
    WheelProvenance,
    check_wheel_dir,
    manifest_path,
    read_manifest,
    write_manifest,
)
from tests.test_provenance import make_wheel

INDEX = "https://pypi.org/simple/"

BUILT = WheelProvenance(
    filename="idna-3.11-0-py3-none-any.whl",
    project="idna",
    version="3.11",
    build_tag="0",
    sha256="a" * 64,
    variant="cpu",
    sdist=SdistRecord("https://files.example.org/idna-3.11.tar.gz", "idna-3.11.tar.gz", "b" * 64),
    patches=(PatchRecord("patches/idna/0001.patch", "c" * 64),),
    build_settings_sha256="d" * 64,
    build_env={"CFLAGS": "-O2"},
    built_from_source=True,
)
# provenance.json as srcstacks wrote it before upstream binaries existed (made with the
# provenance module of commit e35d422): a record built from source keeps these bytes.
OLD_BYTES = (
    '{\n  "format": 1,\n  "wheels": {\n    "idna-3.11-0-py3-none-any.whl": {\n'
    '      "build_env": {\n        "CFLAGS": "-O2"\n      },\n'
    f'      "build_settings_sha256": "{"d" * 64}",\n      "build_tag": "0",\n'
    '      "built_from_source": true,\n      "filename": "idna-3.11-0-py3-none-any.whl",\n'
    '      "patches": [\n        {\n          "path": "patches/idna/0001.patch",\n'
    f'          "sha256": "{"c" * 64}"\n        }}\n      ],\n      "project": "idna",\n'
    '      "sdist": {\n        "filename": "idna-3.11.tar.gz",\n'
    f'        "sha256": "{"b" * 64}",\n'
    '        "url": "https://files.example.org/idna-3.11.tar.gz"\n      },\n'
    f'      "sha256": "{"a" * 64}",\n      "variant": "cpu",\n      "version": "3.11"\n'
    "    }\n  }\n}\n"
)


def upstream_record(path: Path) -> WheelProvenance:
    """The record selective mode writes for the wheel at ``path``, taken from PyPI."""
    sha256 = sha256_file(path)
    return WheelProvenance.upstream_binary(
        path.name,
        path.name.split("-")[0],
        path.name.split("-")[1],
        "cpu",
        UpstreamRecord(INDEX, f"https://files.example.org/{path.name}", sha256),
    )


def test_a_record_built_from_source_keeps_its_old_bytes() -> None:
    assert BUILT.origin == BUILT_FROM_SOURCE
    data = BUILT.to_dict()
    assert "origin" not in data and "upstream" not in data
    assert dump_json(Manifest({BUILT.filename: BUILT}).to_json()) == OLD_BYTES
    # And the old bytes read back as the same record.
    assert WheelProvenance.from_dict(json.loads(OLD_BYTES)["wheels"][BUILT.filename]) == BUILT


def test_an_upstream_record_round_trips(tmp_path: Path) -> None:
    record = upstream_record(make_wheel(tmp_path / "six-1.17.0-py3-none-any.whl", fromager=False))
    assert record.origin == UPSTREAM_BINARY
    data = record.to_dict()
    assert data["origin"] == "upstream-binary" and data["sdist"] is None
    assert data["upstream"] == {
        "index_url": INDEX,
        "url": "https://files.example.org/six-1.17.0-py3-none-any.whl",
        "sha256": record.sha256,
    }
    assert WheelProvenance.from_dict(data) == record
    write_manifest(tmp_path, Manifest({record.filename: record}))
    assert read_manifest(tmp_path).wheels == {record.filename: record}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"origin": "upstream-binary"}, "origin 'upstream-binary' does not match"),
        ({"origin": "sideloaded"}, "origin 'sideloaded' does not match"),
        ({"sdist": None}, "a record built from source needs its sdist"),
    ],
)
def test_a_malformed_origin_is_named(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    tmp_path.mkdir(exist_ok=True)
    write_manifest(tmp_path, Manifest({BUILT.filename: BUILT}))
    assert read_manifest(tmp_path).wheels[BUILT.filename] == BUILT  # negative control
    data = json.loads(manifest_path(tmp_path).read_text())
    data["wheels"][BUILT.filename].update(change)
    manifest_path(tmp_path).write_text(json.dumps(data))
    with pytest.raises(ProvenanceError, match=f"malformed provenance entry: {message}"):
        read_manifest(tmp_path)


def test_an_upstream_record_that_claims_to_be_built_from_source_is_refused(
    tmp_path: Path,
) -> None:
    wheel = make_wheel(tmp_path / "six-1.17.0-py3-none-any.whl", fromager=False)
    data = upstream_record(wheel).to_dict() | {"origin": "built-from-source"}
    with pytest.raises(ValueError, match="origin 'built-from-source' does not match"):
        WheelProvenance.from_dict(data)


def test_the_wheel_dir_check_takes_an_upstream_binary_at_the_indexs_sha256(
    tmp_path: Path,
) -> None:
    """No Fromager evidence is asked of an upstream binary; its bytes must be the ones
    whose sha256 the index published."""
    wheel = make_wheel(tmp_path / "six-1.17.0-py3-none-any.whl", fromager=False)
    record = upstream_record(wheel)
    write_manifest(tmp_path, Manifest({record.filename: record}))
    assert check_wheel_dir(tmp_path).wheels[record.filename].origin == UPSTREAM_BINARY
    # Negative control: the same wheel whose index published another sha256.
    assert record.upstream is not None
    other = replace(record, upstream=replace(record.upstream, sha256="0" * 64))
    write_manifest(tmp_path, Manifest({record.filename: other}))
    with pytest.raises(ProvenanceError, match="differs from the one its upstream index published"):
        check_wheel_dir(tmp_path)
    # And a record built from source for the same non-Fromager wheel fails as before.
    built = replace(BUILT, filename=record.filename, sha256=record.sha256, build_tag="")
    write_manifest(tmp_path, Manifest({record.filename: built}))
    with pytest.raises(ProvenanceError, match="no Fromager build metadata"):
        check_wheel_dir(tmp_path)


def test_the_asdict_form_of_an_upstream_record_reads_back(tmp_path: Path) -> None:
    """State files and index companions written with ``asdict`` carry no ``origin``:
    ``upstream`` alone says it."""
    from dataclasses import asdict

    record = upstream_record(make_wheel(tmp_path / "six-1.17.0-py3-none-any.whl", fromager=False))
    assert "origin" not in asdict(record)
    assert WheelProvenance.from_dict(asdict(record)) == record
    assert WheelProvenance.from_dict(asdict(BUILT)) == BUILT
