"""Which build tools made each wheel, from the best record there is.

Reads the wheel dir's ``provenance.json`` (as JSON, so a record with or without the
``build_environment`` key reads the same) and, when a record has no build environment,
Fromager's ``graph.json`` in the work dir: its ``build-system``, ``build-backend`` and
``build-sdist`` edges name each tool and version (the tool wheel's sha256 then comes
from its own provenance record; the flags from the record's ``build_env``; compilers
are then not recorded). Neither file: "not recorded". Writes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name, canonicalize_version

from srcstacks.errors import ProvenanceError
from srcstacks.report.model import NOT_RECORDED, BuildTool, BuildTools

BUILD_EDGES = ("build-system", "build-backend", "build-sdist")
FROM_PROVENANCE = "provenance"
FROM_GRAPH = "Fromager's graph.json"


class BuildToolsIndex:
    """Looks up the build environment of a wheel by file name, project and version."""

    def __init__(self, provenance: dict[str, Any], graph: dict[str, Any]) -> None:
        self._records = {
            str(name): record
            for name, record in _mapping(provenance.get("wheels")).items()
            if isinstance(record, dict)
        }
        self._graph = graph

    @classmethod
    def read(cls, provenance_path: Path, graph_path: Path) -> BuildToolsIndex:
        """Read both files; a graph that is missing or unreadable counts as no graph.

        A missing or unreadable provenance manifest is an error naming it.
        """
        try:
            provenance = json.loads(provenance_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ProvenanceError(
                f"{provenance_path}: no provenance manifest (run 'srcstacks publish-wheels')"
            ) from None
        except (OSError, ValueError) as exc:
            raise ProvenanceError(
                f"{provenance_path}: unreadable provenance manifest: {exc}"
            ) from None
        return cls(_mapping(provenance), _read_json(graph_path))

    def tools_for(self, wheel: str, project: str, version: str) -> BuildTools:
        """The build environment of ``wheel``, from the best record available."""
        record = self._records.get(wheel, {})
        environment = _mapping(record.get("build_environment"))
        if environment:
            return _from_provenance(environment)
        # Records without a build environment still hold the flags (``build_env``).
        flags = _env(record["build_env"]) if isinstance(record.get("build_env"), dict) else None
        edges = self._graph_edges(project, version)
        if edges is not None:
            tools = tuple(self._tool_from_edge(edge) for edge in edges)
            return BuildTools(FROM_GRAPH, tools, env=flags)
        return BuildTools(NOT_RECORDED, env=flags)

    def _graph_edges(self, project: str, version: str) -> list[dict[str, Any]] | None:
        key = f"{canonicalize_name(project)}=={version}"
        node = self._graph.get(key)
        if not isinstance(node, dict):
            wanted = (canonicalize_name(project), canonicalize_version(version))
            node = next(
                (
                    item
                    for item in self._graph.values()
                    if isinstance(item, dict)
                    and (
                        canonicalize_name(str(item.get("canonicalized_name", ""))),
                        canonicalize_version(str(item.get("version", ""))),
                    )
                    == wanted
                ),
                None,
            )
        if node is None:
            return None
        edges = [_mapping(edge) for edge in _list(node.get("edges"))]
        return sorted(
            (edge for edge in edges if edge.get("req_type") in BUILD_EDGES),
            key=lambda edge: (str(edge.get("key", "")), str(edge.get("req_type", ""))),
        )

    def _tool_from_edge(self, edge: dict[str, Any]) -> BuildTool:
        name, _, version = str(edge.get("key", "")).partition("==")
        node = _mapping(self._graph.get(str(edge.get("key", ""))))
        version = str(node.get("version", version))
        return BuildTool(
            name, version, str(edge.get("req_type", "")), self._sha256_of(name, version)
        )

    def _sha256_of(self, project: str, version: str) -> str:
        wanted = (canonicalize_name(project), canonicalize_version(version))
        found = sorted(
            str(record.get("sha256", ""))
            for record in self._records.values()
            if (
                canonicalize_name(str(record.get("project", ""))),
                canonicalize_version(str(record.get("version", ""))),
            )
            == wanted
        )
        return found[0] if len(found) == 1 else ""


def _from_provenance(environment: dict[str, Any]) -> BuildTools:
    tools = tuple(
        BuildTool(
            name=str(tool.get("name", "")),
            version=str(tool.get("version", "")),
            requirement_type=str(tool.get("requirement_type", "")),
            sha256=str(tool.get("sha256", "")),
        )
        for tool in map(_mapping, _list(environment.get("tools")))
    )
    compilers = tuple(str(compiler) for compiler in _list(environment.get("compilers")))
    return BuildTools(FROM_PROVENANCE, tools, compilers, _env(_mapping(environment.get("env"))))


def _env(env: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(key), str(value)) for key, value in env.items()))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
