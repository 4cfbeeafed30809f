"""Degraded builds caught (issue 25): a wheel built here against the upstream binary of
its version, served for real by a package index on 127.0.0.1."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from srcstacks.build.blas_config import Backend, read_config
from srcstacks.build.parity import check_parity, extension_modules
from srcstacks.errors import BuildError, ConfigError
from srcstacks.layout import Layout
from srcstacks.runtime.interpreters import BuildGroup
from srcstacks.sbom.components import DistInputs
from srcstacks.sbom.inputs import with_parity
from srcstacks.sbom.metadata import parse_metadata
from srcstacks.spec.config import load_config
from srcstacks.spec.parity import Parity
from srcstacks.state.archive_reader import InstalledDist
from srcstacks.state.parity import read_parity
from srcstacks.state.provenance import WheelProvenance
from tests.index_server import serve_sdist

OURS = "fast-1.0-0-cp311-cp311-linux_x86_64.whl"
UPSTREAM = "fast-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
SPEEDUPS = "fast/_speedups.cpython-311-x86_64-linux-gnu.so"


def _wheel(path: Path, members: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for member in members:
            archive.writestr(member, b"\x7fELF" if member.endswith(".so") else b"")
    return path


def _built(tmp_path: Path, members: list[str]) -> tuple[Layout, BuildGroup]:
    """A layout whose last Fromager build made ``fast`` 1.0 with ``members``."""
    layout = Layout(tmp_path / "venvstacks.toml", tmp_path / "work", "cpu", tmp_path, tmp_path)
    dirs = layout.fromager
    _wheel(dirs.built_wheel(OURS), members)
    order = [{"dist": "fast", "version": "1.0", "prebuilt": False, "source_url": ""}]
    dirs.build_order.parent.mkdir(parents=True, exist_ok=True)
    dirs.build_order.write_text(json.dumps(order), encoding="utf-8")
    return layout, BuildGroup("3.11", (), dirs)


def test_extension_modules_are_named_without_their_abi_tag() -> None:
    assert extension_modules(
        [SPEEDUPS, "fast/__init__.py", "pkg/_native.abi3.so", "win/_x.cp311-win_amd64.pyd",
         "fast-1.0.dist-info/lib.so",
         # Libraries a binary wheel bundles (auditwheel, delocate) are no modules.
         "numpy.libs/libscipy_openblas64_-56d6093b.so", "pkg/.dylibs/libgfortran.5.dylib.so"]
    ) == {"fast/_speedups", "pkg/_native", "win/_x"}  # fmt: skip


def test_a_wheel_lacking_an_extension_the_upstream_binary_ships_is_named(
    tmp_path: Path,
) -> None:
    layout, group = _built(tmp_path, ["fast/__init__.py"])
    upstream = _wheel(tmp_path / "served" / UPSTREAM, ["fast/__init__.py", SPEEDUPS])
    lines: list[str] = []
    with serve_sdist("fast", upstream) as index_url:
        (found,) = check_parity(layout, Parity(), [group], lines.append, index_url)
    assert (found.upstream, found.missing) == (UPSTREAM, ("fast/_speedups",))
    assert lines == [
        f"parity: 1 of 1 built wheel(s) compared with the binaries {index_url} publishes;"
        " 1 lack(s) what upstream ships",
        f"  degraded: {OURS} lacks fast/_speedups, which {UPSTREAM} ships",
    ]
    assert read_parity(layout) == {OURS: found}
    assert layout.parity_wheel(UPSTREAM).is_file()  # kept for the next run


def test_a_wheel_with_every_extension_is_not_degraded(tmp_path: Path) -> None:
    """Negative control: the same modules under another ABI tag are the same modules."""
    layout, group = _built(tmp_path, ["fast/__init__.py", "fast/_speedups.abi3.so"])
    upstream = _wheel(tmp_path / "served" / UPSTREAM, ["fast/__init__.py", SPEEDUPS])
    with serve_sdist("fast", upstream) as index_url:
        (found,) = check_parity(layout, Parity(), [group], lambda _: None, index_url)
    assert found.upstream == UPSTREAM and not found.degraded


def test_require_stops_the_run_after_recording_unless_the_project_is_excepted(
    tmp_path: Path,
) -> None:
    layout, group = _built(tmp_path, ["fast/__init__.py"])
    upstream = _wheel(tmp_path / "served" / UPSTREAM, ["fast/__init__.py", SPEEDUPS])
    with serve_sdist("fast", upstream) as index_url:
        with pytest.raises(BuildError, match=r"1 wheel\(s\) built without .*fast: fast/_speedups"):
            check_parity(layout, Parity("require"), [group], lambda _: None, index_url)
        assert read_parity(layout)[OURS].degraded  # recorded before stopping
        lines: list[str] = []
        excepted = Parity("require", frozenset({"fast"}))
        check_parity(layout, excepted, [group], lines.append, index_url)
    assert lines[-1].endswith("(a parity exception)")


def test_no_upstream_wheel_of_the_version_is_said_and_off_compares_nothing(
    tmp_path: Path,
) -> None:
    layout, group = _built(tmp_path, ["fast/__init__.py"])
    other = _wheel(tmp_path / "served" / UPSTREAM.replace("1.0", "2.0"), [SPEEDUPS])
    with serve_sdist("fast", other) as index_url:
        (found,) = check_parity(layout, Parity(), [group], lambda _: None, index_url)
    assert not found.upstream and not found.degraded
    assert found.note == f"not compared: {index_url} has no binary wheel of it for here"
    # Off: nothing is asked of any index (this one does not exist).
    assert check_parity(layout, Parity("off"), [group], print, "http://127.0.0.1:9/") == []
    assert read_parity(layout) == {}


def test_a_degraded_wheel_is_marked_in_its_sbom_inputs(tmp_path: Path) -> None:
    layout, group = _built(tmp_path, ["fast/__init__.py"])
    upstream = _wheel(tmp_path / "served" / UPSTREAM, ["fast/__init__.py", SPEEDUPS])
    with serve_sdist("fast", upstream) as index_url:
        check_parity(layout, Parity(), [group], lambda _: None, index_url)
    record = WheelProvenance(OURS, "fast", "1.0", "0", "0" * 64, "cpu", None)
    dist = InstalledDist("fast", "1.0", "fast-1.0.dist-info")
    plain = DistInputs(dist, parse_metadata(""), record)
    marked = with_parity(plain, read_parity(layout))
    assert marked.degraded == f"lacks fast/_speedups, which {UPSTREAM} ships"
    other = DistInputs(dist, parse_metadata(""), None)  # no record: nothing to look up
    assert with_parity(other, read_parity(layout)).degraded == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('parity = "always"\n', "'tool.srcstacks.parity' must be one of report, require, off"),
        ("parity_exceptions = [1]\n", "'tool.srcstacks.parity_exceptions'"),
    ],
)
def test_bad_parity_settings_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    spec = tmp_path / "venvstacks.toml"
    spec.write_text(
        '[[runtimes]]\nname = "rt"\npython_implementation = "cpython@3.11.7"\n'
        "requirements = []\n\n[tool.srcstacks]\n" + text,
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=message):
        load_config(spec)


def test_parity_settings_are_read(tmp_path: Path) -> None:
    spec = tmp_path / "venvstacks.toml"
    spec.write_text(
        '[[runtimes]]\nname = "rt"\npython_implementation = "cpython@3.11.7"\n'
        'requirements = []\n\n[tool.srcstacks]\nparity = "require"\n'
        'parity_exceptions = ["Charset_Normalizer"]\n',
        encoding="utf-8",
    )
    assert load_config(spec).parity == Parity("require", frozenset({"charset-normalizer"}))


def test_a_wheel_seeded_into_several_pythons_builds_is_compared_once(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "venvstacks.toml", tmp_path / "work", "cpu", tmp_path, tmp_path)
    pure = "fast-1.0-0-py3-none-any.whl"
    groups = []
    for python in ("3.11", "3.12"):
        dirs = layout.fromager_for(python)
        _wheel(dirs.built_wheel(pure), ["fast/__init__.py"])
        order = [{"dist": "fast", "version": "1.0", "prebuilt": False, "source_url": ""}]
        dirs.build_order.parent.mkdir(parents=True, exist_ok=True)
        dirs.build_order.write_text(json.dumps(order), encoding="utf-8")
        groups.append(BuildGroup(python, (), dirs))
    upstream = _wheel(tmp_path / "served" / "fast-1.0-py3-none-any.whl", ["fast/__init__.py"])
    lines: list[str] = []
    with serve_sdist("fast", upstream) as index_url:
        found = check_parity(layout, Parity(), groups, lines.append, index_url)
    assert [item.wheel for item in found] == [pure]
    assert lines[0].startswith("parity: 1 of 1 built wheel(s) compared")
    assert list(read_parity(layout)) == [pure]


def numpy_config(blas: str, found: bool, version: str) -> str:
    """A ``__config__.py`` as numpy 2.2's meson build writes it (its shape, trimmed)."""
    truth = "True" if found else "False"
    entry = (
        f'{{"name": "{blas}", "found": bool("{truth}".lower().replace("false", "")),'
        f' "version": "{version}", "detection method": "pkgconfig",'
        ' "include directory": r"/opt/_internal/include"}'
    )
    return (
        "from enum import Enum\n"
        "def _cleanup(d):\n    return d\n"
        "CONFIG = _cleanup(\n    {\n"
        '        "Compilers": {"c": {"name": "gcc", "version": "12.2.0"}},\n'
        f'        "Build Dependencies": {{"blas": {entry}, "lapack": {entry}}},\n'
        '        "Python Information": {"version": "3.11"},\n'
        "    }\n)\n"
    )


