"""The comparators behind ``verify --rebuild``: each kind of difference is reported.

Negative controls for the bit-for-bit rebuild guarantee: a comparator that always said
"identical" fails here. Small real zip and tar files are written into ``tmp_path``.
"""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path
from typing import Any

from srcstacks.state.archive_reader import record_digest
from srcstacks.verify.rebuild import _compare_outputs, _compare_wheel_dirs
from srcstacks.verify.rebuild_diff import (
    HINTS,
    DiffKind,
    MemberDiff,
    classify,
    compare_members,
    describe,
)

WHEEL = "demo-1.0-0-py3-none-any.whl"
MEMBERS = {"demo/__init__.py": b"VALUE = 1\n", "demo-1.0.dist-info/METADATA": b"Name: demo\n"}
EPOCH = (1980, 1, 1, 0, 0, 0)


def write_zip(
    path: Path,
    members: dict[str, bytes] = MEMBERS,
    date_time: tuple[int, int, int, int, int, int] = EPOCH,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time), data, compress_type=compression)
    return path


def write_tar(
    path: Path, members: dict[str, bytes] = MEMBERS, mtime: int = 0, preset: int = 6
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    opener: Any = tarfile.open  # typeshed wants the preset as a literal
    with opener(path, "w:xz", preset=preset) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), mtime, 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def changed(name: str, data: bytes) -> dict[str, bytes]:
    return {**MEMBERS, name: data}


# --- rebuild_diff: which members differ, and of what kind ---------------------------------


def diff(a: Path, b: Path, roots: tuple[str, ...] = ()) -> str:
    return describe(compare_members(a, b, roots))


def test_member_diff_of_identical_members_blames_the_container(tmp_path: Path) -> None:
    a = write_zip(tmp_path / "a.zip")
    b = write_zip(tmp_path / "b.zip", compression=zipfile.ZIP_STORED)
    assert a.read_bytes() != b.read_bytes()
    assert "same members and contents; the container bytes differ" in diff(a, b)


def test_a_changed_file_is_content(tmp_path: Path) -> None:
    a = write_zip(tmp_path / "a.zip")
    b = write_zip(tmp_path / "b.zip", changed("demo/__init__.py", b"VALUE = 2\n"))
    assert diff(a, b) == (
        f"1 member(s) differ: content in demo/__init__.py ({HINTS[DiffKind.CONTENT]})"
    )


def test_other_dates_are_timestamps(tmp_path: Path) -> None:
    a = write_zip(tmp_path / "a.zip")
    b = write_zip(tmp_path / "b.zip", date_time=(2024, 1, 1, 0, 0, 0))
    assert diff(a, b) == (
        "2 member(s) differ: timestamps in demo-1.0.dist-info/METADATA, demo/__init__.py"
        f" ({HINTS[DiffKind.TIMESTAMPS]})"
    )
    assert "SOURCE_DATE_EPOCH" in HINTS[DiffKind.TIMESTAMPS]


def test_the_same_lines_in_another_order_are_metadata_order(tmp_path: Path) -> None:
    name = "demo-1.0.dist-info/fromager-build-backend-requirements.txt"
    a = write_zip(tmp_path / "a.zip", {**MEMBERS, name: b"hatch-vcs\nhatchling\n"})
    b = write_zip(tmp_path / "b.zip", {**MEMBERS, name: b"hatchling\nhatch-vcs\n"})
    assert diff(a, b).startswith(f"1 member(s) differ: metadata order in {name} (")
    # A changed line is not an order difference.
    c = write_zip(tmp_path / "c.zip", {**MEMBERS, name: b"hatchling\nhatch-vcs>=0.4\n"})
    assert diff(a, c).startswith(f"1 member(s) differ: content in {name} (")


def test_a_recorded_build_folder_is_paths(tmp_path: Path) -> None:
    first, second = "/srv/build-a/work", "/home/ci/rebuild/work"
    record = "demo/_build_info.py"
    a = write_zip(tmp_path / "a.zip", changed(record, f"SRC = '{first}/demo'\n".encode()))
    b = write_zip(tmp_path / "b.zip", changed(record, f"SRC = '{second}/demo'\n".encode()))
    assert diff(a, b, (first, second)).startswith(f"1 member(s) differ: paths in {record} (")
    # Temporary folders need no root: two builds never share one.
    c = write_zip(tmp_path / "c.zip", changed(record, b"SRC = '/tmp/tmpab12_x/demo'\n"))
    d = write_zip(tmp_path / "d.zip", changed(record, b"SRC = '/tmp/tmpzz99-q/demo'\n"))
    assert diff(c, d).startswith(f"1 member(s) differ: paths in {record} [/tmp/tmpab12_x] (")
    # Without the roots, the same difference is plain content.
    assert diff(a, b).startswith(f"1 member(s) differ: content in {record} (")


