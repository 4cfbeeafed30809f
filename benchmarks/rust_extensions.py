"""Real Rust extensions from source: rpds-py, pydantic-core and cryptography, cold.

Writes a stack with a framework needing ``jsonschema`` (hence rpds-py) and ``pydantic``
(hence pydantic-core), an application validating with both, and an application using
``cryptography`` (a maturin build with cffi, against Debian's OpenSSL: ``libssl-dev``
and ``libffi-dev`` must be installed), and in a fresh folder (``--no-index``: the wheel
dir alone):

1. ``srcstacks build``, cold: every wheel and build tool from source, maturin included
   (a Rust program of a few hundred crates, built once as a build tool);
2. ``srcstacks deploy --run``: both applications run on the deployed layers;
3. reads what was recorded: each Rust wheel's build time (``run-summary.json``), its
   crate count and whether every crate has its ``Cargo.lock`` checksum (provenance),
   and whether the layer SBOM nests the same crates with hashes;
4. ``srcstacks verify --rebuild`` (optional, ``--rebuild``): every artifact rebuilt and
   compared bit for bit.

Prints the times, crate counts and the load average before and after. A benchmark, not
a test: the suite builds only a tiny PyO3 package of its own (tests/e2e/test_rust.py).

    python -m uv run python benchmarks/rust_extensions.py [--rebuild] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from packaging.utils import canonicalize_name

RUST_PROJECTS = ("maturin", "rpds-py", "pydantic-core", "cryptography")
PYTHON = platform.python_version()

SPEC = f"""\
[[runtimes]]
name = "cpython-3.11"
python_implementation = "cpython@{PYTHON}"
requirements = []
platforms = ["linux_x86_64"]

[[frameworks]]
name = "validation"
runtime = "cpython-3.11"
requirements = ["jsonschema==4.26.0", "pydantic==2.14.4"]

[[applications]]
name = "validate"
launch_module = "launch_modules/validate.py"
frameworks = ["validation"]
requirements = []

[[applications]]
name = "crypto"
launch_module = "launch_modules/crypto.py"
runtime = "cpython-3.11"
requirements = ["cryptography==50.0.2"]

[tool.srcstacks.runtime]
source = "pack"

[tool.srcstacks.sbom]
supplier = "srcstacks benchmarks"
manufacturer = "srcstacks benchmarks"
security_contact = "mailto:security@srcstacks.example"
"""

VALIDATE = """\
import jsonschema
import pydantic
import pydantic_core
import rpds


class Point(pydantic.BaseModel):
    x: int
    y: int


jsonschema.validate({"x": 1}, {"type": "object", "required": ["x"]})
print("jsonschema ok; rpds", rpds.HashTrieMap({"a": 1})["a"])
print("pydantic", Point(x="3", y=4).model_dump(), "core", pydantic_core.__version__)
"""

CRYPTO = """\
from cryptography.fernet import Fernet
from cryptography.hazmat.bindings._rust import openssl

box = Fernet(Fernet.generate_key())
print("fernet", box.decrypt(box.encrypt(b"from source")).decode())
print("openssl", openssl.openssl_version_text())
"""


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def srcstacks(*args: str, cwd: Path) -> tuple[float, str]:
    began = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "srcstacks", *args], cwd=cwd,
                            capture_output=True, text=True)  # fmt: skip
    elapsed = time.monotonic() - began
    if result.returncode != 0:
        sys.exit(f"srcstacks {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed, result.stdout + result.stderr


def write_stack(folder: Path) -> Path:
    (folder / "launch_modules").mkdir(parents=True)
    (folder / "launch_modules" / "validate.py").write_text(VALIDATE)
    (folder / "launch_modules" / "crypto.py").write_text(CRYPTO)
    spec = folder / "venvstacks.toml"
    spec.write_text(SPEC)
    return spec


def report_crates(folder: Path) -> None:
    variant = folder / "_srcstacks" / "cpu"
    summary = json.loads((variant / "run-summary.json").read_text())
    seconds = {entry["project"]: entry.get("seconds") for entry in summary["entries"]}
    print(f"{len(summary['entries'])} wheels built; the Rust ones:")
    records = json.loads((variant / "wheels" / "provenance.json").read_text())["wheels"]
    sboms = [json.loads(path.read_text()) for path in (variant / "artifacts").glob("*.cdx.json")]
    nested = {
        canonicalize_name(component["name"]): component.get("components", [])
        for sbom in sboms
        for component in sbom.get("components", [])
    }
    for name, record in sorted(records.items()):
        crates = record.get("crates", [])
        if not crates:
            continue
        project = record["project"]
        hashed = all(len(crate["sha256"]) == 64 for crate in crates)
        in_sbom = nested.get(project)
        sbom_note = (
            "build tool, in no layer"
            if in_sbom is None
            else f"layer SBOM nests {len(in_sbom)}, all hashed: "
            f"{all(c.get('hashes') for c in in_sbom)}"
        )
        rustc = record.get("build_environment", {}).get("rustc", "?")
        took = seconds.get(project)
        print(
            f"  {name}: {took:.0f} s, {len(crates)} crates, all with their Cargo.lock"
            f" checksum: {hashed}; {sbom_note}; rustc {rustc}"
            if took is not None
            else f"  {name}: {len(crates)} crates"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="also run verify --rebuild")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    options = parser.parse_args()
    scratch = options.keep or Path(tempfile.mkdtemp(prefix="srcstacks-rust-bench-"))
    folder = scratch / "stack"
    spec = write_stack(folder)
    cores = os.cpu_count()
    print(f"machine: {platform.machine()}, {cores} cores, Python {PYTHON}; load before: {load()}")
    took, _ = srcstacks("build", "--no-index", str(spec), cwd=folder)
    print(f"cold build: {took / 60:.1f} min (load after: {load()})")
    _, output = srcstacks("deploy", str(spec), "--target", str(scratch / "deployed"),
                          "--run", cwd=folder)  # fmt: skip
    print("deployed apps said:")
    for line in output.splitlines():
        if line.startswith(("jsonschema", "pydantic", "fernet", "openssl")):
            print(f"  {line}")
    report_crates(folder)
    if options.rebuild:
        took, output = srcstacks("verify", "--no-index", str(spec), "--rebuild", cwd=folder)
        verdict = [
            line for line in output.splitlines() if "bit for bit" in line or "differ" in line
        ]
        print(f"verify --rebuild: {took / 60:.1f} min; {'; '.join(verdict)} (load: {load()})")
    if options.keep is None:
        shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
