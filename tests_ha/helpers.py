"""Test helpers: network conditions around the real server, another Wyoming service, WAV parsing.

Owns: `StallingProxy` (a loopback TCP relay that can stop relaying or cut connections, standing for a hung or
crashed network path), `OtherWyomingService` (a real Wyoming server offering speech-to-text only, the kind of
`_wyoming._tcp` service the integration must ignore), direct synthesis with the `wyoming` client (what the
server says without Home Assistant in between), and reading a WAV whose header may not know its length.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from functools import partial

from wyoming.audio import AudioChunk, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import AsrModel, AsrProgram, Attribution, Describe, Info
from wyoming.server import AsyncEventHandler, AsyncTcpServer
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Wav:
    """The format and PCM payload of a WAV file."""

    rate: int
    width: int
    channels: int
    declared_frames: int
    """Frame count the header states (0 for a stream whose length was unknown when it started)."""
    pcm: bytes

    @property
    def frames(self) -> int:
        return len(self.pcm) // (self.width * self.channels)


def parse_wav(data: bytes) -> Wav:
    """Read a PCM WAV file chunk by chunk (the `wave` module trusts a streamed header's zero length)."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", f"not a WAV file: {data[:16]!r}"
    position, fmt = 12, None
    while position + 8 <= len(data):
        kind, size = data[position : position + 4], struct.unpack("<I", data[position + 4 : position + 8])[0]
        body = position + 8
        if kind == b"fmt ":
            audio_format, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[body : body + 16])
            assert audio_format == 1, f"not PCM: format {audio_format}"
            fmt = (rate, bits // 8, channels)
        elif kind == b"data":
            assert fmt is not None, "data chunk before fmt chunk"
            rate, width, channels = fmt
            return Wav(rate, width, channels, size // (width * channels), data[body:])
        position = body + size + (size & 1)
    raise AssertionError("WAV file has no data chunk")


async def synthesize_directly(
    host: str, port: int, text: str, voice: str, language: str, streamed: bool = False
) -> bytes:
    """PCM the server sends for `text`, asked with the plain wyoming client: one `synthesize` event, or
    (`streamed`) the whole text as one `synthesize-chunk` of a stream, as Home Assistant sends a known message."""
    wanted = SynthesizeVoice(name=voice)
    context = {"language": language}
    if streamed:
        events = [
            SynthesizeStart(voice=wanted, context=context).event(),
            SynthesizeChunk(text=text).event(),
            Synthesize(text=text, voice=wanted, context=context).event(),
            SynthesizeStop().event(),
        ]
    else:
        events = [Synthesize(text=text, voice=wanted, context=context).event()]
    last = SynthesizeStopped.is_type if streamed else AudioStop.is_type
    async with AsyncTcpClient(host, port) as client:
        for event in events:
            await client.write_event(event)
        pcm = b""
        while (event := await client.read_event()) is not None and not last(event.type):
            if AudioChunk.is_type(event.type):
                pcm += AudioChunk.from_event(event).audio
        assert event is not None, "server closed the connection before the audio ended"
        return pcm


async def describe_directly(host: str, port: int) -> Info:
    async with AsyncTcpClient(host, port) as client:
        await client.write_event(Describe().event())
        while (event := await client.read_event()) is not None:
            if Info.is_type(event.type):
                return Info.from_event(event)
    raise AssertionError("server closed the connection without info")


class _SpeechToTextHandler(AsyncEventHandler):
    """Answers `describe` like a speech-to-text server; nothing else."""

    def __init__(self, info: Info, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self._info = info

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(self._info.event())
        return True


class OtherWyomingService:
    """A real Wyoming server on loopback that offers speech-to-text, not CosyVoice."""

    def __init__(self, port: int) -> None:
        attribution = Attribution(name="test", url="https://example.org")
        model = AsrModel(
            name="tiny", attribution=attribution, installed=True, description="tiny", version="1", languages=["en"]
        )
        self.info = Info(
            asr=[
                AsrProgram(
                    name="speech-to-text",
                    attribution=attribution,
                    installed=True,
                    description="not a TTS server",
                    version="1",
                    models=[model],
                )
            ]
        )
        self.port = port
        self._server = AsyncTcpServer(LOOPBACK, port)

    async def start(self) -> None:
        await self._server.start(partial(_SpeechToTextHandler, self.info))

    async def stop(self) -> None:
        await self._server.stop()


class StallingProxy:
    """Relays loopback TCP connections to the real server; can stop relaying its answers or cut every link."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._relaying = asyncio.Event()
        self._relaying.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def stall(self) -> None:
        """Answers from the server are held back (the server looks hung)."""
        self._relaying.clear()

    def resume(self) -> None:
        self._relaying.set()

    def cut(self) -> None:
        """Close every relayed connection now (the server looks crashed)."""
        for writer in list(self._writers):
            writer.close()

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(*self._target)
        self._writers.update((client_writer, server_writer))
        relays = [
            asyncio.create_task(self._relay(client_reader, server_writer, gated=False)),
            asyncio.create_task(self._relay(server_reader, client_writer, gated=True)),
        ]
        self._tasks.update(relays)
        await asyncio.wait(relays, return_when=asyncio.FIRST_COMPLETED)
        for task in relays:
            task.cancel()
        for writer in (client_writer, server_writer):
            writer.close()
            self._writers.discard(writer)
        self._tasks.difference_update(relays)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, gated: bool) -> None:
        try:
            while data := await reader.read(65536):
                if gated:
                    await self._relaying.wait()
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
