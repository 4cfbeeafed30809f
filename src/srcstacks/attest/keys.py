"""The stack's Ed25519 signing key: made by ``srcstacks keygen``, read for signing.

Writes a new key pair (``KEY``, mode 0600, and ``KEY.pub``) only where it is told and
never over an existing file; reads the private key from the file the environment
variable ``SRCSTACKS_SIGNING_KEY`` names, and a public key from the file ``audit`` is
given. A private key is never printed, logged or written anywhere else: messages name
its file, and a key is known by its *key id*, the sha256 of its 32 public bytes.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from srcstacks.errors import AttestationError

SIGNING_KEY_VARIABLE = "SRCSTACKS_SIGNING_KEY"


def key_id(public: Ed25519PublicKey) -> str:
    """``sha256:<hex>`` of the key's raw 32 bytes: how attestations and messages name it."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def generate(path: Path) -> str:
    """Write a new private key to ``path`` (0600) and its public key to ``path.pub``;
    return the key id. Neither file may exist already; a missing folder is made (0700:
    only its owner lists it), a folder that exists is left as it is."""
    public_path = public_key_path(path)
    for target in (path, public_path):
        if target.exists() or target.is_symlink():
            raise AttestationError(f"{target}: already exists; name a new file for the key")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Created with mode 0600 in one step: the key is never readable by others.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        public_path.write_bytes(
            private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    except OSError as exc:
        raise AttestationError(f"{path}: cannot write the key ({exc.strerror or exc})") from None
    return key_id(private.public_key())


def public_key_path(private_path: Path) -> Path:
    """Where ``keygen`` puts the public key of ``private_path``: ``<name>.pub`` beside it."""
    return private_path.with_name(private_path.name + ".pub")


def signing_key(environ: Mapping[str, str]) -> Ed25519PrivateKey | None:
    """The private key ``SRCSTACKS_SIGNING_KEY`` names, or None when it is not set."""
    named = environ.get(SIGNING_KEY_VARIABLE, "")
    if not named:
        return None
    path = Path(named)
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise AttestationError(
            f"{path} (from {SIGNING_KEY_VARIABLE}): cannot read the signing key"
            f" ({exc.strerror or exc})"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AttestationError(
            f"{path} (from {SIGNING_KEY_VARIABLE}): the signing key can be read by other users"
            f" (mode {stat.S_IMODE(mode):04o}); run 'chmod 600 {path}'"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        key = None  # the parser's message could quote the file: never shown
    if not isinstance(key, Ed25519PrivateKey):
        raise AttestationError(
            f"{path} (from {SIGNING_KEY_VARIABLE}): not an unencrypted Ed25519 private key"
            " in PEM form (make one with 'srcstacks keygen')"
        )
    return key


def read_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in ``path`` (PEM, as ``keygen`` writes ``KEY.pub``)."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise AttestationError(
            f"{path}: cannot read the public key ({exc.strerror or exc})"
        ) from None
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PublicKey):
        raise AttestationError(
            f"{path}: not an Ed25519 public key in PEM form (the KEY.pub 'srcstacks keygen' wrote)"
        )
    return key
