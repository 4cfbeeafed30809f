"""What the wheels stage tells the user about its inputs before Fromager runs.

Fromager is replaced by a stub here: these tests are about srcstacks' own reading of
the settings folder, the variant and the spec's requirements, not about building.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from srcstacks.build import inputs as build_inputs
from srcstacks.build import stage as wheels
from srcstacks.build.cache_check import mismatch
from srcstacks.build.inputs import discard_stale_wheels, vanished_inputs
from srcstacks.build.jobs import building_with
from srcstacks.errors import ConfigError
from srcstacks.fsutil import write_json
from srcstacks.layout import Layout
from srcstacks.run_context import RunContext
from srcstacks.spec import settings as settings_module
from srcstacks.spec.config import Overrides, StackConfig, load_config
from srcstacks.spec.settings import read_settings, undefined_variant
from srcstacks.state.build_record import BuildEnvironment, SystemPackage
from srcstacks.tools import fromager as fromager_tool
from srcstacks.tools.cargo import find_rust_toolchain
from tests.test_provenance import make_wheel, publish, wheel_sbom

# The runtime is of the Python running the tests: the wheels stage builds only for it.
SPEC = f"""
[[runtimes]]
name = "rt"
python_implementation = "cpython@{sys.version_info.major}.{sys.version_info.minor}.0"
requirements = []

