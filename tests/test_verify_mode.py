"""verify and the stack's build mode: an upstream binary refused in full mode and
accepted in selective mode (unless listed in build_from_source), SBOM origins checked
against provenance, and the summary's counts. Hand-made records and archives, no build."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from srcstacks.layout import Layout, sbom_path
from srcstacks.sbom.document import build_document
from srcstacks.spec.config import StackConfig, load_config
from srcstacks.spec.mode import BuildMode
from srcstacks.state.archive_reader import read_archive
from srcstacks.state.provenance import Manifest, UpstreamRecord, WheelProvenance
from srcstacks.verify.mode import (
    OriginCounts,
    mode_problems,
    origin_problems,
    sbom_mode_problems,
)
from srcstacks.verify.sbom import check_sbom
from srcstacks.verify.stage import Verification, _check_sources, _installed_wheels
from tests.test_config import SPEC, write
from tests.test_provenance import make_wheel
from tests.test_provenance_origin import BUILT, upstream_record
from tests.test_sbom_document import by_name, dist, layer_inputs, make_archive
from tests.test_sbom_origin import upstream

INDEX = "https://pypi.org/simple/"
SIX = WheelProvenance.upstream_binary(
    "six-1.17.0-py2.py3-none-any.whl",
    "six",
    "1.17.0",
    "cpu",
    UpstreamRecord(INDEX, "https://files.example.org/six.whl", "e" * 64),
)
FULL = BuildMode()
SELECTIVE = BuildMode("selective")
FULL_MODE_LINE = (
    "fw.tar.xz: six-1.17.0-py2.py3-none-any.whl is an upstream binary (from"
    " https://pypi.org/simple/), but the stack is in full mode: every wheel must be built"
    ' from source (set mode = "selective" or rebuild)'
)


def test_full_mode_refuses_an_upstream_binary() -> None:
    assert mode_problems("fw.tar.xz", SIX, FULL) == [FULL_MODE_LINE]
    assert mode_problems("fw.tar.xz", BUILT, FULL) == []  # negative control


def test_selective_mode_takes_an_upstream_binary_unless_listed() -> None:
    assert mode_problems("fw.tar.xz", SIX, SELECTIVE) == []
    assert mode_problems("fw.tar.xz", BUILT, SELECTIVE) == []
    listed = BuildMode("selective", ("six",))
    assert mode_problems("fw.tar.xz", SIX, listed) == [
        "fw.tar.xz: six-1.17.0-py2.py3-none-any.whl is an upstream binary (from"
        " https://pypi.org/simple/), but 'tool.srcstacks.build_from_source' lists six: it"
        " must be built from source (rerun 'srcstacks build')"
    ]
    assert mode_problems("fw.tar.xz", SIX, BuildMode("selective", ("idna",))) == []


def test_the_summary_counts_each_wheel_once_by_origin() -> None:
    counts = OriginCounts()
    for record in (SIX, BUILT, SIX):  # six is in two archives
        counts.add(record)
    assert counts.summary(SELECTIVE) == "selective mode: 1 built from source, 1 upstream binary"
    counts.add(replace(SIX, filename="other-1.0-py3-none-any.whl"))
    assert counts.summary(FULL) == "full mode: 1 built from source, 2 upstream binaries"


def test_an_sbom_origin_must_be_its_records() -> None:
    assert origin_problems("fw.cdx.json", "six", "1.17.0", "upstream-binary", [SIX]) == []
    assert origin_problems("fw.cdx.json", "six", "1.17.0", "built-from-source", [SIX]) == [
        "fw.cdx.json: six 1.17.0 is marked srcstacks:origin = built-from-source, but its"
        " provenance (six-1.17.0-py2.py3-none-any.whl) says upstream-binary"
    ]
    assert origin_problems("fw.cdx.json", "idna", "3.11", "upstream-binary", [BUILT]) == [
        "fw.cdx.json: idna 3.11 is marked srcstacks:origin = upstream-binary, but its"
        " provenance (idna-3.11-0-py3-none-any.whl) says built-from-source"
    ]
    assert origin_problems("fw.cdx.json", "idna", "3.11", None, [BUILT]) == [
        "fw.cdx.json: idna 3.11 has no srcstacks:origin property, but its provenance says"
        " built-from-source"
    ]
    assert origin_problems("fw.cdx.json", "idna", "3.11", "mirrored", []) == [
        "fw.cdx.json: idna 3.11 has srcstacks:origin = 'mirrored', which is neither"
        " built-from-source nor upstream-binary"
    ]


def test_an_sbom_must_be_written_in_the_stacks_mode() -> None:
    assert sbom_mode_problems("fw.cdx.json", "selective", SELECTIVE) == []
    assert sbom_mode_problems("fw.cdx.json", "selective", FULL) == [
        "fw.cdx.json: was written in selective mode, but the stack is now in full mode"
        " (rerun 'srcstacks build')"
    ]
    assert sbom_mode_problems("fw.cdx.json", None, FULL) == [
        "fw.cdx.json: has no srcstacks:mode property (rerun 'srcstacks sbom')"
    ]


def sbom_beside(tmp_path: Path, mode: str) -> tuple[Path, Manifest]:
    """An archive with an upstream six and a built idna, its SBOM, and their records."""
    archive = make_archive(tmp_path / "fw.tar.xz", ("idna", "3.11"), ("six", "1.17.0"))
    contents = read_archive(archive)
    dists = (upstream(dist("six", "1.17.0")), dist("idna", "3.11"))
    inputs = layer_inputs("fw", "framework", dists, archive_sha256=contents.sha256)
    sbom_path(archive).write_text(build_document(replace(inputs, mode=mode)).text)
    manifest = Manifest(
        {item.provenance.filename: item.provenance for item in dists if item.provenance}
    )
    return archive, manifest


def edit(path: Path, name: str, origin: str) -> None:
    document: dict[str, Any] = json.loads(path.read_text())
    for item in by_name(document)[name]["properties"]:
        if item["name"] == "srcstacks:origin":
            item["value"] = origin
    path.write_text(json.dumps(document))


def test_check_sbom_holds_origins_and_mode_to_the_records(tmp_path: Path) -> None:
    archive, manifest = sbom_beside(tmp_path, "selective")
    contents = read_archive(archive)
    assert check_sbom(contents, manifest, {}, None, mode=SELECTIVE) == []  # negative control
    assert check_sbom(contents, manifest, {}, None, mode=FULL) == [
        "fw.tar.xz.cdx.json: was written in selective mode, but the stack is now in full mode"
        " (rerun 'srcstacks build')"
    ]
    edit(sbom_path(archive), "six", "built-from-source")
    edit(sbom_path(archive), "idna", "upstream-binary")
    assert check_sbom(contents, manifest, {}, None, mode=SELECTIVE) == [
        "fw.tar.xz.cdx.json: idna 3.11 is marked srcstacks:origin = upstream-binary, but"
        " its provenance (idna-3.11-0-py3-none-any.whl) says built-from-source",
        "fw.tar.xz.cdx.json: six 1.17.0 is marked srcstacks:origin = built-from-source, but"
        " its provenance (six-1.17.0-py3-none-any.whl) says upstream-binary",
    ]


def test_an_upstream_binary_claimed_built_from_source_fails_as_before(tmp_path: Path) -> None:
    archive, manifest = sbom_beside(tmp_path, "selective")
    document: dict[str, Any] = json.loads(sbom_path(archive).read_text())
    for item in by_name(document)["six"]["properties"]:
        if item["name"] == "srcstacks:built_from_source":
            item["value"] = "true"
    sbom_path(archive).write_text(json.dumps(document))
    assert check_sbom(read_archive(archive), manifest, {}, None, mode=SELECTIVE) == [
        "fw.tar.xz.cdx.json: six 1.17.0 is claimed built from source, but"
        " six-1.17.0-py3-none-any.whl: its provenance does not say so"
    ]


def stack(tmp_path: Path, tool: str) -> StackConfig:
    return load_config(write(tmp_path, SPEC + tool))


def installed(config: StackConfig, tmp_path: Path) -> Verification:
    """What verify finds of an archive holding an upstream six and a built idna."""
    config.wheel_dir.mkdir(parents=True)
    six = upstream_record(make_wheel(config.wheel_dir / "six-1.17.0-py3-none-any.whl"))
    idna = make_wheel(config.wheel_dir / "idna-3.11-0-py3-none-any.whl")
    manifest = Manifest({six.filename: six, idna.name: replace(BUILT, filename=idna.name)})
    archive = make_archive(tmp_path / "fw.tar.xz", ("idna", "3.11"), ("six", "1.17.0"))
    result = Verification()
    _installed_wheels(config, Layout.of(config), read_archive(archive), manifest, {}, result)
    return result


def test_verify_refuses_an_upstream_binary_in_full_mode(tmp_path: Path) -> None:
    result = installed(stack(tmp_path, ""), tmp_path)
    assert result.problems == [
        "fw.tar.xz: six-1.17.0-py3-none-any.whl is an upstream binary (from"
        " https://pypi.org/simple/), but the stack is in full mode: every wheel must be built"
        ' from source (set mode = "selective" or rebuild)'
    ]
    assert result.origins.summary(FULL) == "full mode: 1 built from source, 1 upstream binary"


def test_verify_takes_it_in_selective_mode(tmp_path: Path) -> None:
    config = stack(tmp_path, '\n[tool.srcstacks]\nmode = "selective"\n')
    assert installed(config, tmp_path).problems == []
    listed = tmp_path / "listed"
    listed.mkdir()
    tool = '\n[tool.srcstacks]\nmode = "selective"\nbuild_from_source = ["Six"]\n'
    assert installed(stack(listed, tool), listed).problems == [
        "fw.tar.xz: six-1.17.0-py3-none-any.whl is an upstream binary (from"
        " https://pypi.org/simple/), but 'tool.srcstacks.build_from_source' lists six: it"
        " must be built from source (rerun 'srcstacks build')"
    ]


def test_the_sources_check_asks_no_sdist_of_an_upstream_binary(tmp_path: Path) -> None:
    config = stack(tmp_path, '\n[tool.srcstacks]\nmode = "selective"\n')
    record = replace(SIX, filename="six-1.17.0-py3-none-any.whl")
    manifest = Manifest({record.filename: record, BUILT.filename: BUILT})
    result = Verification()
    _check_sources(config, manifest, frozenset(manifest.wheels), result)
    # Negative control: the wheel built from source still needs its sdist.
    assert {line.split(":")[0] for line in result.problems} == {BUILT.filename}
    assert any("its sdist" in line for line in result.problems)
    patch = config.patches_dir / "six" / "0001-fix.patch"
    patch.parent.mkdir(parents=True)
    patch.write_text("--- a\n+++ b\n")
    result = Verification()
    _check_sources(
        config, Manifest({record.filename: record}), frozenset([record.filename]), result
    )
    assert result.problems == [
        f"six-1.17.0-py3-none-any.whl: patch {patch} applies to six 1.17.0, but the wheel is"
        " an upstream binary, so the patch is not in it (add the project to"
        " 'tool.srcstacks.build_from_source' and rerun 'srcstacks build')"
    ]