def test_a_differing_elf_object_is_compiled_code(tmp_path: Path) -> None:
    so = "demo/_speedups.cpython-311-x86_64-linux-gnu.so"
    a = write_zip(tmp_path / "a.zip", {**MEMBERS, so: b"\x7fELF\x02\x01 one"})
    b = write_zip(tmp_path / "b.zip", {**MEMBERS, so: b"\x7fELF\x02\x01 two"})
    assert diff(a, b) == f"1 member(s) differ: compiled code in {so} ({HINTS[DiffKind.COMPILED]})"


def elf_object(path: bytes, build_id: bytes, code: bytes = b"code") -> bytes:
    """An ELF-like blob: a GNU build ID note, a source path in its debug info, code."""
    note = b"\x04\x00\x00\x00\x14\x00\x00\x00\x03\x00\x00\x00GNU\x00" + build_id * 20
    return b"\x7fELF\x02\x01\x00" + note + path + b"/src/demo/_speedups.cpp\x00" + code


def test_an_elf_object_differing_only_in_a_temporary_folder_is_paths(tmp_path: Path) -> None:
    # frozenlist 1.8.0's own PEP 517 backend compiles in a TemporaryDirectory copy: the
    # debug info names /tmp/.tmp-frozenlist-pep517-<random>, of the same length each time,
    # and the linker's build ID, a hash of the whole object, differs with it.
    so = "demo/_speedups.cpython-311-x86_64-linux-gnu.so"
    first = elf_object(b"/tmp/.tmp-demo-pep517-k2j4x9ab", b"\x01")
    a = write_zip(tmp_path / "a.zip", changed(so, first))
    b = write_zip(
        tmp_path / "b.zip", changed(so, elf_object(b"/tmp/.tmp-demo-pep517-q8w1zz0c", b"\x02"))
    )
    assert diff(a, b) == (
        f"1 member(s) differ: paths in {so} [/tmp/.tmp-demo-pep517-k2j4x9ab]"
        f" ({HINTS[DiffKind.PATHS]})"
    )
    assert "build in place" in HINTS[DiffKind.PATHS]
    # The same path but other code, or another build ID alone, is compiled code.
    other_code = elf_object(b"/tmp/.tmp-demo-pep517-q8w1zz0c", b"\x02", b"cod3")
    c = write_zip(tmp_path / "c.zip", changed(so, other_code))
    assert diff(a, c).startswith(f"1 member(s) differ: compiled code in {so} (")
    other_id = elf_object(b"/tmp/.tmp-demo-pep517-k2j4x9ab", b"\x02")
    d = write_zip(tmp_path / "d.zip", changed(so, other_id))
    assert diff(a, d).startswith(f"1 member(s) differ: compiled code in {so} (")


def record_of(members: dict[str, bytes], prefix: str = "") -> bytes:
    rows = [
        f"{name[len(prefix) :]},{record_digest(data)},{len(data)}" for name, data in members.items()
    ]
    return ("\n".join(rows) + "\n").encode()


def test_a_record_that_only_follows_the_differing_members_says_so(tmp_path: Path) -> None:
    record = "demo-1.0.dist-info/RECORD"
    edited = changed("demo/__init__.py", b"VALUE = 2\n")
    a = write_zip(tmp_path / "a.zip", {**MEMBERS, record: record_of(MEMBERS)})
    b = write_zip(tmp_path / "b.zip", {**edited, record: record_of(edited)})
    text = diff(a, b)
    assert text.startswith("2 member(s) differ: content in demo/__init__.py (")
    assert f"; RECORD hashes in {record} ({HINTS[DiffKind.RECORD]})" in text
    # Negative control: a RECORD row that changed for a member which did not is content.
    forged = record_of(changed("demo-1.0.dist-info/METADATA", b"Name: other\n"))
    c = write_zip(tmp_path / "c.zip", {**edited, record: forged})
    assert f"content in {record}, demo/__init__.py (" in diff(a, c)


def test_an_installed_record_in_a_layer_archive_follows_its_members(tmp_path: Path) -> None:
    site = "app-demo/lib/python3.11/site-packages/"
    installed = {site + name: data for name, data in MEMBERS.items()}
    edited = {**installed, site + "demo/__init__.py": b"VALUE = 2\n"}
    record = site + "demo-1.0.dist-info/RECORD"
    a = write_tar(tmp_path / "a.tar.xz", {**installed, record: record_of(installed, site)})
    b = write_tar(tmp_path / "b.tar.xz", {**edited, record: record_of(edited, site)})
    assert f"; RECORD hashes in {record} (" in diff(a, b)


