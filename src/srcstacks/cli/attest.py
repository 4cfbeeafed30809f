"""``srcstacks keygen`` and ``srcstacks audit``: the stack's signing key, and the check an
auditor runs on a folder of archives, SBOMs and attestations alone.

Thin, like every command: each hands over to :mod:`srcstacks.attest`, imported only when
the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from srcstacks.cli.common import app, fail, guarded, say


@app.command("keygen")
def keygen_command(
    key: Annotated[
        Path,
        typer.Argument(help="File for the new private key (KEY.pub gets the public key)."),
    ],
) -> None:
    """Make an Ed25519 key pair to sign the attestations with.

    The private key is written with mode 0600 and never printed; name it in
    SRCSTACKS_SIGNING_KEY when building. Give KEY.pub to whoever audits the archives.
    """

    def action() -> None:
        from srcstacks.attest.keys import SIGNING_KEY_VARIABLE, generate, public_key_path

        identity = generate(key)
        say(f"wrote the private key {key} (mode 0600) and the public key {public_key_path(key)}")
        say(f"key id {identity}; sign with it: export {SIGNING_KEY_VARIABLE}={key.absolute()}")

    guarded(action)


@app.command("audit")
def audit_command(
    folder: Annotated[
        Path, typer.Argument(help="Folder of archives, their SBOMs and attestations.")
    ],
    key: Annotated[Path, typer.Option(help="The stack's public key (KEY.pub from keygen).")],
) -> None:
    """Check archives, SBOMs and signed attestations with nothing but them and the key.

    No work dir, wheel dir, index or spec is read. Every signature, every file's sha256,
    every distribution in each archive against its SBOM component (version, wheel hash,
    licences) and every BOM-link between the SBOMs are checked.
    """

    def action() -> None:
        from srcstacks.attest.keys import key_id, read_public_key
        from srcstacks.verify.audit import audit

        if not folder.is_dir():
            fail(f"{folder}: not a folder")
        public = read_public_key(key)
        result = audit(folder, public)
        for problem in result.problems:
            typer.echo(f"MISMATCH {problem}")
        say(
            f"audited {result.archives} archive(s), {result.sboms} SBOM(s),"
            f" {result.attestations} attestation(s), {result.distributions} distribution(s)"
            f" with key {key_id(public)}: {len(result.problems)} problem(s)"
        )
        if result.problems:
            fail(f"audit failed: {len(result.problems)} problem(s) listed above")
        if result.archives == 0:
            fail(f"{folder}: no archive (*.tar.xz) to audit")
        say("audited: every archive and SBOM is signed and agrees with what it describes")

    guarded(action)
