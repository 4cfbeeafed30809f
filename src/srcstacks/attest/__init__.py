"""Signed evidence an auditor can check without srcstacks' work dir.

- :mod:`keys`: the stack's Ed25519 key pair (``srcstacks keygen``; the private key read
  from the file ``SRCSTACKS_SIGNING_KEY`` names, never printed or logged);
- :mod:`dsse`: DSSE envelopes, signed and opened;
- :mod:`statement`: the in-toto Statement v1 with a SLSA Provenance v1 predicate that
  each layer archive gets, its SBOM a second subject;
- :mod:`audit`: ``srcstacks audit DIR --key PUBKEY``, from a folder of archives, SBOMs
  and attestations alone.
"""
