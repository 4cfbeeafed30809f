"""The layers of a venvstacks stack spec: their names, requirements and what they stand on.

Reads the parsed ``[[runtimes]]``, ``[[frameworks]]`` and ``[[applications]]`` tables
(see :mod:`srcstacks.config`, the only caller); each layer's text is checked by
:mod:`srcstacks.spec_rules` before it is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement

from srcstacks import spec_rules
from srcstacks.errors import ConfigError

LayerKind = Literal["runtime", "framework", "application"]
_SECTION_KINDS: dict[str, LayerKind] = {
    "runtimes": "runtime",
    "frameworks": "framework",
    "applications": "application",
}
# venvstacks' own prefixes for the deployed folder of each layer kind.
_ENV_PREFIX: dict[LayerKind, str] = {
    "runtime": "",
    "framework": "framework-",
    "application": "app-",
}


@dataclass(frozen=True)
class Layer:
    """One layer of the stack, as declared in the spec."""

    kind: LayerKind
    name: str
    requirements: tuple[Requirement, ...]
    # Env names of the layers this one is built on: its runtime, or its frameworks.
    depends_on: tuple[str, ...] = ()
    # Runtime layers only: venvstacks' ``python_implementation``, e.g. ``cpython@3.11.7``.
    python_implementation: str | None = None
    # Requirements whose marker is false wherever venvstacks locks (e.g. for an older
    # Python): venvstacks sees them in the spec, Fromager does not build them.
    left_out: tuple[Requirement, ...] = ()
    # Application layers only: launch_module and support_modules, relative to the spec's
    # folder (checked to stay inside it), as the archives stage copies them.
    modules: tuple[str, ...] = ()

    @property
    def built_requirements(self) -> tuple[Requirement, ...]:
        """The requirements Fromager builds: all but the :attr:`left_out` ones."""
        return tuple(req for req in self.requirements if req not in self.left_out)

    @property
    def env_name(self) -> str:
        """The folder venvstacks deploys this layer into (``framework-x``, ``app-y``)."""
        return _ENV_PREFIX[self.kind] + self.name

    @property
    def python_version(self) -> str | None:
        """``X.Y.Z`` of a runtime layer's interpreter."""
        if self.python_implementation is None:
            return None
        return self.python_implementation.partition("@")[2]


def parse_layers(spec_path: Path, data: Mapping[str, Any]) -> tuple[Layer, ...]:
    """Every layer of the spec, runtimes first, each checked; errors name file and layer."""
    layers: list[Layer] = []
    seen: set[tuple[str, LayerKind]] = set()
    for section, kind in _SECTION_KINDS.items():
        entries = data.get(section, [])
        if not isinstance(entries, list):
            raise ConfigError(f"{spec_path}: [[{section}]] must be an array of tables")
        for index, entry in enumerate(entries):
            where = f"{spec_path}: [[{section}]] #{index + 1}"
            if not isinstance(entry, Mapping):
                raise ConfigError(f"{where} must be a table")
            name = entry.get("name")
            if not isinstance(name, str) or not name:
                raise ConfigError(f"{where}: missing 'name'")
            spec_rules.check_layer_name(where, kind, name)
            where = f"{spec_path}: {kind} layer {name!r}"
            if (name, kind) in seen:
                raise ConfigError(f"{where} is defined twice")
            seen.add((name, kind))
            spec_rules.check_no_layer_indexes(where, entry)
            if kind == "application":
                spec_rules.check_module_paths(where, spec_path.parent, entry)
            layers.append(_parse_layer(where, kind, name, entry, layers))
    if not any(layer.kind == "runtime" for layer in layers):
        raise ConfigError(f"{spec_path}: the stack defines no [[runtimes]] layer")
    return _mark_left_out(spec_path, tuple(layers))


def _parse_layer(
    where: str, kind: LayerKind, name: str, entry: Mapping[str, Any], earlier: list[Layer]
) -> Layer:
    raw_requirements = entry.get("requirements", [])
    if not isinstance(raw_requirements, list) or not all(
        isinstance(item, str) for item in raw_requirements
    ):
        raise ConfigError(f"{where}: 'requirements' must be a list of strings")
    requirements: list[Requirement] = []
    for raw in raw_requirements:
        try:
            requirements.append(Requirement(raw))
        except InvalidRequirement as exc:
            # packaging's message adds lines pointing at the column; the first says it all.
            reason = str(exc).splitlines()[0]
            raise ConfigError(f"{where}: invalid requirement {raw!r}: {reason}") from None
    if kind == "runtime":
        implementation = spec_rules.check_python_implementation(
            where, entry.get("python_implementation")
        )
        return Layer(kind, name, tuple(requirements), (), implementation)
    modules = (
        (entry["launch_module"], *entry.get("support_modules", [])) if kind == "application" else ()
    )
    return Layer(
        kind,
        name,
        tuple(requirements),
        _parse_depends_on(where, entry, earlier),
        modules=tuple(str(module) for module in modules),
    )


def _mark_left_out(spec_path: Path, layers: tuple[Layer, ...]) -> tuple[Layer, ...]:
    """Check each requirement against its layer's target; note the ones never needed."""
    by_env_name = {layer.env_name: layer for layer in layers}
    marked: list[Layer] = []
    for layer in layers:
        runtime = layer
        while runtime.python_implementation is None:
            runtime = by_env_name[runtime.depends_on[0]]
        implementation = runtime.python_implementation
        where = f"{spec_path}: {layer.kind} layer {layer.name!r}"
        left_out = tuple(
            requirement
            for requirement in layer.requirements
            if not spec_rules.check_requirement(where, requirement, implementation)
        )
        marked.append(replace(layer, left_out=left_out))
    return tuple(marked)


def _parse_depends_on(
    where: str, entry: Mapping[str, Any], earlier: list[Layer]
) -> tuple[str, ...]:
    runtimes = {layer.name for layer in earlier if layer.kind == "runtime"}
    frameworks = {layer.name for layer in earlier if layer.kind == "framework"}
    runtime = entry.get("runtime")
    declared_frameworks = entry.get("frameworks")
    if runtime is not None and declared_frameworks is not None:
        raise ConfigError(f"{where}: give 'runtime' or 'frameworks', not both")
    if runtime is not None:
        if not isinstance(runtime, str):
            raise ConfigError(f"{where}: 'runtime' must be a layer name")
        if runtime not in runtimes:
            raise ConfigError(
                f"{where}: 'runtime' names unknown runtime layer {runtime!r}"
                f" (defined: {', '.join(sorted(runtimes)) or 'none'})"
            )
        return (runtime,)
    if isinstance(declared_frameworks, str):
        declared_frameworks = [declared_frameworks]
    if not isinstance(declared_frameworks, list) or not declared_frameworks:
        raise ConfigError(f"{where}: needs 'runtime' or a non-empty 'frameworks' list")
    for framework in declared_frameworks:
        if framework not in frameworks:
            raise ConfigError(
                f"{where}: 'frameworks' names unknown framework layer {framework!r}"
                f" (defined before it: {', '.join(sorted(frameworks)) or 'none'})"
            )
    return tuple(_ENV_PREFIX["framework"] + framework for framework in declared_frameworks)
