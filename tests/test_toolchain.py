"""Which CPython and Fromager build a stack's wheels (tools/toolchain.py, build_toolchain.py).

Installing a toolchain for real (uv, PyPI) is in ``e2e/test_two_pythons.py``.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pytest

from srcstacks.build.wheel_group import discard_foreign_wheels, seed_pure_wheels
from srcstacks.errors import RuntimeSourceError
from srcstacks.layout import Layout
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.runtime.interpreters import build_groups, group_toolchain, runtime_interpreter
from srcstacks.spec.config import load_config
from srcstacks.tools import toolchain
from srcstacks.tools.toolchain import (
    TOOLCHAINS,
    find_interpreter,
    locked_fromager,
    requirements_file,
    running_interpreter,
)

REPO = Path(__file__).resolve().parent.parent
HERE = f"{sys.version_info.major}.{sys.version_info.minor}"

SPEC = """
[[runtimes]]
name = "rt"
python_implementation = "cpython@{rt}"
requirements = ["idna==3.11"]

[[runtimes]]
name = "rt2"
python_implementation = "cpython@{rt2}"
requirements = {rt2_requirements}

[[applications]]
name = "app"
launch_module = "app.py"
runtime = "rt2"
requirements = []
"""


def spec(tmp_path: Path, rt: str, rt2: str, rt2_requirements: str = "[]") -> Path:
    path = tmp_path / "venvstacks.toml"
    path.write_text(SPEC.format(rt=rt, rt2=rt2, rt2_requirements=rt2_requirements))
    (tmp_path / "app.py").write_text("")
    return path


def fake_python(root: Path, version: str) -> Path:
    """A pyenv-style ``versions/<version>/bin/pythonX.Y`` that answers the probe as CPython."""
    minor = ".".join(version.split(".")[:2])
    script = root / "versions" / version / "bin" / f"python{minor}"
    script.parent.mkdir(parents=True)
    answer = {"implementation": "CPython", "version": version, "base_prefix": str(root),
              "ldshared": "gcc -shared", "executable": str(script)}  # fmt: skip
    script.write_text(f"#!/bin/sh\necho '{json.dumps(answer)}'\n")
    script.chmod(0o755)
    return script


def test_a_stack_on_this_python_is_built_by_srcstacks_own_environment(tmp_path: Path) -> None:
    config = load_config(spec(tmp_path, f"{HERE}.0", "3.99.0"))
    (group,) = build_groups(config)  # rt2 builds nothing: only rt's Python counts
    chosen = group_toolchain(config, group, print)
    assert chosen.own and chosen.python == Path(sys.executable)
    assert chosen.interpreter.minor == HERE
    # A stack of one Python keeps Fromager's folders where they always were.
    assert group.dirs == Layout.of(config).fromager
    assert group.dirs.wheels_repo.name == "wheels-repo"


def test_layers_are_built_in_one_group_per_python_each_with_its_own_fromager(
    tmp_path: Path,
) -> None:
    config = load_config(spec(tmp_path, f"{HERE}.0", "3.99.0", '["six"]'))
    groups = build_groups(config)
    assert [(g.python, [layer.name for layer in g.layers]) for g in groups] == sorted(
        [(HERE, ["rt"]), ("3.99", ["rt2"])], key=lambda item: float(item[0])
    )
    first, second = groups
    assert first.dirs.wheels_repo != second.dirs.wheels_repo
    assert first.dirs.work_dir != second.dirs.work_dir
    assert first.dirs.sdists_repo == second.dirs.sdists_repo  # sources are shared
    assert {g.python: g.requirements for g in groups} == {HERE: ["idna==3.11"], "3.99": ["six"]}


def test_pure_wheels_are_seeded_into_later_groups_and_compiled_ones_are_not(
    tmp_path: Path,
) -> None:
    first, second = FromagerDirs(tmp_path, "3.11"), FromagerDirs(tmp_path, "3.12")
    first.built_wheels.mkdir(parents=True)
    for name in ("setuptools-80.0-0-py3-none-any.whl", "six-1.17.0-0-py2.py3-none-any.whl",
                 "markupsafe-3.0.4-0-cp311-cp311-linux_x86_64.whl",
                 "abi3only-1.0-0-cp311-abi3-linux_x86_64.whl"):  # fmt: skip
        (first.built_wheels / name).write_bytes(name.encode())
    seed_pure_wheels([first], second)
    assert sorted(path.name for path in second.built_wheels.iterdir()) == [
        "setuptools-80.0-0-py3-none-any.whl", "six-1.17.0-0-py2.py3-none-any.whl"
    ]  # fmt: skip
    assert (second.built_wheels / "six-1.17.0-0-py2.py3-none-any.whl").read_bytes() == (
        b"six-1.17.0-0-py2.py3-none-any.whl"
    )


def test_interpreters_are_found_in_pyenvs_versions_newest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no python3.99 there
    fake_python(tmp_path, "3.99.1")
    newest = fake_python(tmp_path, "3.99.10")
    found = find_interpreter("3.99")
    assert found is not None and found.path == newest and found.version == "3.99.10"
    exact = find_interpreter("3.99", "3.99.1")
    assert exact is not None and exact.version == "3.99.1"
    assert find_interpreter("3.99", "3.99.2") is None
    assert find_interpreter("3.98") is None


def test_no_interpreter_of_the_runtimes_version_is_one_line_naming_those_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    fake_python(tmp_path / "pyenv", "3.13.5")
    config = load_config(spec(tmp_path, "3.99.0", "3.99.0"))
    runtime = config.layers_of("runtime")[0]
    with pytest.raises(RuntimeSourceError) as refused:
        runtime_interpreter(config, runtime, exact=False)
    message = str(refused.value)
    assert "runtime 'rt' is cpython@3.99.0, but this machine has no CPython 3.99" in message
    assert "3.13.5" in message and running_interpreter().version in message
    # The stack has two runtimes: the table to set is this one's own.
    assert 'set [tool.srcstacks.runtime."rt"] interpreter' in message
    # A stack of one runtime sets it in the one table.
    alone = tmp_path / "alone" / "venvstacks.toml"
    alone.parent.mkdir()
    alone.write_text(SPEC.split('[[runtimes]]\nname = "rt2"')[0].format(rt="3.99.0"))
    config = load_config(alone)
    with pytest.raises(RuntimeSourceError) as refused:
        runtime_interpreter(config, config.layers_of("runtime")[0], exact=False)
    assert str(refused.value).endswith("or set [tool.srcstacks.runtime] interpreter")


def test_a_named_interpreter_of_another_python_is_refused(tmp_path: Path) -> None:
    path = spec(tmp_path, f"{HERE}.0", f"{HERE}.0")
    path.write_text(
        path.read_text() + f'\n[tool.srcstacks.runtime]\nsource = "pack"\ninterpreter = '
        f'"{fake_python(tmp_path, "3.99.3")}"\n'
    )
    config = load_config(path)
    with pytest.raises(RuntimeSourceError, match=r"is Python 3\.99\.3: name a CPython 3\.\d+"):
        runtime_interpreter(config, config.layers_of("runtime")[0], exact=True)


def test_each_python_gets_the_fromager_pinned_for_it() -> None:
    assert locked_fromager("3.11") == "0.77.0"
    assert locked_fromager("3.12") == "0.101.0" == locked_fromager("3.13")
    assert requirements_file("3.13") == requirements_file("3.12")


@pytest.mark.parametrize("name", ["fromager-py3.11.txt", "fromager-py3.12.txt"])
def test_toolchain_locks_pin_what_uv_lock_pins_with_hashes(name: str) -> None:
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    locked: dict[str, set[str]] = {}
    for package in lock["package"]:
        locked.setdefault(package["name"], set()).add(package["version"])
    pins = {}
    text = (TOOLCHAINS / name).read_text()
    for line in text.splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            project, version = line.split(" ")[0].split("==")
            pins[project] = version
    assert "fromager" in pins and len(pins) > 20
    for project, version in pins.items():
        assert version in locked.get(project, set()), f"{name}: {project}=={version} not in uv.lock"
    # Every pin carries its hashes (uv pip install --require-hashes refuses it otherwise).
    blocks = [block for block in text.split("\n") if block and not block.startswith("#")]
    pinned = [i for i, line in enumerate(blocks) if not line.startswith(" ")]
    for index, start in enumerate(pinned):
        end = pinned[index + 1] if index + 1 < len(pinned) else len(blocks)
        assert any("--hash=sha256:" in line for line in blocks[start:end]), blocks[start]


def test_a_toolchain_is_made_once_and_again_when_its_marker_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".srcstacks-owned").write_text("work dir\n")  # as the work dir has
    commands: list[list[str]] = []

    def fake_run(command: list[str], **_: object) -> str:
        commands.append(command)
        if "venv" in command:
            (Path(command[-1]) / "bin").mkdir(parents=True)
            (Path(command[-1]) / "bin" / "python").write_text("")
        return ""

    monkeypatch.setattr(toolchain, "run_logged", fake_run)
    monkeypatch.setattr(toolchain, "_site_packages", lambda python: python.parent.parent / "site")
    interpreter = toolchain.Interpreter(Path("/usr/bin/python3.12"), "3.12.1", "/usr", "gcc")
    folder = tmp_path / "toolchains" / "cpython-3.12.1"
    made = toolchain.install_toolchain(folder, interpreter, tmp_path / "log")
    assert made.python == folder / "bin" / "python" and made.fromager_version == "0.101.0"
    assert [c[3] for c in commands] == ["venv", "pip"]
    assert "--require-hashes" in commands[1] and str(requirements_file("3.12")) in commands[1]
    assert (folder / "site" / "srcstacks" / "tools" / "fromager_main.py").is_file()
    toolchain.install_toolchain(folder, interpreter, tmp_path / "log")
    assert len(commands) == 2  # reused: made from the same interpreter and locks
    (folder / toolchain.MARKER).unlink()  # as an install cut off before its end leaves it
    toolchain.install_toolchain(folder, interpreter, tmp_path / "log")
    assert len(commands) == 4
    other = toolchain.Interpreter(Path("/opt/python3.12"), "3.12.1", "/opt", "gcc")
    toolchain.install_toolchain(folder, other, tmp_path / "log")
    assert len(commands) == 6  # another interpreter: made again


def test_a_wheel_for_another_python_in_a_groups_repo_is_removed_before_it_builds(
    tmp_path: Path,
) -> None:
    (tmp_path / ".srcstacks-owned").write_text("work dir\n")
    dirs = FromagerDirs(tmp_path, "3.12")
    dirs.built_wheels.mkdir(parents=True)
    names = [
        "markupsafe-3.0.4-0-cp311-cp311-linux_x86_64.whl",
        "markupsafe-3.0.4-0-cp312-cp312-linux_x86_64.whl",
        "six-1.17.0-0-py2.py3-none-any.whl",
        "abi-1.0-0-cp311-abi3-linux_x86_64.whl",
    ]
    for name in names:
        (dirs.built_wheels / name).write_bytes(b"")
    said: list[str] = []
    removed = discard_foreign_wheels(dirs, "3.12", said.append)
    assert removed == ["markupsafe-3.0.4-0-cp311-cp311-linux_x86_64.whl"]
    assert sorted(path.name for path in dirs.built_wheels.iterdir()) == sorted(names[1:])
    assert said == [f"  {removed[0]}: not a wheel for Python 3.12; removing it"]


def test_an_interpreter_is_asked_once_per_process_until_its_file_changes(tmp_path: Path) -> None:
    """Several stages ask for a runtime's interpreter in one run (a no-op rebuild of the
    demo asked 8 times, 0.7 s of its 1.0 s); each answer is kept while the file is the same."""
    script = fake_python(tmp_path / "pyenv", "3.12.7")
    asked = tmp_path / "asked"
    script.write_text(f"#!/bin/sh\necho x >> {asked}\n" + script.read_text().split("\n", 1)[1])
    first = toolchain.probe(script)
    assert first is not None and first.version == "3.12.7"
    assert toolchain.probe(script) == first
    assert asked.read_text().count("x") == 1
    # Another interpreter in its place (its size and time change): asked again.
    script.write_text(script.read_text().replace("3.12.7", "3.12.8") + "\n")
    again = toolchain.probe(script)
    assert again is not None and again.version == "3.12.8"
    assert asked.read_text().count("x") == 2
