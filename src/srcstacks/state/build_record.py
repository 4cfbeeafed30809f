"""The build environment one wheel was built in, as provenance and SBOMs record it.

Plain values only (no file access): the build tools installed into the wheel's build
environment (each a wheel built here from source, with its file name and sha256), the
compilers that wrote its compiled files (the ``.comment`` strings of its ELF files) and
the compiler variables the build settings and srcstacks put in force, with this
machine's paths replaced by fixed names, and the builder: the CPython version Fromager
ran on and Fromager's version (empty in records written before srcstacks kept them),
and for a Rust extension the rustc and cargo that compiled it and their target. The
crates compiled into a Rust extension (:class:`Crate`) are what the wheel is made of,
not what built it: they sit beside the build environment in each record.
:mod:`srcstacks.tools.build_probe` gathers it inside Fromager, :mod:`srcstacks.state.wheel_sbom`
carries it in the wheel, publish copies it into ``provenance.json`` and verify compares
the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "version": self.version,
            "filename": self.filename,
            "sha256": self.sha256,
            "requirement_type": self.requirement_type,
        }


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
        return cls(tools, compilers, env, python, fromager, **rust).normalised()

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
        )
