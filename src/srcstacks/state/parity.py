"""``<variant>/parity.json``: each wheel built here against the upstream binary of its
version, as the parity check (:mod:`srcstacks.build.parity`) found it; the sbom stage
marks a degraded wheel's component with what it lacks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from packaging.utils import canonicalize_name

from srcstacks.errors import StateError
from srcstacks.fsutil import write_json
from srcstacks.layout import Layout
from srcstacks.state.records import read_json_state


@dataclass(frozen=True)
class ParityFinding:
    """One wheel built here, against the upstream binary of the same version."""

    wheel: str  # ours
    project: str  # canonical name
    version: str
    upstream: str  # the upstream wheel compared with; "" when none was
    # extension modules upstream ships that ours lacks, and the BLAS or LAPACK it was
    # built against that ours was not (numpy, SciPy: their __config__.py)
    missing: tuple[str, ...]
    note: str = ""  # why nothing was compared
    # How ours differs without lacking anything: another BLAS than upstream's.
    differs: tuple[str, ...] = ()

    @property
    def degraded(self) -> bool:
        return bool(self.missing)

    def describe(self) -> str:
        """What a degraded wheel lacks, in one sentence (``""`` when it lacks nothing)."""
        if not self.missing:
            return ""
        return f"lacks {', '.join(self.missing)}, which {self.upstream} ships"


def write_parity(layout: Layout, findings: list[ParityFinding]) -> None:
    """Write ``parity.json``, sorted by project and wheel."""
    write_json(
        layout.parity_record,
        {"format": 1, "wheels": [asdict(item) for item in sorted(findings, key=_key)]},
    )


def _key(item: ParityFinding) -> tuple[str, str]:
    return item.project, item.wheel


def read_parity(layout: Layout) -> dict[str, ParityFinding]:
    """``parity.json`` by our wheel's file name; empty before any check."""
    data = read_json_state(layout.parity_record, "parity record", "srcstacks wheels")
    if data is None:
        return {}
    try:
        found = [_finding(entry) for entry in data["wheels"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(
            f"{layout.parity_record}: malformed parity record ({exc}); rerun 'srcstacks wheels'"
        ) from None
    return {item.wheel: item for item in found}


def _finding(entry: Any) -> ParityFinding:
    return ParityFinding(
        wheel=str(entry["wheel"]),
        project=str(canonicalize_name(str(entry["project"]))),
        version=str(entry["version"]),
        upstream=str(entry["upstream"]),
        missing=tuple(str(name) for name in entry["missing"]),
        note=str(entry.get("note", "")),
        differs=tuple(str(item) for item in entry.get("differs", ())),
    )
