"""Which system libraries each part of a layer archive loads from outside the stack.

The SBOM describes what the archive holds; the shared libraries its compiled files need
but do not carry (libc, libssl, libffi, ...) come from the machine it is deployed on and
are taken on trust there. They are named on the component whose files need them, so an
auditor can see them: property ``srcstacks:system_libraries``.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from srcstacks.state.archive_reader import ArchiveContents, parse_record


def held_libraries(contents: ArchiveContents) -> set[str]:
    """The sonames and file names of the libraries an archive carries itself."""
    held = {PurePosixPath(elf.path).name for elf in contents.elf_files}
    return held | {elf.links.soname for elf in contents.elf_files if elf.links.soname}


def system_libraries(contents: ArchiveContents) -> dict[str | None, tuple[str, ...]]:
    """Sonames needed but not held by the archive, per owning distribution.

    Keys are canonical distribution names (the distribution whose RECORD lists the
    file), or None for files no distribution installed (the interpreter and standard
    library of a runtime layer). A library the archive itself holds, under its soname
    or its file name, is not listed.
    """
    held = held_libraries(contents)
    owners = {
        path: dist.name
        for dist in contents.dists
        for path in parse_record(
            dist.files.get("RECORD", ""), f"{contents.archive.name}: {dist.dist_info}/RECORD"
        )
    }
    needed: dict[str | None, set[str]] = {}
    for elf in contents.elf_files:
        owner = owners.get(elf.site_path) if elf.site_path is not None else None
        outside = set(elf.links.needs) - held
        if outside:
            needed.setdefault(owner, set()).update(outside)
    return {owner: tuple(sorted(names)) for owner, names in needed.items()}
