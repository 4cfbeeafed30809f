"""DSSE envelopes (Dead Simple Signing Envelope, v1), signed and opened with Ed25519.

Pure functions over bytes and dicts; reads and writes nothing. The signature covers the
pre-authentication encoding ``DSSEv1 <len> <type> <len> <payload>``, so neither the
payload nor its type can be swapped. Ed25519 signatures are deterministic: the same key
and payload always give the same envelope, byte for byte.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from srcstacks.attest.keys import key_id
from srcstacks.errors import AttestationError

IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding of a payload and its type."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def sign(payload: bytes, key: Ed25519PrivateKey, payload_type: str = IN_TOTO_PAYLOAD) -> str:
    """The envelope of ``payload`` signed by ``key``, as the JSON text written to disk."""
    envelope = {
        "payload": base64.b64encode(payload).decode("ascii"),
        "payloadType": payload_type,
        "signatures": [
            {
                "keyid": key_id(key.public_key()),
                "sig": base64.b64encode(key.sign(pae(payload_type, payload))).decode("ascii"),
            }
        ],
    }
    return json.dumps(envelope, indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope as read, its signatures not checked."""

    payload: bytes
    payload_type: str
    signatures: tuple[tuple[str, bytes], ...]  # (key id, signature)

    @property
    def key_ids(self) -> list[str]:
        """The ids of the keys it says signed it, sorted."""
        return sorted({keyid for keyid, _ in self.signatures})


def read_envelope(text: str) -> Envelope:
    """The parts of an envelope's JSON text; an :class:`AttestationError` when it is none."""
    try:
        envelope: Any = json.loads(text)
        return Envelope(
            payload=base64.b64decode(envelope["payload"], validate=True),
            payload_type=str(envelope["payloadType"]),
            signatures=tuple(
                (str(s["keyid"]), base64.b64decode(s["sig"])) for s in envelope["signatures"]
            ),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise AttestationError(f"not a DSSE envelope ({type(exc).__name__}: {exc})") from None


def open_envelope(text: str, key: Ed25519PublicKey) -> bytes:
    """The payload of an envelope one of whose signatures ``key`` made; else an
    :class:`AttestationError` saying why (malformed, another key, a bad signature)."""
    envelope = read_envelope(text)
    payload, payload_type, signatures = envelope.payload, envelope.payload_type, envelope.signatures
    if payload_type != IN_TOTO_PAYLOAD:
        raise AttestationError(f"payload type {payload_type!r}, not {IN_TOTO_PAYLOAD!r}")
    wanted = key_id(key)
    mine = [sig for keyid, sig in signatures if keyid == wanted]
    if not mine:
        others = ", ".join(sorted(keyid for keyid, _ in signatures)) or "none"
        raise AttestationError(f"not signed by key {wanted} (signed by: {others})")
    for signature in mine:
        try:
            key.verify(signature, pae(payload_type, payload))
        except InvalidSignature:
            continue
        return payload
    raise AttestationError(f"the signature of key {wanted} does not verify (content changed)")
