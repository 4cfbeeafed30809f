"""What the report says about each archive's signed attestation.

Reads ``<archive>.intoto.json`` beside the archive (a DSSE envelope, see
:mod:`srcstacks.attest`) and the in-toto statement in it, and checks that the statement's
subjects are this archive and its SBOM, by sha256. The signature itself needs the public
key, which the report is not given: ``srcstacks audit DIR --key KEY.pub`` checks it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from srcstacks.attest.statement import read_statement
from srcstacks.fsutil import sha256_file
from srcstacks.layout import ATTESTATION_SUFFIX


def attestation_status(archive: Path, sbom: Path) -> str:
    """One line on ``archive``'s attestation: none, unreadable, for other files, or
    signed by which key."""
    envelope_path = archive.with_name(archive.name + ATTESTATION_SUFFIX)
    if not envelope_path.is_file():
        return "none: built without a signing key (SRCSTACKS_SIGNING_KEY)"
    try:
        envelope = json.loads(envelope_path.read_text(encoding="utf-8"))
        keys = sorted({str(signature["keyid"]) for signature in envelope["signatures"]})
        statement = read_statement(base64.b64decode(envelope["payload"], validate=True))
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
        f"signed by key {', '.join(keys)}, for this archive and its SBOM"
        " (the signature: 'srcstacks audit DIR --key KEY.pub')"
    )
