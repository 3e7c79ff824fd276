"""The add-on's repository layout, config.yaml, build.yaml, repository.yaml and translations, checked against
the Supervisor's rules (addon_rules.py) and the add-on linter's JSON schemas (../shared/addon-schema)."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import pytest
from addon_rules import (
    IMAGE_FOR_BUILD,
    LEGACY_MAP_TYPES,
    MAP_STRING,
    PORT_KEY,
    REPO_ROOT,
    SLUG,
    SUPPORTED_ARCHES,
    OptionType,
    addon_config_files,
    load_yaml,
    named_config_files,
    repository_files,
)
from conftest import SHARED_DIR

from wyoming_cosyvoice import addon
from wyoming_cosyvoice.voices import DEFAULT_VOICE, VOICES

SCHEMA_DIR = SHARED_DIR / "addon-schema"


@pytest.fixture(scope="module")
def config() -> dict:
    return load_yaml("config.yaml")


@pytest.fixture(scope="module")
def build() -> dict:
    return load_yaml("build.yaml")


def test_the_supervisor_finds_exactly_one_addon_at_the_repository_root() -> None:
    files = repository_files()
    assert addon_config_files(files) == [PurePosixPath("config.yaml")]
    assert named_config_files(files, "repository") == [PurePosixPath("repository.yaml")]
    assert named_config_files(files, "build") == [PurePosixPath("build.yaml")]


@pytest.mark.parametrize(("image", "shape"), [("icon.png", (128, 128)), ("logo.png", (250, 100))])
def test_store_images_are_pngs_of_the_usual_shape(image: str, shape: tuple[int, int]) -> None:
    header = (REPO_ROOT / image).read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == shape


def test_repository_file_names_the_repository() -> None:
    repository = load_yaml("repository.yaml")
    assert isinstance(repository.get("name"), str) and repository["name"]
    assert set(repository) <= {"name", "url", "maintainer"}


def test_required_keys_and_their_formats(config: dict) -> None:
    for key in ("name", "version", "slug", "description", "url", "arch"):
        assert config.get(key), f"config.yaml needs {key}"
    assert SLUG.fullmatch(config["slug"])
    assert set(config["arch"]) <= SUPPORTED_ARCHES
    assert config["init"] is False, "s6-overlay must run as PID 1: init: false"
    assert urlparse(config["url"]).scheme == "https"


def test_addon_and_repository_point_at_the_projects_home(config: dict) -> None:
    """The store's links lead where the integration's manifest sends people."""
    manifest = json.loads((REPO_ROOT / "custom_components/cosyvoice/manifest.json").read_text(encoding="utf-8"))
    home = manifest["issue_tracker"].removesuffix("/issues")
    assert config["url"] == load_yaml("repository.yaml")["url"] == home


def test_version_matches_the_package_and_the_changelog(config: dict) -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert str(config["version"]) == pyproject["project"]["version"]
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    first_heading = re.search(r"^## (\S+)", changelog, re.MULTILINE)
    assert first_heading and first_heading[1] == str(config["version"])


def test_ports_and_discovery(config: dict) -> None:
    for port, host_port in config["ports"].items():
        assert PORT_KEY.fullmatch(port)
        assert host_port is None or 1 <= host_port <= 65535
    assert f"{addon.PORT}/tcp" in config["ports"]
    assert "wyoming" in config["discovery"]


def test_map_entries_are_current_supervisor_types(config: dict) -> None:
    for entry in config.get("map", []):
        kind = entry["type"] if isinstance(entry, dict) else MAP_STRING.fullmatch(entry)["type"]
        assert kind not in LEGACY_MAP_TYPES
    assert "share" in config["map"], f"the add-on reads a model the user puts in {addon.SHARED_MODELS_DIR}"


def test_the_model_is_kept_in_the_addons_own_data_folder(config: dict) -> None:
    """The Supervisor always mounts the add-on's persistent folder at /data (kept through updates, part of
    backups): the download goes there, and no map entry moves /data elsewhere."""
    assert addon.DOWNLOAD_DIR.parent == addon.OPTIONS_FILE.parent == Path("/data")
    moved = [entry for entry in config.get("map", []) if isinstance(entry, dict) and entry["type"] == "data"]
    assert moved == []


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("models/CosyVoice-300M-SFT/llm.pt", True),
        ("models/CosyVoice-300M-SFT-lite/llm.safetensors", True),
        ("models/CosyVoice-300M-SFT/llm.pt.incomplete", True),
        ("models/.CosyVoice-300M-SFT.partial/.cache/huggingface/download/flow.pt.incomplete", True),
        ("options.json", False),
        ("models/CosyVoice-300M-SFT/cosyvoice.yaml", False),
    ],
)
def test_backups_leave_out_the_model_weights(config: dict, path: str, excluded: bool) -> None:
    """The Supervisor matches each pattern with PurePath.match against the file's full path."""
    full_path = PurePosixPath("/data/addons/data/local_cosyvoice", path)
    assert any(full_path.match(pattern) for pattern in config["backup_exclude"]) is excluded


def test_every_option_has_a_schema_entry_its_default_satisfies(config: dict) -> None:
    schema = {name: OptionType.parse(text) for name, text in config["schema"].items()}
    assert set(config["options"]) <= set(schema)
    for name, option_type in schema.items():
        if name in config["options"]:
            assert option_type.problem_with(config["options"][name]) is None, name
        else:
            assert option_type.optional, f"{name} has no default, so its schema type must end in '?'"


def test_options_are_the_ones_the_entry_point_maps(config: dict) -> None:
    assert list(config["schema"]) == list(addon.OPTION_FLAGS)


def test_voice_choices_are_the_servers_voices(config: dict) -> None:
    assert OptionType.parse(config["schema"]["voice"]).choices() == [voice.name for voice in VOICES]
    assert config["options"]["voice"] == DEFAULT_VOICE


def test_translations_describe_every_option_and_port(config: dict) -> None:
    for translation_file in sorted((REPO_ROOT / "translations").iterdir()):
        translation = load_yaml(f"translations/{translation_file.name}")
        assert set(translation["configuration"]) == set(config["schema"]), translation_file.name
        for name, text in translation["configuration"].items():
            assert isinstance(text["name"], str) and text["name"], name
            assert isinstance(text.get("description"), str), name
        assert set(translation["network"]) == set(config["ports"])


def test_build_has_a_debian_base_image_for_every_arch(config: dict, build: dict) -> None:
    assert set(build["build_from"]) == set(config["arch"])
    for image in build["build_from"].values():
        assert IMAGE_FOR_BUILD.fullmatch(image)
        assert "base-debian:" in image, "the frontend's wheels need glibc"
    assert all(isinstance(value, str) for value in build.get("args", {}).values())


@pytest.mark.parametrize(("document", "schema"), [("config.yaml", "config"), ("build.yaml", "build")])
def test_linter_json_schema(document: str, schema: str) -> None:
    check = Path(sys.executable).with_name("check-jsonschema")
    assert check.exists(), "install the test extra: script/setup --test"
    result = subprocess.run(
        [str(check), "--regex-variant", "python", "--schemafile", str(SCHEMA_DIR / f"{schema}.schema.json"), document],
        cwd=REPO_ROOT,
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("document", "schema"), [("config.yaml", "config"), ("build.yaml", "build")])
def test_no_key_restates_its_default(document: str, schema: str) -> None:
    properties = json.loads((SCHEMA_DIR / f"{schema}.schema.json").read_text())["properties"]
    restated = [
        key
        for key, value in load_yaml(document).items()
        if "default" in properties.get(key, {}) and properties[key]["default"] == value
    ]
    assert restated == []
