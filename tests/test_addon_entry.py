"""The add-on entry point (wyoming_cosyvoice.addon): options file → exact server command line, running the
server unprivileged, and the Wyoming discovery message sent to a real HTTP server standing in for the
Supervisor's API. The end-to-end test starts the add-on's command on the tiny model."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from addon_rules import REPO_ROOT, load_yaml

from wyoming_cosyvoice import addon
from wyoming_cosyvoice.health_check import describe

PYTHON_M = [sys.executable, "-m", "wyoming_cosyvoice"]
TOKEN = "5f0c1d2e3a4b5c6d7e8f90a1b2c3d4e5"


@pytest.fixture
def paths(tmp_path: Path) -> addon.AddonPaths:
    return addon.AddonPaths(
        options_file=tmp_path / "options.json",
        download_dir=tmp_path / "models",
        shared_models_dir=tmp_path / "share-cosyvoice",
    )


def write_options(paths: addon.AddonPaths, options: dict[str, Any]) -> None:
    paths.options_file.write_text(json.dumps(options), encoding="utf-8")


def command_for(paths: addon.AddonPaths) -> list[str]:
    return addon.server_command(addon.AddonOptions.load(paths.options_file), paths)


# --- options → command line ----------------------------------------------------------------------------------


def test_first_start_options_give_the_default_command(paths: addon.AddonPaths) -> None:
    write_options(paths, load_yaml("config.yaml")["options"])
    assert command_for(paths) == [
        *PYTHON_M,
        "--uri", "tcp://0.0.0.0:10200",
        "--download-dir", str(paths.download_dir),
        "--voice", "english-female",
        "--speed", "1.0",
        "--precision", "auto",
        "--model-source", "huggingface",
    ]  # fmt: skip


def test_every_option_set(paths: addon.AddonPaths) -> None:
    paths.shared_models_dir.mkdir()
    write_options(
        paths,
        {
            "voice": "cantonese-female",
            "speed": 0.8,
            "precision": "int8",
            "threads": 3,
            "flow_steps": 6,
            "streaming": False,
            "model_source": "modelscope",
            "debug_logging": True,
        },
    )
    assert command_for(paths) == [
        *PYTHON_M,
        "--uri", "tcp://0.0.0.0:10200",
        "--data-dir", str(paths.shared_models_dir),
        "--download-dir", str(paths.download_dir),
        "--voice", "cantonese-female",
        "--speed", "0.8",
        "--precision", "int8",
        "--threads", "3",
        "--flow-steps", "6",
        "--no-streaming",
        "--model-source", "modelscope",
        "--debug",
    ]  # fmt: skip


def test_empty_optional_options_and_whole_number_speed(paths: addon.AddonPaths) -> None:
    write_options(paths, {"speed": 2, "threads": None, "flow_steps": None, "streaming": True})
    assert command_for(paths)[-2:] == ["--speed", "2.0"]


def test_without_an_options_file_the_server_keeps_its_defaults(paths: addon.AddonPaths) -> None:
    assert command_for(paths) == [*PYTHON_M, "--uri", "tcp://0.0.0.0:10200", "--download-dir", str(paths.download_dir)]


def test_unknown_options_are_ignored_with_a_warning(paths: addon.AddonPaths, caplog: pytest.LogCaptureFixture) -> None:
    write_options(paths, {"noise_scale": 0.6, "voice": "english-male"})
    with caplog.at_level(logging.WARNING):
        assert command_for(paths)[-2:] == ["--voice", "english-male"]
    assert "Ignoring unknown add-on option 'noise_scale'" in caplog.text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"speed": "fast"}', "add-on option 'speed' must be float, got 'fast'"),
        ('{"threads": true}', "add-on option 'threads' must be int, got True"),
        ('{"streaming": "no"}', "add-on option 'streaming' must be bool, got 'no'"),
        ('["voice"]', "add-on options must be a JSON object, got list"),
        ('{"voice": ', "is not valid JSON"),
        ('{"voice": "\udcff"}'.encode("utf-8", "surrogateescape"), "is not valid JSON"),
    ],
)
def test_bad_options_file_gives_one_clear_line(paths: addon.AddonPaths, content: str | bytes, message: str) -> None:
    paths.options_file.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = subprocess.run(
        [sys.executable, "-m", "wyoming_cosyvoice.addon", "run", "--options", str(paths.options_file)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


# --- running unprivileged ------------------------------------------------------------------------------------


def run_as_root(code: str) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0:
        pytest.skip("changing user needs root")
    return subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder other users can reach (pytest's own temporary folders are private to their owner)."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder).chmod(0o755)
        yield Path(folder)


def test_drop_privileges_hands_the_model_folder_to_the_user(open_dir: Path) -> None:
    models = open_dir / "models"
    (models / "partial").mkdir(parents=True)
    (models / "partial" / "llm.pt.incomplete").write_bytes(b"x")
    result = run_as_root(
        "import os, pathlib\n"
        "from wyoming_cosyvoice.addon import drop_privileges\n"
        f"drop_privileges('nobody', [pathlib.Path({str(models)!r})])\n"
        f"pathlib.Path({str(models)!r}, 'written-by-server').write_text('ok')\n"
        "print(os.getuid(), os.getgroups())\n"
    )
    assert result.returncode == 0, result.stderr
    nobody = int(subprocess.run(["id", "-u", "nobody"], check=False, capture_output=True, text=True).stdout)
    assert result.stdout.split() == [str(nobody), "[]"]
    assert {path.stat().st_uid for path in [models, *models.rglob("*")]} == {nobody}


def test_drop_privileges_explains_a_folder_the_user_cannot_reach(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    result = run_as_root(
        "import pathlib, sys\n"
        "from wyoming_cosyvoice.addon import AddonError, drop_privileges\n"
        "try:\n"
        f"    drop_privileges('nobody', [pathlib.Path({str(tmp_path / 'models')!r})])\n"
        "except AddonError as err:\n"
        "    sys.exit(str(err))\n"
    )
    assert result.returncode == 1
    assert "user 'nobody' cannot write" in result.stderr


def test_drop_privileges_to_a_missing_user(tmp_path: Path) -> None:
    with pytest.raises(addon.AddonError, match="no user 'no-such-user-here' in this image"):
        addon.drop_privileges("no-such-user-here", [tmp_path])


# --- Supervisor discovery ------------------------------------------------------------------------------------


class SupervisorStandIn:
    """A real HTTP server that answers POST /discovery as the Supervisor's API does: it checks the add-on's
    token and the message's shape, accepts only services config.yaml lists under `discovery`, and answers
    {"result": "ok", "data": {"uuid": ...}} or {"result": "error", "message": ...}."""

    def __init__(self, token: str, services: list[str]) -> None:
        self.received: list[dict[str, Any]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stand_in.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, answer = stand_in.answer(self.path, self.headers.get("Authorization"), body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self._token = token
        self._services = services
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def answer(self, path: str, authorization: str | None, body: bytes) -> tuple[int, dict[str, Any]]:
        if path != "/discovery":
            return 404, {"result": "error", "message": "Not found"}
        if authorization != f"Bearer {self._token}":
            return 401, {"result": "error", "message": "Unauthorized"}
        try:
            message = json.loads(body)
        except ValueError:
            return 400, {"result": "error", "message": "Invalid JSON"}
        if not (isinstance(message.get("service"), str) and isinstance(message.get("config"), dict)):
            return 400, {"result": "error", "message": "expected service (str) and config (dict)"}
        if message["service"] not in self._services:
            return 403, {"result": "error", "message": "Apps must list services they provide via discovery"}
        return 200, {"result": "ok", "data": {"uuid": uuid.uuid4().hex}}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def supervisor() -> Iterator[SupervisorStandIn]:
    stand_in = SupervisorStandIn(TOKEN, load_yaml("config.yaml")["discovery"])
    yield stand_in
    stand_in.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_discovery_message_is_what_home_assistant_reads() -> None:
    message = addon.discovery_message("a0d7b954-cosyvoice")
    assert message["service"] == "wyoming"
    uri = urlparse(message["config"]["uri"])
    assert (uri.scheme, uri.hostname, uri.port) == ("tcp", "a0d7b954-cosyvoice", 10200)


def test_send_discovery_posts_the_message_with_the_token(supervisor: SupervisorStandIn) -> None:
    message = addon.discovery_message("a0d7b954-cosyvoice")
    message_id = addon.send_discovery(supervisor.url, TOKEN, message)
    assert len(message_id) == 32
    [request] = supervisor.received
    assert request["path"] == "/discovery"
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["Content-Type"] == "application/json"
    assert json.loads(request["body"]) == message


def test_send_discovery_reports_the_supervisors_refusal(supervisor: SupervisorStandIn) -> None:
    with pytest.raises(addon.AddonError, match=r"refused the discovery message \(HTTP 401\): Unauthorized"):
        addon.send_discovery(supervisor.url, "wrong-token", addon.discovery_message("host"))
    unlisted = {"service": "mqtt", "config": {"host": "host"}}
    with pytest.raises(addon.AddonError, match="HTTP 403.*Apps must list services"):
        addon.send_discovery(supervisor.url, TOKEN, unlisted)


def test_send_discovery_reports_an_unreachable_supervisor() -> None:
    with pytest.raises(addon.AddonError, match="cannot reach the Supervisor at http://127.0.0.1:"):
        addon.send_discovery(f"http://127.0.0.1:{free_port()}", TOKEN, addon.discovery_message("host"))


def test_discover_outside_the_supervisor_sends_nothing(
    supervisor: SupervisorStandIn, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("SUPERVISOR_TOKEN", raising=False)
    with caplog.at_level(logging.INFO):
        assert addon.discover(f"tcp://127.0.0.1:{free_port()}", supervisor.url, wait_timeout=1) == 0
    assert supervisor.received == []
    assert "Not running under the Home Assistant Supervisor" in caplog.text


def test_discover_waits_for_describe_and_gives_up_cleanly(
    supervisor: SupervisorStandIn, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SUPERVISOR_TOKEN", TOKEN)
    uri = f"tcp://127.0.0.1:{free_port()}"
    assert addon.discover(uri, supervisor.url, wait_timeout=1) == 0
    assert supervisor.received == []
    assert f"the server at {uri} did not answer describe within 1 s" in caplog.text


# --- the real server -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"speed": 0.5, "threads": 1, "flow_steps": 1, "precision": "fp32", "streaming": False},
        {"speed": 2.0, "threads": 64, "flow_steps": 50, "precision": "bf16", "debug_logging": True},
        {"voice": "korean-female", "precision": "int8", "model_source": "modelscope"},
    ],
)
def test_the_server_accepts_every_option_value(paths: addon.AddonPaths, options: dict) -> None:
    """argparse stops at the final --help only after converting and checking every flag before it."""
    write_options(paths, load_yaml("config.yaml")["options"] | options)
    result = subprocess.run([*command_for(paths), "--help"], check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_addon_command_serves_the_tiny_model_and_announces_it(
    paths: addon.AddonPaths,
    parity_dir: Path,
    supervisor: SupervisorStandIn,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = f"tcp://127.0.0.1:{free_port()}"
    paths = addon.AddonPaths(paths.options_file, paths.download_dir, parity_dir, uri)
    write_options(paths, load_yaml("config.yaml")["options"])
    monkeypatch.setenv("SUPERVISOR_TOKEN", TOKEN)
    server = subprocess.Popen(command_for(paths), env=os.environ | {"HF_HUB_OFFLINE": "1"}, cwd=REPO_ROOT)
    try:
        # discover() waits for describe; a daemon thread, so that a server that dies ends the test at once
        discovery = threading.Thread(target=addon.discover, args=(uri, supervisor.url, 600), daemon=True)
        discovery.start()
        while discovery.is_alive():
            assert server.poll() is None, f"the server exited with status {server.returncode}"
            discovery.join(timeout=0.5)
        info = asyncio.run(describe(uri, timeout=10))
        assert "english-female" in {voice.name for program in info.tts for voice in program.voices}
        [request] = supervisor.received
        assert json.loads(request["body"]) == addon.discovery_message(socket.gethostname())
        health = subprocess.run(
            [sys.executable, "-m", "wyoming_cosyvoice.health_check", "--uri", uri],
            check=False,
            capture_output=True,
            text=True,
        )
        assert health.returncode == 0, health.stderr
    finally:
        server.terminate()
        server.wait(timeout=60)
