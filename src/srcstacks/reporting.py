"""How srcstacks tells the user what it is doing: a ``Report``, handed down.

Every stage and helper that says something takes a ``report`` callable of this type and
calls it with one line at a time. The command line passes one that prints above the live
build display (:func:`srcstacks.cli.common.say`); tests pass ``list.append``.
"""

from __future__ import annotations

from collections.abc import Callable

Report = Callable[[str], None]
