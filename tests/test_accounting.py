"""Every file of a layer archive is accounted for: by a wheel, the runtime list, or venvstacks."""

from __future__ import annotations

import hashlib
from pathlib import Path

from srcstacks.accounting import InstalledWheel, account_for_files
from srcstacks.archive_reader import ArchiveContents, InstalledDist, WheelFiles, record_digest
from srcstacks.tools.venvstacks import LayerMetadata

SITE = "lib/python3.11/site-packages"
GREETER = b"print('hello')\n"


def venvstacks_hash(name: str, data: bytes) -> str:
    """venvstacks' hash_file_name_and_contents, as its metadata records it."""
    inner = f"sha256:{hashlib.sha256(data).hexdigest()}"
    return "sha256:" + hashlib.sha256(name.encode() + inner.encode()).hexdigest()


def app_layer() -> LayerMetadata:
    return LayerMetadata(
        install_target="app-x",
        archive_name="app-x.tar.xz",
        archive_sha256="0" * 64,
        runtime_layer="cpython-3.11",
        app_launch_module="greeter",
        python_implementation="cpython@3.11.7",
        raw={"app_launch_module_hash": venvstacks_hash("greeter.py", GREETER)},
    )


WHEEL_FILES = {
    "idna/__init__.py": b"x = 1\n",
    "idna-3.11.dist-info/METADATA": b"Name: idna\nVersion: 3.11\n",
    "idna-3.11.dist-info/fromager-build-settings": b"",
}


def wheel() -> InstalledWheel:
    record = {path: record_digest(data) for path, data in WHEEL_FILES.items()}
    dist = InstalledDist("idna", "3.11", "idna-3.11.dist-info")
    entry_points = "[console_scripts]\nidna-cli = idna:main\n"
    return InstalledWheel(dist, "idna-3.11-0-py3-none-any.whl", WheelFiles(record, entry_points))


def app_members(**changes: bytes | str | None) -> dict[str, str]:
    """The members of a well-formed app layer archive; ``changes`` add, alter or drop."""
    files: dict[str, bytes | str | None] = {
        "postinstall.py": b"# venvstacks\n",
        "share/venv/metadata/venvstacks_layer.json": b"{}",
        "bin/python": b"#!/usr/bin/bash\n",
        "bin/python3": "symlink:python",
        "bin/python3.11": "symlink:python",
        "bin/python_": "symlink:../../cpython-3.11/bin/python",
        "bin/idna-cli": b"#!/usr/bin/env python\n",
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
    return account_for_files(contents, layer or app_layer(), [wheel()], None, None)


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
        f"app-x.tar.xz: app-x/{SITE}/greeter.py differs from venvstacks (the application's"
        " module greeter, hashed in its metadata)",
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
        "cpython-3.11/postinstall.py": record_digest(b"venvstacks"),
    }
    contents = ArchiveContents(Path("cpython-3.11.tar.xz"), "0" * 64, (), {}, (), members)
    assert account_for_files(contents, runtime, [], listed, None) == []
    members["cpython-3.11/lib/python3.11/sitecustomize.py"] = record_digest(b"evil")
    members["cpython-3.11/bin/python3"] = "symlink:/tmp/evil"
    assert account_for_files(contents, runtime, [], listed, b"# venvstacks\n") == [
        "cpython-3.11.tar.xz: cpython-3.11/bin/python3 differs from the runtime's file list",
        "cpython-3.11.tar.xz: cpython-3.11/postinstall.py differs from venvstacks' postinstall.py",
        "cpython-3.11.tar.xz: cpython-3.11/lib/python3.11/sitecustomize.py is unaccounted for"
        " (in no wheel's RECORD, not in the runtime's file list, not a file venvstacks writes)",
    ]
