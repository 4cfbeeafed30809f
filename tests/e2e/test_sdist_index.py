"""Sdists that arrive damaged: a download cut off, a file whose sha256 is not the index's.

A real index server on loopback serves idna's sdist for the punycode app; the rest
of the build comes from PyPI as usual.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from srcstacks.layout import Layout
from tests.conftest import BuiltStack, copy_demo_stack, run_cli
from tests.e2e.test_failures import assert_one_clear_error
from tests.index_server import serve_sdist

pytestmark = pytest.mark.e2e

SDIST = "idna-3.11.tar.gz"


def punycode_stack(tmp_path: Path, index_url: str) -> Path:
    """The demo's runtime and punycode app only, with idna's sdist from ``index_url``."""
    spec = copy_demo_stack(tmp_path)
    text = spec.read_text()
    start, end = text.index("[[frameworks]]"), text.index('[[applications]]\nname = "punycode"')
    spec.write_text(text[:start] + text[end:])
    (tmp_path / "build-settings" / "idna.yaml").write_text(
        f"resolver_dist:\n  sdist_server_url: {index_url}\n"
    )
    return spec


@pytest.fixture
def idna_sdist(built_stack: BuiltStack) -> Path:
    """idna's genuine sdist, as the shared demo build downloaded it from PyPI."""
    return Layout.of(built_stack.config).fromager.downloaded_sdist_named(SDIST)


def published(spec: Path) -> list[str]:
    wheel_dir = spec.parent / "_srcstacks" / "cpu" / "wheels"
    return sorted(path.name for path in wheel_dir.glob("*.whl"))


def test_sdist_whose_sha256_differs_from_the_index_is_quarantined(
    tmp_path: Path, idna_sdist: Path
) -> None:
    with serve_sdist("idna", idna_sdist, mode="wrong-sha256") as index_url:
        spec = punycode_stack(tmp_path, index_url)
        result = run_cli("build", spec, check=False)
    assert result.returncode == 1, result.stderr
    line = assert_one_clear_error(result.stderr, SDIST, "sha256", f"{index_url}idna/")
    quarantined = tmp_path / "_srcstacks" / "cpu" / "quarantine" / SDIST
    assert quarantined.read_bytes() == idna_sdist.read_bytes(), line
    variant_dir = tmp_path / "_srcstacks" / "cpu"
    assert not list(variant_dir.glob(f"fromager/sdists-repo/downloads/{SDIST}"))
    assert not list(variant_dir.glob("fromager/wheels-repo/downloads/idna-*.whl"))
    assert published(spec) == [], "nothing may be published from a mismatching sdist"

    # Once the index serves the genuine file, the rerun downloads and builds it.
    with serve_sdist("idna", idna_sdist) as index_url:
        (tmp_path / "build-settings" / "idna.yaml").write_text(
            f"resolver_dist:\n  sdist_server_url: {index_url}\n"
        )
        run_cli("wheels", spec)
    assert (variant_dir / "fromager" / "sdists-repo" / "downloads" / SDIST).is_file()


def test_sdist_download_cut_off(tmp_path: Path, idna_sdist: Path) -> None:
    with serve_sdist("idna", idna_sdist, mode="cut-off") as index_url:
        spec = punycode_stack(tmp_path, index_url)
        result = run_cli("wheels", spec, check=False)
    assert result.returncode == 1, result.stderr
    assert_one_clear_error(result.stderr, "idna", "cut off after", "log: ")
    downloads = tmp_path / "_srcstacks" / "cpu" / "fromager" / "sdists-repo" / "downloads"
    assert not list(downloads.glob("idna-*")), "a partial download was left behind"


def test_a_source_uploaded_after_the_specs_cutoff_is_not_built(
    tmp_path: Path, idna_sdist: Path
) -> None:
    """The spec's ``[tool.uv] exclude-newer`` holds the sources at its date: Fromager,
    resolving on an index that reports upload times (PEP 700), never takes a later file."""
    with serve_sdist("idna", idna_sdist, mode="json", upload_time="2025-10-12T09:00:00Z") as url:
        spec = punycode_stack(tmp_path, url)
        text = spec.read_text()
        spec.write_text(text + '\n[tool.uv]\nexclude-newer = "2025-10-11"\n')
        result = run_cli("wheels", spec, check=False)
        assert result.returncode == 1, result.stderr
        assert_one_clear_error(
            result.stderr,
            f"no source distribution on {url}",
            "idna==3.11 uploaded by 2025-10-12T00:00:00Z",
            "the spec's exclude-newer left out 1 of its 1 file(s)",
        )
        built = tmp_path / "_srcstacks" / "cpu" / "fromager" / "wheels-repo" / "downloads"
        assert not list(built.glob("idna-*.whl"))

        # With the whole day of the upload in, the same spec builds it.
        spec.write_text(text + '\n[tool.uv]\nexclude-newer = "2025-10-12"\n')
        result = run_cli("wheels", spec)
    assert "sources uploaded by 2025-10-13T00:00:00Z only" in result.stderr
    assert [wheel.name.split("-")[1] for wheel in built.glob("idna-*.whl")] == ["3.11"]
