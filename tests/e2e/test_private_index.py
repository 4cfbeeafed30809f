"""End-to-end: a real devpi-server as the stack's private index and shared build cache.

One build of the demo publishes to the index; a second work dir (standing in for a
second machine) then builds the same stack with nothing built, fetching every wheel,
and gets byte-identical archives; a clean clone builds the archives from the
committed locks alone. The faults (unreachable index, credentials, an index that could
serve public binaries, conflicting or unprovenanced files) are each one line.
"""

from __future__ import annotations

import datetime
import json
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest

from srcstacks import web
from srcstacks.index.managed import ManagedIndex
from srcstacks.index.private import (
    PROVENANCE_PROJECT,
    IndexLocation,
    project_files,
    provenance_companion,
    provenance_filename,
    upload,
)
from srcstacks.tools.devpi import ADMIN_USER, ensure_private_index
from srcstacks.web import Credentials
from tests.conftest import (
    DEMO_FILES,
    REPO_ROOT,
    BuiltStack,
    copy_built_stack,
    copy_demo_stack,
    run_cli,
)

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class IndexBuild:
    """The demo built once with ``--index``, and what the index holds afterwards."""

    stack: Path  # the stack folder (spec, committed-style locks in requirements/)
    index_url: str
    env: dict[str, str]
    output: str


def credentials_env(index: ManagedIndex) -> dict[str, str]:
    return {"SRCSTACKS_INDEX_USER": index.user, "SRCSTACKS_INDEX_PASSWORD": index.password}


def admin(index: ManagedIndex) -> Credentials:
    """devpi's root on the session's server: only root creates indexes there."""
    root_password = json.loads(index.credentials_file.read_text())["root_password"]
    return Credentials(ADMIN_USER, root_password)


def fresh_index(index: ManagedIndex, name: str) -> str:
    """A new private index on the session's devpi-server; its base URL."""
    root = index.base_url.split(f"/{index.user}/", 1)[0] + "/"
    return ensure_private_index(root, index.user, index.password, name, admin=admin(index))


def artifacts(work_dir: Path) -> dict[str, bytes]:
    folder = work_dir / "cpu" / "artifacts"
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.tar.xz*"))}


def run_summary(work_dir: Path) -> dict[str, str]:
    data = json.loads((work_dir / "cpu" / "run-summary.json").read_text())
    return {entry["project"]: entry["action"] for entry in data["entries"]}


@pytest.fixture(scope="module")
def index_build(devpi_index: ManagedIndex, tmp_path_factory: pytest.TempPathFactory) -> IndexBuild:
    # The session index is srcstacks/cpu, as the demo's managed index is: only the port
    # differs from the URL the demo's committed locks name. The demo as committed: its
    # punycode app on the 3.12 runtime, built by a Fromager on 3.12.
    url = devpi_index.base_url
    root = tmp_path_factory.mktemp("index-demo")
    spec = copy_demo_stack(root / "stack", both_pythons=True)
    env = credentials_env(devpi_index)
    result = run_cli("build", spec, "--index", url, env=env)
    return IndexBuild(spec.parent, url, env, result.stderr)


def test_first_build_publishes_wheels_and_provenance(index_build: IndexBuild) -> None:
    location = IndexLocation.parse(index_build.index_url)
    summary = run_summary(index_build.stack / "_srcstacks")
    assert set(summary.values()) == {"built"}
    companions = project_files(location, PROVENANCE_PROJECT)
    for project in summary:
        files = project_files(location, project)
        assert len(files) == 1, (project, files)
        (wheel,) = files
        assert provenance_filename(wheel) in companions
    assert f"uploaded {len(summary)} wheel(s) and {len(summary)} provenance" in index_build.output


def test_the_password_is_in_no_output_and_no_file(
    index_build: IndexBuild, devpi_index: ManagedIndex
) -> None:
    assert devpi_index.password not in index_build.output
    leaked = [
        path
        for path in (index_build.stack / "_srcstacks").rglob("*")
        if path.is_file() and devpi_index.password.encode() in path.read_bytes()
    ]
    assert leaked == []


