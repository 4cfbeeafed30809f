"""What venvstacks writes into each layer is regenerated from the spec, by venvstacks itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from srcstacks.errors import ConfigError
from srcstacks.state.archive_reader import record_digest
from srcstacks.tools.venvstacks_writes import layer_files, postinstall_script

SITE = "lib/python3.11/site-packages"
SPEC = """
[[runtimes]]
name = "cpython-3.11"
python_implementation = "cpython@3.11.7"
requirements = []

[[frameworks]]
name = "web"
runtime = "cpython-3.11"
requirements = []

[[applications]]
name = "tool"
launch_module = "launch_modules/tool"
support_modules = ["launch_modules/helpers.py"]
frameworks = ["web"]
requirements = []

[[applications]]
name = "single"
launch_module = "launch_modules/single.py"
runtime = "cpython-3.11"
requirements = []
"""


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    modules = tmp_path / "launch_modules"
    (modules / "tool" / "__pycache__").mkdir(parents=True)
    (modules / "tool" / "__init__.py").write_bytes(b"")
    (modules / "tool" / "__main__.py").write_bytes(b"print('tool')\n")
    (modules / "tool" / "__pycache__" / "__main__.cpython-311.pyc").write_bytes(b"\0")
    (modules / "helpers.py").write_bytes(b"HELP = 1\n")
    (modules / "single.py").write_bytes(b"print('single')\n")
    path = tmp_path / "venvstacks.toml"
    path.write_text(SPEC)
    return path


def test_launch_and_support_modules_are_the_spec_files_as_venvstacks_copies_them(
    spec: Path,
) -> None:
    tool = layer_files(spec)["app-tool"]
    modules = {path: file for path, file in tool.files.items() if path.startswith(SITE)}
    assert {path: file.entry for path, file in modules.items()} == {
        f"{SITE}/tool/__init__.py": record_digest(b""),
        f"{SITE}/tool/__main__.py": record_digest(b"print('tool')\n"),
        f"{SITE}/helpers.py": record_digest(b"HELP = 1\n"),
    }  # no __pycache__: venvstacks' source filter leaves it out
    assert modules[f"{SITE}/tool/__main__.py"].what == (
        "the spec's module launch_modules/tool/__main__.py"
    )


def test_each_layer_gets_its_wrapper_links_config_and_postinstall(spec: Path) -> None:
    written = layer_files(spec)
    assert sorted(written) == ["app-single", "app-tool", "cpython-3.11", "framework-web"]
    postinstall = record_digest(postinstall_script())
    assert {layer.files["postinstall.py"].entry for layer in written.values()} == {postinstall}
    # The runtime layer's own files come from its file list, not from venvstacks.
    assert sorted(written["cpython-3.11"].files) == [
        "postinstall.py",
        "share/venv/metadata/venvstacks_layer.json",
    ]
    tool, single = written["app-tool"].files, written["app-single"].files
    assert tool["bin/python_"].entry == "symlink:../../cpython-3.11/bin/python"
    assert tool["bin/python3.11"].entry == "symlink:python"
    assert tool["lib64"].entry == "symlink:lib"
    # The wrapper and config name the layers below: the framework's too, for app-tool only.
    assert tool["bin/python"].entry != single["bin/python"].entry
    assert tool["bin/python"].entry.startswith("sha256=")
    config = "share/venv/metadata/venvstacks_layer.json"
    assert tool[config].entry != single[config].entry


def test_a_spec_venvstacks_refuses_is_one_line(spec: Path) -> None:
    spec.write_text(SPEC.replace('"launch_modules/single.py"', '"launch_modules/missing.py"'))
    with pytest.raises(ConfigError, match=r"venvstacks\.toml: venvstacks cannot read it: "):
        layer_files(spec)
