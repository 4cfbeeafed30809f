"""``srcstacks missing`` against PyPI, and the lock stage's every-platform check.

``missing`` builds nothing: it resolves the tiny stack ``tests/stacks/missing_wheels``
with uv and reads PyPI's simple API (a few seconds). docopt 0.6.2 is published as an
sdist only; pyobjc-core 10.3.1 has macOS wheels only; idna 3.11 a pure-Python wheel.
The lock test reuses a copy of the shared demo build (venvstacks locks it again).
"""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest
import tomlkit

from tests.conftest import REPO_ROOT, BuiltStack, copy_built_stack, run_cli

pytestmark = pytest.mark.e2e

STACK = REPO_ROOT / "tests" / "stacks" / "missing_wheels"
FOUR = ("linux_aarch64", "linux_x86_64", "macosx_arm64", "win_amd64")
NOT_MACOS = ("linux_aarch64", "win_amd64")  # what app-objc targets, but macosx_arm64


def test_missing_lists_the_sdist_only_project_on_every_platform() -> None:
    result = run_cli("missing", STACK)
    rows = [line.split(None, 2) for line in result.stdout.splitlines()[1:-1]]
    table = {(row[0], row[1]): row[2] for row in rows}
    for target in FOUR:
        assert table[("framework-cli", target)] == "docopt==0.6.2 (sdist only)"
        assert table[("cpython-3.11", target)] == "-"
    # pyobjc-core: wheels for macOS only; the app targets three platforms, not linux_x86_64.
    for target in NOT_MACOS:
        assert table[("app-objc", target)] == (
            "pyobjc-core==10.3.1 (wheels only for macosx_arm64, macosx_x86_64)"
        )
    assert table[("app-objc", "macosx_arm64")] == "-"
    assert ("app-objc", "linux_x86_64") not in table
    assert "idna" not in result.stdout  # a pure-Python wheel serves every platform
    assert result.stdout.splitlines()[-1].startswith(
        "2 project(s) without a binary wheel in 6 of 11 layer/platform pair(s)"
    )


def test_missing_json_is_sorted_and_complete() -> None:
    first = run_cli("missing", STACK, "--json")
    document = json.loads(first.stdout)
    assert document["index"] == "https://pypi.org/simple/"
    assert document["layers"] == {
        "cpython-3.11": list(FOUR),
        "framework-cli": list(FOUR),
        "app-objc": ["linux_aarch64", "macosx_arm64", "win_amd64"],
    }
    found = [(m["layer"], m["platform"], m["project"], m["version"]) for m in document["missing"]]
    assert found == sorted(
        [("framework-cli", target, "docopt", "0.6.2") for target in FOUR]
        + [("app-objc", target, "pyobjc-core", "10.3.1") for target in NOT_MACOS]
    )
    # Every pin, wheel or not: idna is framework-cli's everywhere, with a wheel.
    assert document["resolved"]["framework-cli"]["win_amd64"] == ["docopt==0.6.2", "idna==3.11"]
    assert document["resolved"]["cpython-3.11"] == {target: [] for target in FOUR}
    # --platform narrows the run; the output of one platform is stable.
    one = run_cli("missing", STACK, "--json", "--platform", "win_amd64")
    again = run_cli("missing", STACK, "--json", "--platform", "win_amd64")
    assert one.stdout == again.stdout
    assert {m["platform"] for m in json.loads(one.stdout)["missing"]} == {"win_amd64"}


def test_an_unknown_platform_names_the_accepted_ones() -> None:
    result = run_cli("missing", STACK, "--platform", "linux_riscv64", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "srcstacks: error: --platform: unknown platform 'linux_riscv64' (accepted:"
        " linux_aarch64, linux_x86_64, macosx_arm64, macosx_x86_64, win_amd64, win_arm64)"
    )


def test_a_layer_that_does_not_resolve_is_one_line(tmp_path: Path) -> None:
    stack = tmp_path / "stack"
    shutil.copytree(STACK, stack)
    spec = stack / "venvstacks.toml"
    spec.write_text(spec.read_text().replace('"docopt==0.6.2"', '"docopt==99.0"'))
    result = run_cli("missing", spec, "--platform", "win_amd64", check=False)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1
    line = errors[0]
    assert line.startswith(
        f"srcstacks: error: {spec}: framework layer 'cli' does not resolve for win_amd64"
        " (CPython 3.11): "
    )
    assert "docopt==99.0" in line and "Traceback" not in result.stderr


def test_lock_says_which_layers_are_left_to_other_build_hosts(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    # The demo targets linux_x86_64 only: nothing is left to anyone (the check runs: --force).
    control = run_cli("lock", spec, "--force")
    assert "left to other build hosts" not in control.stderr
    document = tomlkit.parse(spec.read_text(encoding="utf-8"))
    document["runtimes"][0]["platforms"] = ["linux_x86_64", "win_amd64"]
    spec.write_text(tomlkit.dumps(document), encoding="utf-8")
    result = run_cli("lock", spec)
    left = [line for line in result.stderr.splitlines() if "left to other build hosts" in line]
    # markupsafe, a C extension built here, comes in framework-web; jinja2 and idna are
    # pure Python, so app-greeter (on framework-web) and app-punycode are not named.
    assert left == [
        "lock: framework-web is left to other build hosts for win_amd64: this machine"
        " (linux_x86_64) has no wheel for them of markupsafe==3.0.4 (wheels only for"
        " linux_x86_64); its lock lists none, so build it there (and every layer on it)"
        " from its own wheels"
    ]


def test_a_dependency_only_another_platform_needs_stops_the_lock_with_a_table(
    built_stack: BuiltStack, tmp_path: Path
) -> None:
    """click 8.1.7 needs colorama on Windows only. The demo targets linux_x86_64 alone, so
    its layers are locked for that platform and need no colorama; once the runtime also
    targets win_amd64, nothing here builds colorama, and venvstacks' lock would fail with
    a bare "Failed to lock layer": srcstacks stops first, with a table."""
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    document = tomlkit.parse(spec.read_text(encoding="utf-8"))
    app = next(a for a in document["applications"] if a["name"] == "punycode")
    app["requirements"].append("click==8.1.7")
    spec.write_text(tomlkit.dumps(document), encoding="utf-8")
    run_cli("build", spec)  # no [tool.uv] in the spec: the platforms say it all
    lock = spec.parent / "requirements" / "app-punycode" / "pylock.app-punycode.toml"
    packages = {item["name"] for item in tomllib.loads(lock.read_text())["packages"]}
    assert "click" in packages and "colorama" not in packages

    document["runtimes"][0]["platforms"] = ["linux_x86_64", "win_amd64"]
    spec.write_text(tomlkit.dumps(document), encoding="utf-8")
    result = run_cli("build", spec, check=False)
    assert result.returncode == 1
    assert "  app-punycode  win_amd64  colorama (no wheel in the wheel dir)" in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"srcstacks: error: {spec}: cannot lock, wheels are missing")
    assert "app-punycode on win_amd64: colorama" in last
    assert "app-punycode on linux_x86_64" not in last  # click's marker is false there
    assert "Failed to lock layer" not in result.stderr  # venvstacks never ran
