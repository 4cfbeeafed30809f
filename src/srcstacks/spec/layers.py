"""The layers of a venvstacks stack spec: their names, requirements and what they stand on.

Reads the parsed ``[[runtimes]]``, ``[[frameworks]]`` and ``[[applications]]`` tables
(see :mod:`srcstacks.spec.config`, the only caller); each layer's text is checked by
:mod:`srcstacks.spec.rules` before it is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement

from srcstacks.errors import ConfigError
from srcstacks.spec import rules as spec_rules

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
    # Requirements whose marker is true only on platforms other than this machine's
    # (``dlltracer; sys_platform == "win32"``): not built here; locking needs their wheels
    # from a build host of such a platform.
    elsewhere: tuple[Requirement, ...] = ()
    # Application layers only: launch_module and support_modules, relative to the spec's
    # folder (checked to stay inside it), as the archives stage copies them.
    modules: tuple[str, ...] = ()
    # venvstacks' ``versioned``: the deployed folder and archive carry the lock version
    # (``framework-x@1``), read from venvstacks' metadata, never guessed here.
    versioned: bool = False
    # The platforms venvstacks builds this layer for: its ``platforms``, else those of
    # the layers below it (every platform venvstacks knows for a runtime).
    platforms: tuple[str, ...] = spec_rules.TARGET_PLATFORMS

    @property
    def built_requirements(self) -> tuple[Requirement, ...]:
        """The requirements Fromager builds: all but :attr:`left_out` and :attr:`elsewhere`."""
        skipped = (*self.left_out, *self.elsewhere)
        return tuple(req for req in self.requirements if req not in skipped)

    @property
    def built_here(self) -> bool:
        """Whether this machine's platform is one this layer is built for."""
        return spec_rules.BUILD_PLATFORM in self.platforms

    @property
    def elsewhere_note(self) -> str:
        """One line saying why this machine builds no archive of this layer."""
        if not self.platforms:
            return f"{self.env_name}: 'platforms' is empty; venvstacks builds it nowhere"
        return (
            f"{self.env_name}: platforms {', '.join(self.platforms)} only; left to a build"
            f" host of {'that platform' if len(self.platforms) == 1 else 'those platforms'}"
        )

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
    versioned = spec_rules.check_versioned(where, entry.get("versioned", False))
    if kind == "runtime":
        implementation = spec_rules.check_python_implementation(
            where, entry.get("python_implementation")
        )
        platforms = spec_rules.check_platforms(
            where, entry.get("platforms"), spec_rules.TARGET_PLATFORMS, "venvstacks"
        )
        return Layer(
            kind, name, tuple(requirements), (), implementation,
            versioned=versioned, platforms=platforms,
        )  # fmt: skip
    modules = (
        (entry["launch_module"], *entry.get("support_modules", [])) if kind == "application" else ()
    )
    depends_on = _parse_depends_on(where, entry, earlier)
    below = [layer for layer in earlier if layer.env_name in depends_on]
    # venvstacks builds a layer only where every layer below it is built.
    inherited = tuple(
        platform
        for platform in spec_rules.TARGET_PLATFORMS
        if all(platform in layer.platforms for layer in below)
    )
    return Layer(
        kind,
        name,
        tuple(requirements),
        depends_on,
        modules=tuple(str(module) for module in modules),
        versioned=versioned,
        platforms=spec_rules.check_platforms(
            where, entry.get("platforms"), inherited, "the layers below it"
        ),
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
        uses = {
            requirement: spec_rules.check_requirement(where, requirement, implementation)
            for requirement in layer.requirements
        }
        marked.append(
            replace(
                layer,
                left_out=tuple(req for req, use in uses.items() if use == "never"),
                elsewhere=tuple(req for req, use in uses.items() if use == "elsewhere"),
            )
        )
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
