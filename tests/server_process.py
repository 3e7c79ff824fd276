"""The real server in a subprocess, and a small Wyoming client for driving it in tests."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncTcpClient
from wyoming.event import Event

READY_TIMEOUT = 120.0  # seconds; a hang guard, not a performance expectation
REPLY_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(model_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "wyoming_cosyvoice", "--data-dir", str(model_dir), "--local-files-only", *args]


@dataclass
class TcpServer:
    """A running server process listening on `port`."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def tcp_server(model_dir: Path, log_dir: Path, *args: str) -> Iterator[TcpServer]:
    """Start the server on a free port, wait until it accepts connections, stop it afterwards."""
    port = free_port()
    log_path = log_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            server_command(model_dir, "--uri", f"tcp://127.0.0.1:{port}", "--seed", "7", *args),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = TcpServer(process, port, log_path)
    try:
        _wait_for_port(server)
        yield server
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server process; kill it if it has not exited within 30 seconds."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_for_port(server: TcpServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not start listening:\n{server.log()}")


@dataclass
class Reply:
    """Events a client received for one request, with their arrival times (monotonic seconds)."""

    events: list[Event] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def of_type(self, event_type: str) -> list[Event]:
        return [event for event in self.events if event.type == event_type]

    @property
    def types(self) -> list[str]:
        return [event.type for event in self.events]

    def audio(self) -> bytes:
        return b"".join(AudioChunk.from_event(event).audio for event in self.of_type("audio-chunk"))

    def formats(self) -> set[tuple[int, int, int]]:
        starts = [AudioStart.from_event(event) for event in self.of_type("audio-start")]
        chunks = [AudioChunk.from_event(event) for event in self.of_type("audio-chunk")]
        return {(item.rate, item.width, item.channels) for item in [*starts, *chunks]}


async def read_until(client: AsyncTcpClient, last_type: str, reply: Reply | None = None) -> Reply:
    """Read events until one of `last_type` (or an error, or the end of the connection)."""
    reply = reply or Reply()
    while True:
        event = await asyncio.wait_for(client.read_event(), REPLY_TIMEOUT)
        if event is None:
            return reply
        reply.events.append(event)
        reply.times.append(time.monotonic())
        if event.type in (last_type, "error"):
            return reply


async def connection_closed(reader: asyncio.StreamReader) -> bool:
    """True when the server has closed the connection (after any remaining bytes)."""
    while True:
        data = await asyncio.wait_for(reader.read(65536), REPLY_TIMEOUT)
        if not data:
            return True
