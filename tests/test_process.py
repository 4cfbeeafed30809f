"""The environment tools get, and tools dying with srcstacks (real processes, no build)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from srcstacks.errors import BusyError, ConfigError, ToolStartError
from srcstacks.tools import fromager, process
from srcstacks.tools.process import (
    RUN_MARKER,
    announce_environment,
    ignored_user_settings,
    last_error_line,
    run_captured,
    run_logged,
    run_marked,
    run_probe,
    tool_env,
)
from srcstacks.worklock import exclusive, leftover_processes


@pytest.fixture
def hostile_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "UV_FIND_LINKS": "/somewhere",
        "PIP_INDEX_URL": "https://user:secret@example.invalid/simple",
        "FROMAGER_VARIANT": "gpu",
        "CFLAGS": "-O0",
        "LDSHARED": "cc -shared",
        "PYTHONPATH": "/evil",
        "MY_INDEX_URL": "x",
        "HTTPS_PROXY": "http://proxy.invalid:3128",
        "LC_CTYPE": "C.UTF-8",
    }.items():
        monkeypatch.setenv(name, value)


def test_tool_env_is_built_from_the_allow_list(hostile_env: None) -> None:
    env = tool_env()
    for dropped in ("UV_FIND_LINKS", "PIP_INDEX_URL", "FROMAGER_VARIANT", "CFLAGS", "PYTHONPATH"):
        assert dropped not in env
    assert env["HTTPS_PROXY"] == "http://proxy.invalid:3128"
    assert env["LC_CTYPE"] == "C.UTF-8"
    assert env["HOME"] == os.environ["HOME"]
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)
    assert env["PIP_CONFIG_FILE"] == os.devnull
    assert env["UV_NO_CONFIG"] == "1"
    assert "UV_NO_CONFIG" not in tool_env(uv_project_config=True)
    assert env["XDG_CONFIG_HOME"] == env["XDG_CONFIG_DIRS"] == os.devnull  # outside a run
    assert RUN_MARKER not in env


def test_captured_commands_get_the_tool_env_and_report_failure_as_asked(
    hostile_env: None,
) -> None:
    """run_probe and run_captured (uv pip compile in ``missing``) start tools alike."""
    show = "import json, os, sys; print(json.dumps(sorted(os.environ))); sys.exit(int(sys.argv[1]))"
    seen = run_captured([sys.executable, "-c", show, "3"], timeout=30, check=False)
    assert seen.returncode == 3
    assert json.loads(seen.stdout) == sorted(tool_env())
    assert "UV_FIND_LINKS" not in seen.stdout  # negative control: the hostile env is set
    assert "UV_FIND_LINKS" in os.environ
    assert json.loads(run_probe([sys.executable, "-c", show, "0"])) == sorted(tool_env())
    with pytest.raises(subprocess.CalledProcessError):
        run_probe([sys.executable, "-c", show, "3"])
    with pytest.raises(subprocess.TimeoutExpired):
        run_captured([sys.executable, "-c", "import time; time.sleep(5)"], timeout=0.5, check=False)


def test_a_run_marks_its_tools_and_gives_them_empty_config_folders(tmp_path: Path) -> None:
    with run_marked(tmp_path):
        env = tool_env()
    assert env[RUN_MARKER] == str(tmp_path)
    for name in ("XDG_CONFIG_HOME", "XDG_CONFIG_DIRS"):
        folder = Path(env[name])
        assert folder.is_relative_to(tmp_path) and list(folder.iterdir()) == []


def test_pip_reads_no_config_file_in_the_tool_env(hostile_env: None, tmp_path: Path) -> None:
    # This machine has /etc/pip.conf, /etc/xdg/pip/pip.conf and ~/.config/pip/pip.conf;
    # a config file in XDG_CONFIG_HOME is the negative control for any machine.
    user_config = tmp_path / "pip"
    user_config.mkdir()
    (user_config / "pip.conf").write_text("[global]\nfind-links = /from-a-config-file\n")
    command = [sys.executable, "-m", "pip", "config", "list"]
    leaky = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    seen = subprocess.run(command, env=leaky, capture_output=True, text=True, check=True)
    assert "/from-a-config-file" in seen.stdout
    clean = {**tool_env(), "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(command, env=clean, capture_output=True, text=True, check=True)
    assert "find-links" not in result.stdout and ".cert" not in result.stdout, result.stdout


def test_ignored_settings_are_named_without_values(hostile_env: None) -> None:
    names = ignored_user_settings()
    for name in ("UV_FIND_LINKS", "PIP_INDEX_URL", "FROMAGER_VARIANT", "CFLAGS", "LDSHARED"):
        assert name in names
    assert "MY_INDEX_URL" in names and "PYTHONPATH" in names
    assert "HTTPS_PROXY" not in names and "HOME" not in names
    lines: list[str] = []
    announce_environment(lines.append)
    (line,) = lines
    assert line.startswith("note: ignoring ") and "UV_FIND_LINKS" in line
    assert line.endswith("from your environment (srcstacks builds with an environment of its own)")
    assert "secret" not in line and "/somewhere" not in line


def test_system_uv_config_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "uv.toml"
    monkeypatch.setattr(process, "SYSTEM_UV_CONFIG", config)
    announce_environment(lambda line: None)
    config.write_text("find-links = ['/x']\n")
    with pytest.raises(ConfigError, match=r"uv\.toml: uv reads this system config file"):
        announce_environment(lambda line: None)


@pytest.mark.parametrize("value", ["", "yesterday", "-1", "1.5"])
def test_a_source_date_epoch_no_build_could_use_is_refused_up_front(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """An empty SOURCE_DATE_EPOCH= made setuptools fail deep inside a build log."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    announce_environment(lambda line: None)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    with pytest.raises(ConfigError, match="SOURCE_DATE_EPOCH must be a whole number of seconds"):
        announce_environment(lambda line: None)


