"""Wyoming events of one client connection.

Owns: answering `describe`, one-shot `synthesize`, streamed `synthesize-start/-chunk/-stop`, picking the voice,
speed and language of a request, sending audio as it is computed, and ending a connection with an `error` event
when something is wrong (Home Assistant ignores error events and would otherwise wait forever). Inference runs on
the shared compute thread (`scheduler`), never on the event loop; this module never sees a tensor.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Any

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.server import AsyncEventHandler
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

from .scheduler import ComputeScheduler, Job
from .synthesizer import SegmentFeed, Synthesizer
from .voices import UnknownVoiceError, Voice, VoiceChoice, choose_voice
from .wire import ProtocolError, read_event

_LOGGER = logging.getLogger(__name__)

SAMPLE_WIDTH = 2
CHANNELS = 1
MIN_SPEED, MAX_SPEED = 0.5, 2.0
LOGGED_CHARS = 200  # of a request's text, in debug messages
LINGER_SECONDS = 2.0  # after an error: how long what the client still sends is read and discarded
DRAIN_BYTES = 65536


class RequestError(Exception):
    """A request we cannot serve; `code` goes into the error event."""

    def __init__(self, text: str, code: str) -> None:
        super().__init__(text)
        self.code = code


@dataclass
class ServerContext:
    """What every connection shares: the model, the compute thread, the advertised info and the defaults."""

    synthesizer: Synthesizer
    scheduler: ComputeScheduler
    info: Info
    voices: tuple[Voice, ...]
    default_voice: Voice
    default_speed: float = 1.0
    samples_per_chunk: int = 1024
    streaming: bool = True
    max_text_chars: int = 20_000
    stream_idle_timeout: float = 120.0


@dataclass
class RequestSettings:
    """Voice, frontend language and speed of one synthesis request."""

    choice: VoiceChoice
    speed: float


class CosyVoiceEventHandler(AsyncEventHandler):
    """One client connection: reads events, runs at most one synthesis at a time, streams its audio back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, context: ServerContext) -> None:
        super().__init__(reader, writer)
        self.context = context
        self._job: Job | None = None
        self._audio_task: asyncio.Task[None] | None = None
        self._feed: SegmentFeed | None = None
        self._sentences: Any = None
        self._stream_chars = 0

    # -- connection ---------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Read events until the client leaves or an error ends the connection."""
        try:
            while True:
                try:
                    event = await asyncio.wait_for(read_event(self.reader), self._read_timeout())
                except TimeoutError:
                    raise RequestError("no text arrived for the open synthesis stream", "stream-timeout") from None
                if event is None or not await self.handle_event(event):
                    break
        except (ProtocolError, RequestError) as err:
            await self._fail(str(err), err.code, linger=True)
        except ConnectionError:
            _LOGGER.debug("Client went away")
        finally:
            await self.disconnect()

    def _read_timeout(self) -> float | None:
        return self.context.stream_idle_timeout if self._feed is not None else None

    async def disconnect(self) -> None:
        """Stop this client's computation at once and release the connection."""
        if self._job is not None:
            self._job.cancel()
        if self._audio_task is not None:
            self._audio_task.cancel()
            await asyncio.gather(self._audio_task, return_exceptions=True)
        self.writer.close()

    async def _fail(self, text: str, code: str, linger: bool = False) -> None:
        """Tell the client what went wrong, then end the connection. `linger` (only where nothing else reads
        from the client): half-close first and discard what the client still sends, for at most
        LINGER_SECONDS. A client busy sending text then reads our error and an end of stream; closing at once
        would answer its next write with a reset, and most clients drop unread input on a broken pipe."""
        _LOGGER.warning("Request failed (%s): %s", code, text)
        if self._job is not None:
            self._job.cancel()
        try:
            await self.write_event(Error(text=text, code=code).event())
            if linger:
                await self._drain_until_client_closes()
        except (ConnectionError, RuntimeError):
            pass
        self.writer.close()

    async def _drain_until_client_closes(self) -> None:
        if self.writer.can_write_eof():
            self.writer.write_eof()
        try:
            async with asyncio.timeout(LINGER_SECONDS):
                while await self.reader.read(DRAIN_BYTES):
                    pass
        except TimeoutError:
            pass

    # -- events -------------------------------------------------------------------------------------------
    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(self.context.info.event())
            return True
        try:
            return await self._handle_synthesis_event(event)
        except UnknownVoiceError as err:
            raise RequestError(str(err), "voice-not-found") from None
        except (KeyError, TypeError, ValueError) as err:
            raise ProtocolError(f"malformed {event.type!r} event: {err!r}", "malformed-event") from None

    async def _handle_synthesis_event(self, event: Event) -> bool:
        if SynthesizeStart.is_type(event.type) and self.context.streaming:
            await self._start_stream(SynthesizeStart.from_event(event))
        elif SynthesizeChunk.is_type(event.type) and self._feed is not None:
            self._add_stream_text(SynthesizeChunk.from_event(event).text)
        elif SynthesizeStop.is_type(event.type) and self._feed is not None:
            return await self._stop_stream()
        elif Synthesize.is_type(event.type) and self._feed is None:
            return await self._synthesize(Synthesize.from_event(event))
        else:
            _LOGGER.debug("Ignoring event %s", event.type)
        return True

    # -- one-shot synthesis -------------------------------------------------------------------------------
    async def _synthesize(self, request: Synthesize) -> bool:
        if not await self._wait_for_audio():
            return False
        settings = self._settings(request.voice, request.context)
        text = self._checked_text(request.text)
        segments = await asyncio.to_thread(self.context.synthesizer.segments, text, settings.choice.language)
        if not segments:
            raise RequestError("the text contains nothing that can be spoken", "empty-text")
        _LOGGER.debug(
            "Synthesizing %d segment(s) with %s: %r", len(segments), settings.choice.voice.name, text[:LOGGED_CHARS]
        )
        self._start_job(SegmentFeed(segments, closed=True), settings)
        return True

    # -- streamed text ------------------------------------------------------------------------------------
    async def _start_stream(self, request: SynthesizeStart) -> None:
        if not await self._wait_for_audio():
            raise RequestError("the previous synthesis failed", "synthesis-failed")
        settings = self._settings(request.voice, request.context)
        self._feed = SegmentFeed()
        self._sentences = self.context.synthesizer.sentence_stream(settings.choice.language)
        self._stream_chars = 0
        _LOGGER.debug("Stream started with %s", settings.choice.voice.name)
        self._start_job(self._feed, settings)

    def _add_stream_text(self, text: str) -> None:
        if not isinstance(text, str):
            raise RequestError("'text' must be a string", "malformed-event")
        self._stream_chars += len(text)
        if self._stream_chars > self.context.max_text_chars:
            raise RequestError(f"streamed text exceeds {self.context.max_text_chars} characters", "text-too-long")
        self._push(self._sentences.feed(text))

    async def _stop_stream(self) -> bool:
        assert self._feed is not None
        self._push(self._sentences.finish())
        self._feed.close()
        self._wake()
        self._feed = self._sentences = None
        if not await self._wait_for_audio():
            return False
        await self.write_event(SynthesizeStopped().event())
        return True

    def _push(self, segments: list[Any]) -> None:
        if segments:
            assert self._feed is not None
            self._feed.put(segments)
            self._wake()

    def _wake(self) -> None:
        if self._job is not None:
            self._job.wake()

    # -- audio --------------------------------------------------------------------------------------------
    def _start_job(self, feed: SegmentFeed, settings: RequestSettings) -> None:
        synthesizer = self.context.synthesizer
        speaker, speed = settings.choice.voice.speaker, settings.speed
        self._job = self.context.scheduler.submit(
            lambda cancel: synthesizer.synthesize_segments(feed, speaker, speed, cancel)
        )
        self._audio_task = asyncio.create_task(self._send_audio(self._job))

    async def _wait_for_audio(self) -> bool:
        """Wait until the running synthesis has sent its last audio; False if it failed."""
        task, self._audio_task = self._audio_task, None
        ok = True if task is None else await task
        self._job = None
        return ok

    async def _send_audio(self, job: Job) -> bool:
        """Send audio-start, the audio re-cut into chunks of `samples_per_chunk`, audio-stop.

        A failure ends the connection with an error event; returns whether all audio was sent.
        """
        rate = self.context.synthesizer.sample_rate
        chunk_bytes = self.context.samples_per_chunk * SAMPLE_WIDTH * CHANNELS
        pending = b""
        try:
            await self.write_event(AudioStart(rate=rate, width=SAMPLE_WIDTH, channels=CHANNELS).event())
            async for pcm in job.chunks():
                pending += pcm
                while len(pending) >= chunk_bytes:
                    await self._send_chunk(rate, pending[:chunk_bytes])
                    pending = pending[chunk_bytes:]
            if pending:
                await self._send_chunk(rate, pending)
            await self.write_event(AudioStop().event())
            return True
        except ConnectionError:
            _LOGGER.debug("Client went away during synthesis")
            job.cancel()
            self.writer.close()
        except Exception as err:  # the compute thread's failure, reported to this client only
            _LOGGER.exception("Synthesis failed")
            await self._fail(f"synthesis failed: {err}", "synthesis-failed")
        return False

    async def _send_chunk(self, rate: int, audio: bytes) -> None:
        chunk = AudioChunk(rate=rate, width=SAMPLE_WIDTH, channels=CHANNELS, audio=audio)
        await self.write_event(chunk.event())

    # -- request settings ---------------------------------------------------------------------------------
    def _settings(self, voice: Any, context: dict[str, Any] | None) -> RequestSettings:
        context = context or {}
        language = context.get("language")
        choice = choose_voice(
            name=getattr(voice, "name", None),
            speaker=getattr(voice, "speaker", None),
            language=language if isinstance(language, str) else None,
            default=self.context.default_voice,
            voices=self.context.voices,
        )
        return RequestSettings(choice, self._speed(context.get("speed", self.context.default_speed)))

    @staticmethod
    def _speed(value: Any) -> float:
        try:
            speed = float(value)
        except (TypeError, ValueError):
            raise RequestError(f"speed must be a number, got {value!r}", "bad-speed") from None
        if not math.isfinite(speed) or not MIN_SPEED <= speed <= MAX_SPEED:
            raise RequestError(f"speed must be between {MIN_SPEED} and {MAX_SPEED}, got {value!r}", "bad-speed")
        return speed

    def _checked_text(self, text: Any) -> str:
        if not isinstance(text, str):
            raise RequestError("'text' must be a string", "malformed-event")
        if len(text) > self.context.max_text_chars:
            raise RequestError(
                f"text of {len(text)} characters exceeds the limit of {self.context.max_text_chars}",
                "text-too-long",
            )
        return text