[[applications]]
name = "app"
launch_module = "app.py"
runtime = "rt"
requirements = ["idna==3.11", "tomli; python_version < '3.11'"]
"""
SETTINGS = "env:\n  CFLAGS: -O2\nvariants:\n  hardened:\n    env:\n      CFLAGS: -O3\n"


def stack(tmp_path: Path, variant: str | None = None) -> StackConfig:
    spec = tmp_path / "venvstacks.toml"
    spec.write_text(SPEC)
    (tmp_path / "build-settings").mkdir()
    (tmp_path / "build-settings" / "idna.yaml").write_text(SETTINGS)
    return load_config(spec, Overrides(variant=variant))


def test_undefined_variant_is_named_with_the_defined_ones(tmp_path: Path) -> None:
    config = stack(tmp_path)
    found = read_settings(config.settings_dir)
    warning = undefined_variant("gpu", found, config.settings_dir)
    assert warning is not None
    assert "variant 'gpu' is defined by no settings file in" in warning
    assert str(config.settings_dir) in warning and "(defined: cpu, hardened)" in warning
    # Negative controls: Fromager's default needs no definition; a defined one is fine.
    assert undefined_variant("cpu", found, config.settings_dir) is None
    assert undefined_variant("hardened", found, config.settings_dir) is None


class _StubFromager:
    """Stands in for ``fromager bootstrap``: records the requirements it was given."""

    def __init__(self) -> None:
        self.requirements: list[str] = []

    def bootstrap(self, dirs: Any, requirements_file: Path, **_: Any) -> None:
        self.requirements = requirements_file.read_text().splitlines()


def run_wheels_stage(
    config: StackConfig, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], _StubFromager, list[Path]]:
    stub = _StubFromager()
    monkeypatch.setattr(fromager_tool, "bootstrap", stub.bootstrap)
    monkeypatch.setattr(fromager_tool, "version", lambda: "0.77.0")
    parsed: list[Path] = []
    real_load = settings_module._load_yaml

    def counting_load(path: Path) -> dict[str, Any]:
        parsed.append(path)
        return real_load(path)

    monkeypatch.setattr(settings_module, "_load_yaml", counting_load)
    lines: list[str] = []
    with building_with(1):  # the stub stands in for the one serial bootstrap
        wheels.build_wheels(RunContext(config, lines.append))
    return lines, stub, parsed


def test_one_wheels_run_reads_the_settings_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, parsed = run_wheels_stage(stack(tmp_path), monkeypatch)
    assert parsed == [tmp_path / "build-settings" / "idna.yaml"]


def test_unknown_variant_warns_before_building(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines, _, _ = run_wheels_stage(stack(tmp_path, "gpu"), monkeypatch)
    warnings = [line for line in lines if line.startswith("warning: variant 'gpu'")]
    assert len(warnings) == 1 and "(defined: cpu, hardened)" in warnings[0]


def test_defined_variant_does_not_warn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines, _, _ = run_wheels_stage(stack(tmp_path, "hardened"), monkeypatch)
    assert not [line for line in lines if "defined by no settings file" in line]


def test_marker_false_requirement_is_not_built_and_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines, stub, _ = run_wheels_stage(stack(tmp_path), monkeypatch)
    assert stub.requirements == ["idna==3.11"]
    assert (
        "leaving out 'tomli; python_version < \"3.11\"' of layer 'app': its marker is false"
        " wherever venvstacks locks, so no wheel is needed"
    ) in lines


def test_vanished_inputs_names_what_is_gone() -> None:
    before = {"variant": "cpu", "patches": [["0001-a.patch", "1"], ["0002-b.patch", "2"]]}
    before["settings_sha256"] = "s"
    assert vanished_inputs(before, {"variant": "cpu", "patches": [], "settings_sha256": ""}) == (
        "patch 0001-a.patch, patch 0002-b.patch, its build settings file"
    )
    # Changed, not gone: an ordinary rebuild, no warning.
    changed = {"variant": "cpu", "patches": [["0001-a.patch", "9"], ["0002-b.patch", "2"]]}
    assert vanished_inputs(before, {**changed, "settings_sha256": "t"}) == ""


def test_a_wheel_whose_patches_vanished_is_named_before_its_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = stack(tmp_path)
    dirs = wheels.fromager_dirs(config)
    wheel = "idna-3.11-0-py3-none-any.whl"
    dirs.built_wheels.mkdir(parents=True)
    make_wheel(dirs.built_wheels / wheel)
    record = {wheel: {"variant": "cpu", "patches": [["0001-x.patch", "1"]], "settings_sha256": ""}}
    write_json(Layout.of(config).build_inputs, record)
    discarded: list[str] = []
    monkeypatch.setattr(
        build_inputs, "discard_built_wheel", lambda _dirs, name, _version: discarded.append(name)
    )
    lines: list[str] = []
    found = read_settings(config.settings_dir)
    assert discard_stale_wheels(config, dirs, lines.append, found) == [wheel]
    assert discarded == [wheel]
    assert lines[0].startswith("warning: idna 3.11 was built with patch 0001-x.patch, now missing")
    assert str(config.patches_dir) in lines[0] and "rebuilding it without them" in lines[0]


def test_a_rebuilt_wheel_is_recorded_with_its_new_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A patch changed from A to B and back to A rebuilds the wheel both times."""
    config = stack(tmp_path)
    dirs = wheels.fromager_dirs(config)
    wheel = "idna-3.11-0-py3-none-any.whl"
    dirs.built_wheels.mkdir(parents=True)
    make_wheel(dirs.built_wheels / wheel)
    patch = config.patches_dir / "idna" / "0001-x.patch"
    patch.parent.mkdir(parents=True)
    patch.write_text("A\n")
    found = read_settings(config.settings_dir)
    build_inputs.record_inputs(config, dirs, found)
    monkeypatch.setattr(build_inputs, "discard_built_wheel", lambda *_: None)
    assert discard_stale_wheels(config, dirs, lambda _: None, found) == []  # control
    patch.write_text("B\n")
    assert discard_stale_wheels(config, dirs, lambda _: None, found) == [wheel]
    build_inputs.record_inputs(config, dirs, found)  # after Fromager rebuilt it
    patch.write_text("A\n")
    assert discard_stale_wheels(config, dirs, lambda _: None, found) == [wheel]


