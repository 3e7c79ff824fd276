"""Home Assistant add-on entry point: add-on options → server command line, and Supervisor discovery.

Owns: reading the options the Supervisor writes to /data/options.json, turning them into the server's flags,
where the add-on keeps its model (/data, /share/cosyvoice), running the server as an unprivileged user, and
announcing the running server to Home Assistant through the Supervisor's discovery API.

    python -m wyoming_cosyvoice.addon run [--user NAME]   # the s6 service: exec the server
    python -m wyoming_cosyvoice.addon discover            # the s6 oneshot: wait for describe, then announce
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import pwd
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from .health_check import describe

_LOGGER = logging.getLogger("wyoming_cosyvoice.addon")

PORT = 10200
OPTIONS_FILE = Path("/data/options.json")
DOWNLOAD_DIR = Path("/data/models")
SHARED_MODELS_DIR = Path("/share/cosyvoice")
SUPERVISOR_URL = "http://supervisor"


class AddonError(Exception):
    """A problem the add-on log should state in one line (bad options file, failed discovery)."""


@dataclass(frozen=True)
class OptionFlag:
    """How one add-on option becomes server flags."""

    kind: type
    to_flags: Callable[[Any], list[str]]


def _value_flag(flag: str) -> Callable[[Any], list[str]]:
    return lambda value: [flag, str(value)]


def _switch(flag: str, when: bool) -> Callable[[Any], list[str]]:
    return lambda value: [flag] if value is when else []


OPTION_FLAGS: dict[str, OptionFlag] = {
    "voice": OptionFlag(str, _value_flag("--voice")),
    "speed": OptionFlag(float, _value_flag("--speed")),
    "precision": OptionFlag(str, _value_flag("--precision")),
    "threads": OptionFlag(int, _value_flag("--threads")),
    "flow_steps": OptionFlag(int, _value_flag("--flow-steps")),
    "streaming": OptionFlag(bool, _switch("--no-streaming", when=False)),
    "model_source": OptionFlag(str, _value_flag("--model-source")),
    "debug_logging": OptionFlag(bool, _switch("--debug", when=True)),
}
"""Every option of config.yaml's schema, in the order its flags appear on the command line."""


@dataclass(frozen=True)
class AddonPaths:
    """Where the add-on finds its options and keeps its model (fixed inside the container)."""

    options_file: Path = OPTIONS_FILE
    download_dir: Path = DOWNLOAD_DIR
    shared_models_dir: Path = SHARED_MODELS_DIR
    uri: str = f"tcp://0.0.0.0:{PORT}"


@dataclass(frozen=True)
class AddonOptions:
    """The user's add-on options, checked for type; absent or empty ones leave the server's default."""

    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, raw: object) -> AddonOptions:
        if not isinstance(raw, dict):
            raise AddonError(f"add-on options must be a JSON object, got {type(raw).__name__}")
        values: dict[str, Any] = {}
        for name, value in raw.items():
            if name not in OPTION_FLAGS:
                _LOGGER.warning("Ignoring unknown add-on option %r", name)
            elif value is not None:
                values[name] = _checked(name, value, OPTION_FLAGS[name].kind)
        return cls(values)

    @classmethod
    def load(cls, path: Path) -> AddonOptions:
        """Read the options file; a missing file (plain Docker, no Supervisor) means all server defaults."""
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            _LOGGER.info("No %s: using the server's defaults", path)
            return cls()
        except OSError as err:
            raise AddonError(f"cannot read {path}: {err.strerror}") from None
        try:
            raw = json.loads(content)
        except ValueError as err:  # not JSON, or not UTF-8 text at all
            raise AddonError(f"{path} is not valid JSON: {err}") from None
        return cls.from_mapping(raw)

    def server_flags(self) -> list[str]:
        flags: list[str] = []
        for name, option in OPTION_FLAGS.items():
            if name in self.values:
                flags += option.to_flags(self.values[name])
        return flags


def _checked(name: str, value: Any, kind: type) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise AddonError(f"add-on option {name!r} must be {kind.__name__}, got {value!r}")
    return value


def server_command(options: AddonOptions, paths: AddonPaths) -> list[str]:
    """The server's full command line for these options."""
    command = [sys.executable, "-m", "wyoming_cosyvoice", "--uri", paths.uri]
    if paths.shared_models_dir.is_dir():
        command += ["--data-dir", str(paths.shared_models_dir)]
    command += ["--download-dir", str(paths.download_dir)]
    return command + options.server_flags()


