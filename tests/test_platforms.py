"""Target platforms: which wheel fits which platform, and each layer's declared platforms."""

from __future__ import annotations

from pathlib import Path

import pytest

from srcstacks.build.missing import discover
from srcstacks.errors import ConfigError
from srcstacks.spec.config import load_config
from srcstacks.spec.platforms import (
    TARGET_PLATFORMS,
    UV_PLATFORMS,
    best_wheel,
    build_platform,
    declared_platforms,
    platform_tags,
    wheel_fits,
)


def fits(filename: str, python: str = "3.11") -> list[str]:
    return [
        target for target in TARGET_PLATFORMS if wheel_fits(filename, platform_tags(target, python))
    ]


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("idna-3.11-py3-none-any.whl", list(TARGET_PLATFORMS)),
        ("six-1.17.0-py2.py3-none-any.whl", list(TARGET_PLATFORMS)),
        ("m-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", ["linux_x86_64"]),
        ("m-1-cp311-cp311-manylinux2014_aarch64.whl", ["linux_aarch64"]),
        # Fromager's own wheels: the plain linux tag.
        ("markupsafe-3.0.4-0-cp311-cp311-linux_x86_64.whl", ["linux_x86_64"]),
        ("b-1-cp36-abi3-macosx_10_10_universal2.whl", ["macosx_arm64", "macosx_x86_64"]),
        ("b-1-cp39-abi3-macosx_11_0_arm64.whl", ["macosx_arm64"]),
        ("b-1-cp311-cp311-macosx_10_9_x86_64.whl", ["macosx_x86_64"]),
        ("w-1-cp311-cp311-win_amd64.whl", ["win_amd64"]),
        ("w-1-cp311-cp311-win_arm64.whl", ["win_arm64"]),
        ("p-1-py3-none-win_amd64.whl", ["win_amd64"]),
        ("p-1-cp311-none-any.whl", list(TARGET_PLATFORMS)),
    ],
)
def test_a_wheel_fits_the_platforms_its_tags_name(filename: str, expected: list[str]) -> None:
    assert fits(filename) == expected


@pytest.mark.parametrize(
    "filename",
    [
        "m-1-cp312-cp312-manylinux2014_x86_64.whl",  # another CPython
        "m-1-cp311-cp311-musllinux_1_2_x86_64.whl",  # musl: venvstacks targets glibc
        "m-1-cp311-cp311-manylinux_2_34_x86_64.whl",  # newer glibc than uv's default
        "m-1-cp311-cp311-macosx_14_0_arm64.whl",  # newer macOS than uv's default
        "m-1-cp311-cp311-win32.whl",  # 32-bit Windows
        "m-1-pp310-pypy310_pp73-manylinux2014_x86_64.whl",  # PyPy
        "m-1-cp312-abi3-manylinux2014_x86_64.whl",  # abi3 from a newer CPython
        "m-1.tar.gz",  # not a wheel
    ],
)
def test_a_wheel_for_no_target_fits_none(filename: str) -> None:
    assert fits(filename) == []


def test_abi3_of_an_older_cpython_fits_but_not_the_other_way() -> None:
    assert fits("m-1-cp38-abi3-manylinux2014_x86_64.whl") == ["linux_x86_64"]
    assert fits("m-1-cp38-abi3-manylinux2014_x86_64.whl", python="3.7") == []


@pytest.mark.filterwarnings("ignore::FutureWarning")  # venvstacks' API stability note
def test_names_and_uv_names_are_venvstacks_own() -> None:
    from venvstacks.stacks import TargetPlatform, get_build_platform

    assert build_platform() == str(get_build_platform())
    venvstacks_platforms = TargetPlatform.get_all_target_platforms()
    assert tuple(str(target) for target in venvstacks_platforms) == TARGET_PLATFORMS
    assert {
        str(target): target._as_uv_python_platform(None) for target in venvstacks_platforms
    } == UV_PLATFORMS


SPEC = """
[[runtimes]]
name = "rt"
python_implementation = "cpython@3.11.7"
requirements = []
{runtime_platforms}

[[frameworks]]
name = "fw"
runtime = "rt"
requirements = []
{framework_platforms}

[[applications]]
name = "app"
launch_module = "app.py"
frameworks = ["fw"]
requirements = []
{app_platforms}
"""


