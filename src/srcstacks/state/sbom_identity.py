"""A CycloneDX document's identity: its serial number, derived from its content, and
what of it depends only on when and how it was written.

Pure (stdlib only, so the wheel SBOMs a build writes can use it too). The serial is the
uuid5 of the whole document but its ``serialNumber``, in canonical JSON: the same
content always gets the same serial, and two documents that differ in anything (the
supplier, the timestamp, one component) never share one. Anyone can recompute it from
the document alone, so an edited document with its old serial gives itself away.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

# The namespace of the layer SBOMs' serial numbers (wheel SBOMs have their own).
SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "srcstacks:sbom")
MODE_PROPERTY = "srcstacks:mode"
TIMESTAMP_SOURCE_PROPERTY = "srcstacks:timestamp_source"
_WRITING_PROPERTIES = (MODE_PROPERTY, TIMESTAMP_SOURCE_PROPERTY)


def content_serial(document: Mapping[str, Any], namespace: uuid.UUID) -> str:
    """``urn:uuid:<uuid5>`` of ``document`` without its ``serialNumber``."""
    body = {key: value for key, value in document.items() if key != "serialNumber"}
    # Keys sorted, the rest json's defaults: the form wheels built earlier hold in theirs.
    return f"urn:uuid:{uuid.uuid5(namespace, json.dumps(body, sort_keys=True))}"


def timeless(document: object) -> object:
    """A parsed ``document`` without what depends on when and how it was written: its
    timestamp, the property saying where that came from, the stack's mode (which
    ``verify`` checks against the spec on its own, with a message of its own), and the
    serial number derived from all of them (checked with :func:`serial_problem`)."""
    if not isinstance(document, dict) or not isinstance(document.get("metadata"), dict):
        return document
    document = {key: value for key, value in document.items() if key != "serialNumber"}
    metadata = {key: value for key, value in document["metadata"].items() if key != "timestamp"}
    if isinstance(metadata.get("properties"), list):
        metadata["properties"] = [
            item
            for item in metadata["properties"]
            if not (isinstance(item, dict) and item.get("name") in _WRITING_PROPERTIES)
        ]
    return {**document, "metadata": metadata}


def serial_problem(document: Any) -> str | None:
    """What is wrong with a parsed layer SBOM's serial number, if anything: it must be
    the one its content gives (:func:`content_serial`)."""
    if not isinstance(document, dict):
        return None
    expected = content_serial(document, SERIAL_NAMESPACE)
    if document.get("serialNumber") != expected:
        return f"serialNumber is not {expected}, the one its content gives (edited)"
    return None
