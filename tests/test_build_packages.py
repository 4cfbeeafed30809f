"""The system packages a compiled build used: from its ELF files' links, named by the
package manager, kept in the wheel's SBOM and provenance, and compared with what is
installed now."""

from __future__ import annotations

import _ssl
import shutil
import subprocess
from pathlib import Path

import pytest

from srcstacks.state.build_record import BuildEnvironment, SystemPackage
from srcstacks.state.sbom_formulation import environment_of, formula
from srcstacks.tools import system_packages
from srcstacks.tools.build_packages import (
    WheelLinks,
    package_changes,
    packages_used,
    packages_used_here,
)
from srcstacks.tools.system_packages import Package, installed_version

LIBRARY_DIR = "/usr/lib/x86_64-linux-gnu"
OWNERS = {
    "/usr/bin/gcc": Package("gcc", "4:12.2.0-3", "deb", "amd64"),
    "/usr/bin/x86_64-linux-gnu-gcc-12": Package("gcc-12", "12.2.0-14", "deb", "amd64"),
    "/usr/bin/g++": Package("g++", "4:12.2.0-3", "deb", "amd64"),
    "/usr/bin/ld": Package("binutils", "2.40-2", "deb", "amd64"),
    f"{LIBRARY_DIR}/libc.so.6": Package("libc6", "2.36-9", "deb", "amd64"),
    f"{LIBRARY_DIR}/libm.so.6": Package("libc6", "2.36-9", "deb", "amd64"),
    f"{LIBRARY_DIR}/libc.so": Package("libc6-dev", "2.36-9", "deb", "amd64"),
    f"{LIBRARY_DIR}/libz.so.1": Package("zlib1g", "1:1.2.13.dfsg-1", "deb", "amd64"),
    f"{LIBRARY_DIR}/libz.so": Package("zlib1g-dev", "1:1.2.13.dfsg-1", "deb", "amd64"),
    f"{LIBRARY_DIR}/libstdc++.so.6": Package("libstdc++6", "12.2.0-14", "deb", "amd64"),
}
PATHS = {
    soname: f"{LIBRARY_DIR}/{soname}"
    for soname in ("libc.so.6", "libm.so.6", "libz.so.1", "libstdc++.so.6", "libown.so.1")
}
COMMANDS = {"gcc": "/usr/bin/gcc", "g++": "/usr/bin/g++", "ld": "/usr/bin/ld"}


def realpath(path: str) -> str:
    return "/usr/bin/x86_64-linux-gnu-gcc-12" if path == "/usr/bin/gcc" else path