def test_user_compiler_flags_never_reach_the_build_env(hostile_env: None, tmp_path: Path) -> None:
    env = fromager.portable_build_env(tmp_path / "work dir é")
    assert "-O0" not in env["CPPFLAGS"] and env.get("LDSHARED") != "cc -shared"


def test_prefix_maps_stay_one_argument_each_with_spaces(tmp_path: Path) -> None:
    work_dir = tmp_path / "work dir é" / "it's"
    flags = fromager.portable_build_env(work_dir)["CPPFLAGS"]
    # shlex splits like meson and the shell; setuptools' split_quoted is proven by the
    # e2e build in a work dir with a space (tests/e2e/test_environment.py).
    assert shlex.split(flags)[1] == f"-ffile-prefix-map={work_dir}=/build"


def test_a_missing_tool_is_a_start_error(tmp_path: Path) -> None:
    with pytest.raises(ToolStartError, match="cannot start '/nonexistent/tool'"):
        run_logged(["/nonexistent/tool"], log_path=tmp_path / "log", what="the tool")


_KILLED_PARENT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from srcstacks.tools.process import run_logged, run_marked
    with run_marked(Path(sys.argv[1])):
        run_logged(
            ["sh", "-c", "sleep 300 & sleep 300"],
            log_path=Path(sys.argv[1]) / "log", what="sleepers",
        )
    """
)


def _wait_until(condition: object, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_tools_and_their_children_die_when_srcstacks_is_killed(tmp_path: Path) -> None:
    work_dir = tmp_path.resolve()
    parent = subprocess.Popen([sys.executable, "-c", _KILLED_PARENT, str(work_dir)])
    try:
        # The tool, its shell and both sleeps carry the run's marker.
        assert _wait_until(lambda: len(leftover_processes(work_dir)) >= 4)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert _wait_until(lambda: leftover_processes(work_dir) == []), leftover_processes(work_dir)


def test_the_lock_stops_what_a_killed_run_left_before_granting(tmp_path: Path) -> None:
    # A leftover whose reaper was killed too: started outside any supervision.
    with run_marked(tmp_path.resolve()):
        env = tool_env()
    orphan = subprocess.Popen(["sleep", "300"], env=env)
    # Popen returns once exec has begun; the kernel shows the new environment a moment
    # later (under load, visibly later). A leftover of a killed run is long past that.
    assert _wait_until(lambda: orphan.pid in leftover_processes(tmp_path.resolve()))
    lines: list[str] = []
    try:
        with exclusive(tmp_path, lines.append):
            assert orphan.wait(timeout=10) == -signal.SIGKILL
    finally:
        orphan.kill()
    (line,) = lines
    assert f"pids {orphan.pid}" in line and "left running" in line
    # Nothing left: a second run says nothing.
    lines.clear()
    with exclusive(tmp_path, lines.append):
        pass
    assert lines == []


def test_a_second_run_is_refused_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    with exclusive(tmp_path, print), pytest.raises(BusyError):  # noqa: SIM117
        with exclusive(tmp_path, print):
            pass


def test_the_error_excerpt_keeps_the_marker_of_a_long_interleaved_line() -> None:
    """A parallel make can write a compiler error in the middle of another job's long
    command line: the excerpt keeps the error, not only the line's start."""
    command = "gcc -c " + " ".join(f"-DFLAG_{n}=1" for n in range(60))
    error = "Programs/python.c:2:2: error: #error srcstacks test: this build must fail"
    line = f"{command} {error} " + " ".join(f"-I/include/{n}" for n in range(40))
    excerpt = last_error_line(["make: entering\n", line + "\n", "compiled\n"])
    assert "error: #error srcstacks test: this build must fail" in excerpt
    assert excerpt.startswith("...") and excerpt.endswith("...")
    assert len(excerpt) <= 306
    # A short line stays as it is; a line without a marker is never picked.
    assert last_error_line([f"{error}\n", "done\n"]) == error
    assert last_error_line(["all good\n"]) == ""
