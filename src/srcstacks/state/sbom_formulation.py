"""CycloneDX 1.6 ``formulation``: how each wheel was built, and with what.

cyclonedx-python-lib 11 has no model for ``formulation``, so this module writes it as
plain JSON, added to a finished document (:func:`add_formulation`, called by
:mod:`.document` for a layer's SBOM; :mod:`srcstacks.state.wheel_sbom` for the SBOM inside a
wheel). No file access. One formula per built wheel:

- ``components``: each build tool as the wheel installed in its build environment
  (name, version, ``pkg:pypi`` purl with ``file_name``, SHA-256 and SHA-512, the step that installed
  it, and ``srcstacks:wheel``: its own entry in ``provenance.json``, keyed by that file
  name), each compiler whose version string the wheel's ELF files carry, and the builder:
  the CPython Fromager ran on and Fromager itself, and for a Rust extension rustc (with
  its target triple) and cargo (``srcstacks:builder``: ``python``, ``fromager``,
  ``rustc`` or ``cargo``; ``srcstacks:builder_version`` the whole version when it says
  more than the version number, as rustc's commit and date), and each system package
  the build used (``pkg:deb`` or ``pkg:rpm`` purl with its architecture and the host's
  release; ``srcstacks:system_package:roles``: ``compiler``, ``linker``,
  ``development``, ``runtime``; ``:provides``: the sonames, files and commands it was
  used for, :mod:`srcstacks.tools.build_packages`);
- ``workflows``: one ``build`` workflow whose output is the wheel's component, whose
  resources are those tools and compilers, and whose input is the build's environment
  variables (with this machine's paths replaced by fixed names).

:func:`environment_of` reads a formula back, so verify can compare an SBOM inside a
wheel with the provenance record of that wheel.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from email.utils import parseaddr
from typing import Any
from urllib.parse import quote

from srcstacks.state.build_record import (
    DEVELOPMENT,
    RUNTIME,
    BuildEnvironment,
    BuildTool,
    SystemPackage,
)

NS = "srcstacks"
_VERSION = re.compile(r"(\d+(?:\.\d+)+)")


def tool_purl(tool: BuildTool) -> str:
    """``pkg:pypi/<name>@<version>?file_name=<wheel>``."""
    version = quote(tool.version, safe=".+!")
    return f"pkg:pypi/{tool.name}@{version}?file_name={quote(tool.filename)}"


def formula(
    subject_ref: str, title: str, environment: BuildEnvironment, builder: str = "Fromager"
) -> dict[str, Any]:
    """The formula of one thing built here (a wheel, by Fromager; a CPython, by its own
    ``configure`` and ``make``) whose component has bom-ref ``subject_ref``."""
    base = f"build:{subject_ref}"
    tools = [_tool_component(base, tool) for tool in environment.tools]
    compilers = [
        _compiler_component(f"{base}:compiler:{index}", text)
        for index, text in enumerate(environment.compilers)
    ]
    compilers += _builder_components(base, environment)
    compilers += [_system_package_component(base, item) for item in environment.system_packages]
    workflow: dict[str, Any] = {
        "bom-ref": base,
        "uid": base,
        "name": f"build {title} from source with {builder}",
        "taskTypes": ["build"],
    }
    resources = [{"ref": part["bom-ref"]} for part in [*tools, *compilers]]
    if resources:
        workflow["resourceReferences"] = resources
    if environment.env:
        env = sorted(environment.env.items())
        variables = [{"name": key, "value": value} for key, value in env]
        workflow["inputs"] = [{"environmentVars": variables}]
    workflow["outputs"] = [{"resource": {"ref": subject_ref}}]
    found: dict[str, Any] = {"bom-ref": f"formula:{subject_ref}"}
    if tools or compilers:
        found["components"] = [*tools, *compilers]
    found["workflows"] = [workflow]
    return found


def _tool_component(base: str, tool: BuildTool) -> dict[str, Any]:
    return {
        "type": "library",
        "bom-ref": f"{base}:tool:{tool.filename}",
        "name": tool.name,
        "version": tool.version,
        "hashes": [
            {"alg": alg, "content": digest}
            for alg, digest in (("SHA-256", tool.sha256), ("SHA-512", tool.sha512))
            if digest
        ],
        "purl": tool_purl(tool),
        "properties": [
            {"name": f"{NS}:requirement_type", "value": tool.requirement_type},
            # Its own provenance: the entry of provenance.json keyed by this file name,
            # and the SBOM inside that wheel (.dist-info/sboms/).
            {"name": f"{NS}:wheel", "value": tool.filename},
        ],
    }


def _builder_components(base: str, environment: BuildEnvironment) -> list[dict[str, Any]]:
    """The CPython Fromager ran on, Fromager, rustc and cargo, where the record names them."""
    builders = (
        ("python", "CPython", "pkg:generic/cpython", environment.python),
        ("fromager", "fromager", "pkg:pypi/fromager", environment.fromager),
        ("rustc", "rustc", "pkg:generic/rustc", environment.rustc),
        ("cargo", "cargo", "pkg:generic/cargo", environment.cargo),
    )
    found = []
    for role, name, purl, whole in builders:
        if not whole:
            continue
        version = whole.split(" ", 1)[0]
        properties = [{"name": f"{NS}:builder", "value": role}]
        if whole != version:
            properties.append({"name": f"{NS}:builder_version", "value": whole})
        if role == "rustc" and environment.rust_target:
            properties.append({"name": f"{NS}:rust_target", "value": environment.rust_target})
        found.append({
            "type": "application",
            "bom-ref": f"{base}:builder:{role}",
            "name": name,
            "version": version,
            "purl": f"{purl}@{quote(version, safe='.')}",
            "properties": properties,
        })  # fmt: skip
    return found


def _system_package_component(base: str, package: SystemPackage) -> dict[str, Any]:
    """A package of the build host's package manager the build used (``pkg:deb``)."""
    roles = " ".join(package.roles)
    return {
        "type": "library" if {DEVELOPMENT, RUNTIME} & set(package.roles) else "application",
        "bom-ref": f"{base}:system:{package.manager}:{package.name}:{package.architecture}",
        "name": package.name,
        "version": package.version,
        "description": f"{package.manager} package of the build host ({roles})",
        **({"supplier": maintainer_entity(package.maintainer)} if package.maintainer else {}),
        "purl": package.purl,
        "properties": [
            {"name": f"{NS}:system_package:roles", "value": roles},
            {"name": f"{NS}:system_package:architecture", "value": package.architecture},
            {"name": f"{NS}:system_package:manager", "value": package.manager},
            *[{"name": f"{NS}:system_package:{key}", "value": getattr(package, key)}
              for key in ("distribution", "release", "maintainer") if getattr(package, key)],
            *([{"name": f"{NS}:system_package:provides", "value": " ".join(package.provides)}]
              if package.provides else []),
        ],
    }  # fmt: skip


