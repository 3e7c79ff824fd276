"""A real local HTTP server that serves one model folder the way the Hugging Face hub and ModelScope do.

Owns, for tests and benchmarks: the hub's `resolve` endpoint (HEAD/GET with X-Repo-Commit, ETag, X-Linked-Etag,
X-Linked-Size, a redirect of LFS files to a "CDN" host), the CDN, ModelScope's file-list and file endpoints, HTTP
Range requests, a log of every request, and faults injected on purpose: a connection cut after N bytes, a
corrupted body, a hook that runs when a file starts to be served.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Self
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_COMMIT = "096a5cff8d497fabb3dec2756a200f3688457a1b"
_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")
_CHUNK = 256 * 1024


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    range: str | None


@dataclass(frozen=True)
class ServedFile:
    """One file of the served repository with the digests the hub publishes for it."""

    name: str
    path: Path
    size: int
    sha256: str
    git_sha1: str
    lfs: bool


def _served_file(name: str, path: Path, lfs: bool) -> ServedFile:
    data = path.read_bytes()
    git_sha1 = hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()
    return ServedFile(name, path, len(data), hashlib.sha256(data).hexdigest(), git_sha1, lfs)


class HubServer:
    """Serves `folder` as HF repo `hf_repo` (revisions "main" and `commit`) and ModelScope repo `ms_repo`."""

    def __init__(
        self,
        folder: Path,
        *,
        hf_repo: str = "FunAudioLLM/CosyVoice-300M-SFT",
        ms_repo: str = "iic/CosyVoice-300M-SFT",
        commit: str = DEFAULT_COMMIT,
        ms_revision: str = "master",
    ) -> None:
        self.folder = folder
        self.hf_repo, self.ms_repo, self.commit, self.ms_revision = hf_repo, ms_repo, commit, ms_revision
        self.files = {
            p.name: _served_file(p.name, p, lfs=p.suffix != ".yaml") for p in sorted(folder.iterdir()) if p.is_file()
        }
        self.requests: list[Request] = []
        self.on_file_served: Callable[[str], None] | None = None
        self._cuts: dict[str, int] = {}
        self._stalls: dict[str, int] = {}
        self.stalled = threading.Event()
        self._release = threading.Event()
        self._corruptions: set[str] = set()
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """The hub endpoint (HF_ENDPOINT, MODELSCOPE_DOMAIN)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def cdn_url(self) -> str:
        """The same server under another host name, so clients treat it as a separate CDN host."""
        return f"http://localhost:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def cut_once(self, name: str, after_bytes: int) -> None:
        """The next transfer of `name` stops after `after_bytes` bytes: the connection is dropped mid-body."""
        with self._lock:
            self._cuts[name] = after_bytes

    def stall_once(self, name: str, after_bytes: int) -> None:
        """The next transfer of `name` sends `after_bytes` bytes, sets `stalled`, then hangs until the server stops
        (so a test can kill the client in the middle of a file)."""
        with self._lock:
            self._stalls[name] = after_bytes

    def corrupt_once(self, name: str) -> None:
        """The next transfer of `name` has one byte flipped (the size stays right)."""
        with self._lock:
            self._corruptions.add(name)

    def file_gets(self, name: str) -> int:
        """How many GETs asked for the content of `name`."""
        return len(self.file_requests(name))

    def file_requests(self, name: str) -> list[Request]:
        """The GETs that asked for the content of `name` (hub, CDN or ModelScope), in order."""
        served = self.files[name]
        needles = (f"/{name}", f"/cdn/{served.sha256}", f"FilePath={name}")
        with self._lock:
            return [r for r in self.requests if r.method == "GET" and r.path.endswith(needles)]

    def _log(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _take_faults(self, name: str) -> tuple[int | None, int | None, bool]:
        """The faults armed for `name` (each fires once): bytes before a cut, before a stall, and corruption."""
        with self._lock:
            cut = self._cuts.pop(name, None)
            stall = self._stalls.pop(name, None)
            corrupt = name in self._corruptions
            self._corruptions.discard(name)
        return cut, stall, corrupt

    def _stall(self) -> None:
        self.stalled.set()
        self._release.wait(timeout=60)


class _QuietServer(ThreadingHTTPServer):
    """Clients that vanish mid-answer (killed on purpose by tests) are expected, not errors worth printing."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Silence: the tests check outcomes, not the server's view of broken pipes."""


MODEL_FILES = ("cosyvoice.yaml", "llm.pt", "flow.pt", "hift.pt", "spk2info.pt")


def copy_repo(parity_dir: Path, folder: Path, names: tuple[str, ...] | None = None) -> Path:
    """A repository to serve: the tiny model folder (all of it, or just `names`)."""
    folder.mkdir(parents=True)
    for path in sorted(parity_dir.iterdir()):
        if path.is_file() and (names is None or path.name in names):
            shutil.copy(path, folder / path.name)
    return folder


@contextmanager
def serving(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    """Serve `folder`, with HF_ENDPOINT and MODELSCOPE_DOMAIN pointing at it and offline mode off."""
    with HubServer(folder) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("MODELSCOPE_DOMAIN", server.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        yield server


def client_env(server: HubServer, **extra: str) -> dict[str, str]:
    """Environment for a client subprocess of `server` (offline mode only if `extra` sets it)."""
    env = {key: value for key, value in os.environ.items() if key != "HF_HUB_OFFLINE"}
    local = {"HF_ENDPOINT": server.url, "MODELSCOPE_DOMAIN": server.url, "NO_PROXY": "127.0.0.1,localhost"}
    return {**env, **local, **extra}


def kill_download_when_stalled(server: HubServer, args: list[str], written: Path | None = None) -> None:
    """Run `python -m wyoming_cosyvoice.download ARGS` against `server` and SIGKILL it once the server has stalled
    its transfer (see `stall_once`) and, if given, `written` holds some bytes."""
    process = subprocess.Popen(
        [sys.executable, "-m", "wyoming_cosyvoice.download", *args],
        env=client_env(server),
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert server.stalled.wait(timeout=60), "the download never reached the stalled file"
        deadline = time.monotonic() + 30
        while written is not None and not (written.exists() and written.stat().st_size > 0):
            assert process.poll() is None, "the download process ended early"
            assert time.monotonic() < deadline, f"{written} never received data"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)


def assert_same_files(model: Path, repo: Path) -> None:
    for name in MODEL_FILES:
        assert (model / name).read_bytes() == (repo / name).read_bytes(), name


def _handler_for(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_HubHandler):
        server_hub = hub

    return Handler


class _HubHandler(BaseHTTPRequestHandler):
    """Routes one request to the hub, CDN or ModelScope answer."""

    protocol_version = "HTTP/1.1"
    server_hub: HubServer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the hub keeps its own request log."""

    def do_HEAD(self) -> None:
        self._route(send_body=False)

    def do_GET(self) -> None:
        self._route(send_body=True)

    def _route(self, send_body: bool) -> None:
        hub = self.server_hub
        hub._log(Request(self.command, self.path, self.headers.get("Range")))
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if path.startswith("/cdn/"):
            self._serve_cdn(path.removeprefix("/cdn/"), send_body)
        elif path.startswith("/api/v1/models/"):
            self._serve_modelscope(path.removeprefix("/api/v1/models/"), query, send_body)
        elif "/resolve/" in path:
            self._serve_resolve(path, send_body)
        else:
            self._error(404, "not found")

    # --- Hugging Face hub -------------------------------------------------------------------------------------
    def _serve_resolve(self, path: str, send_body: bool) -> None:
        hub = self.server_hub
        repo, _, rest = path.lstrip("/").partition("/resolve/")
        revision, _, name = rest.partition("/")
        if repo != hub.hf_repo:
            return self._error(404, "Repository not found", {"X-Error-Code": "RepoNotFound"})
        if revision not in ("main", hub.commit):
            return self._error(404, "Invalid rev id", {"X-Error-Code": "RevisionNotFound"})
        served = hub.files.get(name)
        commit = {"X-Repo-Commit": hub.commit}
        if served is None:
            return self._error(404, "Entry not found", {"X-Error-Code": "EntryNotFound", **commit})
        if served.lfs:
            self.send_response(302)
            self.send_header("Location", f"{hub.cdn_url}/cdn/{served.sha256}")
            self.send_header("X-Linked-Etag", f'"{served.sha256}"')
            self.send_header("X-Linked-Size", str(served.size))
            self.send_header("ETag", f'"{served.sha256}"')
            self.send_header("X-Repo-Commit", hub.commit)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return self._serve_file(served, send_body, {"ETag": f'"{served.git_sha1}"', **commit})

    def _serve_cdn(self, sha256: str, send_body: bool) -> None:
        served = next((f for f in self.server_hub.files.values() if f.sha256 == sha256), None)
        if served is None:
            return self._error(404, "no such object")
        return self._serve_file(served, send_body, {"ETag": f'"{sha256}"'})

    # --- ModelScope ---------------------------------------------------------------------------------------------
    def _serve_modelscope(self, path: str, query: dict[str, str], send_body: bool) -> None:
        hub = self.server_hub
        if path == f"{hub.ms_repo}/repo/files":
            if query.get("Revision") != hub.ms_revision:
                return self._json(404, {"Code": 404, "Message": "revision not found", "Success": False})
            files = [
                {
                    "Name": f.name,
                    "Path": f.name,
                    "Type": "blob",
                    "Size": f.size,
                    "Sha256": f.sha256,
                    "Revision": hub.commit,
                    "IsLFS": f.lfs,
                }
                for f in hub.files.values()
            ]
            return self._json(200, {"Code": 200, "Data": {"Files": files}, "Message": "success", "Success": True})
        if path == f"{hub.ms_repo}/repo":
            served = hub.files.get(query.get("FilePath", ""))
            if query.get("Revision") != hub.ms_revision or served is None:
                return self._json(404, {"Code": 404, "Message": "file not found", "Success": False})
            return self._serve_file(served, send_body, {})
        return self._json(404, {"Code": 404, "Message": "model not found", "Success": False})

    # --- answers ------------------------------------------------------------------------------------------------
    def _serve_file(self, served: ServedFile, send_body: bool, headers: dict[str, str]) -> None:
        start, end = 0, served.size - 1
        match = _RANGE.match(self.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else end, served.size - 1)
            if start >= served.size:
                return self._error(416, "range not satisfiable", {"Content-Range": f"bytes */{served.size}"})
        self.send_response(206 if match else 200)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if match:
            self.send_header("Content-Range", f"bytes {start}-{end}/{served.size}")
        self.end_headers()
        if send_body:
            self._send_body(served, start, end + 1)
        return None

    def _send_body(self, served: ServedFile, start: int, stop: int) -> None:
        hub = self.server_hub
        if hub.on_file_served is not None:
            hub.on_file_served(served.name)
        cut, stall, corrupt = hub._take_faults(served.name)
        data = bytearray(served.path.read_bytes()[start:stop])
        if corrupt and data:
            data[len(data) // 2] ^= 0xFF
        if cut is not None or stall is not None:
            self.wfile.write(data[: cut if cut is not None else stall])
            self.wfile.flush()
            if stall is not None:
                hub._stall()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        view = memoryview(data)
        for offset in range(0, len(view), _CHUNK):
            self.wfile.write(view[offset : offset + _CHUNK])

    def _json(self, status: int, payload: dict[str, object]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        body = message.encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
