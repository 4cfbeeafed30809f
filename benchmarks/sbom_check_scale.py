"""Benchmark: `srcstacks sbom check` on a 30,000-component SBOM.

Reads a real SBOM srcstacks wrote (default: the demo's framework-web SBOM under
``_srcstacks/cpu/artifacts/``; build the demo first with ``srcstacks build``), clones
its library component 30,000 times (distinct names, purls and bom-refs, each with a
dependency entry), writes the document to a temporary folder and times
``srcstacks sbom check`` on it, as a user would run it. Prints the time and exit code.

    python benchmarks/sbom_check_scale.py [SBOM] [--components N]
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_SBOM = Path("_srcstacks/cpu/artifacts/framework-web.tar.xz.cdx.json")


def scaled(document: dict[str, Any], count: int) -> dict[str, Any]:
    """``document`` with its first library component cloned ``count`` times."""
    template = next(c for c in document["components"] if c["type"] == "library")
    root_ref = document["metadata"]["component"]["bom-ref"]
    components, dependencies = [], []
    for index in range(count):
        component = copy.deepcopy(template)
        name = f"{template['name']}-clone-{index}"
        component["name"] = name
        component["bom-ref"] = component["purl"] = f"pkg:pypi/{name.lower()}@{template['version']}"
        component.pop("pedigree", None)  # keeps the file at a realistic size per component
        components.append(component)
        dependencies.append({"ref": component["bom-ref"]})
    result = copy.deepcopy(document)
    result["components"] = components
    result["dependencies"] = [
        {"ref": root_ref, "dependsOn": [c["bom-ref"] for c in components]},
        *dependencies,
    ]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sbom", nargs="?", type=Path, default=DEFAULT_SBOM)
    parser.add_argument("--components", type=int, default=30_000)
    options = parser.parse_args()
    document = json.loads(options.sbom.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="sbom-scale-") as scratch:
        target = Path(scratch) / "scaled.cdx.json"
        target.write_text(json.dumps(scaled(document, options.components)), encoding="utf-8")
        size = target.stat().st_size / 1e6
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "srcstacks", "sbom", "check", str(target)],
            capture_output=True,
            text=True,
            check=False,
        )
        elapsed = time.perf_counter() - start
    print(
        f"{options.components} components, {size:.1f} MB: `srcstacks sbom check` took"
        f" {elapsed:.1f} s, exit code {result.returncode}"
    )
    print((result.stdout + result.stderr).strip().splitlines()[-1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
