"""The add-on image: every requirement has a wheel for the image's Python on both arches (pip asks the package
index), the image runs the torch version the tests run, and — as root — a real build with buildah whose server
passes the image's HEALTHCHECK (1.5–3 min, ~1.5 GB of disk; COSYVOICE_BUILD_IMAGE=0 skips it)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from addon_rules import REPO_ROOT, load_yaml

from wyoming_cosyvoice import addon

PYTHON_AND_GLIBC_OF_DEBIAN = {"bookworm": ("3.11", 36), "trixie": ("3.13", 41)}
MACHINE_OF_ARCH = {"amd64": "x86_64", "aarch64": "aarch64"}
REGISTRY_SETTINGS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX", "PIP_CONSTRAINT")


def dockerfile_arg(name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)$", (REPO_ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert match, f"the Dockerfile sets a default for {name}"
    return match[1]


def image_python_and_platforms(arch: str) -> list[str]:
    """pip's target options for the image: its Python, and the manylinux tags its glibc runs (2_17 … 2_N)."""
    python, glibc_minor = PYTHON_AND_GLIBC_OF_DEBIAN[load_yaml("build.yaml")["build_from"][arch].rpartition(":")[2]]
    machine = MACHINE_OF_ARCH[arch]
    platforms = [f"manylinux_2_{minor}_{machine}" for minor in range(glibc_minor, 16, -1)] + [
        f"manylinux2014_{machine}"
    ]
    return ["--python-version", python, *(option for tag in platforms for option in ("--platform", tag))]


def pip_for_image(arch: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """pip with its own default index only (no local wheel folders, config files or constraints): what a build
    on a user's machine sees, asked about the image's Python and CPU."""
    environment = {key: value for key, value in os.environ.items() if key not in REGISTRY_SETTINGS}
    environment["PIP_CONFIG_FILE"] = os.devnull
    target = ["--only-binary=:all:", "--implementation", "cp", *image_python_and_platforms(arch)]
    command = [sys.executable, "-m", "pip", *arguments, *target]
    result = subprocess.run(command, check=False, capture_output=True, text=True, env=environment, timeout=600)
    assert result.returncode == 0, result.stderr
    return result


def image_requirements() -> list[str]:
    """What pip installs into the image besides torch: the package's other dependencies and the requirements
    of torch's CPU build (read from the torch the tests run, which is the image's version)."""
    dependencies = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert importlib.metadata.version("torch").partition("+")[0] == dockerfile_arg("TORCH_VERSION")
    torch_requires = [req for req in importlib.metadata.requires("torch") or [] if "extra ==" not in req]
    return [dependency for dependency in dependencies if not re.match(r"torch\b", dependency)] + torch_requires


def test_image_torch_is_the_one_the_tests_run() -> None:
    setup = (REPO_ROOT / "script/setup").read_text()
    assert f'torch_version="${{TORCH_VERSION:-{dockerfile_arg("TORCH_VERSION")}}}"' in setup


@pytest.mark.parametrize("arch", sorted(MACHINE_OF_ARCH))
def test_torch_has_a_wheel_for_the_image(arch: str) -> None:
    """The version exists for the image's Python and CPU. (The image takes its CPU build from PyTorch's CPU
    index, which this check cannot reach; the image build refuses any other.)"""
    listing = pip_for_image(arch, "index", "versions", "torch").stdout
    available = re.search(r"^Available versions: (.*)$", listing, re.MULTILINE)
    assert available and dockerfile_arg("TORCH_VERSION") in available[1].split(", ")


@pytest.mark.parametrize("arch", sorted(MACHINE_OF_ARCH))
def test_every_other_requirement_has_a_wheel_for_the_image(arch: str, tmp_path: Path) -> None:
    report = pip_for_image(
        arch, "install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-", "--target", str(tmp_path),
        *image_requirements(),
    ).stdout  # fmt: skip
    resolved = {item["metadata"]["name"]: item["download_info"]["url"] for item in json.loads(report)["install"]}
    assert "torch" not in resolved
    assert all(url.endswith(".whl") for url in resolved.values()), resolved


def test_real_image_build_passes_its_healthcheck() -> None:
    if os.environ.get("COSYVOICE_BUILD_IMAGE") == "0":
        pytest.skip("COSYVOICE_BUILD_IMAGE=0: the real add-on image build (buildah, 1.5–3 min, ~1.5 GB) was skipped")
    if os.geteuid() != 0:
        pytest.skip("building the image needs root (debootstrap, buildah's chroot isolation)")
    result = subprocess.run(
        [str(REPO_ROOT / "script/build-addon-image"), "--check"],
        check=False,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "healthy: tcp://127.0.0.1:10200" in result.stdout
    assert "HEALTHCHECK passed" in result.stdout


def test_compose_file_builds_and_serves_the_addon_image() -> None:
    """docker-compose.yml (Home Assistant Container) passes the Dockerfile's build arguments and maps the port
    and /data the add-on uses."""
    service = load_yaml("docker-compose.yml")["services"]["cosyvoice"]
    dockerfile_args = set(re.findall(r"^ARG (\w+)", (REPO_ROOT / "Dockerfile").read_text(), re.MULTILINE))
    assert set(service["build"]["args"]) == {"BUILD_FROM", "TORCH_INDEX_URL"} <= dockerfile_args
    build = load_yaml("build.yaml")
    defaults = {name: re.fullmatch(r"\$\{\w+:-(.+)\}", value) for name, value in service["build"]["args"].items()}
    assert defaults["BUILD_FROM"] and defaults["BUILD_FROM"][1] == build["build_from"]["amd64"]
    assert defaults["TORCH_INDEX_URL"] and defaults["TORCH_INDEX_URL"][1] == build["args"]["TORCH_INDEX_URL"]
    assert service["ports"] == [f"{addon.PORT}:{addon.PORT}"]
    assert [volume.rpartition(":")[2] for volume in service["volumes"]] == [str(addon.OPTIONS_FILE.parent)]
