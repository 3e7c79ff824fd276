"""The add-on image's s6-overlay services and scripts: well-formed service folders, lint-clean shell (shellcheck)
and Dockerfile (hadolint), and paths that agree with the Dockerfile."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from addon_rules import REPO_ROOT

SERVICES_DIR = REPO_ROOT / "rootfs/etc/s6-overlay/s6-rc.d"
SERVICE_TYPES = {"longrun", "oneshot", "bundle"}
BASE_IMAGE_SERVICES = {"base", "user"}
"""Services the base image's s6-overlay defines: ours may depend on them and join its `user` bundle."""


def tool(name: str) -> str:
    path = Path(sys.executable).with_name(name)
    assert path.exists(), f"{name} missing: install the test extra (script/setup --test)"
    return str(path)


def services() -> dict[str, str]:
    """Our own services by name, with their type."""
    return {
        folder.name: (folder / "type").read_text().strip()
        for folder in SERVICES_DIR.iterdir()
        if folder.name not in BASE_IMAGE_SERVICES
    }


def shell_scripts() -> list[Path]:
    scripts = [path for path in SERVICES_DIR.rglob("*") if path.is_file() and path.read_bytes().startswith(b"#!")]
    return [*scripts, REPO_ROOT / "script/build-addon-image"]


def dockerfile_venv() -> str:
    match = re.search(r"python3 -m venv (\S+)", (REPO_ROOT / "Dockerfile").read_text())
    assert match, "the Dockerfile creates the server's virtual environment"
    return match[1]


def test_every_service_has_a_known_type_and_its_script() -> None:
    for name, kind in services().items():
        assert kind in SERVICE_TYPES, name
        folder = SERVICES_DIR / name
        if kind == "longrun":
            assert (folder / "run").stat().st_mode & 0o111, f"{name}/run must be executable"
        if kind == "oneshot":
            assert (folder / "up").read_text().strip(), f"{name}/up must hold a command line"


def test_dependencies_and_user_bundle_name_real_services() -> None:
    known = set(services()) | BASE_IMAGE_SERVICES
    for name in services():
        for dependency in (SERVICES_DIR / name / "dependencies.d").glob("*"):
            assert dependency.name in known, f"{name} depends on unknown {dependency.name}"
    assert [entry.name for entry in (SERVICES_DIR / "user").iterdir()] == ["contents.d"]
    in_bundle = {entry.name for entry in (SERVICES_DIR / "user/contents.d").iterdir()}
    assert in_bundle == set(services())


def test_discovery_runs_after_the_server() -> None:
    assert (SERVICES_DIR / "discovery/dependencies.d/cosyvoice").exists()


def test_service_commands_use_the_images_python_and_entry_point() -> None:
    venv_python = f"{dockerfile_venv()}/bin/python"
    up = shlex.split((SERVICES_DIR / "discovery/up").read_text())
    assert up[0] == "/command/with-contenv"
    assert up[1:] == [venv_python, "-m", "wyoming_cosyvoice.addon", "discover"]
    run = (SERVICES_DIR / "cosyvoice/run").read_text()
    assert f"exec {venv_python} -m wyoming_cosyvoice.addon run --user cosyvoice" in run
    after_useradd = (REPO_ROOT / "Dockerfile").read_text().partition("useradd ")[2]
    useradd_line = re.match(r"(?:.*\\\n)*.*", after_useradd)[0]  # up to the first line not continued by "\"
    assert useradd_line.split()[-1:] == ["cosyvoice"], "the Dockerfile creates the service user"


@pytest.mark.parametrize("script", shell_scripts(), ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_shellcheck(script: Path) -> None:
    result = subprocess.run([tool("shellcheck"), str(script)], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--no-color", "Dockerfile"], cwd=REPO_ROOT, check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
