"""What the wheels stage asks Fromager for, and when it needs --skip-constraints."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from srcstacks.build.stage import _compatible, collect_requirements, find_conflicts
from srcstacks.spec.config import load_config

SPEC = """
[[runtimes]]
name = "rt"
python_implementation = "cpython@3.11.7"
requirements = ["six"]

[[applications]]
name = "one"
launch_module = "one.py"
runtime = "rt"
requirements = [{one}]

[[applications]]
name = "two"
launch_module = "two.py"
runtime = "rt"
requirements = [{two}]
"""


def config_for(tmp_path: Path, one: str, two: str):  # type: ignore[no-untyped-def]
    spec = tmp_path / "venvstacks.toml"
    spec.write_text(SPEC.format(one=one, two=two))
    return load_config(spec)


def test_requirements_of_every_layer_deduplicated_in_order(tmp_path: Path) -> None:
    config = config_for(tmp_path, '"idna==3.10", "six"', '"idna==3.10"')
    assert collect_requirements(config) == ["six", "idna==3.10"]


def test_two_apps_pinning_different_versions_conflict(tmp_path: Path) -> None:
    config = config_for(tmp_path, '"idna==3.10"', '"idna==3.11"')
    (conflict,) = find_conflicts(config)
    assert conflict.project == "idna"
    assert "'app-one' wants 'idna==3.10'" in conflict.describe()
    assert "'app-two' wants 'idna==3.11'" in conflict.describe()
    assert not conflict.impossible  # sibling apps: two environments, two versions


def test_compatible_pins_do_not_conflict(tmp_path: Path) -> None:
    assert find_conflicts(config_for(tmp_path, '"idna>=3"', '"idna==3.11"')) == []


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("==1.0", "==1.0", True),
        ("==1.0", "==2.0", False),
        (">=2", "<2", False),
        (">1", "<3", True),
        (">2.9", "<3", True),
        ("~=1.4", ">=2", False),
        ("~=1.4", "<1.5", True),
        ("==1.*", ">=1.9", True),
        ("==1.*", ">=2", False),
        ("", "==5", True),
        ("!=1.0", "==1.0", False),
    ],
)
def test_specifier_compatibility(first: str, second: str, expected: bool) -> None:
    assert _compatible(SpecifierSet(first), SpecifierSet(second)) is expected


def test_conflict_within_one_stack_is_impossible(tmp_path: Path) -> None:
    # An app pinning a six its runtime's six>=1 rules out cannot work.
    spec = tmp_path / "venvstacks.toml"
    spec.write_text(SPEC.replace('["six"]', '["six>=1"]').format(one='"six<1"', two='"idna"'))
    (conflict,) = find_conflicts(load_config(spec))
    assert conflict.project == "six"
    assert conflict.impossible
