"""What a Wyoming TTS client sees, event by event: one request with the arrival time of every event.

As a script it sends one streamed request the way Home Assistant does when an LLM writes the answer:
`synthesize-start`, the text in small fragments with small delays (LLM tokens), the compatibility `synthesize`
with the whole text, `synthesize-stop`. It prints every event sent (→) and received (←) with the milliseconds since
the request started: the type, and for an `audio-chunk` its byte length. Runs of the same event are collapsed
into one line with a count. Without `--port` it starts our server on a free port with `--data-dir DIR` (fixed
seed) and prints the server's model line (precision plan, flow steps). One short one-shot request goes first
(not traced) so the trace shows a warm server, as Home Assistant meets it; `--no-warm-up` traces the first.

    .venv/bin/python benchmarks/trace_stream.py --data-dir ../shared/reference/parity
    .venv/bin/python benchmarks/trace_stream.py --data-dir ~/.cache/wyoming-cosyvoice/bench-models/full-seed0
    .venv/bin/python benchmarks/trace_stream.py --port 10200 [--text "..."] [--fragment-chars 4] [--delay-ms 25]

`bench_wyoming.py` uses `record_request` (one-shot or streamed) and `request_figures` from here.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TEXT = "The garage door has been open for 10 minutes. Should I close it for you?"
FRAGMENT_CHARS = 4  # about one LLM token
FRAGMENT_DELAY_S = 0.025  # about 40 tokens per second
EVENT_TIMEOUT_S = 600.0  # a hang guard for a loaded machine, not an expectation
COLLAPSE_FROM = 3  # bursts of at least this many events of one type become one line
BURST_GAP_S = 0.1  # a longer pause between two events of one type starts a new burst
WARM_UP_TEXT = "Ready."
SENT, RECEIVED = "→", "←"


@dataclass
class Record:
    """One event of a request: when (seconds since the request started), which way, what."""

    seconds: float
    direction: str
    event: Any  # wyoming.event.Event


def text_fragments(text: str, size: int = FRAGMENT_CHARS) -> list[str]:
    """The text cut into pieces of `size` characters, as an LLM would hand it over token by token."""
    return [text[start : start + size] for start in range(0, len(text), size)]


async def record_request(
    port: int,
    text: str,
    *,
    streamed: bool,
    voice: str | None = None,
    fragment_chars: int = FRAGMENT_CHARS,
    delay_s: float = FRAGMENT_DELAY_S,
    host: str = "127.0.0.1",
) -> list[Record]:
    """Send one request on a new connection and record every event both ways until the reply ends
    (`audio-stop` for one-shot, `synthesize-stopped` for streamed, an `error`, or the connection closing)."""
    from wyoming.client import AsyncTcpClient

    client = AsyncTcpClient(host, port)
    await client.connect()
    records: list[Record] = []
    started = time.perf_counter()
    try:
        last_type = "synthesize-stopped" if streamed else "audio-stop"
        reader = asyncio.create_task(_read_reply(client, records, started, last_type))
        for event in request_events(text, streamed, voice, fragment_chars):
            if reader.done():
                break
            records.append(Record(time.perf_counter() - started, SENT, event))
            await client.write_event(event)
            if event.type == "synthesize-chunk" and delay_s > 0:
                await asyncio.sleep(delay_s)
        await reader
    finally:
        await client.disconnect()
    return records


def request_events(text: str, streamed: bool, voice: str | None, fragment_chars: int) -> Iterator[Any]:
    """The events a client sends for one request, in order."""
    from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

    chosen = SynthesizeVoice(name=voice) if voice else None
    if not streamed:
        yield Synthesize(text=text, voice=chosen).event()
        return
    yield SynthesizeStart(voice=chosen).event()
    for fragment in text_fragments(text, fragment_chars):
        yield SynthesizeChunk(text=fragment).event()
    yield Synthesize(text=text, voice=chosen).event()  # Home Assistant's compatibility event, ignored in a stream
    yield SynthesizeStop().event()


async def _read_reply(client: Any, records: list[Record], started: float, last_type: str) -> None:
    while True:
        event = await asyncio.wait_for(client.read_event(), EVENT_TIMEOUT_S)
        if event is None:
            return
        records.append(Record(time.perf_counter() - started, RECEIVED, event))
        if event.type in (last_type, "error"):
            return


def request_figures(records: list[Record]) -> dict[str, float]:
    """First audio, total time, audio length and real-time factor of one recorded request (seconds)."""
    from wyoming.audio import AudioChunk
    from wyoming.error import Error

    received = [record for record in records if record.direction == RECEIVED]
    errors = [Error.from_event(record.event).text for record in received if record.event.type == "error"]
    if errors:
        raise RuntimeError(f"server error: {errors[0]}")
    chunks = [
        (record.seconds, AudioChunk.from_event(record.event))
        for record in received
        if record.event.type == "audio-chunk" and record.event.payload
    ]
    if not chunks:
        raise RuntimeError("no audio received")
    audio_s = sum(len(chunk.audio) / (chunk.rate * chunk.width * chunk.channels) for _, chunk in chunks)
    total_s = received[-1].seconds
    return {"first_audio_s": chunks[0][0], "total_s": total_s, "audio_s": audio_s, "rtf": total_s / audio_s}


def trace_lines(records: list[Record]) -> list[str]:
    """One line per event; a burst of `COLLAPSE_FROM` or more events of one type and direction as one line."""
    lines = []
    for burst in bursts(records):
        if len(burst) < COLLAPSE_FROM:
            lines.extend(_event_line(record) for record in burst)
        else:
            lines.append(_burst_line(burst))
    return lines


def bursts(records: list[Record]) -> Iterator[list[Record]]:
    """Consecutive events of one type and direction, split where more than `BURST_GAP_S` passes between two."""
    burst: list[Record] = []
    for record in records:
        if burst and (
            (record.direction, record.event.type) != (burst[-1].direction, burst[-1].event.type)
            or record.seconds - burst[-1].seconds > BURST_GAP_S
        ):
            yield burst
            burst = []
        burst.append(record)
    if burst:
        yield burst


def _event_line(record: Record) -> str:
    return f"{record.seconds * 1000:8.0f} ms {record.direction} {record.event.type}{_event_detail(record.event)}"


def _event_detail(event: Any) -> str:
    data = event.data or {}
    if event.type == "audio-chunk":
        return f" {len(event.payload or b'')} bytes"
    if event.type == "audio-start":
        return f" {data.get('rate')} Hz, {data.get('width')} bytes, {data.get('channels')} channel(s)"
    if event.type in ("synthesize", "synthesize-chunk"):
        return f" {data.get('text', '')!r}"
    if event.type == "error":
        return f" {data.get('code')}: {data.get('text')}"
    return ""


def _burst_line(items: list[Record]) -> str:
    first, last, event_type = items[0].seconds * 1000, items[-1].seconds * 1000, items[0].event.type
    head = f"{first:8.0f} ms {items[0].direction} {event_type} ×{len(items)} until {last:.0f} ms"
    if event_type == "audio-chunk":
        sizes = [len(item.event.payload or b"") for item in items]
        each = f"{sizes[0]} bytes each" if len(set(sizes)) == 1 else f"{min(sizes)}–{max(sizes)} bytes"
        return f"{head} ({each}, {sum(sizes)} bytes)"
    if event_type == "synthesize-chunk":
        joined = "".join(item.event.data.get("text", "") for item in items)
        return f"{head}: {joined!r}"
    return head


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--data-dir", type=Path, help="start our server with this model folder")
    target.add_argument("--port", type=int, help="trace a server already listening on 127.0.0.1:PORT")
    parser.add_argument("--text", default=DEFAULT_TEXT)
    parser.add_argument("--voice", help="voice name (default: the server's)")
    parser.add_argument("--fragment-chars", type=int, default=FRAGMENT_CHARS)
    parser.add_argument("--delay-ms", type=float, default=FRAGMENT_DELAY_S * 1000, help="pause after each fragment")
    parser.add_argument("--no-warm-up", action="store_true", help="trace the first request (default: one before)")
    parser.add_argument("server_args", nargs="*", help="extra server options after --, e.g. -- --preset fast")
    return parser.parse_args(argv)


def print_trace(port: int, arguments: argparse.Namespace) -> None:
    if not arguments.no_warm_up:
        asyncio.run(record_request(port, WARM_UP_TEXT, streamed=False, voice=arguments.voice))
    records = asyncio.run(
        record_request(
            port,
            arguments.text,
            streamed=True,
            voice=arguments.voice,
            fragment_chars=arguments.fragment_chars,
            delay_s=arguments.delay_ms / 1000,
        )
    )
    for line in trace_lines(records):
        print(line)
    figures = request_figures(records)
    print(" ".join(f"{name}={value:.3f}" for name, value in figures.items()))


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    if arguments.port is not None:
        print_trace(arguments.port, arguments)
        return
    sys.path.insert(0, str(REPO_ROOT))
    from tests.server_process import tcp_server

    with (
        tempfile.TemporaryDirectory() as log_dir,
        tcp_server(arguments.data_dir, Path(log_dir), *arguments.server_args) as server,
    ):
        print_trace(server.port, arguments)
        print(*[line for line in server.log().splitlines() if "Model loaded" in line], sep="\n")


if __name__ == "__main__":
    main()