def test_a_wheel_built_without_an_sbom_of_its_own_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wheel an earlier srcstacks built (before per-wheel SBOMs) is rebuilt, said as such,
    rather than refused later by publish."""
    config = stack(tmp_path)
    dirs = wheels.fromager_dirs(config)
    dirs.built_wheels.mkdir(parents=True)
    older, current = "idna-3.11-0-py3-none-any.whl", "six-1.17.0-0-py3-none-any.whl"
    (tmp_path / "older").mkdir()
    make_wheel(tmp_path / "older" / older)
    with (
        zipfile.ZipFile(tmp_path / "older" / older) as source,
        zipfile.ZipFile(dirs.built_wheels / older, "w") as target,
    ):
        for item in source.infolist():
            if "/sboms/" not in item.filename:
                target.writestr(item, source.read(item))
    make_wheel(dirs.built_wheels / current)
    found = read_settings(config.settings_dir)
    build_inputs.record_inputs(config, dirs, found)
    discarded: list[str] = []
    monkeypatch.setattr(
        build_inputs, "discard_built_wheel", lambda _dirs, name, _version: discarded.append(name)
    )
    lines: list[str] = []
    assert discard_stale_wheels(config, dirs, lines.append, found) == [older]
    assert discarded == [older]
    assert lines == ["  idna 3.11: built without an SBOM of its own; rebuilding it"]


def test_an_index_wheel_whose_record_has_no_build_environment_is_not_used(tmp_path: Path) -> None:
    """A wheel an earlier srcstacks put on the index (no build environment recorded) is
    built again, not fetched."""
    config = stack(tmp_path)
    record = publish(tmp_path / "wheels", "idna-3.11-0-py3-none-any.whl")
    found = read_settings(config.settings_dir)
    inputs = build_inputs.current_inputs(config, "idna", "3.11", found)
    older = {"wheel": replace(record, build_environment=None).to_dict(), "inputs": inputs}
    assert mismatch(config, found, record.filename, record.sha256, older) == (
        "it was built by an earlier srcstacks (no build environment recorded)"
    )
    current = {"wheel": record.to_dict(), "inputs": inputs}
    assert record.build_environment is not None
    assert "earlier srcstacks" not in mismatch(
        config, found, record.filename, record.sha256, current
    )


def test_an_index_wheel_built_against_other_system_packages_is_not_used(tmp_path: Path) -> None:
    """A wheel whose build host had another libc6 than this one is built again here."""
    config = stack(tmp_path)
    record = publish(tmp_path / "wheels", "idna-3.11-0-py3-none-any.whl")
    found = read_settings(config.settings_dir)
    inputs = build_inputs.current_inputs(config, "idna", "3.11", found)
    libc = installed_package("libc6")
    assert record.build_environment is not None
    reasons = {}
    for label, package in (("other", replace(libc, version="2.19-0")), ("same", libc)):
        environment = replace(record.build_environment, system_packages=(package,))
        entry = {"wheel": replace(record, build_environment=environment).to_dict(),
                 "inputs": inputs}  # fmt: skip
        reasons[label] = mismatch(config, found, record.filename, record.sha256, entry)
    assert reasons["other"] == (
        f"it was built with system package(s) libc6 2.19-0 (now {libc.version}) on its build host"
    )
    assert "system package" not in reasons["same"]


def test_a_rust_extension_compiled_by_another_rustc_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toolchain = find_rust_toolchain()
    assert toolchain is not None, "this project's machines have cargo and rustc"
    config = stack(tmp_path)
    dirs = wheels.fromager_dirs(config)
    dirs.built_wheels.mkdir(parents=True)
    old, same = (
        "oldrs-1.0-0-cp311-cp311-linux_x86_64.whl",
        "samers-1.0-0-cp311-cp311-linux_x86_64.whl",
    )
    for filename, rustc in ((old, "1.70.0 (90c541806 2023-05-31)"), (same, toolchain.rustc)):
        name = filename.split("-")[0]
        environment = BuildEnvironment(rustc=rustc, cargo=rustc, rust_target=toolchain.target)
        make_wheel(dirs.built_wheels / filename, sbom=wheel_sbom(name, "1.0", environment))
    found = read_settings(config.settings_dir)
    build_inputs.record_inputs(config, dirs, found)
    monkeypatch.setattr(build_inputs, "discard_built_wheel", lambda *_: None)
    lines: list[str] = []
    # Only the one compiled by another rustc; the one compiled by today's is kept.
    assert discard_stale_wheels(config, dirs, lines.append, found) == [old]
    assert lines == [
        f"  oldrs 1.0: compiled by rustc 1.70.0 (90c541806 2023-05-31), now rustc"
        f" {toolchain.rustc}; rebuilding it"
    ]


def test_a_wheel_built_against_another_version_of_a_system_package_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Asked of this machine's package database: libc6 is installed on every Debian host.
    libc = installed_package("libc6")
    config = stack(tmp_path)
    dirs = wheels.fromager_dirs(config)
    dirs.built_wheels.mkdir(parents=True)
    old, same = (
        "oldc-1.0-0-cp311-cp311-linux_x86_64.whl",
        "samec-1.0-0-cp311-cp311-linux_x86_64.whl",
    )
    for filename, package in ((old, replace(libc, version="2.19-0")), (same, libc)):
        name = filename.split("-")[0]
        environment = BuildEnvironment(system_packages=(package,))
        make_wheel(dirs.built_wheels / filename, sbom=wheel_sbom(name, "1.0", environment))
    found = read_settings(config.settings_dir)
    build_inputs.record_inputs(config, dirs, found)
    monkeypatch.setattr(build_inputs, "discard_built_wheel", lambda *_: None)
    lines: list[str] = []
    # Only the one built against another libc6; the one built against today's is kept.
    assert discard_stale_wheels(config, dirs, lines.append, found) == [old]
    assert lines == [
        f"  oldc 1.0: built with system package(s) libc6 2.19-0 (now {libc.version}); rebuilding it"
    ]


def installed_package(name: str) -> SystemPackage:
    """``name`` as this machine's dpkg has it installed, as a build would record it."""
    text = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version} ${Architecture}", name],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    version, architecture = text.split()
    return SystemPackage(name, version, architecture, "deb", ("runtime",))