def test_each_package_is_named_once_with_every_role_it_played(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.path.realpath", realpath)
    links = WheelLinks(
        libraries=frozenset(
            {"libc.so.6", "libm.so.6", "libz.so.1", "libstdc++.so.6", "libown.so.1", "libx.so.2"}
        ),
        compilers=frozenset({"GCC: (Debian 12.2.0-14) 12.2.0"}),
    )
    found = packages_used(
        links, COMMANDS.get, PATHS, OWNERS.get, distribution=("debian", "bookworm")
    )
    assert [(package.name, package.roles, package.provides) for package in found] == [
        ("binutils", ("linker",), ("ld",)),  # every compiled file was linked
        ("g++", ("compiler",), ("g++",)),  # libstdc++ is linked: g++ compiled it
        ("gcc", ("compiler",), ("gcc",)),  # the command on PATH and what it resolves to
        ("gcc-12", ("compiler",), ("x86_64-linux-gnu-gcc-12",)),
        ("libc6", ("runtime",), ("libc.so.6", "libm.so.6")),  # one package, two sonames
        ("libc6-dev", ("development",), ("libc.so",)),  # the C library's link-time file
        # The compiler's own library: no development file is looked for.
        ("libstdc++6", ("runtime",), ("libstdc++.so.6",)),
        ("zlib1g", ("runtime",), ("libz.so.1",)),
        ("zlib1g-dev", ("development",), ("libz.so",)),
        # libown.so.1 is known to the linker but owned by no package, libx.so.2 unknown
        # to the linker: neither is named.
    ]
    assert {(p.distribution, p.release, p.architecture) for p in found} == {
        ("debian", "bookworm", "amd64")
    }


def test_a_pure_python_tree_used_no_system_package(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    assert packages_used_here(tmp_path) == ()


@pytest.mark.skipif(not shutil.which("dpkg-query"), reason="needs a Debian host's dpkg")
def test_a_real_extension_names_the_packages_installed_here(tmp_path: Path) -> None:
    # The interpreter's own _ssl extension: it loads libssl and libc, and GCC built it.
    shutil.copy(_ssl.__file__, tmp_path / Path(_ssl.__file__).name)
    found = {package.name: package for package in packages_used_here(tmp_path)}
    assert {"libssl3", "libc6"} <= set(found)
    assert found["libssl3"].roles == ("runtime",)
    for package in found.values():
        now = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", f"{package.name}:{package.architecture}"],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        assert package.version == now, package.name
        assert package.maintainer, package.name  # Debian names who maintains each
        assert installed_version(package.name, package.architecture, "deb") == now
        assert package.purl.startswith(f"pkg:deb/debian/{package.name}@")


def test_a_package_at_another_version_or_gone_is_a_change() -> None:
    installed = {"zlib1g-dev": "1:1.3.dfsg-3", "libc6": "2.36-9"}
    packages = [
        SystemPackage("zlib1g-dev", "1:1.2.13.dfsg-1", "amd64", "deb", ("development",)),
        SystemPackage("libc6", "2.36-9", "amd64", "deb", ("runtime",)),
        SystemPackage("libopenblas-dev", "0.3.21", "amd64", "deb", ("development",)),
    ]
    assert package_changes(packages, lambda name, _, __: installed.get(name, "")) == [
        "zlib1g-dev 1:1.2.13.dfsg-1 (now 1:1.3.dfsg-3)",
        "libopenblas-dev 0.3.21 (now not installed)",
    ]


def test_system_packages_travel_through_the_formulation_and_json() -> None:
    packages = (
        SystemPackage("gcc-12", "12.2.0-14+deb12u1", "amd64", "deb", ("compiler",),
                      "debian", "bookworm",
                      maintainer="Debian GCC Maintainers <debian-gcc@lists.debian.org>"),
        SystemPackage("zlib1g-dev", "1:1.2.13.dfsg-1", "amd64", "deb", ("development",),
                      provides=("libz.so",)),
    )  # fmt: skip
    environment = BuildEnvironment(compilers=("GCC: (Debian) 12.2.0",), system_packages=packages)
    found = formula("pkg:pypi/x@1.0", "x 1.0", environment)
    components = {c["name"]: c for c in found["components"]}
    assert components["gcc-12"]["purl"] == (
        "pkg:deb/debian/gcc-12@12.2.0-14%2Bdeb12u1?arch=amd64&distro=bookworm"
    )
    assert components["gcc-12"]["type"] == "application"
    assert components["gcc-12"]["supplier"] == {
        "name": "Debian GCC Maintainers", "contact": [{"email": "debian-gcc@lists.debian.org"}]
    }  # fmt: skip
    assert components["zlib1g-dev"]["purl"] == "pkg:deb/zlib1g-dev@1:1.2.13.dfsg-1?arch=amd64"
    assert components["zlib1g-dev"]["type"] == "library"
    (workflow,) = found["workflows"]
    refs = {item["ref"] for item in workflow["resourceReferences"]}
    assert {components[name]["bom-ref"] for name in ("gcc-12", "zlib1g-dev")} <= refs
    assert environment_of(found) == environment.normalised()
    assert BuildEnvironment.from_dict(environment.to_dict()) == environment.normalised()
    # A record without system packages keeps the JSON it always had.
    assert "system_packages" not in BuildEnvironment(compilers=("GCC",)).to_dict()


def test_an_alternatives_link_is_followed_to_the_package_that_installed_a_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian's OpenBLAS: ``libopenblas.so`` -> /etc/alternatives/... -> the -dev
    package's ``openblas-pthread/libopenblas.so`` -> the library. Owned: the last two."""
    real = tmp_path / "lib" / "openblas-pthread"
    real.mkdir(parents=True)
    (real / "libopenblasp-r0.3.21.so").write_bytes(b"")
    (real / "libopenblas.so").symlink_to("libopenblasp-r0.3.21.so")
    alternatives = tmp_path / "etc" / "alternatives"
    alternatives.mkdir(parents=True)
    (alternatives / "libopenblas.so").symlink_to(real / "libopenblas.so")
    (alternatives / "libopenblas.so.0").symlink_to(real / "libopenblasp-r0.3.21.so")
    (tmp_path / "lib" / "libopenblas.so").symlink_to(alternatives / "libopenblas.so")
    (tmp_path / "lib" / "libopenblas.so.0").symlink_to(alternatives / "libopenblas.so.0")
    owners = {
        str(real / "libopenblas.so"): "libopenblas-pthread-dev:amd64",
        str(real / "libopenblasp-r0.3.21.so"): "libopenblas0-pthread:amd64",
    }

    asked: list[list[str]] = []
    MAINTAINER = "Debian Science Team <x@example.org>"

    def dpkg(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        asked.append(command)
        if command[1] == "-S":  # the paths dpkg knows, one line each; exit 1 if any not
            found = [f"{owners[path]}: {path}" for path in command[2:] if path in owners]
            return subprocess.CompletedProcess(command, 1, "\n".join(found) + "\n", "")
        lines = [
            f"{owner}\t{owner.split(':')[0]}\t0.3.21+ds-4\tamd64\t{MAINTAINER}"
            for owner in command[3:]
        ]
        return subprocess.CompletedProcess(command, 0, "\n".join(lines) + "\n", "")

    monkeypatch.setattr(system_packages, "run_captured", dpkg)
    monkeypatch.setattr(
        "srcstacks.tools.system_packages.shutil.which", lambda name: f"/usr/bin/{name}"
    )
    system_packages.forget_known_packages()
    both = system_packages.packages_of(
        [str(tmp_path / "lib" / "libopenblas.so"), str(tmp_path / "lib" / "libopenblas.so.0")]
    )
    assert [command[1] for command in asked] == ["-S", "-W"]  # one question each, for both
    system_packages.forget_known_packages()
    development = system_packages.package_of(str(tmp_path / "lib" / "libopenblas.so"))
    runtime = system_packages.package_of(str(tmp_path / "lib" / "libopenblas.so.0"))
    assert development is not None and development.name == "libopenblas-pthread-dev"
    assert runtime is not None and runtime.name == "libopenblas0-pthread"
    assert runtime.maintainer == "Debian Science Team <x@example.org>"
    assert both == {
        str(tmp_path / "lib" / "libopenblas.so"): development,
        str(tmp_path / "lib" / "libopenblas.so.0"): runtime,
    }
    system_packages.forget_known_packages()  # the next test asks this machine's dpkg
