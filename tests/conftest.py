"""Shared fixtures: one real build of the demo stack, shared by every test that reads it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from srcstacks.config import StackConfig, load_config

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_FILES = ("venvstacks.toml", "launch_modules", "build-settings", "patches")


def copy_demo_stack(target: Path) -> Path:
    """Copy the repo's demo stack (spec, launch modules, settings, patches) to ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name)
        else:
            shutil.copy2(source, target / name)
    return target / "venvstacks.toml"


def run_cli(
    *args: str | Path, cwd: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the real ``srcstacks`` command line in a child process."""
    result = subprocess.run(
        [sys.executable, "-m", "srcstacks", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"srcstacks {' '.join(map(str, args))} exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


@dataclass(frozen=True)
class BuiltStack:
    """The demo stack, built for real once per test session, and deployed."""

    spec: Path
    config: StackConfig
    build_output: str
    deploy_dir: Path


@pytest.fixture(scope="session")
def built_stack(tmp_path_factory: pytest.TempPathFactory) -> BuiltStack:
    """Build the demo stack end to end with Fromager and venvstacks, then deploy it.

    Tests that only read the outputs share this one build; tests that change or break
    a stack make their own.
    """
    root = tmp_path_factory.mktemp("demo")
    spec = copy_demo_stack(root / "stack")
    result = run_cli("build", spec)
    config = load_config(spec)
    deploy_dir = root / "deployed"
    run_cli("deploy", spec, "--target", deploy_dir)
    return BuiltStack(spec=spec, config=config, build_output=result.stderr, deploy_dir=deploy_dir)