def spec(tmp_path: Path, runtime: str = "", framework: str = "", app: str = "") -> Path:
    path = tmp_path / "venvstacks.toml"
    path.write_text(
        SPEC.format(runtime_platforms=runtime, framework_platforms=framework, app_platforms=app)
    )
    (tmp_path / "app.py").write_text("")
    return path


def test_no_platforms_anywhere_means_all_six(tmp_path: Path) -> None:
    declared = declared_platforms(load_config(spec(tmp_path)))
    assert declared.by_layer == {
        "rt": TARGET_PLATFORMS,
        "framework-fw": TARGET_PLATFORMS,
        "app-app": TARGET_PLATFORMS,
    }


def test_upper_layers_inherit_and_may_narrow(tmp_path: Path) -> None:
    path = spec(
        tmp_path,
        runtime='platforms = ["win_amd64", "linux_x86_64", "macosx_arm64"]',
        app='platforms = ["macosx_arm64"]',
    )
    declared = declared_platforms(load_config(path))
    assert declared.by_layer == {
        "rt": ("linux_x86_64", "macosx_arm64", "win_amd64"),
        "framework-fw": ("linux_x86_64", "macosx_arm64", "win_amd64"),
        "app-app": ("macosx_arm64",),
    }


def test_spec_errors_about_platforms_come_from_the_spec_reader(tmp_path: Path) -> None:
    """One reader of ``platforms`` (spec_layers); its messages name the layer."""
    with pytest.raises(ConfigError, match=r"framework layer 'fw'.*'linux_riscv64'"):
        load_config(spec(tmp_path, framework='platforms = ["linux_riscv64"]'))
    with pytest.raises(ConfigError, match=r"application layer 'app'.*win_amd64.*linux_x86_64"):
        load_config(
            spec(tmp_path, runtime='platforms = ["linux_x86_64"]', app='platforms = ["win_amd64"]')
        )


MARKUPSAFE = [
    "markupsafe-3.0.3-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
    "markupsafe-3.0.3-cp311-cp311-musllinux_1_2_x86_64.whl",
    "markupsafe-3.0.3-cp311-cp311-macosx_11_0_arm64.whl",
    "markupsafe-3.0.3-cp311-cp311-win_amd64.whl",
    "markupsafe-3.0.3-cp312-cp312-win_amd64.whl",
    "markupsafe-3.0.3-py3-none-any.whl",
]


@pytest.mark.parametrize(
    ("target", "python", "expected"),
    [
        ("linux_x86_64", "3.11", MARKUPSAFE[0]),
        ("macosx_arm64", "3.11", MARKUPSAFE[2]),
        ("win_amd64", "3.11", MARKUPSAFE[3]),
        ("win_amd64", "3.12", MARKUPSAFE[4]),
        # No compiled wheel for the platform: the pure one, as an installer would choose.
        ("linux_aarch64", "3.11", MARKUPSAFE[5]),
    ],
)
def test_the_best_wheel_is_the_one_an_installer_prefers(
    target: str, python: str, expected: str
) -> None:
    assert best_wheel(MARKUPSAFE, target, python) == expected


def test_no_best_wheel_when_none_fits() -> None:
    assert best_wheel(MARKUPSAFE[:4], "linux_aarch64", "3.11") is None
    assert best_wheel(["not-a-wheel.tar.gz"], "linux_x86_64", "3.11") is None


def test_asking_for_a_platform_no_layer_targets_names_those_the_stack_targets(
    tmp_path: Path,
) -> None:
    config = load_config(spec(tmp_path, runtime='platforms = ["linux_x86_64", "macosx_arm64"]'))
    with pytest.raises(ConfigError) as raised:
        discover(config, only=["win_amd64"])  # before any resolution: nothing runs
    assert str(raised.value) == (
        "--platform win_amd64: no layer of this stack targets it (its layers target:"
        " linux_x86_64, macosx_arm64)"
    )
    declared = declared_platforms(config)
    assert declared.targeted("--platform", ["macosx_arm64"]).of(config.layers[0]) == (
        "macosx_arm64",
    )
    with pytest.raises(ConfigError, match="unknown platform 'linux_riscv64'"):
        declared.targeted("--platform", ["linux_riscv64"])
