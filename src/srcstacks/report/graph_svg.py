"""Draw the dependency graph as an inline SVG: layers as columns, packages as boxes.

Reads and writes no file: it lays out a :class:`~srcstacks.report.model.Graph` itself
(no Graphviz, no script), so the page needs nothing beyond the browser. Columns follow
the layers' order (runtime, frameworks, applications); each holds the layer's header
box and one box per package it holds. Arrows go from what needs to what is needed;
dashed arrows stack a layer on the layers below it. Every text is escaped; element ids
are generated (``n0``, ...), never taken from a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from srcstacks.report.model import Graph, GraphEdge, GraphNode

MARGIN = 20
COLUMN_WIDTH = 210
COLUMN_GAP = 90
BOX_HEIGHT = 30
ROW_GAP = 14
HEADER_GAP = 26
LABEL_CHARACTERS = 28  # what fits in a box at the page's font size
# Room above the layer boxes and below the package boxes for arrows that jump over a
# column: drawn straight, they would pass behind the boxes between and seem to end there.
LANE = 46


@dataclass(frozen=True)
class Box:
    """Where one node is drawn."""

    node: GraphNode
    column: int
    x: int
    y: int

    @property
    def middle(self) -> int:
        return self.y + BOX_HEIGHT // 2


def layout(graph: Graph) -> tuple[dict[str, Box], int, int]:
    """Each node's box, and the picture's width and height."""
    columns: dict[str, list[GraphNode]] = {}
    for node in graph.nodes:
        columns.setdefault(node.layer, []).append(node)
    boxes: dict[str, Box] = {}
    deepest = 0
    for index, nodes in enumerate(columns.values()):
        x = MARGIN + index * (COLUMN_WIDTH + COLUMN_GAP)
        headers = [node for node in nodes if node.is_layer]
        packages = [node for node in nodes if not node.is_layer]
        y = MARGIN + LANE
        for node in headers:
            boxes[node.node] = Box(node, index, x, y)
            y += BOX_HEIGHT + HEADER_GAP
        for node in packages:
            boxes[node.node] = Box(node, index, x, y)
            y += BOX_HEIGHT + ROW_GAP
        deepest = max(deepest, y)
    width = MARGIN * 2 + max(len(columns), 1) * (COLUMN_WIDTH + COLUMN_GAP) - COLUMN_GAP
    return boxes, width, deepest + LANE + MARGIN


def render_svg(graph: Graph) -> str:
    """The ``<svg>`` element of ``graph``."""
    boxes, width, height = layout(graph)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="{width}"'
        f' height="{height}" viewBox="0 0 {width} {height}" role="img"'
        ' aria-labelledby="graph-title">',
        '<title id="graph-title">Dependency graph: layers as columns, packages as boxes</title>',
        "<defs>",
        '<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7"'
        ' markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>',
        "</defs>",
    ]
    parts.extend(_band(box, height) for box in boxes.values() if box.node.is_layer)
    parts.extend(_edge(edge, boxes, height) for edge in graph.edges if _drawable(edge, boxes))
    parts.extend(_box(box) for box in boxes.values())
    parts.append("</svg>")
    return "\n".join(parts)


def _drawable(edge: GraphEdge, boxes: dict[str, Box]) -> bool:
    return edge.source in boxes and edge.target in boxes


def _band(header: Box, height: int) -> str:
    return (
        f'<rect class="band" x="{header.x - 12}" y="{MARGIN + LANE - 12}"'
        f' width="{COLUMN_WIDTH + 24}" height="{height - 2 * (MARGIN + LANE) + 24}" rx="8"/>'
    )


def _box(box: Box) -> str:
    label = box.node.label
    shown = label if len(label) <= LABEL_CHARACTERS else label[: LABEL_CHARACTERS - 1] + "…"
    kind = "layer" if box.node.is_layer else "package"
    if box.node.upstream:
        kind, label = "package upstream", f"{label} (upstream binary)"
    elif box.node.patched:
        kind, label = "package patched", f"{label} (built from patched source)"
    return (
        f'<g class="{kind}" id="graph-{box.node.node}"><title>{escape(label)}</title>'
        f'<rect x="{box.x}" y="{box.y}" width="{COLUMN_WIDTH}" height="{BOX_HEIGHT}" rx="5"/>'
        f'<text x="{box.x + COLUMN_WIDTH // 2}" y="{box.middle + 5}"'
        f' text-anchor="middle">{escape(shown)}</text></g>'
    )


def _edge(edge: GraphEdge, boxes: dict[str, Box], height: int) -> str:
    source, target = boxes[edge.source], boxes[edge.target]
    if abs(source.column - target.column) > 1:
        path = _jump(source, target, height)
    elif source.column == target.column:
        # Same column: loop out to the right of the boxes and back.
        x = source.x + COLUMN_WIDTH
        bulge = x + 30 + 6 * abs(source.y - target.y) // (BOX_HEIGHT + ROW_GAP)
        path = (
            f"M{x},{source.middle} C{bulge},{source.middle} {bulge},{target.middle}"
            f" {x},{target.middle}"
        )
    else:
        leftwards = target.column < source.column
        x1 = source.x if leftwards else source.x + COLUMN_WIDTH
        x2 = target.x + COLUMN_WIDTH if leftwards else target.x
        mid = (x1 + x2) // 2
        path = (
            f"M{x1},{source.middle} C{mid},{source.middle} {mid},{target.middle}"
            f" {x2},{target.middle}"
        )
    kind = "stacking" if edge.between_layers else "requires"
    return f'<path class="edge {kind}" d="{path}" marker-end="url(#arrow)"/>'


def _jump(source: Box, target: Box, height: int) -> str:
    """An arc over the columns between: above them from a layer, below from a package."""
    x1 = source.x + COLUMN_WIDTH // 2 + (8 if target.column < source.column else -8)
    x2 = target.x + COLUMN_WIDTH // 2 + (8 if source.column > target.column else -8)
    if source.node.is_layer:
        y1, y2 = source.y, target.y
        lane = MARGIN + 6 * (1 + abs(source.column - target.column) % 5)
    else:
        y1, y2 = source.y + BOX_HEIGHT, target.y + BOX_HEIGHT
        lane = height - MARGIN - 6 * (1 + abs(source.column - target.column) % 5)
    return f"M{x1},{y1} C{x1},{lane} {x2},{lane} {x2},{y2}"
