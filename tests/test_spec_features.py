"""venvstacks spec features on every stage's reader: ``versioned`` layers, ``platforms``
limits, requirements only other platforms need, and venvstacks' ``@N`` install targets."""

from __future__ import annotations

from pathlib import Path

import pytest

from srcstacks.build.stage import collect_requirements
from srcstacks.errors import ConfigError, OtherPlatformWheelError
from srcstacks.lock.elsewhere import (
    check_other_platform_wheels,
    ignored_upload_time_settings,
    lock_environments,
)
from srcstacks.spec.config import load_config
from srcstacks.spec.rules import TARGET_PLATFORMS
from srcstacks.state.provenance import Manifest, SdistRecord, WheelProvenance
from srcstacks.tools.venvstacks import _layer_metadata

SPEC = """
[[runtimes]]
name = "rt"
python_implementation = "cpython@3.11.7"
requirements = RUNTIME_REQUIREMENTS
RUNTIME_PLATFORMS

[[frameworks]]
name = "fw"
runtime = "rt"
versioned = true
requirements = ["idna"]

[[applications]]
name = "app"
launch_module = "app.py"
support_modules = ["helper.py"]
frameworks = ["fw"]
versioned = true
requirements = []

[[applications]]
name = "win"
launch_module = "win.py"
runtime = "rt"
APP_PLATFORMS
requirements = []
"""


def spec(
    tmp_path: Path,
    *,
    runtime_platforms: str = 'platforms = ["linux_x86_64", "win_amd64"]',
    app_platforms: str = 'platforms = ["win_amd64"]',
    runtime_requirements: str = "[]",
    extra: tuple[tuple[str, str], ...] = (),
) -> Path:
    text = (
        SPEC.replace("RUNTIME_PLATFORMS", runtime_platforms)
        .replace("APP_PLATFORMS", app_platforms)
        .replace("RUNTIME_REQUIREMENTS", runtime_requirements)
    )
    for old, new in extra:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "venvstacks.toml"
    path.write_text(text)
    return path


def test_versioned_is_read_per_layer(tmp_path: Path) -> None:
    config = load_config(spec(tmp_path))
    assert config.layer("fw").versioned and config.layer("app").versioned
    assert not config.layer("rt").versioned and not config.layer("win").versioned
    # The env name never carries the version: venvstacks adds "@N" to the install target.
    assert config.layer("fw").env_name == "framework-fw"


def test_versioned_must_be_a_boolean(tmp_path: Path) -> None:
    path = spec(tmp_path, extra=(("versioned = true\nrequirements = [\"idna\"]",
                                  "versioned = \"yes\"\nrequirements = [\"idna\"]"),))  # fmt: skip
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value) == (
        f"{path}: framework layer 'fw': 'versioned' must be true or false, not 'yes'"
    )


def test_platforms_are_inherited_and_limited(tmp_path: Path) -> None:
    config = load_config(spec(tmp_path))
    assert config.layer("rt").platforms == ("linux_x86_64", "win_amd64")
    assert config.layer("fw").platforms == ("linux_x86_64", "win_amd64")  # inherited
    assert config.layer("win").platforms == ("win_amd64",)
    assert [layer.name for layer in config.built_layers] == ["rt", "fw", "app"]
    assert [layer.name for layer in config.layers_elsewhere] == ["win"]
    assert config.layer("win").elsewhere_note == (
        "app-win: platforms win_amd64 only; left to a build host of that platform"
    )


def test_a_runtime_without_platforms_targets_every_venvstacks_platform(tmp_path: Path) -> None:
    config = load_config(spec(tmp_path, runtime_platforms="", app_platforms=""))
    assert config.layer("rt").platforms == TARGET_PLATFORMS
    assert config.layer("win").platforms == TARGET_PLATFORMS
    assert config.layers_elsewhere == ()  # negative control: nothing left out


