"""What a layer SBOM says of a wheel taken as an upstream binary (selective mode).

No file access: built from the provenance record (:class:`UpstreamRecord`) and the
wheel's ``METADATA``. Such a wheel was not built by the stack's supplier, so it gets
no pedigree, no sdist and no formula; instead a ``distribution`` reference to the file
the index listed, with the SHA-256 the index published, and as its supplier whoever
made it (its authors, else the index it was taken from). docs/sbom.md says why.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, XsUri
from cyclonedx.model.contact import OrganizationalContact, OrganizationalEntity

from srcstacks.sbom.metadata import DistMetadata
from srcstacks.state.provenance import UpstreamRecord

# Index roots whose operator has a name of its own.
_KNOWN_INDEXES = {"pypi.org": "PyPI", "test.pypi.org": "TestPyPI"}


def index_name(index_url: str) -> str:
    """``PyPI`` for https://pypi.org/simple/, else the index's host (or its URL)."""
    host = urlsplit(index_url).hostname or ""
    return _KNOWN_INDEXES.get(host, host or index_url)


def upstream_supplier(meta: DistMetadata, upstream: UpstreamRecord) -> OrganizationalEntity:
    """Who supplied an upstream binary: its named authors (or maintainers), with their
    emails, or when they have none, the project's website; when ``METADATA`` names
    nobody, the index it was taken from, with its URL.

    Either way the supplier has a name (NTIA, CISA) and an email or URL (BSI, CRA).
    """
    named = [person for person in meta.authors if person.name]
    if not named:
        return OrganizationalEntity(
            name=index_name(upstream.index_url), urls=[XsUri(upstream.index_url)]
        )
    contacts = [OrganizationalContact(email=person.email) for person in named if person.email]
    websites = [url.url for url in meta.urls if url.kind == "website"]
    urls = [] if contacts else [XsUri(websites[0] if websites else upstream.index_url)]
    return OrganizationalEntity(
        name=", ".join(str(person.name) for person in named), urls=urls, contacts=contacts
    )


def distribution_reference(upstream: UpstreamRecord) -> ExternalReference:
    """The wheel as the index listed it, with the SHA-256 the index published."""
    return ExternalReference(
        type=ExternalReferenceType.DISTRIBUTION,
        url=XsUri(upstream.url),
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=upstream.sha256)],
        comment=f"upstream binary wheel, as published on {upstream.index_url}"
        f" ({index_name(upstream.index_url)}); not built from source by this stack",
    )
