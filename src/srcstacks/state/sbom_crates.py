"""The Rust crates compiled into a wheel, as CycloneDX components nested in the wheel's own.

Plain JSON, no file access, no cyclonedx import (Fromager's process writes the SBOM
inside each wheel with it, :mod:`srcstacks.state.wheel_sbom`). Each crate of a
:class:`~srcstacks.state.build_record.Crate` record becomes a ``library`` component nested in
the distribution's component (CycloneDX ``components`` of a component: code that is part
of it): name, version, ``pkg:cargo`` purl, the SHA-256 its ``Cargo.lock`` pins, its
declared licence, and the registry it came from. Dependency entries give the
distribution's edges to the crates its own code asks for and each crate's edges to the
crates it needs on the build's platform, as ``cargo metadata`` resolved them.

A crate the stack's patches changed is not the ``.crate`` file its ``Cargo.lock``
pins, so its component carries no hash of its own: its pedigree holds the crate as
fetched (with that hash) as its ancestor and names the patches (their diffs are in the
distribution's pedigree, under the same names).

:func:`add_crates` adds them to a finished layer SBOM; :func:`crates_of` reads them back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from srcstacks.state.build_record import Crate

NS = "srcstacks"
CRATES_IO_INDEX = "https://github.com/rust-lang/crates.io-index"


def crate_ref(owner_ref: str, crate: Crate | str) -> str:
    """A crate's bom-ref, unique in a layer where two wheels may compile the same crate."""
    key = crate if isinstance(crate, str) else crate.key
    return f"{owner_ref}|pkg:cargo/{key}"


def crate_components(owner_ref: str, crates: Iterable[Crate]) -> list[dict[str, Any]]:
    """The components nested in the component ``owner_ref``, one per crate, sorted."""
    found = []
    for crate in sorted(crates, key=lambda item: (item.name, item.version)):
        component: dict[str, Any] = {
            "type": "library",
            "bom-ref": crate_ref(owner_ref, crate),
            "name": crate.name,
            "version": crate.version,
        }
        hashes = [{"alg": "SHA-256", "content": crate.sha256}] if crate.sha256 else []
        if crate.patches:
            component["pedigree"] = _pedigree(crate, hashes)
        elif hashes:
            component["hashes"] = hashes
        if crate.license:
            component["licenses"] = [{"expression": crate.license, "acknowledgement": "declared"}]
        component["purl"] = crate.purl
        component["properties"] = [{"name": f"{NS}:cargo:registry", "value": crate.registry}]
        found.append(component)
    return found


def _pedigree(crate: Crate, hashes: list[dict[str, str]]) -> dict[str, Any]:
    fetched: dict[str, Any] = {"type": "library", "name": crate.name, "version": crate.version,
                               "purl": crate.purl}  # fmt: skip
    if hashes:
        fetched["hashes"] = hashes
    return {
        "ancestors": [fetched],
        "patches": [{"type": "unofficial", "diff": {"url": name}} for name in crate.patches],
        "notes": f"The crate as fetched, with {len(crate.patches)} patch(es) of the stack"
        " applied after cargo vendor.",
    }


def crate_dependencies(owner_ref: str, crates: Iterable[Crate]) -> list[dict[str, Any]]:
    """Dependency entries: the owner's on its direct crates, each crate's on its own."""
    listed = sorted(crates, key=lambda item: (item.name, item.version))
    if not listed:
        return []
    direct = sorted(crate_ref(owner_ref, crate) for crate in listed if crate.direct)
    entries = [{"ref": owner_ref, "dependsOn": direct}]
    for crate in listed:
        entry: dict[str, Any] = {"ref": crate_ref(owner_ref, crate)}
        if crate.depends_on:
            entry["dependsOn"] = sorted(crate_ref(owner_ref, key) for key in crate.depends_on)
        entries.append(entry)
    return entries


def crates_of(
    component: Mapping[str, Any], dependencies: Iterable[Mapping[str, Any]]
) -> tuple[Crate, ...]:
    """The crates :func:`crate_components` and :func:`crate_dependencies` wrote for ``component``.

    Raises KeyError, TypeError or ValueError on components of another shape.
    """
    owner = str(component["bom-ref"])
    edges = {str(entry["ref"]): [str(ref) for ref in entry.get("dependsOn", [])]
             for entry in dependencies}  # fmt: skip
    direct = set(edges.get(owner, []))
    prefix = f"{owner}|pkg:cargo/"
    found = []
    for nested in component.get("components", []):
        ref = str(nested["bom-ref"])
        if not ref.startswith(prefix):
            continue
        values = {item["name"]: item["value"] for item in nested.get("properties", [])}
        (license_entry,) = nested.get("licenses", [{"expression": ""}])
        pedigree = nested.get("pedigree", {})
        fetched = pedigree["ancestors"][0] if pedigree else nested
        sha256 = [item["content"] for item in fetched.get("hashes", []) if item["alg"] == "SHA-256"]
        found.append(
            Crate(
                name=str(nested["name"]),
                version=str(nested["version"]),
                sha256=sha256[0] if sha256 else "",
                license=str(license_entry["expression"]),
                registry=str(values[f"{NS}:cargo:registry"]),
                depends_on=tuple(sorted(item.removeprefix(prefix) for item in edges.get(ref, []))),
                direct=ref in direct,
                patches=tuple(str(p["diff"]["url"]) for p in pedigree.get("patches", [])),
            )
        )
    return tuple(sorted(found, key=lambda item: (item.name, item.version)))


def add_crates(text: str, compiled: Mapping[str, tuple[Crate, ...]]) -> str:
    """``text`` (a finished CycloneDX JSON document) with the crates of each component.

    ``compiled`` maps a component's bom-ref to the crates compiled into it (from its
    wheel's provenance). The components are nested in it, with its supplier (who
    ships the wheel ships the code compiled into it), and the dependency entries added
    (the distribution's own entry gains its direct crates).
    """
    compiled = {ref: crates for ref, crates in compiled.items() if crates}
    if not compiled:
        return text
    document = json.loads(text)
    for component in document.get("components", []):
        crates = compiled.get(str(component.get("bom-ref")))
        if crates:
            own = crate_components(component["bom-ref"], crates)
            if "supplier" in component:  # compiled into the wheel, supplied with it
                own = [{**crate, "supplier": component["supplier"]} for crate in own]
            component["components"] = [*component.get("components", []), *own]
    entries = {str(entry["ref"]): entry for entry in document.get("dependencies", [])}
    for ref, crates in sorted(compiled.items()):
        owner_entry, *crate_entries = crate_dependencies(ref, crates)
        mine = entries.setdefault(ref, {"ref": ref})
        mine["dependsOn"] = sorted({*mine.get("dependsOn", []), *owner_entry["dependsOn"]})
        for entry in crate_entries:
            entries[entry["ref"]] = entry
    if "dependencies" in document or entries:
        document["dependencies"] = [entries[ref] for ref in sorted(entries)]
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