def _config_wheel(path: Path, config: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("fast/__init__.py", "")
        archive.writestr(SPEEDUPS, b"\x7fELF")
        archive.writestr("fast/__config__.py", config)
    return path


def test_a_config_is_read_not_run() -> None:
    assert read_config(numpy_config("scipy-openblas", True, "0.3.29")) == {
        "blas": Backend("scipy-openblas", "0.3.29"),
        "lapack": Backend("scipy-openblas", "0.3.29"),
    }
    # Meson writes found = False for a dependency it did not find: no backend.
    assert not read_config(numpy_config("openblas", False, "0.3.21"))["blas"].found
    # A file that would do anything when run is only parsed.
    assert read_config("import os\nos.remove('/')\nCONFIG = os.environ\n") == {}


@pytest.mark.parametrize(
    ("ours", "missing", "differs"),
    [
        # numpy built without BLAS: degraded, with what upstream was built against.
        (
            ("openblas", False), ("fast/blas (upstream: scipy-openblas 0.3.29)",
                                  "fast/lapack (upstream: scipy-openblas 0.3.29)"), (),
        ),
        # Debian's OpenBLAS where upstream bundles its own: a difference, not a lack.
        (
            ("openblas", True), (),
            ("fast/blas: openblas 0.3.21 here, scipy-openblas 0.3.29 upstream",
             "fast/lapack: openblas 0.3.21 here, scipy-openblas 0.3.29 upstream"),
        ),
    ],
)  # fmt: skip
def test_a_numpy_built_without_blas_is_degraded(
    tmp_path: Path, ours: tuple[str, bool], missing: tuple[str, ...], differs: tuple[str, ...]
) -> None:
    layout, group = _built(tmp_path, [])
    _config_wheel(layout.fromager.built_wheel(OURS), numpy_config(ours[0], ours[1], "0.3.21"))
    served = tmp_path / "served" / UPSTREAM
    upstream = _config_wheel(served, numpy_config("scipy-openblas", True, "0.3.29"))
    lines: list[str] = []
    with serve_sdist("fast", upstream) as index_url:
        (found,) = check_parity(layout, Parity(), [group], lines.append, index_url)
    assert (found.missing, found.differs) == (missing, differs)
    assert found.degraded is bool(missing)
    assert [line for line in lines if line.startswith("  differs: ")] == [
        f"  differs: {OURS} {item}" for item in differs
    ]
    assert read_parity(layout)[OURS] == found
