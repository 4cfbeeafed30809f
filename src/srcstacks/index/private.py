"""Talk to a private package index: where it is, who may upload, what it holds, uploads.

Reads the index's JSON config (devpi), its PEP 691 / PEP 503 project pages and its
files; writes by the standard upload API (``:action=file_upload``, what twine speaks),
which devpi, Artifactory and pypiserver all accept; every request goes through
:mod:`srcstacks.web`.

Credentials come from the environment only (``SRCSTACKS_INDEX_USER``,
``SRCSTACKS_INDEX_PASSWORD``), or from the managed index's own credentials file; they
are sent as HTTP Basic auth and never printed, logged or written anywhere.

Each wheel's provenance travels with it as a companion file on the same index: project
``srcstacks-provenance``, file ``srcstacks_provenance-1-<wheel stem>.zip`` holding
``provenance.json`` (the wheel's record and the build inputs it was built with). Any
machine that fetches a wheel can fetch its record; a non-volatile index keeps both
immutable, so a wheel's record can never be swapped after the fact.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from packaging.utils import canonicalize_name

from srcstacks import web
from srcstacks.errors import PrivateIndexError, PublishError
from srcstacks.fsutil import dump_json, sha256_bytes
from srcstacks.state.provenance import UPSTREAM_BINARY, WheelProvenance
from srcstacks.web import Credentials, PageFile

USER_VARIABLE = "SRCSTACKS_INDEX_USER"
PASSWORD_VARIABLE = "SRCSTACKS_INDEX_PASSWORD"
PROVENANCE_PROJECT = "srcstacks-provenance"
_PROVENANCE_FORMAT = "1"
_JSON_PAGE = "application/vnd.pypi.simple.v1+json"
_TIMEOUT_SECONDS = 120
# 1980-01-01, the earliest zip time: a companion's bytes depend only on its record.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class IndexLocation:
    """Where an index lives: its base URL (uploads, config) and its simple URL (reads).

    ``.../user/index/`` and ``.../user/index/+simple/`` (devpi) name the same index, as
    do ``.../api/pypi/repo/`` and ``.../api/pypi/repo/simple/`` (Artifactory).
    """

    base_url: str
    simple_url: str

    @classmethod
    def parse(cls, url: str) -> IndexLocation:
        """The index a user's URL names (checked: :func:`srcstacks.spec.index.check_index_url`)."""
        base = url.rstrip("/") + "/"
        for simple in ("+simple/", "simple/"):
            if base.endswith("/" + simple):
                return cls(base_url=base[: -len(simple)], simple_url=base)
        return cls(base_url=base, simple_url=base + "+simple/")

    def project_url(self, project: str) -> str:
        """``<simple>/<project>/``: the project's page."""
        return urljoin(self.simple_url, f"{canonicalize_name(project)}/")


def credentials_from_environment() -> Credentials | None:
    """``SRCSTACKS_INDEX_USER`` and ``SRCSTACKS_INDEX_PASSWORD``, if both are set."""
    user, password = os.environ.get(USER_VARIABLE), os.environ.get(PASSWORD_VARIABLE)
    return Credentials(user, password) if user and password else None


@dataclass(frozen=True)
class PrivacyCheck:
    """What the index says about itself: checked private, or not a devpi index."""

    checked: bool
    kind: str  # "devpi" or a description of what answered


def check_private(location: IndexLocation) -> PrivacyCheck:
    """Refuse an index that could serve a public binary or replace a published file.

    devpi describes each index as JSON at its base URL: it must have no ``bases`` (no
    upstream, so it can never hand out a PyPI wheel) and ``volatile = false`` (a file,
    once uploaded, can never be overwritten). Other servers do not describe themselves;
    the result says so and the caller names it.
    """
    try:
        reply = web.get(location.base_url, accept="application/json")
    except web.WebError as exc:
        if exc.status == 404:
            raise PrivateIndexError(
                f"{location.base_url}: no index there (HTTP 404); check the URL, or create"
                " the index (devpi: 'devpi index -c USER/NAME bases= volatile=False')"
            ) from None
        raise _unreachable(exc) from None
    body, content_type = reply.body, reply.content_type
    if "json" not in content_type:
        return PrivacyCheck(False, f"a server that does not describe itself ({content_type})")
    try:
        result = json.loads(body)["result"]
        kind, bases, volatile = result["type"], result.get("bases", []), result["volatile"]
    except (ValueError, KeyError, TypeError):
        return PrivacyCheck(False, "a server whose JSON is not a devpi index config")
    if kind != "stage":
        raise PrivateIndexError(
            f"{location.base_url}: a devpi {kind!r} index (a mirror of another index);"
            " srcstacks needs a private index with no upstream bases"
        )
    if bases:
        raise PrivateIndexError(
            f"{location.base_url}: the index has upstream bases ({', '.join(bases)}), so it"
            " could serve public binaries; use an index with no bases"
            " (devpi: 'devpi index USER/NAME bases=')"
        )
    if volatile:
        raise PrivateIndexError(
            f"{location.base_url}: the index is volatile, so a published wheel could be"
            " replaced; make it non-volatile (devpi: 'devpi index USER/NAME volatile=False')"
        )
    return PrivacyCheck(True, "devpi")


