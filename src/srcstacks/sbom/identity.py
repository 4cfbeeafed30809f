"""A CycloneDX document's serial number, derived from its content.

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


def content_serial(document: Mapping[str, Any], namespace: uuid.UUID) -> str:
    """``urn:uuid:<uuid5>`` of ``document`` without its ``serialNumber``."""
    body = {key: value for key, value in document.items() if key != "serialNumber"}
    # Keys sorted, the rest json's defaults: the form wheels built earlier hold in theirs.
    return f"urn:uuid:{uuid.uuid5(namespace, json.dumps(body, sort_keys=True))}"
