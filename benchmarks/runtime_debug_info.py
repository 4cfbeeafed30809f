"""A cold demo build with the packed runtime's debug information stripped (the default)
against the same build keeping it (``debug_info = "keep"``), measured side by side.

Each round copies the demo stack twice into fresh folders, one with ``debug_info =
"keep"`` in ``[tool.srcstacks.runtime]``, and times a cold ``srcstacks build
--no-index`` of each, alternating which goes first. Prints the best time of each, the
ratio, and the size of each runtime layer archive (``cpython-3.11.tar.xz``), whose xz
compression is where the difference goes.

    python -m uv run python benchmarks/runtime_debug_info.py [ROUNDS]   # default 2
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = ("venvstacks.toml", "launch_modules", "build-settings", "patches")


def demo_copy(folder: Path, debug_info: str) -> Path:
    folder.mkdir()
    for name in DEMO:
        source = REPO / name
        copy = shutil.copytree if source.is_dir() else shutil.copy2
        copy(source, folder / name)
    spec = folder / "venvstacks.toml"
    text = spec.read_text(encoding="utf-8")
    table = "[tool.srcstacks.runtime]\n"
    assert table in text, "the demo spec has a [tool.srcstacks.runtime] table"
    spec.write_text(text.replace(table, f'{table}debug_info = "{debug_info}"\n'), "utf-8")
    return spec


def cold_build(spec: Path) -> tuple[float, int]:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "srcstacks", "build", str(spec), "--no-index"],
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - start
    (archive,) = spec.parent.glob("_srcstacks/*/artifacts/cpython-*.tar.xz")
    return seconds, archive.stat().st_size


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    best: dict[str, tuple[float, int]] = {}
    for round_number in range(rounds):
        order = ("strip", "keep") if round_number % 2 == 0 else ("keep", "strip")
        for debug_info in order:
            with tempfile.TemporaryDirectory() as scratch:
                seconds, size = cold_build(demo_copy(Path(scratch) / "stack", debug_info))
            print(f"round {round_number + 1}  {debug_info:5}  {seconds:6.1f} s", flush=True)
            if debug_info not in best or seconds < best[debug_info][0]:
                best[debug_info] = (seconds, size)
    for debug_info, (seconds, size) in sorted(best.items()):
        print(f"{debug_info:5}  best {seconds:6.1f} s  runtime archive {size / 1e6:5.1f} MB")
    print(f"strip / keep: {best['strip'][0] / best['keep'][0]:.2f}")


if __name__ == "__main__":
    main()
