"""Which CPython builds a stack's wheels, and which one a ``pack`` runtime packs.

Reads the spec's runtime layers and ``[tool.srcstacks.runtime]``; finds interpreters on
this machine (:mod:`srcstacks.tools.toolchain`); writes only a toolchain folder in the
work dir (``toolchains/cpython-<X.Y.Z>/``) when the wheels' Python is not the one
running srcstacks. The layers are built in groups, one per Python ``X.Y`` their runtimes
are of (:func:`build_groups`), each by a toolchain of that ``X.Y``.

The interpreter that will run the wheels builds them where srcstacks has it: a ``pack``
runtime's ``interpreter``; otherwise the CPython of exactly the runtime's version if this
machine has one, else one of the same ``X.Y`` (same ABI).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from srcstacks.errors import RuntimeSourceError
from srcstacks.layout import Layout
from srcstacks.layout.fromager import FromagerDirs
from srcstacks.reporting import Report
from srcstacks.spec.config import Layer, StackConfig
from srcstacks.spec.platforms import layer_python_version
from srcstacks.tools.toolchain import (
    Interpreter,
    Toolchain,
    find_interpreter,
    install_toolchain,
    installed_pythons,
    own_toolchain,
    probe,
    running_interpreter,
)


def wheel_pythons(config: StackConfig) -> dict[str, Layer]:
    """``X.Y`` of every runtime some layer builds wheels for, with the first such layer."""
    found: dict[str, Layer] = {}
    for layer in config.layers:
        if layer.built_requirements:
            found.setdefault(layer_python_version(config, layer), layer)
    return found


def runtime_of(config: StackConfig, layer: Layer) -> Layer:
    """The runtime layer ``layer`` runs on (itself, for a runtime)."""
    return next(item for item in config.stack_of(layer) if item.kind == "runtime")


@dataclass(frozen=True)
class BuildGroup:
    """The layers whose wheels are for one Python ``X.Y``, and their Fromager folders."""

    python: str  # X.Y
    layers: tuple[Layer, ...]
    dirs: FromagerDirs

    @property
    def requirements(self) -> list[str]:
        """Its layers' built requirements, de-duplicated, in spec order."""
        return requirements_of(self.layers)


def requirements_of(layers: Sequence[Layer]) -> list[str]:
    """The built requirements of ``layers``, de-duplicated, in spec order.

    Requirements whose marker is false wherever venvstacks locks are left out.
    """
    seen: dict[str, None] = {}
    for layer in layers:
        for requirement in layer.built_requirements:
            seen.setdefault(str(requirement), None)
    return list(seen)


def build_groups(config: StackConfig) -> list[BuildGroup]:
    """One group per Python the stack builds wheels for, sorted by version.

    A stack of one keeps Fromager's folders where they always were
    (``<variant>/fromager/wheels-repo``...); with several, each has its own.
    """
    layout = Layout.of(config)
    by_python: dict[str, list[Layer]] = {}
    for layer in config.layers:
        if layer.built_requirements:
            by_python.setdefault(layer_python_version(config, layer), []).append(layer)
    several = len(by_python) > 1
    return [
        BuildGroup(python, tuple(layers), layout.fromager_for(python if several else ""))
        for python, layers in sorted(by_python.items(), key=lambda item: _release(item[0]))
    ]


def fromager_dirs_of(config: StackConfig) -> list[FromagerDirs]:
    """Every Fromager folder set of the stack (the one of a stack with nothing to build)."""
    return [group.dirs for group in build_groups(config)] or [Layout.of(config).fromager]


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def group_toolchain(config: StackConfig, group: BuildGroup, report: Report) -> Toolchain:
    """The toolchain that builds ``group``'s wheels, installed if need be."""
    if running_interpreter().minor == group.python:
        return own_toolchain()
    runtime = runtime_of(config, group.layers[0])
    interpreter = runtime_interpreter(config, runtime, exact=False)
    layout = Layout.of(config)
    report(
        f"building the wheels of Python {group.python} (runtime {runtime.name!r}) on CPython"
        f" {interpreter.version} at {interpreter.path}"
    )
    log = layout.log(f"toolchain-{interpreter.version}")
    toolchain = install_toolchain(layout.toolchain(interpreter.version), interpreter, log)
    report(f"  toolchain: {toolchain.python.parent.parent} (Fromager {toolchain.fromager_version})")
    return toolchain


def check_packed_runtimes(config: StackConfig) -> None:
    """Stop before anything is built when a runtime to pack from this machine's CPython
    has no interpreter of its exact version here (the lock stage, which packs it, would
    stop only after every wheel was built)."""
    for layer in config.layers_of("runtime"):
        if config.runtime_of(layer).kind == "pack":
            runtime_interpreter(config, layer, exact=True)


def runtime_interpreter(config: StackConfig, runtime: Layer, *, exact: bool) -> Interpreter:
    """The CPython for ``runtime``: the spec's ``interpreter``, else one found here.

    ``exact``: of exactly the runtime's ``X.Y.Z`` (a packed runtime), else of its ``X.Y``
    at least. Raises a one-line error naming the versions this machine has.
    """
    wanted = runtime.python_version or ""
    minor = ".".join(wanted.split(".")[:2])
    named = config.runtime_of(runtime).interpreter
    # A stack of several runtimes names each one's interpreter in a table of its own.
    several = len(config.layers_of("runtime")) > 1
    key = f'[tool.srcstacks.runtime."{runtime.name}"]' if several else "[tool.srcstacks.runtime]"
    if named:
        interpreter = probe(named)
        if interpreter is None:
            raise RuntimeSourceError(
                f"{config.spec_path}: {key} interpreter {named!r} cannot be run as a CPython"
            )
        if interpreter.minor != minor:
            raise RuntimeSourceError(
                f"{config.spec_path}: runtime {runtime.name!r} is"
                f" {runtime.python_implementation}, but {key} interpreter"
                f" {named!r} is Python {interpreter.version}: name a CPython {minor}"
            )
        return interpreter
    found = find_interpreter(minor, wanted) or (None if exact else find_interpreter(minor))
    if found is None:
        raise RuntimeSourceError(
            f"{config.spec_path}: runtime {runtime.name!r} is {runtime.python_implementation},"
            f" but this machine has no CPython {wanted if exact else minor} (found:"
            f" {', '.join(installed_pythons()) or 'none'}): install it, put"
            f" python{minor} on PATH, or set {key} interpreter"
        )
    return found
