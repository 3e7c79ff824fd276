"""One synthesis request on the wire: what we send, and the audio that comes back.

Owns: the request's voice / speaker / language / speed and where each travels (voice in the standard `voice`
field, language and speed in the events' `context`, as wyoming 1.7.2 carries them), one-shot `synthesize`,
streamed `synthesize-start/-chunk/-stop` with text arriving while audio flows, the timeouts on the first audio
and between chunks, and a constant audio format.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from wyoming.audio import AudioChunk, AudioFormat, AudioStop
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

from .client import CosyVoiceError, Deadline, ServerConnection
from .const import CHUNK_TIMEOUT, FIRST_AUDIO_TIMEOUT


@dataclass(frozen=True)
class SpeechRequest:
    """How one text is to be spoken."""

    language: str
    voice: str | None = None
    """Voice name; None lets the server pick the best voice for `language`."""
    speaker: str | None = None
    speed: float = 1.0

    def wyoming_voice(self) -> SynthesizeVoice | None:
        if self.voice is None:
            return None
        return SynthesizeVoice(name=self.voice, speaker=self.speaker)

    def context(self) -> dict[str, Any]:
        return {"language": self.language, "speed": self.speed}


@dataclass(frozen=True)
class AudioPiece:
    """PCM audio and its format."""

    audio_format: AudioFormat
    pcm: bytes


async def synthesize(host: str, port: int, text: str, request: SpeechRequest) -> AsyncIterator[AudioPiece]:
    """Speak a whole text with one `synthesize` event; yields audio as the server sends it."""
    async with ServerConnection(host, port) as connection:
        event = Synthesize(text=text, voice=request.wyoming_voice(), context=request.context())
        await connection.send(event.event())
        deadline = Deadline(FIRST_AUDIO_TIMEOUT)
        async for piece in _audio(connection, deadline, AudioStop.is_type):
            yield piece


async def synthesize_stream(
    host: str, port: int, text_stream: AsyncIterator[str], request: SpeechRequest
) -> AsyncIterator[AudioPiece]:
    """Speak text while it is still arriving; yields audio before the text ends."""
    async with ServerConnection(host, port) as connection:
        deadline = Deadline(FIRST_AUDIO_TIMEOUT)
        sender = asyncio.create_task(_send_text(connection, deadline, text_stream, request))
        try:
            async for piece in _audio(connection, deadline, SynthesizeStopped.is_type, sender):
                yield piece
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)


async def _send_text(
    connection: ServerConnection, deadline: Deadline, text_stream: AsyncIterator[str], request: SpeechRequest
) -> None:
    """synthesize-start, one synthesize-chunk per piece of text, the compatibility synthesize, synthesize-stop.

    When the connection breaks, sending just stops: the reader reports why (the server's `error` event
    usually explains it better than a broken pipe). Errors of the text stream itself are raised.
    """
    voice, context = request.wyoming_voice(), request.context()
    try:
        await connection.send(SynthesizeStart(voice=voice, context=context).event())
        message: list[str] = []
        async for piece in deadline.held_while(text_stream):
            if piece:
                await connection.send(SynthesizeChunk(text=piece).event())
                message.append(piece)
                deadline.extend(FIRST_AUDIO_TIMEOUT)
        # Servers that ignore streamed text answer this one; streaming servers ignore it inside the stream.
        await connection.send(Synthesize(text="".join(message), voice=voice, context=context).event())
        await connection.send(SynthesizeStop().event())
        deadline.extend(FIRST_AUDIO_TIMEOUT)
    except CosyVoiceError:
        return


async def _audio(
    connection: ServerConnection,
    deadline: Deadline,
    is_last: Callable[[str], bool],
    sender: asyncio.Task[None] | None = None,
) -> AsyncIterator[AudioPiece]:
    """Audio chunks until the event `is_last` names; the format may not change, and some audio must come."""
    audio_format: AudioFormat | None = None
    while not is_last((event := await connection.receive(deadline, sender)).type):
        if AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            chunk_format = AudioFormat(rate=chunk.rate, width=chunk.width, channels=chunk.channels)
            if audio_format not in (None, chunk_format):
                raise CosyVoiceError(f"the audio format changed from {audio_format} to {chunk_format}")
            audio_format = chunk_format
            deadline.restart(CHUNK_TIMEOUT)
            yield AudioPiece(chunk_format, chunk.audio)
    if audio_format is None:
        raise CosyVoiceError("the server sent no audio")
