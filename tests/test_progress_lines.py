"""Progress a person can read: archives compressing, and lines above a live display."""

from __future__ import annotations

import io
import re

from rich.console import Console
from rich.live import Live
from rich.text import Text

from srcstacks import live_output
from srcstacks.build.progress import BuildProgress
from srcstacks.tools.venvstacks import ARCHIVED, ARCHIVING, progress_filter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _bar(percent: float) -> str:
    return f"Archiving: [{'#' * int(percent / 4):-<25}] {percent:.2f}%"


def test_each_archive_says_when_it_starts_and_ends_with_size_and_time() -> None:
    lines: list[str] = []
    clock = Clock()
    watch = progress_filter(lines.append, clock)
    watch("Virtual environment configured in '/w/venvstacks-build/framework-web'")
    watch(f"{ARCHIVING}framework-web")
    for percent in (0.0, 27.03, 54.05, 81.08):
        watch(_bar(percent))  # a quick archive: no percentages
    clock.now = 3.0
    watch(f"{ARCHIVED}framework-web 3182212 3.0")
    assert lines == [
        "  environment ready: framework-web",
        "  compressing framework-web (xz)",
        "  compressed framework-web: 3.2 MB in 3s",
    ]


def test_a_long_archive_says_each_quarter_once() -> None:
    lines: list[str] = []
    clock = Clock()
    watch = progress_filter(lines.append, clock)
    watch(f"{ARCHIVING}app-torch")
    clock.now = 5.0
    watch(_bar(26.0))  # under 10 s in: still quiet
    clock.now = 40.0
    for percent in (27.0, 48.0, 51.0, 52.0, 76.0, 100.0):
        watch(_bar(percent))
        clock.now += 20.0
    watch(f"{ARCHIVED}app-torch 812000000 161.0")
    assert lines == [
        "  compressing app-torch (xz)",
        "  compressing app-torch: 50% (1m20s)",
        "  compressing app-torch: 75% (2m00s)",
        "  compressed app-torch: 812.0 MB in 2m41s",
    ]


def _visible_lines(raw: str) -> list[str]:
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw).replace("\r", "\n")
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_lines_during_a_live_display_print_above_it_never_into_it() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=200)
    status = "[0/3 done, 1 waiting] building: idna 3.11 (7s)"
    with Live(Text(status), console=console, refresh_per_second=20, transient=True):
        live_output.hold(console)
        try:
            assert live_output.print_above("  built idna 3.11 in 7s [1/3 done, 1 waiting]")
        finally:
            live_output.release()
    lines = _visible_lines(stream.getvalue())
    assert "built idna 3.11 in 7s [1/3 done, 1 waiting]" in lines
    assert all(not (line.startswith("[0/3") and "built idna" in line) for line in lines)
    assert not live_output.print_above("no display now")  # the caller writes it itself


def test_the_builds_live_display_holds_the_output_while_it_runs() -> None:
    said: list[str] = []
    progress = BuildProgress(said.append, 2, heartbeat=0, live=True)
    progress.planned(3)
    try:
        assert live_output.print_above("a line while builds run")
    finally:
        progress.builds_ended()
    assert not live_output.print_above("after the builds")
    progress.close()
