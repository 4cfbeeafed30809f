"""Install requirements read from ``pyproject.toml`` when meson-python would build to tell."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from srcstacks.tools.static_requirements import static_first, static_install_requirements

MESON = """\
[build-system]
build-backend = "mesonpy"
requires = ["meson-python"]

[project]
name = "demo"
version = "1.0"
dependencies = ["numpy>=1.26.4,<2.7", "typing-extensions; python_version < '3.12'"]
"""


def write(folder: Path, text: str) -> Path:
    (folder / "pyproject.toml").write_text(text)
    return folder


def test_a_meson_python_projects_static_dependencies_are_read(tmp_path: Path) -> None:
    folder = write(tmp_path, MESON)
    assert static_install_requirements(folder) == [
        Requirement("numpy>=1.26.4,<2.7"),
        Requirement("typing-extensions; python_version < '3.12'"),
    ]
    # No dependencies at all, and not dynamic: none (PEP 621: the backend adds none).
    write(folder, MESON.replace('dependencies = ["numpy>=1.26.4,<2.7", ', "x = ["))
    assert static_install_requirements(folder) == []


@pytest.mark.parametrize(
    "change",
    [
        ('"mesonpy"', '"setuptools.build_meta"'),  # a backend with a metadata hook
        ('version = "1.0"', 'dynamic = ["dependencies"]'),  # the backend decides them
        ('dependencies = ["', 'dependencies = [1, "'),  # not a list of strings
        ('"numpy>=1.26.4,<2.7"', '"numpy >>> 2"'),  # not a requirement
        ("[project]", "[project\n"),  # not TOML
    ],
)
def test_anything_else_is_left_to_fromager(tmp_path: Path, change: tuple[str, str]) -> None:
    folder = write(tmp_path, MESON.replace(*change))
    assert static_install_requirements(folder) is None


def test_the_default_runs_unless_the_requirements_are_static(tmp_path: Path) -> None:
    calls: list[dict[str, Any]] = []

    def default(*, req: Requirement, sdist_root_dir: Path, build_dir: Path) -> set[Requirement]:
        calls.append({"req": req, "sdist_root_dir": sdist_root_dir, "build_dir": build_dir})
        return {Requirement("from-the-backend")}

    get = static_first(default)
    # Fromager hands a function only the arguments its signature names: the default's.
    assert inspect.signature(get) == inspect.signature(default)
    write(tmp_path, MESON)
    found = get(req=Requirement("demo"), sdist_root_dir=tmp_path, build_dir=tmp_path)
    assert found == {Requirement("numpy>=1.26.4,<2.7"),
                     Requirement("typing-extensions; python_version < '3.12'")}  # fmt: skip
    assert calls == []
    # With extras the optional dependencies count too: Fromager's default decides.
    assert get(req=Requirement("demo[x]"), sdist_root_dir=tmp_path, build_dir=tmp_path) == {
        Requirement("from-the-backend")
    }
    # The project's build_dir (a subfolder, by its settings) holds its pyproject.toml.
    (tmp_path / "sub").mkdir()
    assert get(req=Requirement("demo"), sdist_root_dir=tmp_path, build_dir=tmp_path / "sub") == {
        Requirement("from-the-backend")
    }
    assert len(calls) == 2
