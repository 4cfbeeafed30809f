"""The runtime unpacked by the lock stage is reused by the archives stage only when it is
exactly as unpacked: the same archive, the same files and links, every entry dated 1970.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from srcstacks.layout import Layout
from srcstacks.layout.ownership import claim_dir
from srcstacks.runtime.prepare import _reset_mtimes, _seeded_intact
from srcstacks.spec.config import StackConfig, load_config
from srcstacks.state.runtime_files import list_tree, work_list_path, write_list
from tests.conftest import copy_demo_stack


@pytest.fixture
def config(tmp_path: Path) -> StackConfig:
    config = load_config(copy_demo_stack(tmp_path / "stack"))
    claim_dir(config.work_dir, "work dir")
    return config


def _seeded(config: StackConfig) -> tuple[Path, Path]:
    """A small seeded runtime, listed and dated as ``_seed`` leaves it."""
    layout = Layout.of(config)
    layer = config.layers_of("runtime")[0]
    target = layout.seeded_runtime(str(layer.python_implementation))
    (target / "bin").mkdir(parents=True)
    (target / "bin" / "python3").write_text("#!/bin/sh\n")
    os.symlink("python3", target / "bin" / "python")
    _reset_mtimes(target)
    write_list(work_list_path(layout, layer.env_name), list_tree(target))
    stamp = target.with_name(target.name + ".seeded-from")
    stamp.write_text("sha-of-the-archive")
    return target, stamp


def _intact(config: StackConfig, target: Path, stamp: Path, origin: str) -> bool:
    layer = config.layers_of("runtime")[0]
    return _seeded_intact(target, stamp, origin, Layout.of(config), layer)


def test_an_untouched_seed_is_kept(config: StackConfig) -> None:
    target, stamp = _seeded(config)
    assert _intact(config, target, stamp, "sha-of-the-archive")


def test_another_archive_is_unpacked_again(config: StackConfig) -> None:
    target, stamp = _seeded(config)
    assert not _intact(config, target, stamp, "sha-of-another-archive")
    stamp.unlink()
    assert not _intact(config, target, stamp, "sha-of-the-archive")


def test_a_touched_entry_is_unpacked_again(config: StackConfig) -> None:
    target, stamp = _seeded(config)
    (target / "bin" / "python3").touch()  # same bytes, a new mtime
    assert not _intact(config, target, stamp, "sha-of-the-archive")


def test_an_added_or_edited_file_is_unpacked_again(config: StackConfig) -> None:
    target, stamp = _seeded(config)
    (target / "bin" / "extra").write_text("x")
    _reset_mtimes(target)  # even dated 1970 like the rest
    assert not _intact(config, target, stamp, "sha-of-the-archive")
    (target / "bin" / "extra").unlink()
    (target / "bin" / "python3").write_text("#!/bin/sh\nexit 1\n")
    _reset_mtimes(target)
    assert not _intact(config, target, stamp, "sha-of-the-archive")
