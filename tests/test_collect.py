"""``srcstacks collect``'s merge rules, on Fromager-like wheels made here (no builds).

Each refusal is checked with its exact message fragments and with the target wheel dir
left as it was (its every file's bytes); each accepting case is the negative control of
a refusal next to it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from srcstacks.build.wheel_records import with_build_host
from srcstacks.errors import CollectError
from srcstacks.fsutil import sha256_file
from srcstacks.layout import Layout
from srcstacks.publish.collect import collect, split_spec
from srcstacks.spec.config import StackConfig, load_config
from srcstacks.state.provenance import (
    HostRecord,
    Manifest,
    WheelProvenance,
    check_wheel_dir,
    read_manifest,
    write_manifest,
)
from srcstacks.state.publishers import read_publishers
from tests.test_provenance import make_wheel, publish

SIX = "six-1.17.0-0-py3-none-any.whl"
IDNA = "idna-3.11-0-py3-none-any.whl"
AARCH64 = "markupsafe-3.0.4-0-cp311-cp311-linux_aarch64.whl"

SPEC = """\
[[runtimes]]
name = "cpython-3.11"
python_implementation = "cpython@3.11.7"
requirements = []
platforms = ["linux_x86_64"]

[tool.srcstacks.runtime]
source = "pack"
"""


def stack(tmp_path: Path) -> StackConfig:
    folder = tmp_path / "stack"
    folder.mkdir()
    (folder / "venvstacks.toml").write_text(SPEC)
    return load_config(folder / "venvstacks.toml")


def wheel_dir(folder: Path, *names: str, marker: bytes = b"") -> Path:
    """A wheel dir as publish-wheels leaves it: Fromager-like wheels and their records."""
    records = {}
    for name in names:
        record = publish(folder, name)
        if marker:  # other bytes under the same name
            make_wheel(folder / name, extra={"extra.txt": marker})
            record = replace(record, sha256=sha256_file(folder / name))
        records[name] = record
    write_manifest(folder, Manifest(records))
    return folder


def snapshot(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ".lock"
    }


def test_two_dirs_merge_with_their_hosts_other_platforms_included(tmp_path: Path) -> None:
    config = stack(tmp_path)
    x86 = wheel_dir(tmp_path / "x86", SIX)
    arm = wheel_dir(tmp_path / "arm", IDNA, AARCH64)
    lines: list[str] = []
    plan = collect(config, [x86, arm], lines.append)

    assert len(plan.to_copy) == 3 and not plan.present
    manifest = check_wheel_dir(config.wheel_dir)  # every later stage's check passes
    assert set(manifest.wheels) == {SIX, IDNA, AARCH64}
    # The builder named no host: the DIR is recorded, with the platform it built for
    # (its one platform tag; a pure-Python-only dir says only "any").
    assert manifest.wheels[AARCH64].host == HostRecord(str(arm), "linux_aarch64", "collect")
    assert manifest.wheels[IDNA].host == HostRecord(str(arm), "linux_aarch64", "collect")
    assert manifest.wheels[SIX].host == HostRecord(str(x86), "any", "collect")
    for name in (SIX, IDNA, AARCH64):
        assert sha256_file(config.wheel_dir / name) == sha256_file(
            (x86 if name == SIX else arm) / name
        )
    collected = read_publishers(Layout.of(config))["collected"]
    assert collected.wheels == {SIX, IDNA, AARCH64}
    assert f"  {AARCH64}: collected from {arm} (built by {arm}, linux_aarch64)" in lines
    assert lines[-1].startswith("collected 3 wheel(s) from 2 wheel dir(s) into ")


def test_rerun_changes_nothing_and_says_so(tmp_path: Path) -> None:
    config = stack(tmp_path)
    source = wheel_dir(tmp_path / "arm", IDNA, AARCH64)
    collect(config, [source], lambda _: None)
    before = snapshot(config.wheel_dir)
    mtime = (config.wheel_dir / "provenance.json").stat().st_mtime_ns
    lines: list[str] = []
    plan = collect(config, [source], lines.append)
    assert not plan.to_copy and not plan.to_record and len(plan.present) == 2
    assert snapshot(config.wheel_dir) == before
    assert (config.wheel_dir / "provenance.json").stat().st_mtime_ns == mtime
    assert any(f"{IDNA}: already in {config.wheel_dir} with the same bytes; skipped" in line
               for line in lines)  # fmt: skip
    assert "(2 already there)" in lines[-1]


def test_copy_cut_off_before_its_record_is_completed(tmp_path: Path) -> None:
    config = stack(tmp_path)
    source = wheel_dir(tmp_path / "arm", IDNA)
    collect(config, [source], lambda _: None)
    write_manifest(config.wheel_dir, Manifest({}))  # as if killed between copy and record
    plan = collect(config, [source], lambda _: None)
    assert [item.record.filename for item in plan.to_record] == [IDNA]
    assert set(check_wheel_dir(config.wheel_dir).wheels) == {IDNA}


def test_builders_own_host_is_kept(tmp_path: Path) -> None:
    config = stack(tmp_path)
    source = tmp_path / "arm"
    record = publish(source, IDNA)
    host = HostRecord("arm-builder-1", "linux_aarch64")
    write_manifest(source, Manifest({IDNA: replace(record, host=host)}))
    collect(config, [source], lambda _: None)
    assert read_manifest(config.wheel_dir).wheels[IDNA].host == host


def test_same_name_other_bytes_in_two_dirs_is_refused(tmp_path: Path) -> None:
    config = stack(tmp_path)
    first = wheel_dir(tmp_path / "x86", SIX)
    second = wheel_dir(tmp_path / "arm", SIX, IDNA, marker=b"other build")
    with pytest.raises(CollectError) as caught:
        collect(config, [first, second], lambda _: None)
    message = str(caught.value)
    assert message.startswith("nothing collected, 1 problem(s): ")
    assert f"{second}: {SIX} has sha256 {sha256_file(second / SIX)}" in message
    assert f"but {first} has {SIX} with sha256 {sha256_file(first / SIX)}" in message
    assert not config.wheel_dir.exists()  # not even created


def test_same_name_other_bytes_than_the_wheel_dir_is_refused(tmp_path: Path) -> None:
    config = stack(tmp_path)
    collect(config, [wheel_dir(tmp_path / "x86", SIX)], lambda _: None)
    before = snapshot(config.wheel_dir)
    other = wheel_dir(tmp_path / "arm", SIX, IDNA, marker=b"other build")
    with pytest.raises(CollectError) as caught:
        collect(config, [other], lambda _: None)
    message = str(caught.value)
    assert f"{other}: {SIX} has sha256 {sha256_file(other / SIX)}" in message
    assert f"but {config.wheel_dir} already holds {SIX} with sha256" in message
    assert sha256_file(config.wheel_dir / SIX) in message
    assert snapshot(config.wheel_dir) == before  # idna was not copied either


def _sdist(record: WheelProvenance, **changes: str) -> WheelProvenance:
    assert record.sdist is not None
    return replace(record, sdist=replace(record.sdist, **changes))


LIES: dict[str, Callable[[WheelProvenance], WheelProvenance]] = {
    "patches emptied": lambda record: replace(record, patches=()),
    "sdist sha256 zeroed": lambda record: _sdist(record, sha256="0" * 64),
    "sdist URL changed": lambda record: _sdist(record, url="https://elsewhere.invalid/y.tar.gz"),
    "variant changed": lambda record: replace(record, variant="gpu"),
}


@pytest.mark.parametrize(
    ("damage", "fragment"),
    [
        ("no manifest", "provenance.json: no provenance manifest"),
        ("no entry", f"{IDNA} has no provenance entry"),
        ("other bytes", f"{SIX} does not match the sha256 recorded for it"),
        ("no evidence", f"{SIX}: no Fromager build metadata"),
        ("not from source", f"{SIX}: its provenance does not record it as built from source"),
        ("record without wheel", f"{IDNA} is recorded but missing"),
        # Records that lie about the source, against the SBOM the wheel carries of itself:
        (
            "patches emptied",
            f"{SIX}: its SBOM names 1 patch(es) applied (1.patch), its provenance 0 (none)",
        ),
        ("sdist sha256 zeroed", f"{SIX}: its SBOM says it was built from x.tar.gz (sha256 ab...)"),
        ("sdist URL changed", f"{SIX}: its provenance's sdist URL https://elsewhere.invalid/y"),
        ("variant changed", f"{SIX}: its SBOM says variant cpu, its provenance gpu"),
    ],
)
def test_unproven_wheels_are_refused_and_nothing_changes(
    tmp_path: Path, damage: str, fragment: str
) -> None:
    config = stack(tmp_path)
    collect(config, [wheel_dir(tmp_path / "first", AARCH64)], lambda _: None)
    before = snapshot(config.wheel_dir)
    good = wheel_dir(tmp_path / "good", "attrs-25.1.0-0-py3-none-any.whl")
    bad = wheel_dir(tmp_path / "bad", SIX, IDNA)
    manifest = read_manifest(bad)
    if damage == "no manifest":
        (bad / "provenance.json").unlink()
    elif damage == "no entry":
        write_manifest(bad, Manifest({SIX: manifest.wheels[SIX]}))
    elif damage == "other bytes":
        make_wheel(bad / SIX, extra={"extra.txt": b"swapped"})
    elif damage == "no evidence":
        make_wheel(bad / SIX, fromager=False)
        fixed = replace(manifest.wheels[SIX], sha256=sha256_file(bad / SIX))
        write_manifest(bad, Manifest({**manifest.wheels, SIX: fixed}))
    elif damage == "not from source":
        claim = replace(manifest.wheels[SIX], built_from_source=False)
        write_manifest(bad, Manifest({**manifest.wheels, SIX: claim}))
    elif damage in LIES:
        claim = LIES[damage](manifest.wheels[SIX])
        write_manifest(bad, Manifest({**manifest.wheels, SIX: claim}))
    else:
        (bad / IDNA).unlink()
    with pytest.raises(CollectError) as caught:
        collect(config, [good, bad], lambda _: None)
    message = str(caught.value)
    assert message.startswith("nothing collected, ")
    assert f"{bad}" in message and fragment in message
    assert "attrs" not in message  # the good dir is not blamed...
    assert snapshot(config.wheel_dir) == before  # ...and not collected either


def test_a_dir_that_is_not_a_folder_is_refused(tmp_path: Path) -> None:
    config = stack(tmp_path)
    with pytest.raises(CollectError, match=r"missing: not a folder \(a wheel dir"):
        collect(config, [tmp_path / "missing"], lambda _: None)
    with pytest.raises(CollectError, match="name at least one wheel dir"):
        collect(config, [], lambda _: None)


def test_host_is_recorded_at_publish_only_when_the_build_host_names_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    record: WheelProvenance = publish(tmp_path, SIX)
    monkeypatch.delenv("SRCSTACKS_BUILD_HOST", raising=False)
    assert with_build_host(record).host is None
    # Without a host, the record's JSON is what it always was: no "host" key at all.
    assert "host" not in with_build_host(record).to_dict()
    monkeypatch.setenv("SRCSTACKS_BUILD_HOST", "arm-builder-1")
    named = with_build_host(record)
    assert named.host is not None and named.host.name == "arm-builder-1"
    assert named.host.platform.startswith("linux_") and named.host.named_by == "builder"
    data = json.loads(json.dumps(named.to_dict()))
    assert data["host"] == {"name": "arm-builder-1", "platform": named.host.platform,
                            "named_by": "builder"}  # fmt: skip
    assert WheelProvenance.from_dict(data) == named


def test_spec_is_the_last_path_only_when_it_is_one(tmp_path: Path) -> None:
    default = Path("venvstacks.toml")
    (tmp_path / "stack").mkdir()
    (tmp_path / "stack" / "venvstacks.toml").write_text(SPEC)
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    assert split_spec([wheels, tmp_path / "stack"], default) == ([wheels], tmp_path / "stack")
    spec = tmp_path / "stack" / "venvstacks.toml"
    assert split_spec([wheels, spec], default) == ([wheels], spec)
    assert split_spec([wheels, wheels], default) == ([wheels, wheels], default)


def test_a_dir_of_several_platforms_gives_each_wheel_its_own(tmp_path: Path) -> None:
    config = stack(tmp_path)
    x86 = "markupsafe-3.0.4-0-cp311-cp311-linux_x86_64.whl"
    mixed = wheel_dir(tmp_path / "mixed", AARCH64, x86, SIX)
    collect(config, [mixed], lambda _: None)
    hosts = {name: record.host for name, record in read_manifest(config.wheel_dir).wheels.items()}
    assert hosts[AARCH64] == HostRecord(str(mixed), "linux_aarch64", "collect")
    assert hosts[x86] == HostRecord(str(mixed), "linux_x86_64", "collect")
    assert hosts[SIX] == HostRecord(str(mixed), "any", "collect")
