"""What the report says about each archive's signed attestation.

Reads ``<archive>.intoto.json`` beside the archive (a DSSE envelope, see
:mod:`srcstacks.attest`) and the in-toto statement in it, and checks that the statement's
subjects are this archive and its SBOM, by sha256. The signature itself needs the public
key, which the report is not given: ``srcstacks audit DIR --key KEY.pub`` checks it.
"""

from __future__ import annotations

from pathlib import Path

from srcstacks.attest.dsse import read_envelope
from srcstacks.attest.statement import read_statement
from srcstacks.errors import AttestationError
from srcstacks.fsutil import sha256_file
from srcstacks.layout import ATTESTATION_SUFFIX


def attestation_status(archive: Path, sbom: Path) -> str:
    """One line on ``archive``'s attestation: none, unreadable, for other files, or
    signed by which key."""
    envelope_path = archive.with_name(archive.name + ATTESTATION_SUFFIX)
    if not envelope_path.is_file():
        return "none: built without a signing key (SRCSTACKS_SIGNING_KEY)"
    try:
        envelope = read_envelope(envelope_path.read_text(encoding="utf-8"))
        statement = read_statement(envelope.payload)
    except AttestationError as exc:
        return f"unreadable {envelope_path.name} ({exc})"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable {envelope_path.name} ({type(exc).__name__}: {exc})"
    expected = {archive.name: sha256_file(archive)}
    if sbom.is_file():
        expected[sbom.name] = sha256_file(sbom)
    if statement.subjects != expected:
        return (
            f"{envelope_path.name} is for other files than this archive and its SBOM;"
            " sign again with 'srcstacks sbom --force'"
        )
    return (
        f"signed by key {', '.join(envelope.key_ids)}, for this archive and its SBOM"
        " (the signature is not checked here: 'srcstacks audit DIR --key KEY.pub' does)"
    )