def test_kinds_are_grouped_and_a_missing_member_is_named(tmp_path: Path) -> None:
    a = write_zip(tmp_path / "a.zip")
    b = write_zip(tmp_path / "b.zip", {"demo/__init__.py": b"VALUE = 3\n", "demo/extra.py": b""})
    text = diff(a, b)
    assert text.startswith("3 member(s) differ: content in demo/__init__.py (")
    assert "; missing in demo-1.0.dist-info/METADATA, demo/extra.py (" in text


def test_tar_members_are_classified_too(tmp_path: Path) -> None:
    base = write_tar(tmp_path / "a.tar.xz")
    edited = write_tar(tmp_path / "b.tar.xz", changed("demo/__init__.py", b"X\n"))
    touched = write_tar(tmp_path / "c.tar.xz", mtime=1)
    missing = write_tar(tmp_path / "d.tar.xz", {"demo/__init__.py": b"VALUE = 1\n"})
    assert diff(base, edited).startswith("1 member(s) differ: content in demo/__init__.py (")
    assert diff(base, touched).startswith("2 member(s) differ: timestamps in ")
    assert diff(base, missing).startswith(
        "1 member(s) differ: missing in demo-1.0.dist-info/METADATA ("
    )


def test_tar_container_only_difference(tmp_path: Path) -> None:
    a, b = write_tar(tmp_path / "a.tar.xz"), write_tar(tmp_path / "b.tar.xz", preset=0)
    assert a.read_bytes() != b.read_bytes()
    assert "container bytes differ" in diff(a, b)


def test_member_diff_lists_ten_and_counts_the_rest() -> None:
    diffs = [MemberDiff(f"m{i:02}", DiffKind.CONTENT) for i in range(12)]
    text = describe(diffs)
    assert text.startswith("12 member(s) differ: content in m00, m01,")
    assert f"m09 and 2 more ({HINTS[DiffKind.CONTENT]})" in text


def test_classify_prefers_the_most_specific_kind() -> None:
    assert classify(b"a\nb\n", b"a\nb\n") is DiffKind.TIMESTAMPS
    assert classify(b"a\nb\n", b"b\na\n") is DiffKind.ORDER
    assert classify(b"\x7fELF x", b"\x7fELF y") is DiffKind.COMPILED
    assert classify(b"/r1/x", b"/r2/x", ("/r1", "/r2")) is DiffKind.PATHS
    assert classify(b"/r1/x", b"/r2/y", ("/r1", "/r2")) is DiffKind.CONTENT


# --- _compare_wheel_dirs ---------------------------------------------------------------------


