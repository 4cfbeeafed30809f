"""The build environment one wheel was built in, as provenance and SBOMs record it.

Plain values only (no file access): the build tools installed into the wheel's build
environment (each a wheel built here from source, with its file name and sha256), the
compilers that wrote its compiled files (the ``.comment`` strings of its ELF files) and
the compiler variables the build settings and srcstacks put in force, with this
machine's paths replaced by fixed names, and the builder: the CPython version Fromager
ran on and Fromager's version (empty in records written before srcstacks kept them).
:mod:`srcstacks.tools.build_probe` gathers it inside Fromager, :mod:`srcstacks.wheel_sbom`
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
class BuildEnvironment:
    """Build tools (sorted by name), compiler strings (sorted), flags and builder of one
    build."""

    tools: tuple[BuildTool, ...] = ()
    compilers: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    python: str = ""  # X.Y.Z of the CPython Fromager ran on
    fromager: str = ""  # Fromager's version

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
        return cls(tools, compilers, env, python, fromager).normalised()

    def normalised(self) -> BuildEnvironment:
        """Tools sorted by name (then file name), compilers sorted and unique, env sorted."""
        return BuildEnvironment(
            tools=tuple(sorted(self.tools, key=lambda tool: (tool.name, tool.filename))),
            compilers=tuple(sorted(set(self.compilers))),
            env=dict(sorted(self.env.items())),
            python=self.python,
            fromager=self.fromager,
        )
