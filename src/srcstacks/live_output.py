"""Where a progress line goes while a live display holds the bottom of the terminal.

rich's live display redraws its status line in place; a line written to stderr beside
it lands inside that line (``[0/3 done, 1 waiting] building: …  built idna 3.11 in 7s``).
While a display is live it registers its console here, and the CLI prints every line
through it (:func:`print_above`), above the display; otherwise as before.
Reads and writes nothing else; imports nothing heavy (the CLI's every line comes here).
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_console: Any = None  # a rich Console while a live display runs on it


def print_above(message: str) -> bool:
    """Print one line above the live display if one runs; whether it did."""
    with _lock:
        if _console is None:
            return False
        _console.print(message, markup=False, highlight=False, emoji=False, soft_wrap=True)
        return True


def hold(console: Any) -> None:
    """A live display starts on ``console``: lines go through it until :func:`release`."""
    global _console
    with _lock:
        _console = console


def release() -> None:
    """The live display stopped: lines go to stderr again."""
    global _console
    with _lock:
        _console = None