def test_empty_platforms_builds_the_layer_nowhere(tmp_path: Path) -> None:
    config = load_config(spec(tmp_path, app_platforms="platforms = []"))
    assert config.layers_elsewhere == (config.layer("win"),)
    assert "'platforms' is empty" in config.layer("win").elsewhere_note


def test_unknown_platform_is_refused(tmp_path: Path) -> None:
    path = spec(tmp_path, app_platforms='platforms = ["win64"]')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert message.startswith(f"{path}: application layer 'win': 'platforms' names unknown")
    assert "'win64'" in message and "win_amd64" in message


def test_platform_the_layers_below_do_not_target_is_refused(tmp_path: Path) -> None:
    path = spec(tmp_path, app_platforms='platforms = ["macosx_arm64"]')
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value) == (
        f"{path}: application layer 'win': 'platforms' names 'macosx_arm64', which the"
        " layers below it are not built for (they are built for linux_x86_64, win_amd64)"
    )


def test_platforms_must_be_a_list_of_names(tmp_path: Path) -> None:
    path = spec(tmp_path, app_platforms='platforms = "win_amd64"')
    with pytest.raises(ConfigError, match="'platforms' must be a list of platform names"):
        load_config(path)


def test_requirement_only_other_platforms_need_is_not_built(tmp_path: Path) -> None:
    requirements = "[\"dlltracer; sys_platform == 'win32'\", \"six; sys_platform == 'linux'\"]"
    runtime = load_config(spec(tmp_path, runtime_requirements=requirements)).layer("rt")
    assert [str(req) for req in runtime.elsewhere] == ['dlltracer; sys_platform == "win32"']
    # Negative control: a marker true here is built.
    assert [str(req) for req in runtime.built_requirements] == ['six; sys_platform == "linux"']
    assert runtime.left_out == ()
    # What the wheels stage hands Fromager: the Windows-only requirement is not there.
    config = load_config(tmp_path / "venvstacks.toml")
    assert collect_requirements(config) == ['six; sys_platform == "linux"', "idna"]


def wheel_record(project: str) -> WheelProvenance:
    filename = f"{project}-1.0-0-py3-none-any.whl"
    sdist = SdistRecord(f"https://pypi.example/{project}-1.0.tar.gz", f"{project}-1.0.tar.gz", "0")
    return WheelProvenance(filename, project, "1.0", "0", "0" * 64, "cpu", sdist)


def test_lock_stops_with_the_cause_when_another_platform_wheel_is_missing(
    tmp_path: Path,
) -> None:
    requirements = "[\"dlltracer; sys_platform == 'win32'\"]"
    config = load_config(spec(tmp_path, runtime_requirements=requirements))
    manifest = Manifest({"idna-1.0-0-py3-none-any.whl": wheel_record("idna")})
    with pytest.raises(OtherPlatformWheelError) as error:
        check_other_platform_wheels(config, manifest)
    message = str(error.value)
    assert message.startswith(
        f"{config.spec_path}: runtime layer 'rt': requirement 'dlltracer; sys_platform =="
    )
    # The runtime targets linux_x86_64 and win_amd64: its lock is for those two only.
    assert "applies only on win_amd64, not on this machine's linux_x86_64" in message
    assert f"{config.wheel_dir} holds no wheel of dlltracer" in message
    # Negative control: with a wheel of it collected from a Windows host, locking goes on.
    manifest.wheels["dlltracer-1.0-0-py3-none-any.whl"] = wheel_record("dlltracer")
    check_other_platform_wheels(config, manifest)


