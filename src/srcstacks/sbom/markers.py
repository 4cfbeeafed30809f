"""Which ``Requires-Dist`` entries apply to a layer: markers evaluated for its target.

A layer archive is built for one Python and one platform (venvstacks records both in
the layer's metadata), not for the machine generating the SBOM, so the marker
environment is made from those two values instead of from the running interpreter.
Extras count too: ``jinja2[i18n]`` pulls in Babel only when something asks for
``i18n``, so the extras each distribution is asked for are worked out first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from srcstacks.errors import SbomError

# platform tag prefix -> (sys_platform, platform_system, os_name)
_PLATFORMS = {
    "linux": ("linux", "Linux", "posix"),
    "manylinux": ("linux", "Linux", "posix"),
    "musllinux": ("linux", "Linux", "posix"),
    "macosx": ("darwin", "Darwin", "posix"),
    "win": ("win32", "Windows", "nt"),
}
_WINDOWS_MACHINES = {"amd64": "AMD64", "arm64": "ARM64", "32": "x86"}


@dataclass(frozen=True)
class RequiredDist:
    """One applicable requirement of a distribution (or of the layer itself)."""

    name: str  # canonical project name of the required distribution
    extras: tuple[str, ...]
    requirement: str  # as written in Requires-Dist or the spec, for messages


# Applicable dependencies of each distribution, extras each is asked for, and the
# applicable requirements of the layer itself.
Resolution = tuple[
    dict[str, tuple[RequiredDist, ...]], dict[str, frozenset[str]], tuple[RequiredDist, ...]
]


def marker_environment(python_implementation: str, target_platform: str) -> dict[str, str]:
    """The PEP 508 marker environment of ``cpython@3.11.7`` on ``linux_x86_64``."""
    implementation, _, full_version = python_implementation.partition("@")
    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", full_version):
        raise SbomError(f"cannot tell the Python version of {python_implementation!r}")
    prefix, _, rest = target_platform.partition("_")
    if prefix not in _PLATFORMS or not rest:
        raise SbomError(
            f"unknown target platform {target_platform!r}: cannot evaluate requirement markers"
        )
    sys_platform, platform_system, os_name = _PLATFORMS[prefix]
    if prefix == "win":
        machine = _WINDOWS_MACHINES.get(rest, rest)
    else:  # the machine is the tag's last part, and x86_64 holds an underscore itself
        machine = "x86_64" if rest.endswith("x86_64") else rest.rsplit("_", 1)[-1]
    name = implementation.lower() or "cpython"
    return {
        "implementation_name": name,
        "implementation_version": full_version,
        "platform_python_implementation": {"cpython": "CPython", "pypy": "PyPy"}.get(name, name),
        "python_version": ".".join(full_version.split(".")[:2]),
        "python_full_version": full_version,
        "os_name": os_name,
        "sys_platform": sys_platform,
        "platform_system": platform_system,
        "platform_machine": machine,
        # Not knowable from a platform tag; markers on them evaluate against "".
        "platform_release": "",
        "platform_version": "",
    }


def resolve(
    requires: Mapping[str, Iterable[str]],
    roots: Iterable[str],
    environment: Mapping[str, str],
) -> Resolution:
    """Work out the dependency edges among a layer's distributions.

    ``requires`` maps each distribution in the layer (canonical name) to its
    ``Requires-Dist``; ``roots`` are the layer's own requirements from the spec.
    Returns the applicable dependencies of each distribution, the extras each one is
    asked for, and the applicable root requirements.
    """
    parsed = {name: [_parse(text, name) for text in texts] for name, texts in requires.items()}
    root_requirements = [_parse(text, "the layer") for text in roots]
    extras: dict[str, set[str]] = {name: set() for name in parsed}
    while True:  # extras can switch on requirements that ask for more extras
        before = {name: set(values) for name, values in extras.items()}
        _request_extras(root_requirements, frozenset(), environment, extras)
        for name, requirements in parsed.items():
            _request_extras(requirements, frozenset(extras[name]), environment, extras)
        if extras == before:
            break
    edges = {
        name: _applicable(requirements, frozenset(extras[name]), environment, skip=name)
        for name, requirements in parsed.items()
    }
    frozen = {name: frozenset(values) for name, values in extras.items()}
    return edges, frozen, _applicable(root_requirements, frozenset(), environment, skip="")


def _parse(text: str, owner: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        raise SbomError(f"{owner}: invalid requirement {text!r}: {exc}") from None


def _applies(requirement: Requirement, extras: frozenset[str], env: Mapping[str, str]) -> bool:
    if requirement.marker is None:
        return True
    try:
        return any(
            requirement.marker.evaluate({**env, "extra": extra}) for extra in ["", *sorted(extras)]
        )
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName) as exc:
        raise SbomError(f"cannot evaluate the marker of {str(requirement)!r}: {exc}") from None


def _request_extras(
    requirements: list[Requirement],
    own_extras: frozenset[str],
    env: Mapping[str, str],
    extras: dict[str, set[str]],
) -> None:
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name in extras and _applies(requirement, own_extras, env):
            extras[name].update(canonicalize_name(extra) for extra in requirement.extras)


def _applicable(
    requirements: list[Requirement], extras: frozenset[str], env: Mapping[str, str], skip: str
) -> tuple[RequiredDist, ...]:
    found: dict[str, RequiredDist] = {}
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        if name == skip or not _applies(requirement, extras, env):
            continue  # a project asking for its own extras is no edge
        wanted: set[str] = {canonicalize_name(extra) for extra in requirement.extras}
        if name in found:
            wanted |= set(found[name].extras)
        found[name] = RequiredDist(name, tuple(sorted(wanted)), str(requirement))
    return tuple(found[name] for name in sorted(found))
