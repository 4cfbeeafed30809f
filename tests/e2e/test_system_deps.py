"""End-to-end: ``srcstacks system-deps`` on the shared demo build."""

from __future__ import annotations

import json

import pytest

from tests.conftest import BuiltStack, run_cli

pytestmark = pytest.mark.e2e


def test_system_deps_names_the_packages_each_layer_loads_from_the_host(
    built_stack: BuiltStack,
) -> None:
    text = run_cli("system-deps", built_stack.spec).stdout
    lines = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    # The runtime's interpreter and modules load libc, libssl, zlib...; markupsafe's
    # extension loads libc; the apps carry no compiled file.
    assert {"libc6", "libssl3", "zlib1g"} <= set(lines["cpython-3.11"].split(" (")[0].split())
    assert lines["framework-web"] == "libc6 (1 system library)"
    assert lines["app-greeter"] == "nothing (0 system libraries)"
    install = lines["a deploy host needs"]
    assert install.startswith("apt-get install ") and "libc6" in install.split()
    # libpython is in the runtime archive: no host provides it, none is asked to.
    # Building markupsafe's extension again takes gcc, the C library's development files
    # and GNU patch (the demo patches it).
    build = lines["a build host needs"]
    assert {"gcc", "libc6-dev", "patch"} <= set(build.removeprefix("apt-get install ").split())
    report = json.loads(run_cli("system-deps", built_stack.spec, "--json").stdout)
    assert report["build_host"]["commands"] == ["gcc", "patch"]
    assert report["build_host"]["unprovided"] == []
    data = {item["layer"]: item for item in report["deploy_host"]}
    runtime = data["cpython-3.11"]
    assert "libc.so.6" in runtime["libraries"]
    assert not [name for name in runtime["libraries"] if name.startswith("libpython")]
    assert runtime["unprovided"] == []