def test_a_linux_only_stack_locks_without_what_only_windows_needs(tmp_path: Path) -> None:
    # click 8.1.7 asks for `colorama; platform_system == 'Windows'`: a layer that targets
    # Linux only is locked for Linux only, so no wheel of colorama is needed.
    requirements = "[\"colorama; platform_system == 'Windows'\"]"
    config = load_config(spec(tmp_path, runtime_requirements=requirements,
                              runtime_platforms='platforms = ["linux_x86_64"]',
                              app_platforms=""))  # fmt: skip
    runtime = config.layers[0]
    assert [str(m) for m in lock_environments(config)[runtime.env_name]] == [
        'sys_platform == "linux" and platform_machine == "x86_64"'
    ]
    check_other_platform_wheels(config, Manifest({}))
    # The spec's own [tool.uv] environments win over the layer's platforms.
    text = (
        config.spec_path.read_text() + "\n[tool.uv]\nenvironments = [\"sys_platform == 'win32'\"]\n"
    )
    config.spec_path.write_text(text)
    config = load_config(config.spec_path)
    assert [str(m) for m in lock_environments(config)[config.layers[0].env_name]] == [
        'sys_platform == "win32"'
    ]
    with pytest.raises(OtherPlatformWheelError):
        check_other_platform_wheels(config, Manifest({}))


def test_install_target_of_a_versioned_layer_keeps_its_layer_name() -> None:
    entry = {
        "install_target": "framework-fw@2",
        "layer_name": "framework-fw",
        "archive_name": "framework-fw@2.tar.xz",
        "runtime_layer": "rt",
    }
    meta = _layer_metadata(entry)
    assert (meta.install_target, meta.layer_name) == ("framework-fw@2", "framework-fw")
    # A manifest without layer_name (unversioned, older): the install target is the name.
    del entry["layer_name"]
    assert _layer_metadata(entry).layer_name == "framework-fw@2"


@pytest.mark.parametrize("where", ["spec", "venvstacks.uv.toml"])
def test_uv_environments_leaving_the_platform_out_need_no_wheel(tmp_path: Path, where: str) -> None:
    requirements = "[\"dlltracer; sys_platform == 'win32'\"]"
    path = spec(tmp_path, runtime_requirements=requirements)
    setting = "environments = [\"sys_platform == 'linux'\"]\n"
    if where == "spec":
        path.write_text(path.read_text() + "\n[tool.uv]\n" + setting)
    else:
        (tmp_path / "venvstacks.uv.toml").write_text(setting)
    config = load_config(path)
    check_other_platform_wheels(config, Manifest({}))
    # Negative control: environments that include Windows still need the wheel.
    text = path.read_text().replace("'linux'", "'win32'")
    path.write_text(text)
    (tmp_path / "venvstacks.uv.toml").write_text(setting.replace("'linux'", "'win32'"))
    with pytest.raises(OtherPlatformWheelError, match="applies only on win_amd64, win_arm64,"):
        check_other_platform_wheels(load_config(path), Manifest({}))


def test_invalid_uv_environments_are_named(tmp_path: Path) -> None:
    requirements = "[\"dlltracer; sys_platform == 'win32'\"]"
    path = spec(tmp_path, runtime_requirements=requirements)
    path.write_text(path.read_text() + '\n[tool.uv]\nenvironments = ["sys_platform =="]\n')
    with pytest.raises(ConfigError) as error:
        check_other_platform_wheels(load_config(path), Manifest({}))
    assert str(error.value).startswith(f"{path}: 'tool.uv.environments' holds an invalid marker:")


def test_upload_time_filters_are_named_where_venvstacks_reads_them(tmp_path: Path) -> None:
    path = spec(tmp_path)
    assert ignored_upload_time_settings(path) == []
    (tmp_path / "venvstacks.uv.toml").write_text('exclude-newer = "2025-08-27T00:00:00Z"\n')
    assert ignored_upload_time_settings(path) == [
        f"{tmp_path / 'venvstacks.uv.toml'}: 'exclude-newer'"
    ]
    # venvstacks reads venvstacks.uv.toml only when the spec has no [tool.uv].
    path.write_text(
        path.read_text() + '\n[tool.uv]\nexclude-newer-package = { idna = "2025-01-01" }\n'
    )
    assert ignored_upload_time_settings(path) == [f"{path}: 'tool.uv.exclude-newer-package'"]
