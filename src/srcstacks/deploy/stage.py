"""``srcstacks deploy``: unpack published archives into a folder and make them runnable.

Reads ``__venvstacks__/venvstacks.json`` in the output dir; extracts every archive into
the target folder and runs each layer's ``postinstall.py`` with the runtime's Python,
runtime layers first, then frameworks, then applications, as venvstacks documents.
The target's ownership marker is locked while it does, so two deploys never mix in one
folder (the caller holds the work dir's lock for reading, see :mod:`srcstacks.worklock`).
"""

from __future__ import annotations

import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from srcstacks.errors import SrcstacksError, StageOrderError
from srcstacks.fsutil import interrupted_publish
from srcstacks.layout.ownership import OWNER_MARKER, claim_dir, empty_dir, inside
from srcstacks.reporting import Report
from srcstacks.tools.process import die_with_parent, tool_env
from srcstacks.tools.venvstacks import LayerMetadata, published_layers
from srcstacks.worklock import only_user_of


@dataclass(frozen=True)
class DeployedApp:
    """An application layer ready to run as ``<python> -m <launch_module>``."""

    name: str
    launch_module: str
    python: Path


def deploy(output_dir: Path, target: Path, report: Report = print) -> list[DeployedApp]:
    """Deploy every published layer from ``output_dir`` into ``target``."""
    if (journal := interrupted_publish(output_dir)) is not None:
        raise StageOrderError(
            f"{output_dir}: a publish of the archives was killed part way ({journal.name} is"
            " there), so they may be a mix of two builds: rerun 'srcstacks archives'"
        )
    layers = published_layers(output_dir)
    # Only into a new or empty folder, or one srcstacks deployed into before, which is
    # emptied first: no file of yours is overwritten, and none left from elsewhere runs.
    claim_dir(target, "deploy target", only_as=True)
    with only_user_of(target, target / OWNER_MARKER, "deploying into it"):
        empty_dir(target)
        apps = _unpack_and_install(output_dir, target, layers)
    report(f"deployed {len(layers)} layer(s) to {target}")
    for app in apps:
        report(f"  run {app.name}: {app.python} -m {app.launch_module}")
    return apps


def _unpack_and_install(
    output_dir: Path, target: Path, layers: list[LayerMetadata]
) -> list[DeployedApp]:
    """Unpack every layer into ``target`` and run its ``postinstall.py``; the apps."""
    for layer in layers:
        archive = inside(output_dir, layer.archive_name, "archive name")
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(target, filter="tar")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise SrcstacksError(f"{archive}: cannot unpack: {exc}") from None
    apps: list[DeployedApp] = []
    for layer in layers:
        runtime_python = inside(target, layer.runtime_layer, "runtime layer") / "bin" / "python3"
        layer_dir = inside(target, layer.install_target, "layer")
        result = subprocess.run(
            [str(runtime_python), str(layer_dir / "postinstall.py")],
            env=tool_env(),
            preexec_fn=die_with_parent,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SrcstacksError(
                f"{layer_dir / 'postinstall.py'} failed: {result.stderr.strip()[-300:]}"
            )
        if launch_module := layer.app_launch_module:
            apps.append(
                DeployedApp(layer.install_target, launch_module, layer_dir / "bin" / "python")
            )
    return apps


def run_app(app: DeployedApp) -> int:
    """Run a deployed application as ``<python> -m <launch module>``; return its exit code.

    It runs in the same allow-listed environment as every tool srcstacks starts, so a
    ``PYTHONPATH`` or ``PYTHONSTARTUP`` of the user's cannot change what it imports.
    """
    command = [str(app.python), "-m", app.launch_module]
    return subprocess.run(
        command, env=tool_env(), preexec_fn=die_with_parent, check=False
    ).returncode
