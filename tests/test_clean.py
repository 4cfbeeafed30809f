"""``srcstacks clean``: what it removes, and that it keeps what a build published.

The end-to-end case (a clean, then a build that still works) is in
``tests/e2e/test_noop_rerun.py``.
"""

from __future__ import annotations

from pathlib import Path

from srcstacks.clean import candidates, clean
from srcstacks.layout import Layout
from srcstacks.layout.ownership import claim_dir
from srcstacks.spec.config import load_config
from tests.conftest import copy_demo_stack


def test_clean_removes_what_a_build_makes_again_and_all_adds_fromagers_work(
    tmp_path: Path,
) -> None:
    config = load_config(copy_demo_stack(tmp_path / "stack"))
    layout = Layout.of(config)
    claim_dir(config.work_dir, "work dir")
    for folder in (*candidates(config, everything=True), config.wheel_dir, config.output_dir):
        if folder.suffix != ".json":
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "file").write_bytes(b"x" * 1000)
    layout.layer_fingerprints.write_text("{}")
    layout.stage_fingerprints.write_text("{}")
    said: list[str] = []

    removed = clean(config, said.append)
    assert [item.path for item in removed] == candidates(config)
    assert removed[0].size == 1000 and not layout.venvstacks_build.exists()
    assert layout.fromager.root.is_dir() and layout.stage_fingerprints.is_file()
    assert said[0] == f"clean: removed {layout.venvstacks_build} (0.0 MB)"

    removed = clean(config, said.append, everything=True)
    assert {item.path for item in removed} == set(candidates(config, everything=True)) - set(
        candidates(config)
    )
    # Published wheels and archives stay, whatever --all says.
    assert (config.wheel_dir / "file").is_file() and (config.output_dir / "file").is_file()


def test_a_folder_that_holds_the_published_wheels_is_kept(tmp_path: Path) -> None:
    spec = copy_demo_stack(tmp_path / "stack")
    text = spec.read_text().replace(
        "[tool.srcstacks]", '[tool.srcstacks]\nwheel_dir = "_srcstacks/cpu/staging/wheels"', 1
    )
    spec.write_text(text)
    config = load_config(spec)
    claim_dir(config.work_dir, "work dir")
    config.wheel_dir.mkdir(parents=True)
    (config.wheel_dir / "a.whl").write_bytes(b"")
    said: list[str] = []
    clean(config, said.append)
    assert (config.wheel_dir / "a.whl").is_file()
    assert any(line.startswith(f"clean: kept {Layout.of(config).staging}") for line in said)
