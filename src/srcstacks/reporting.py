"""How srcstacks tells the user what it is doing: a ``Report``, handed down.

Every stage and helper that says something takes a ``report`` callable of this type and
calls it with one line at a time (times written by :func:`duration`). The command line
passes one that prints above the live build display (:func:`srcstacks.cli.common.say`);
tests pass ``list.append``.
"""

from __future__ import annotations

from collections.abc import Callable

Report = Callable[[str], None]


def duration(seconds: float) -> str:
    """``7s``, ``2m05s``, ``1h02m``: short and unambiguous."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