def maintainer_entity(maintainer: str) -> dict[str, Any]:
    """A CycloneDX organizational entity (JSON) from ``Name <email>``."""
    name, email = parseaddr(maintainer)
    entity: dict[str, Any] = {"name": name or maintainer}
    if email and "@" in email:
        entity["contact"] = [{"email": email}]
    return entity


def _compiler_component(ref: str, text: str) -> dict[str, Any]:
    """A compiler from one ``.comment`` string: ``GCC: (Debian 12.2.0-14) 12.2.0``."""
    name = text.split(":", 1)[0].strip() if ":" in text else text.split(" ", 1)[0]
    versions = _VERSION.findall(text)
    component: dict[str, Any] = {"type": "application", "bom-ref": ref, "name": name or text}
    if versions:
        component["version"] = versions[-1]
    component["description"] = text
    component["properties"] = [{"name": f"{NS}:elf_comment", "value": text}]
    return component


def environment_of(found: dict[str, Any]) -> BuildEnvironment:
    """The build environment a formula written by :func:`formula` describes.

    Raises KeyError, TypeError or ValueError on a formula of another shape.
    """
    tools: list[BuildTool] = []
    compilers: list[str] = []
    builder: dict[str, str] = {}
    system: list[SystemPackage] = []
    for component in found.get("components", []):
        values = {item["name"]: item["value"] for item in component.get("properties", [])}
        if f"{NS}:system_package:roles" in values:
            system.append(_system_package_of(component, values))
        elif f"{NS}:builder" in values:
            whole = values.get(f"{NS}:builder_version", component["version"])
            builder[values[f"{NS}:builder"]] = str(whole)
            if f"{NS}:rust_target" in values:
                builder["rust_target"] = str(values[f"{NS}:rust_target"])
        elif component["type"] == "library":
            hashes = component["hashes"]
            digests = {item["alg"]: item["content"] for item in hashes}
            tools.append(
                BuildTool(
                    name=component["name"],
                    version=component["version"],
                    filename=values[f"{NS}:wheel"],
                    sha256=digests["SHA-256"],
                    requirement_type=values[f"{NS}:requirement_type"],
                    sha512=digests.get("SHA-512", ""),
                )
            )
        else:
            compilers.append(values[f"{NS}:elf_comment"])
    env: dict[str, str] = {}
    for workflow in found.get("workflows", []):
        for given in workflow.get("inputs", []):
            for variable in given.get("environmentVars", []):
                env[str(variable["name"])] = str(variable["value"])
    return BuildEnvironment(
        tools=tuple(tools),
        compilers=tuple(compilers),
        env=env,
        python=builder.get("python", ""),
        fromager=builder.get("fromager", ""),
        rustc=builder.get("rustc", ""),
        cargo=builder.get("cargo", ""),
        rust_target=builder.get("rust_target", ""),
        system_packages=tuple(system),
    ).normalised()


def _system_package_of(component: dict[str, Any], values: dict[str, Any]) -> SystemPackage:
    prefix = f"{NS}:system_package:"
    return SystemPackage.from_dict({
        "name": component["name"],
        "version": component["version"],
        "roles": str(values[f"{prefix}roles"]).split(),
        "provides": str(values.get(f"{prefix}provides", "")).split(),
        **{key: values.get(f"{prefix}{key}", "")
           for key in ("architecture", "manager", "distribution", "release", "maintainer")},
    })  # fmt: skip


# A built component's bom-ref, title, build environment and, when not Fromager, builder.
Built = tuple[str, str, BuildEnvironment] | tuple[str, str, BuildEnvironment, str]


def add_formulation(text: str, built: Iterable[Built]) -> str:
    """``text`` (a finished CycloneDX JSON document) with a formula per built wheel.

    ``built`` gives each component's bom-ref, a title (``name version``), its build
    environment and, after them, what built it when not Fromager; wheels whose
    provenance records none are left out. The document's own key order and layout are
    kept; ``formulation`` goes last.
    """
    formulas = [formula(*item) for item in sorted(built, key=lambda item: item[0])]
    if not formulas:
        return text
    document = json.loads(text)
    document["formulation"] = formulas
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
