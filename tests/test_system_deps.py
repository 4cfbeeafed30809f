"""``srcstacks system-deps``: which layer loads which host library, and its package."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

from srcstacks.deploy.build_host import needs_of, with_recorded
from srcstacks.deploy.system_deps import host_libraries, host_needs, render
from srcstacks.state.archive_reader import ArchiveContents, ElfFile
from srcstacks.state.build_record import SystemPackage
from srcstacks.state.elf import ElfLinks
from srcstacks.tools.build_packages import WheelLinks, wheel_links
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
    data = json.loads(render(needs, as_json=True))["deploy_host"]
    assert data[0]["packages"] == [
        {"manager": "deb", "name": "libc6", "version": "2.36-9"},
        {"manager": "deb", "name": "libssl3", "version": "3.0.15-1"},
    ]
    assert data[1]["unprovided"] == ["libfoo.so.1"]


GCC = Package("gcc", "4:12.2.0-3", "deb")
GXX = Package("g++", "4:12.2.0-3", "deb")
LIBC_DEV = Package("libc6-dev", "2.36-9", "deb")
MAKE = Package("make", "4.3-4.1", "deb")
SSL_DEV = Package("libssl-dev", "3.0.15-1", "deb")
LIB = "/usr/lib/x86_64-linux-gnu"


def test_a_wheels_links_are_what_its_compiled_files_need_and_do_not_carry(
    tmp_path: Path,
) -> None:
    # Compiled here by gcc: an extension linked against libm and a helper library the
    # wheel carries itself (as auditwheel puts them in ``<name>.libs/``).
    (tmp_path / "helper.c").write_text("int helper(void) { return 1; }\n")
    (tmp_path / "ext.c").write_text(
        "#include <math.h>\nint helper(void);\ndouble f(double x) { return sqrt(x) + helper(); }\n"
    )
    gcc = ["gcc", "-shared", "-fPIC"]
    helper, ext = tmp_path / "libhelper.so.1", tmp_path / "ext.so"
    subprocess.run([*gcc, "-Wl,-soname,libhelper.so.1", "-o", helper, tmp_path / "helper.c"],
                   check=True)  # fmt: skip
    subprocess.run([*gcc, "-o", ext, tmp_path / "ext.c", helper, "-lm"], check=True)
    wheel = tmp_path / "x-1.0-0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("x/_ext.cpython-311-x86_64-linux-gnu.so", ext.read_bytes())
        archive.writestr("x.libs/libhelper.so.1", helper.read_bytes())
        archive.writestr("x/__init__.py", "")
    links = wheel_links(wheel)
    assert links.libraries == {"libm.so.6"}  # libhelper.so.1 is carried
    assert any(text.startswith("GCC") for text in links.compilers)


def test_a_build_host_needs_the_compilers_and_the_link_time_files() -> None:
    links = [
        WheelLinks(frozenset({"libc.so.6", "libstdc++.so.6", "libssl.so.3"}),
                   frozenset({"GCC: (Debian 12.2.0-14) 12.2.0"})),
        WheelLinks(frozenset({"libfoo.so.2"}), frozenset()),
    ]  # fmt: skip
    paths = {
        "libc.so.6": f"{LIB}/libc.so.6",
        "libssl.so.3": f"{LIB}/libssl.so.3",
        "libfoo.so.2": f"{LIB}/libfoo.so.2",
    }
    owners = {
        "/usr/bin/gcc": GCC,
        "/usr/bin/g++": GXX,
        f"{LIB}/libc.so": LIBC_DEV,
        f"{LIB}/libssl.so": SSL_DEV,  # libfoo.so: no package here installs it
    }
    commands = {"gcc": "/usr/bin/gcc", "g++": "/usr/bin/g++"}  # patch: not on PATH
    asked: list[str] = []

    def package_of(path: str) -> Package | None:
        asked.append(path)
        return owners.get(path)

    needs = needs_of(links, True, commands.get, paths, package_of)
    # Only what the needs come to: no question about libstdc++ or libc.so.6 themselves.
    assert sorted(asked) == sorted([*owners, f"{LIB}/libfoo.so"])
    assert needs.commands == ("gcc", "g++", "patch")
    assert needs.libraries == ("libfoo.so.2", "libssl.so.3")  # libc, libstdc++: toolchain's
    assert needs.packages == (GXX, GCC, LIBC_DEV, SSL_DEV)
    assert needs.unprovided == ("patch", "libfoo.so.2")
    assert render([], needs).splitlines() == [
        "a build host needs: apt-get install g++ gcc libc6-dev libssl-dev",
        "  to build the wheels: gcc, g++, patch; 2 libraries beyond the C library and the"
        " compilers' own",
        "  no package here installs: patch libfoo.so.2",
    ]
    assert json.loads(render([], needs, as_json=True))["build_host"]["unprovided"] == [
        "patch",
        "libfoo.so.2",
    ]


def test_pure_python_wheels_need_no_build_package() -> None:
    nowhere: dict[str, str] = {}
    unowned: dict[str, Package] = {}
    needs = needs_of([WheelLinks(frozenset(), frozenset())], False, nowhere.get, {}, unowned.get)
    assert (needs.commands, needs.packages, needs.unprovided) == ((), (), ())
    assert render([], needs).splitlines()[0] == (
        "a build host needs: nothing beyond Python (no wheel here was compiled)"
    )


def test_a_build_host_needs_what_the_builds_recorded_at_their_versions() -> None:
    """Wheels collected from another host: the packages its builds used, at their
    versions, name what this machine lacks."""
    here = needs_of(
        [WheelLinks(frozenset({"libc.so.6", "libfoo.so.2"}), frozenset({"GCC: (Debian) 12"}))],
        False,
        {"gcc": "/usr/bin/gcc"}.get,
        {"libc.so.6": f"{LIB}/libc.so.6"},  # libfoo.so.2 is not installed here
        {"/usr/bin/gcc": GCC, f"{LIB}/libc.so": LIBC_DEV}.get,
    )
    assert here.unprovided == ("libfoo.so.2",)
    recorded = [
        SystemPackage("libfoo-dev", "2.1-1", "amd64", "deb", ("development",),
                      provides=("libfoo.so",)),
        SystemPackage("libfoo2", "2.1-1", "amd64", "deb", ("runtime",), provides=("libfoo.so.2",)),
        SystemPackage("libc6-dev", "2.36-9+deb12u14", "amd64", "deb", ("development",),
                      provides=("libc.so",)),
    ]  # fmt: skip
    needs = with_recorded(here, recorded)
    assert needs.unprovided == ()
    assert [(p.name, p.version) for p in needs.packages] == [
        ("gcc", GCC.version),
        ("libc6-dev", "2.36-9+deb12u14"),  # the build's version wins over this machine's
        ("libfoo-dev", "2.1-1"),  # a run-time package is the -dev package's to pull in
    ]


def test_a_build_host_of_a_runtime_built_from_source_needs_make_and_its_packages() -> None:
    """configure and make build CPython: gcc and make even when no wheel is compiled,
    and the development packages the runtime's build recorded."""
    here = needs_of(
        [WheelLinks(frozenset(), frozenset())],
        False,
        {"gcc": "/usr/bin/gcc", "make": "/usr/bin/make"}.get,
        {},
        {"/usr/bin/gcc": GCC, "/usr/bin/make": MAKE}.get,
        builds_cpython=True,
    )
    assert here.commands == ("gcc", "make")
    assert here.packages == (GCC, MAKE)
    recorded = [
        SystemPackage("libssl-dev", "3.0.15-1", "amd64", "deb", ("development",),
                      provides=("libssl.so",)),
    ]  # fmt: skip
    needs = with_recorded(here, recorded)
    assert [p.name for p in needs.packages] == ["gcc", "libssl-dev", "make"]
    assert needs.builds_cpython
    assert (
        render([], needs)
        .splitlines()[1]
        .startswith("  to build the wheels and the runtime: gcc, make;")
    )
