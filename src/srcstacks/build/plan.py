"""The plan of a parallel wheels run: which packages to build, and what each waits for.

Reads Fromager 0.77's ``graph.json`` (``fromager/dependency_graph.py``: a JSON object
keyed by ``<name>==<version>``, the root under ``""``, each node with its
``download_url``, ``pre_built`` flag and ``edges`` to the nodes it requires, each edge
with its ``req_type``) and the wheels already in Fromager's wheels repo; writes nothing.

A node becomes a :class:`~srcstacks.build.executors.base.PackageBuild` when it is not
pre-built and no wheel with the build tag its settings' changelog gives is in
``wheels-repo/downloads`` (Fromager's own reuse rule). Its ``needs`` are the planned
builds among the packages its build environment holds: its build-system, build-backend
and build-sdist requirements and, transitively, their install requirements (Fromager's
``iter_build_requirements``).
"""

from __future__ import annotations

import graphlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from srcstacks.build.executors.base import Key, PackageBuild
from srcstacks.errors import StateError

ROOT = ""
BUILD_EDGES = frozenset({"build-system", "build-backend", "build-sdist"})
INSTALL_EDGES = frozenset({"install", "toplevel"})


@dataclass(frozen=True)
class GraphEdge:
    """One requirement of a node: the node it resolved to and the kind of requirement."""

    key: str  # the destination node's key, ``<name>==<version>``
    req_type: str
    req: str


@dataclass(frozen=True)
class GraphNode:
    """One resolved package of Fromager's dependency graph."""

    project: str  # canonical name
    version: str
    download_url: str
    pre_built: bool
    edges: tuple[GraphEdge, ...]

    @property
    def key(self) -> Key:
        return (self.project, self.version)


Graph = Mapping[str, GraphNode]  # by Fromager's node key, the root left out


def read_graph(path: Path) -> dict[str, GraphNode]:
    """Fromager's ``graph.json`` as typed nodes (the root left out).

    A missing, cut-off or edited file is a one-line :class:`StateError` naming it.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StateError(f"{path}: Fromager wrote no dependency graph") from None
    except (OSError, ValueError) as exc:
        raise StateError(f"{path}: not a Fromager dependency graph ({exc})") from None
    if not isinstance(data, dict):
        raise StateError(f"{path}: not a Fromager dependency graph (a JSON object)")
    nodes: dict[str, GraphNode] = {}
    try:
        for key, raw in data.items():
            edges = tuple(
                GraphEdge(str(edge["key"]), str(edge["req_type"]), str(edge["req"]))
                for edge in raw["edges"]
            )
            if key == ROOT:
                nodes[ROOT] = GraphNode("", "0", "", False, edges)
                continue
            nodes[key] = GraphNode(
                project=canonicalize_name(str(raw["canonicalized_name"])),
                version=str(raw["version"]),
                download_url=str(raw.get("download_url") or ""),
                pre_built=bool(raw.get("pre_built")),
                edges=edges,
            )
    except (KeyError, TypeError, AttributeError) as exc:
        raise StateError(
            f"{path}: malformed Fromager dependency graph ({type(exc).__name__}: {exc})"
        ) from None
    missing = sorted({e.key for n in nodes.values() for e in n.edges} - nodes.keys())
    if missing:
        raise StateError(f"{path}: edges lead to nodes the graph lacks: {', '.join(missing)}")
    nodes.pop(ROOT, None)
    return nodes


def build_environment(graph: Graph, key: str) -> list[str]:
    """Keys of every package in ``key``'s build environment (itself left out).

    Its build requirements and, depth first, their install requirements.
    """
    found: dict[str, None] = {}
    for edge in graph[key].edges:
        if edge.req_type in BUILD_EDGES and edge.key not in found:
            found[edge.key] = None
            _install_closure(graph, edge.key, found)
    found.pop(key, None)
    return list(found)


def _install_closure(graph: Graph, key: str, found: dict[str, None]) -> None:
    stack = [key]
    while stack:
        for edge in graph[stack.pop()].edges:
            if edge.req_type in INSTALL_EDGES and edge.key not in found:
                found[edge.key] = None
                stack.append(edge.key)


def plan_builds(graph: Graph, has_wheel: Callable[[str, str], bool]) -> list[PackageBuild]:
    """Every node to build, each once, with the planned builds it needs; in a build order.

    ``has_wheel(project, version)``: whether a usable wheel is already there. A set of
    builds that need each other in a circle is a :class:`StateError` naming them.
    """
    planned = {
        key: node
        for key, node in graph.items()
        if not node.pre_built and not has_wheel(node.project, node.version)
    }
    needs = {
        key: tuple(sorted(graph[d].key for d in build_environment(graph, key) if d in planned))
        for key in planned
    }
    by_key = {node.key: key for key, node in planned.items()}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for key in sorted(planned):
        sorter.add(key, *(by_key[need] for need in needs[key]))
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as exc:
        circle = " -> ".join(str(key) for key in exc.args[1])
        raise StateError(f"these packages need each other to build: {circle}") from None
    return [
        PackageBuild(
            project=planned[key].project,
            version=planned[key].version,
            source_url=planned[key].download_url,
            needs=needs[key],
        )
        for key in order
    ]


def wheel_checker(
    downloads: Path, changelog_lengths: Mapping[str, Mapping[str, int]]
) -> Callable[[str, str], bool]:
    """``has_wheel`` for :func:`plan_builds`: Fromager's reuse rule over ``downloads``.

    ``changelog_lengths[project][version]``: how many changelog entries the project's
    settings give that version; its wheels carry that many as build tag. With none,
    any wheel of the version will do, as Fromager takes it.
    """
    present: dict[Key, set[int]] = {}
    for wheel in downloads.glob("*.whl") if downloads.is_dir() else ():
        try:
            name, version, tag, _ = parse_wheel_filename(wheel.name)
        except InvalidWheelFilename:
            continue
        present.setdefault((name, str(version)), set()).add(tag[0] if tag else 0)

    def has_wheel(project: str, version: str) -> bool:
        try:
            wanted = Version(version)
        except InvalidVersion:
            return False
        tags = present.get((canonicalize_name(project), str(wanted)))
        if not tags:
            return False
        entries = _changelog_entries(changelog_lengths.get(project, {}), wanted)
        return entries == 0 or entries in tags

    return has_wheel


def _changelog_entries(lengths: Mapping[str, int], version: Version) -> int:
    for text, count in lengths.items():
        try:
            if Version(text) == Version(version.public):
                return count
        except InvalidVersion:
            continue
    return 0
