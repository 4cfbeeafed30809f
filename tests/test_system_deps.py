"""``srcstacks system-deps``: which layer loads which host library, and its package."""

from __future__ import annotations

import json
from pathlib import Path

from srcstacks.deploy.system_deps import host_libraries, host_needs, render
from srcstacks.state.archive_reader import ArchiveContents, ElfFile
from srcstacks.state.elf import ElfLinks
from srcstacks.tools.system_packages import Package

LIBC = Package("libc6", "2.36-9", "deb")
SSL = Package("libssl3", "3.0.15-1", "deb")


def archive(*elves: tuple[str, str | None, tuple[str, ...]]) -> ArchiveContents:
    """An archive of compiled files: (path, soname, needed sonames) each."""
    files = tuple(ElfFile(path, None, ElfLinks(soname, needs)) for path, soname, needs in elves)
    return ArchiveContents(Path("x.tar.xz"), "0" * 64, (), {}, files)


def test_each_layer_needs_what_no_archive_of_the_stack_holds() -> None:
    runtime = archive(
        ("bin/python3.11", None, ("libc.so.6", "libpython3.11.so.1.0")),
        ("lib/libpython3.11.so.1.0", "libpython3.11.so.1.0", ("libc.so.6",)),
        ("lib/python3.11/lib-dynload/_ssl.so", None, ("libc.so.6", "libssl.so.3")),
    )
    # An extension linked against libpython, which the runtime layer holds, and a
    # library nothing here provides.
    framework = archive(("site-packages/x/_x.so", None, ("libpython3.11.so.1.0", "libfoo.so.1")))
    app = archive()
    provider = {"libc.so.6": LIBC, "libssl.so.3": SSL, "libfoo.so.1": None}
    libraries = host_libraries({"cpython-3.11": runtime, "framework-x": framework, "app": app})
    needs = host_needs(libraries, provider)
    assert [(n.layer, n.libraries, n.packages, n.unprovided) for n in needs] == [
        ("cpython-3.11", ("libc.so.6", "libssl.so.3"), (LIBC, SSL), ()),
        ("framework-x", ("libfoo.so.1",), (), ("libfoo.so.1",)),
        ("app", (), (), ()),
    ]
    assert render(needs).splitlines() == [
        "cpython-3.11: libc6 libssl3 (2 system libraries)",
        "framework-x: nothing (1 system library)",
        "  no package here provides: libfoo.so.1",
        "app: nothing (0 system libraries)",
        "a deploy host needs: apt-get install libc6 libssl3",
    ]
    data = json.loads(render(needs, as_json=True))
    assert data[0]["packages"] == [
        {"manager": "deb", "name": "libc6", "version": "2.36-9"},
        {"manager": "deb", "name": "libssl3", "version": "3.0.15-1"},
    ]
    assert data[1]["unprovided"] == ["libfoo.so.1"]
