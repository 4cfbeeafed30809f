"""What the runtime's debug information and the xz preset cost a cold demo build,
measured side by side in one run.

Each round copies the demo stack into fresh folders, one per configuration, and times a
cold ``srcstacks build --no-index`` of each (the order rotates from round to round):

- ``keep, preset 6``: the packed runtime with its debug information (``debug_info =
  "keep"``) and xz's default preset: what srcstacks did before both;
- ``strip, preset 6``: debug information stripped (the default), xz's default preset;
- ``strip, preset 1``: as the demo is now (``xz_preset = 1``).

Prints each configuration's best time, its runtime layer archive's size
(``cpython-3.11.tar.xz``, the archive xz spends its time on) and its ratio to the first.

    python -m uv run python benchmarks/cold_demo_archives.py [ROUNDS]   # default 2
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = ("venvstacks.toml", "launch_modules", "build-settings", "patches")
CONFIGURATIONS = (("keep", 6), ("strip", 6), ("strip", 1))


def demo_copy(folder: Path, debug_info: str, preset: int) -> Path:
    folder.mkdir()
    for name in DEMO:
        source = REPO / name
        copy = shutil.copytree if source.is_dir() else shutil.copy2
        copy(source, folder / name)
    spec = folder / "venvstacks.toml"
    text = re.sub(r"(?m)^xz_preset = \d+\n", "", spec.read_text(encoding="utf-8"))
    for table, line in (
        ("[tool.srcstacks]\n", f"xz_preset = {preset}\n"),
        ("[tool.srcstacks.runtime]\n", f'debug_info = "{debug_info}"\n'),
    ):
        assert table in text, f"the demo spec has a {table.strip()} table"
        text = text.replace(table, table + line, 1)
    spec.write_text(text, encoding="utf-8")
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
    best: dict[tuple[str, int], tuple[float, int]] = {}
    for round_number in range(rounds):
        shift = round_number % len(CONFIGURATIONS)
        for debug_info, preset in CONFIGURATIONS[shift:] + CONFIGURATIONS[:shift]:
            with tempfile.TemporaryDirectory() as scratch:
                spec = demo_copy(Path(scratch) / "stack", debug_info, preset)
                seconds, size = cold_build(spec)
            print(f"round {round_number + 1}  {debug_info}, preset {preset}  {seconds:6.1f} s")
            key = (debug_info, preset)
            if key not in best or seconds < best[key][0]:
                best[key] = (seconds, size)
    first = best[CONFIGURATIONS[0]][0]
    for key in CONFIGURATIONS:
        seconds, size = best[key]
        print(
            f"{key[0]:5}, preset {key[1]}: best {seconds:5.1f} s  runtime archive"
            f" {size / 1e6:4.1f} MB  {seconds / first:.2f} of the first"
        )


if __name__ == "__main__":
    main()
