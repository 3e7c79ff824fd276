"""Fixtures for the Home Assistant tests: the real wyoming-cosyvoice server, the HA test harness set-up.

The server runs as a subprocess of the project's own virtual environment (.venv, Python 3.11 with torch), with
the tiny reference model; Home Assistant runs in this one (.venv-ha, Python 3.13).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Import our integration before the harness puts its own `custom_components` package on the path.
import custom_components.cosyvoice  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(os.environ.get("COSYVOICE_SHARED", REPO_ROOT.parent / "shared"))
PARITY_DIR = SHARED_DIR / "reference" / "parity"
PROJECT_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
SERVER_START_TIMEOUT = 600.0

# pytest-socket replaces socket.socket while tests run; finding a free port needs the real one.
_UNGUARDED_SOCKET = socket.socket


def free_tcp_port() -> int:
    with _UNGUARDED_SOCKET(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """A wyoming-cosyvoice server on a free loopback port, its debug log in a file."""

    def __init__(self, log_path: Path, *options: str) -> None:
        self.host = "127.0.0.1"
        self.port = free_tcp_port()
        self.log_path = log_path
        command = [
            str(PROJECT_PYTHON), "-m", "wyoming_cosyvoice",
            "--uri", f"tcp://{self.host}:{self.port}",
            "--data-dir", str(PARITY_DIR),
            "--debug",
            "--seed", "7",  # same text and voice → same speech tokens: audio lengths comparable across speeds
            *options,
        ]  # fmt: skip
        with log_path.open("wb") as log:
            self._process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while "Ready on" not in self.log():
            if self._process.poll() is not None:
                pytest.fail(f"wyoming-cosyvoice exited with {self._process.returncode}:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"wyoming-cosyvoice not ready after {SERVER_START_TIMEOUT:.0f} s:\n{self.log()[-4000:]}")
            time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_mark(self) -> int:
        """Where the log ends now; `log_since(mark)` returns what was logged after."""
        return len(self.log())

    def log_since(self, mark: int) -> str:
        return self.log()[mark:]

    def voices_used_since(self, mark: int) -> list[str]:
        """Voice names the server reported synthesising with (its debug log) since `mark`."""
        return re.findall(r"(?:Synthesizing \d+ segment\(s\)|Stream started) with ([\w-]+)", self.log_since(mark))

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _start_server(tmp_path_factory: pytest.TempPathFactory, name: str, *options: str) -> Iterator[ServerProcess]:
    if not PROJECT_PYTHON.exists():
        pytest.skip(f"the project's virtual environment is missing ({PROJECT_PYTHON}); run script/setup first")
    if not PARITY_DIR.is_dir():
        pytest.fail(f"tiny reference model not found at {PARITY_DIR}; set COSYVOICE_SHARED")
    server = ServerProcess(tmp_path_factory.mktemp(name) / "server.log", *options)
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def cosyvoice_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The real server, advertising streamed text input."""
    yield from _start_server(tmp_path_factory, "streaming")


@pytest.fixture(scope="session")
def one_shot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The real server started with --no-streaming (Home Assistant then uses one-shot synthesis)."""
    yield from _start_server(tmp_path_factory, "one-shot", "--no-streaming")


@pytest.fixture(autouse=True)
def _ha_test_environment(enable_custom_integrations: None, socket_enabled: None, tmp_path: Path) -> Iterator[None]:
    """Load custom integrations, allow loopback sockets, keep HA's TTS cache out of site-packages."""
    cache_dir = tmp_path / "tts-cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("homeassistant.components.tts.DEFAULT_CACHE_DIR", str(cache_dir))
        yield


def pytest_report_header() -> list[str]:
    return [f"server python: {PROJECT_PYTHON}", f"tiny model: {PARITY_DIR}", f"ha python: {sys.version.split()[0]}"]
