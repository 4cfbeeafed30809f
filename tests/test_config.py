"""Config parsing: the spec's layers, [tool.srcstacks], overrides, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from srcstacks.errors import ConfigError
from srcstacks.spec.config import Overrides, load_config
from srcstacks.state.layer_fingerprints import module_components

SPEC = """
[[runtimes]]
name = "rt"
python_implementation = "cpython@3.11.7"
requirements = []

[[frameworks]]
name = "fw"
runtime = "rt"
requirements = ["markupsafe"]

[[applications]]
name = "app"
launch_module = "app.py"
frameworks = ["fw"]
requirements = ["jinja2>=3"]
"""


def write(tmp_path: Path, text: str) -> Path:
    spec = tmp_path / "venvstacks.toml"
    spec.write_text(text)
    return spec


def test_defaults_are_relative_to_the_spec(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SPEC))
    assert config.settings_dir == tmp_path / "build-settings"
    assert config.patches_dir == tmp_path / "patches"
    assert config.variant == "cpu"
    assert config.wheel_dir == tmp_path / "_srcstacks" / "cpu" / "wheels"
    assert config.output_dir == tmp_path / "_srcstacks" / "cpu" / "artifacts"
    assert config.runtime.kind == "download"
    assert [layer.env_name for layer in config.layers] == ["rt", "framework-fw", "app-app"]
    assert config.layer("app").depends_on == ("framework-fw",)
    assert [layer.name for layer in config.stack_of(config.layer("app"))] == ["app", "fw", "rt"]


def test_a_folder_means_its_venvstacks_toml(tmp_path: Path) -> None:
    write(tmp_path, SPEC)
    assert load_config(tmp_path).spec_path == tmp_path / "venvstacks.toml"


def test_tool_table_and_overrides(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        SPEC
        + '\n[tool.srcstacks]\nvariant = "hardened"\nwheel_dir = "w"\n'
        + '[tool.srcstacks.runtime]\nsource = "local"\npath = "rt.tar.gz"\n',
    )
    config = load_config(spec)
    assert config.variant == "hardened"
    assert config.wheel_dir == tmp_path / "w"
    assert config.runtime.path == tmp_path / "rt.tar.gz"
    overridden = load_config(spec, Overrides(variant="fast", output_dir=Path("/tmp/out")))
    assert overridden.variant == "fast"
    assert overridden.wheel_dir == tmp_path / "w"  # explicitly configured: kept
    assert overridden.output_dir == Path("/tmp/out")


def test_variant_override_moves_default_dirs(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SPEC), Overrides(variant="hardened"))
    assert config.wheel_dir == tmp_path / "_srcstacks" / "hardened" / "wheels"
    assert config.output_dir == tmp_path / "_srcstacks" / "hardened" / "artifacts"


@pytest.mark.parametrize(
    ("tool", "overrides", "work", "variant", "wheels", "outputs"),
    [
        # Nothing set: everything under the default work dir and variant.
        ("", {}, "_srcstacks", "cpu", None, None),
        # The spec's work_dir moves the default wheel and output dirs with it...
        ('work_dir = "build"', {}, "build", "cpu", None, None),
        # ...also for a variant chosen on the command line (the reported bug)...
        ('work_dir = "build"', {"variant": "gpu"}, "build", "gpu", None, None),
        # ...or named by the spec itself.
        ('work_dir = "build"\nvariant = "gpu"', {}, "build", "gpu", None, None),
        ('variant = "gpu"', {"variant": "hardened"}, "_srcstacks", "hardened", None, None),
        # --work-dir wins over the spec's and carries the derived dirs along.
        ('work_dir = "build"', {"work_dir": "cli"}, "cli", "cpu", None, None),
        ("", {"work_dir": "cli", "variant": "gpu"}, "cli", "gpu", None, None),
        # An explicit wheel or output dir always wins, from the spec or the command line.
        ('work_dir = "build"\nwheel_dir = "w"', {"variant": "gpu"}, "build", "gpu", "w", None),
        ('output_dir = "o"', {"work_dir": "cli"}, "cli", "cpu", None, "o"),
        ('wheel_dir = "w"', {"wheel_dir": "cli-w"}, "_srcstacks", "cpu", "cli-w", None),
        ("", {"output_dir": "cli-o", "variant": "gpu"}, "_srcstacks", "gpu", None, "cli-o"),
    ],
)
def test_wheel_and_output_dirs_follow_the_final_work_dir_and_variant(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tool: str,
    overrides: dict[str, str],
    work: str,
    variant: str,
    wheels: str | None,
    outputs: str | None,
) -> None:
    monkeypatch.chdir(tmp_path)  # command-line paths are relative to the working dir
    spec = write(tmp_path, SPEC + f"\n[tool.srcstacks]\n{tool}\n")
    options = {key: value if key == "variant" else Path(value) for key, value in overrides.items()}
    config = load_config(spec, Overrides(**options))  # type: ignore[arg-type]
    assert (config.work_dir, config.variant) == (tmp_path / work, variant)
    assert config.wheel_dir == tmp_path / (wheels or f"{work}/{variant}/wheels")
    assert config.output_dir == tmp_path / (outputs or f"{work}/{variant}/artifacts")
    assert config.spec_variant == ("gpu" if 'variant = "gpu"' in tool else "cpu")


@pytest.mark.parametrize("key", ["settings_dir", "patches_dir"])
def test_a_named_input_folder_must_exist(tmp_path: Path, key: str) -> None:
    spec = write(tmp_path, SPEC + f'\n[tool.srcstacks]\n{key} = "typo"\n')
    with pytest.raises(ConfigError) as error:
        load_config(spec)
    message = str(error.value)
    assert str(spec) in message and f"'tool.srcstacks.{key}'" in message
    assert str(tmp_path / "typo") in message and "does not exist" in message
    (tmp_path / "typo").write_text("a file")
    with pytest.raises(ConfigError, match="is not a folder"):
        load_config(spec)
    (tmp_path / "typo").unlink()
    (tmp_path / "typo").mkdir()
    assert getattr(load_config(spec), key) == tmp_path / "typo"  # negative control


@pytest.mark.parametrize("key", ["settings_dir", "patches_dir"])
def test_a_folder_named_on_the_command_line_must_exist(tmp_path: Path, key: str) -> None:
    spec = write(tmp_path, SPEC)
    with pytest.raises(ConfigError) as error:
        load_config(spec, Overrides(**{key: tmp_path / "patchs"}))  # type: ignore[arg-type]
    option = "--" + key.replace("_", "-")
    assert str(error.value).startswith(f"{option} names {tmp_path / 'patchs'}, which does not")


def test_default_input_folders_may_be_missing(tmp_path: Path) -> None:
    # Not named anywhere: a stack without patches or settings is normal.
    config = load_config(write(tmp_path, SPEC))
    assert not config.patches_dir.exists() and not config.settings_dir.exists()


def test_a_symlinked_spec_uses_the_links_folder(tmp_path: Path) -> None:
    # venvstacks finds launch modules and requirements/ beside the path it is given,
    # without resolving links; srcstacks finds build-settings/ and patches/ the same way.
    real = tmp_path / "real"
    real.mkdir()
    (real / "venvstacks.toml").write_text(SPEC)
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "venvstacks.toml").symlink_to(real / "venvstacks.toml")
    config = load_config(linked / "venvstacks.toml")
    assert config.spec_dir == linked
    assert config.patches_dir == linked / "patches"
    assert config.settings_dir == linked / "build-settings"
    # '..' is removed by name, as venvstacks does, not by following links.
    assert load_config(linked / "sub" / ".." / "venvstacks.toml").spec_dir == linked


def test_mode_defaults_to_full_and_selective_names_are_canonical(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, SPEC)).mode.name == "full"
    spec = write(
        tmp_path,
        SPEC
        + '\n[tool.srcstacks]\nmode = "selective"\nbuild_from_source = ["Six", "zope.interface"]\n',
    )
    mode = load_config(spec).mode
    assert mode.selective and mode.build_from_source == ("six", "zope-interface")


@pytest.mark.parametrize(
    ("addition", "expected"),
    [
        ('\n[tool.srcstacks]\nsettings = "x"\n', "unknown key 'tool.srcstacks.settings'"),
        ("\n[tool.srcstacks]\nvariant = 3\n", "'tool.srcstacks.variant' must be a string"),
        ('\n[tool.srcstacks]\nvariant = "a/b"\n', "variant 'a/b'"),
        ('\n[tool.srcstacks.runtime]\nsource = "ftp"\n', "must be one of"),
        ('\n[tool.srcstacks.runtime]\nsource = "local"\n', "needs 'path'"),
        ('\n[tool.srcstacks.runtime]\nsource = "mirror"\n', "needs 'mirror_url'"),
        ('\n[tool.srcstacks.runtime]\nurl = "x"\n', "tool.srcstacks.runtime.url"),
        ('\n[tool.srcstacks]\nmode = "binary"\n', "'tool.srcstacks.mode' must be \"full\""),
        ("\n[tool.srcstacks]\nmode = 1\n", "'tool.srcstacks.mode' must be a string"),
        (
            '\n[tool.srcstacks]\nmode = "selective"\nbuild_from_source = ["a b"]\n',
            "holds 'a b', which is not a project name",
        ),
        (
            '\n[tool.srcstacks]\nmode = "selective"\nbuild_from_source = [3]\n',
            "holds 3, which is not a project name",
        ),
        (
            '\n[tool.srcstacks]\nbuild_from_source = ["six"]\n',
            'applies only to mode = "selective"',
        ),
    ],
)
def test_tool_table_errors_name_the_key(tmp_path: Path, addition: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=r"venvstacks\.toml") as error:
        load_config(write(tmp_path, SPEC + addition))
    assert expected in str(error.value)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('runtime = "rt"', 'runtime = "rt2"', "unknown runtime layer 'rt2'"),
        ('frameworks = ["fw"]', 'frameworks = ["nope"]', "unknown framework layer 'nope'"),
        ('requirements = ["markupsafe"]', 'requirements = ["marku psafe"]', "invalid requirement"),
        ('"cpython@3.11.7"', '"3.11"', "python_implementation"),
        ('"cpython@3.11.7"', '"cpython@3.11.7/../../../../outside"', "'python_implementation'"),
        ('"cpython@3.11.7"', '"cpython@3.11"', "full version"),
        ('"cpython@3.11.7"', '"pypy@3.11.7"', "'cpython@3.11.7'"),
        ('"cpython@3.11.7"', "3", "not 3"),
        ('name = "fw"', 'name = "../fw"', "'name' '../fw' must be one folder name"),
        ('name = "fw"', 'name = "a/b"', "'name' 'a/b' must be one folder name"),
        ('name = "fw"', 'name = "a..b"', "no '/' or '..'"),
        ('name = "rt"', 'name = "framework-rt"', "prefix venvstacks reserves"),
        ('launch_module = "app.py"', 'launch_module = "/etc/passwd"', "relative to the spec"),
        ('launch_module = "app.py"', 'launch_module = "a/.."', "'launch_module' 'a/..' must"),
        (
            'launch_module = "app.py"',
            'launch_module = "app.py"\nsupport_modules = ["ok.py", "/srv/x.py"]',
            "'support_modules' '/srv/x.py' must name a file relative to the spec's folder",
        ),
        ('launch_module = "app.py"', "", "'launch_module' must be a path"),
        ('requirements = ["markupsafe"]', 'requirements = ["m @ https://x.test/m.tgz"]', "URL"),
        ('runtime = "rt"', 'runtime = "rt"\npackage_indexes = { m = "x" }', "'package_indexes'"),
        ('runtime = "rt"', 'runtime = "rt"\npriority_indexes = ["x"]', "'priority_indexes'"),
        ('frameworks = ["fw"]', 'frameworks = ["fw"]\nindex_overrides = {}', "'index_overrides'"),
        ('frameworks = ["fw"]', "frameworks = []", "needs 'runtime' or a non-empty"),
    ],
)
def test_layer_errors(tmp_path: Path, old: str, new: str, expected: str) -> None:
    spec = write(tmp_path, SPEC.replace(old, new))
    with pytest.raises(ConfigError) as error:
        load_config(spec)
    assert str(error.value).startswith(f"{spec}: ")
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_the_layer_errors_name_their_layer(tmp_path: Path) -> None:
    spec = write(tmp_path, SPEC.replace('"cpython@3.11.7"', '"cpython@3.11.7/../x"'))
    with pytest.raises(ConfigError, match=r"runtime layer 'rt': 'python_implementation'"):
        load_config(spec)
    spec = write(tmp_path, SPEC.replace('name = "fw"', 'name = "a/b"'))
    with pytest.raises(ConfigError, match=r"\[\[frameworks\]\] #1: 'name' 'a/b'"):
        load_config(spec)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('[tool.uv]\nindex-url = "https://x.test/simple"', "'tool.uv.index-url'"),
        ('[tool.uv]\nextra-index-url = ["https://x.test"]', "'tool.uv.extra-index-url'"),
        ('[tool.uv]\nfind-links = ["/srv/wheels"]', "'tool.uv.find-links'"),
        ("[tool.uv]\nno-index = false", "'tool.uv.no-index'"),
        ('[tool.uv]\nindex-strategy = "unsafe-best-match"', "'tool.uv.index-strategy'"),
        ('[[tool.uv.index]]\nname = "x"\nurl = "https://x.test"', "'tool.uv.index'"),
        ('[tool.uv.sources]\nm = { index = "x" }', "'tool.uv.sources'"),
        ('[tool.uv.pip]\nindex-url = "https://x.test"', "'tool.uv.pip.index-url'"),
    ],
)
def test_index_settings_in_the_spec_are_refused(tmp_path: Path, table: str, expected: str) -> None:
    spec = write(tmp_path, SPEC + "\n" + table + "\n")
    with pytest.raises(ConfigError) as error:
        load_config(spec)
    assert str(error.value).startswith(f"{spec}: {expected} is not allowed")
    assert "wheel dir only" in str(error.value)


def test_harmless_uv_settings_are_kept(tmp_path: Path) -> None:
    # Negative control: settings that add no source of wheels pass.
    spec = write(tmp_path, SPEC + '\n[tool.uv]\nexclude-newer = "2025-01-01T00:00:00Z"\n')
    assert load_config(spec).spec_path == spec


def test_index_settings_in_venvstacks_uv_toml_are_refused(tmp_path: Path) -> None:
    spec = write(tmp_path, SPEC)
    uv_config = tmp_path / "venvstacks.uv.toml"
    uv_config.write_text('find-links = ["/srv/wheels"]\n')
    with pytest.raises(ConfigError) as error:
        load_config(spec)
    assert str(error.value).startswith(f"{uv_config}: 'find-links' is not allowed")


def test_marker_false_requirements_are_left_out_of_the_build(tmp_path: Path) -> None:
    text = SPEC.replace(
        'requirements = ["markupsafe"]',
        'requirements = ["markupsafe", "tomli; python_version < \'3.11\'", "six; extra == \'x\'"]',
    )
    layer = load_config(write(tmp_path, text)).layer("fw")
    assert [str(req) for req in layer.requirements] == [
        "markupsafe",
        'tomli; python_version < "3.11"',
        'six; extra == "x"',
    ]
    assert [str(req) for req in layer.left_out] == [
        'tomli; python_version < "3.11"',
        'six; extra == "x"',
    ]
    assert [str(req) for req in layer.built_requirements] == ["markupsafe"]


def test_marker_true_for_the_target_is_built(tmp_path: Path) -> None:
    text = SPEC.replace(
        'requirements = ["markupsafe"]',
        "requirements = [\"markupsafe; sys_platform == 'linux' and python_version >= '3.11'\"]",
    )
    layer = load_config(write(tmp_path, text)).layer("fw")
    assert layer.left_out == () and len(layer.built_requirements) == 1


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="malformed TOML"):
        load_config(write(tmp_path, SPEC + "\n[[runtimes]\n"))


def test_sbom_table(tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        SPEC
        + "\n[tool.srcstacks.sbom]\n"
        + 'supplier = "ACME builds"\n'
        + 'manufacturer = { name = "ACME", url = "https://acme.example",'
        + ' email = "a@acme.example" }\n'
        + 'authors = ["Jo", { name = "Sam", email = "sam@acme.example" }]\n'
        + 'security_contact = "https://acme.example/.well-known/security.txt"\n',
    )
    sbom = load_config(spec).sbom
    assert sbom.security_contact == "https://acme.example/.well-known/security.txt"
    assert sbom.supplier is not None and sbom.supplier.name == "ACME builds"
    assert sbom.manufacturer is not None
    assert (sbom.manufacturer.url, sbom.manufacturer.email) == (
        "https://acme.example",
        "a@acme.example",
    )
    assert [(author.name, author.email) for author in sbom.authors] == [
        ("Jo", None),
        ("Sam", "sam@acme.example"),
    ]


def test_sbom_table_defaults_to_nobody(tmp_path: Path) -> None:
    sbom = load_config(write(tmp_path, SPEC)).sbom
    assert sbom.supplier is None and sbom.manufacturer is None and sbom.authors == ()
    assert sbom.security_contact is None and sbom.repository_url is None


def test_sbom_repository_url(tmp_path: Path) -> None:
    table = '\n[tool.srcstacks.sbom]\nrepository_url = "https://pypi.acme.example/simple/"\n'
    sbom = load_config(write(tmp_path, SPEC + table)).sbom
    assert sbom.repository_url == "https://pypi.acme.example/simple/"


def test_security_contact_by_mail(tmp_path: Path) -> None:
    table = '\n[tool.srcstacks.sbom]\nsecurity_contact = "mailto:security@acme.example"\n'
    sbom = load_config(write(tmp_path, SPEC + table)).sbom
    assert sbom.security_contact == "mailto:security@acme.example"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('suplier = "x"', "unknown key 'tool.srcstacks.sbom.suplier'"),
        ("supplier = 3", "'tool.srcstacks.sbom.supplier' must be a string or a table, not int"),
        ('authors = "Jo"', "'tool.srcstacks.sbom.authors' must be a list, not str"),
        ("authors = [3]", "'tool.srcstacks.sbom.authors[0]' must be a string or a table"),
        ('supplier = { name = "x", phone = "1" }', "tool.srcstacks.sbom.supplier.phone"),
        ('supplier = { url = "https://x" }', "'tool.srcstacks.sbom.supplier' needs a non-empty"),
        ('manufacturer = { name = "x", url = 1 }', "'tool.srcstacks.sbom.manufacturer.url'"),
        (
            'manufacturer = { name = "x", url = "acme.example" }',
            "'tool.srcstacks.sbom.manufacturer.url' must be an http(s):// URL, not 'acme.example'",
        ),
        (
            'supplier = { name = "x", email = "acme" }',
            "'tool.srcstacks.sbom.supplier.email' must be an e-mail address, not 'acme'",
        ),
        ("security_contact = 3", "'tool.srcstacks.sbom.security_contact' must be a string"),
        *(
            (
                f'security_contact = "{value}"',
                "'tool.srcstacks.sbom.security_contact' must be 'mailto:<address>' or an"
                f" https:// URL, not '{value}'",
            )
            for value in ("security@acme.example", "http://acme.example/sec", "mailto:acme")
        ),
        (
            'license = "Apache 2"',
            "'tool.srcstacks.sbom.license' must be an SPDX licence id or expression",
        ),
        ('copyright = " "', "'tool.srcstacks.sbom.copyright' must not be empty"),
        *(
            (
                f'repository_url = "{value}"',
                "'tool.srcstacks.sbom.repository_url' must be an https:// or http:// URL of an"
                f" index without credentials, not '{value}'",
            )
            for value in ("pypi.acme.example/simple", "https://jo:secret@pypi.acme.example/")
        ),
    ],
)
def test_sbom_table_errors_name_the_key(tmp_path: Path, table: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=r"venvstacks\.toml") as error:
        load_config(write(tmp_path, SPEC + "\n[tool.srcstacks.sbom]\n" + table + "\n"))
    assert expected in str(error.value)


def test_the_suppliers_own_licence_and_copyright_are_read(tmp_path: Path) -> None:
    table = 'license = "Apache-2.0 OR MIT"\ncopyright = "Copyright 2026 ACME"\n'
    config = load_config(write(tmp_path, SPEC + "\n[tool.srcstacks.sbom]\n" + table))
    assert (config.sbom.license, config.sbom.copyright) == (
        "Apache-2.0 OR MIT",
        "Copyright 2026 ACME",
    )


def test_sbom_must_be_a_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'tool\.srcstacks\.sbom' must be a table"):
        load_config(write(tmp_path, SPEC + '\n[tool.srcstacks]\nsbom = "x"\n'))


def test_a_support_module_beside_the_spec_folder_is_read_and_hashed(tmp_path: Path) -> None:
    # venvstacks' own sample project: support_modules = ["../minimal_project/empty.py"].
    stack = tmp_path / "sample_project"
    stack.mkdir()
    (stack / "app.py").write_text("")
    shared = tmp_path / "minimal_project" / "empty.py"
    shared.parent.mkdir()
    shared.write_text("")
    support = 'support_modules = ["../minimal_project/empty.py"]'
    text = SPEC.replace('launch_module = "app.py"', f'launch_module = "app.py"\n{support}')
    config = load_config(write(stack, text))
    (app,) = config.layers_of("application")
    assert app.modules == ("app.py", "../minimal_project/empty.py")
    assert config.module_file("../minimal_project/empty.py") == shared
    before = module_components(config, app)
    shared.write_text("VALUE = 1\n")
    after = module_components(config, app)
    assert before.keys() == after.keys() and before != after, "its content is an input"


def test_a_spec_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "venvstacks.toml"
    spec.write_bytes(SPEC.encode() + "# caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as raised:
        load_config(spec)
    assert str(raised.value) == f"{spec}: not UTF-8 text (byte {len(SPEC.encode()) + 5})"
