"""The build environment one wheel was built in, as provenance and SBOMs record it.

Plain values only (no file access): the build tools installed into the wheel's build
environment (each a wheel built here from source, with its file name and sha256), the
compilers that wrote its compiled files (the ``.comment`` strings of its ELF files) and
the compiler variables the build settings and srcstacks put in force, with this
machine's paths replaced by fixed names, and the builder: the CPython version Fromager
ran on and Fromager's version (empty in records written before srcstacks kept them),
and for a Rust extension the rustc and cargo that compiled it and their target, and for a
compiled wheel the system packages (deb, rpm) the build used (:class:`SystemPackage`). The
crates compiled into a Rust extension (:class:`Crate`) are what the wheel is made of,
not what built it: they sit beside the build environment in each record.
:mod:`srcstacks.tools.build_probe` gathers it inside Fromager, :mod:`srcstacks.state.wheel_sbom`
carries it in the wheel, publish copies it into ``provenance.json`` and verify compares
the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from packageurl import PackageURL

# Fromager's three steps of preparing a build environment, in the order it runs them.
REQUIREMENT_TYPES = ("build-system", "build-backend", "build-sdist")


@dataclass(frozen=True)
class BuildTool:
    """One distribution installed in the build environment, as the wheel it came from.

    ``requirement_type`` is the step that installed it: ``build-system``,
    ``build-backend`` or ``build-sdist`` (a dependency of a requirement of that step
    counts as that step's).
    """

    name: str
    version: str
    filename: str
    sha256: str
    requirement_type: str
    # The wheel's SHA-512 beside its SHA-256 (the SBOM's formulation gives both); empty
    # in records written before srcstacks kept it.
    sha512: str = ""

    def to_dict(self) -> dict[str, str]:
        found = {
            "name": self.name,
            "version": self.version,
            "filename": self.filename,
            "sha256": self.sha256,
            "requirement_type": self.requirement_type,
        }
        if self.sha512:
            found["sha512"] = self.sha512
        return found


@dataclass(frozen=True)
class Crate:
    """One Rust crate from a registry compiled into a wheel, as its ``Cargo.lock`` pins it.

    ``sha256`` is the lock file's checksum of the ``.crate`` file, ``license`` the
    crate's own SPDX expression (empty when it declares only a file), ``depends_on``
    the crates (``name@version``) it needs on this platform, ``direct`` whether the
    project's own code asks for it, and ``patches`` the stack's patches (paths inside its
    patches folder) applied to the crate after it was fetched: ``sha256`` is then the
    checksum of the crate as fetched, before them.
    """

    name: str
    version: str
    sha256: str
    license: str
    registry: str
    depends_on: tuple[str, ...] = ()
    direct: bool = False
    patches: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def purl(self) -> str:
        return f"pkg:cargo/{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "license": self.license,
            "registry": self.registry,
            "depends_on": list(self.depends_on),
            "direct": self.direct,
        } | ({"patches": list(self.patches)} if self.patches else {})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Crate:
        """Read the JSON form; raises TypeError, KeyError or ValueError when malformed."""
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            sha256=str(data["sha256"]),
            license=str(data.get("license", "")),
            registry=str(data.get("registry", "")),
            depends_on=tuple(str(item) for item in data.get("depends_on", ())),
            direct=bool(data.get("direct", False)),
            patches=tuple(str(item) for item in data.get("patches", ())),
        )


# Why a build used a system package (:class:`SystemPackage`).
COMPILER = "compiler"  # it installs a compiler that wrote the wheel's compiled files
LINKER = "linker"  # it installs the linker that linked them (``ld``)
DEVELOPMENT = "development"  # its link-time file (and headers) the build linked with
RUNTIME = "runtime"  # the library the compiled files load: a deploy host needs it too
SYSTEM_PACKAGE_ROLES = (COMPILER, LINKER, DEVELOPMENT, RUNTIME)


@dataclass(frozen=True)
class SystemPackage:
    """A package of the build host's package manager (deb, rpm) a build used, at the
    version installed when it ran, and why (``roles``, from :data:`SYSTEM_PACKAGE_ROLES`).

    ``maintainer`` is who the distribution says maintains it. ``provides`` names what
    the build used it for: the sonames it provided
    (``libz.so.1``), the link-time files (``libz.so``), the commands (``gcc``,
    ``x86_64-linux-gnu-gcc-12``, ``ld``). ``distribution`` and ``release`` are the
    host's (``/etc/os-release``: "debian", "bookworm"): a package name and version mean
    something only within them.
    """

    name: str
    version: str
    architecture: str
    manager: str  # "deb" or "rpm"
    roles: tuple[str, ...]
    distribution: str = ""
    release: str = ""
    provides: tuple[str, ...] = ()
    # Who the distribution says maintains it ("GNU Libc Maintainers <debian-glibc@...>"):
    # the package's supplier in an SBOM.
    maintainer: str = ""

    @property
    def purl(self) -> str:
        """``pkg:deb/debian/gcc-12@12.2.0-14%2Bdeb12u1?arch=amd64&distro=bookworm``."""
        qualifiers = {"arch": self.architecture, "distro": self.release}
        return PackageURL(
            self.manager,
            self.distribution or None,
            self.name,
            self.version,
            {key: value for key, value in qualifiers.items() if value},
        ).to_string()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "architecture": self.architecture,
            "manager": self.manager,
            "roles": list(self.roles),
        } | {key: getattr(self, key) for key in ("distribution", "release", "maintainer")
             if getattr(self, key)} | ({"provides": list(self.provides)} if self.provides else {}
        )  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SystemPackage:
        """Read the JSON form; raises TypeError, KeyError or ValueError when malformed."""
        roles = tuple(str(role) for role in data["roles"])
        if unknown := set(roles) - set(SYSTEM_PACKAGE_ROLES):
            raise ValueError(f"unknown system package role(s) {sorted(unknown)}")
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            architecture=str(data.get("architecture", "")),
            manager=str(data["manager"]),
            roles=tuple(sorted(set(roles))),
            distribution=str(data.get("distribution", "")),
            release=str(data.get("release", "")),
            provides=tuple(sorted({str(item) for item in data.get("provides", ())})),
            maintainer=str(data.get("maintainer", "")),
        )


@dataclass(frozen=True)
class BuildEnvironment:
    """Build tools (sorted by name), compiler strings (sorted), flags and builder of one
    build."""

    tools: tuple[BuildTool, ...] = ()
    compilers: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    python: str = ""  # X.Y.Z of the CPython Fromager ran on
    fromager: str = ""  # Fromager's version
    rustc: str = ""  # "1.95.0 (59807616e 2026-04-14)", for a build that compiled crates
    cargo: str = ""
    rust_target: str = ""  # the target triple: "x86_64-unknown-linux-gnu"
    # The system packages a compiled build used (sorted by manager, name, architecture);
    # none for a pure-Python wheel, or a host whose package manager cannot say.
    system_packages: tuple[SystemPackage, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "tools": [tool.to_dict() for tool in self.tools],
            "compilers": list(self.compilers),
            "env": dict(sorted(self.env.items())),
        }
        if self.python:
            found["python"] = self.python
        if self.fromager:
            found["fromager"] = self.fromager
        for key in ("rustc", "cargo", "rust_target"):
            if getattr(self, key):
                found[key] = getattr(self, key)
        if self.system_packages:  # records without any keep the bytes they always had
            found["system_packages"] = [package.to_dict() for package in self.system_packages]
        return found

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BuildEnvironment:
        """Read the JSON form; raises TypeError, KeyError or ValueError when malformed."""
        if not isinstance(data, dict):
            raise TypeError(f"build_environment must be an object, not {type(data).__name__}")
        tools = tuple(BuildTool(**tool) for tool in data.get("tools", ()))
        compilers = tuple(str(item) for item in data.get("compilers", ()))
        env = {str(key): str(value) for key, value in dict(data.get("env", {})).items()}
        python, fromager = str(data.get("python", "")), str(data.get("fromager", ""))
        rust = {key: str(data.get(key, "")) for key in ("rustc", "cargo", "rust_target")}
        listed = data.get("system_packages", ())
        packages = tuple(SystemPackage.from_dict(item) for item in listed)
        return cls(tools, compilers, env, python, fromager, **rust, system_packages=packages
                   ).normalised()  # fmt: skip

    def normalised(self) -> BuildEnvironment:
        """Tools sorted by name (then file name), compilers sorted and unique, env sorted."""
        return BuildEnvironment(
            tools=tuple(sorted(self.tools, key=lambda tool: (tool.name, tool.filename))),
            compilers=tuple(sorted(set(self.compilers))),
            env=dict(sorted(self.env.items())),
            python=self.python,
            fromager=self.fromager,
            rustc=self.rustc,
            cargo=self.cargo,
            rust_target=self.rust_target,
            system_packages=tuple(sorted(set(self.system_packages), key=_package_order)),
        )


def _package_order(package: SystemPackage) -> tuple[str, str, str, str]:
    return (package.manager, package.name, package.architecture, package.version)