def drop_privileges(user: str, writable: list[Path]) -> None:
    """Hand `writable` folders to `user` (created if missing), then become that user for good."""
    try:
        account = pwd.getpwnam(user)
    except KeyError:
        raise AddonError(f"no user {user!r} in this image") from None
    for folder in writable:
        folder.mkdir(parents=True, exist_ok=True)
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)
    os.setgroups([])
    os.setgid(account.pw_gid)
    os.setuid(account.pw_uid)
    os.environ["HOME"] = account.pw_dir
    os.environ["USER"] = account.pw_name
    for folder in writable:
        if not os.access(folder, os.W_OK | os.X_OK):
            raise AddonError(f"user {user!r} cannot write {folder}: a parent folder shuts it out")


def run(paths: AddonPaths, user: str | None) -> NoReturn:
    """Replace this process with the server (raises AddonError when the options are bad)."""
    command = server_command(AddonOptions.load(paths.options_file), paths)
    if user is not None and os.geteuid() == 0:
        drop_privileges(user, [paths.download_dir])
    _LOGGER.info("Starting: %s", " ".join(command))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)


def wait_for_server(uri: str, timeout: float | None, poll_seconds: float = 2.0) -> None:
    """Block until the server at `uri` answers describe (the model is loaded), or `timeout` seconds pass."""
    started = time.monotonic()
    next_note = started + 60.0
    while True:
        try:
            asyncio.run(describe(uri, timeout=5.0))
            return
        except (OSError, TimeoutError, ValueError):
            pass
        now = time.monotonic()
        if timeout is not None and now - started >= timeout:
            raise AddonError(f"the server at {uri} did not answer describe within {timeout:g} s")
        if now >= next_note:
            _LOGGER.info("Still waiting for the server (the first start downloads the model)")
            next_note = now + 300.0
        time.sleep(poll_seconds)


def discovery_message(hostname: str, port: int = PORT) -> dict[str, Any]:
    """What the Supervisor passes on to Home Assistant's Wyoming integration."""
    return {"service": "wyoming", "config": {"uri": f"tcp://{hostname}:{port}"}}


def send_discovery(supervisor_url: str, token: str, message: dict[str, Any]) -> str:
    """POST `message` to the Supervisor's discovery API; returns the message's id."""
    request = urllib.request.Request(
        f"{supervisor_url.rstrip('/')}/discovery",
        data=json.dumps(message).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = _json_body(response.read())
    except urllib.error.HTTPError as err:
        reason = _json_body(err.read()).get("message") or err.reason
        raise AddonError(f"the Supervisor refused the discovery message (HTTP {err.code}): {reason}") from None
    except (urllib.error.URLError, OSError) as err:
        raise AddonError(f"cannot reach the Supervisor at {supervisor_url}: {getattr(err, 'reason', err)}") from None
    if answer.get("result") != "ok":
        raise AddonError(f"the Supervisor answered: {answer.get('message') or answer}")
    return str(answer.get("data", {}).get("uuid", ""))


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(body)
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def discover(server_uri: str, supervisor_url: str, wait_timeout: float | None) -> int:
    """Announce the server once it answers describe.

    Always exits 0: under s6-overlay a failing oneshot stops the whole container, and a missing announcement
    must not take down a working server (the user can still add the Wyoming integration by hand).
    """
    token = os.environ.get("SUPERVISOR_TOKEN")
    if not token:
        _LOGGER.info("Not running under the Home Assistant Supervisor: no discovery message sent")
        return 0
    try:
        wait_for_server(server_uri, wait_timeout)
        message = discovery_message(socket.gethostname())
        message_id = send_discovery(supervisor_url, token, message)
    except AddonError as err:
        _LOGGER.error("Discovery message to Home Assistant failed: %s", err)
        return 0
    _LOGGER.info("Sent discovery to Home Assistant: %s (id %s)", message["config"]["uri"], message_id)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m wyoming_cosyvoice.addon", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="start the server with the add-on's options")
    run_parser.add_argument("--options", type=Path, default=OPTIONS_FILE, help="add-on options (JSON)")
    run_parser.add_argument("--user", help="run the server as this user (when started as root)")
    discover_parser = commands.add_parser("discover", help="announce the server to Home Assistant")
    discover_parser.add_argument("--server-uri", default=f"tcp://127.0.0.1:{PORT}")
    discover_parser.add_argument("--supervisor-url", default=SUPERVISOR_URL)
    discover_parser.add_argument(
        "--wait-timeout", type=float, help="seconds to wait for the server (default: no limit)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return run(AddonPaths(options_file=args.options), args.user)
        return discover(args.server_uri, args.supervisor_url, args.wait_timeout)
    except AddonError as err:
        _LOGGER.error("%s", err)
        return 2


if __name__ == "__main__":
    sys.exit(main())