def wheel_dirs(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    for folder in (first, second):
        write_zip(folder / WHEEL)
        (folder / "provenance.json").write_text('{"wheels": {}}\n')
    return first, second


def verdicts(results: list) -> dict[str, tuple[bool, str]]:  # type: ignore[type-arg]
    return {result.artifact: (result.identical, result.detail) for result in results}


def test_identical_wheel_dirs(tmp_path: Path) -> None:
    assert verdicts(_compare_wheel_dirs(*wheel_dirs(tmp_path))) == {
        f"wheels/{WHEEL}": (True, ""),
        "wheels/provenance.json": (True, ""),
    }


def test_rebuilt_wheel_with_other_timestamps_is_different(tmp_path: Path) -> None:
    first, second = wheel_dirs(tmp_path)
    write_zip(second / WHEEL, date_time=(2024, 1, 1, 0, 0, 0))
    result = verdicts(_compare_wheel_dirs(first, second))[f"wheels/{WHEEL}"]
    assert result[0] is False
    assert result[1].startswith(
        "2 member(s) differ: timestamps in demo-1.0.dist-info/METADATA, demo/__init__.py ("
    )


def test_rebuilt_wheel_with_one_changed_file_is_different(tmp_path: Path) -> None:
    first, second = wheel_dirs(tmp_path)
    write_zip(second / WHEEL, changed("demo/__init__.py", b"VALUE = 2\n"))
    result = verdicts(_compare_wheel_dirs(first, second))[f"wheels/{WHEEL}"]
    assert result[0] is False
    assert result[1].startswith("1 member(s) differ: content in demo/__init__.py (")


def test_wheel_missing_from_either_side_and_changed_provenance(tmp_path: Path) -> None:
    first, second = wheel_dirs(tmp_path)
    write_zip(first / "only-1.0-0-py3-none-any.whl")
    write_zip(second / "extra-1.0-0-py3-none-any.whl")
    (second / "provenance.json").write_text('{"wheels": {"x": {}}}\n')
    assert verdicts(_compare_wheel_dirs(first, second)) == {
        f"wheels/{WHEEL}": (True, ""),
        "wheels/only-1.0-0-py3-none-any.whl": (False, "missing from the rebuild"),
        "wheels/extra-1.0-0-py3-none-any.whl": (False, "missing from the first build"),
        "wheels/provenance.json": (False, "content differs"),
    }


def test_differing_provenance_records_are_named_with_their_keys(tmp_path: Path) -> None:
    first, second = wheel_dirs(tmp_path)
    record = {
        "project": "demo", "version": "1.0", "filename": WHEEL, "build_tag": "0",
        "variant": "cpu", "sha256": "a" * 64, "built_from_source": True, "patches": [],
        "build_settings_sha256": "", "build_env": {},
        "sdist": {"filename": "demo-1.0.tar.gz", "sha256": "b" * 64, "url": "https://x/d.tgz"},
    }  # fmt: skip
    other = "other-1.0-0-py3-none-any.whl"
    for folder, digest in ((first, "a"), (second, "c")):
        write_zip(folder / other)
        manifest = {
            WHEEL: {**record, "sha256": digest * 64},
            other: {**record, "project": "other", "filename": other},
        }
        (folder / "provenance.json").write_text(json.dumps({"format": 1, "wheels": manifest}))
    only = frozenset({WHEEL, other})
    result = verdicts(_compare_wheel_dirs(first, second, only))["wheels/provenance.json"]
    assert result == (
        False,
        f"content differs (this stack's records): 1 record(s) differ: {WHEEL} (sha256)",
    )


# --- _compare_outputs ------------------------------------------------------------------------

ARCHIVE = "app-demo.tar.xz"


def output_dir(folder: Path) -> Path:
    """A published output dir in venvstacks' layout, with one layer and its records."""
    write_tar(folder / ARCHIVE)
    layer = {"archive_name": ARCHIVE, "install_target": "app-demo", "runtime_layer": "cpython"}
    manifest = {"layers": {"runtimes": [], "frameworks": [], "applications": [layer]}}
    (folder / "__venvstacks__" / "env_metadata").mkdir(parents=True)
    (folder / "__venvstacks__" / "venvstacks.json").write_text(json.dumps(manifest))
    (folder / "__venvstacks__" / "env_metadata" / "app-demo.json").write_text(json.dumps(layer))
    (folder / "__srcstacks__").mkdir()
    (folder / "__srcstacks__" / "build.json").write_text('{"variant": "cpu"}\n')
    (folder / f"{ARCHIVE}.cdx.json").write_text('{"serialNumber": "urn:uuid:1"}\n')
    return folder


def test_identical_outputs(tmp_path: Path) -> None:
    results = _compare_outputs(output_dir(tmp_path / "a"), output_dir(tmp_path / "b"))
    assert verdicts(results) == {
        f"archives/{ARCHIVE}": (True, ""),
        f"{ARCHIVE}.cdx.json": (True, ""),
        "__venvstacks__/env_metadata/app-demo.json": (True, ""),
        "__venvstacks__/venvstacks.json": (True, ""),
        "__srcstacks__/build.json": (True, ""),
    }


def test_outputs_differing_in_an_archive_member_and_a_record(tmp_path: Path) -> None:
    first, second = output_dir(tmp_path / "a"), output_dir(tmp_path / "b")
    write_tar(second / ARCHIVE, changed("demo/__init__.py", b"VALUE = 2\n"))
    (second / f"{ARCHIVE}.cdx.json").write_text('{"serialNumber": "urn:uuid:2"}\n')
    (second / "__srcstacks__" / "build.json").unlink()
    results = verdicts(_compare_outputs(first, second))
    identical, detail = results[f"archives/{ARCHIVE}"]
    assert not identical and detail.startswith("1 member(s) differ: content in demo/__init__.py")
    assert results[f"{ARCHIVE}.cdx.json"] == (False, "content differs")
    assert results["__srcstacks__/build.json"] == (False, "content differs")
    assert results["__venvstacks__/venvstacks.json"] == (True, "")


def test_outputs_with_an_archive_missing_or_differing_only_in_compression(tmp_path: Path) -> None:
    first, second = output_dir(tmp_path / "a"), output_dir(tmp_path / "b")
    write_tar(second / ARCHIVE, preset=0)
    (detail,) = [r.detail for r in _compare_outputs(first, second) if not r.identical]
    assert detail.startswith("same members and contents; the container bytes differ")
    (second / ARCHIVE).unlink()
    results = verdicts(_compare_outputs(first, second))
    assert results[f"archives/{ARCHIVE}"] == (False, "missing from the rebuild")
