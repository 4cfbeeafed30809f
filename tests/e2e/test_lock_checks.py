"""End-to-end: ``srcstacks archives`` refuses locks that name wheels it did not publish.

Runs on a private copy of the shared build, whose locks are then edited by hand the way a
stale lock or a tampered one would look; the check runs before venvstacks does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from srcstacks.spec.config import load_config
from tests.conftest import BuiltStack, copy_built_stack, run_cli

pytestmark = pytest.mark.e2e

JINJA2 = "jinja2-3.1.6-0-py3-none-any.whl"


def published(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def zero_jinja2_hash(text: str) -> str:
    """The lock as it would read had the wheel been rebuilt (or swapped) since locking."""
    pattern = rf'({re.escape(JINJA2)}"\n\n\[packages\.wheels\.hashes\]\nsha256 = ")[0-9a-f]+'
    return re.sub(pattern, r"\g<1>" + "0" * 64, text)


def name_a_pypi_wheel(text: str) -> str:
    """The lock as it would read had it been made against PyPI's binary wheel."""
    return text.replace(JINJA2, "jinja2-3.1.6-py3-none-any.whl")


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (zero_jinja2_hash, f"app-greeter: {JINJA2} hash differs from provenance"),
        (name_a_pypi_wheel, "app-greeter: jinja2-3.1.6-py3-none-any.whl is not a published wheel"),
    ],
    ids=["hash-differs", "not-published"],
)
def test_archives_refuses_a_lock_that_does_not_match_the_wheels(
    built_stack: BuiltStack, tmp_path: Path, edit: Callable[[str], str], problem: str
) -> None:
    spec = copy_built_stack(built_stack, tmp_path / "stack")
    config = load_config(spec)
    (lock,) = (spec.parent / "requirements" / "app-greeter").glob("pylock.*.toml")
    edited = edit(lock.read_text())
    assert edited != lock.read_text()
    lock.write_text(edited)
    before = published(config.output_dir)

    result = run_cli("archives", spec, check=False)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("srcstacks: error:")]
    assert error == (
        "srcstacks: error: the locks do not match the published wheels"
        f" (run 'srcstacks lock'): {problem}"
    )
    assert published(config.output_dir) == before, "a refused lock changed the published set"
    assert lock.read_text() == edited