def test_locks_name_no_index_server_and_no_path_of_this_machine(index_build: IndexBuild) -> None:
    locks = sorted((index_build.stack / "requirements").rglob("*"))
    texts = [path.read_text() for path in locks if path.is_file()]
    assert texts
    server = index_build.index_url.split("/srcstacks/cpu/")[0]  # http://127.0.0.1:<port>
    for text in texts:
        assert "file://" not in text
        assert str(index_build.stack) not in text
        assert "/tmp" not in text
        assert server not in text
    pylocks = [path.read_text() for path in locks if path.name.startswith("pylock.")]
    assert any('index = "https://private-index.invalid/+simple/"' in text for text in pylocks)
    assert any('url = "https://private-index.invalid/+f/' in text for text in pylocks)


def test_the_demos_committed_locks_are_what_a_build_locks(index_build: IndexBuild) -> None:
    # The demo's locks were made against its managed index on another port: a team's
    # index on this port locks them byte for byte (the locks name neither).
    committed = REPO_ROOT / "requirements"
    made = index_build.stack / "requirements"
    names = sorted(path.relative_to(made) for path in made.rglob("pylock.*.toml"))
    assert names == sorted(path.relative_to(committed) for path in committed.rglob("pylock.*.toml"))
    for name in names:
        text = (made / name).read_text()
        assert text == (committed / name).read_text(), f"requirements/{name} is out of date"


def test_second_machine_fetches_every_wheel_and_builds_identical_archives(
    index_build: IndexBuild, tmp_path: Path
) -> None:
    second = tmp_path / "second-machine"
    result = run_cli(
        "build", index_build.stack, "--index", index_build.index_url, "--work-dir", second,
        env=index_build.env,
    )  # fmt: skip
    summary = run_summary(second)
    assert summary and set(summary.values()) == {"fetched"}, summary
    assert "provenance matches" in result.stderr
    assert artifacts(second) == artifacts(index_build.stack / "_srcstacks")


def test_an_upload_time_filter_in_the_spec_leaves_the_wheels_built_for_it(
    index_build: IndexBuild, tmp_path: Path
) -> None:
    """venvstacks' sample project sets ``[tool.uv] exclude-newer``: uv would filter out
    every wheel on the index, each uploaded when it was built (later than any such date),
    and the lock would find no version at all. srcstacks holds the sources Fromager
    resolves to the date, locks without it, and says so. (The date is now: the sources
    are those the shared build resolved; tests/e2e/test_sdist_index.py holds one back.)"""
    stack = tmp_path / "stack"
    stack.mkdir()
    for name in DEMO_FILES:  # no locks: uv locks every layer
        source = index_build.stack / name
        copy = shutil.copytree if source.is_dir() else shutil.copy2
        copy(source, stack / name)
    spec = stack / "venvstacks.toml"
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    spec.write_text(spec.read_text() + f'\n[tool.uv]\nexclude-newer = "{now}"\n')
    result = run_cli("build", spec, "--index", index_build.index_url, env=index_build.env)
    assert f"sources uploaded by {now} only" in result.stderr
    assert f"note: {spec}: 'tool.uv.exclude-newer' is not applied to the lock" in result.stderr
    sbom = json.loads(next((stack / "_srcstacks").rglob("app-punycode*.cdx.json")).read_text())
    layer = sbom["metadata"]["component"]
    assert {"name": "srcstacks:sources_uploaded_by", "value": now} in layer["properties"]
    assert set(run_summary(stack / "_srcstacks").values()) == {"fetched"}
    assert "markupsafe" in (stack / "requirements" / "framework-web" /
                            "pylock.framework-web.toml").read_text()  # fmt: skip


def test_clean_clone_builds_archives_from_the_committed_locks(
    index_build: IndexBuild, tmp_path: Path
) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in (*DEMO_FILES, "requirements"):
        source = index_build.stack / name
        if source.is_dir():
            shutil.copytree(source, clone / name)
        else:
            shutil.copy2(source, clone / name)
    # Reading the index needs no credentials: the clone has none.
    result = run_cli("archives", clone / "venvstacks.toml", "--index", index_build.index_url)
    assert "fetching 3 locked wheel(s)" in result.stderr
    # And the build tools they were built with (setuptools, flit_core), which their
    # provenance and SBOM formulation name by their own provenance entries.
    assert "fetched 5 wheel(s) (2 of them build tools)" in result.stderr
    built = artifacts(clone / "_srcstacks")
    original = artifacts(index_build.stack / "_srcstacks")
    archives = [name for name in original if name.endswith(".tar.xz")]
    assert archives and all(built[name] == original[name] for name in archives)
    run_cli("sbom", clone / "venvstacks.toml", "--index", index_build.index_url)
    verified = run_cli("verify", clone / "venvstacks.toml", "--index", index_build.index_url)
    assert "verified" in verified.stdout


