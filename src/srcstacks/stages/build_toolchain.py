"""Which CPython builds a stack's wheels, and which one a ``pack`` runtime packs.

Reads the spec's runtime layers and ``[tool.srcstacks.runtime]``; finds interpreters on
this machine (:mod:`srcstacks.tools.toolchain`); writes only a toolchain folder in the
work dir (``toolchains/cpython-<X.Y.Z>/``) when the wheels' Python is not the one
running srcstacks.

The interpreter that will run the wheels builds them where srcstacks has it: a ``pack``
runtime's ``interpreter``; otherwise the CPython of exactly the runtime's version if this
machine has one, else one of the same ``X.Y`` (same ABI).
"""

from __future__ import annotations

from collections.abc import Callable

from srcstacks.config import Layer, StackConfig
from srcstacks.errors import ConfigError, RuntimeSourceError
from srcstacks.layout import Layout
from srcstacks.platforms import layer_python_version
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

Report = Callable[[str], None]


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


def stack_toolchain(config: StackConfig, report: Report) -> Toolchain:
    """The toolchain that builds this stack's wheels, installed if need be.

    One run builds the wheels of one Python ``X.Y``: a stack whose layers need several
    is refused, naming them.
    """
    pythons = wheel_pythons(config)
    if len(pythons) > 1:
        described = ", ".join(
            f"{minor} (layer {layer.name!r})" for minor, layer in sorted(pythons.items())
        )
        raise ConfigError(
            f"{config.spec_path}: layers need wheels for several Pythons: {described};"
            " one run builds the wheels of one Python version yet: split the stack"
        )
    here = running_interpreter()
    if not pythons or here.minor in pythons:
        return own_toolchain()
    minor, layer = next(iter(pythons.items()))
    runtime = runtime_of(config, layer)
    interpreter = runtime_interpreter(config, runtime, exact=False)
    layout = Layout.of(config)
    report(
        f"building the wheels of Python {minor} (runtime {runtime.name!r}) on CPython"
        f" {interpreter.version} at {interpreter.path}"
    )
    log = layout.log(f"toolchain-{interpreter.version}")
    toolchain = install_toolchain(layout.toolchain(interpreter.version), interpreter, log)
    report(f"  toolchain: {toolchain.python.parent.parent} (Fromager {toolchain.fromager_version})")
    return toolchain


def runtime_interpreter(config: StackConfig, runtime: Layer, *, exact: bool) -> Interpreter:
    """The CPython for ``runtime``: the spec's ``interpreter``, else one found here.

    ``exact``: of exactly the runtime's ``X.Y.Z`` (a packed runtime), else of its ``X.Y``
    at least. Raises a one-line error naming the versions this machine has.
    """
    wanted = runtime.python_version or ""
    minor = ".".join(wanted.split(".")[:2])
    named = config.runtime.interpreter
    if named:
        interpreter = probe(named)
        if interpreter is None:
            raise RuntimeSourceError(
                f"{config.spec_path}: [tool.srcstacks.runtime] interpreter {named!r} cannot be"
                " run as a CPython"
            )
        if interpreter.minor != minor:
            raise RuntimeSourceError(
                f"{config.spec_path}: runtime {runtime.name!r} is"
                f" {runtime.python_implementation}, but [tool.srcstacks.runtime] interpreter"
                f" {named!r} is Python {interpreter.version}: name a CPython {minor}"
            )
        return interpreter
    found = find_interpreter(minor, wanted) or (None if exact else find_interpreter(minor))
    if found is None:
        raise RuntimeSourceError(
            f"{config.spec_path}: runtime {runtime.name!r} is {runtime.python_implementation},"
            f" but this machine has no CPython {wanted if exact else minor} (found:"
            f" {', '.join(installed_pythons()) or 'none'}): install it, put"
            f" python{minor} on PATH, or set [tool.srcstacks.runtime] interpreter"
        )
    return found
