"""Who published which wheels into a wheel dir, so several stacks can share one.

A team folder of wheels is a normal setup. Each stack and variant that publishes into a
wheel dir records the wheel file names it published in
``<wheel_dir>/.srcstacks-publishers/<stack id>.json`` (with its spec path and variant,
for messages). Written by publish-wheels; read by publish-wheels, which removes a wheel
it published before only when no other stack published it too, and by
``verify --rebuild``, which compares only this stack's wheels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from srcstacks.errors import StateError
from srcstacks.fsutil import write_json
from srcstacks.layout import Layout
from srcstacks.state.records import read_json_state


@dataclass(frozen=True)
class Publisher:
    """One stack and variant that published into a wheel dir."""

    stack_id: str
    spec: str
    variant: str
    wheels: frozenset[str]

    def describe(self) -> str:
        """``<spec> (variant <v>)``, for messages."""
        return f"{self.spec} (variant {self.variant!r})"


def read_publishers(layout: Layout) -> dict[str, Publisher]:
    """Every publisher record of the wheel dir, keyed by stack id."""
    found: dict[str, Publisher] = {}
    if not layout.publishers.is_dir():
        return found
    for path in sorted(layout.publishers.glob("*.json")):
        found[path.stem] = _read(path)
    return found


def _read(path: Path) -> Publisher:
    data = read_json_state(path, "publisher record", "srcstacks publish-wheels")
    try:
        return Publisher(
            stack_id=path.stem,
            spec=str(data["spec"]),
            variant=str(data["variant"]),
            wheels=frozenset(str(name) for name in data["wheels"]),
        )
    except (KeyError, TypeError) as exc:
        raise StateError(
            f"{path}: malformed publisher record ({type(exc).__name__}: {exc});"
            " remove it and rerun 'srcstacks publish-wheels' for that stack"
        ) from None


def write_publisher(layout: Layout, wheels: set[str]) -> None:
    """Record the wheels this stack and variant published (replacing its older record)."""
    write_json(
        layout.publisher_record,
        {"spec": str(layout.spec_path), "variant": layout.variant, "wheels": sorted(wheels)},
    )


def stack_wheels(layout: Layout) -> frozenset[str]:
    """The wheel file names this stack and variant published last (empty if none)."""
    mine = read_publishers(layout).get(layout.stack_id)
    return mine.wheels if mine else frozenset()
