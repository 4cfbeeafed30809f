"""Requires-Dist markers evaluated for the layer's own Python and platform."""

from __future__ import annotations

import pytest

from srcstacks.errors import SbomError
from srcstacks.sbom.markers import marker_environment, resolve

LINUX_311 = marker_environment("cpython@3.11.7", "linux_x86_64")


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        ("linux_x86_64", ("linux", "Linux", "x86_64", "posix")),
        ("linux_aarch64", ("linux", "Linux", "aarch64", "posix")),
        ("macosx_11_0_arm64", ("darwin", "Darwin", "arm64", "posix")),
        ("macosx_10_9_x86_64", ("darwin", "Darwin", "x86_64", "posix")),
        ("win_amd64", ("win32", "Windows", "AMD64", "nt")),
    ],
)
def test_marker_environment_of_a_platform_tag(
    platform: str, expected: tuple[str, str, str, str]
) -> None:
    env = marker_environment("cpython@3.12.1", platform)
    assert (
        env["sys_platform"],
        env["platform_system"],
        env["platform_machine"],
        env["os_name"],
    ) == (expected)
    assert (env["python_version"], env["python_full_version"]) == ("3.12", "3.12.1")
    assert env["platform_python_implementation"] == "CPython"


@pytest.mark.parametrize("bad", [("cpython@3", "linux_x86_64"), ("cpython@3.11.7", "beos_x")])
def test_marker_environment_refuses_what_it_cannot_know(bad: tuple[str, str]) -> None:
    with pytest.raises(SbomError):
        marker_environment(*bad)


def test_markers_are_evaluated_for_the_layer_not_this_machine() -> None:
    edges, _, _ = resolve(
        {
            "app": [
                "colorama; sys_platform == 'win32'",
                "tomli; python_version < '3.11'",
                "exceptiongroup; python_full_version < '3.11.8'",
                "uvloop; platform_machine == 'x86_64' and os_name == 'posix'",
            ]
        },
        [],
        LINUX_311,
    )
    assert [dep.name for dep in edges["app"]] == ["exceptiongroup", "uvloop"]
    windows = marker_environment("cpython@3.10.0", "win_amd64")
    edges, _, _ = resolve(
        {"app": ["colorama; sys_platform == 'win32'", "tomli; python_version < '3.11'"]},
        [],
        windows,
    )
    assert [dep.name for dep in edges["app"]] == ["colorama", "tomli"]


def test_extras_asked_for_switch_on_their_requirements() -> None:
    requires = {
        "jinja2": ["MarkupSafe>=2.0", 'Babel>=2.7; extra == "i18n"'],
        "babel": ['pytz; extra == "tz"'],
        "markupsafe": [],
        "app": ["jinja2[i18n]", "babel[tz]"],
        "pytz": [],
    }
    edges, extras, roots = resolve(requires, ["App"], LINUX_311)
    assert [dep.name for dep in edges["jinja2"]] == ["babel", "markupsafe"]
    assert [dep.name for dep in edges["babel"]] == ["pytz"]
    assert extras["jinja2"] == {"i18n"} and extras["babel"] == {"tz"}
    assert [dep.name for dep in roots] == ["app"]


def test_extras_not_asked_for_stay_off() -> None:
    edges, extras, _ = resolve(
        {"jinja2": ['Babel>=2.7; extra == "i18n"'], "idna": ['ruff; extra == "all"']},
        ["jinja2"],
        LINUX_311,
    )
    assert edges == {"jinja2": (), "idna": ()}
    assert extras == {"jinja2": frozenset(), "idna": frozenset()}


def test_a_project_asking_for_its_own_extras_is_no_edge() -> None:
    edges, extras, _ = resolve(
        {"x": ['x[fast]; extra == "all"', 'cython; extra == "fast"']}, ["x[all]"], LINUX_311
    )
    assert [dep.name for dep in edges["x"]] == ["cython"]
    assert extras["x"] == {"all", "fast"}


def test_invalid_requirement_is_named() -> None:
    with pytest.raises(SbomError, match="pkg: invalid requirement 'nope nope'"):
        resolve({"pkg": ["nope nope"]}, [], LINUX_311)
