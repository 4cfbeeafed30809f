"""End-to-end: a published archive holds the stack's inputs as they are now.

Runs ``srcstacks archives`` again on a private copy of the shared build after an edit.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from srcstacks.spec.config import load_config
from tests.conftest import BuiltStack, copy_built_stack, run_cli

pytestmark = pytest.mark.e2e

MEMBER = "app-greeter/lib/python3.11/site-packages/greeter.py"


def test_an_edited_launch_module_is_published(built_stack: BuiltStack, tmp_path: Path) -> None:
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    launch_module = spec.parent / "launch_modules" / "greeter.py"
    edited = launch_module.read_text() + 'print("edited after the first build")\n'
    launch_module.write_text(edited)

    run_cli("archives", spec)
    with tarfile.open(load_config(spec).output_dir / "app-greeter.tar.xz") as tar:
        stream = tar.extractfile(MEMBER)
        assert stream is not None
        assert stream.read().decode() == edited, "the archive holds the old launch module"