def test_a_cached_wheel_whose_bytes_changed_after_its_build_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = stack(tmp_path)
    dirs = wheels.fromager_dirs(config)
    dirs.built_wheels.mkdir(parents=True)
    poisoned, genuine = "idna-3.11-0-py3-none-any.whl", "tomli-2.0-0-py3-none-any.whl"
    for filename in (poisoned, genuine):
        name, version = filename.split("-")[:2]
        make_wheel(dirs.built_wheels / filename, sbom=wheel_sbom(name, version))
    found = read_settings(config.settings_dir)
    build_inputs.record_inputs(config, dirs, found)
    # Edited in Fromager's repo after the build (its RECORD would be fixed up too).
    with zipfile.ZipFile(dirs.built_wheels / poisoned, "a") as wheel:
        wheel.writestr("idna/injected.py", "print('not built from source')\n")
    removed: list[str] = []
    monkeypatch.setattr(
        build_inputs, "discard_built_wheel", lambda _, name, __: removed.append(name)
    )
    lines: list[str] = []
    assert discard_stale_wheels(config, dirs, lines.append, found) == [poisoned]
    assert removed == [poisoned]
    assert len(lines) == 1 and lines[0].startswith("  idna 3.11: its bytes are not those built")
    assert lines[0].endswith(": the wheels repo was edited); rebuilding it")


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 9)}]\n" for n in range(12)
)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (BOMB.encode(), "108 YAML aliases; build settings may use at most 100"),
        ("env:\n  CFLAGS: caf\xe9\n".encode("latin-1"), "not UTF-8 text (byte 18)"),
        (b"env: {}\n" + b"#" * 1_000_001, "1000009 bytes; build settings are at most"),
    ],
)
def test_a_hostile_or_unreadable_settings_file_is_one_line_at_once(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    folder = tmp_path / "build-settings"
    folder.mkdir()
    (folder / "idna.yaml").write_bytes(content)
    with pytest.raises(ConfigError) as raised:
        read_settings(folder)
    assert str(raised.value).startswith(f"{folder / 'idna.yaml'}: {problem}")