def project_files(location: IndexLocation, project: str) -> dict[str, PageFile]:
    """``{filename: PageFile}`` of every file the index lists for ``project`` (none: 404)."""
    url = location.project_url(project)
    try:
        return web.project_files(url)
    except web.WebError as exc:
        if exc.status == 404:
            return {}
        raise _unreachable(exc) from None


def download(file: PageFile) -> bytes:
    """The bytes of ``file``, checked against the sha256 the index lists for it."""
    try:
        data = web.get(file.url).body
    except web.WebError as exc:
        raise _unreachable(exc) from None
    if sha256_bytes(data) != file.sha256:
        raise PrivateIndexError(
            f"{file.url}: the download does not match the sha256 the index lists for it"
            " (cut off or altered); rerun"
        )
    return data


def upload(
    location: IndexLocation,
    credentials: Credentials | None,
    filename: str,
    data: bytes,
    *,
    project: str,
    version: str,
) -> None:
    """Upload one file; the same bytes again is a no-op, other bytes are refused (409)."""
    if credentials is None:
        raise PrivateIndexError(
            f"{location.base_url}: uploading needs credentials: set {USER_VARIABLE} and"
            f" {PASSWORD_VARIABLE} in the environment"
        )
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": project,
        "version": version,
        "filetype": "bdist_wheel" if filename.endswith(".whl") else "sdist",
        "pyversion": "py3" if filename.endswith(".whl") else "source",
        "metadata_version": "2.1",
        "sha256_digest": sha256_bytes(data),
    }
    body, content_type = web.multipart_form(fields, "content", filename, data)
    try:
        web.request(
            "POST",
            location.base_url,
            data=body,
            content_type=content_type,
            credentials=credentials,
        )
    except web.WebError as exc:
        if exc.status is None:
            raise _unreachable(exc) from None
        raise _upload_error(location, credentials, filename, exc.status) from None


def _upload_error(
    location: IndexLocation, credentials: Credentials, filename: str, status: int
) -> PrivateIndexError | PublishError:
    if status == 401:
        return PrivateIndexError(
            f"{location.base_url}: the index refused the credentials of user"
            f" {credentials.user!r} (HTTP 401); check {USER_VARIABLE} and {PASSWORD_VARIABLE}"
        )
    if status == 403:
        return PrivateIndexError(
            f"{location.base_url}: user {credentials.user!r} may not upload to this index"
            " (HTTP 403); use the index owner's account or ask for upload rights"
        )
    if status == 409:
        return PublishError(
            f"{location.base_url}: {filename} is already on the index with other bytes;"
            " a published file is never replaced (build with the same inputs, or publish"
            " to another index)"
        )
    return PrivateIndexError(f"{location.base_url}: uploading {filename} failed: HTTP {status}")


def provenance_filename(wheel_filename: str) -> str:
    """The companion file that carries ``wheel_filename``'s provenance on the index."""
    stem = wheel_filename.removesuffix(".whl")
    return f"srcstacks_provenance-{_PROVENANCE_FORMAT}-{stem}.zip"


def provenance_companion(record: dict[str, Any]) -> bytes:
    """The companion zip for one wheel's record: same record, same bytes."""
    stream = io.BytesIO()
    with zipfile.ZipFile(stream, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("provenance.json", date_time=_ZIP_TIME)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, dump_json(record))
    return stream.getvalue()


def read_companion(data: bytes, source: str) -> dict[str, Any]:
    """The record inside a companion zip; ``source`` names it in errors."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            record = json.loads(archive.read("provenance.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise PrivateIndexError(f"{source}: not a srcstacks provenance file ({exc})") from None
    if not isinstance(record, dict):
        raise PrivateIndexError(f"{source}: not a srcstacks provenance file (not a JSON object)")
    return record


def publish_companion(
    location: IndexLocation, credentials: Credentials | None, record: dict[str, Any]
) -> None:
    """Upload the provenance companion of the wheel ``record['wheel']['filename']``."""
    filename = provenance_filename(record["wheel"]["filename"])
    upload(
        location,
        credentials,
        filename,
        provenance_companion(record),
        project=PROVENANCE_PROJECT,
        version=_PROVENANCE_FORMAT,
    )


def companion(
    record: WheelProvenance, inputs: dict[str, Any], worker: str | None = None
) -> dict[str, Any]:
    """A companion record; ``worker`` names the Dask worker that built the wheel, if one did."""
    wheel = asdict(record)
    if record.host is None:
        del wheel["host"]  # companions of wheels without a host keep their bytes
    if record.upstream is None:
        del wheel["upstream"]  # likewise the companions of wheels built from source
    else:
        wheel["origin"] = UPSTREAM_BINARY
    return {
        "format": 1,
        "wheel": wheel,
        "inputs": inputs,
        **({"worker": worker} if worker else {}),
    }


def _unreachable(exc: web.WebError) -> PrivateIndexError:
    if exc.status is not None:
        return PrivateIndexError(f"{exc.url}: the index answered {exc.reason}")
    host = urlsplit(exc.url).netloc
    return PrivateIndexError(
        f"{exc.url}: cannot reach the index at {host} ({exc.reason}); is the index server running?"
    )
