"""What srcstacks reads inside Fromager about one build: its tools, their wheels, its flags."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from srcstacks.build.executors.loopback_index import serving
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.tools.build_probe import (
    ProbeError,
    WheelServer,
    build_flags,
    build_tools,
    machine_paths,
)
from tests.test_provenance import make_wheel

FLIT = "flit_core-3.12.0-0-py3-none-any.whl"
PACKAGING = "packaging-26.0-0-py3-none-any.whl"
STRAY = "stray-1.0-0-py3-none-any.whl"


def _wheel(folder: Path, name: str, requires: str = "") -> Path:
    project, version = name.split("-")[:2]
    dist_info = f"{project}-{version}.dist-info"
    metadata = f"Name: {project}\nVersion: {version}\n{requires}".encode()
    return make_wheel(folder / name, extra={f"{dist_info}/METADATA": metadata})


def _install(wheel: Path, build_env: Path) -> None:
    """What uv leaves in the build environment: the wheel's files (only the dist-info here)."""
    site = build_env / "lib" / "python3.11" / "site-packages"
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            if ".dist-info/" in member:
                archive.extract(member, site)


@pytest.fixture
def built(tmp_path: Path) -> tuple[FromagerDirs, Path, Path]:
    """A wheels repo with three wheels, a build env with all three installed, and a
    build folder whose build-system requirement is flit_core (which needs packaging)."""
    dirs = FromagerDirs(tmp_path / "fromager")
    dirs.built_wheels.mkdir(parents=True)
    build_env = tmp_path / "build" / "build-3.11.7"
    _wheel(dirs.built_wheels, FLIT, "Requires-Dist: packaging>=24\n"
           "Requires-Dist: tomli; python_version < '3.11'\n")  # fmt: skip
    _wheel(dirs.built_wheels, PACKAGING)
    _wheel(dirs.built_wheels, STRAY)
    for wheel in dirs.built_wheels.iterdir():
        _install(wheel, build_env)
    (tmp_path / "build" / "build-system-requirements.txt").write_text("flit_core<4,>=3.11\n")
    return dirs, build_env, tmp_path / "build"


def test_each_tool_is_the_wheel_the_server_holds_with_the_step_that_installed_it(
    built: tuple[FromagerDirs, Path, Path],
) -> None:
    dirs, build_env, build_dir = built
    with serving(dirs) as url:
        tools = build_tools(build_env, build_dir, WheelServer(url))
    found = {tool.filename: (tool.name, tool.version, tool.requirement_type) for tool in tools}
    assert found == {
        FLIT: ("flit-core", "3.12.0", "build-system"),
        # A dependency of a build-system requirement was installed by that step.
        PACKAGING: ("packaging", "26.0", "build-system"),
        # Installed, though no requirement asks for it: recorded, and said so.
        STRAY: ("stray", "1.0", "unrequested"),
    }
    for tool in tools:
        data = (dirs.built_wheels / tool.filename).read_bytes()
        assert tool.sha256 == hashlib.sha256(data).hexdigest()


def test_a_server_wheel_other_than_the_installed_one_stops_the_build(
    built: tuple[FromagerDirs, Path, Path],
) -> None:
    dirs, build_env, build_dir = built
    # Same name, version and build tag, other bytes: not what was installed.
    _wheel(dirs.built_wheels, PACKAGING, "Summary: another build\n")
    with serving(dirs) as url, pytest.raises(ProbeError) as caught:
        build_tools(build_env, build_dir, WheelServer(url))
    assert str(caught.value) == (
        f"{PACKAGING} on the wheel server is not what the build environment installed"
        " (packaging-26.0.dist-info/METADATA differs)"
    )


def test_a_tool_the_server_does_not_hold_stops_the_build(
    built: tuple[FromagerDirs, Path, Path],
) -> None:
    dirs, build_env, build_dir = built
    (dirs.built_wheels / STRAY).unlink()
    gone = r"cannot read http://127\.0\.0\.1:\d+/simple/stray/: HTTP 404"
    with serving(dirs) as url, pytest.raises(ProbeError, match=gone):
        build_tools(build_env, build_dir, WheelServer(url))


def test_flags_keep_the_settings_and_lose_this_machines_paths(tmp_path: Path) -> None:
    work = tmp_path / "work"
    paths = machine_paths(work, [(work / "pkg-1.0" / "build-3.11.7", "<build-env>")])
    given = {
        "CFLAGS": f"-O2 -I{work}/pkg-1.0/include",
        "MAKEFLAGS": "-j2",  # Fromager's, from this machine's CPU count
        "MAX_JOBS": "2",
        "PATH": f"{work}/pkg-1.0/build-3.11.7/bin:/usr/bin",
        "VIRTUAL_ENV": f"{work}/pkg-1.0/build-3.11.7",
        "UV_CACHE_DIR": f"{work}/uv-cache",
        "OPENBLAS": f"{work}/pkg-1.0/build-3.11.7/lib",
    }
    process = {"CPPFLAGS": f"-ffile-prefix-map={work}=/build", "LDSHARED": "gcc -shared"}
    assert build_flags(given, process, paths) == {
        "CFLAGS": "-O2 -I<work-dir>/pkg-1.0/include",
        "CPPFLAGS": "-ffile-prefix-map=<work-dir>=/build",
        "LDSHARED": "gcc -shared",
        "OPENBLAS": "<build-env>/lib",
    }
    # A variable the settings set wins over srcstacks' own.
    assert build_flags({"CPPFLAGS": "-DX"}, process, paths)["CPPFLAGS"] == "-DX"


def test_a_build_with_a_home_of_its_own_still_names_the_users_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_home, build_home = tmp_path / "user", tmp_path / "work" / "fromager" / "home"
    monkeypatch.setenv("HOME", str(build_home))
    monkeypatch.setenv("SRCSTACKS_USER_HOME", str(user_home))
    paths = dict(machine_paths(tmp_path / "work" / "fromager" / "work-dir"))
    assert paths[str(user_home)] == "<home>"  # rustc under ~/.rustup stays <home>/...
    assert paths[str(build_home)] == "<build-home>"
    monkeypatch.delenv("SRCSTACKS_USER_HOME")  # outside a build: HOME is the user's
    assert dict(machine_paths(tmp_path / "w"))[str(build_home)] == "<home>"