def test_verify_names_wheels_missing_from_the_index(
    index_build: IndexBuild, devpi_index: ManagedIndex
) -> None:
    ok = run_cli("verify", index_build.stack / "venvstacks.toml", "--index", index_build.index_url)
    assert "0 problem(s)" in ok.stderr
    empty = fresh_index(devpi_index, "empty-for-verify")
    result = run_cli("verify", index_build.stack / "venvstacks.toml", "--index", empty, check=False)
    assert result.returncode == 1
    assert "idna-3.11-0-py3-none-any.whl is not on the index" in result.stdout
    assert "has no provenance on the index" in result.stdout


# --- faults: each on a copy of the shared (wheel dir) build, publishing only ---------


@pytest.fixture
def publish_copy(built_stack: BuiltStack, tmp_path: Path) -> Path:
    """A private copy of the shared build, ready for 'srcstacks publish-wheels --index'."""
    return copy_built_stack(built_stack, tmp_path / "stack")


def publish(spec: Path, url: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = run_cli("publish-wheels", spec, "--index", url, env=env, check=False)
    return result.returncode, result.stdout + result.stderr


def error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("srcstacks: error:")]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def index_case(
    stack: Path, index: ManagedIndex, url: str
) -> tuple[IndexLocation, Path, Credentials]:
    """The index at ``url``, the stack's published idna wheel, and the upload credentials."""
    (idna,) = (stack.parent / "_srcstacks" / "cpu" / "wheels").glob("idna-*.whl")
    return IndexLocation.parse(url), idna, Credentials(index.user, index.password)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_index_is_named(publish_copy: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/someone/stack/"
    code, output = publish(publish_copy, url)
    assert code == 1
    assert "cannot reach the index" in error_line(output) and url in output


def test_wrong_and_missing_credentials(publish_copy: Path, devpi_index: ManagedIndex) -> None:
    url = fresh_index(devpi_index, "credentials")
    wrong = {"SRCSTACKS_INDEX_USER": devpi_index.user, "SRCSTACKS_INDEX_PASSWORD": "not-it-42"}
    code, output = publish(publish_copy, url, wrong)
    assert code == 1
    assert "refused the credentials of user" in error_line(output)
    assert "not-it-42" not in output
    code, output = publish(publish_copy, url, {"SRCSTACKS_INDEX_PASSWORD": ""})
    assert code == 1
    assert "uploading needs credentials" in error_line(output)
    assert project_files(IndexLocation.parse(url), "idna") == {}


def make_index(index: ManagedIndex, name: str, config: dict[str, object]) -> str:
    root = index.base_url.split(f"/{index.user}/", 1)[0]
    url = f"{root}/{index.user}/{name}"
    login = admin(index)
    credentials = Credentials(login.user, login.password)
    web.request(
        "PUT",
        url,
        data=json.dumps({"type": "stage", **config}).encode(),
        content_type="application/json",
        credentials=credentials,
    )
    return url + "/"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        # Any base is refused; a mirror of PyPI (root/pypi) is what a base usually is.
        ({"bases": ["srcstacks/upstream"], "volatile": False}, "has upstream bases"),
        ({"bases": [], "volatile": True}, "the index is volatile"),
    ],
)
def test_index_that_could_serve_public_or_replaced_files_is_refused(
    publish_copy: Path, devpi_index: ManagedIndex, config: dict[str, object], message: str
) -> None:
    name = "with-bases" if config["bases"] else "volatile"
    if config["bases"]:
        make_index(devpi_index, "upstream", {"bases": [], "volatile": False})
    url = make_index(devpi_index, name, config)
    code, output = publish(publish_copy, url, credentials_env(devpi_index))
    assert code == 1
    assert message in error_line(output) and url in output


def test_same_file_name_other_bytes_is_refused_before_any_upload(
    publish_copy: Path, devpi_index: ManagedIndex
) -> None:
    url = fresh_index(devpi_index, "conflict")
    location, idna, credentials = index_case(publish_copy, devpi_index, url)
    upload(location, credentials, idna.name, b"not the wheel", project="idna", version="3.11")
    code, output = publish(publish_copy, url, credentials_env(devpi_index))
    assert code == 1
    assert f"{idna.name} is already on the index with sha256" in error_line(output)
    # Checked before anything was uploaded: no other wheel went up.
    assert project_files(location, "jinja2") == {}


