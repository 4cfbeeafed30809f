"""The HTML the report page is made of: escaped text and tables. Every text passes
through :func:`e` (``html.escape``) once, here; nothing else builds markup from text.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

# A table cell: one line, or a line and the details shown in smaller type below it.
Cell = str | tuple[str, ...]


def e(text: str) -> str:
    """``text`` escaped for HTML, quotes included."""
    return escape(text, quote=True)


def table(
    head: tuple[str, ...],
    rows: Sequence[tuple[Cell, ...]],
    *,
    cls: str,
    header: bool = True,
    row_cls: str = "",
) -> str:
    """A table of ``rows`` under ``head`` (without ``header``: each row's first cell is
    its heading), every cell escaped."""
    parts = [f'<table class="{cls}">']
    if header:
        parts.append("<thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr></thead>")
    parts.append("<tbody>")
    row_attr = f' class="{row_cls}"' if row_cls else ""
    for row in rows:
        cells = "".join(
            f"<th>{cell(item)}</th>" if not header and index == 0 else f"<td>{cell(item)}</td>"
            for index, item in enumerate(row)
        )
        parts.append(f"<tr{row_attr}>{cells}</tr>")
    parts.append("</tbody></table>")
    return "\n".join(parts)


def cell(content: Cell) -> str:
    """A cell's escaped text; a tuple's later lines as details below the first."""
    if isinstance(content, str):
        return e(content)
    first, *details = content
    return e(first) + "".join(f'<br><span class="detail">{e(line)}</span>' for line in details)