def test_interrupted_publish_is_completed_by_the_rerun(
    publish_copy: Path, devpi_index: ManagedIndex
) -> None:
    url = fresh_index(devpi_index, "interrupted")
    location, idna, credentials = index_case(publish_copy, devpi_index, url)
    # As if the first publish stopped after this wheel went up, before its provenance.
    upload(location, credentials, idna.name, idna.read_bytes(), project="idna", version="3.11")
    _cut_off_upload(location)
    assert project_files(location, "jinja2") == {}
    code, output = publish(publish_copy, url, credentials_env(devpi_index))
    assert code == 0, output
    assert "(1 already there)" in output
    companions = project_files(location, PROVENANCE_PROJECT)
    assert provenance_filename(idna.name) in companions
    assert len(project_files(location, "jinja2")) == 1


def test_provenance_on_the_index_that_contradicts_its_wheel_is_refused(
    publish_copy: Path, devpi_index: ManagedIndex
) -> None:
    url = fresh_index(devpi_index, "inconsistent")
    location, idna, credentials = index_case(publish_copy, devpi_index, url)
    bogus = {"format": 1, "wheel": {"filename": idna.name, "sha256": "0" * 64}, "inputs": {}}
    upload(
        location, credentials, provenance_filename(idna.name), provenance_companion(bogus),
        project=PROVENANCE_PROJECT, version="1",
    )  # fmt: skip
    code, output = publish(publish_copy, url, credentials_env(devpi_index))
    assert code == 1
    assert "the index is inconsistent" in error_line(output)


def _cut_off_upload(location: IndexLocation) -> None:
    """Start an upload and drop the connection half way, as a network failure would."""
    host, port = location.base_url.split("//", 1)[1].split("/", 1)[0].split(":")
    path = "/" + location.base_url.split("//", 1)[1].split("/", 1)[1]
    body = b"x" * 4096
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: multipart/form-data; boundary=cut\r\n"
            f"Content-Length: {len(body) * 4}\r\n\r\n".encode()
            + body
        )


# --- the cache check, on wheels as Fromager leaves them after fetching ----------------


def test_a_fetched_wheel_is_used_only_with_matching_provenance(
    publish_copy: Path, devpi_index: ManagedIndex
) -> None:
    from dataclasses import replace

    from srcstacks.build.cache_check import check_fetched_wheels
    from srcstacks.build.wheel_records import companion_for
    from srcstacks.layout import Layout
    from srcstacks.spec.config import load_config
    from srcstacks.spec.settings import read_settings
    from srcstacks.state.provenance import read_manifest

    config = load_config(publish_copy)
    dirs = Layout.of(config).fromager
    settings = read_settings(config.settings_dir)
    (idna,) = dirs.built_wheels.glob("idna-*.whl")
    record = read_manifest(config.wheel_dir).wheels[idna.name]
    credentials = Credentials(devpi_index.user, devpi_index.password)
    lines: list[str] = []

    def check(url: str) -> list[str]:
        if not idna.exists():
            shutil.copy2(config.wheel_dir / idna.name, idna)
        location = IndexLocation.parse(url)
        return check_fetched_wheels(config, dirs, settings, location, {"idna"}, lines.append)

    def index_with(name: str, companion: dict[str, object] | None) -> str:
        url = fresh_index(devpi_index, name)
        location = IndexLocation.parse(url)
        published = (config.wheel_dir / idna.name).read_bytes()
        upload(location, credentials, idna.name, published, project="idna", version="3.11")
        if companion is not None:
            upload(
                location, credentials, provenance_filename(idna.name),
                provenance_companion(companion), project=PROVENANCE_PROJECT, version="1",
            )  # fmt: skip
        return url

    good = companion_for(config, settings, record)
    assert check(index_with("cache-good", good)) == []
    assert idna.exists()

    assert check(index_with("cache-none", None)) == ["idna"]
    assert not idna.exists()
    assert "the index has no provenance for it; building it" in lines[-1]

    other_patches = {**good, "inputs": {**good["inputs"], "patches": [["x.patch", "0" * 64]]}}
    assert check(index_with("cache-patches", other_patches)) == ["idna"]
    assert "built with other patches than this build uses" in lines[-1]

    assert record.sdist is not None
    other_sdist = replace(record, sdist=replace(record.sdist, sha256="1" * 64))
    tampered = companion_for(config, settings, other_sdist)
    assert check(index_with("cache-sdist", tampered)) == ["idna"]
    assert "differs from the one https://pypi.org/simple/ publishes" in lines[-1]
